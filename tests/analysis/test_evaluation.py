"""Evaluation metrics on tiny models and fake classifiers with known answers."""
import functools
import json
import math
import types

import numpy as np
import pytest

import neuralcollage as nc
from neuralcollage.analysis import evaluation as ev
from neuralcollage.collage import edit_photo
from neuralcollage.models.classifier import Classifier, PartClassifier
from neuralcollage.models.encoder import Encoder
from neuralcollage.options import BlendOptions


class Oracle:
    """Knows the class of every held-out face (by its pixels), or answers ``constant``."""

    def __init__(self, n, *, size, n_classes, seed=0, constant=None):
        images, ids, _ = ev.held_out_faces(n, size=size, n_classes=n_classes, seed=seed)
        self.table = {im.tobytes(): int(i) for im, i in zip(images, ids)}
        self.n_classes, self.resolution, self.constant = n_classes, size, constant

    def predict(self, images, batch_size=64):
        if self.constant is not None:
            return np.full(len(images), self.constant, np.int32)
        return np.array([self.table[im.tobytes()] for im in images], np.int32)


class RoundRobin:
    """Predicts ``i % n_classes`` for the i-th image: exactly the classes of :func:`generated_samples`."""

    def __init__(self, n_classes):
        self.n_classes, self.resolution = n_classes, 32

    def predict(self, images, batch_size=64):
        return (np.arange(len(images)) % self.n_classes).astype(np.int32)


class PixelFeatures:
    def embed(self, images, batch_size=64):
        return np.asarray(images, np.float32).reshape(len(images), -1) / 255.0


@pytest.fixture(scope="module")
def tiny():
    np.random.seed(0)
    return types.SimpleNamespace(
        generator=nc.Generator.from_preset("tiny32"), discriminator=nc.Discriminator.from_preset("tiny32"),
        encoder=Encoder.from_preset("tiny32"), classifier=Classifier.from_preset("tiny32"),
        part_classifier=PartClassifier.from_preset("tiny32"))


def test_held_out_seeds_are_outside_every_training_range():
    seeds = ev.held_out_seeds(5, seed=3)
    assert seeds == sorted(set(seeds)) and len(seeds) == 5
    assert min(seeds) >= ev.HELD_OUT_BASE >= 10 ** 6 * 10 ** 9
    images, ids, masks = ev.held_out_faces(6, size=32, n_classes=4)
    assert images.shape == (6, 32, 32, 3) and ids.tolist() == [0, 1, 2, 3, 0, 1]
    assert set(masks) >= {"ears", "eyes", "muzzle"}


def test_classifier_accuracy_perfect_and_constant():
    perfect = ev.classifier_accuracy(Oracle(12, size=32, n_classes=4), n=12)
    assert perfect["value"] == perfect["accuracy"] == 1.0 and perfect["n"] == 12
    assert perfect["per_class"] == [1.0] * 4 and perfect["passed"] is True and perfect["target"] == 0.98
    const = ev.classifier_accuracy(Oracle(12, size=32, n_classes=4, constant=2), n=12)
    assert const["accuracy"] == pytest.approx(0.25) and const["per_class"] == [0.0, 0.0, 1.0, 0.0]
    assert const["passed"] is False
    json.dumps(const)


def test_classifier_accuracy_runs_a_real_classifier(tiny):
    r = ev.classifier_accuracy(tiny.classifier, n=8)
    assert 0 <= r["accuracy"] <= 1 and r["n"] == 8


def test_part_classifier_accuracy(tiny):
    r = ev.part_classifier_accuracy(tiny.part_classifier, n=6, size=48)
    assert 0 <= r["accuracy"] <= 1 and 0 < r["n"] <= 18 and set(r["per_part"]) == set(ev.PARTS)


def test_generated_samples_and_conditioned_accuracy(tiny):
    images, ids = ev.generated_samples(tiny.generator, 6, seed=1, batch_size=4)
    assert images.shape == (6, 32, 32, 3) and images.dtype == np.uint8 and ids.tolist() == [0, 1, 2, 3, 0, 1]
    np.testing.assert_array_equal(images, ev.generated_samples(tiny.generator, 6, seed=1)[0])
    r = ev.conditioned_class_accuracy(tiny.generator, RoundRobin(4), n=8)
    assert r["value"] == 1.0 and r["passed"] is True and r["n"] == 8
    r = ev.conditioned_class_accuracy(tiny.generator, Oracle(1, size=32, n_classes=4, constant=0), n=8)
    assert r["value"] == pytest.approx(0.25)


def test_mean_pairwise_distance():
    assert ev.mean_pairwise_distance([[0, 0], [3, 4]]) == pytest.approx(5.0)
    assert ev.mean_pairwise_distance([[0, 0], [3, 4], [0, 0]]) == pytest.approx(10 / 3)
    assert ev.mean_pairwise_distance(np.ones((4, 3))) == 0.0


def test_psnr():
    a = np.zeros((2, 4, 4, 3), np.uint8)
    b = a.copy()
    b[1] = 255
    values = ev.psnr(a, b)
    assert values.shape == (2,) and values[0] > 100 and values[1] == pytest.approx(0.0)
    assert ev.psnr(a[0], a[0] + 1) == pytest.approx(20 * np.log10(255))


def test_diversity(tiny):
    r = ev.diversity(tiny.generator, PixelFeatures(), n_per_class=3)
    assert len(r["per_class"]) == 4 and r["n_per_class"] == 3
    for p in r["per_class"]:
        assert p["real"] > 0 and p["ratio"] == pytest.approx(p["generated"] / p["real"])
    assert r["value"] == pytest.approx(np.mean([p["ratio"] for p in r["per_class"]]))
    collapsed = types.SimpleNamespace(embed=lambda images: np.zeros((len(images), 5), np.float32))
    assert np.isnan(ev.diversity(tiny.generator, collapsed, n_per_class=2)["value"])
    r = ev.diversity(tiny.generator, tiny.classifier, n_per_class=2)
    assert np.isfinite(r["value"]) and r["target"] == 0.7
    with pytest.raises(ValueError):
        ev.diversity(tiny.generator, tiny.classifier, n_per_class=1)


def test_projection_psnr(tiny):
    r = ev.projection_psnr(tiny.generator, tiny.discriminator, tiny.encoder, n=2, steps=2)
    for key in ("psnr_encoder", "psnr_random", "psnr_encoder_only"):
        assert np.isfinite(r[key]) and len(r["per_image"][key[5:]]) == 2
    assert r["value"] == r["psnr_encoder"] and r["n"] == 2 and r["steps"] == 2
    no_encoder = ev.projection_psnr(tiny.generator, tiny.discriminator, None, n=2, steps=1)
    assert "psnr_encoder" not in no_encoder and no_encoder["value"] == no_encoder["psnr_random"]
    assert f"{r['psnr_encoder']:.2f}; {r['psnr_random']:.2f}" in ev.format_table({"projection_psnr": r})
    assert f"-; {no_encoder['psnr_random']:.2f}" in ev.format_table({"projection_psnr": no_encoder})


def test_reconstruction_crops_are_what_edits_crop(tiny):
    from neuralcollage import blending
    data = ev.reconstruction_crops(4, resolution=32, n_classes=4, seed=1, photo_size=64)
    faces, ids = data["whole_face"]
    assert faces.shape == (4, 32, 32, 3) and list(ids) == [0, 1, 2, 3]
    np.testing.assert_array_equal(faces, ev.held_out_faces(4, size=32, n_classes=4, seed=1)[0])
    crops, crop_ids = data["part_closeup"]
    cases = [c for c in ev.translation_cases(4, n_classes=4, seed=1, photo_size=64) if c.region is not None]
    assert len(crops) == len(cases) and list(crop_ids) == [c.source for c in cases]
    box = blending.square_crop_box(cases[0].region.astype(np.float32), image_size=(64, 64), margin=0.25,
                                   min_size=32)
    np.testing.assert_array_equal(crops[0], blending.crop_and_resize(cases[0].sample.image, box, 32))


def test_reconstruction_psnr_fits_better_than_it_projects(tiny):
    from neuralcollage.reconstruction import FitOptions
    calls = []
    r = ev.reconstruction_psnr(tiny, n=2, steps=2, fit=FitOptions(steps=25, lr=2e-3, offset_lr=0.05),
                               photo_size=64, progress=lambda i, total: calls.append((i, total)))
    for kind in ("whole_face", "part_closeup"):
        rows = r[kind]["per_image"]
        assert len(rows["fitted"]) == len(rows["projection"]) == r[kind]["n"] > 0
        assert all(f > p for f, p in zip(rows["fitted"], rows["projection"]))
    assert r["value"] == r["whole_face"]["fitted"] and r["target"] == 30.0 and r["target_part"] == 26.0
    assert calls[-1][0] == calls[-1][1] == r["whole_face"]["n"] + r["part_closeup"]["n"]
    table = ev.format_table({"reconstruction_psnr": r})
    assert f"{r['whole_face']['fitted']:.2f}; {r['part_closeup']['fitted']:.2f}" in table
    with pytest.raises(ValueError, match="unknown reconstruction kinds"):
        ev.reconstruction_psnr(tiny, n=1, kinds=("faces",))


class _ColourByTarget:
    """Fake edit: paints the mask (+ ``spill`` pixels outside it) with a colour that encodes the target."""

    def __init__(self, spill=False):
        self.spill, self.calls = spill, []

    def __call__(self, bundle, photo, mask, target, **kwargs):
        self.calls.append((target, kwargs))
        image = photo.copy()
        image[mask > 0] = (40 * target + 20, 0, 0)
        if self.spill:
            image[0, 0] = 255 - image[0, 0]
        return types.SimpleNamespace(image=image)


class _ColourReader:
    n_classes, resolution = 4, 16

    def predict(self, crops, batch_size=64):
        out = []
        for crop in crops:
            pure = crop[(crop[..., 1] == 0) & (crop[..., 2] == 0)][:, 0].astype(int)
            out.append(np.bincount(pure).argmax() // 40 if pure.size else -1)
        return np.array(out, np.int32)


def test_part_translation_with_a_fake_edit(tiny):
    bundle = types.SimpleNamespace(generator=tiny.generator, part_classifier=_ColourReader())
    edit = _ColourByTarget()
    r = ev.part_translation(bundle, n=6, photo_size=128, steps=3, edit=edit, margin=0.0)
    assert r["n"] + r["n_empty_masks"] == 6 and r["n"] > 0
    assert r["value"] == r["success_rate"] == 1.0 and r["passed"] is True
    assert r["unchanged_outside_mask"] == 1.0 and r["max_changed_outside"] == 0
    targets = [t for t, _ in edit.calls]
    sources = [kw["source_label"] for _, kw in edit.calls]
    assert all(t != s and 0 <= t < 4 for t, s in zip(targets, sources))
    assert all(kw["method"] == "scbn" and kw["steps"] == 3 for _, kw in edit.calls)
    assert all("context" not in kw for _, kw in edit.calls) and r["context"] is None
    assert all(kw["blend_options"] == BlendOptions() for _, kw in edit.calls)
    assert (r["blend_mode"], r["seam"], r["colour_reach"]) == ("normal", "fixed", BlendOptions().colour_reach)
    reach = _ColourByTarget()
    r = ev.part_translation(bundle, n=2, photo_size=64, edit=reach, margin=0.0, seam="optimal", colour_reach=4)
    assert all(kw["blend_options"] == BlendOptions(seam="optimal", colour_reach=4) for _, kw in reach.calls)
    assert (r["seam"], r["colour_reach"]) == ("optimal", 4)
    wide = _ColourByTarget()
    r = ev.part_translation(bundle, n=2, photo_size=64, edit=wide, margin=0.0, context=0.2, blend_mode="none")
    assert all(kw["context"] == 0.2 and kw["blend_options"].blend_mode == "none" for _, kw in wide.calls)
    assert (r["context"], r["blend_mode"]) == (0.2, "none")
    spilled = ev.part_translation(bundle, n=3, photo_size=64, edit=_ColourByTarget(spill=True), margin=0.0)
    assert spilled["unchanged_outside_mask"] == 0.0 and spilled["max_changed_outside"] >= 1
    json.dumps(r)


class _RenamingReader(_ColourReader):
    """Reads the colour like :class:`_ColourReader` but names class 2 as 5 (a judge with other ids)."""

    def predict(self, crops, batch_size=64):
        out = super().predict(crops, batch_size=batch_size)
        return np.where(out == 2, 5, out).astype(np.int32)


def test_part_translation_into_one_class_with_a_judge_of_other_ids(tiny):
    cases = list(ev.translation_cases(7, n_classes=4, seed=0, photo_size=64, into=2))
    assert [c.target for c in cases] == [2] * 7 and [c.source for c in cases] == [0, 1, 3, 0, 1, 3, 0]
    assert [c.source for c in ev.translation_cases(4, n_classes=4, photo_size=64)] == [0, 1, 2, 3]
    assert [c.source for c in ev.translation_cases(4, n_classes=5, photo_size=64, into=3, exclude=(4,))] == \
        [0, 1, 2, 0]
    with pytest.raises(ValueError, match="into"):
        list(ev.translation_cases(1, n_classes=4, into=4))
    bundle = types.SimpleNamespace(generator=tiny.generator, part_classifier=_ColourReader())
    mapped = ev.part_translation(bundle, n=6, photo_size=128, steps=3, edit=_ColourByTarget(), margin=0.0, into=2,
                                 part_classifier=_RenamingReader(), classifier_ids=[0, 1, 5, 3])
    assert mapped["n"] > 0 and mapped["value"] == 1.0 and mapped["into"] == 2
    assert mapped["predicted_counts"] == {"5": mapped["n"]}
    unmapped = ev.part_translation(bundle, n=6, photo_size=128, steps=3, edit=_ColourByTarget(), margin=0.0, into=2,
                                   part_classifier=_RenamingReader())
    assert unmapped["value"] == 0.0
    json.dumps(mapped)


class _RecordMasks(_ColourByTarget):
    def __call__(self, bundle, photo, mask, target, **kwargs):
        self.masks = getattr(self, "masks", []) + [mask.copy()]
        return super().__call__(bundle, photo, mask, target, **kwargs)


def test_part_translation_edits_the_grown_part_region(tiny):
    from neuralcollage.datasets import render_sample
    bundle = types.SimpleNamespace(generator=tiny.generator, part_classifier=_ColourReader())
    exact, grown = _RecordMasks(), _RecordMasks()
    r0 = ev.part_translation(bundle, n=3, photo_size=128, edit=exact, margin=0.0, grow=0)
    r1 = ev.part_translation(bundle, n=3, photo_size=128, edit=grown, margin=0.0, grow=0.08)
    assert (r0["grow_px"], r1["grow_px"]) == (0, 10)
    seeds = ev.held_out_seeds(3, seed=2)
    for i, (m0, m1) in enumerate(zip(exact.masks, grown.masks)):
        part = render_sample(seeds[i], class_id=i % 4, size=128).masks[ev.PARTS[i % 3]]
        assert np.array_equal(m0 > 0, part)
        assert np.all(m1[part] > 0)
        ys, xs = np.nonzero(m1 > 0)
        pys, pxs = np.nonzero(part)
        nearest = np.min(np.hypot(ys[:, None] - pys[None], xs[:, None] - pxs[None]), axis=1)
        assert nearest.max() <= 10.5 and (nearest > 9).any()
    assert r1["unchanged_outside_mask"] == 1.0
    with pytest.raises(ValueError, match="grow"):
        ev.part_translation(bundle, n=1, edit=_ColourByTarget(), grow=0.6)


@pytest.mark.slow
def test_part_translation_with_the_real_pipeline(tiny):
    from neuralcollage import collage
    from neuralcollage.labels import numbered
    bundle = types.SimpleNamespace(name="tiny", generator=tiny.generator, discriminator=tiny.discriminator,
                                   encoder=tiny.encoder, classifier=tiny.classifier,
                                   part_classifier=tiny.part_classifier, vocabulary=numbered(4), sha256={},
                                   files={})
    r = ev.part_translation(bundle, n=2, photo_size=48, steps=1)
    assert r["n"] + r["n_empty_masks"] == 2 and r["unchanged_outside_mask"] == 1.0
    assert r["context"] == collage.DEFAULT_CONTEXT
    calls = []
    results = ev.evaluate(bundle, metrics=("part_translation",), n_translation=3, steps=1, photo_size=48,
                          colour_reach=2.5, progress=lambda *a: calls.append(a))
    record = results["part_translation"]
    assert record["colour_reach"] == 2.5 and record["unchanged_outside_mask"] == 1.0
    assert calls and all(name == "part_translation" and n == 3 for name, _, n in calls)
    assert [i for _, i, _ in calls] == [1, 2, 3]
    assert ev.part_translation(bundle, n=1, photo_size=48, steps=1)["colour_reach"] == collage.DEFAULT_COLOUR_REACH
    assert ev.part_translation(bundle, n=1, photo_size=48, steps=1, colour_reach=math.inf)["colour_reach"] is None
    assert ev.part_translation(bundle, n=1, photo_size=48, steps=1, blend_mode="none")["colour_reach"] is None
    # None is classic Poisson here as in edit_photo (it once meant "the edit's default" here)
    assert ev.part_translation(bundle, n=1, photo_size=48, steps=1, colour_reach=None)["colour_reach"] is None
    with pytest.raises(ValueError, match="colour_reach must be"):
        ev.evaluate(bundle, metrics=("part_translation",), colour_reach=-2)


def test_evaluate_skips_missing_models_and_formats_a_table(tiny):
    bundle = types.SimpleNamespace(generator=tiny.generator, discriminator=tiny.discriminator, encoder=None,
                                   classifier=tiny.classifier, part_classifier=None)
    seen = []
    results = ev.evaluate(bundle, metrics=("classifier_accuracy", "conditioned_class_accuracy",
                                           "part_classifier_accuracy", "diversity"),
                          n_classifier=8, n_generated=8, n_diversity=2, log=lambda name, r: seen.append(name))
    assert seen == list(results)
    assert "skipped" in results["part_classifier_accuracy"]
    assert 0 <= results["classifier_accuracy"]["value"] <= 1
    table = ev.format_table(results)
    for name in results:
        assert name in table
    assert "skip" in table and ">= 0.98" in table
    json.dumps(results)
    with pytest.raises(ValueError, match="unknown metrics"):
        ev.evaluate(bundle, metrics=("fid",))


@pytest.mark.slow
def test_evaluate_builtin_script_on_a_tiny_model_folder(tmp_path, tiny, capsys):
    import importlib.util
    import pathlib
    for kind in ("generator", "discriminator", "encoder", "classifier", "part_classifier"):
        nc.save_snapshot(getattr(tiny, kind), tmp_path / f"{kind}.npz", kind=kind)
    script = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "evaluate_builtin.py"
    spec = importlib.util.spec_from_file_location("evaluate_builtin", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "eval" / "metrics.json"
    assert module.main(["--model", str(tmp_path / "generator.npz"), "--quick", "-o", str(out), "--metrics",
                        "classifier_accuracy", "part_classifier_accuracy", "conditioned_class_accuracy",
                        "diversity", "projection_psnr"]) == 0
    record = json.loads(out.read_text())
    assert set(record["metrics"]) == {"classifier_accuracy", "part_classifier_accuracy",
                                      "conditioned_class_accuracy", "diversity", "projection_psnr"}
    assert record["metrics"]["projection_psnr"]["n"] == 2
    assert "classifier_accuracy" in capsys.readouterr().out
    assert module.main(["--model", str(tmp_path / "generator.npz"), "--quick", "-o", str(out), "--metrics",
                        "part_translation", "--photo-size", "48", "--part-colour-reach", "3"]) == 0
    translation = json.loads(out.read_text())["metrics"]["part_translation"]
    assert translation["colour_reach"] == 3.0 and translation["n"] + translation["n_empty_masks"] == 3
    assert module.main(["--model", str(tmp_path / "missing.npz"), "-o", str(tmp_path / "x.json")]) == 2
    assert not (tmp_path / "x.json").exists()


def test_part_classifier_swap_accuracy_with_a_colour_oracle(tiny):
    r = ev.part_classifier_accuracy(tiny.part_classifier, n=6, size=48)
    assert 0 <= r["swap_accuracy"] <= 1 and 0 < r["n_swap"] <= 6
    assert set(r["swap_per_part"]) == set(ev.PARTS)


def _sweep_script():
    import importlib.util
    import os
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    spec = importlib.util.spec_from_file_location("sweep", os.path.join(root, "scripts",
                                                                        "sweep_part_translation.py"))
    sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweep)
    return sweep


@pytest.mark.slow
def test_sweep_script_agrees_with_part_translation(tmp_path, capsys):
    from neuralcollage.pretrained import load_bundle
    sweep = _sweep_script()
    out = tmp_path / "sweep.json"
    assert sweep.main(["--n", "4", "--steps", "2", "--contexts", "0", "10", "--blend-modes", "normal", "none",
                       "-o", str(out)]) == 0
    rows = {(r["context_px"], r["blend_mode"]): r for r in json.load(open(out))["rows"]}
    assert set(rows) == {(0, "normal"), (0, "none"), (10, "normal"), (10, "none")}
    assert all(r["n"] == 4 and 0.0 <= r["success_rate"] <= 1.0 for r in rows.values())
    for bad, message in ((["--model", "nope"], "unknown model"), (["--contexts", "99"], "--contexts"),
                         (["-o", str(tmp_path)], "directory")):
        target = tmp_path / "bad.json"
        capsys.readouterr()
        assert sweep.main(["--n", "1", "--steps", "1", "-o", str(target), *bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and message in err[0], err
        assert not target.exists()
    # the sweep projects each face once and re-edits the latent: the projection-only pipeline
    projection_only = functools.partial(edit_photo, reconstruction="projection")
    reference = ev.part_translation(load_bundle("builtin"), n=4, steps=2, context=0.0, edit=projection_only)
    assert rows[(0, "normal")]["success_rate"] == reference["success_rate"]
    assert rows[(0, "normal")]["per_part"] == {p: v for p, v in reference["per_part"].items() if v is not None}
    psnr = json.load(open(out))["projection_psnr_db"]
    assert set(psnr) <= set(ev.PARTS) and psnr and all(5.0 < v < 60.0 for v in psnr.values())


@pytest.mark.slow
def test_sweep_script_seams_and_colour_reaches(tmp_path, capsys):
    from neuralcollage.pretrained import load_bundle
    sweep = _sweep_script()
    out = tmp_path / "reach.json"
    assert sweep.main(["--n", "3", "--steps", "1", "--contexts", "0", "--blend-modes", "normal", "none", "--seams",
                       "fixed", "optimal", "--dilates", "12", "--colour-reaches", "3", "-o", str(out)]) == 0
    rows = {(r["blend_mode"], r["seam"], r["colour_reach"]): r for r in json.load(open(out))["rows"]}
    assert set(rows) == {("normal", "fixed", None), ("normal", "fixed", 3.0), ("normal", "optimal", None),
                         ("normal", "optimal", 3.0), ("none", "fixed", None)}
    assert all(r["dilate"] == 12 for r in rows.values())
    reference = ev.part_translation(load_bundle("builtin"), n=3, steps=1, context=0.0, dilate=12, seam="optimal",
                                    edit=functools.partial(edit_photo, reconstruction="projection"),
                                    colour_reach=3)
    assert rows[("normal", "optimal", 3.0)]["success_rate"] == reference["success_rate"]
    for bad in (["--colour-reaches", "0"], ["--dilates", "-1"]):
        capsys.readouterr()
        assert sweep.main(["--n", "1", "--steps", "1", "-o", str(tmp_path / "bad.json"), *bad]) == 2
        assert capsys.readouterr().err.startswith("error:") and not (tmp_path / "bad.json").exists()


@pytest.mark.slow
def test_sweep_script_edits_the_whole_photo_with_box_photo(tmp_path, monkeypatch):
    from neuralcollage import collage
    sweep = _sweep_script()
    boxes = []
    original = collage.edit_photo

    def recording(*args, **kwargs):
        result = original(*args, **kwargs)
        boxes.append(result.box)
        return result

    monkeypatch.setattr(collage, "edit_photo", recording)
    out = tmp_path / "sweep.json"
    assert sweep.main(["--n", "3", "--steps", "1", "--contexts", "0", "--blend-modes", "none", "--box", "photo",
                       "--photo-size", "96", "-o", str(out)]) == 0
    assert boxes and all(tuple(b) == (0, 0, 96) for b in boxes)
    assert json.load(open(out))["settings"]["box"] == "photo"


def test_sweep_residual_crop_is_the_photo_where_the_edit_changes_nothing():
    from neuralcollage.blending import poisson_blend
    sweep = _sweep_script()
    rng = np.random.RandomState(0)
    photo = rng.randint(0, 256, (40, 50, 3)).astype(np.uint8)
    box = (5, 12, 30)
    same = rng.uniform(-1, 1, (1, 3, 16, 16)).astype(np.float32)
    out = sweep.residual_crop(photo, box, same, same)
    assert out.shape == (30, 30, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, photo[5:35, 12:42])
    mask = np.zeros((40, 50), np.float32)
    mask[15:25, 20:30] = 1.0
    blended = poisson_blend(photo, out, mask, box)
    assert np.abs(blended.astype(int) - photo).max() <= 1
    brighter = sweep.residual_crop(photo, box, same + 0.25, same)
    np.testing.assert_array_equal(brighter, np.clip(photo[5:35, 12:42].astype(int) + 32, 0, 255))
    with pytest.raises(ValueError, match="reconstruction"):
        sweep.residual_crop(photo, box, same, same[:, :, :8])


def test_sweep_tune_generator_keeps_the_class_embeddings(tiny):
    from neuralcollage.collage import render
    from neuralcollage.inversion import projection_loss
    sweep = _sweep_script()
    gen, dis = tiny.generator, tiny.discriminator
    before = {name: p.array.copy() for name, p in gen.namedparams()}
    z = gen.sample_z(1, seed=1)
    crop = np.random.RandomState(2).randint(0, 256, (32, 32, 3)).astype(np.uint8)
    tuned = sweep.tune_generator(gen, dis, crop, 1, z, steps=5, lr=1e-3)
    assert tuned is not gen
    for name, p in gen.namedparams():
        np.testing.assert_array_equal(p.array, before[name])
    moved = {name for name, p in tuned.namedparams() if not np.array_equal(p.array, before[name])}
    assert moved and not any(name.endswith(("/gammas/W", "/betas/W")) for name in moved)
    assert any("/c1/W" in name for name in moved)
    assert projection_loss(tuned, dis, z, crop, 1)[0] < projection_loss(gen, dis, z, crop, 1)[0]
    assert not np.array_equal(render(tuned, z, 1), render(gen, z, 1))


@pytest.mark.slow
def test_sweep_script_residual_transfer_and_tuning(tmp_path):
    sweep = _sweep_script()
    out = tmp_path / "sweep.json"
    assert sweep.main(["--n", "3", "--steps", "1", "--contexts", "10", "--blend-modes", "normal", "--transfers",
                       "edit", "residual", "--tune-steps", "2", "-o", str(out)]) == 0
    record = json.load(open(out))
    assert {(r["transfer"], r["blend_mode"]) for r in record["rows"]} == {("edit", "normal"), ("residual", "normal")}
    assert record["tuned_psnr_db"] and record["tune_seconds_per_photo"] > 0
    assert set(record["tuned_psnr_db"]) == set(record["projection_psnr_db"])
    assert sweep.main(["--n", "1", "--steps", "1", "--tune-steps", "-1", "-o", str(tmp_path / "bad.json")]) == 2

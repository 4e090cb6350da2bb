"""Latent attribute axes on tiny32 models: fitting, discovery, decorrelation, files, edits, photos, evaluation."""
import json
import os

import numpy as np
import pytest

import neuralcollage as nc
from neuralcollage import axes as ax
from neuralcollage import blending
from neuralcollage.axes import Axis, AxisError, UnknownAxisError
from neuralcollage.collage import render, replay
from neuralcollage.labels import from_names
from neuralcollage.models.classifier import Classifier
from neuralcollage.models.regressor import AttributeRegressor
from neuralcollage.pretrained import ModelBundle
from nc_testing import random_class_tables

STEPS = 2




def colour_predictor(x):
    """Two 'attributes' of model images (N, 3, R, R): mean brightness and red minus blue."""
    x = np.asarray(x, np.float64)
    return np.stack([x.mean(axis=(1, 2, 3)), (x[:, 0] - x[:, 2]).mean(axis=(1, 2))], axis=1)


NAMES = ("brightness", "redness")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny32_axes")
    np.random.seed(3)
    nc.save_snapshot(random_class_tables(nc.Generator.from_preset("tiny32")), path / "generator.npz",
                     kind="generator")
    nc.save_snapshot(nc.Discriminator.from_preset("tiny32"), path / "discriminator.npz", kind="discriminator")
    return path


@pytest.fixture(scope="module")
def gen(folder):
    return nc.load_generator(folder / "generator.npz")


@pytest.fixture(scope="module")
def bundle(folder, gen):
    return ModelBundle(name="tiny", generator=gen, discriminator=nc.load_discriminator(folder / "discriminator.npz"),
                       vocabulary=from_names(["cat", "dog", "fox", "rabbit"], name="tiny"),
                       sha256={"generator": "ab" * 32}, files={"generator": str(folder / "generator.npz")})


@pytest.fixture(scope="module")
def found(gen):
    return ax.discover_axes(gen, colour_predictor, attributes=NAMES, n_samples=300, seed=0)


def test_fit_axes_recovers_a_linear_attribute_with_class_offsets():
    rng = np.random.RandomState(0)
    z = rng.standard_normal((400, 16))
    ids = rng.randint(3, size=400)
    w = rng.standard_normal(16)
    values = np.stack([z @ w + 5.0 * ids + 0.01 * rng.standard_normal(400),
                       z[:, 0] * 0.5 + 0.01 * rng.standard_normal(400)], axis=1)
    a, b = ax.fit_axes(z, values, ["lin", "first"], class_ids=ids)
    assert (a.name, a.attribute, a.class_id, a.n_samples) == ("lin", "lin", None, 400)
    assert a.direction.dtype == np.float32 and np.linalg.norm(a.direction) == pytest.approx(1, abs=1e-6)
    assert a.direction @ (w / np.linalg.norm(w)) > 0.9999
    assert a.slope == pytest.approx(np.linalg.norm(w), rel=1e-3) and a.r2 > 0.999
    assert abs(b.direction[0]) > 0.9999 and b.direction[0] > 0 and b.slope == pytest.approx(0.5, rel=1e-2)
    with pytest.raises(ValueError, match="more samples"):
        ax.fit_axes(z[:10], values[:10], ["lin", "first"])


def test_discovered_axes_move_their_attribute(gen, found):
    assert [a.name for a in found] == list(NAMES) and all(a.class_id is None for a in found)
    assert all(a.dim_z == gen.dim_z and 0.1 < a.r2 <= 1 for a in found)
    z = gen.sample_z(16, seed=99)
    for j, axis in enumerate(found):
        lo = colour_predictor(ax.global_edit(gen, z, 1, axis, -1.5))[:, j]
        hi = colour_predictor(ax.global_edit(gen, z, 1, axis, 1.5))[:, j]
        assert (hi > lo).mean() >= 0.9


def test_per_class_discovery_and_lookup(gen, found):
    per_class = ax.discover_axes(gen, colour_predictor, attributes=NAMES, n_samples=60, classes=[0, 2], seed=0)
    assert [(a.name, a.class_id) for a in per_class] == [(n, c) for c in (0, 2) for n in NAMES]
    pool = found + per_class
    assert ax.axis_names(pool) == list(NAMES)
    assert ax.get_axis(pool, "Brightness", class_id=2) is per_class[2]
    assert ax.get_axis(pool, "brightness", class_id=1) is found[0]
    assert ax.get_axis(pool, "brightness") is found[0]
    with pytest.raises(UnknownAxisError, match="did you mean 'brightness'"):
        ax.get_axis(pool, "brightnes")
    with pytest.raises(UnknownAxisError, match="classes \\[0, 2\\] only"):
        ax.get_axis(per_class, "redness", class_id=1)
    with pytest.raises(ValueError, match="classes must be"):
        ax.discover_axes(gen, colour_predictor, attributes=NAMES, n_samples=60, classes="some")


def test_regressor_is_a_predictor(gen):
    np.random.seed(0)
    reg = AttributeRegressor.from_preset("tiny32")
    z, ids, values, names = ax.sample_attributes(gen, reg, n_samples=5, class_ids=2, seed=1)
    assert names == reg.attributes and values.shape == (5, len(names)) and (ids == 2).all()
    np.testing.assert_allclose(values, reg.predict_model(render(gen, z, 2)), rtol=1e-5)
    with pytest.raises(ValueError, match="attributes="):
        ax.sample_attributes(gen, colour_predictor, n_samples=2)


def unit(v):
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v)


def test_decorrelate_projects_out_the_references():
    rng = np.random.RandomState(1)
    pool = [Axis(name=f"a{i}", attribute=f"a{i}", direction=unit(rng.standard_normal(8)).astype(np.float32),
                 slope=2.0) for i in range(3)]
    d = ax.decorrelate(pool, "a0", ["a1", "a2", "a0"])
    assert d.name == "a0" and d.decorrelated_from == ("a1", "a2")
    assert np.linalg.norm(d.direction) == pytest.approx(1, abs=1e-6)
    assert abs(d.direction @ pool[1].direction) < 1e-6 and abs(d.direction @ pool[2].direction) < 1e-6
    assert d.direction @ pool[0].direction > 0
    assert d.slope == pytest.approx(2.0 * float(d.direction @ pool[0].direction), rel=1e-5)
    assert pool[0].decorrelated_from == ()
    both = ax.decorrelate_all(pool, names=["a0", "a1"], suffix="_dec")
    assert [a.name for a in both] == ["a0_dec", "a1_dec"]
    assert abs(both[0].direction @ pool[1].direction) < 1e-6 and abs(both[1].direction @ pool[0].direction) < 1e-6
    copy = Axis(name="c", attribute="c", direction=pool[1].direction.copy())
    with pytest.raises(AxisError, match="span"):
        ax.decorrelate(pool + [copy], "c", ["a1"])


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_save_and_load_round_trip(tmp_path, found, suffix):
    pool = found + [Axis(name="brightness", attribute="brightness", direction=found[1].direction, class_id=3,
                         decorrelated_from=("redness",))]
    path = tmp_path / f"axes{suffix}"
    ax.save_axes(path, pool, model={"generator": "generator.npz"})
    back = ax.load_axes(path, dim_z=16)
    assert [(a.name, a.class_id, a.decorrelated_from) for a in back] == \
        [(a.name, a.class_id, a.decorrelated_from) for a in pool]
    for a, b in zip(pool, back):
        np.testing.assert_array_equal(a.direction, b.direction)
        assert a.slope == pytest.approx(b.slope, nan_ok=True) and a.r2 == pytest.approx(b.r2, nan_ok=True)
    with pytest.raises(AxisError, match="dim_z 16"):
        ax.load_axes(path, dim_z=64)
    with pytest.raises(ValueError, match="share a name"):
        ax.save_axes(tmp_path / "dup.json", [found[0], found[0]])


def test_load_refusals(tmp_path):
    bad = tmp_path / "bad.json"
    for text, message in (("{", "not valid"), ('{"format": "x"}', "not a neuralcollage-axes"),
                          ('{"format": "neuralcollage-axes", "version": 9, "axes": []}', "version 9"),
                          ('{"format": "neuralcollage-axes", "version": 1, "axes": []}', "holds no axes"),
                          ('{"format": "neuralcollage-axes", "version": 1, "axes": [{"name": "a", '
                           '"direction": [0, 0]}]}', "zero length")):
        bad.write_text(text)
        with pytest.raises(AxisError, match=message):
            ax.load_axes(bad)
    with pytest.raises(AxisError, match="cannot read"):
        ax.load_axes(tmp_path / "missing.json")


def test_bundle_axes_reads_the_file_beside_the_generator(bundle, found, folder):
    path = folder / ax.AXES_FILE
    assert not path.exists() and ax.bundle_axes(bundle) == []
    try:
        ax.save_axes(path, found)
        assert [a.name for a in ax.bundle_axes(bundle)] == list(NAMES)
        ax.save_axes(path, found, model={"generator_sha256": "ab" * 32})
        assert len(ax.bundle_axes(bundle)) == 2
        ax.save_axes(path, found, model={"generator_sha256": "ef" * 32})
        with pytest.raises(AxisError, match="another generator") as info:
            ax.bundle_axes(bundle)
        assert str(info.value).endswith(ax.DISCOVER_HINT)
        unhashed = ModelBundle(name="t", generator=bundle.generator, files=bundle.files)
        ax.save_axes(path, found, model={"generator_sha256": ax.file_sha256(folder / "generator.npz")})
        assert len(ax.bundle_axes(unhashed)) == 2
    finally:
        os.remove(path)


def test_move_global():
    u = [Axis(name="a", attribute="a", direction=np.eye(4, dtype=np.float32)[1]),
         Axis(name="b", attribute="b", direction=np.eye(4, dtype=np.float32)[3])]
    z = np.zeros((2, 4), np.float32)
    np.testing.assert_array_equal(ax.move_global(z, u[0], 1.5), [[0, 1.5, 0, 0]] * 2)
    np.testing.assert_array_equal(ax.move_global(z, u, [1, -2]), [[0, 1, 0, -2]] * 2)
    np.testing.assert_array_equal(ax.move_global(z, u, [[1, 2], [0, -1]]), [[0, 1, 0, 0], [0, 2, 0, -1]])
    np.testing.assert_array_equal(ax.move_global(z[0], [np.ones(4)], [2.0]), [2, 2, 2, 2])
    assert ax.move_global(z, u, [1, 1]).dtype == np.float32
    with pytest.raises(ValueError, match="do not fit"):
        ax.move_global(z, u, [1.0])
    with pytest.raises(ValueError, match="shape"):
        ax.move_global(z, np.ones(3), 1.0)


def test_local_edit_changes_only_the_region(gen, found):
    z = gen.sample_z(3, seed=5)
    mask = np.zeros((32, 32), bool)
    mask[8:20, 10:24] = True
    base = render(gen, z, 1)
    edited = ax.local_edit(gen, z, 1, found[0], 2.0, mask)
    full = ax.global_edit(gen, z, 1, found[0], 2.0)
    outside = ~blending.dilate_mask(mask, radius=2)
    diff = np.abs(edited - base).max(axis=1)
    assert diff[:, outside].max() < 1e-5
    assert diff[:, mask].mean() > 0.01
    np.testing.assert_allclose(ax.local_edit(gen, z, 1, found[0], 2.0, np.ones((32, 32), bool)), full, atol=1e-5)
    np.testing.assert_allclose(ax.local_edit(gen, z, 1, found[0], 0.0, mask), base, atol=1e-5)


@pytest.fixture(scope="module")
def photo():
    rng = np.random.RandomState(0)
    yy, xx = np.mgrid[0:50, 0:60]
    base = np.stack([yy * 4, xx * 3, (xx + yy) * 2], axis=-1) + rng.normal(0, 10, (50, 60, 3))
    return np.clip(base, 0, 255).astype(np.uint8)


def test_attribute_edit_photo_keeps_outside_pixels_and_replays(bundle, found, photo):
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[15:30, 20:40] = 1
    result = ax.attribute_edit_photo(bundle, photo, "brightness", 2.0, mask=mask, axes=found, steps=STEPS,
                                     source_label="dog")
    assert result.image.shape == photo.shape and result.image.dtype == np.uint8
    region = blending.blend_region(mask, result.box, dilate=8)
    np.testing.assert_array_equal(result.image[~region], photo[~region])
    assert result.source_class == result.target_class == 1
    np.testing.assert_allclose(result.z_target, result.z + 2.0 * found[0].direction[None], rtol=1e-6, atol=1e-6)
    assert result.recipe["attribute"]["axes"][0]["name"] == "brightness"
    assert result.recipe["edit"]["method"] == "blend" and len(result.losses) == STEPS + 1
    json.dumps(result.recipe)
    np.testing.assert_array_equal(replay(result.recipe, photo, bundle).image, result.image)
    assert not np.array_equal(result.edited_crop, result.reconstruction)


def test_attribute_edit_photo_without_mask_and_with_several_axes(bundle, found, photo):
    square = photo[:40, :40]
    result = ax.attribute_edit_photo(bundle, square, ["brightness", "redness"], [1.0, -1.0], axes=found,
                                     steps=STEPS, source_label=0)
    assert result.box == (0, 0, 40) and any("whole crop" in n for n in result.notes)
    expected = result.z + found[0].direction[None] - found[1].direction[None]
    np.testing.assert_allclose(result.z_target, expected, rtol=1e-6, atol=1e-6)
    from neuralcollage.io import from_model
    np.testing.assert_array_equal(result.edited_crop, from_model(render(bundle.generator, result.z_target, 0))[0])


def test_attribute_edit_photo_refusals(bundle, found, photo, tmp_path):
    calls = []
    with pytest.raises(UnknownAxisError, match="did you mean 'redness'"):
        ax.attribute_edit_photo(bundle, photo, "rednes", 1.0, axes=found, progress=lambda *a: calls.append(a))
    assert calls == []
    with pytest.raises(AxisError, match="no attribute axes") as info:
        ax.attribute_edit_photo(bundle, photo, "redness", 1.0)
    assert ax.DISCOVER_HINT in str(info.value) and "scripts/" not in str(info.value)
    with pytest.raises(ValueError, match="one amount per axis"):
        ax.attribute_edit_photo(bundle, photo, ["redness", "brightness"], 1.0, axes=found)
    path = tmp_path / "axes.json"
    ax.save_axes(path, found)
    result = ax.attribute_edit_photo(bundle, photo, "redness", 0.5, axes=str(path), steps=1, source_label=2)
    assert result.recipe["attribute"]["axes"][0]["amount"] == 0.5


def test_evaluate_axes_table_and_figure(gen, found, tmp_path):
    np.random.seed(0)
    clf = Classifier.from_preset("tiny32")
    dec = ax.decorrelate_all(found)
    result = ax.evaluate_axes(gen, colour_predictor, clf, dec, attributes=NAMES, before=found, n=8,
                              amounts=(-1, 0, 1, 2), seed=0)
    assert result["amounts"] == [-1.0, 0.0, 1.0, 2.0]
    rows = result["axes"]
    assert [r["axis"] for r in rows] == list(NAMES)
    for r in rows:
        assert r["slope"] > 0 and -1 <= r["r2"] <= 1 and 0 <= r["class_kept"] <= 1
        assert r["outside_change"] < 1.0 and r["inside_change"] > 0
        assert isinstance(r["passed"], bool) and len(r["mean_curve"]) == 4
    ent, before = np.array(result["entanglement"]["matrix"]), np.array(result["entanglement_before"]["matrix"])
    np.testing.assert_allclose(np.diag(ent), 1.0)
    np.testing.assert_allclose(np.diag(before), 1.0)
    red = result["entanglement_reduction"]
    assert red["before"] == pytest.approx(np.abs(before[~np.eye(2, dtype=bool)]).mean())
    assert red["reduction"] == pytest.approx(1 - red["after"] / red["before"])
    md = ax.evaluation_table(result)
    assert "| brightness |" in md and "Entanglement before decorrelation" in md and "reduction" in md
    csv_text = ax.evaluation_table(result, fmt="csv")
    assert csv_text.splitlines()[0].startswith("set,axis") and len(csv_text.splitlines()) == 5
    png = tmp_path / "axes.png"
    ax.plot_evaluation(result, png)
    assert png.stat().st_size > 1000
    assert "R^2 (mean) >= 0.8" in md
    strict = ax.evaluate_axes(gen, colour_predictor, clf, dec[:1], attributes=NAMES, n=8, amounts=(-1, 0, 1, 2),
                              seed=0, targets={"r2": 0.0, "r2_on": "samples", "class_kept": 0.0,
                                               "class_on": "class_kept"})
    row = strict["axes"][0]
    assert row["passed"] == (row["monotonic"] and row["increasing"] and row["r2"] >= 0)
    with pytest.raises(ValueError, match="r2_on"):
        ax.evaluate_axes(gen, colour_predictor, None, dec, attributes=NAMES, targets={"r2_on": "median"})
    with pytest.raises(ValueError, match="include 0"):
        ax.evaluate_axes(gen, colour_predictor, None, dec, attributes=NAMES, amounts=(-1, 1, 2))
    no_clf = ax.evaluate_axes(gen, colour_predictor, None, dec[:1], attributes=NAMES, n=4, amounts=(-1, 0, 1))
    assert "class_kept" not in no_clf["axes"][0] and "entanglement_before" not in no_clf


def test_decorrelated_axes_leave_the_other_linear_attributes_alone():
    rng = np.random.RandomState(4)
    w1 = rng.standard_normal(16)
    w2 = 0.8 * w1 + 0.6 * rng.standard_normal(16)
    z = rng.standard_normal((200, 16))
    raw = ax.fit_axes(z, np.stack([z @ w1, z @ w2], axis=1), ["p", "q"])
    assert abs(raw[0].direction @ raw[1].direction) > 0.5
    dec = ax.decorrelate_all(raw)
    for i, j in ((0, 1), (1, 0)):
        w_i, w_j = (w1, w2)[i], (w1, w2)[j]
        assert abs(dec[i].direction @ w_j) < 1e-5 * np.linalg.norm(w_j)
        assert dec[i].direction @ w_i > 0
        moved = ax.move_global(z.astype(np.float32), dec[i], 1.0)
        np.testing.assert_allclose(moved @ w_j, z @ w_j, atol=1e-4)


def _script(name):
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_discover_and_evaluate_scripts(tmp_path, capsys):
    np.random.seed(5)
    nc.save_snapshot(random_class_tables(nc.Generator.from_preset("tiny32")), tmp_path / "generator.npz",
                     kind="generator")
    nc.save_snapshot(AttributeRegressor.from_preset("tiny32"), tmp_path / "regressor.npz", kind="regressor")
    nc.save_snapshot(Classifier.from_preset("tiny32"), tmp_path / "classifier.npz", kind="classifier")
    gen_path = str(tmp_path / "generator.npz")
    assert _script("discover_axes").main(["--generator", gen_path, "--n-samples", "80",
                                          "--attributes", "fur_hue,eye_size"]) == 0
    saved = ax.load_axes(tmp_path / "axes.json", dim_z=16)
    assert [a.name for a in saved] == ["fur_hue", "eye_size", "fur_hue_raw", "eye_size_raw"]
    assert saved[0].decorrelated_from == ("eye_size",) and saved[2].decorrelated_from == ()
    out = tmp_path / "eval"
    assert _script("evaluate_axes").main(["--generator", gen_path, "--out", str(out), "--n", "4",
                                          "--amounts=-1,0,1"]) == 0
    for ext in ("json", "md", "csv", "png"):
        assert (out / f"axes_eval.{ext}").exists(), ext
    result = json.load(open(out / "axes_eval.json"))
    assert [r["axis"] for r in result["axes"]] == ["fur_hue", "eye_size"]
    assert [r["axis"] for r in result["before_axes"]] == ["fur_hue_raw", "eye_size_raw"]
    assert "entanglement_reduction" in result
    capsys.readouterr()
    assert _script("discover_axes").main(["--generator", gen_path, "--n-samples", "80",
                                          "--attributes", "tail_length", "-o", str(tmp_path / "x.json")]) == 2
    assert "unknown attributes" in capsys.readouterr().err and not (tmp_path / "x.json").exists()
    assert _script("evaluate_axes").main(["--generator", gen_path, "--out", str(out), "--axes",
                                          str(tmp_path / "missing.json")]) == 2

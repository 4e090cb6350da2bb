"""Fitting a generator to one photo (neuralcollage.reconstruction) on tiny32 models."""
import json
import math

import numpy as np
import pytest

import neuralcollage as nc
from neuralcollage.collage import edit_photo, render, replay
from neuralcollage.io import from_model, to_model
from neuralcollage.labels import from_names
from neuralcollage.pretrained import ModelBundle
from neuralcollage.reconstruction import (DEFAULT_RECONSTRUCTION, WARN_FEATURE_SIMILARITY, WARN_PHOTO_SCORE,
                                          WARN_PROJECTION_PSNR,
                                          FitOptions, edit_generator, fade_offset, feature_similarity,
                                          fit_generator, fit_options, fit_warning, model_psnr,
                                          photo_score)
from nc_testing import random_class_tables


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny32")
    np.random.seed(1)
    nc.save_snapshot(random_class_tables(nc.Generator.from_preset("tiny32")), folder / "generator.npz",
                     kind="generator")
    nc.save_snapshot(nc.Discriminator.from_preset("tiny32"), folder / "discriminator.npz", kind="discriminator")
    return ModelBundle(name="tiny", generator=nc.load_generator(folder / "generator.npz"),
                       discriminator=nc.load_discriminator(folder / "discriminator.npz"),
                       vocabulary=from_names(["cat", "dog", "fox", "rabbit"]))


@pytest.fixture(scope="module")
def crop():
    """A 32 px picture the random generator cannot draw: smooth colour ramps and a disc."""
    yy, xx = np.mgrid[0:32, 0:32]
    img = np.stack([xx * 7, yy * 6, 255 - (xx + yy) * 3], axis=-1).astype(np.float32)
    img[(yy - 14) ** 2 + (xx - 18) ** 2 < 40] = (250, 240, 30)
    return np.clip(img, 0, 255).astype(np.uint8)


def _params(gen):
    return {path: p.array.copy() for path, p in gen.namedparams()}


def test_pivotal_fit_reproduces_the_photo_and_leaves_the_original_alone(bundle, crop):
    gen = bundle.generator
    before = _params(gen)
    z = gen.sample_z(1, seed=0)
    fit = fit_generator(gen, crop, z, 1, options=FitOptions.pivotal(steps=60, lr=2e-3, offset_lr=0.05, seed=3))
    direct = model_psnr(render(gen, z, 1), to_model(crop[None]))
    assert fit.psnr_before == pytest.approx(direct, abs=1e-9)
    assert fit.psnr > fit.psnr_before + 8
    assert len(fit.losses) == 60 and fit.losses[-1] < fit.losses[0]
    # the reported PSNR is the fitted copy's image against the crop, as a user sees them (uint8)
    rendered = render(fit.generator, z, 1)
    np.testing.assert_array_equal(rendered, fit.image)
    mse = np.mean((from_model(rendered)[0].astype(float) - crop.astype(float)) ** 2)
    assert fit.psnr == pytest.approx(10 * math.log10(255 ** 2 / mse), abs=1e-6)
    after = _params(gen)
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert gen.feature_offset is None
    tuned = _params(fit.generator)
    tables = [k for k in tuned if k.endswith("/gammas/W") or k.endswith("/betas/W")]
    assert tables and all(np.array_equal(tuned[k], before[k]) for k in tables)
    assert any(not np.array_equal(tuned[k], before[k]) for k in tuned if k not in tables)


def test_features_fit_keeps_the_weights_and_an_edit_draws_what_the_generator_draws(bundle, crop):
    gen = bundle.generator
    z = gen.sample_z(1, seed=0)
    fit = fit_generator(gen, crop, z, 1, options=FitOptions(steps=60, seed=3))
    # a random tiny generator's 16 x 16 x 8 offset cannot carry all of a 32 px picture; the trained 64 px
    # model's reaches 39 dB from 17 (docs/reconstruction.md)
    assert fit.psnr > fit.psnr_before + 4
    assert len(fit.losses) == 60 and fit.losses[-1] < fit.losses[0]
    assert gen.feature_offset is None
    weights = dict(gen.namedparams())
    assert all(p.array is weights[k].array for k, p in fit.generator.namedparams())
    # with the offset faded out everywhere the fitted generator is the trained one, bit for bit
    np.testing.assert_array_equal(render(fade_offset(fit.generator, np.ones((32, 32))), z, 2), render(gen, z, 2))
    # half faded: the faded half comes closer to the trained generator's picture than the kept half
    region = np.zeros((32, 32), np.float32)
    region[:, :16] = 1
    half = render(fade_offset(fit.generator, region), z, 1)
    plain, fitted = render(gen, z, 1), fit.image
    assert np.abs(half - plain)[..., :12].mean() < 0.5 * np.abs(fitted - plain)[..., :12].mean()
    assert np.abs(half - fitted)[..., 20:].mean() < 0.5 * np.abs(plain - fitted)[..., 20:].mean()


def test_tuning_after_the_offset_leaves_the_earlier_layers(bundle, crop):
    gen = bundle.generator
    before = _params(gen)
    fit = fit_generator(gen, crop, gen.sample_z(1, seed=0), 1,
                        options=FitOptions.pivotal(tune="after-offset", steps=10, lr=1e-2))
    tuned = _params(fit.generator)
    layer = fit.generator.feature_offset[0]
    later = [f"/block{b + 2}/" for b in range(layer, gen.n_blocks)] + [f"/{gen.tail_bn_name}/",
                                                                        f"/{gen.tail_conv_name}/"]
    changed = {k for k in tuned if not np.array_equal(tuned[k], before[k])}
    assert changed and all(any(k.startswith(p) for p in later) for k in changed)
    assert not any(k.endswith("/gammas/W") or k.endswith("/betas/W") for k in changed)


@pytest.mark.parametrize("options", [FitOptions(steps=15, seed=7),
                                     pytest.param(FitOptions.pivotal(steps=15, seed=7), marks=pytest.mark.slow)],
                         ids=["features", "pivotal"])
def test_fit_is_repeatable_bit_for_bit(bundle, crop, options):
    import dataclasses
    gen = bundle.generator
    z = gen.sample_z(1, seed=1)
    a = fit_generator(gen, crop, z, 2, options=options)
    b = fit_generator(gen, crop, z, 2, options=options)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.generator.feature_offset[1], b.generator.feature_offset[1])
    c = fit_generator(gen, crop, gen.sample_z(1, seed=2) if options.tune == "none" else z, 2,
                      options=dataclasses.replace(options, seed=8))
    assert not np.array_equal(a.image, c.image)


@pytest.mark.slow
def test_locality_keeps_the_other_classes(bundle, crop):
    gen = bundle.generator
    z = gen.sample_z(1, seed=2)
    changes = {}
    for locality in (0.0, 3.0):
        fit = fit_generator(gen, crop, z, 0, options=FitOptions.pivotal(steps=40, locality=locality, offset_lr=0.0))
        changes[locality] = np.mean([np.mean((render(fit.generator, z, c) - render(gen, z, c)) ** 2)
                                     for c in (1, 2, 3)])
    assert changes[3.0] < 0.5 * changes[0.0]


def test_zero_steps_is_the_original_generator(bundle, crop):
    gen = bundle.generator
    z = gen.sample_z(1, seed=0)
    for options in (FitOptions(steps=0), FitOptions.pivotal(steps=0)):
        fit = fit_generator(gen, crop, z, 1, options=options)
        np.testing.assert_array_equal(fit.image, render(gen, z, 1))
        assert fit.psnr == fit.psnr_before


def test_edit_generator_fades_the_offset_where_the_class_changes(bundle, crop):
    gen = bundle.generator
    fit = fit_generator(gen, crop, gen.sample_z(1, seed=0), 1, options=FitOptions(steps=5, offset_lr=0.5))
    layer, offset = fit.generator.feature_offset
    assert layer == gen.n_blend_layers - 2 and np.abs(offset).max() > 0
    region = np.zeros((32, 32), np.float32)
    region[:, :16] = 1
    view = edit_generator(fit, region)
    masked = view.feature_offset[1]
    res = offset.shape[-1]
    assert np.all(masked[..., : res // 2] == 0)
    np.testing.assert_array_equal(masked[..., res // 2:], offset[..., res // 2:])
    assert fit.generator.feature_offset[1] is offset
    assert edit_generator(None, region) is None and edit_generator(fit, None) is fit.generator


@pytest.mark.parametrize("kwargs,message", [
    ({"steps": -1}, "fit steps"), ({"steps": 2.5}, "fit steps"), ({"lr": 0}, "fit lr"),
    ({"lr": float("nan")}, "fit lr"), ({"locality": float("inf")}, "fit locality"),
    ({"noise": "a"}, "fit noise"), ({"seed": -3}, "fit seed"), ({"steps": True}, "fit steps"),
    ({"tune": "some"}, "fit tune"), ({"fade_context": 1.5}, "fit fade_context"),
    ({"fade_context": -0.1}, "fit fade_context")])
def test_bad_options_name_the_option(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FitOptions(**kwargs)


def test_options_json_round_trip_and_refusals(bundle):
    for options in (FitOptions(steps=12, locality=0.5, seed=4), FitOptions.pivotal(steps=3)):
        assert FitOptions.from_json(json.loads(json.dumps(options.to_json()))) == options
    # recipes written before `tune` existed tuned every weight
    legacy = {k: v for k, v in FitOptions.pivotal().to_json().items() if k not in ("tune", "fade_context")}
    assert FitOptions.from_json(legacy) == FitOptions.pivotal(fade_context=1.0)
    with pytest.raises(ValueError, match="unknown fit options"):
        FitOptions.from_json({"steps": 3, "rate": 1})
    with pytest.raises(ValueError, match="JSON object"):
        FitOptions.from_json([1, 2])
    with pytest.raises(ValueError, match="outside this generator's"):
        FitOptions(offset_layer=9).resolve_layer(bundle.generator)


def test_fit_refuses_bad_inputs(bundle, crop):
    gen = bundle.generator
    z = gen.sample_z(1, seed=0)
    with pytest.raises(ValueError, match="32x32 RGB"):
        fit_generator(gen, crop[:16], z, 1)
    with pytest.raises(ValueError, match="finite"):
        fit_generator(gen, crop, np.full((1, 16), np.nan, np.float32), 1)
    with pytest.raises(ValueError, match="class id"):
        fit_generator(gen, crop, z, 9)


def test_warning_below_the_thresholds():
    good = WARN_PROJECTION_PSNR + 1
    assert fit_warning(good, WARN_FEATURE_SIMILARITY + 0.01, model_name="builtin") is None
    assert fit_warning(good, None, model_name="builtin") is None
    line = fit_warning(WARN_PROJECTION_PSNR - 1, None, model_name="builtin")
    assert "64 px cartoon animal faces" in line and "collage models" in line and "\n" not in line
    line = fit_warning(good, WARN_FEATURE_SIMILARITY - 0.01, model_name="dogcat256")
    assert f"{WARN_FEATURE_SIMILARITY - 0.01:.2f}" in line and "cartoon" not in line


def test_a_part_edit_is_warned_about_by_the_whole_photos_score():
    poor = WARN_PROJECTION_PSNR - 3
    assert fit_warning(poor, WARN_FEATURE_SIMILARITY - 0.1, model_name="builtin",
                       whole_photo_score=WARN_PHOTO_SCORE) is None
    line = fit_warning(WARN_PROJECTION_PSNR + 5, WARN_FEATURE_SIMILARITY + 0.1, model_name="builtin",
                       whole_photo_score=WARN_PHOTO_SCORE - 0.25)
    assert "scores the whole photo -0.25" in line and "dB" not in line and "\n" not in line


def test_photo_score_is_the_discriminators_score_of_the_centred_square(bundle):
    import chainer
    from neuralcollage.blending import crop_and_resize
    dis, res = bundle.discriminator, bundle.generator.resolution
    photo = np.random.RandomState(3).randint(0, 256, (40, 70, 3)).astype(np.uint8)
    square = crop_and_resize(photo, (0, 15, 40), res)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        expected = float(dis(to_model(square[None]).astype(np.float32), np.array([2], np.int32)).array[0])
    assert photo_score(dis, photo, 2, resolution=res) == pytest.approx(expected, abs=1e-6)
    assert photo_score(dis, photo, 2, resolution=res) != pytest.approx(photo_score(dis, photo[:, :40], 2,
                                                                                   resolution=res), abs=1e-6)


def test_feature_similarity_is_the_cosine_in_the_projection_loss(bundle, crop):
    import chainer
    from neuralcollage.inversion import project
    gen, dis = bundle.generator, bundle.discriminator
    proj = project(gen, dis, crop, 1, steps=3, seed=0)
    target = to_model(crop[None])
    similarity = feature_similarity(proj.sample_losses[0], proj.image, target)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        a = dis.feature_vector(proj.image).array.ravel().astype(float)
        b = dis.feature_vector(target.astype(np.float32)).array.ravel().astype(float)
    assert similarity == pytest.approx(a @ b / np.linalg.norm(a) / np.linalg.norm(b), abs=2e-4)


def test_photo_edit_reports_and_replays_the_fit(bundle):
    rng = np.random.RandomState(0)
    yy, xx = np.mgrid[0:70, 0:90]
    photo = np.clip(np.stack([yy * 3, xx * 2, (xx + yy) * 1.5], axis=-1) + rng.normal(0, 10, (70, 90, 3)),
                    0, 255).astype(np.uint8)
    mask = np.zeros((70, 90), np.float32)
    mask[20:40, 30:55] = 1
    fitted = edit_photo(bundle, photo, mask, "fox", source_label="cat", steps=2,
                        fit=FitOptions.pivotal(steps=30), reconstruction="pivotal")
    plain = edit_photo(bundle, photo, mask, "fox", source_label="cat", steps=2, reconstruction="projection")
    default = edit_photo(bundle, photo, mask, "fox", source_label="cat", steps=2, fit=FitOptions(steps=30))
    assert fitted.fit is not None and plain.fit is None and default.fit.options.tune == "none"
    assert fitted.reconstruction_psnr == pytest.approx(fitted.fit.psnr)
    for result in (fitted, default):
        assert result.reconstruction_psnr > plain.reconstruction_psnr + 3
    assert fitted.recipe["reconstruction"]["method"] == "pivotal"
    assert default.recipe["reconstruction"]["method"] == DEFAULT_RECONSTRUCTION == "features"
    assert fitted.recipe["reconstruction"]["fit"]["steps"] == 30
    again = replay(json.loads(json.dumps(default.recipe)), photo, bundle)
    np.testing.assert_array_equal(again.image, default.image)
    entry = plain.recipe["reconstruction"]
    assert (entry["method"], entry["fit"], entry["psnr"]) == ("projection", None, round(plain.reconstruction_psnr, 4))
    assert entry["projection_psnr"] == entry["psnr"] and plain.projection_psnr == plain.reconstruction_psnr
    assert fitted.projection_psnr == pytest.approx(fitted.fit.psnr_before)
    assert 0 < fitted.feature_similarity <= 1
    again = replay(json.loads(json.dumps(fitted.recipe)), photo, bundle)
    np.testing.assert_array_equal(again.image, fitted.image)
    assert again.reconstruction_psnr == fitted.reconstruction_psnr
    bad = json.loads(json.dumps(fitted.recipe))
    bad["reconstruction"]["fit"]["steps"] = -4
    with pytest.raises(nc.collage.RecipeError, match="fit steps"):
        replay(bad, photo, bundle)
    with pytest.raises(nc.io.InputError, match="photo's own class"):
        edit_photo(bundle, photo, mask, "cat", source_label="cat", steps=0)
    with pytest.raises(ValueError, match="reconstruction must be one of"):
        edit_photo(bundle, photo, mask, "fox", source_label="cat", reconstruction="tuned")
    with pytest.raises(ValueError, match="not 'features'"):
        edit_photo(bundle, photo, mask, "fox", source_label="cat", fit=FitOptions.pivotal())


def test_fit_options_per_method():
    assert fit_options("projection") is None and fit_options("projection", None) is None
    assert fit_options("features") == FitOptions() and FitOptions().method == "features"
    assert fit_options("pivotal").tune == "all" and fit_options("pivotal").method == "pivotal"
    assert fit_options("pivotal", FitOptions.pivotal(tune="after-offset")).tune == "after-offset"
    with pytest.raises(ValueError, match="not 'pivotal'"):
        fit_options("pivotal", FitOptions())
    with pytest.raises(ValueError, match="FitOptions"):
        fit_options("features", {"steps": 3})


@pytest.mark.gpu
def test_the_fit_on_a_gpu_matches_the_cpu(bundle, crop):
    import copy

    from neuralcollage.backend import to_numpy
    cpu = bundle.generator
    gpu = copy.deepcopy(cpu)
    gpu.to_device(0)
    z = to_numpy(cpu.sample_z(1, seed=0))
    for options in (FitOptions(steps=20, seed=1), FitOptions.pivotal(steps=20, seed=1)):
        on_cpu = fit_generator(cpu, crop, z, 1, options=options)
        on_gpu = fit_generator(gpu, crop, z, 1, options=options)
        assert on_gpu.psnr == pytest.approx(on_cpu.psnr, abs=0.3)
        np.testing.assert_allclose(on_gpu.image, on_cpu.image, atol=2e-2)
    region = np.zeros((32, 32), np.float32)
    region[8:20, 8:20] = 1
    edited = render(edit_generator(on_gpu, region), z, 2)
    assert edited.shape == (1, 3, 32, 32) and np.isfinite(edited).all()


def test_fade_context_sets_where_an_edit_fades_the_offset(bundle, monkeypatch):
    from neuralcollage.collage import DEFAULT_CONTEXT, class_region
    from neuralcollage.collage import photo as pipeline
    rng = np.random.RandomState(0)
    photo = rng.randint(0, 256, (64, 64, 3)).astype(np.uint8)
    mask = np.zeros((64, 64), np.float32)
    mask[24:40, 24:40] = 1
    faded = {}
    for fade in (0.0, 0.5, 1.0):
        def recording(fit, region, fade=fade):
            faded[fade] = region
            return edit_generator(fit, region)
        monkeypatch.setattr(pipeline, "edit_generator", recording)
        result = edit_photo(bundle, photo, mask, "fox", source_label="cat", steps=1, box=(0, 0, 64),
                            fit=FitOptions(steps=2, fade_context=fade))
        assert result.recipe["reconstruction"]["fit"]["fade_context"] == fade
    mask_crop = result.mask_crop
    np.testing.assert_array_equal(faded[0.0], mask_crop)
    np.testing.assert_array_equal(faded[1.0], np.maximum(class_region(bundle.generator, mask_crop, DEFAULT_CONTEXT),
                                                         mask_crop))
    assert faded[0.0].sum() < faded[0.5].sum() < faded[1.0].sum()

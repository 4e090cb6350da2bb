"""Latent edits, the real-photo pipeline and recipe replay on tiny32 models."""
import json
import math

import numpy as np
import pytest

import neuralcollage as nc
from neuralcollage import blending, collage
from neuralcollage.collage import DEFAULT_COLOUR_REACH, RecipeError, blend_edit, render, replay, scbn_edit
from neuralcollage.io import InputError
from neuralcollage.labels import UnknownLabelError, from_names
from neuralcollage.pretrained import ModelBundle
from neuralcollage.reconstruction import FitOptions
from nc_testing import random_class_tables

STEPS = 3
# the fit is tested in test_reconstruction.py; here it only has to run, be recorded and replay
FIT = FitOptions(steps=3)


def edit_photo(*args, **kwargs):
    """:func:`neuralcollage.collage.edit_photo` with a 3-step fit (its default is 100 steps)."""
    kwargs.setdefault("fit", FIT)
    return collage.edit_photo(*args, **kwargs)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny32")
    np.random.seed(1)
    nc.save_snapshot(random_class_tables(nc.Generator.from_preset("tiny32")), folder / "generator.npz",
                     kind="generator")
    nc.save_snapshot(nc.Discriminator.from_preset("tiny32"), folder / "discriminator.npz", kind="discriminator")
    return ModelBundle(name="tiny", generator=nc.load_generator(folder / "generator.npz"),
                       discriminator=nc.load_discriminator(folder / "discriminator.npz"),
                       vocabulary=from_names(["cat", "dog", ("fox", "red fox"), "rabbit"], name="tiny"),
                       sha256={"generator": "ab" * 32, "discriminator": "cd" * 32})


@pytest.fixture(scope="module")
def photo():
    rng = np.random.RandomState(0)
    yy, xx = np.mgrid[0:70, 0:90]
    base = np.stack([yy * 3, xx * 2, (xx + yy) * 1.5], axis=-1) + rng.normal(0, 10, (70, 90, 3))
    return np.clip(base, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def mask():
    m = np.zeros((70, 90), np.float32)
    m[20:40, 30:55] = 1.0
    return m


def model_mask(r=32):
    m = np.zeros((r, r), bool)
    m[8:20, 10:24] = True
    return m


def test_scbn_edit_limits(bundle):
    gen = bundle.generator
    z = gen.sample_z(1, seed=0)
    empty = np.zeros((32, 32), bool)
    np.testing.assert_array_equal(scbn_edit(gen, z, 1, 3, empty), render(gen, z, 1))
    np.testing.assert_array_equal(scbn_edit(gen, z, 1, 3, ~empty), render(gen, z, 3))
    np.testing.assert_array_equal(scbn_edit(gen, z, 1, 3, model_mask(), layers="none"), render(gen, z, 1))
    edited = scbn_edit(gen, z, 1, 3, model_mask(), layers="2-")
    assert edited.shape == (1, 3, 32, 32) and edited.dtype == np.float32
    assert not np.array_equal(edited, render(gen, z, 1))
    with pytest.raises(ValueError, match="target_class"):
        scbn_edit(gen, z, 1, 4, model_mask())


def test_scbn_edit_changes_the_masked_area_most(bundle):
    gen = bundle.generator
    z = gen.sample_z(1, seed=2)
    diff = np.abs(scbn_edit(gen, z, 0, 2, model_mask(), layers="4-") - render(gen, z, 0)).mean(axis=(0, 1))
    inside = model_mask()
    assert diff[inside].mean() > 3 * diff[~inside].mean()


def test_blend_edit_limits(bundle):
    gen = bundle.generator
    z, other = gen.sample_z(1, seed=0), gen.sample_z(1, seed=1)
    empty = np.zeros((32, 32), bool)
    np.testing.assert_allclose(blend_edit(gen, z, other, 2, empty), render(gen, z, 2), atol=1e-5)
    np.testing.assert_allclose(blend_edit(gen, z, other, 2, ~empty), render(gen, other, 2), atol=1e-5)
    part = blend_edit(gen, z, other, 2, model_mask(), layers="1-")
    assert part.shape == (1, 3, 32, 32)
    with pytest.raises(ValueError, match="blend_maps"):
        render(gen, z, 2, z_others=[other])


def test_edit_photo_keeps_pixels_outside_the_region(bundle, photo, mask):
    original = photo.copy()
    calls = []
    result = edit_photo(bundle, photo, mask, "fox", source_label="cat", steps=STEPS, layers="2-",
                        progress=lambda *a: calls.append(a))
    np.testing.assert_array_equal(photo, original)
    assert result.image.shape == photo.shape and result.image.dtype == np.uint8
    region = blending.blend_region(mask, result.box, dilate=8)
    np.testing.assert_array_equal(result.image[~region], photo[~region])
    assert not np.array_equal(result.image[region], photo[region])
    top, left, size = result.box
    assert size >= 32 and top <= 20 and left <= 30 and top + size >= 40 and left + size >= 55
    assert result.crop.shape == result.reconstruction.shape == result.edited_crop.shape == (32, 32, 3)
    assert result.mask_crop.shape == (32, 32)
    assert (result.source_class, result.target_class) == (0, 2)
    assert len(result.losses) == STEPS + 1 and len(calls) == STEPS + 1
    assert result.z.shape == (1, 16) and result.z_target is None
    assert result.recipe["edit"]["layers"] == "2-5"
    json.dumps(result.recipe)


@pytest.mark.parametrize("method,mask_kind", [("scbn", "binary"), ("blend", "uint8"), ("scbn", "float")])
def test_replay_is_bit_exact(bundle, photo, mask, method, mask_kind):
    m = mask
    if mask_kind == "uint8":
        m = (mask * 200).astype(np.uint8)
    elif mask_kind == "float":
        m = np.clip(mask * np.random.RandomState(3).uniform(0.3, 1.0, mask.shape), 0, 1).astype(np.float32)
    result = edit_photo(bundle, photo, m, 1, source_label="rabbit", method=method, steps=STEPS, seed=4,
                        feather=1.0, blend_mode="mixed")
    recipe = json.loads(json.dumps(result.recipe))
    encoding = {"binary": "png8", "uint8": "png8", "float": "f32-zlib"}[mask_kind]
    assert recipe["mask"]["encoding"] == encoding
    again = replay(recipe, photo, bundle)
    np.testing.assert_array_equal(again.image, result.image)
    np.testing.assert_array_equal(again.edited_crop, result.edited_crop)
    np.testing.assert_array_equal(again.z, result.z)
    assert again.box == result.box
    if method == "blend":
        np.testing.assert_array_equal(again.z_target, bundle.generator.sample_z(1, seed=4))


def test_optimal_seam_edit_replays_bit_exact(bundle, photo, mask):
    result = edit_photo(bundle, photo, mask, 1, source_label="rabbit", steps=STEPS, seed=4, dilate=6,
                        seam="optimal")
    recipe = json.loads(json.dumps(result.recipe))
    assert recipe["edit"]["seam"] == "optimal" and recipe["edit"]["dilate"] == 6
    region = blending.blend_region(mask, result.box, dilate=6)
    np.testing.assert_array_equal(result.image[~region], photo[~region])
    np.testing.assert_array_equal(replay(recipe, photo, bundle).image, result.image)
    fixed = edit_photo(bundle, photo, mask, 1, source_label="rabbit", steps=STEPS, seed=4, dilate=6)
    assert "seam" not in fixed.recipe["edit"]
    assert not np.array_equal(fixed.image, result.image)
    recipe["edit"]["seam"] = "best"
    with pytest.raises(RecipeError, match="seam must be one of"):
        replay(recipe, photo, bundle)
    with pytest.raises(ValueError, match="Poisson blend mode"):
        edit_photo(bundle, photo, mask, 1, source_label="rabbit", steps=STEPS, blend_mode="none", seam="optimal")


def test_colour_reach_edit_replays_bit_exact(bundle, photo, mask):
    result = edit_photo(bundle, photo, mask, 1, source_label="rabbit", steps=STEPS, seed=4, colour_reach=3,
                        seam="optimal", dilate=10)
    recipe = json.loads(json.dumps(result.recipe))
    assert recipe["edit"]["colour_reach"] == 3.0 and recipe["edit"]["seam"] == "optimal"
    region = blending.blend_region(mask, result.box, dilate=10)
    np.testing.assert_array_equal(result.image[~region], photo[~region])
    np.testing.assert_array_equal(replay(recipe, photo, bundle).image, result.image)
    classic = edit_photo(bundle, photo, mask, 1, source_label="rabbit", steps=STEPS, seed=4, seam="optimal",
                         dilate=10, colour_reach=math.inf)
    assert "colour_reach" not in classic.recipe["edit"]
    np.testing.assert_array_equal(replay(classic.recipe, photo, bundle).image, classic.image)
    default = edit_photo(bundle, photo, mask, 1, source_label="rabbit", steps=STEPS, seed=4)
    assert default.recipe["edit"]["colour_reach"] == DEFAULT_COLOUR_REACH
    np.testing.assert_array_equal(classic.edited_crop, result.edited_crop)
    assert not np.array_equal(classic.image, result.image)
    for bad, message in ((0, "colour_reach must be"), ("far", "colour_reach must be")):
        recipe["edit"]["colour_reach"] = bad
        with pytest.raises(RecipeError, match=message):
            replay(recipe, photo, bundle)
    mixed = edit_photo(bundle, photo, mask, 1, source_label="rabbit", steps=STEPS, blend_mode="mixed")
    assert "colour_reach" not in mixed.recipe["edit"]
    np.testing.assert_array_equal(replay(mixed.recipe, photo, bundle).image, mixed.image)


def test_recipe_files_and_refusals(bundle, photo, mask, tmp_path):
    result = edit_photo(bundle, photo, mask, "dog", source_label=0, steps=1)
    path = tmp_path / "edit.json"
    collage.save_recipe(path, result.recipe)
    recipe = collage.load_recipe(path)
    np.testing.assert_array_equal(replay(recipe, photo, bundle).image, result.image)

    other = photo.copy()
    other[0, 0, 0] ^= 1
    with pytest.raises(RecipeError, match="photo differs"):
        replay(recipe, other, bundle)
    np.testing.assert_array_equal(replay(recipe, other, bundle, check_photo=False).image[1:], result.image[1:])
    with pytest.raises(RecipeError, match="photo is"):
        replay(recipe, photo[:50], bundle)
    with pytest.raises(RecipeError, match="version"):
        replay(dict(recipe, version=99), photo, bundle)
    changed = json.loads(json.dumps(recipe))
    changed["model"]["generator_sha256"] = "ef" * 32
    with pytest.raises(RecipeError, match="sha256"):
        replay(changed, photo, bundle)
    broken = json.loads(json.dumps(recipe))
    broken["mask"]["data"] = "not base64!"
    with pytest.raises(RecipeError, match="mask"):
        replay(broken, photo, bundle)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(RecipeError, match="JSON"):
        collage.load_recipe(tmp_path / "bad.json")


def test_guessed_source_class(bundle, photo, mask):
    result = edit_photo(bundle, photo, mask, "dog", steps=1, candidates=2, guess_steps=1)
    assert result.source_guess is not None
    assert result.source_class == result.source_guess.class_id
    assert result.recipe["edit"]["source_class"]["guessed"] is True
    assert any("guessed" in note for note in result.notes)


def test_resized_mask_is_noted(bundle, photo, mask):
    small = mask[::2, ::2]
    result = edit_photo(bundle, photo, small, "dog", source_label="cat", steps=0)
    assert any("resized" in note for note in result.notes)
    with pytest.raises(InputError, match="aspect"):
        edit_photo(bundle, photo, mask[:, :40], "dog", source_label="cat", steps=0)


def test_bad_inputs(bundle, photo, mask):
    with pytest.raises(UnknownLabelError, match="fox"):
        edit_photo(bundle, photo, mask, "foxx", source_label="cat", steps=0)
    with pytest.raises(UnknownLabelError):
        edit_photo(bundle, photo, mask, "dog", source_label="wolf", steps=0)
    with pytest.raises(InputError, match="empty"):
        edit_photo(bundle, photo, np.zeros_like(mask), "dog", source_label="cat", steps=0)
    with pytest.raises(InputError, match="uint8"):
        edit_photo(bundle, photo.astype(np.float32), mask, "dog", source_label="cat", steps=0)
    with pytest.raises(ValueError, match="method"):
        edit_photo(bundle, photo, mask, "dog", source_label="cat", method="paint", steps=0)
    with pytest.raises(ValueError, match="layer"):
        edit_photo(bundle, photo, mask, "dog", source_label="cat", layers="0-40", steps=0)
    no_dis = ModelBundle(name="g", generator=bundle.generator, vocabulary=bundle.vocabulary)
    with pytest.raises(InputError, match="no discriminator.*--source-label"):
        edit_photo(no_dis, photo, mask, "dog", steps=0)
    result = edit_photo(no_dis, photo, mask, "dog", source_label="cat", steps=2)
    assert any("PyramidFeatures" in note for note in result.notes)
    assert len(result.losses) == 3 and result.losses[-1] < result.losses[0]


def test_mask_touching_the_border(bundle, photo):
    m = np.zeros(photo.shape[:2], bool)
    m[:30, :25] = True
    result = edit_photo(bundle, photo, m, "dog", source_label="cat", steps=1)
    region = blending.blend_region(m, result.box, dilate=8)
    np.testing.assert_array_equal(result.image[~region], photo[~region])
    assert result.box[0] == 0 and result.box[1] == 0


def test_blend_with_a_given_or_computed_z_target(bundle, photo, mask):
    gen = bundle.generator
    fixed = gen.sample_z(1, seed=11)
    result = edit_photo(bundle, photo, mask, "fox", source_label="cat", method="blend", z_target=fixed[0],
                        steps=1)
    np.testing.assert_array_equal(result.z_target, fixed)
    np.testing.assert_array_equal(np.asarray(result.recipe["z_target"], np.float32), fixed[0])
    seen = []

    def shifted(z, source_class):
        seen.append((z.copy(), source_class))
        return z + 0.5

    same = edit_photo(bundle, photo, mask, None, source_label="rabbit", method="blend", z_target=shifted,
                      steps=1)
    assert len(seen) == 1 and seen[0][1] == 3 and same.source_class == same.target_class == 3
    np.testing.assert_array_equal(seen[0][0], same.z)
    np.testing.assert_array_equal(same.z_target, same.z + 0.5)
    assert same.recipe["edit"]["target_class"]["name"] == "rabbit"
    np.testing.assert_array_equal(replay(json.loads(json.dumps(same.recipe)), photo, bundle).image, same.image)
    with pytest.raises(ValueError, match="blend' only"):
        edit_photo(bundle, photo, mask, "dog", source_label="cat", z_target=fixed, steps=0)
    calls = []
    with pytest.raises(ValueError, match="z_target must be"):
        edit_photo(bundle, photo, mask, "dog", source_label="cat", method="blend", z_target=np.zeros((2, 16)),
                   steps=1, progress=lambda *a: calls.append(a))
    assert calls == []
    with pytest.raises(ValueError, match="z_target must be"):
        edit_photo(bundle, photo, mask, "dog", source_label="cat", method="blend", z_target=lambda z, c: z[0, :3],
                   steps=0)


def test_class_region_grows_the_mask_by_the_context(bundle):
    gen = bundle.generator
    soft = np.zeros((32, 32), np.float32)
    soft[10:14, 12:15] = 0.6
    soft[12, 13] = 1.0
    np.testing.assert_array_equal(collage.class_region(gen, soft, 0.0), soft)
    grown = collage.class_region(gen, soft, 0.1)
    assert grown.shape == (32, 32) and grown.dtype == np.float32
    ys, xs = np.mgrid[0:32, 0:32]
    inside = soft > 0
    distance = np.min(np.hypot(ys[..., None] - ys[inside][None, None], xs[..., None] - xs[inside][None, None]),
                      axis=2)
    radius = round(0.1 * 32)
    assert np.all(grown[distance <= radius - 1] > 0) and np.all(grown[distance > radius + 0.5] == 0)
    assert set(np.unique(grown)) == {0.0, np.float32(0.6), 1.0}
    assert np.all(grown >= soft)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="context"):
            collage.class_region(gen, soft, bad)


def test_edit_photo_context_reaches_the_generator_not_the_photo(bundle, photo, mask):
    common = dict(source_label="cat", steps=STEPS, seed=5, layers="all")
    tight = edit_photo(bundle, photo, mask, "fox", context=0.0, **common)
    wide = edit_photo(bundle, photo, mask, "fox", context=0.3, **common)
    np.testing.assert_array_equal(tight.z, wide.z)
    assert not np.array_equal(tight.edited_crop, wide.edited_crop)
    region = blending.blend_region(mask, wide.box, dilate=8)
    np.testing.assert_array_equal(wide.image[~region], photo[~region])
    assert tight.recipe["edit"]["context"] == 0.0 and wide.recipe["edit"]["context"] == 0.3
    assert edit_photo(bundle, photo, mask, "fox", **common).recipe["edit"]["context"] == collage.DEFAULT_CONTEXT
    np.testing.assert_array_equal(replay(wide.recipe, photo, bundle).image, wide.image)
    older = json.loads(json.dumps(tight.recipe))
    del older["edit"]["context"]
    np.testing.assert_array_equal(replay(older, photo, bundle).image, tight.image)
    broken = json.loads(json.dumps(wide.recipe))
    broken["edit"]["context"] = 7
    with pytest.raises(RecipeError, match="context"):
        replay(broken, photo, bundle)
    with pytest.raises(ValueError, match="context"):
        edit_photo(bundle, photo, mask, "fox", context=-1, **common)


# recipes written by the version before the options dataclasses (neuralcollage/options.py), with this module's
# bundle, photo and mask, and the sha256 of the image each produced
V1_RECIPES = "data/recipes_v1.json"


def _v1_recipes():
    import pathlib
    return json.loads((pathlib.Path(__file__).parent / V1_RECIPES).read_text())


@pytest.mark.parametrize("name", ["default", "classic", "mixed_blend", "none_feather", "optimal_reach3",
                                  "projection_only", "old_no_context"])
def test_recipes_of_the_previous_version_replay_bit_for_bit(bundle, photo, mask, name):
    import hashlib
    case = _v1_recipes()[name]
    again = replay(case["recipe"], photo, bundle)
    assert hashlib.sha256(again.image.tobytes()).hexdigest() == case["image_sha256"]


@pytest.mark.parametrize("name,options", [("default", {}), ("classic", {"colour_reach": math.inf}),
                                          ("none_feather", {"blend_mode": "none", "feather": 1.0, "dilate": 5})])
def test_recipes_keep_their_format(bundle, photo, mask, name, options):
    """The same edit writes the same recipe as the version before the options dataclasses."""
    old = _v1_recipes()[name]["recipe"]
    new = edit_photo(bundle, photo, mask, 1, source_label="rabbit", steps=2, seed=4, fit=FitOptions(steps=2),
                     **options).recipe
    assert {k: v for k, v in new.items() if k != "package_version"} == \
        {k: v for k, v in old.items() if k != "package_version"}


def test_options_objects_and_shorthands_are_one_thing(bundle, photo, mask):
    from neuralcollage.options import BlendOptions, EditOptions, ProjectionOptions
    common = dict(source_label="rabbit", fit=FitOptions(steps=1))
    a = edit_photo(bundle, photo, mask, 1, steps=1, seed=3, dilate=5, colour_reach=None, context=0.1, **common)
    b = edit_photo(bundle, photo, mask, 1, blend_options=BlendOptions(dilate=5, colour_reach=math.inf),
                   edit_options=EditOptions(context=0.1), projection_options=ProjectionOptions(steps=1, seed=3),
                   **common)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.recipe["edit"] == b.recipe["edit"] and "colour_reach" not in a.recipe["edit"]
    c = edit_photo(bundle, photo, mask, 1, blend_options=BlendOptions(dilate=5), dilate=7, steps=1, **common)
    assert c.recipe["edit"]["dilate"] == 7


def test_composite_feather_softens_the_edge_and_replays(bundle, photo, mask):
    """BlendOptions.composite_feather, added through the dataclass alone: edit_photo, recipes and the CLI's
    --composite-feather (tests/test_cli.py checks every field's flag) get it without further changes."""
    from neuralcollage.options import BlendOptions
    common = dict(source_label="rabbit", steps=STEPS, seed=4, blend_mode="none", dilate=8)
    sharp = edit_photo(bundle, photo, mask, 1, **common)
    soft = edit_photo(bundle, photo, mask, 1, blend_options=BlendOptions(blend_mode="none", composite_feather=4.0),
                      **common)
    np.testing.assert_array_equal(sharp.edited_crop, soft.edited_crop)
    assert not np.array_equal(sharp.image, soft.image)
    region = blending.blend_region(mask, soft.box, dilate=8)
    np.testing.assert_array_equal(soft.image[~region], photo[~region])
    assert soft.recipe["edit"]["composite_feather"] == 4.0 and "composite_feather" not in sharp.recipe["edit"]
    np.testing.assert_array_equal(replay(json.loads(json.dumps(soft.recipe)), photo, bundle).image, soft.image)
    default_sigma = edit_photo(bundle, photo, mask, 1, blend_options=BlendOptions(composite_feather=2.0), **common)
    np.testing.assert_array_equal(default_sigma.image, sharp.image)
    with pytest.raises(ValueError, match="composite_feather must be"):
        BlendOptions(composite_feather=-1)

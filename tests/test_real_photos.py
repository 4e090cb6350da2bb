"""Real photographs (tests/data, CC0; see tests/data/README.md) through reading, editing on the shipped built-in
model, the `collage` command line and replay."""
import hashlib
import io
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from neuralcollage import cli
from neuralcollage.blending import blend_region
from neuralcollage.collage import edit_photo, load_recipe, replay
from neuralcollage.io import InputError, read_image, read_mask
from neuralcollage.pretrained import load_bundle
from neuralcollage.reconstruction import WARN_PHOTO_SCORE, FitOptions, fit_warning

DATA = os.path.join(os.path.dirname(__file__), "data")
CHELSEA = os.path.join(DATA, "chelsea.jpg")
EYES = os.path.join(DATA, "chelsea_eyes_mask.png")
COFFEE = os.path.join(DATA, "coffee.jpg")
BUILTIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "neuralcollage", "data", "pretrained",
                       "builtin64")
STEPS = 8
# the fit is tested in test_reconstruction.py; 5 steps (default 100) are enough to run, record and replay it
FIT_STEPS = 5
FIT = FitOptions(steps=FIT_STEPS)
SHORT = ("--steps", STEPS, "--fit-steps", FIT_STEPS)


def sha256(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


@pytest.fixture(scope="module")
def bundle():
    return load_bundle(BUILTIN)


@pytest.fixture(scope="module")
def chelsea():
    return read_image(CHELSEA)


def test_photos_are_what_the_readme_says():
    assert read_image(CHELSEA).shape == (150, 226, 3)
    assert read_image(COFFEE).shape == (100, 150, 3)
    eyes = read_mask(EYES)
    assert eyes.shape == (150, 226)
    assert 0.05 < (eyes > 0.5).mean() < 0.2


def _variants(photo):
    """The photo saved as the formats and modes users bring: name -> (bytes, expected RGB, tolerance)."""
    out = {}
    pil = Image.fromarray(photo)

    def save(img, fmt, **kw):
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        return buf.getvalue()
    out["png"] = (save(pil, "PNG"), photo, 0)
    rgba = pil.convert("RGBA")
    out["rgba"] = (save(rgba, "PNG"), photo, 0)
    grey = np.asarray(pil.convert("L"))
    out["grey"] = (save(pil.convert("L"), "PNG"), np.repeat(grey[:, :, None], 3, axis=2), 0)
    palette = pil.convert("P", palette=Image.ADAPTIVE, colors=256)
    out["palette"] = (save(palette, "PNG"), np.asarray(palette.convert("RGB")), 0)
    ok, png16 = cv2.imencode(".png", (photo[:, :, ::-1].astype(np.uint16) * 257))
    assert ok
    out["16bit"] = (png16.tobytes(), photo, 0)
    out["cmyk_jpeg"] = (save(pil.convert("CMYK"), "JPEG", quality=95), photo, 6.0)
    exif = Image.Exif()
    exif[0x0112] = 6
    out["exif_rotated"] = (save(pil, "JPEG", quality=95, exif=exif), np.rot90(photo, k=-1), 3.0)
    return out


@pytest.fixture(scope="module")
def variants(chelsea):
    return _variants(chelsea)


@pytest.mark.parametrize("variant", ["png", "rgba", "grey", "palette", "16bit", "cmyk_jpeg", "exif_rotated"])
def test_real_photo_in_every_format(tmp_path, variants, variant):
    data, expected, tolerance = variants[variant]
    path = tmp_path / f"chelsea_{variant}"
    path.write_bytes(data)
    got = read_image(str(path))
    assert got.dtype == np.uint8 and got.shape == expected.shape
    assert np.abs(got.astype(float) - expected).mean() <= tolerance


def test_edit_real_photo_changes_only_the_blend_region(bundle, chelsea):
    mask = read_mask(EYES)
    result = edit_photo(bundle, chelsea, mask, "fox", source_label="cat", steps=STEPS, fit=FIT, seed=0)
    assert result.image.shape == chelsea.shape and result.image.dtype == np.uint8
    region = blend_region(mask, result.box, dilate=8)
    assert np.array_equal(result.image[~region], chelsea[~region])
    inside = mask > 0.5
    assert np.abs(result.image[inside].astype(float) - chelsea[inside]).mean() > 3.0
    top, left, side = result.box
    assert mask[top:top + side, left:left + side].sum() == pytest.approx(mask.sum())


def test_a_part_of_a_real_photo_is_warned_about_by_the_whole_photo(bundle, chelsea):
    result = edit_photo(bundle, chelsea, read_mask(EYES), "fox", source_label="cat", steps=STEPS, fit=FIT,
                        box=(10, 50, 100))
    assert result.whole_photo_score < WARN_PHOTO_SCORE
    assert [n for n in result.notes if "far from" in n and "scores the whole photo" in n]


def test_a_part_of_a_held_out_render_is_not_warned_about():
    """Held-out face 2 of set 0 (a muzzle): its close-up alone projects below the thresholds, as half of
    the renders' close-ups do, but the photo as a whole is like the training data."""
    from neuralcollage.analysis.evaluation import translation_cases
    bundle = load_bundle(BUILTIN)
    case = list(translation_cases(3, n_classes=bundle.generator.n_classes, seed=0, photo_size=128))[2]
    _, _, source, target, sample, _, region = case
    result = edit_photo(bundle, sample.image, region.astype(np.float32), target, source_label=source,
                        steps=STEPS, fit=FIT, seed=0)
    assert fit_warning(result.projection_psnr, result.feature_similarity, model_name="builtin") is not None
    assert result.whole_photo_score >= WARN_PHOTO_SCORE
    assert not [n for n in result.notes if "far from" in n]


def test_edit_real_photo_with_a_box_around_the_whole_face(bundle, chelsea):
    mask = read_mask(EYES)
    result = edit_photo(bundle, chelsea, mask, "fox", source_label="cat", steps=STEPS, fit=FIT,
                        box=(0, 30, 150))
    assert result.box == (0, 30, 150)
    assert result.crop.shape == (64, 64, 3)
    with pytest.raises(InputError, match="not inside"):
        edit_photo(bundle, chelsea, mask, "fox", source_label="cat", steps=STEPS, fit=FIT,
                   box=(0, 100, 150))
    with pytest.raises(InputError, match="none of the mask"):
        edit_photo(bundle, chelsea, mask, "fox", source_label="cat", steps=STEPS, fit=FIT,
                   box=(100, 0, 50))


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err):
    lines = [line for line in err.splitlines() if line.startswith("collage: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_cli_edit_and_replay_real_photo(tmp_path, capsys):
    before = sha256(CHELSEA), sha256(EYES)
    out, recipe, figure = tmp_path / "out.png", tmp_path / "edit.json", tmp_path / "figure.png"
    code, _, err = run(["--base", CHELSEA, "--mask", EYES, "--label", "fox", "--source-label", "cat",
                        "--model", BUILTIN, *SHORT, "-q", "-o", out, "--save-recipe", recipe,
                        "--figure", figure], capsys)
    assert code == 0, err
    assert (sha256(CHELSEA), sha256(EYES)) == before
    edited = read_image(str(out))
    assert edited.shape == (150, 226, 3)
    assert Image.open(figure).size[0] > 226
    assert load_recipe(str(recipe))["edit"]["target_class"] == {"id": 2, "name": "fox"}
    replayed = tmp_path / "replayed.png"
    code, _, err = run(["replay", recipe, "--base", CHELSEA, "-o", replayed, "-q"], capsys)
    assert code == 0, err
    assert np.array_equal(read_image(str(replayed)), edited)
    assert np.array_equal(replay(load_recipe(str(recipe)), read_image(CHELSEA), load_bundle(BUILTIN)).image,
                          edited)


def test_cli_box_option(tmp_path, capsys):
    recipe = tmp_path / "edit.json"
    code, _, err = run(["--base", CHELSEA, "--mask", EYES, "--label", "fox", "--source-label", "cat",
                        "--model", BUILTIN, *SHORT, "-q", "-o", tmp_path / "out.png",
                        "--box", "0,40,150", "--save-recipe", recipe], capsys)
    assert code == 0, err
    assert tuple(load_recipe(str(recipe))["box"]) == (0, 40, 150)
    out = tmp_path / "bad.png"
    code, _, err = run(["--base", CHELSEA, "--mask", EYES, "--label", "fox", "--source-label", "cat",
                        "--model", BUILTIN, *SHORT, "-q", "-o", out, "--box", "10,100,150"], capsys)
    assert code == 2
    assert "not inside the 150x226" in one_line_error(err)
    assert not out.exists()


@pytest.mark.slow
def test_cli_half_size_mask_is_resized_with_a_note(tmp_path, capsys):
    small = tmp_path / "eyes_small.png"
    Image.open(EYES).resize((113, 75), Image.NEAREST).save(small)
    code, _, err = run(["--base", CHELSEA, "--mask", small, "--label", "rabbit", "--source-label", "cat",
                        "--model", BUILTIN, *SHORT, "-q", "-o", tmp_path / "out.png"], capsys)
    assert code == 0, err
    assert "resized from 113x75 to the photo's 226x150" in err, err


@pytest.mark.parametrize("case, fragment", [
    ("other_aspect", "aspect"),
    ("empty", "empty"),
    ("unknown_label", "pomeranian"),
])
def test_cli_bad_input_on_real_photo(tmp_path, capsys, case, fragment):
    mask, label = EYES, "fox"
    if case == "other_aspect":
        mask = tmp_path / "square.png"
        Image.new("L", (150, 150), 255).save(mask)
    elif case == "empty":
        mask = tmp_path / "empty.png"
        Image.new("L", (226, 150), 0).save(mask)
    else:
        label = "pomeranian"
    out = tmp_path / "out.png"
    code, _, err = run(["--base", CHELSEA, "--mask", mask, "--label", label, "--source-label", "cat",
                        "--model", BUILTIN, *SHORT, "-q", "-o", out], capsys)
    assert code == 2
    assert fragment in one_line_error(err).lower()
    assert not out.exists()


@pytest.mark.slow
def test_cli_soft_mask_on_the_coffee_photo(tmp_path, capsys):
    yy, xx = np.mgrid[0:100, 0:150]
    soft = np.clip(255 - np.hypot(yy - 50, xx - 75) * 6, 0, 255).astype(np.uint8)
    mask = tmp_path / "soft.png"
    Image.fromarray(soft).save(mask)
    out = tmp_path / "out.png"
    code, _, err = run(["--base", COFFEE, "--mask", mask, "--label", "panda", "--source-label", "bear",
                        "--model", BUILTIN, *SHORT, "-q", "-o", out], capsys)
    assert code == 0, err
    photo, edited = read_image(COFFEE), read_image(str(out))
    assert edited.shape == photo.shape
    assert np.array_equal(edited[:, :10], photo[:, :10])

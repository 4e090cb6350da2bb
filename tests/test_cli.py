"""The `collage` command line: in-process through ``main(argv)`` (exit status, one-line errors, outputs) and a
few runs of the console script in a subprocess (no tracebacks)."""
import glob
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import neuralcollage as nc
from neuralcollage import cli
from neuralcollage.models.encoder import Encoder
from neuralcollage.models.presets import DISCRIMINATOR_PRESETS, GENERATOR_PRESETS
import nc_reference as ref

STEPS = "5"
LABELS = ("cat", "dog", "fox", "owl")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    home, root = tmp_path / "home", tmp_path / "pretrained"
    home.mkdir()
    root.mkdir()
    monkeypatch.setenv("NEURALCOLLAGE_HOME", str(home))
    monkeypatch.setenv("NEURALCOLLAGE_PRETRAINED", str(root))
    monkeypatch.delenv("NEURALCOLLAGE_MAX_PIXELS", raising=False)
    monkeypatch.chdir(tmp_path)
    return home, root


def _save_tiny(folder, *, n_classes=4, labels=LABELS, encoder=True, seed=0):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.RandomState(seed)
    g = nc.Generator.from_preset("tiny32", n_classes=n_classes)
    for p in g.params():
        p.array[...] += rng.normal(0, 0.01, p.shape).astype(np.float32)
    nc.save_snapshot(g, os.path.join(folder, "generator.npz"), kind="generator")
    nc.save_snapshot(nc.Discriminator.from_preset("tiny32", n_classes=n_classes),
                     os.path.join(folder, "discriminator.npz"), kind="discriminator")
    if encoder:
        nc.save_snapshot(Encoder.from_preset("tiny32", n_classes=n_classes), os.path.join(folder, "encoder.npz"),
                         kind="encoder")
    if labels:
        with open(os.path.join(folder, "labels.txt"), "w") as fh:
            fh.write("\n".join(labels) + "\n")
    return os.path.join(folder, "generator.npz")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny32 generator + discriminator + encoder with labels cat, dog, fox, owl."""
    return _save_tiny(str(tmp_path_factory.mktemp("tiny")))


def _photo(path, size=(48, 64), seed=0):
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.RandomState(seed)
    img = np.stack([xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), (xx + yy) % 256], -1)
    img = np.clip(img + rng.randint(0, 20, img.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(path)
    return str(path)


def _mask(path, size=(48, 64), box=(10, 20, 30, 40), value=255):
    m = np.zeros(size, np.uint8)
    t, l, b, r = box
    m[t:b, l:r] = value
    Image.fromarray(m).save(path)
    return str(path)


@pytest.fixture
def photo(tmp_path):
    return _photo(tmp_path / "photo.png")


@pytest.fixture
def mask(tmp_path):
    return _mask(tmp_path / "mask.png")


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err, *fragments):
    lines = [line for line in err.splitlines() if line.startswith("collage: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def no_leftovers(folder):
    assert not glob.glob(os.path.join(str(folder), ".*.tmp")), os.listdir(folder)


def edit_args(photo, mask, model, *extra, label="fox", out="out.png"):
    return ["--base", photo, "--mask", mask, "--label", label, "--model", model, "--steps", STEPS, "-q",
            "-o", out, *extra]


# ------------------------------------------------------------------------------------------------ parsing

def test_help_lists_commands_and_examples(capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    for word in ("generate", "invert", "blend", "models", "labels", "replay", "demo", "train", "eval",
                 "examples:"):
        assert word in out
    code, out, _ = run(["edit", "--help"], capsys)
    assert code == 0 and out.startswith("usage: collage edit")
    out = " ".join(out.split())
    assert "(default: 200)" in out and "(default: scbn)" in out and "aspect ratios match" in out
    assert "collage --base dog.png" in out
    for sub in (["generate"], ["invert"], ["blend"], ["replay"], ["demo"], ["train", "gan"],
                ["train", "encoder"], ["train", "classifier"], ["eval"], ["labels"], ["models"]):
        code, out, _ = run([*sub, "--help"], capsys)
        assert code == 0 and "usage:" in out


def test_no_arguments_and_usage_errors(capsys):
    code, _, err = run([], capsys)
    assert code == 2 and "collage: error: nothing to do" in err
    code, _, err = run(["--base", "x.png"], capsys)
    assert code == 2
    assert_one_line_error(err, "required", "--label")
    code, _, err = run(["--base", "x.png", "--label", "a", "--mask", "m.png", "--steps", "many"], capsys)
    assert code == 2
    assert_one_line_error(err, "--steps")
    code, _, err = run(["train"], capsys)
    assert code == 2
    code, _, err = run(["edit", "--base", "a.png", "--label", "b", "--mask", "c.png", "--bogus"], capsys)
    assert code == 2
    assert_one_line_error(err, "--bogus")


def test_default_command_is_edit():
    parser = cli.build_parser()
    args = parser.parse_args(["edit", "--base", "a.png", "--label", "fox", "--mask", "m.png"])
    assert args.func is cli.cmd_edit and args.steps == 200 and args.method == "scbn" and args.layers == "all"
    assert args.model == "builtin" and args.gpu == -1 and args.blend_mode == "normal"


# ------------------------------------------------------------------------------------------------ bad inputs

def test_missing_photo(tmp_path, mask, model, capsys):
    code, _, err = run(edit_args(str(tmp_path / "nope.png"), mask, model), capsys)
    assert code == 2
    assert_one_line_error(err, "nope.png", "no such file")
    assert not os.path.exists("out.png")


def test_corrupt_photo(tmp_path, mask, model, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    code, _, err = run(edit_args(str(bad), mask, model), capsys)
    assert code == 2
    assert_one_line_error(err, "bad.png")
    good = _photo(tmp_path / "trunc.png", size=(48, 64))
    data = open(good, "rb").read()
    with open(good, "wb") as fh:
        fh.write(data[: len(data) // 2])
    code, _, err = run(edit_args(good, mask, model), capsys)
    assert code == 2
    assert_one_line_error(err, "trunc.png")
    assert not os.path.exists("out.png")


def test_corrupt_and_truncated_model(tmp_path, photo, mask, model, capsys):
    folder = tmp_path / "broken"
    shutil.copytree(os.path.dirname(model), folder)
    data = (folder / "generator.npz").read_bytes()
    (folder / "generator.npz").write_bytes(data[: len(data) // 3])
    code, _, err = run(edit_args(photo, mask, str(folder / "generator.npz")), capsys)
    assert code == 3
    assert_one_line_error(err, "corrupt or truncated")
    (folder / "generator.npz").write_bytes(b"definitely not an npz")
    code, _, err = run(edit_args(photo, mask, str(folder / "generator.npz")), capsys)
    assert code == 3
    assert not os.path.exists("out.png")


def test_wrong_snapshot_for_arch(tmp_path, photo, mask, capsys):
    gp, dp = GENERATOR_PRESETS["tiny32"], DISCRIMINATOR_PRESETS["tiny32"]
    folder = tmp_path / "official"
    folder.mkdir()
    np.savez(folder / "ResNetGenerator_1.npz",
             **ref.random_generator_arrays(gp["channels"], gp["ch"], gp["dim_z"], 4))
    np.savez(folder / "SNResNetProjectionDiscriminator_1.npz",
             **ref.random_discriminator_arrays(dp["channels"], dp["ch"], 4, hidden=dp["hidden"]))
    gen = str(folder / "ResNetGenerator_1.npz")
    code, _, err = run(edit_args(photo, mask, gen, label="1"), capsys)
    assert code == 3
    assert_one_line_error(err, "--arch")
    code, _, err = run(edit_args(photo, mask, gen, "--arch", "collage128", label="1"), capsys)
    assert code == 3
    assert_one_line_error(err, "does not fit")
    code, _, err = run(edit_args(photo, mask, gen, "--arch", "nonsense", label="1"), capsys)
    assert code == 3
    assert_one_line_error(err, "nonsense")
    code, out, err = run(["generate", "--model", gen, "--arch", "tiny32", "--label", "2", "-o", "g.png"], capsys)
    assert code == 0, err
    assert Image.open("g.png").size == (32, 32)


def test_empty_mask(tmp_path, photo, model, capsys):
    empty = _mask(tmp_path / "empty.png", value=0)
    code, _, err = run(edit_args(photo, empty, model), capsys)
    assert code == 2
    assert_one_line_error(err, "empty")
    assert not os.path.exists("out.png")


def test_mask_other_aspect_ratio_is_refused(tmp_path, photo, model, capsys):
    other = _mask(tmp_path / "square.png", size=(48, 48), box=(5, 5, 20, 20))
    code, _, err = run(edit_args(photo, other, model), capsys)
    assert code == 2
    assert_one_line_error(err, "aspect ratios differ")


def test_unknown_label_suggests(photo, mask, model, capsys):
    code, _, err = run(edit_args(photo, mask, model, label="foxx"), capsys)
    assert code == 2
    assert_one_line_error(err, "unknown label 'foxx'", "did you mean: fox")
    code, _, err = run(edit_args(photo, mask, model, "--source-label", "unicorn"), capsys)
    assert code == 2
    assert_one_line_error(err, "unicorn")
    code, _, err = run(edit_args(photo, mask, model, label="7"), capsys)
    assert code == 2
    assert_one_line_error(err, "out of range")


def test_huge_image_is_refused(photo, mask, model, capsys, monkeypatch):
    code, _, err = run(edit_args(photo, mask, model, "--max-pixels", "1000"), capsys)
    assert code == 2
    assert_one_line_error(err, "too large")
    monkeypatch.setenv("NEURALCOLLAGE_MAX_PIXELS", "1000")
    code, _, err = run(edit_args(photo, mask, model), capsys)
    assert code == 2
    assert_one_line_error(err, "too large")


def test_unwritable_output(tmp_path, photo, mask, model, capsys):
    code, _, err = run(edit_args(photo, mask, model, out=str(tmp_path / "missing_dir" / "out.png")), capsys)
    assert code == 2
    assert_one_line_error(err, "does not exist")
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    code, _, err = run(edit_args(photo, mask, model, out=str(blocker / "out.png")), capsys)
    assert code == 2
    code, _, err = run(edit_args(photo, mask, model, out=str(tmp_path)), capsys)
    assert code == 2
    assert_one_line_error(err, "unknown image format")
    code, _, err = run(edit_args(photo, mask, model, out=str(tmp_path / "out.xyz")), capsys)
    assert code == 2
    assert_one_line_error(err, "unknown image format")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_output_dir(tmp_path, photo, mask, model, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        code, _, err = run(edit_args(photo, mask, model, out=str(ro / "out.png")), capsys)
        assert code == 2
        assert_one_line_error(err, "not writable")
    finally:
        ro.chmod(0o755)


def test_output_equal_to_input_is_refused(tmp_path, photo, mask, model, capsys):
    before = open(photo, "rb").read()
    mask_before = open(mask, "rb").read()
    for out_args in (["-o", photo], ["-o", os.path.join(os.path.dirname(photo), ".", "photo.png")],
                     ["-o", "o.png", "--figure", mask], ["-o", "o.png", "--save-recipe", mask]):
        code, _, err = run(edit_args(photo, mask, model)[:-2] + out_args, capsys)
        assert code == 2, out_args
        assert_one_line_error(err, "refusing to overwrite input file")
    assert open(photo, "rb").read() == before and open(mask, "rb").read() == mask_before
    code, _, err = run(["blend", "--base", photo, "--source", photo, "--mask", mask, "-o", mask], capsys)
    assert code == 2
    assert open(mask, "rb").read() == mask_before
    no_leftovers(tmp_path)


def test_model_problems_exit_3(photo, mask, capsys):
    code, _, err = run(edit_args(photo, mask, "dogcat256", label="pomeranian"), capsys)
    assert code == 3
    assert_one_line_error(err, "not installed", "quolc/neural-collage")
    code, _, err = run(edit_args(photo, mask, "builtin", label="fox"), capsys)
    assert code == 3
    assert_one_line_error(err, "the built-in model is not trained yet; run `collage train gan")
    code, _, err = run(edit_args(photo, mask, "nosuchmodel"), capsys)
    assert code == 3
    assert_one_line_error(err, "unknown model 'nosuchmodel'")
    assert not os.path.exists("out.png")


def test_gpu_unavailable_exit_3(photo, mask, model, capsys):
    from neuralcollage.backend import gpu_available
    if gpu_available():
        pytest.skip("a GPU is available")
    code, _, err = run(edit_args(photo, mask, model, "--gpu", "0"), capsys)
    assert code == 3
    assert_one_line_error(err, "GPU 0")


def test_nan_z_for_generate(tmp_path, model, capsys):
    z = np.zeros((1, 16), np.float32)
    z[0, 3] = np.nan
    np.savez(tmp_path / "z.npz", z=z, class_id=np.int64(1))
    code, _, err = run(["generate", "--model", model, "--z", tmp_path / "z.npz", "-o", "g.png"], capsys)
    assert code == 2
    assert_one_line_error(err, "NaN")
    np.savez(tmp_path / "z.npz", z=np.zeros((1, 7), np.float32))
    code, _, err = run(["generate", "--model", model, "--z", tmp_path / "z.npz", "--label", "cat", "-o", "g.png"],
                       capsys)
    assert code == 2
    assert_one_line_error(err, "(N, 16)")
    (tmp_path / "bad.npz").write_bytes(b"nope")
    code, _, err = run(["generate", "--model", model, "--z", tmp_path / "bad.npz", "--label", "cat"], capsys)
    assert code == 2
    assert not os.path.exists("g.png") and not os.path.exists("generated.png")


def test_nan_and_garbage_recipe_for_replay(tmp_path, photo, model, capsys):
    recipe = tmp_path / "r.json"
    recipe.write_text('{"model": "%s", "z": [[0.0, NaN]]}' % model)
    code, _, err = run(["replay", recipe, "--base", photo, "-o", "r.png"], capsys)
    assert code == 2
    assert_one_line_error(err, "NaN")
    recipe.write_text("{not json")
    code, _, err = run(["replay", recipe, "--base", photo, "-o", "r.png"], capsys)
    assert code == 2
    assert_one_line_error(err, "not valid JSON")
    code, _, err = run(["replay", tmp_path / "missing.json", "--base", photo, "-o", "r.png"], capsys)
    assert code == 2
    assert not os.path.exists("r.png")


def test_internal_errors_are_one_line_and_debug_shows_traceback(monkeypatch, capsys):
    def boom(args):
        raise RuntimeError("kaput")

    monkeypatch.setattr(cli, "cmd_models", boom)
    code, _, err = run(["models"], capsys)
    assert code == 1
    assert_one_line_error(err, "internal error: RuntimeError: kaput")
    code, _, err = run(["models", "--debug"], capsys)
    assert code == 1 and "Traceback" in err


# ------------------------------------------------------------------------------------------------ models, labels

def test_models_table_and_json(capsys):
    code, out, _ = run(["models"], capsys)
    assert code == 0
    for name in ("builtin", "dogcat256", "dogcat128", "imagenet128", "cub128"):
        assert name in out
    code, out, _ = run(["models", "--json"], capsys)
    rows = json.loads(out)
    assert {r["name"] for r in rows} >= {"builtin", "cub128"} and not any(r["installed"] for r in rows)
    code, out, _ = run(["models", "--forget", "dogcat256"], capsys)
    assert code == 0 and "nothing recorded" in out
    code, _, err = run(["models", "--forget", "nope"], capsys)
    assert code == 2


def test_labels(model, capsys):
    code, out, _ = run(["labels", "--model", "dogcat256", "--search", "pomeranian"], capsys)
    assert code == 0 and "108  Pomeranian" in out
    code, out, _ = run(["labels", "--model", model], capsys)
    assert code == 0 and out.split() == ["0", "cat", "1", "dog", "2", "fox", "3", "owl"]
    code, out, err = run(["labels", "--model", "builtin", "--search", "zebra"], capsys)
    assert code == 0 and out == "" and "no label" in err
    code, out, _ = run(["labels"], capsys)
    assert code == 0 and "panda" in out


# ------------------------------------------------------------------------------------------------ generate, invert, blend

def test_generate_and_z_round_trip(tmp_path, model, capsys):
    code, out, err = run(["generate", "--model", model, "--label", "dog", "--seed", "3", "--save-z", "z.npz",
                          "-o", "a.png"], capsys)
    assert code == 0, err
    code, _, err = run(["generate", "--model", model, "--z", "z.npz", "-o", "b.png"], capsys)
    assert code == 0, err
    assert np.array_equal(np.asarray(Image.open("a.png")), np.asarray(Image.open("b.png")))
    code, _, err = run(["generate", "--model", model, "--label", "owl", "-n", "4", "-o", "grid.png"], capsys)
    assert code == 0 and Image.open("grid.png").size == (66, 66)


def test_invert_writes_z_and_reconstruction(tmp_path, photo, mask, model, capsys):
    code, out, err = run(["invert", "--base", photo, "--model", model, "--label", "cat", "--steps", STEPS, "-q",
                          "-o", "recon.png", "--z-out", "z.npz"], capsys)
    assert code == 0, err
    assert Image.open("recon.png").size == (32, 32)
    with np.load("z.npz") as f:
        assert f["z"].shape == (1, 16) and int(f["class_id"]) == 0 and len(f["losses"]) == int(STEPS) + 1
    code, _, err = run(["generate", "--model", model, "--z", "z.npz", "-o", "again.png"], capsys)
    assert code == 0
    assert np.array_equal(np.asarray(Image.open("again.png")), np.asarray(Image.open("recon.png")))
    code, out, err = run(["invert", "--base", photo, "--mask", mask, "--model", model, "--steps", "2", "-q"],
                         capsys)
    assert code == 0, err
    assert "source class" in err and os.path.exists("photo_reconstruction.png") and os.path.exists("photo_z.npz")


def test_blend(tmp_path, photo, mask, capsys):
    edited = _photo(tmp_path / "edited.png", seed=5)
    code, _, err = run(["blend", "--base", photo, "--source", edited, "--mask", mask, "-o", "b.png"], capsys)
    assert code == 0, err
    a, b = np.asarray(Image.open(photo)), np.asarray(Image.open("b.png"))
    far = np.ones(a.shape[:2], bool)
    far[10 - 9:30 + 9, 20 - 9:40 + 9] = False
    assert np.array_equal(a[far], b[far]) and not np.array_equal(a, b)
    small = _photo(tmp_path / "small.png", size=(24, 32), seed=5)
    code, _, err = run(["blend", "--base", photo, "--source", small, "--mask", mask, "-o", "c.png"], capsys)
    assert code == 0 and "resized" in err
    square = _photo(tmp_path / "sq.png", size=(16, 16), seed=5)
    code, _, err = run(["blend", "--base", photo, "--source", square, "--mask", mask, "--box", "5,15,40",
                        "-o", "d.png", "--mode", "mixed"], capsys)
    assert code == 0, err
    code, _, err = run(["blend", "--base", photo, "--source", square, "--mask", mask, "-o", "e.png"], capsys)
    assert code == 2
    assert_one_line_error(err, "aspect ratios differ")
    code, _, err = run(["blend", "--base", photo, "--source", square, "--mask", mask, "--box", "30,30,40",
                        "-o", "e.png"], capsys)
    assert code == 2 and not os.path.exists("e.png")


# ------------------------------------------------------------------------------------------------ edit, replay, demo

def test_edit_writes_result_recipe_and_figure_and_replays_bit_exact(tmp_path, photo, mask, model, capsys):
    before = open(photo, "rb").read()
    code, out, err = run(edit_args(photo, mask, model, "--save-recipe", "edit.json", "--figure", "fig.png",
                                   "--source-label", "cat"), capsys)
    assert code == 0, err
    assert "edited" in out and "out.png" in out
    result = np.asarray(Image.open("out.png"))
    assert result.shape == (48, 64, 3)
    assert Image.open("fig.png").size[0] > 300
    recipe = json.load(open("edit.json"))
    assert isinstance(recipe, dict)
    assert open(photo, "rb").read() == before
    code, out, err = run(["replay", "edit.json", "--base", photo, "-o", "again.png"], capsys)
    assert code == 0, err
    assert np.array_equal(np.asarray(Image.open("again.png")), result)
    no_leftovers(tmp_path)


def test_edit_default_output_name_and_progress(tmp_path, photo, mask, model, capsys):
    code, out, err = run(["--base", photo, "--mask", mask, "--label", "owl", "--model", model, "--steps", "3",
                          "--source-label", "dog"], capsys)
    assert code == 0, err
    assert os.path.exists("photo_owl.png")


def test_mask_of_other_size_is_resized_with_note(tmp_path, photo, model, capsys):
    big = _mask(tmp_path / "big.png", size=(96, 128), box=(20, 40, 60, 80))
    code, _, err = run(edit_args(photo, big, model, "--source-label", "cat"), capsys)
    assert code == 0, err
    assert "collage: note: mask" in err and "resized from 128x96 to the photo's 64x48" in err


def test_non_binary_mask_is_accepted(tmp_path, photo, model, capsys):
    soft = np.zeros((48, 64), np.uint8)
    soft[10:30, 20:40] = 128
    soft[15:25, 25:35] = 255
    Image.fromarray(soft).save(tmp_path / "soft.png")
    code, _, err = run(edit_args(photo, str(tmp_path / "soft.png"), model, "--source-label", "cat"), capsys)
    assert code == 0, err


def test_replay_refuses_other_model_file(tmp_path, photo, mask, model, capsys):
    code, _, err = run(edit_args(photo, mask, model, "--save-recipe", "edit.json", "--source-label", "cat"), capsys)
    assert code == 0, err
    other = _save_tiny(str(tmp_path / "other"), seed=1)
    code, _, err = run(["replay", "edit.json", "--base", photo, "--model", other, "-o", "x.png"], capsys)
    assert code == 3
    assert_one_line_error(err, "sha256")
    assert not os.path.exists("x.png")


def test_demo_on_a_builtin_stand_in(isolated, capsys):
    _, root = isolated
    from neuralcollage.train.datasets import CLASS_NAMES
    _save_tiny(str(root / "builtin64"), n_classes=len(CLASS_NAMES), labels=None)
    code, out, err = run(["demo", "-o", "demo_out", "--steps", "2", "-q"], capsys)
    assert code == 0, err
    for name in ("result.png", "before_after.png", "recipe.json"):
        assert os.path.exists(os.path.join("demo_out", name))
    assert "demo:" in out and " s;" in out
    photo = np.asarray(Image.open(os.path.join(cli.examples_dir(), "dog.png")))
    assert np.asarray(Image.open("demo_out/result.png")).shape == photo.shape


def test_bundled_examples_are_consistent():
    spec = json.load(open(os.path.join(cli.examples_dir(), "example.json")))
    photo = Image.open(os.path.join(cli.examples_dir(), spec["photo"]))
    mask = np.asarray(Image.open(os.path.join(cli.examples_dir(), spec["mask"])))
    assert photo.size == (256, 256) and mask.shape == (256, 256) and mask.any()
    from neuralcollage.train.datasets import CLASS_NAMES
    assert spec["target_label"] in CLASS_NAMES and spec["source_label"] in CLASS_NAMES


# ------------------------------------------------------------------------------------------------ train, eval wiring

def test_train_and_eval_call_the_library(monkeypatch, capsys):
    import neuralcollage.train.classifier as tc
    import neuralcollage.train.gan as tg
    calls = {}

    def fake(name):
        def f(out_dir, **kwargs):
            calls[name] = (out_dir, kwargs)
            return 7 if name == "gan" else {"classifier_accuracy": {"value": 0.99}}
        f.__name__ = name
        return f

    monkeypatch.setattr(tg, "train_gan", fake("gan"))
    code, out, err = run(["train", "gan", "runs/x", "--iterations", "10", "--batch-size", "4", "--seed", "1", "-q"],
                         capsys)
    assert code == 0, err
    out_dir, kw = calls["gan"]
    assert out_dir == "runs/x" and kw["iterations"] == 10 and kw["batch_size"] == 4 and kw["seed"] == 1
    assert kw["arch"] == "builtin64" and kw["progress"] is False and "device" not in kw

    monkeypatch.setattr(tc, "train_classifier", fake("classifier"))
    code, _, err = run(["train", "classifier", "runs/c", "--kind", "part", "--iterations", "3"], capsys)
    assert code == 0, err
    assert calls["classifier"][1]["kind"] == "part" and calls["classifier"][1]["iterations"] == 3

    import neuralcollage.train.encoder as te
    monkeypatch.setattr(te, "train_encoder", fake("encoder"))
    code, _, err = run(["train", "encoder", "runs/e", "--generator", "nope.npz"], capsys)
    assert code == 3
    open("g.npz", "wb").close()
    code, _, err = run(["train", "encoder", "runs/e", "--generator", "g.npz", "--iterations", "2"], capsys)
    assert code == 0, err
    assert calls["encoder"][1]["generator_path"] == "g.npz"

    import neuralcollage.evaluation as ev
    monkeypatch.setattr(ev, "evaluate_builtin", fake("eval"), raising=False)
    code, out, err = run(["eval", "some/dir", "--n-samples", "5", "--out-json", "m.json"], capsys)
    assert code == 0, err
    assert calls["eval"] == ("some/dir", {"out_json": "m.json", "n_samples": 5, "seed": 0})


def test_option_the_library_does_not_take_is_an_error(monkeypatch, capsys):
    import neuralcollage.train.gan as tg

    def train_gan(out_dir, *, arch, iterations, batch_size, n_dis, lr, ema_decay, seed, time_limit=None):
        return 0

    monkeypatch.setattr(tg, "train_gan", train_gan)
    code, _, err = run(["train", "gan", "runs/x", "--distributed"], capsys)
    assert code == 2
    assert_one_line_error(err, "--distributed")


# ------------------------------------------------------------------------------------------------ subprocess

def _collage_command():
    exe = shutil.which("collage")
    return [exe] if exe else [sys.executable, "-m", "neuralcollage.cli"]


def test_console_script_bad_input_has_no_traceback(tmp_path, mask):
    env = dict(os.environ)
    proc = subprocess.run(_collage_command() + ["--base", str(tmp_path / "missing.png"), "--mask", mask,
                                                "--label", "fox", "-o", str(tmp_path / "o.png")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("collage: error:") and len(proc.stderr.strip().splitlines()) == 1
    assert not os.path.exists(tmp_path / "o.png")


def test_console_script_help_and_model_error(tmp_path, photo, mask):
    proc = subprocess.run(_collage_command() + ["--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "collage demo" in proc.stdout
    proc = subprocess.run(_collage_command() + ["--base", photo, "--mask", mask, "--label", "pomeranian",
                                                "--model", "dogcat256"],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert proc.returncode == 3 and "Traceback" not in proc.stderr and "not installed" in proc.stderr

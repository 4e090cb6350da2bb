"""The `collage` command line: in-process through ``main(argv)`` (exit status, one-line errors, outputs) and a
few runs of the console script in a subprocess (no tracebacks)."""
import argparse
import glob
import json
import math
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import neuralcollage as nc
from neuralcollage.options import BlendOptions
from neuralcollage import cli
from neuralcollage.models.encoder import Encoder
from neuralcollage.models.presets import DISCRIMINATOR_PRESETS, GENERATOR_PRESETS
import nc_reference as ref

STEPS = "5"
# the fit is tested in test_reconstruction.py; edits here fit 3 steps (the default is 100) unless a test says
FIT_STEPS = "3"
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
    return ["--base", photo, "--mask", mask, "--label", label, "--model", model, "--steps", STEPS,
            "--fit-steps", FIT_STEPS, "-q", "-o", out, *extra]


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
    assert "(default: 50 before a fit, 200 with --reconstruction projection)" in out and "(default: scbn)" in out and "aspect ratios match" in out
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
    assert args.func is cli.cmd_edit and args.method == "scbn" and args.layers == "all"
    cli._resolve_projection_steps(args)
    assert (args.reconstruction, args.steps) == ("features", 50)
    args = parser.parse_args(["edit", "--base", "a.png", "--label", "fox", "--mask", "m.png", "--reconstruction",
                              "projection"])
    cli._resolve_projection_steps(args)
    assert args.steps == 200
    assert args.model == "builtin" and args.gpu == -1 and args.blend_mode == "normal"
    from neuralcollage import options
    assert args.context == cli.DEFAULT_CONTEXT == options.EditOptions().context
    assert (cli.DEFAULT_CONTEXT, cli.DEFAULT_COLOUR_REACH, cli.BLEND_MODES, cli.SEAMS) == (
        options.DEFAULT_CONTEXT, options.DEFAULT_COLOUR_REACH, options.BLEND_MODES, options.SEAMS)
    from neuralcollage import collage
    assert collage.DEFAULT_COLOUR_REACH == options.BlendOptions().colour_reach


def _subparser(parser, name):
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[name]


@pytest.mark.parametrize("command,groups", [
    ("edit", ("BlendOptions", "EditOptions:margin,context", "ProjectionOptions:steps,restarts,seed")),
    ("attribute", ("BlendOptions", "ProjectionOptions:steps,restarts,seed")),
    ("blend", ("BlendOptions",)),
    ("eval", ("BlendOptions@part-",)),
    ("invert", ("ProjectionOptions:steps,restarts,seed",))])
def test_option_flags_are_the_dataclass_fields(command, groups):
    """Each flag of an options dataclass's field: the field's name, type, choices and help, and (parsed with
    nothing given) the dataclass's default, or the command's own defaults where it has them."""
    from neuralcollage import options
    from neuralcollage.cli.common import default_words, option_flag, options_from_args
    from neuralcollage.cli.generate import BLEND_COMMAND_DEFAULTS
    p = _subparser(cli.build_parser(), command)
    by_flag = {s: a for a in p._actions for s in a.option_strings}
    required = {"edit": ["--base", "a.png", "--label", "fox", "--mask", "m.png"],
                "attribute": ["--base", "a.png", "--axis", "x", "--amount", "1"],
                "blend": ["--base", "a.png", "--source", "b.png", "--mask", "m.png", "-o", "o.png"],
                "invert": ["--base", "a.png", "--label", "fox"], "eval": []}[command]
    args = p.parse_args(required)
    for group in groups:
        spec, _, prefix = group.partition("@")
        name, _, fields = spec.partition(":")
        cls = getattr(options, name)
        for field in fields.split(",") if fields else cls.names():
            action = by_flag[option_flag(field, prefix)]
            f = cls.field(field)
            assert action.dest == (prefix + field).replace("-", "_")
            assert " ".join(f.metadata["help"].split()) in " ".join(action.help.split())
            assert "(default: " in action.help
            if f.metadata["choices"] is not None:
                assert tuple(action.choices) == f.metadata["choices"]
        if not fields:
            base = BLEND_COMMAND_DEFAULTS if command == "blend" else None
            assert options_from_args(cls, args, prefix=prefix.replace("-", "_"), base=base) == (base or cls())
            for field in cls.names():
                help_text = " ".join(by_flag[option_flag(field, prefix)].help.split())
                assert help_text.endswith(f"{default_words(cls, field, getattr(base or cls(), field))})")
        else:
            got = options_from_args(cls, args)
            assert all(getattr(got, k) == getattr(cls(), k) for k in fields.split(",") if k != "steps")


def test_option_flags_pass_given_values(capsys):
    from neuralcollage.cli.common import options_from_args
    from neuralcollage.options import BlendOptions
    args = cli.build_parser().parse_args(["edit", "--base", "a.png", "--label", "fox", "--mask", "m.png",
                                          "--blend-mode", "mixed", "--dilate", "12", "--colour-reach", "inf"])
    assert options_from_args(BlendOptions, args) == BlendOptions(blend_mode="mixed", dilate=12,
                                                                 colour_reach=math.inf)
    args = cli.build_parser().parse_args(["blend", "--base", "a.png", "--source", "b.png", "--mask", "m.png",
                                          "-o", "o.png", "--mode", "none"])
    assert args.blend_mode == "none" and "--mode is deprecated: use --blend-mode" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan", "wide"])
def test_edit_context_out_of_range(value, capsys):
    code, _, err = run(["edit", "--base", "a.png", "--label", "b", "--mask", "c.png", "--context", value], capsys)
    assert code == 2
    assert_one_line_error(err, "--context")


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

    monkeypatch.setattr(cli.models, "cmd_models", boom)  # the parser takes it from its command module
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


# ---------------------------------------------------------------------------------- generate, invert, blend

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
                          "-o", "recon.png", "--z-out", "z.npz", "--reconstruction", "projection"], capsys)
    assert code == 0, err
    assert Image.open("recon.png").size == (32, 32)
    with np.load("z.npz") as f:
        assert f["z"].shape == (1, 16) and int(f["class_id"]) == 0 and len(f["losses"]) == int(STEPS) + 1
        assert str(f["reconstruction"]) == "projection"
    code, _, err = run(["generate", "--model", model, "--z", "z.npz", "-o", "again.png"], capsys)
    assert code == 0
    assert np.array_equal(np.asarray(Image.open("again.png")), np.asarray(Image.open("recon.png")))
    code, out, err = run(["invert", "--base", photo, "--mask", mask, "--model", model, "--steps", "2",
                          "--fit-steps", FIT_STEPS, "-q"], capsys)
    assert code == 0, err
    assert "source class" in err and os.path.exists("photo_reconstruction.png") and os.path.exists("photo_z.npz")
    with np.load("photo_z.npz") as f:
        assert str(f["reconstruction"]) == "features"


@pytest.mark.slow
def test_invert_with_a_pivotal_fit_beats_the_projection(tmp_path, photo, model, capsys):
    code, out, err = run(["invert", "--base", photo, "--model", model, "--label", "cat", "--steps", STEPS, "-q",
                          "-o", "recon.png", "--reconstruction", "projection"], capsys)
    assert code == 0, err
    projected = float(re.search(r"reconstruction ([\d.]+) dB", out).group(1))
    code, out, err = run(["invert", "--base", photo, "--model", model, "--label", "cat", "--steps", STEPS, "-q",
                          "-o", "fitted.png", "--z-out", "z2.npz", "--reconstruction", "pivotal"], capsys)
    assert code == 0, err
    fitted = float(re.search(r"reconstruction ([\d.]+) dB", out).group(1))
    assert "pivotal fit" in out and fitted > projected + 3
    with np.load("z2.npz") as f:
        assert str(f["reconstruction"]) == "pivotal" and abs(float(f["psnr"]) - fitted) < 0.05


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
                        "-o", "d.png", "--blend-mode", "mixed"], capsys)
    assert code == 0, err
    code, _, err = run(["blend", "--base", photo, "--source", square, "--mask", mask, "-o", "e.png"], capsys)
    assert code == 2
    assert_one_line_error(err, "aspect ratios differ")
    code, _, err = run(["blend", "--base", photo, "--source", square, "--mask", mask, "--box", "30,30,40",
                        "-o", "e.png"], capsys)
    assert code == 2 and not os.path.exists("e.png")


def test_blend_optimal_seam(tmp_path, photo, mask, capsys):
    edited = _photo(tmp_path / "edited.png", seed=5)
    code, out, err = run(["blend", "--base", photo, "--source", edited, "--mask", mask, "--seam", "optimal",
                          "--dilate", "6", "-o", "s.png"], capsys)
    assert code == 0, err
    assert "optimal seam" in out
    a, b = np.asarray(Image.open(photo)), np.asarray(Image.open("s.png"))
    m = np.asarray(Image.open(mask)) > 0
    region = nc.blending.blend_region(m, nc.blending.square_crop_box(m), dilate=6)
    assert np.array_equal(a[~region], b[~region]) and not np.array_equal(a, b)
    code, _, err = run(["blend", "--base", photo, "--source", edited, "--mask", mask, "--seam", "optimal",
                        "--blend-mode", "none", "-o", "t.png"], capsys)
    assert code == 2 and not os.path.exists("t.png")
    assert_one_line_error(err, "--seam optimal needs Poisson blending", "--blend-mode none")


def test_blend_colour_reach(tmp_path, photo, mask, capsys):
    edited = _photo(tmp_path / "edited.png", seed=5)
    common = ["blend", "--base", photo, "--source", edited, "--mask", mask, "--dilate", "6"]
    code, out, err = run([*common, "--colour-reach", "3", "-o", "r.png"], capsys)
    assert code == 0, err
    assert "colour reach 3 px" in out
    code, _, err = run([*common, "-o", "c.png"], capsys)
    assert code == 0, err
    a, reach, classic = (np.asarray(Image.open(f)) for f in (photo, "r.png", "c.png"))
    m = np.asarray(Image.open(mask)) > 0
    region = nc.blending.blend_region(m, nc.blending.square_crop_box(m), dilate=6)
    assert np.array_equal(a[~region], reach[~region]) and not np.array_equal(reach, classic)
    for bad, message in ((["--colour-reach", "0"], "a number of pixels > 0"),
                         (["--colour-reach", "nan"], "a number of pixels > 0"),
                         (["--colour-reach", "2", "--blend-mode", "mixed"], "--colour-reach needs normal Poisson")):
        code, _, err = run([*common, *bad, "-o", "t.png"], capsys)
        assert code == 2 and not os.path.exists("t.png")
        assert message in err and len(err.strip().splitlines()) == 1, err


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
    code, out, err = run(["replay", "edit.json", "--base", photo, "--model", model, "-o", "again.png"], capsys)
    assert code == 0, err
    assert np.array_equal(np.asarray(Image.open("again.png")), result)
    no_leftovers(tmp_path)


def test_edit_reports_the_fit_and_warns_when_it_is_poor(tmp_path, photo, mask, model, capsys):
    # a photo of the model's size: the crop is the whole photo, so the projection alone judges it
    noise = str(tmp_path / "noise.png")
    Image.fromarray(np.random.RandomState(0).randint(0, 256, (32, 32, 3)).astype(np.uint8)).save(noise)
    small_mask = _mask(tmp_path / "small_mask.png", size=(32, 32), box=(8, 8, 20, 24))
    code, out, err = run(edit_args(noise, small_mask, model, "--source-label", "cat", "--reconstruction",
                                   "pivotal", "--fit-steps", "5"), capsys)
    assert code == 0, err
    fitted, alone = (float(v) for v in re.search(r"reconstruction ([\d.]+) dB \(pivotal fit, projection alone "
                                                  r"([\d.]+) dB\)", out).groups())
    assert fitted > alone
    # a random tiny model cannot draw the photo: one warning line naming the thresholds and `collage models`
    assert alone < 13
    warnings = [line for line in err.splitlines() if line.startswith("collage: warning:")]
    assert len(warnings) == 1 and "13 dB" in warnings[0] and "collage models" in warnings[0]
    code, out, err = run(edit_args(photo, mask, model, "--source-label", "cat", "--reconstruction", "projection",
                                   "--save-recipe", "p.json"), capsys)
    assert code == 0, err
    assert "(projection)" in out
    assert json.load(open("p.json"))["reconstruction"]["method"] == "projection"
    code, out, err = run(edit_args(photo, mask, model, "--source-label", "cat", label="cat"), capsys)
    assert code == 2 and "photo's own class" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(edit_args(photo, mask, model, "--source-label", "cat", "--reconstruction", "tuned"),
                       capsys)
    assert code == 2 and "--reconstruction" in err


def test_edit_dilate_and_optimal_seam_are_recorded_and_replayed(tmp_path, photo, mask, model, capsys):
    code, _, err = run(edit_args(photo, mask, model, "--source-label", "cat", "--seam", "optimal", "--dilate",
                                 "5", "--save-recipe", "seam.json"), capsys)
    assert code == 0, err
    edit = json.load(open("seam.json"))["edit"]
    assert edit["seam"] == "optimal" and edit["dilate"] == 5
    result = np.asarray(Image.open("out.png"))
    a, m = np.asarray(Image.open(photo)), np.asarray(Image.open(mask)) > 0
    box = tuple(json.load(open("seam.json"))["box"])
    region = nc.blending.blend_region(m, box, dilate=5)
    assert np.array_equal(a[~region], result[~region])
    code, _, err = run(["replay", "seam.json", "--base", photo, "--model", model, "-o", "again.png"], capsys)
    assert code == 0, err
    assert np.array_equal(np.asarray(Image.open("again.png")), result)
    code, _, err = run(edit_args(photo, mask, model, "--seam", "optimal", "--blend-mode", "none", out="x.png"),
                       capsys)
    assert code == 2 and not os.path.exists("x.png")
    assert_one_line_error(err, "--seam optimal needs Poisson blending")
    code, _, err = run(edit_args(photo, mask, model, "--dilate", "-2", out="x.png"), capsys)
    assert code == 2 and not os.path.exists("x.png")


def test_edit_colour_reach_is_recorded_and_replayed(tmp_path, photo, mask, model, capsys):
    code, _, err = run(edit_args(photo, mask, model, "--source-label", "cat", "--colour-reach", "2.5",
                                 "--save-recipe", "reach.json"), capsys)
    assert code == 0, err
    assert json.load(open("reach.json"))["edit"]["colour_reach"] == 2.5
    code, _, err = run(["replay", "reach.json", "--base", photo, "--model", model, "-o", "again.png"], capsys)
    assert code == 0, err
    assert np.array_equal(np.asarray(Image.open("again.png")), np.asarray(Image.open("out.png")))
    code, _, err = run(edit_args(photo, mask, model, "--colour-reach", "2", "--blend-mode", "none", out="x.png"),
                       capsys)
    assert code == 2 and not os.path.exists("x.png")
    assert_one_line_error(err, "--colour-reach needs normal Poisson blending", "--blend-mode none")


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
    from neuralcollage.datasets import CLASS_NAMES
    _save_tiny(str(root / "builtin64"), n_classes=len(CLASS_NAMES), labels=None)
    code, out, err = run(["demo", "-o", "demo_out", "--steps", "2", "-q"], capsys)
    assert code == 0, err
    for name in ("result.png", "before_after.png", "recipe.json"):
        assert os.path.exists(os.path.join("demo_out", name))
    assert "demo:" in out and " s;" in out
    with open(os.path.join(cli.examples_dir(), "example.json")) as fh:
        photo_name = json.load(fh)["photo"]
    photo = np.asarray(Image.open(os.path.join(cli.examples_dir(), photo_name)))
    assert np.asarray(Image.open("demo_out/result.png")).shape == photo.shape


def test_bundled_examples_are_consistent():
    spec = json.load(open(os.path.join(cli.examples_dir(), "example.json")))
    photo = Image.open(os.path.join(cli.examples_dir(), spec["photo"]))
    mask = np.asarray(Image.open(os.path.join(cli.examples_dir(), spec["mask"])))
    assert photo.size == (256, 256) and mask.shape == (256, 256) and mask.any()
    from neuralcollage.datasets import CLASS_NAMES
    assert spec["target_label"] in CLASS_NAMES and spec["source_label"] in CLASS_NAMES


# ------------------------------------------------------------------------------------------------ train, eval wiring

BUILTIN_RUN = dict(arch="builtin64", iterations=6000, batch_size=32, n_dis=2, checkpoint_every=100,
                   sample_every=250, log_every=10, seed=0, time_limit=5400)


@pytest.fixture
def fake_train_gan(monkeypatch):
    """Replace train_gan by a recorder with its real signature; calls holds the bound arguments (defaults
    applied) of every call."""
    import inspect

    import neuralcollage.train.gan as tg
    signature = inspect.signature(tg.train_gan)
    calls = []

    def train_gan(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        calls.append((dict(bound.arguments), kwargs))
        return 3

    train_gan.__signature__ = signature
    monkeypatch.setattr(tg, "train_gan", train_gan)
    return signature, calls


def test_train_gan_reproduces_the_builtin_run(fake_train_gan, capsys):
    import shlex
    signature, calls = fake_train_gan
    expected = signature.bind("runs/builtin64", **BUILTIN_RUN)
    expected.apply_defaults()
    argv = shlex.split(cli.BUILTIN_GAN_COMMAND)
    assert argv[:3] == ["collage", "train", "gan"]
    code, out, err = run(argv[1:], capsys)
    assert code == 0, err
    full, _ = calls[-1]
    assert {k: v for k, v in full.items() if k != "progress"} == \
        {k: v for k, v in expected.arguments.items() if k != "progress"}
    assert full["progress"] is True and type(full["time_limit"]) is int
    printed = out.split("command: ", 1)[1].strip()
    assert "command: " + printed in err  # also said before training starts
    code, _, err = run(shlex.split(printed)[1:], capsys)
    assert code == 0, err
    assert calls[-1][0] == full
    code, out, _ = run(["train", "gan", "--help"], capsys)
    assert cli.BUILTIN_GAN_COMMAND in out


def test_train_gan_passes_every_option_through(fake_train_gan, capsys):
    import shlex
    _, calls = fake_train_gan
    argv = ["train", "gan", "runs/x", "--arch", "tiny32", "--iterations", "3", "--batch-size", "4", "--n-dis", "1",
            "--lr", "0.001", "--beta1", "0.5", "--beta2", "0.99", "--ema-decay", "0", "--seed", "7",
            "--checkpoint-every", "2", "--sample-every", "5", "--log-every", "1", "--time-limit", "12.5",
            "--closeups", "0.25", "-q"]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    full, given = calls[-1]
    assert given == dict(arch="tiny32", iterations=3, batch_size=4, n_dis=1, lr=0.001, beta1=0.5, beta2=0.99,
                         ema_decay=0.0, seed=7, checkpoint_every=2, sample_every=5, log_every=1, time_limit=12.5,
                         closeups=0.25, progress=False)
    assert full["device"] is None and err == ""
    assert "trained to iteration 3" in out
    code, _, err = run(shlex.split(out.split("command: ", 1)[1])[1:], capsys)
    assert code == 0, err
    assert calls[-1][0] == {**full, "progress": True}
    for bad in (["--time-limit", "0"], ["--iterations", "0"], ["--lr", "fast"], ["--closeups", "1.5"]):
        code, _, err = run(["train", "gan", "runs/x", *bad], capsys)
        assert code == 2
        assert_one_line_error(err, bad[0])


def test_train_gan_defaults_and_help_match_the_library(capsys):
    import inspect

    import neuralcollage.train.gan as tg
    params = inspect.signature(tg.train_gan).parameters
    assert cli.GAN_DEFAULTS == {k: params[k].default for k in cli.GAN_DEFAULTS}
    args = cli.build_parser().parse_args(["train", "gan", "out"])
    assert {k: getattr(args, k) for k in cli.GAN_DEFAULTS} == cli.GAN_DEFAULTS
    code, out, _ = run(["train", "gan", "--help"], capsys)
    assert code == 0
    flat = " ".join(out.split())
    for key, value in cli.GAN_DEFAULTS.items():
        flag = "--" + key.replace("_", "-")
        assert flag in flat, flag
        if value is not None:
            assert f"(default: {value})" in flat, key


def test_train_encoder_and_classifier_call_the_library(monkeypatch, capsys):
    import neuralcollage.train.classifier as tc
    import neuralcollage.train.encoder as te
    calls = {}

    def fake(name):
        def f(out_dir, **kwargs):
            calls[name] = (out_dir, kwargs)
        f.__name__ = name
        return f

    monkeypatch.setattr(tc, "train_classifier", fake("classifier"))
    code, _, err = run(["train", "classifier", "runs/c", "--kind", "part", "--iterations", "3"], capsys)
    assert code == 0, err
    assert calls["classifier"][1]["kind"] == "part" and calls["classifier"][1]["iterations"] == 3
    assert calls["classifier"][1]["seed"] == 0

    monkeypatch.setattr(te, "train_encoder", fake("encoder"))
    code, _, err = run(["train", "encoder", "runs/e", "--generator", "nope.npz"], capsys)
    assert code == 3
    open("g.npz", "wb").close()
    code, _, err = run(["train", "encoder", "runs/e", "--generator", "g.npz", "--iterations", "2"], capsys)
    assert code == 0, err
    assert calls["encoder"][1]["generator_path"] == "g.npz"


def test_option_the_library_does_not_take_is_an_error(monkeypatch, capsys):
    import neuralcollage.train.gan as tg

    def train_gan(out_dir, *, arch, iterations, batch_size, n_dis, lr, beta1, beta2, ema_decay, seed,
                  checkpoint_every, sample_every, log_every, time_limit=None, progress=True):
        return 0

    monkeypatch.setattr(tg, "train_gan", train_gan)
    code, _, err = run(["train", "gan", "runs/x", "--distributed"], capsys)
    assert code == 2
    assert_one_line_error(err, "--distributed")


# ------------------------------------------------------------------------------------------------ eval

def test_eval_metric_names_are_the_library_ones():
    from neuralcollage.analysis import evaluation
    assert cli.EVAL_METRICS == tuple(evaluation.METRICS) + ("few_shot",)
    assert cli.EVAL_DEFAULT_METRICS == tuple(evaluation.METRICS)


def test_eval_calls_evaluate_and_writes_json(model, monkeypatch, capsys):
    import inspect

    import neuralcollage.analysis.evaluation as ev
    signature = inspect.signature(ev.evaluate)
    calls = []

    def evaluate(bundle, **kwargs):
        signature.bind(bundle, **kwargs)
        calls.append((bundle, kwargs))
        record = {"value": 0.5, "n": 5, "target": 0.9, "passed": False, "spread": np.float32(float("nan"))}
        kwargs["log"]("diversity", record)
        kwargs["progress"]("part_translation", 1, 2)
        return {"diversity": record}

    evaluate.__signature__ = signature
    monkeypatch.setattr(ev, "evaluate", evaluate)
    code, out, err = run(["eval", model, "--n-samples", "5", "--metrics", "diversity,diversity", "--steps", "3",
                          "--seed", "2", "--out-json", "m.json"], capsys)
    assert code == 0, err
    bundle, kwargs = calls[-1]
    assert bundle.files["generator"] == model
    assert {k: v for k, v in kwargs.items() if k not in ("log", "progress")} == dict(
        metrics=("diversity",), steps=3, seed=2, n_classifier=5, n_generated=5, n_diversity=5, n_projection=5,
        n_translation=5, n_reconstruction=5)
    assert "diversity" in out and "0.500" in out and "wrote m.json" in out and "eval: diversity" in err
    report = json.load(open("m.json"))  # strict JSON: NaN became null
    assert report["metrics"]["diversity"]["spread"] is None and report["seed"] == 2
    assert report["sha256"]["generator"] == nc.pretrained.file_sha256(model)
    code, _, _ = run(["eval", model, "-q"], capsys)
    assert code == 0
    assert {k for k in calls[-1][1] if k not in ("log", "progress")} == {"seed"}
    code, _, err = run(["eval", model, "-q", "--part-region-grow", "0.05", "--out-json", "g.json"], capsys)
    assert code == 0, err
    assert calls[-1][1]["grow"] == 0.05 and json.load(open("g.json"))["part_region_grow"] == 0.05
    code, _, err = run(["eval", model, "--part-region-grow", "-1"], capsys)
    assert code == 2 and "expected a number >= 0" in err
    code, _, err = run(["eval", model, "-q", "--part-seam", "optimal", "--part-dilate", "16"], capsys)
    assert code == 0, err
    assert calls[-1][1]["blend_options"] == BlendOptions(seam="optimal", dilate=16)
    code, _, err = run(["eval", model, "--part-seam", "optimal", "--part-blend-mode", "none"], capsys)
    assert code == 2
    assert_one_line_error(err, "--part-seam optimal needs Poisson blending", "--part-blend-mode none")
    code, _, err = run(["eval", model, "-q", "--part-colour-reach", "4", "--out-json", "r.json"], capsys)
    assert code == 0, err
    assert calls[-1][1]["blend_options"].colour_reach == 4.0 and json.load(open("r.json"))["part_colour_reach"] == 4.0
    code, _, err = run(["eval", model, "--part-colour-reach", "4", "--part-blend-mode", "mixed"], capsys)
    assert code == 2
    assert_one_line_error(err, "--part-colour-reach needs normal Poisson blending", "--part-blend-mode mixed")
    code, _, err = run(["eval", model, "--part-colour-reach", "0"], capsys)
    assert code == 2 and "a number of pixels > 0 or inf" in err
    code, _, err = run(["eval", model, "--metrics", "speed"], capsys)
    assert code == 2
    assert_one_line_error(err, "unknown metric", "diversity")
    code, _, err = run(["eval", "nosuchmodel"], capsys)
    assert code == 3
    code, _, err = run(["eval", model, "--out-json", model], capsys)
    assert code == 2
    assert_one_line_error(err, "refusing to overwrite input file")


def test_eval_runs_on_a_tiny_bundle(tmp_path, capsys):
    from neuralcollage.models.classifier import Classifier
    folder = tmp_path / "withclf"
    gen = _save_tiny(str(folder), encoder=False)
    nc.save_snapshot(Classifier.from_preset("tiny32"), str(folder / "classifier.npz"), kind="classifier")
    code, out, err = run(["eval", gen, "--n-samples", "4", "--metrics",
                          "conditioned_class_accuracy,part_classifier_accuracy", "--out-json", "m.json", "-q"],
                         capsys)
    assert code == 0, err
    report = json.load(open("m.json"))["metrics"]
    assert 0 <= report["conditioned_class_accuracy"]["value"] <= 1
    assert "skipped" in report["part_classifier_accuracy"]
    assert "conditioned_class_accuracy" in out and "skip" in out


# ------------------------------------------------------------------------------------------------ exit codes

def test_error_classes_map_to_exit_codes():
    from neuralcollage.backend import DeviceError
    from neuralcollage.collage import RecipeError
    from neuralcollage.convert import ConversionError
    from neuralcollage.io import InputError
    from neuralcollage.labels import from_names
    from neuralcollage.pretrained import ChecksumError, ModelNotInstalledError
    assert cli._classify(RecipeError("bad recipe")) == (2, "bad recipe")
    assert cli._classify(InputError("bad photo"))[0] == 2
    for exc in (nc.SnapshotError("x"), ModelNotInstalledError("x"), ChecksumError("x"), ConversionError("x"),
                DeviceError("x")):
        assert cli._classify(exc)[0] == 3, type(exc)
    vocab = from_names(["cat", "dog", "fox"], name="t")
    with pytest.raises(ValueError) as err:
        vocab.index("foxx")
    code, message = cli._classify(err.value)
    assert code == 2 and "did you mean: fox" in message


def test_replay_recipe_errors_exit_2(tmp_path, photo, mask, model, capsys):
    code, _, err = run(edit_args(photo, mask, model, "--save-recipe", "edit.json", "--source-label", "cat"), capsys)
    assert code == 0, err
    recipe = json.load(open("edit.json"))
    json.dump({**recipe, "format": "something-else"}, open("other.json", "w"))
    code, _, err = run(["replay", "other.json", "--base", photo, "-o", "r.png"], capsys)
    assert code == 2
    assert_one_line_error(err, "not a neuralcollage-recipe")
    json.dump({**recipe, "version": 99}, open("v99.json", "w"))
    code, _, err = run(["replay", "v99.json", "--base", photo, "-o", "r.png"], capsys)
    assert code == 2
    assert_one_line_error(err, "version 99")
    other_photo = _photo(tmp_path / "other.png", seed=9)
    code, _, err = run(["replay", "edit.json", "--base", other_photo, "--model", model, "-o", "r.png"], capsys)
    assert code == 2
    assert_one_line_error(err, "photo differs")
    assert not os.path.exists("r.png")


# ------------------------------------------------------------------------------------------------ BigGAN

def _save_biggan(folder, *, seed=0, **overrides):
    """A converted-format tiny32 BigGAN-deep (5 classes, dim_z 8, 32 px) with perturbed weights."""
    from neuralcollage.models.biggan import BigGANDeep
    os.makedirs(folder, exist_ok=True)
    g = BigGANDeep.from_preset("tiny32", **overrides)
    rng = np.random.RandomState(seed)
    for p in g.params():
        p.array[...] += rng.normal(0, 0.05, p.shape).astype(np.float32)
    for link in g.links():  # per-truncation BN statistics that differ, so that truncation matters
        if hasattr(link, "running_means"):
            link.running_means[...] = rng.normal(0, 0.3, link.running_means.shape)
            link.running_vars[...] = 0.5 + rng.uniform(0, 1.5, link.running_vars.shape)
    path = os.path.join(folder, "generator.npz")
    nc.save_snapshot(g, path, kind="biggan_generator")
    return path, g


@pytest.fixture(scope="module")
def biggan(tmp_path_factory):
    return _save_biggan(str(tmp_path_factory.mktemp("biggan")))


@pytest.fixture
def tiny_biggan_entry(monkeypatch):
    """A registered converted BigGAN entry with the tiny32 preset (the real ones are far too big)."""
    from neuralcollage import pretrained
    from neuralcollage.pretrained import ModelEntry
    entry = ModelEntry(name="tinybiggan", kind="converted", arch="tiny32", vocabulary="numbered:5",
                       files=("generator",), convert="biggan", title="test BigGAN", source="the test suite")
    monkeypatch.setitem(pretrained.REGISTRY, entry.name, entry)
    return entry


def _expected_biggan_image(g, label, truncation, seed=0):
    import chainer
    from neuralcollage.io import from_model
    z = g.sample_z(1, seed=seed, truncation=truncation)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        x = g(z, np.array([label], np.int32), truncation=truncation)
    return from_model(x.array)[0]


def test_generate_with_biggan_and_truncation(biggan, model, capsys):
    path, g = biggan
    code, out, err = run(["generate", "--model", path, "--label", "class 2", "--truncation", "0.5",
                          "--save-z", "z.npz", "-o", "a.png"], capsys)
    assert code == 0, err
    assert "truncation 0.5" in out
    a = np.asarray(Image.open("a.png"))
    assert a.shape == (32, 32, 3)
    np.testing.assert_array_equal(a, _expected_biggan_image(g, 2, 0.5))
    with np.load("z.npz") as f:
        assert float(f["truncation"]) == 0.5 and np.abs(f["z"]).max() <= 1.0  # truncated to [-2, 2] * 0.5
    code, _, err = run(["generate", "--model", path, "--z", "z.npz", "-o", "b.png"], capsys)
    assert code == 0, err
    np.testing.assert_array_equal(np.asarray(Image.open("b.png")), a)  # the stored truncation is used
    code, _, err = run(["generate", "--model", path, "--z", "z.npz", "--truncation", "1", "-o", "c.png"], capsys)
    assert code == 0, err
    assert not np.array_equal(np.asarray(Image.open("c.png")), a)
    code, _, err = run(["generate", "--model", path, "--label", "1", "-o", "d.png"], capsys)  # model's own
    assert code == 0, err
    np.testing.assert_array_equal(np.asarray(Image.open("d.png")), _expected_biggan_image(g, 1, g.truncation))
    code, _, err = run(["generate", "--model", path, "--label", "1", "-n", "4", "-o", "grid.png"], capsys)
    assert code == 0 and Image.open("grid.png").size == (66, 66)
    for bad in ("0", "1.5", "nan", "x"):
        code, _, err = run(["generate", "--model", path, "--label", "1", "--truncation", bad, "-o", "e.png"],
                           capsys)
        assert code == 2
        assert_one_line_error(err, "--truncation")
    code, _, err = run(["generate", "--model", model, "--label", "cat", "--truncation", "0.5", "-o", "e.png"],
                       capsys)
    assert code == 2
    assert_one_line_error(err, "BigGAN models only")
    code, _, err = run(["generate", "--model", path, "--label", "class 9", "-o", "e.png"], capsys)
    assert code == 2
    assert not os.path.exists("e.png")
    code, out, _ = run(["labels", "--model", path], capsys)
    assert code == 0 and "class 4" in out


def test_edit_invert_and_replay_biggan_without_discriminator(biggan, photo, mask, capsys):
    path, g = biggan
    code, out, err = run(edit_args(photo, mask, path, "--source-label", "class 2", "--method", "blend",
                                   "--save-recipe", "e.json", label="class 1"), capsys)
    assert code == 0, err
    assert "collage: note:" in err and "no discriminator" in err and "PyramidFeatures" in err
    edited = np.asarray(Image.open("out.png"))
    assert edited.shape == (48, 64, 3)
    assert json.load(open("e.json"))["edit"]["source_class"]["id"] == 2
    code, _, err = run(["replay", "e.json", "--base", photo, "--model", path, "-o", "again.png"], capsys)
    assert code == 0, err
    np.testing.assert_array_equal(np.asarray(Image.open("again.png")), edited)
    code, out, err = run(["invert", "--base", photo, "--mask", mask, "--model", path, "--label", "3", "--steps", STEPS,
                          "-q", "-o", "r.png", "--z-out", "z.npz"], capsys)
    assert code == 0, err
    assert "no discriminator" in err
    assert np.asarray(Image.open("r.png")).shape == (32, 32, 3)
    with np.load("z.npz") as f:
        assert f["z"].shape == (1, g.dim_z) and int(f["class_id"]) == 3 and len(f["losses"]) == int(STEPS) + 1


def test_biggan_projection_needs_the_photo_class(biggan, tmp_path, photo, mask, capsys):
    path, _ = biggan
    code, _, err = run(edit_args(photo, mask, path, label="1"), capsys)
    assert code == 2
    assert_one_line_error(err, "no discriminator", "--source-label")
    code, _, err = run(["invert", "--base", photo, "--model", path, "--steps", "1", "-q", "-o", "r.png"], capsys)
    assert code == 2
    assert_one_line_error(err, "no discriminator", "--label")
    code, _, err = run(edit_args(photo, mask, "biggan-deep-128", label="goldfish"), capsys)
    assert code == 2  # refused before anything is loaded (the model is not even installed)
    assert_one_line_error(err, "biggan-deep-128", "--source-label")
    code, _, err = run(edit_args(photo, mask, "biggan-deep-128", "--source-label", "tench", label="goldfish"),
                       capsys)
    assert code == 3
    assert_one_line_error(err, "not installed")
    assert not os.path.exists("out.png") and not os.path.exists("r.png")
    sngan = _save_tiny(str(tmp_path / "nodis"), encoder=False)
    os.remove(tmp_path / "nodis" / "discriminator.npz")
    code, _, err = run(edit_args(photo, mask, sngan), capsys)
    assert code == 2
    assert_one_line_error(err, "no discriminator", "--source-label")
    code, _, err = run(edit_args(photo, mask, sngan, "--source-label", "cat"), capsys)
    assert code == 0, err
    assert os.path.exists("out.png")


def test_registered_biggan_entries(capsys):
    code, out, _ = run(["models"], capsys)
    assert code == 0
    for name in ("biggan-deep-128", "biggan-deep-256", "biggan-deep-512"):
        assert name in out
    assert "collage convert biggan" in out
    code, _, err = run(["generate", "--model", "biggan-deep-256", "--label", "goldfish"], capsys)
    assert code == 3
    assert_one_line_error(err, "not installed", "pytorch_model.bin", "collage convert biggan")
    code, out, _ = run(["labels", "--model", "biggan-deep-512", "--search", "golden retriever"], capsys)
    assert code == 0 and "207" in out


def test_registered_converted_model_generates_and_is_verified(isolated, tiny_biggan_entry, capsys):
    home, _ = isolated
    path, g = _save_biggan(str(home / "tinybiggan"))
    code, out, err = run(["generate", "--model", "tinybiggan", "--label", "3", "--truncation", "0.8"], capsys)
    assert code == 0, err
    np.testing.assert_array_equal(np.asarray(Image.open("generated.png")), _expected_biggan_image(g, 3, 0.8))
    assert "recorded the sha256" in err
    record = json.loads((home / "hashes.json").read_text())["tinybiggan"]["generator"]
    assert record["sha256"] == nc.pretrained.file_sha256(path)
    _save_biggan(str(home / "tinybiggan"), seed=1)
    code, _, err = run(["generate", "--model", "tinybiggan", "--label", "3", "-o", "x.png"], capsys)
    assert code == 3
    assert_one_line_error(err, "sha256", "collage models --forget tinybiggan")
    _save_tiny(str(home / "tinybiggan"), encoder=False)  # an SNGAN generator where a BigGAN belongs
    code, _, err = run(["models", "--forget", "tinybiggan"], capsys)
    code, _, err = run(["generate", "--model", "tinybiggan", "--label", "3", "-o", "x.png"], capsys)
    assert code == 3
    assert_one_line_error(err, "not a converted tiny32", "collage convert biggan")
    assert not os.path.exists("x.png")


def test_convert_biggan_bad_input_exit_2(isolated, tmp_path, tiny_biggan_entry, capsys):
    home, _ = isolated
    code, _, err = run(["convert", "biggan", tmp_path / "missing", "out.npz"], capsys)
    assert code == 2
    assert_one_line_error(err, "missing: no such folder")
    (tmp_path / "afile").write_text("x")
    code, _, err = run(["convert", "biggan", tmp_path / "afile", "out.npz"], capsys)
    assert code == 2
    assert_one_line_error(err, "not a folder")
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    code, _, err = run(["convert", "biggan", ckpt, "out.png"], capsys)
    assert code == 2
    assert_one_line_error(err, ".npz")
    code, _, err = run(["convert", "biggan", ckpt, tmp_path / "nodir" / "out.npz"], capsys)
    assert code == 2
    assert_one_line_error(err, "does not exist")
    code, _, err = run(["convert", "biggan", ckpt, home / "dogcat256" / "generator.npz"], capsys)
    assert code == 2
    assert_one_line_error(err, "registered model 'dogcat256'")
    import biggan_reference as bref
    (ckpt / "config.json").write_text(json.dumps({**bref.TINY_CONFIG, "channel_width": 8}))
    code, _, err = run(["convert", "biggan", ckpt, home / "tinybiggan" / "generator.npz"], capsys)
    assert code == 2
    assert_one_line_error(err, "no registered size", "tinybiggan belongs")
    code, _, err = run(["convert"], capsys)
    assert code == 2
    assert not os.path.exists(home / "tinybiggan") and not os.path.exists("out.npz")


def test_convert_biggan_without_torch_exit_3(isolated, tmp_path, tiny_biggan_entry, monkeypatch, capsys):
    import neuralcollage.convert as conv

    def no_torch():
        raise ImportError("converting BigGAN checkpoints needs PyTorch, which is not installed: pip install "
                          "'neuralcollage[convert]' (only the converter needs it)")

    monkeypatch.setattr(conv, "_import_torch", no_torch)
    (tmp_path / "ckpt").mkdir()
    code, out, err = run(["convert", "biggan", tmp_path / "ckpt", "out.npz"], capsys)
    assert code == 3
    assert_one_line_error(err, "needs PyTorch", "neuralcollage[convert]")
    assert out == "" and not os.path.exists("out.npz")
    home, _ = isolated
    code, out, err = run(["convert", "biggan", tmp_path / "ckpt", home / "tinybiggan" / "generator.npz"], capsys)
    assert code == 3
    assert_one_line_error(err, "needs PyTorch")
    assert not os.path.exists(home / "tinybiggan")  # the model folder made for the output is gone again


@pytest.fixture(scope="module")
def biggan_checkpoint(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("pytorch_pretrained_biggan")
    import biggan_reference as bref
    folder = tmp_path_factory.mktemp("ckpt") / "tiny"
    model = bref.make_checkpoint(str(folder))
    return str(folder), model


@pytest.mark.slow
def test_convert_biggan_installs_a_registered_model(isolated, tiny_biggan_entry, biggan_checkpoint, capsys):
    import biggan_reference as bref
    home, _ = isolated
    folder, reference = biggan_checkpoint
    before = {name: open(os.path.join(folder, name), "rb").read() for name in os.listdir(folder)}
    out_path = home / "tinybiggan" / "generator.npz"
    code, out, err = run(["convert", "biggan", folder, out_path], capsys)
    assert code == 0, err
    sha = nc.pretrained.file_sha256(str(out_path))
    lines = out.splitlines()
    assert lines[0] == f"wrote {out_path}" and lines[1].startswith("arch: tiny32 (32 px, 5 classes")
    assert lines[2] == f"sha256: {sha}" and "--model tinybiggan" in out
    assert json.loads((home / "hashes.json").read_text())["tinybiggan"]["generator"]["sha256"] == sha
    assert {name: open(os.path.join(folder, name), "rb").read() for name in os.listdir(folder)} == before

    code, _, err = run(["generate", "--model", "tinybiggan", "--label", "4", "--truncation", "0.6", "--save-z",
                        "z.npz", "-o", "g.png"], capsys)
    assert code == 0, err
    assert "recorded" not in err  # recorded at conversion, verified now
    with np.load("z.npz") as f:
        z = f["z"]
    want = bref.reference_images(reference, z, np.array([4]), 0.6)
    want = np.asarray(want.detach().numpy() if hasattr(want, "detach") else want)
    got = np.asarray(Image.open("g.png")).astype(np.float64)
    expected = np.clip(np.round((want[0].transpose(1, 2, 0) + 1) * 127.5), 0, 255)
    assert np.abs(got - expected).max() <= 1

    code, out, err = run(["convert", "biggan", folder, "plain.npz"], capsys)
    assert code == 0, err
    assert "installed as" not in out and nc.pretrained.file_sha256("plain.npz") == sha
    code, _, err = run(["convert", "biggan", folder, os.path.join(folder, "config.json")], capsys)
    assert code == 2


@pytest.mark.slow
def test_convert_biggan_broken_checkpoint_exit_3(tmp_path, biggan_checkpoint, capsys):
    folder, _ = biggan_checkpoint
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    data = (broken / "pytorch_model.bin").read_bytes()
    (broken / "pytorch_model.bin").write_bytes(data[: len(data) // 2])
    code, _, err = run(["convert", "biggan", broken, "out.npz"], capsys)
    assert code == 3
    assert_one_line_error(err, "pytorch_model.bin")
    config = json.loads((broken / "config.json").read_text())
    shutil.copy(os.path.join(folder, "pytorch_model.bin"), broken / "pytorch_model.bin")
    (broken / "config.json").write_text(json.dumps({**config, "num_classes": 7}))
    code, _, err = run(["convert", "biggan", broken, "out.npz"], capsys)
    assert code == 3
    assert_one_line_error(err, "does not match its config.json")
    os.remove(broken / "config.json")
    code, _, err = run(["convert", "biggan", broken, "out.npz"], capsys)
    assert code == 3
    assert_one_line_error(err, "config.json")
    assert not os.path.exists("out.npz")
    no_leftovers(tmp_path)


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


@pytest.mark.slow
def test_console_script_help_and_model_error(tmp_path, photo, mask):
    proc = subprocess.run(_collage_command() + ["--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "collage demo" in proc.stdout
    proc = subprocess.run(_collage_command() + ["--base", photo, "--mask", mask, "--label", "pomeranian",
                                                "--model", "dogcat256"],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert proc.returncode == 3 and "Traceback" not in proc.stderr and "not installed" in proc.stderr


# ------------------------------------------------------------------------------------------------ attribute

def _colour_predictor(x):
    """Two 'attributes' of model images (N, 3, R, R): mean brightness and red minus blue."""
    x = np.asarray(x, np.float64)
    return np.stack([x.mean(axis=(1, 2, 3)), (x[:, 0] - x[:, 2]).mean(axis=(1, 2))], axis=1)


@pytest.fixture(scope="module")
def axes_model(tmp_path_factory):
    """A tiny32 model folder with axes.json (brightness, redness) beside its generator."""
    from neuralcollage import axes as ax
    from neuralcollage.analysis import axes as axa
    folder = str(tmp_path_factory.mktemp("tiny_axes"))
    path = _save_tiny(folder, seed=2)
    found = axa.discover_axes(nc.load_generator(path), _colour_predictor, attributes=("brightness", "redness"),
                              n_samples=100, seed=0)
    ax.save_axes(os.path.join(folder, ax.AXES_FILE), found, model={"generator_sha256": ax.file_sha256(path)})
    return path


def attribute_args(photo, model, *extra, out="attr.png"):
    return ["attribute", "--base", photo, "--model", model, "--steps", STEPS, "--fit-steps", FIT_STEPS, "-q",
            "-o", out, *extra]


def test_attribute_writes_result_recipe_and_figure_and_replays_bit_exact(tmp_path, photo, mask, axes_model,
                                                                          capsys):
    before, mask_before = open(photo, "rb").read(), open(mask, "rb").read()
    axes_before = open(os.path.join(os.path.dirname(axes_model), "axes.json"), "rb").read()
    code, out, err = run(attribute_args(photo, axes_model, "--mask", mask, "--axis", "brightness", "--amount",
                                        "-1.5", "--source-label", "dog", "--save-recipe", "attr.json",
                                        "--figure", "fig.png"), capsys)
    assert code == 0, err
    assert "brightness -1.5" in out and "attr.png" in out and "moved along brightness by -1.5" in err
    result = np.asarray(Image.open("attr.png"))
    original = np.asarray(Image.open(photo))
    assert result.shape == original.shape and not np.array_equal(result, original)
    far = np.ones(original.shape[:2], bool)
    far[10 - 9:30 + 9, 20 - 9:40 + 9] = False
    assert np.array_equal(result[far], original[far])
    assert Image.open("fig.png").size[0] > 300
    recipe = json.load(open("attr.json"))
    assert recipe["edit"]["method"] == "blend"
    assert recipe["edit"]["source_class"]["name"] == recipe["edit"]["target_class"]["name"] == "dog"
    assert recipe["attribute"]["axes"] == [{"name": "brightness", "class_id": None, "amount": -1.5,
                                            "decorrelated_from": []}]
    assert open(photo, "rb").read() == before and open(mask, "rb").read() == mask_before
    assert open(os.path.join(os.path.dirname(axes_model), "axes.json"), "rb").read() == axes_before
    code, _, err = run(["replay", "attr.json", "--base", photo, "--model", axes_model, "-o", "again.png"], capsys)
    assert code == 0, err
    assert np.array_equal(np.asarray(Image.open("again.png")), result)
    no_leftovers(tmp_path)


def test_attribute_several_axes_without_mask_and_default_name(tmp_path, photo, axes_model, capsys):
    code, out, err = run(["attribute", "--base", photo, "--model", axes_model, "--steps", "2", "-q",
                          "--axis", "brightness", "--amount=1", "--axis", "Redness", "--amount", "-0.5",
                          "--source-label", "cat", "--axes", os.path.join(os.path.dirname(axes_model),
                                                                          "axes.json")], capsys)
    assert code == 0, err
    assert os.path.exists("photo_brightness_Redness.png") and "whole crop" in err
    assert "brightness +1, redness -0.5" in out


def test_attribute_refusals_exit_2(tmp_path, photo, mask, axes_model, model, capsys):
    code, _, err = run(attribute_args(photo, axes_model, "--axis", "brightnes", "--amount", "1"), capsys)
    assert code == 2
    assert_one_line_error(err, "unknown axis 'brightnes'", "did you mean 'brightness'", "redness")
    code, _, err = run(attribute_args(photo, axes_model, "--axis", "brightness", "--amount", "1", "--axis",
                                      "redness"), capsys)
    assert code == 2
    assert_one_line_error(err, "one --amount per --axis", "2 --axis, 1 --amount")
    code, _, err = run(attribute_args(photo, axes_model), capsys)
    assert code == 2
    assert_one_line_error(err, "at least one --axis")
    code, _, err = run(["attribute", "--axis", "brightness", "--amount", "1", "--model", axes_model], capsys)
    assert code == 2
    assert_one_line_error(err, "--base")
    code, _, err = run(attribute_args(photo, axes_model, "--axis", "brightness", "--amount", "inf"), capsys)
    assert code == 2
    assert_one_line_error(err, "finite")
    code, _, err = run(attribute_args(photo, model, "--axis", "brightness", "--amount", "1"), capsys)
    assert code == 2
    assert_one_line_error(err, "no attribute axes")
    assert "neuralcollage.analysis.axes.discover_axes" in err and "scripts/" not in err
    code, _, err = run(attribute_args(photo, axes_model, "--axis", "brightness", "--amount", "1", "--axes",
                                      tmp_path / "missing.json"), capsys)
    assert code == 2
    assert_one_line_error(err, "missing.json")
    beside = os.path.join(os.path.dirname(axes_model), "axes.json")
    code, _, err = run(attribute_args(photo, axes_model, "--axis", "brightness", "--amount", "1",
                                      "--save-recipe", beside), capsys)
    assert code == 2
    assert_one_line_error(err, "refusing to overwrite input file")
    assert json.load(open(beside))["format"] == "neuralcollage-axes"
    assert not os.path.exists("attr.png")
    no_leftovers(tmp_path)


def test_attribute_list_axes(tmp_path, axes_model, model, capsys):
    code, out, err = run(["attribute", "--list-axes", "--model", axes_model], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert "axes.json" in lines[0] and lines[1].split()[:3] == ["NAME", "ATTRIBUTE", "CLASS"]
    assert [line.split()[:3] for line in lines[2:]] == [["brightness", "brightness", "all"],
                                                      ["redness", "redness", "all"]]
    code, out, err = run(["attribute", "--list-axes", "--model", model, "--axes",
                          os.path.join(os.path.dirname(axes_model), "axes.json")], capsys)
    assert code == 2  # axes made for another generator
    assert_one_line_error(err, "another generator")
    code, _, err = run(["attribute", "--list-axes", "--model", model], capsys)
    assert code == 2
    assert_one_line_error(err, "no attribute axes")
    code, out, _ = run(["--help"], capsys)
    assert "attribute" in out and "--axis fur_brightness" in out
    code, out, _ = run(["attribute", "--help"], capsys)
    out = " ".join(out.split())
    assert code == 0 and "(default: 50 before a fit, 200 with" in out and "(default: all" in out and "--list-axes" in out


def test_lazy_import_reports_only_a_missing_third_party_package(tmp_path, monkeypatch):
    (tmp_path / "nc_needs_a_missing_package.py").write_text("import nc_no_such_package\nvalue = 1\n")
    (tmp_path / "nc_broken_import.py").write_text("from neuralcollage.maps import no_such_name\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(cli.CommandError, match="needs the package 'nc_no_such_package', which is not installed") as info:
        cli._import("nc_needs_a_missing_package", "value")
    assert info.value.code == cli.EXIT_FAILURE
    with pytest.raises(ImportError, match="no_such_name"):
        cli._import("nc_broken_import", "value")
    with pytest.raises(ModuleNotFoundError, match="neuralcollage.no_such_module"):
        cli._import("neuralcollage.no_such_module", "value")
    with pytest.raises(AttributeError, match="no_such_function"):
        cli._import("neuralcollage.analysis.evaluation", "no_such_function")
    assert cli._import("neuralcollage.analysis.evaluation", "evaluate").__name__ == "evaluate"

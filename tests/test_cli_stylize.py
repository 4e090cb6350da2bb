"""``collage stylize``: outputs, determinism and one-line errors (exit 2)."""
import json

import numpy
import pytest

from neuralcollage.cli import main
from neuralcollage.io import read_image, write_image
from neuralcollage.datasets import pose_of, render_landmarks, render_sample


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("stylize")
    pose = pose_of(5003)
    write_image(d / "ex.png", render_sample(3, size=64, style="hatch").image)
    write_image(d / "t.png", render_sample(3, size=64, pose=pose).image)
    ex_lm, t_lm = render_landmarks(3, size=64), render_landmarks(3, size=64, pose=pose)
    keep = ((ex_lm > -0.5) & (ex_lm < 63.5)).all(1) & ((t_lm > -0.5) & (t_lm < 63.5)).all(1)
    (d / "ex.json").write_text(json.dumps(ex_lm[keep].tolist()))
    (d / "t.json").write_text(json.dumps({"landmarks": t_lm[keep].tolist()}))
    mask = numpy.zeros((64, 64), numpy.uint8)
    mask[16:48, 16:48] = 255
    write_image(d / "m.png", mask)
    write_image(d / "tiny.png", render_sample(3, size=12).image)
    (d / "bad.png").write_bytes(b"not an image")
    (d / "far.json").write_text(json.dumps([[1, 2], [90, 3]] + ex_lm[keep][2:].tolist()))
    (d / "broken.json").write_text("{")
    return d


def _args(d, *extra, style_lm="ex.json", base_lm="t.json", out="out.png"):
    args = ["stylize", "--base", str(d / "t.png"), "--style", str(d / "ex.png"), "-o", str(d / out), "-q"]
    if style_lm:
        args += ["--style-landmarks", str(d / style_lm)]
    if base_lm:
        args += ["--base-landmarks", str(d / base_lm)]
    return args + list(extra)


def test_stylize_writes_the_library_result_and_a_figure(files):
    from neuralcollage import stylize
    assert main(_args(files, "--seed", "2", "--figure", str(files / "fig.png"))) == 0
    out = read_image(files / "out.png")
    expected = stylize.stylize(read_image(files / "t.png"), read_image(files / "ex.png"),
                               target_landmarks=json.loads((files / "t.json").read_text())["landmarks"],
                               exemplar_landmarks=json.loads((files / "ex.json").read_text()), seed=2)
    numpy.testing.assert_array_equal(out, expected)
    assert read_image(files / "fig.png").shape == (64, 4 * 64 + 12, 3)


def test_stylize_inside_a_mask_keeps_the_rest(files):
    assert main(_args(files, "--mask", str(files / "m.png"), out="masked.png")) == 0
    out, base = read_image(files / "masked.png"), read_image(files / "t.png")
    numpy.testing.assert_array_equal(out[:8], base[:8])
    assert (out[24:40, 24:40] != base[24:40, 24:40]).any()


@pytest.mark.parametrize("change, message", [
    (dict(style="tiny.png"), "differ in size"),
    (dict(style="missing.png"), "no such file"),
    (dict(style="bad.png"), "cannot identify"),
    (dict(style_lm="far.json"), "outside the 64x64 image"),
    (dict(style_lm="broken.json"), "not valid JSON"),
    (dict(style_lm="nothing.json"), "no such file"),
])
def test_bad_input_is_one_line_and_exit_2(files, capsys, change, message):
    args = _args(files, style_lm=change.get("style_lm", "ex.json"))
    if "style" in change:
        args[args.index("--style") + 1] = str(files / change["style"])
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err


def test_no_landmarks_and_no_model_is_a_clear_error(files, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("NEURALCOLLAGE_PRETRAINED", str(tmp_path))
    assert main(_args(files, style_lm=None, base_lm=None)) == 2
    assert "give --style-landmarks" in capsys.readouterr().err


def test_help_has_an_example(capsys):
    assert main(["stylize", "--help"]) == 0
    assert "collage stylize --base" in capsys.readouterr().out


def test_predicted_landmarks_when_the_model_is_shipped(files, tmp_path):
    from neuralcollage.pretrained import builtin_dir
    from neuralcollage.train.landmarks import load_landmark_predictor
    model = builtin_dir() + "/landmarks.npz"
    if not __import__("os").path.exists(model):
        pytest.skip("neuralcollage/data/pretrained/builtin64/landmarks.npz is not installed")
    predict = load_landmark_predictor(model)
    for seed in range(3):
        image = render_sample(seed, size=64).image
        truth = render_landmarks(seed, size=64)
        visible = ((truth > -0.5) & (truth < 63.5)).all(1)
        assert numpy.linalg.norm(predict(image) - truth, axis=1)[visible].mean() < 4.0
    assert main(_args(files, style_lm=None, base_lm=None, out="predicted.png")) == 0
    assert read_image(files / "predicted.png").shape == (64, 64, 3)


def _part_map(masks):
    colours = {"face": (200, 160, 90), "ears": (90, 60, 30), "eyes": (20, 20, 220), "muzzle": (240, 240, 240)}
    image = numpy.zeros(masks["face"].shape + (3,), numpy.uint8)
    for part, colour in colours.items():
        image[masks[part]] = colour
    return image


def test_style_parts_gives_the_segmentation_guide(files):
    from neuralcollage import stylize
    from neuralcollage.stylize.evaluation import part_labels
    masks = render_sample(3, size=64, style="hatch").masks
    write_image(files / "ex_parts.png", _part_map(masks))
    assert main(_args(files, "--style-parts", str(files / "ex_parts.png"), out="parts.png")) == 0
    labels, colours = stylize.part_labels_from_image(_part_map(masks))
    assert len(colours) == 5
    numpy.testing.assert_array_equal(labels > 0, part_labels(masks) > 0)
    expected = stylize.stylize(read_image(files / "t.png"), read_image(files / "ex.png"),
                               target_landmarks=json.loads((files / "t.json").read_text())["landmarks"],
                               exemplar_landmarks=json.loads((files / "ex.json").read_text()), labels=labels,
                               n_labels=5)
    numpy.testing.assert_array_equal(read_image(files / "parts.png"), expected)
    plain = read_image(files / "out.png") if (files / "out.png").exists() else None
    assert plain is None or not numpy.array_equal(plain, expected)
    truth = render_sample(3, size=64, pose=pose_of(5003)).masks
    write_image(files / "t_parts.png", _part_map(truth))
    assert main(_args(files, "--style-parts", str(files / "ex_parts.png"), "--base-parts",
                      str(files / "t_parts.png"), out="parts2.png")) == 0


@pytest.mark.parametrize("make, extra, message", [
    (lambda: numpy.random.default_rng(0).integers(0, 256, (64, 64, 3)).astype(numpy.uint8), "style",
     "distinct colours, at most 16"),
    (lambda: numpy.zeros((32, 32, 3), numpy.uint8), "style", "the part map is 32x32, its image 64x64"),
    (lambda: numpy.zeros((64, 64, 3), numpy.uint8), "style", "a single colour"),
    (lambda: numpy.full((64, 64, 3), 7, numpy.uint8), "base", "lacks"),
    (None, "base-only", "--base-parts needs --style-parts"),
])
def test_bad_part_maps_are_one_line_and_exit_2(files, capsys, make, extra, message):
    masks = render_sample(3, size=64, style="hatch").masks
    write_image(files / "good_parts.png", _part_map(masks))
    if make is not None:
        write_image(files / "bad_parts.png", make())
    if extra == "style":
        args = _args(files, "--style-parts", str(files / "bad_parts.png"))
    elif extra == "base":
        args = _args(files, "--style-parts", str(files / "good_parts.png"), "--base-parts",
                     str(files / "bad_parts.png"))
    else:
        args = _args(files, "--base-parts", str(files / "good_parts.png"))
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


def test_defaults_are_the_librarys_and_vote_sigma_0_is_the_plain_vote(files, capsys):
    import argparse

    from neuralcollage import stylize
    from neuralcollage.cli import build_parser
    args = build_parser().parse_args(_args(files))
    assert (args.threshold, args.vote_sigma, args.blend_radius) == (stylize.THRESHOLD, stylize.VOTE_SIGMA,
                                                                       stylize.BLEND_RADIUS)
    assert isinstance(args, argparse.Namespace)
    assert main(_args(files, "--vote-sigma", "0", "--threshold", "24", out="plain.png")) == 0
    expected = stylize.stylize(read_image(files / "t.png"), read_image(files / "ex.png"),
                               target_landmarks=json.loads((files / "t.json").read_text())["landmarks"],
                               exemplar_landmarks=json.loads((files / "ex.json").read_text()), threshold=24.0,
                               vote_sigma=None)
    numpy.testing.assert_array_equal(read_image(files / "plain.png"), expected)
    assert main(_args(files, "--vote-sigma", "-1", out="bad.png")) == 2
    assert "--vote-sigma must be" in capsys.readouterr().err


def test_vote_stride_option_reaches_the_library(tmp_path, capsys):
    """At 128 px the default stride is 2 (vote_stride_for); --vote-stride 1 gives the library's stride-1
    output, which differs from the default; out-of-range values are one-line errors."""
    from neuralcollage import stylize
    from neuralcollage.stylize.styleblit import vote_stride_for
    pose = pose_of(5003)
    ex, t = render_sample(3, size=128, style="watercolour").image, render_sample(3, size=128, pose=pose).image
    ex_lm, t_lm = render_landmarks(3, size=128), render_landmarks(3, size=128, pose=pose)
    keep = ((ex_lm > -0.5) & (ex_lm < 127.5)).all(1) & ((t_lm > -0.5) & (t_lm < 127.5)).all(1)
    write_image(tmp_path / "ex.png", ex)
    write_image(tmp_path / "t.png", t)
    (tmp_path / "ex.json").write_text(json.dumps(ex_lm[keep].tolist()))
    (tmp_path / "t.json").write_text(json.dumps(t_lm[keep].tolist()))
    assert vote_stride_for(t.shape) == 2
    outputs = {}
    for stride in (None, 1):
        extra = [] if stride is None else ["--vote-stride", str(stride)]
        assert main(_args(tmp_path, *extra, out=f"s{stride}.png")) == 0
        outputs[stride] = read_image(tmp_path / f"s{stride}.png")
        expected = stylize.stylize(t, ex, target_landmarks=t_lm[keep], exemplar_landmarks=ex_lm[keep],
                                   vote_stride=stride)
        numpy.testing.assert_array_equal(outputs[stride], expected)
    assert (outputs[None] != outputs[1]).any()
    for bad in ("0", "65"):
        assert main(_args(tmp_path, "--vote-stride", bad, out="bad.png")) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "--vote-stride must be" in err, err


def test_lattice_option_reaches_the_library(files, capsys):
    """--lattice auto gives the library's lattice="auto" output, which differs from the default on the hatched
    exemplar; a value other than none / auto is a usage error (exit 2)."""
    from neuralcollage import stylize
    t, ex = read_image(files / "t.png"), read_image(files / "ex.png")
    lm = dict(target_landmarks=json.loads((files / "t.json").read_text())["landmarks"],
              exemplar_landmarks=json.loads((files / "ex.json").read_text()))
    assert main(_args(files, "--lattice", "auto", out="lat.png")) == 0
    expected = stylize.stylize(t, ex, lattice="auto", **lm)
    numpy.testing.assert_array_equal(read_image(files / "lat.png"), expected)
    assert (expected != stylize.stylize(t, ex, **lm)).any()
    assert main(_args(files, "--lattice", "none", out="none.png")) == 0
    numpy.testing.assert_array_equal(read_image(files / "none.png"), stylize.stylize(t, ex, **lm))
    capsys.readouterr()
    assert main(_args(files, "--lattice", "always", out="bad.png")) == 2
    assert "invalid choice: 'always'" in capsys.readouterr().err


def test_patch_iterations_option_reaches_the_library(files, capsys):
    """--patch-iterations 3 with the hatching combination gives the library's patch_iterations=3 output, which
    differs from the same options with 0 on the hatched exemplar; 0 is the default's output; a value outside
    [0, 10] or not an integer is one line and exit 2."""
    from neuralcollage import stylize
    t, ex = read_image(files / "t.png"), read_image(files / "ex.png")
    lm = dict(target_landmarks=json.loads((files / "t.json").read_text())["landmarks"],
              exemplar_landmarks=json.loads((files / "ex.json").read_text()))
    hatching = ["--lattice", "auto", "--blend-radius", "1", "--vote-stride", "1"]
    options = dict(lattice="auto", blend_radius=1, vote_stride=1)
    assert main(_args(files, *hatching, "--patch-iterations", "3", out="refined.png")) == 0
    refined = read_image(files / "refined.png")
    numpy.testing.assert_array_equal(refined, stylize.stylize(t, ex, patch_iterations=3, **options, **lm))
    assert main(_args(files, *hatching, "--patch-iterations", "0", out="unrefined.png")) == 0
    unrefined = read_image(files / "unrefined.png")
    numpy.testing.assert_array_equal(unrefined, stylize.stylize(t, ex, **options, **lm))
    assert (refined != unrefined).any()
    assert main(_args(files, *hatching, out="default.png")) == 0
    numpy.testing.assert_array_equal(read_image(files / "default.png"), unrefined)
    capsys.readouterr()
    for bad in ("-1", "11", "1.5", "three"):
        assert main(_args(files, "--patch-iterations", bad, out="bad_patch.png")) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "--patch-iterations" in err and "[0, 10]" in err, err
        assert "Traceback" not in err and not (files / "bad_patch.png").exists()


def test_help_shows_the_hatching_combination(capsys):
    assert main(["stylize", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--lattice auto --blend-radius 1 --vote-stride 1 --patch-iterations 3" in out

"""`collage axes discover|evaluate`: the files they write, one-line errors and exit codes, --help."""
import json

import numpy as np
import pytest

import neuralcollage as nc
from neuralcollage import axes as ax
from neuralcollage.cli import main
from neuralcollage.models.classifier import Classifier
from neuralcollage.models.regressor import AttributeRegressor
from nc_testing import random_class_tables


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny32 generator with a regressor and a classifier beside it."""
    folder = tmp_path_factory.mktemp("axes_model")
    np.random.seed(5)
    nc.save_snapshot(random_class_tables(nc.Generator.from_preset("tiny32")), folder / "generator.npz",
                     kind="generator")
    nc.save_snapshot(AttributeRegressor.from_preset("tiny32"), folder / "regressor.npz", kind="regressor")
    nc.save_snapshot(Classifier.from_preset("tiny32"), folder / "classifier.npz", kind="classifier")
    return folder


def test_discover_then_evaluate(model_dir, tmp_path, capsys):
    gen_path = str(model_dir / "generator.npz")
    assert main(["axes", "discover", "--generator", gen_path, "--n-samples", "80",
                 "--attributes", "fur_hue,eye_size"]) == 0
    out_lines = capsys.readouterr().out.strip().splitlines()
    assert out_lines[-1] == str(model_dir / "axes.json")
    saved = ax.load_axes(model_dir / "axes.json", dim_z=16)
    assert [a.name for a in saved] == ["fur_hue", "eye_size", "fur_hue_raw", "eye_size_raw"]
    assert saved[0].decorrelated_from == ("eye_size",) and saved[2].decorrelated_from == ()
    out = tmp_path / "eval"
    assert main(["axes", "evaluate", "--generator", gen_path, "--out", str(out), "--n", "4",
                 "--amounts=-1,0,1", "-q"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed == [str(out / f"axes_eval.{ext}") for ext in ("json", "md", "csv", "png")]
    for ext in ("json", "md", "csv", "png"):
        assert (out / f"axes_eval.{ext}").exists(), ext
    result = json.load(open(out / "axes_eval.json"))
    assert [r["axis"] for r in result["axes"]] == ["fur_hue", "eye_size"]
    assert [r["axis"] for r in result["before_axes"]] == ["fur_hue_raw", "eye_size_raw"]
    assert "entanglement_reduction" in result


def test_discover_unknown_attribute_exits_2_and_writes_nothing(model_dir, tmp_path, capsys):
    code = main(["axes", "discover", "--generator", str(model_dir / "generator.npz"), "--n-samples", "80",
                 "--attributes", "tail_length", "-o", str(tmp_path / "x.json")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "unknown attributes" in err
    assert not (tmp_path / "x.json").exists()


def test_discover_missing_generator_exits_3(tmp_path, capsys):
    code = main(["axes", "discover", "--generator", str(tmp_path / "none.npz"), "-o", str(tmp_path / "x.json")])
    err = capsys.readouterr().err
    assert code == 3 and "no such file" in err and len(err.strip().splitlines()) == 1


def test_evaluate_missing_axes_file_exits_2(model_dir, tmp_path, capsys):
    out = tmp_path / "eval"
    code = main(["axes", "evaluate", "--generator", str(model_dir / "generator.npz"), "--out", str(out),
                 "--axes", str(tmp_path / "missing.json")])
    err = capsys.readouterr().err
    assert code == 2 and "missing.json" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("args,message", [
    (["discover", "--n-samples", "0"], "--n-samples"),
    (["evaluate", "--out", "x", "--amounts", "a,b"], "--amounts"),
    (["evaluate", "--out", "x", "--radius", "2"], "--radius"),
    (["evaluate"], "--out"),
])
def test_bad_options_exit_2(args, message, capsys):
    assert main(["axes"] + args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err


@pytest.mark.parametrize("what", ["discover", "evaluate"])
def test_help(what, capsys):
    assert main(["axes", what, "--help"]) == 0
    text = capsys.readouterr().out
    assert f"usage: collage axes {what}" in text and "examples:" in text and "Exit status" in text

"""`collage ablate scbn|blend`: outputs, reproducibility, one-line errors and exit codes, --help."""
import csv
import os
import subprocess
import sys

import pytest

from neuralcollage import save_snapshot
from neuralcollage.cli import main
from neuralcollage.models import Discriminator, Generator
from nc_testing import random_class_tables

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny32 model folder: generator (distinct class tables), discriminator and classifier."""
    folder = tmp_path_factory.mktemp("tiny32")
    gen = Generator.from_preset("tiny32")
    random_class_tables(gen, seed=0)
    save_snapshot(gen, folder / "generator.npz", kind="generator")
    save_snapshot(Discriminator.from_preset("tiny32"), folder / "discriminator.npz", kind="discriminator")
    return folder


def _run(what, *args):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "neuralcollage", "ablate", what, *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


@pytest.mark.slow
def test_scbn_end_to_end(model_dir, tmp_path):
    out = tmp_path / "scbn"
    proc = _run("scbn", "--model", model_dir / "generator.npz", "--out", out, "--seeds", "0-2",
                "--source", "1", "--target", "class 2", "--region", "center")
    assert proc.returncode == 0, proc.stderr
    names = sorted(os.listdir(out))
    assert names == ["scbn_ablation.csv", "scbn_ablation_samples.csv", "scbn_grid.png", "scbn_summary.md",
                     "scbn_trend.png"]
    with open(out / "scbn_ablation.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["setting"] for r in rows][:5] == ["none", "target everywhere", "all", "0", "1-"]
    assert rows[2]["success_rate"] != ""  # the discriminator's class scores stand in for a classifier
    summary = (out / "scbn_summary.md").read_text()
    assert "Early layers only (`0-2`) vs late layers only (`3-`)" in summary
    assert "discriminator" in summary
    assert "Early layers only" in proc.stdout and str(out / "scbn_summary.md") in proc.stdout


@pytest.mark.slow
def test_blend_end_to_end(model_dir, tmp_path):
    out = tmp_path / "blend"
    proc = _run("blend", "--model", model_dir / "generator.npz", "--out", out, "--seeds", "0,1",
                "--weights", "0.5", "1", "--region", "left-half", "--classifier", "none", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(out)) == ["blend_ablation.csv", "blend_ablation_samples.csv", "blend_grid_w0.5.png",
                                       "blend_grid_w1.png", "blend_summary.md", "blend_trend.png"]
    with open(out / "blend_ablation_samples.csv") as f:
        samples = list(csv.DictReader(f))
    assert {s["donor_seed"] for s in samples} == {"1000", "1001"}
    assert "Early layers only (`0`) vs late layers only (`3`) at weight 1" in (out / "blend_summary.md").read_text()


@pytest.mark.slow
def test_ablation_is_reproducible(model_dir, tmp_path):
    args = ["ablate", "scbn", "--model", str(model_dir / "generator.npz"), "--seeds", "3,4", "--settings", "all",
            "0", "3-", "--quiet"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    assert main(args + ["--out", str(tmp_path / "b"), "--grid-rows", "1"]) == 0
    from PIL import Image
    assert Image.open(tmp_path / "b" / "scbn_grid.png").size[1] < Image.open(tmp_path / "a" / "scbn_grid.png").size[1]
    for name in ("scbn_ablation.csv", "scbn_ablation_samples.csv", "scbn_summary.md"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_unknown_layer_spec_exits_2_with_one_line(model_dir, tmp_path):
    out = tmp_path / "bad"
    proc = _run("scbn", "--model", model_dir / "generator.npz", "--out", out,
                "--settings", "all", "early")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot parse layer spec 'early'" in lines[0]
    assert not out.exists()


@pytest.mark.parametrize("what,args,message", [
    ("scbn", ["--settings", "0-9"], "out of range"),
    ("scbn", ["--target", "zebra"], "zebra"),
    ("scbn", ["--region", "middle"], "neither a region name"),
    ("scbn", ["--seeds", "5-1"], "reversed"),
    ("scbn", ["--grid-rows", "0"], "--grid-rows"),
    ("scbn", ["--crop-margin", "-1"], "margin"),
    ("scbn", ["--classifier", "nothing.npz"], "no such file"),
    ("blend", ["--settings", "5"], "out of range"),
    ("blend", ["--weights", "1.5"], "weights"),
    ("blend", ["--seeds", "0-2", "--donor-seeds", "1"], "donor seeds"),
    ("blend", ["--cls", "9"], "9"),
])
def test_bad_inputs_exit_2(model_dir, tmp_path, capsys, what, args, message):
    out = tmp_path / "out"
    code = main(["ablate", what, "--model", str(model_dir / "generator.npz"), "--out", str(out), "--quiet"] + args)
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not out.exists()


def test_missing_model_exits_3(tmp_path, capsys):
    code = main(["ablate", "blend", "--model", str(tmp_path / "none.npz"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 3 and len(err.strip().splitlines()) == 1 and err.startswith("collage: error:")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("what", ["scbn", "blend"])
def test_help_shows_defaults(what, capsys):
    assert main(["ablate", what, "--help"]) == 0
    text = capsys.readouterr().out
    assert f"usage: collage ablate {what}" in text
    assert "(default: builtin)" in text and "(default: 0-15)" in text and "examples:" in text


def test_ablate_needs_a_method(capsys):
    assert main(["ablate"]) == 2
    assert "scbn,blend" in capsys.readouterr().err


def test_crop_modes_match_the_library():
    from neuralcollage.analysis.ablation import CROP_MODES
    from neuralcollage.cli.ablate import CROP_MODES as CLI_CROP_MODES
    assert CLI_CROP_MODES == CROP_MODES

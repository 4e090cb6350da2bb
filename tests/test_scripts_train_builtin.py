"""scripts/train_builtin.sh's orchestration, run on a copy of the script with stand-ins for collage and python3.

The stand-ins log each step's start and end and create the files the script copies, so these tests check
the order, the overlap of the GAN with the steps that do not need it, the copies, and what a failing step
does, without training anything.
"""
import os
import shutil
import stat
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

STAND_IN = r"""#!/usr/bin/env bash
args="$*"
case "$args" in
  *"train gan"*) step=gan; out=runs/builtin64; files="generator.npz discriminator.npz"; pause=1 ;;
  *"train encoder"*) step=encoder; out=runs/encoder; files=encoder.npz; pause=0 ;;
  *"runs/part_classifier"*) step=part_classifier; out=runs/part_classifier; files=part_classifier.npz; pause=0 ;;
  *"runs/classifier"*) step=classifier; out=runs/classifier; files=classifier.npz; pause=0 ;;
  *"runs/regressor"*) step=regressor; out=runs/regressor; files=regressor.npz; pause=0 ;;
  *"axes discover"*) step=axes; out=neuralcollage/data/pretrained/builtin64; files=axes.json; pause=0 ;;
  *write_manifest*) step=manifest; out=neuralcollage/data/pretrained; files=manifest.json; pause=0 ;;
  *evaluate_builtin*) step=evaluate; out=neuralcollage/data/pretrained; files=evaluation.json; pause=0 ;;
  *) echo "unexpected call: $0 $args" >&2; exit 3 ;;
esac
echo "start $step" >> calls.log
sleep "$pause"
if [ "${FAIL_STEP:-}" = "$step" ]; then echo "end $step failed" >> calls.log; exit 1; fi
mkdir -p "$out"
for f in $files; do echo "$step" > "$out/$f"; done
echo "end $step" >> calls.log
"""


def _project(tmp_path):
    """A folder laid out like the repository, holding the recipe script and stand-in commands."""
    os.makedirs(tmp_path / "scripts")
    shutil.copy(os.path.join(ROOT, "scripts", "train_builtin.sh"), tmp_path / "scripts")
    bin_dir = tmp_path / "bin"
    os.makedirs(bin_dir)
    for name in ("collage", "python3"):
        path = bin_dir / name
        path.write_text(STAND_IN)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return tmp_path


def _run(project, **env):
    environ = dict(os.environ, PATH=f"{project / 'bin'}:{os.environ['PATH']}", **env)
    return subprocess.run(["bash", str(project / "scripts" / "train_builtin.sh")], cwd=project, env=environ,
                          capture_output=True, text=True, timeout=60)


def _log(project):
    return (project / "calls.log").read_text().split("\n")[:-1]


@pytest.mark.slow
def test_recipe_runs_every_step_and_the_side_steps_beside_the_gan(tmp_path):
    project = _project(tmp_path)
    done = _run(project)
    assert done.returncode == 0, done.stderr
    log = _log(project)
    for step in ("gan", "classifier", "part_classifier", "regressor", "encoder", "axes", "manifest", "evaluate"):
        assert f"start {step}" in log and f"end {step}" in log
    assert log.index("start classifier") < log.index("end gan")
    assert log.index("end gan") < log.index("start encoder")
    for step in ("encoder", "regressor"):
        assert log.index(f"end {step}") < log.index("start axes")
    assert log.index("start classifier") < log.index("start part_classifier") < log.index("start regressor")
    shipped = project / "neuralcollage" / "data" / "pretrained" / "builtin64"
    for name, step in [("generator.npz", "gan"), ("discriminator.npz", "gan"), ("encoder.npz", "encoder"),
                       ("classifier.npz", "classifier"), ("part_classifier.npz", "part_classifier"),
                       ("regressor.npz", "regressor"), ("axes.json", "axes")]:
        assert (shipped / name).read_text().strip() == step


@pytest.mark.slow
@pytest.mark.parametrize("failing", ["classifier", "regressor"])
def test_a_failing_side_step_stops_the_recipe_with_one_line(tmp_path, failing):
    project = _project(tmp_path)
    done = _run(project, FAIL_STEP=failing)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "train_builtin.sh: a classifier or regressor step failed; see runs/side_steps.log")
    log = _log(project)
    assert "start axes" not in log and "start manifest" not in log
    assert not (project / "neuralcollage" / "data" / "pretrained" / "builtin64" / "classifier.npz").exists()


@pytest.mark.slow
def test_a_failing_gan_stops_the_recipe_and_the_side_steps(tmp_path):
    project = _project(tmp_path)
    done = _run(project, FAIL_STEP="gan")
    assert done.returncode == 1
    log = _log(project)
    assert "start encoder" not in log
    assert not (project / "neuralcollage" / "data" / "pretrained" / "builtin64" / "generator.npz").exists()


def test_bench_recipe_uses_the_scripts_iteration_counts_and_cadence():
    import importlib.util
    import re
    spec = importlib.util.spec_from_file_location("bench_recipe", os.path.join(ROOT, "benchmarks", "bench_recipe.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    script = open(os.path.join(ROOT, "scripts", "train_builtin.sh")).read().replace("\\\n", " ")
    lines = {"gan": r"collage train gan .*", "encoder": r"collage train encoder .*",
             "classifier": r".*'runs/classifier'.*", "part_classifier": r".*'runs/part_classifier'.*",
             "regressor": r".*'runs/regressor'.*"}
    for step, pattern in lines.items():
        line = re.search(pattern, script).group(0)
        counts = re.findall(r"(?:--iterations |iterations=)(\d+)", line)
        assert counts == [str(bench.RECIPE_ITERATIONS[step])], (step, line)
    gan = re.search(lines["gan"], script).group(0)
    assert f"--checkpoint-every {bench.GAN_CHECKPOINT_EVERY} " in gan
    assert f"--sample-every {bench.GAN_SAMPLE_EVERY} " in gan
    assert set(bench.GAN_INDEPENDENT) == {"classifier", "part_classifier", "regressor"}
    side = script[script.index("side_steps() {"):script.index("}\n", script.index("side_steps() {"))]
    assert all(f"'runs/{step}'" in side for step in bench.GAN_INDEPENDENT)

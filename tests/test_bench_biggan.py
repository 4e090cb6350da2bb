"""benchmarks/bench_biggan.py runs end to end on small configurations and prints its ratio lines."""
import os
import re
import subprocess
import sys

import pytest

from neuralcollage.backend import gpu_available

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "bench_biggan.py")
RATIO = re.compile(r"sCBN / plain\s+= \d+\.\d\dx wall, \d+\.\d\dx cpu \(target <= 1\.15x\)  (ok|MISSED)")


def _run(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


@pytest.mark.parametrize("args", [["--arch", "tiny32"], ["--ch", "4", "--n-classes", "10", "--no-blend"]],
                         ids=["tiny32", "published-config-narrow"])
@pytest.mark.slow
def test_prints_times_and_ratios(args):
    proc = _run(*args, "--repeats", "1", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert RATIO.search(out), out
    assert re.search(r"sCBN map / plain\s+= \d+\.\d\dx wall", out)
    for label in ("plain generation", "sCBN, 2-class layer maps", "sCBN, one 2-class map"):
        assert re.search(re.escape(label) + r"\s+\d+\.\d{3}\s+\d+\.\d{3}\s+\d+\.\d{3}", out), label
    assert "truncation 0.4" in out and "BLAS threads 1" in out
    blend = "--no-blend" not in args
    assert ("blending / plain" in out) == blend
    if not blend:
        assert "128px ch=4 classes=10 dim_z=128" in out


@pytest.mark.slow
def test_bad_options_exit_nonzero_with_one_line():
    proc = _run("--arch", "tiny32", "--repeats", "0")
    assert proc.returncode == 2 and "--repeats must be >= 1" in proc.stderr and not proc.stdout
    if not gpu_available():
        proc = _run("--arch", "tiny32", "--gpu", "0")
        assert proc.returncode == 2 and not proc.stdout
        assert len(proc.stderr.strip().splitlines()) == 1 and "GPU 0" in proc.stderr

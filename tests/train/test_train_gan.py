"""GAN training loop: losses, checkpoints, resume, exported snapshots, distributed run."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import neuralcollage as nc
from neuralcollage.train.gan import train_gan

SMALL = dict(arch="tiny32", batch_size=4, n_dis=1, checkpoint_every=2, sample_every=2, log_every=1,
             progress=False)


@pytest.mark.slow
def test_training_writes_snapshots_logs_and_resumes(tmp_path):
    assert train_gan(str(tmp_path), iterations=2, **SMALL) == 2
    for name in ("checkpoint.npz", "generator.npz", "discriminator.npz", "log.jsonl", "losses.png",
                 "samples_000002.png"):
        assert (tmp_path / name).exists(), name
    gen_before = nc.load_generator(tmp_path / "generator.npz")
    assert train_gan(str(tmp_path), iterations=3, **SMALL) == 3
    records = [json.loads(line) for line in open(tmp_path / "log.jsonl")]
    assert [r["iteration"] for r in records] == [1, 2, 3]
    assert all(np.isfinite(r["loss_dis"]) and np.isfinite(r["loss_gen"]) for r in records)
    gen_after = nc.load_generator(tmp_path / "generator.npz")
    assert gen_after.n_classes == 6 and gen_after.arch == "tiny32"
    assert not np.array_equal(gen_before.l1.W.array, gen_after.l1.W.array)


@pytest.mark.slow
def test_resumed_run_equals_uninterrupted_run(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    train_gan(str(a), iterations=2, **SMALL)
    train_gan(str(a), iterations=4, **SMALL)
    train_gan(str(b), iterations=4, **SMALL)
    ga, gb = nc.load_generator(a / "generator.npz"), nc.load_generator(b / "generator.npz")
    np.testing.assert_allclose(ga.block2.c1.W.array, gb.block2.c1.W.array, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_closeups_reach_the_discriminator_and_are_recorded(tmp_path, monkeypatch):
    import neuralcollage.train.gan as tg
    from neuralcollage.datasets import is_closeup
    seen = []
    real_batch = tg.real_batch

    def spy(step, batch_size, **kwargs):
        seen.append((step, batch_size, kwargs["seed"], kwargs["closeups"]))
        return real_batch(step, batch_size, **kwargs)

    monkeypatch.setattr(tg, "real_batch", spy)
    train_gan(str(tmp_path), iterations=2, closeups=1.0, **SMALL)
    assert [c for *_, c in seen] == [1.0, 1.0]
    step, batch_size, seed, _ = seen[0]
    assert all(is_closeup(seed * 10 ** 9 + step * batch_size + i, 1.0) for i in range(batch_size))
    state = json.loads(str(np.load(tmp_path / "checkpoint.npz")["__state__"]))
    assert state["closeups"] == 1.0
    with pytest.raises(ValueError, match="closeups"):
        train_gan(str(tmp_path / "bad"), iterations=1, closeups=-0.1, **SMALL)


MPI_SCRIPT = textwrap.dedent("""
    import sys
    import neuralcollage
    from neuralcollage.train.gan import train_gan
    it = train_gan(sys.argv[1], arch="tiny32", iterations=2, batch_size=4, n_dis=1, checkpoint_every=2,
                   sample_every=2, log_every=1, progress=False, distributed=True)
    assert it == 2
    print("done", flush=True)
""")


@pytest.mark.slow
@pytest.mark.mpi
@pytest.mark.skipif(shutil.which("mpiexec") is None, reason="needs mpi4py and mpiexec")
def test_distributed_gan_training_with_two_processes(tmp_path):
    pytest.importorskip("mpi4py")
    script = tmp_path / "run.py"
    script.write_text(MPI_SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    out = tmp_path / "out"
    proc = subprocess.run(["mpiexec", "-n", "2", "--oversubscribe", sys.executable, str(script), str(out)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("done") == 2
    assert (out / "generator.npz").exists()

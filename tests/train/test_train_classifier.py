"""Classifier training on the rendered faces: data batches, loss goes down, resume, outputs, ChainerMN."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import neuralcollage as nc
from neuralcollage.train.classifier import PARTS, augment, part_batch, train_classifier, whole_batch

SMALL = dict(arch="tiny32", batch_size=8, eval_every=10, n_eval=16, n_final_eval=24, log_every=5,
             checkpoint_every=10, progress=False)


def test_whole_batch_is_deterministic_and_restricted_to_the_model_classes():
    a, ids = whole_batch(3, 6, size=32, seed=0, n_classes=4)
    b, ids_b = whole_batch(3, 6, size=32, seed=0, n_classes=4)
    assert a.shape == (6, 32, 32, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ids, ids_b)
    assert ids.max() < 4
    assert not np.array_equal(a, whole_batch(4, 6, size=32, seed=0, n_classes=4)[0])


def test_whole_batch_closeups_are_the_data_sets_closeups():
    from neuralcollage.datasets import render_batch
    images, ids = whole_batch(2, 6, size=32, seed=0, closeups=0.5)
    seeds = [2 * 6 + i for i in range(6)]
    expected, expected_ids, _, _ = render_batch(seeds, size=32, closeups=0.5)
    np.testing.assert_array_equal(images, expected)
    np.testing.assert_array_equal(ids, expected_ids)
    assert not np.array_equal(images, whole_batch(2, 6, size=32, seed=0)[0])
    with pytest.raises(ValueError, match="whole"):
        train_classifier("unused", kind="part", closeups=0.5, **SMALL)


def test_part_batch_has_one_crop_per_visible_part():
    crops, ids, parts = part_batch(0, 4, size=16, seed=0, render_sizes=(48,))
    assert crops.shape[1:] == (16, 16, 3) and crops.dtype == np.uint8
    assert len(crops) == len(ids) == len(parts) <= 3 * 4
    assert set(parts.tolist()) <= set(range(len(PARTS)))
    for p in range(len(PARTS)):
        assert (parts == p).sum() <= 4


def test_augment_keeps_shape_and_input():
    images = whole_batch(0, 4, size=32, seed=0)[0]
    before = images.copy()
    out = augment(images, np.random.RandomState(0))
    assert out.shape == images.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(images, before)
    np.testing.assert_array_equal(out, augment(images, np.random.RandomState(0)))


@pytest.mark.slow
@pytest.mark.parametrize("kind,name", [("whole", "classifier"), ("part", "part_classifier")])
def test_training_writes_outputs_and_reduces_loss(tmp_path, kind, name):
    out = tmp_path / kind
    assert train_classifier(str(out), kind=kind, iterations=30, lr=3e-3, **SMALL) == 30
    for f in ("checkpoint.npz", f"{name}.npz", "log.jsonl", "losses.png", "metrics.json"):
        assert (out / f).exists(), f
    records = [json.loads(line) for line in open(out / "log.jsonl")]
    assert [r["iteration"] for r in records] == [5, 10, 15, 20, 25, 30]
    assert all(0 <= r["held_out_accuracy"] <= 1 for r in records)
    assert np.mean([r["loss"] for r in records[-2:]]) < records[0]["loss"]
    metrics = json.load(open(out / "metrics.json"))
    assert metrics["n_held_out"] == 24 and 0 <= metrics["held_out_accuracy"] <= 1
    model = nc.load_model(out / f"{name}.npz", kind=name)
    assert model.n_classes == 4


@pytest.mark.slow
def test_resume_matches_an_uninterrupted_run(tmp_path):
    full, split = tmp_path / "full", tmp_path / "split"
    train_classifier(str(full), kind="whole", iterations=6, **SMALL)
    assert train_classifier(str(split), kind="whole", iterations=6, time_limit=0, **SMALL) == 1
    assert train_classifier(str(split), kind="whole", iterations=6, **SMALL) == 6
    a = np.load(full / "classifier.npz")
    b = np.load(split / "classifier.npz")
    assert set(a.files) == set(b.files)
    for k in a.files:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert train_classifier(str(split), kind="whole", iterations=6, **SMALL) == 6


def test_resume_refuses_another_kind(tmp_path):
    train_classifier(str(tmp_path), kind="whole", iterations=1, **SMALL)
    with pytest.raises(ValueError, match="use another out_dir"):
        train_classifier(str(tmp_path), kind="part", iterations=2, **SMALL)
    with pytest.raises(ValueError, match="kind must be"):
        train_classifier(str(tmp_path), kind="ears", iterations=2, **SMALL)


def _mpiexec():
    exe = shutil.which("mpiexec")
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None
    return exe


MPI_SCRIPT = textwrap.dedent("""
    import sys
    import neuralcollage._compat
    import chainer, chainer.functions as F, numpy
    from neuralcollage.models.classifier import Classifier
    from neuralcollage.train import distributed as dist
    from neuralcollage.train.classifier import train_classifier, whole_batch
    comm = dist.create_communicator("naive")
    it = train_classifier(sys.argv[1], kind="whole", arch="tiny32", iterations=4, batch_size=4, eval_every=2,
                          n_eval=8, n_final_eval=8, log_every=2, checkpoint_every=2, progress=False,
                          communicator=comm)
    assert it == 4
    # one multi-node update: different shards, identical parameters afterwards
    numpy.random.seed(comm.rank)
    model = Classifier.from_preset("tiny32")
    opt = dist.multi_node_optimizer(chainer.optimizers.Adam(1e-3), comm, model)
    w0 = model.l_out.W.array.copy()
    assert all(numpy.array_equal(w0, g) for g in comm.mpi_comm.allgather(w0)), "not broadcast"
    images, ids = whole_batch(dist.shard_step(0, comm), 4, size=32, seed=0, n_classes=4)
    loss = F.softmax_cross_entropy(model(model.prepare(images)), ids)
    model.cleargrads(); loss.backward(); opt.update()
    w = model.l_out.W.array
    assert not numpy.array_equal(w, w0), "the first update did not update"
    gathered = comm.mpi_comm.allgather(w)
    assert all(numpy.array_equal(gathered[0], g) for g in gathered), "parameters differ between ranks"
    assert dist.shard_step(3, comm) == 3 * comm.size + comm.rank
    ranks = comm.mpi_comm.gather(comm.rank, root=0)
    if comm.rank == 0:
        print(f"ranks ok: {sorted(ranks)}", flush=True)
""")


@pytest.mark.slow
@pytest.mark.mpi
@pytest.mark.skipif(_mpiexec() is None, reason="needs mpi4py and mpiexec (apt-get install -y libopenmpi-dev "
                                              "openmpi-bin; pip install mpi4py)")
def test_distributed_training_with_two_processes(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(MPI_SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    version = subprocess.run([_mpiexec(), "--version"], capture_output=True, text=True).stdout
    extra = ["--oversubscribe"] if "Open MPI" in version or "OpenRTE" in version else []
    out = tmp_path / "out"
    proc = subprocess.run([_mpiexec(), "-n", "2", *extra, sys.executable, str(script), str(out)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ranks ok: [0, 1]" in proc.stdout
    records = [json.loads(line) for line in open(out / "log.jsonl")]
    assert [r["iteration"] for r in records] == [2, 4]
    assert (out / "classifier.npz").exists() and (out / "metrics.json").exists()


def test_paste_part_takes_the_part_from_the_donor():
    from neuralcollage.train.classifier import paste_part
    from neuralcollage.datasets import render_sample
    a, b = render_sample(5, class_id=0, size=64), render_sample(5, class_id=3, size=64)
    before = a.image.copy()
    out = paste_part(a, b, "ears")
    np.testing.assert_array_equal(a.image, before)
    inside = a.masks["ears"] | b.masks["ears"]
    np.testing.assert_array_equal(out[inside], b.image[inside])
    from neuralcollage.blending import dilate_mask
    outside = ~dilate_mask(inside, radius=2)
    np.testing.assert_array_equal(out[outside], a.image[outside])


def test_part_batch_swaps_label_the_part_pixels():
    crops, ids, parts = part_batch(0, 6, size=16, seed=0, render_sizes=(48,), swap=1.0)
    plain, plain_ids, plain_parts = part_batch(0, 6, size=16, seed=0, render_sizes=(48,), swap=0.0)
    np.testing.assert_array_equal(parts, plain_parts)
    assert (ids != plain_ids).all()

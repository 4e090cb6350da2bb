"""Encoder training on generated (image, z, class) triples of a tiny generator."""
import json

import numpy as np
import pytest

import neuralcollage as nc
from neuralcollage.backend import random_state
from neuralcollage.train.encoder import generated_batch, train_encoder

SMALL = dict(batch_size=8, log_every=5, sample_every=10, checkpoint_every=10, n_val=8, progress=False)


@pytest.fixture(scope="module")
def generator_path(tmp_path_factory):
    np.random.seed(0)
    gen = nc.Generator.from_preset("tiny32")
    path = tmp_path_factory.mktemp("gen") / "generator.npz"
    nc.save_snapshot(gen, path, kind="generator")
    return str(path)


def test_generated_batch(generator_path):
    gen = nc.load_generator(generator_path)
    x, z, y = generated_batch(gen, 5, random_state(0))
    assert x.shape == (5, 3, 32, 32) and z.shape == (5, 16) and y.shape == (5,)
    assert np.abs(x).max() <= 1 and y.max() < gen.n_classes
    np.testing.assert_array_equal(x, generated_batch(gen, 5, random_state(0))[0])


@pytest.mark.slow
def test_training_reduces_latent_error_and_writes_outputs(tmp_path, generator_path):
    out = tmp_path / "enc"
    assert train_encoder(str(out), generator_path=generator_path, iterations=30, lr=1e-3, **SMALL) == 30
    for f in ("checkpoint.npz", "encoder.npz", "log.jsonl", "losses.png", "metrics.json",
              "reconstructions_000010.png", "reconstructions_000030.png"):
        assert (out / f).exists(), f
    records = [json.loads(line) for line in open(out / "log.jsonl")]
    assert [r["iteration"] for r in records] == [5, 10, 15, 20, 25, 30]
    assert records[-1]["val_loss_z"] < records[0]["val_loss_z"]
    assert records[-1]["loss_z"] < records[0]["loss_z"]
    enc = nc.load_model(out / "encoder.npz", kind="encoder")
    assert (enc.dim_z, enc.n_classes, enc.resolution) == (16, 4, 32)
    metrics = json.load(open(out / "metrics.json"))
    assert metrics["iteration"] == 30 and np.isfinite(metrics["val_psnr"])


def test_pixel_term_trains_through_the_fixed_generator(tmp_path, generator_path):
    before = dict(np.load(generator_path))
    out = tmp_path / "pix"
    train_encoder(str(out), generator_path=generator_path, iterations=2, pixel_weight=1.0, **SMALL)
    records = [json.loads(line) for line in open(out / "log.jsonl")]
    assert records[-1]["loss_pixel"] > 0
    assert records[-1]["loss"] > records[-1]["loss_z"]
    after = np.load(generator_path)
    for k in before:
        np.testing.assert_array_equal(before[k], after[k])


@pytest.mark.slow
def test_resume_matches_an_uninterrupted_run(tmp_path, generator_path):
    full, split = tmp_path / "full", tmp_path / "split"
    train_encoder(str(full), generator_path=generator_path, iterations=4, **SMALL)
    assert train_encoder(str(split), generator_path=generator_path, iterations=4, time_limit=0, **SMALL) == 1
    assert train_encoder(str(split), generator_path=generator_path, iterations=4, **SMALL) == 4
    a, b = np.load(full / "encoder.npz"), np.load(split / "encoder.npz")
    for k in a.files:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_resume_refuses_another_generator(tmp_path, generator_path):
    out = tmp_path / "enc"
    train_encoder(str(out), generator_path=generator_path, iterations=1, **SMALL)
    other = tmp_path / "other.npz"
    nc.save_snapshot(nc.Generator.from_preset("tiny32"), other, kind="generator")
    with pytest.raises(ValueError, match="another generator"):
        train_encoder(str(out), generator_path=str(other), iterations=2, **SMALL)


def test_unknown_encoder_arch(tmp_path, generator_path):
    with pytest.raises(ValueError, match="no encoder preset"):
        train_encoder(str(tmp_path), generator_path=generator_path, arch="collage256", iterations=1, **SMALL)

"""Attribute-regressor training on the rendered faces: data batches, loss goes down, resume, outputs."""
import json

import numpy as np
import pytest

import neuralcollage as nc
from neuralcollage.models.regressor import AttributeRegressor
from neuralcollage.datasets import ATTRIBUTE_NAMES, render_sample
from neuralcollage.train.regressor import (attribute_batch, blur_augment, held_out_attribute_metrics,
                                           train_regressor)

SMALL = dict(arch="tiny32", batch_size=8, eval_every=10, n_eval=16, n_final_eval=24, log_every=5,
             checkpoint_every=10, progress=False)


def test_attribute_batch_is_deterministic_and_matches_the_renders():
    images, attrs = attribute_batch(2, 4, size=32, seed=1)
    again, attrs_again = attribute_batch(2, 4, size=32, seed=1)
    assert images.shape == (4, 32, 32, 3) and images.dtype == np.uint8
    assert attrs.shape == (4, len(ATTRIBUTE_NAMES)) and attrs.dtype == np.float32
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(attrs, attrs_again)
    assert ((attrs >= 0) & (attrs <= 1)).all()
    sample = render_sample(1 * 10 ** 9 + 2 * 4 + 3, size=32)
    np.testing.assert_array_equal(images[3], sample.image)
    np.testing.assert_allclose(attrs[3], [sample.attributes[a] for a in ATTRIBUTE_NAMES], rtol=1e-6)
    _, two = attribute_batch(2, 4, size=32, seed=1, attributes=("eye_size", "fur_hue"))
    np.testing.assert_array_equal(two, attrs[:, [ATTRIBUTE_NAMES.index("eye_size"), 0]])


def test_blur_augment_keeps_colours_shape_and_input():
    images, _ = attribute_batch(0, 6, size=32, seed=0)
    before = images.copy()
    out = blur_augment(images, np.random.RandomState(0))
    np.testing.assert_array_equal(images, before)
    assert out.shape == images.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, blur_augment(images, np.random.RandomState(0)))
    np.testing.assert_allclose(out.reshape(6, -1, 3).mean(1), images.reshape(6, -1, 3).mean(1), atol=2.0)


def test_regressor_shapes_snapshot_and_predict():
    np.random.seed(0)
    model = AttributeRegressor.from_preset("tiny32")
    assert model.attributes == ATTRIBUTE_NAMES and "tiny32" in repr(model)
    images, _ = attribute_batch(0, 3, size=48, seed=0)
    pred = model.predict(images)
    assert pred.shape == (3, len(ATTRIBUTE_NAMES)) and pred.dtype == np.float32
    np.testing.assert_allclose(model.predict(images[1]), pred[1:2], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="uint8"):
        model.predict(images.astype(np.float32))
    with pytest.raises(ValueError, match="overrides"):
        AttributeRegressor.from_preset("tiny32", n_classes=3)


@pytest.mark.slow
def test_training_writes_outputs_reduces_loss_and_loads(tmp_path):
    out = tmp_path / "reg"
    assert train_regressor(str(out), iterations=30, lr=3e-3, **SMALL) == 30
    for f in ("checkpoint.npz", "regressor.npz", "log.jsonl", "losses.png", "metrics.json"):
        assert (out / f).exists(), f
    records = [json.loads(line) for line in open(out / "log.jsonl")]
    assert [r["iteration"] for r in records] == [5, 10, 15, 20, 25, 30]
    assert np.mean([r["loss"] for r in records[-2:]]) < records[0]["loss"]
    metrics = json.load(open(out / "metrics.json"))
    assert metrics["n"] == 24 and set(metrics["r2"]) == set(ATTRIBUTE_NAMES)
    model = nc.load_model(out / "regressor.npz", kind="regressor")
    assert isinstance(model, AttributeRegressor) and model.attributes == ATTRIBUTE_NAMES
    again = held_out_attribute_metrics(model, n=24)
    assert again["mean_r2"] == pytest.approx(metrics["mean_r2"], abs=1e-6)


@pytest.mark.slow
def test_resume_matches_an_uninterrupted_run_and_refuses_another_run(tmp_path):
    full, split = tmp_path / "full", tmp_path / "split"
    train_regressor(str(full), iterations=6, **SMALL)
    assert train_regressor(str(split), iterations=6, time_limit=0, **SMALL) == 1
    assert train_regressor(str(split), iterations=6, **SMALL) == 6
    a, b = np.load(full / "regressor.npz"), np.load(split / "regressor.npz")
    assert set(a.files) == set(b.files)
    for k in a.files:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    with pytest.raises(ValueError, match="use another out_dir"):
        train_regressor(str(split), iterations=8, **{**SMALL, "arch": "builtin64"})

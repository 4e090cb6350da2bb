"""Encoder link: shapes, class conditioning, presets and snapshot round trip."""
import chainer
import numpy as np
import pytest

import neuralcollage as nc
from neuralcollage.io import to_model
from neuralcollage.models.encoder import ENCODER_PRESETS, Encoder
from neuralcollage.snapshot import SnapshotError


def _x(n, r, seed=0):
    return np.random.RandomState(seed).uniform(-1, 1, (n, 3, r, r)).astype(np.float32)


@pytest.mark.parametrize("arch", sorted(ENCODER_PRESETS))
def test_shapes(arch):
    enc = Encoder.from_preset(arch)
    with chainer.using_config("train", False):
        z = enc(_x(2, enc.resolution), np.array([0, 1], np.int32))
    assert isinstance(z, chainer.Variable)
    assert z.shape == (2, enc.dim_z) and z.dtype == np.float32


def test_builtin64_fits_the_builtin_generator():
    gen = nc.Generator.from_preset("builtin64")
    enc = Encoder.from_preset("builtin64")
    assert (enc.dim_z, enc.n_classes, enc.resolution) == (gen.dim_z, gen.n_classes, gen.resolution)


def test_class_condition_changes_output_and_int_label_broadcasts():
    enc = Encoder.from_preset("tiny32")
    enc.l_y.W.array[...] = np.random.RandomState(0).normal(size=enc.l_y.W.shape)
    x = _x(1, 32)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        z0, z1 = enc(x, 0).array, enc(x, np.array([1], np.int32)).array
        z0_ids = enc(x, np.array([0], np.int32)).array
    assert not np.allclose(z0, z1)
    np.testing.assert_array_equal(z0, z0_ids)


def test_gradient_reaches_the_input_and_parameters():
    enc = Encoder.from_preset("tiny32")
    x = chainer.Variable(_x(2, 32))
    chainer.functions.sum(enc(x, np.array([0, 3], np.int32))).backward()
    assert x.grad is not None and np.abs(x.grad).sum() > 0
    assert enc.body.block1.c1.W.grad is not None


def test_bad_input_shape_and_label_count():
    enc = Encoder.from_preset("tiny32")
    with pytest.raises(ValueError, match=r"\(N, 3, 32, 32\)"):
        enc(_x(1, 16), 0)
    with pytest.raises(ValueError, match="class ids"):
        enc(_x(2, 32), np.array([0, 1, 2], np.int32))


def test_presets_and_overrides():
    enc = Encoder.from_preset("tiny32", dim_z=7, n_classes=3)
    assert enc.config["dim_z"] == 7 and enc.config["n_classes"] == 3 and enc.config["arch"] == "tiny32"
    with pytest.raises(ValueError, match="unknown encoder architecture"):
        Encoder.from_preset("nope")
    with pytest.raises(ValueError, match="not 'channels'"):
        Encoder.from_preset("tiny32", channels=3)


def test_encode_uint8_matches_forward():
    enc = Encoder.from_preset("tiny32")
    images = np.random.RandomState(1).randint(0, 256, (3, 32, 32, 3)).astype(np.uint8)
    ids = np.array([0, 1, 2], np.int32)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        expected = enc(to_model(images), ids).array
    np.testing.assert_allclose(enc.encode(images, ids, batch_size=2), expected, rtol=1e-5, atol=1e-6)


def test_snapshot_round_trip(tmp_path):
    enc = Encoder.from_preset("tiny32")
    enc.l_y.W.array[...] = 0.5
    path = tmp_path / "encoder.npz"
    nc.save_snapshot(enc, path, kind="encoder")
    loaded = nc.load_model(path, kind="encoder")
    assert type(loaded) is Encoder and loaded.config == enc.config
    x, y = _x(2, 32), np.array([1, 2], np.int32)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        np.testing.assert_array_equal(loaded(x, y).array, enc(x, y).array)
    with pytest.raises(SnapshotError, match="holds a encoder, not a classifier"):
        nc.load_model(path, kind="classifier")


def test_extra_kinds():
    from neuralcollage.models import extra_kinds
    kinds = extra_kinds()
    assert set(kinds) >= {"encoder", "classifier", "part_classifier"}
    assert kinds["encoder"][0] is Encoder and "builtin64" in kinds["encoder"][1]
    from neuralcollage.models.classifier import Classifier, PartClassifier
    assert kinds["classifier"][0] is Classifier and kinds["part_classifier"][0] is PartClassifier

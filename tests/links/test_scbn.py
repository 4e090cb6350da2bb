"""Spatial conditional batch normalisation (neuralcollage.links.scbn)."""
import chainer
import numpy as np
import pytest

from neuralcollage.links.scbn import SpatialConditionalBatchNormalization

pytestmark = pytest.mark.core


def test_per_pixel_one_hot_path_is_bit_identical():
    """A one-hot map with two classes, computed per pixel, equals CBN of each class where its class is."""
    rng = np.random.RandomState(7)
    link = SpatialConditionalBatchNormalization(6, 4)
    link.gammas.W.array[...] = rng.normal(1, 0.5, (4, 6))
    link.betas.W.array[...] = rng.normal(0, 0.5, (4, 6))
    link.avg_mean[...] = rng.normal(0, 1, 6)
    link.avg_var[...] = rng.uniform(0.5, 2, 6)
    x = rng.normal(size=(2, 6, 5, 7)).astype(np.float32)
    m = np.zeros((2, 4, 5, 7), np.float32)
    m[:, 1] = 1
    m[:, 1, :, :3] = 0
    m[:, 3, :, :3] = 1
    with chainer.using_config("train", False):
        spatial = link(x, m).array
        cbn1 = link(x, np.array([1, 1], np.int32)).array
        cbn3 = link(x, np.array([3, 3], np.int32)).array
    np.testing.assert_array_equal(spatial[..., 3:], cbn1[..., 3:])
    np.testing.assert_array_equal(spatial[..., :3], cbn3[..., :3])

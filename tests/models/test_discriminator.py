"""Discriminator numerics against the independent reference."""
import chainer
import numpy as np
import pytest

import neuralcollage as nc
from neuralcollage.models.presets import DISCRIMINATOR_PRESETS
import nc_reference as ref

pytestmark = pytest.mark.core


@pytest.mark.parametrize("arch", ["collage256", "collage128"])
def test_discriminator_matches_reference(tmp_path, arch):
    preset = DISCRIMINATOR_PRESETS[arch]
    ch, k = 2, 5
    arrays = ref.random_discriminator_arrays(preset["channels"], ch, k, hidden=preset["hidden"], seed=3)
    path = tmp_path / "dis.npz"
    np.savez(path, **arrays)
    dis = nc.load_discriminator(path, arch=arch, ch=ch, n_classes=k)
    res = 256 if arch == "collage256" else 128
    x = np.random.RandomState(4).uniform(-1, 1, (2, 3, res, res)).astype(np.float32)
    y = np.array([0, 4], np.int32)
    u_before = dis.block2.c1.W_u.copy()
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        score = dis(x, y).array
        feat = dis.feature_vector(x).array
        scores = dis.class_scores(x).array
    exp_score, exp_feat = ref.discriminator(arrays, x, y, hidden=preset["hidden"])
    np.testing.assert_allclose(feat, exp_feat, rtol=1e-4, atol=1e-4 * np.abs(exp_feat).max())
    np.testing.assert_allclose(score, exp_score, rtol=1e-4, atol=1e-4 * np.abs(exp_score).max())
    np.testing.assert_allclose(scores[[0, 1], [0, 4]], score, rtol=1e-5, atol=1e-4 * np.abs(score).max())
    np.testing.assert_array_equal(dis.block2.c1.W_u, u_before)

"""Manifold projection on tiny32 models: loss, encoder start, restarts, early stop, untouched parameters."""
import chainer
import chainer.gradient_check
import numpy as np
import pytest

import neuralcollage as nc
from neuralcollage import inversion
from neuralcollage.inversion import (PyramidFeatures, feature_network, guess_source_class, project,
                                    projection_loss, rank_source_classes)
from neuralcollage.io import from_model, to_model
from neuralcollage.models.biggan import BigGANDeep
from nc_testing import random_class_tables




@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny32")
    np.random.seed(0)
    nc.save_snapshot(random_class_tables(nc.Generator.from_preset("tiny32")), folder / "generator.npz",
                     kind="generator")
    nc.save_snapshot(nc.Discriminator.from_preset("tiny32"), folder / "discriminator.npz", kind="discriminator")
    return nc.load_generator(folder / "generator.npz"), nc.load_discriminator(folder / "discriminator.npz")


def generate(gen, z, label):
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        return gen(z, label).array


@pytest.fixture(scope="module")
def target(models):
    gen, _ = models
    z = gen.sample_z(1, seed=11)
    return z, 2, generate(gen, z, 2)


class FakeEncoder(chainer.Link):
    """Returns fixed latents and records what it was called with."""

    def __init__(self, z):
        super().__init__()
        self.z, self.calls = z, []

    def forward(self, x, y):
        self.calls.append((x.shape, np.asarray(y).tolist(), chainer.config.train))
        return chainer.Variable(self.z.copy())


def test_loss_decreases_from_random_start(models, target):
    gen, dis = models
    _, label, x = target
    result = project(gen, dis, x, label, steps=25, seed=3)
    assert len(result.losses) == 26
    # the optimum of a generated target is -1 (cosine 1, no pixel error)
    assert result.losses[-1] + 1 < 0.3 * (result.losses[0] + 1)
    start = generate(gen, gen.sample_z(1, seed=3), label)
    assert np.mean((result.image - x) ** 2) < 0.5 * np.mean((start - x) ** 2)
    assert result.loss == pytest.approx(min(result.losses), abs=1e-6)
    assert result.z.shape == (1, gen.dim_z) and result.z.dtype == np.float32
    assert result.image.shape == (1, 3, 32, 32) and result.image.dtype == np.float32
    np.testing.assert_allclose(result.image, generate(gen, result.z, label), atol=1e-5)
    assert projection_loss(gen, dis, result.z, x, label).sum() == pytest.approx(result.loss, abs=1e-5)


def test_uint8_hwc_input_matches_model_layout(models, target):
    gen, dis = models
    _, label, x = target
    photo = from_model(x)[0]
    a = project(gen, dis, photo, label, steps=2, seed=1)
    b = project(gen, dis, to_model(photo), label, steps=2, seed=1)
    np.testing.assert_array_equal(a.z, b.z)


def test_encoder_initialisation_is_used(models, target):
    gen, dis = models
    z, label, x = target
    encoder = FakeEncoder(z)
    result = project(gen, dis, x, label, steps=0, encoder=encoder)
    assert encoder.calls == [((1, 3, 32, 32), [label], False)]
    np.testing.assert_array_equal(result.z, z)
    assert result.loss == pytest.approx(-1.0, abs=1e-4)
    longer = project(gen, dis, x, label, steps=3, restarts=2, encoder=FakeEncoder(z), seed=0)
    assert longer.all_losses[0][0] == pytest.approx(-1.0, abs=1e-4)
    assert longer.all_losses[1][0] > -0.99
    assert list(longer.restart) == [0]


def test_restarts_keep_the_best(models, target):
    gen, dis = models
    _, label, x = target
    result = project(gen, dis, x, label, steps=4, restarts=3, seed=5)
    assert len(result.all_losses) == 3
    best = [min(losses) for losses in result.all_losses]
    assert result.loss == pytest.approx(min(best), abs=1e-6)
    assert result.restart[0] == int(np.argmin(best))
    assert result.losses == result.all_losses[int(np.argmin(best))]
    again = project(gen, dis, x, label, steps=4, restarts=3, seed=5)
    np.testing.assert_array_equal(again.z, result.z)
    other = project(gen, dis, x, label, steps=4, restarts=1, seed=6)
    assert not np.array_equal(other.all_losses[0], result.all_losses[0])


def test_callback_reports_every_evaluation(models, target):
    gen, dis = models
    _, label, x = target
    calls = []
    result = project(gen, dis, x, label, steps=3, restarts=2, callback=lambda *a: calls.append(a))
    assert [(s, r) for s, _, r in calls] == [(s, r) for r in range(2) for s in range(4)]
    assert [loss for _, loss, r in calls if r == 1] == result.all_losses[1]


def test_early_stop(models, target):
    gen, dis = models
    _, label, x = target
    result = project(gen, dis, x, label, steps=50, early_stop_patience=2, early_stop_tol=10.0)
    assert len(result.losses) == 3


def test_parameters_and_state_untouched(models, target):
    gen, dis = models
    _, label, x = target
    before = {}
    for prefix, model in (("g", gen), ("d", dis)):
        for name, p in model.namedparams():
            before[prefix + name] = (p.array.copy(), p.grad, None if p.grad is None else p.grad.copy())
        for name, link in model.namedlinks():
            for key in link._persistent:
                before[f"{prefix}{name}/{key}"] = np.array(getattr(link, key), copy=True)
    project(gen, dis, x, label, steps=3, restarts=2, encoder=FakeEncoder(target[0]))
    for prefix, model in (("g", gen), ("d", dis)):
        for name, p in model.namedparams():
            array, grad, grad_copy = before[prefix + name]
            np.testing.assert_array_equal(p.array, array)
            assert p.grad is grad, name
            if grad is not None:
                np.testing.assert_array_equal(p.grad, grad_copy)
        for name, link in model.namedlinks():
            for key in link._persistent:
                np.testing.assert_array_equal(getattr(link, key), before[f"{prefix}{name}/{key}"])
    assert "normalize_weight" not in vars(dis.block1.c1.local_link_hooks["SpectralNormalization"])


def test_frozen_spectral_norm_is_exact(models, target):
    _, dis = models
    x = target[2]
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        plain = dis.feature_vector(x).array
        with inversion.frozen_spectral_norm(dis):
            frozen = dis.feature_vector(x).array
    np.testing.assert_array_equal(plain, frozen)
    with pytest.raises(RuntimeError, match="test mode"):
        with inversion.frozen_spectral_norm(dis):
            pass


def test_batch_samples_are_independent(models):
    gen, dis = models
    z = gen.sample_z(2, seed=4)
    x = generate(gen, z, np.array([1, 3], np.int32))
    start = gen.sample_z(2, seed=9)
    both = project(gen, dis, x, np.array([1, 3]), steps=3, z_init=start)
    one = project(gen, dis, x[1:], 3, steps=3, z_init=start[1:])
    np.testing.assert_allclose(both.z[1:], one.z, rtol=1e-4, atol=1e-5)
    assert both.sample_losses[1] == pytest.approx(one.loss, abs=1e-5)
    assert both.loss == pytest.approx(both.sample_losses.sum())


def test_bad_inputs(models, target):
    gen, dis = models
    _, label, x = target
    with pytest.raises(ValueError, match="32x32"):
        project(gen, dis, np.zeros((16, 16, 3), np.uint8), 0, steps=1)
    with pytest.raises(ValueError, match="class ids"):
        project(gen, dis, x, 7, steps=1)
    with pytest.raises(ValueError, match="restarts"):
        project(gen, dis, x, 0, restarts=0)
    with pytest.raises(ValueError, match="encoder returned"):
        project(gen, dis, x, 0, steps=1, encoder=FakeEncoder(np.zeros((1, 3), np.float32)))


def test_rank_and_guess_source_class(models, target):
    gen, dis = models
    _, label, x = target
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        scores = dis.class_scores(x).array[0]
    ranked = rank_source_classes(dis, x, top=4)
    assert sorted(ranked) == [0, 1, 2, 3]
    assert list(scores[ranked]) == sorted(scores, reverse=True)
    seen = []
    guess = guess_source_class(gen, dis, x, candidates=2, steps=2, callback=lambda *a: seen.append(a))
    assert guess.candidates == ranked[:2]
    assert guess.class_id == min(guess.candidates, key=lambda c: guess.losses[c])
    assert guess.projection.loss == guess.losses[guess.class_id]
    assert [(c, s) for c, s, _ in seen] == [(c, s) for c in ranked[:2] for s in range(3)]


@pytest.mark.gpu
def test_projection_on_gpu_matches_cpu(models, target):
    from neuralcollage.backend import get_device
    gen, dis = models
    _, label, x = target
    start = gen.sample_z(1, seed=8)
    cpu = project(gen, dis, x, label, steps=3, z_init=start)
    device = get_device(0)
    gen_gpu, dis_gpu = gen.copy(mode="copy"), dis.copy(mode="copy")
    gen_gpu.to_device(device)
    dis_gpu.to_device(device)
    gpu = project(gen_gpu, dis_gpu, device.send(x), label, steps=3, z_init=device.send(start))
    assert isinstance(gpu.z, np.ndarray) and isinstance(gpu.image, np.ndarray)
    np.testing.assert_allclose(gpu.all_losses[0], cpu.all_losses[0], atol=1e-3)
    np.testing.assert_allclose(gpu.z, cpu.z, atol=1e-3)


# ----------------------------------------------------------------------------------------------------
# without a discriminator: PyramidFeatures

def tiny_biggan(seed=0):
    """A tiny32 BigGAN-deep (5 classes, dim_z 8) with perturbed weights and statistics (images with contrast)."""
    np.random.seed(seed)  # the initialisers draw from NumPy's global generator
    g = BigGANDeep.from_preset("tiny32")
    rng = np.random.RandomState(seed)
    for p in g.params():
        p.array[...] += rng.normal(0, 0.05, p.shape).astype(np.float32)
    for link in g.links():
        if hasattr(link, "running_means"):
            link.running_means[...] = rng.normal(0, 0.3, link.running_means.shape)
            link.running_vars[...] = 0.5 + rng.uniform(0, 1.5, link.running_vars.shape)
    return g


@pytest.fixture(scope="module")
def biggan():
    return tiny_biggan()


def numpy_pyramid_features(x, *, min_size=4, gradient_weight=2.0, contrast_weight=1.0, eps=1e-4):
    """Independent float64 NumPy computation of :class:`PyramidFeatures` (default settings)."""
    x = np.asarray(x, np.float64)
    n, c = x.shape[:2]
    out = []
    while True:
        h, w = x.shape[2:]
        windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(2, 3))
        contrast = np.sqrt(windows.var(axis=(-2, -1)) + eps)
        parts = [x, gradient_weight * np.diff(x, axis=3), gradient_weight * np.diff(x, axis=2),
                 contrast_weight * contrast]
        out.append(np.concatenate([p.reshape(n, -1) for p in parts], axis=1) / np.sqrt(h * w))
        if min(h, w) // 2 < min_size:
            return np.concatenate(out, axis=1)
        x = x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


def psnr(a, b):
    return 10 * np.log10(4.0 / np.mean((np.asarray(a, np.float64) - b) ** 2))


@pytest.mark.slow
def test_projection_without_discriminator_on_biggan(biggan):
    z_true = biggan.sample_z(1, seed=11)
    x = generate(biggan, z_true, np.array([2], np.int32))
    params = {name: (p.array.copy(), p.grad) for name, p in biggan.namedparams()}
    result = project(biggan, None, x, 2, steps=25, seed=4)
    assert len(result.losses) == 26
    assert result.losses[-1] < result.losses[0]
    assert result.losses[-1] + 1 < 0.5 * (result.losses[0] + 1)  # the optimum of a generated target is -1
    start = generate(biggan, biggan.device.send(np.random.RandomState(4).standard_normal((1, 8)).astype(np.float32)),
                     np.array([2], np.int32))
    assert psnr(result.image, x) > psnr(start, x) + 5  # 16.1 dB -> 23.5 dB
    np.testing.assert_allclose(result.image, generate(biggan, result.z, np.array([2], np.int32)), atol=1e-5)
    assert projection_loss(biggan, None, result.z, x, 2).sum() == pytest.approx(result.loss, abs=1e-5)
    for name, p in biggan.namedparams():
        np.testing.assert_array_equal(p.array, params[name][0])
        assert p.grad is params[name][1], name
    same = project(biggan, PyramidFeatures(), x, 2, steps=3, seed=4)
    np.testing.assert_array_equal(same.losses, result.losses[:4])


def test_projection_without_discriminator_on_sngan(models, target):
    gen, _ = models
    _, label, x = target
    result = project(gen, None, x, label, steps=10, seed=3)
    assert result.losses[-1] < result.losses[0]
    assert np.mean((result.image - x) ** 2) < np.mean((generate(gen, gen.sample_z(1, seed=3), label) - x) ** 2)


def test_pyramid_features_match_numpy():
    rs = np.random.RandomState(0)
    x = rs.uniform(-1, 1, (2, 3, 32, 32)).astype(np.float32)
    net = PyramidFeatures()
    assert [level.shape[2] for level in net.pyramid(x)] == [32, 16, 8, 4]
    assert [level.shape[2] for level in PyramidFeatures(levels=2).pyramid(x)] == [32, 16]
    phi = net.feature_vector(x)
    assert isinstance(phi, chainer.Variable) and phi.dtype == np.float32
    expected = numpy_pyramid_features(x)
    assert phi.shape == expected.shape == (2, sum(3 * (s * s + 2 * s * (s - 1) + (s - 2) ** 2) for s in (32, 16, 8, 4)))
    np.testing.assert_allclose(phi.array, expected, rtol=1e-5, atol=2e-6)
    phi64 = net.feature_vector(x.astype(np.float64))
    assert phi64.dtype == np.float64
    np.testing.assert_allclose(phi64.array, expected, rtol=1e-10, atol=1e-12)


def test_loss_without_discriminator_matches_numpy(biggan):
    x = generate(biggan, biggan.sample_z(2, seed=5), np.array([1, 4], np.int32))
    z = biggan.sample_z(2, seed=6)
    got = projection_loss(biggan, None, z, x, np.array([1, 4]), mse_weight=0.3)
    g = generate(biggan, z, np.array([1, 4], np.int32)).astype(np.float64)
    a, b = numpy_pyramid_features(g), numpy_pyramid_features(x)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    mse = ((g - x) ** 2).reshape(2, -1).mean(1)
    np.testing.assert_allclose(got, -cos + 0.3 * mse, rtol=1e-5, atol=1e-6)
    assert -1 < got[0] < 1 and not np.allclose(got[0], got[1])


def test_pyramid_features_gradient():
    rs = np.random.RandomState(1)
    x = rs.uniform(-1, 1, (2, 3, 8, 8))
    net = PyramidFeatures()
    gy = rs.standard_normal(net.feature_vector(x).shape)
    chainer.gradient_check.check_backward(net.feature_vector, x, gy, dtype=np.float64, eps=1e-6, atol=1e-7,
                                          rtol=1e-6)


def test_pyramid_features_bad_inputs():
    with pytest.raises(ValueError, match="sides"):
        PyramidFeatures().feature_vector(np.zeros((1, 3, 3, 3), np.float32))
    with pytest.raises(ValueError, match="min_size"):
        PyramidFeatures(min_size=2)
    with pytest.raises(ValueError, match="levels"):
        PyramidFeatures(levels=0)
    with pytest.raises(TypeError, match="feature_vector"):
        feature_network(object())
    assert isinstance(feature_network(None), PyramidFeatures)


def test_frozen_spectral_norm_tolerates_networks_without_hooks(biggan):
    with chainer.using_config("train", False):
        for net in (None, PyramidFeatures(), biggan):
            with inversion.frozen_spectral_norm(net) as frozen:
                assert frozen is net


def test_guess_source_class_needs_a_discriminator(biggan):
    x = generate(biggan, biggan.sample_z(1, seed=1), np.array([0], np.int32))
    with pytest.raises(ValueError, match="source label.*5 classes"):
        guess_source_class(biggan, None, x)
    with pytest.raises(ValueError, match="discriminator"):
        rank_source_classes(None, x)


@pytest.mark.gpu
def test_projection_without_discriminator_on_gpu_matches_cpu(biggan):
    from neuralcollage.backend import get_device
    x = generate(biggan, biggan.sample_z(1, seed=11), np.array([2], np.int32))
    start = biggan.sample_z(1, seed=8)
    cpu = project(biggan, None, x, 2, steps=3, z_init=start)
    device = get_device(0)
    gen_gpu = biggan.copy(mode="copy")
    gen_gpu.to_device(device)
    gpu = project(gen_gpu, None, device.send(x), 2, steps=3, z_init=device.send(start))
    np.testing.assert_allclose(gpu.all_losses[0], cpu.all_losses[0], atol=1e-3)
    np.testing.assert_allclose(gpu.z, cpu.z, atol=1e-3)

"""The CPU fast path (neuralcollage.links.fastconv) against Chainer's standard functions.

Every fast function is compared with the composition of standard Chainer functions it replaces: forward
output and the gradients with respect to every input (input, weights, bias, gamma, beta), within 1e-4
relative to the largest reference value, on odd sizes and batch sizes, with the work split serially and
over two threads, in single and several im2col strips. Then the links, blocks and whole models, fast
against not fast, and the constant-parameter mode.
"""
import copy

import chainer
import chainer.functions as F
import numpy as np
import pytest

import neuralcollage as nc
from neuralcollage.links import fastconv
from neuralcollage.links.blocks import DiscriminatorBlock, GeneratorBlock, OptimizedDiscriminatorBlock
from neuralcollage.links.scbn import SpatialConditionalBatchNormalization
from neuralcollage.train.common import seeded_initialization


@pytest.fixture(autouse=True)
def fixed_initial_weights():
    """The models here draw their weights from ``numpy.random``: fix the draw, so that no test depends on
    which tests ran before it (with some weights a ReLU input lies within rounding of zero, and the two
    paths' summation orders then send the gradient through it on one side only)."""
    with seeded_initialization(0):
        yield

TOL = 1e-4
SHAPES = [(1, 3, 5, 7, 9), (2, 4, 3, 6, 8), (3, 5, 6, 9, 5), (2, 16, 24, 10, 12)]  # n, c_in, c_out, h, w


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def compare(fast, reference, arrays, *, seed=0, exact_forward=False):
    """Run both on copies of ``arrays``; assert forward and all input gradients agree. Returns the outputs."""
    fv = [chainer.Variable(a.copy()) for a in arrays]
    rv = [chainer.Variable(a.copy()) for a in arrays]
    yf, yr = fast(*fv), reference(*rv)
    assert yf.shape == yr.shape and yf.dtype == yr.dtype
    if exact_forward:
        np.testing.assert_array_equal(yf.array, yr.array)
    assert rel_err(yf.array, yr.array) < TOL
    gy = np.random.RandomState(seed).standard_normal(yr.shape).astype(yr.dtype)
    yf.grad, yr.grad = gy.copy(), gy.copy()
    yf.backward()
    yr.backward()
    for i, (a, b) in enumerate(zip(fv, rv)):
        assert a.grad is not None and a.grad.shape == b.grad.shape, f"input {i}"
        assert rel_err(a.grad, b.grad) < TOL, f"gradient of input {i}: {rel_err(a.grad, b.grad)}"
    return yf, yr


@pytest.fixture(params=["serial", "threads", "strips"])
def mode(request, monkeypatch):
    """Serial kernels; two worker threads; two threads and tiny im2col strips (many per image)."""
    monkeypatch.setattr(fastconv, "WORKERS", 1 if request.param == "serial" else 2)
    if request.param != "serial":
        monkeypatch.setattr(fastconv, "PARALLEL_MIN_SIZE", 0)
        monkeypatch.setattr(fastconv, "PARALLEL_MIN_WORK", 0)
    if request.param == "strips":  # and no shifted-window products: every tap convolution builds strips
        monkeypatch.setattr(fastconv, "COL_BYTES", 1024)
        monkeypatch.setattr(fastconv, "SHIFT_MAX_ROWS", 0)
    return request.param


def random(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("shape", SHAPES)
def test_convolution_3x3(shape, mode):
    n, c, o, h, w = shape
    rng = np.random.RandomState(1)
    x, W, b = random(rng, n, c, h, w), random(rng, o, c, 3, 3), random(rng, o)
    compare(lambda x, W, b: fastconv.convolution_2d(x, W, b, pad=1),
            lambda x, W, b: F.convolution_2d(x, W, b, pad=1), [x, W, b])
    compare(lambda x, W: fastconv.convolution_2d(x, W, pad=1), lambda x, W: F.convolution_2d(x, W, pad=1), [x, W])


@pytest.mark.parametrize("shape", SHAPES)
def test_convolution_1x1_and_generic(shape, mode):
    n, c, o, h, w = shape
    rng = np.random.RandomState(2)
    x, W1, b = random(rng, n, c, h, w), random(rng, o, c, 1, 1), random(rng, o)
    compare(lambda x, W, b: fastconv.convolution_2d(x, W, b), lambda x, W, b: F.convolution_2d(x, W, b),
            [x, W1, b])
    W5 = random(rng, o, c, 5, 3)
    compare(lambda x, W, b: fastconv.convolution_2d(x, W, b, pad=2),
            lambda x, W, b: F.convolution_2d(x, W, b, pad=2), [x, W5, b])


@pytest.mark.parametrize("phase_min_pixels", [0, 10 ** 9])
@pytest.mark.parametrize("shape", SHAPES)
def test_upsample_convolution(shape, phase_min_pixels, mode, monkeypatch):
    monkeypatch.setattr(fastconv, "PHASE_MIN_PIXELS", phase_min_pixels)
    n, c, o, h, w = shape
    rng = np.random.RandomState(3)
    x, W, b = random(rng, n, c, h, w), random(rng, o, c, 3, 3), random(rng, o)
    compare(lambda x, W, b: fastconv.upsample_convolution_2d(x, W, b),
            lambda x, W, b: F.convolution_2d(fastconv.upsample_nearest(x), W, b, pad=1), [x, W, b])


@pytest.mark.parametrize("phase_min_pixels", [0, 10 ** 9])
@pytest.mark.parametrize("shape", SHAPES)
def test_convolution_avgpool(shape, phase_min_pixels, mode, monkeypatch):
    monkeypatch.setattr(fastconv, "PHASE_MIN_PIXELS", phase_min_pixels)
    n, c, o, h, w = shape
    rng = np.random.RandomState(4)
    W, b = random(rng, o, c, 3, 3), random(rng, o)
    for hh, ww in [(h - h % 2, w - w % 2), (h, w)]:  # even sizes take the fast path, odd ones fall back
        x = random(rng, n, c, hh, ww)
        compare(lambda x, W, b: fastconv.convolution_2d_avgpool(x, W, b),
                lambda x, W, b: F.average_pooling_2d(F.convolution_2d(x, W, b, pad=1), 2), [x, W, b])


@pytest.mark.parametrize("shape", SHAPES)
def test_pooling_and_upsample_add(shape, mode):
    n, c, _, h, w = shape
    rng = np.random.RandomState(5)
    for hh, ww in [(h - h % 2, w - w % 2), (h, w)]:
        compare(fastconv.average_pooling_2x2, lambda x: F.average_pooling_2d(x, 2), [random(rng, n, c, hh, ww)])
    compare(fastconv.upsample_add, lambda a, s: a + fastconv.upsample_nearest(s),
            [random(rng, n, c, 2 * h, 2 * w), random(rng, n, c, h, w)], exact_forward=True)


@pytest.mark.parametrize("affine", ["channel", "sample", "pixel"])
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_relu_is_bit_identical(shape, affine, mode):
    n, c, _, h, w = shape
    rng = np.random.RandomState(6)
    mean, var = random(rng, c), rng.uniform(0.3, 2, c).astype(np.float32)
    shape = {"channel": (c,), "sample": (n, c), "pixel": (n, c, h, w)}[affine]
    x, gamma, beta = random(rng, n, c, h, w), random(rng, *shape), random(rng, *shape)

    def reference(x, gamma, beta):
        if gamma.ndim == 1:  # the tail BN of the generators: L.BatchNormalization in test mode
            return F.relu(F.fixed_batch_normalization(x, gamma, beta, mean, var, eps=2e-5))
        xhat = F.fixed_batch_normalization(x, np.ones(c, np.float32), np.zeros(c, np.float32), mean, var,
                                           eps=2e-5)
        if gamma.ndim == 2:
            gamma, beta = (F.broadcast_to(F.reshape(v, (n, c, 1, 1)), x.shape) for v in (gamma, beta))
        return F.relu(gamma * xhat + beta)

    compare(lambda x, g, b: fastconv.batch_norm_relu(x, g, b, mean, var, eps=2e-5), reference,
            [x, gamma, beta], exact_forward=True)


def test_fast_path_only_on_numpy_and_when_enabled(monkeypatch):
    x = np.ones((1, 2, 4, 4), np.float32)
    W = np.ones((3, 2, 3, 3), np.float32)
    assert fastconv.enabled_for(x) and fastconv.enabled_for(chainer.Variable(x))
    assert not fastconv.enabled_for(x.astype(np.int32)) and not fastconv.enabled_for(x.astype(np.float16))
    assert fastconv.enabled_for(x.astype(np.float64))
    assert not fastconv.enabled_for(object())
    assert isinstance(fastconv.convolution_2d(x, W, pad=1).creator, fastconv.Convolution2DFunction)
    monkeypatch.setattr(fastconv, "ENABLED", False)
    assert not fastconv.enabled_for(x)
    for y in (fastconv.convolution_2d(x, W, pad=1), fastconv.upsample_convolution_2d(x, W),
              fastconv.convolution_2d_avgpool(x, W), fastconv.average_pooling_2x2(x),
              fastconv.upsample_add(np.ones((1, 2, 8, 8), np.float32), x)):
        assert not type(y.creator).__module__.startswith("neuralcollage")


@pytest.mark.gpu
def test_cupy_arrays_take_the_standard_functions():
    import cupy
    rng = np.random.RandomState(7)
    x, W = random(rng, 2, 3, 6, 6), random(rng, 4, 3, 3, 3)
    for fn, args in [(fastconv.convolution_2d, dict(pad=1)), (fastconv.upsample_convolution_2d, {}),
                     (fastconv.convolution_2d_avgpool, {})]:
        y = fn(cupy.asarray(x), cupy.asarray(W), **args)
        assert isinstance(y.array, cupy.ndarray)
        assert not type(y.creator).__module__.startswith("neuralcollage")
        np.testing.assert_allclose(cupy.asnumpy(y.array), fn(x, W, **args).array, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------------------------ links, blocks
def test_link_modes_match_standard_functions():
    rng = np.random.RandomState(8)
    link = fastconv.Convolution2D(5, 7, 3, pad=1)
    link.b.array[...] = random(rng, 7)
    x = random(rng, 2, 5, 6, 10)
    W, b = link.W.array, link.b.array
    for kwargs, reference in [({}, F.convolution_2d(x, W, b, pad=1)),
                              (dict(upsample=True), F.convolution_2d(fastconv.upsample_nearest(x), W, b, pad=1)),
                              (dict(pool=True), F.average_pooling_2d(F.convolution_2d(x, W, b, pad=1), 2))]:
        assert rel_err(link(x, **kwargs).array, reference.array) < TOL


def _snapshot_grads(link):
    return {name: p.grad.copy() for name, p in link.namedparams() if p.grad is not None}


def _run_block(block, inputs, gy_seed, train):
    xs = [chainer.Variable(a.copy()) if a.dtype.kind == "f" and a.ndim == 4 and i == 0 else a
          for i, a in enumerate(inputs)]
    with chainer.using_config("train", train):
        y = block(*xs)
    y.grad = np.random.RandomState(gy_seed).standard_normal(y.shape).astype(np.float32)
    block.cleargrads()
    y.backward()
    return y.array, xs[0].grad, _snapshot_grads(block)


def _assert_same_block(make_block, inputs, monkeypatch, train):
    fast_block = make_block()
    slow_block = copy.deepcopy(fast_block)
    y1, gx1, g1 = _run_block(fast_block, inputs, 0, train)
    monkeypatch.setattr(fastconv, "ENABLED", False)
    y2, gx2, g2 = _run_block(slow_block, inputs, 0, train)
    assert rel_err(y1, y2) < TOL
    assert rel_err(gx1, gx2) < TOL
    assert set(g1) == set(g2) and g1
    scale = max(np.abs(g).max() for g in g2.values())
    for name in g1:  # a floor for gradients that are zero in exact arithmetic (a conv bias before train BN)
        floor = 1e-2 * scale
        assert np.abs(g1[name] - g2[name]).max() <= TOL * max(np.abs(g2[name]).max(), floor), name
    fast_state, slow_state = _persistents(fast_block), _persistents(slow_block)
    assert set(fast_state) == set(slow_state)
    for name, value in slow_state.items():
        np.testing.assert_allclose(fast_state[name], value, rtol=1e-5, atol=1e-6, err_msg=name)


def _persistents(block):
    return {f"{path}/{name}": np.asarray(getattr(link, name), np.float64)
            for path, link in block.namedlinks() for name in link._persistent}


def _randomize_scbn(block, rng):
    for bn in (block.b1, block.b2):
        bn.gammas.W.array[...] = rng.normal(1, 0.3, bn.gammas.W.shape)
        bn.betas.W.array[...] = rng.normal(0, 0.3, bn.betas.W.shape)
        bn.avg_mean[...] = rng.normal(0, 0.3, bn.size)
        bn.avg_var[...] = rng.uniform(0.5, 2, bn.size)
    for conv in (block.c1, block.c2, block.c_sc):
        conv.b.array[...] = rng.normal(0, 0.1, conv.b.shape)


@pytest.mark.parametrize("train", [False, True])
@pytest.mark.parametrize("condition", ["ids", "maps"])
def test_generator_block_fast_equals_standard(train, condition, monkeypatch):
    rng = np.random.RandomState(9)
    n, cin, cout, k, h, w = 3, 6, 5, 4, 5, 7
    x = random(rng, n, cin, h, w)
    if condition == "ids":
        c1 = c2 = np.array([0, 3, 1], np.int32)
    else:
        c1 = rng.dirichlet(np.ones(k), (n, h, w)).transpose(0, 3, 1, 2).astype(np.float32)
        c2 = rng.dirichlet(np.ones(k), (n, 2 * h, 2 * w)).transpose(0, 3, 1, 2).astype(np.float32)

    def make():
        block = GeneratorBlock(cin, cout, k)
        _randomize_scbn(block, np.random.RandomState(10))
        return block
    _assert_same_block(make, [x, c1, c2], monkeypatch, train)


@pytest.mark.parametrize("kind", ["optimized", "down", "down_hidden", "same"])
def test_discriminator_blocks_fast_equal_standard(kind, monkeypatch):
    rng = np.random.RandomState(11)
    if kind == "optimized":
        x, make = random(rng, 2, 3, 10, 6), lambda: OptimizedDiscriminatorBlock(3, 5)
    elif kind == "down":
        x, make = random(rng, 3, 4, 6, 8), lambda: DiscriminatorBlock(4, 6)
    elif kind == "down_hidden":
        x, make = random(rng, 1, 4, 8, 8), lambda: DiscriminatorBlock(4, 6, hidden_channels=4)
    else:
        x, make = random(rng, 2, 5, 3, 5), lambda: DiscriminatorBlock(5, 5, downsample=False)
    _assert_same_block(make, [x], monkeypatch, train=False)
    _assert_same_block(make, [x], monkeypatch, train=True)


def test_scbn_fused_relu_is_bit_identical_to_forward_then_relu():
    rng = np.random.RandomState(12)
    link = SpatialConditionalBatchNormalization(6, 4)
    link.gammas.W.array[...] = rng.normal(1, 0.5, (4, 6))
    link.betas.W.array[...] = rng.normal(0, 0.5, (4, 6))
    link.avg_mean[...] = rng.normal(0, 1, 6)
    link.avg_var[...] = rng.uniform(0.5, 2, 6)
    x = random(rng, 2, 6, 5, 7)
    soft = rng.dirichlet(np.ones(4), (2, 5, 7)).transpose(0, 3, 1, 2).astype(np.float32)
    with chainer.using_config("train", False):
        for cond in (np.array([1, 3], np.int32), soft[:, :, 0, 0].copy(), soft):
            fused = link(x, cond, relu=True)
            assert isinstance(fused.creator, fastconv.BatchNormReLU)
            np.testing.assert_array_equal(fused.array, F.relu(link(x, cond)).array)


# ---------------------------------------------------------------------------------------- whole models
def _maps(gen, n, rng):
    return [rng.dirichlet(np.ones(gen.n_classes), (n, r, r)).transpose(0, 3, 1, 2).astype(np.float32)
            for r in gen.class_map_resolutions]


def _gen_and_grad(gen, z, y, blend=None):
    zv = chainer.Variable(z.copy())
    with chainer.using_config("train", False):
        if blend is None:
            x = gen(zv, y)
        else:
            x = gen.blend([zv, chainer.Variable(blend[0])], y, blend[1])
    loss = F.sum(x * np.random.RandomState(13).standard_normal(x.shape).astype(np.float32))
    gen.cleargrads()
    loss.backward()
    return x.array, zv.grad


@pytest.mark.parametrize("arch, overrides", [  # collage256's 7-block plan at 64 px keeps the reference quick
    ("tiny32", {}), ("collage256", dict(ch=1, n_classes=3, dim_z=8, bottom_width=1))])
def test_generator_fast_equals_standard(arch, overrides, monkeypatch):
    gen = nc.Generator.from_preset(arch, **overrides)
    rng = np.random.RandomState(14)
    for link in gen.links():
        if isinstance(link, SpatialConditionalBatchNormalization):
            link.avg_mean[...] = rng.normal(0, 0.3, link.size)
            link.avg_var[...] = rng.uniform(0.5, 2, link.size)
    n = 2
    z = gen.sample_z(n, seed=0)
    blend_maps = [rng.uniform(0, 1, (n, 3, r, r)).astype(np.float32) for r in gen.blend_resolutions]
    cases = [np.array([0, gen.n_classes - 1], np.int32), _maps(gen, n, rng)]
    fast = [_gen_and_grad(gen, z, y) for y in cases] + [_gen_and_grad(gen, z, 1, (z[::-1].copy(), blend_maps))]
    monkeypatch.setattr(fastconv, "ENABLED", False)
    slow = [_gen_and_grad(gen, z, y) for y in cases] + [_gen_and_grad(gen, z, 1, (z[::-1].copy(), blend_maps))]
    for (xf, gf), (xs, gs) in zip(fast, slow):
        assert rel_err(xf, xs) < TOL
        assert rel_err(gf, gs) < TOL


def test_discriminator_fast_equals_standard(monkeypatch):
    dis = nc.Discriminator.from_preset("tiny32")
    x = np.random.RandomState(15).uniform(-1, 1, (3, 3, 32, 32)).astype(np.float32)

    def run():
        xv = chainer.Variable(x.copy())
        with chainer.using_config("train", False):
            f = dis.feature_vector(xv)
            score = dis(x, np.array([0, 1, 3], np.int32))
        F.sum(f * f).backward()
        return f.array, xv.grad, score.array
    fast = run()
    monkeypatch.setattr(fastconv, "ENABLED", False)
    for a, b in zip(fast, run()):
        assert rel_err(a, b) < TOL


def _projection_step(gen, dis, z, target):
    zv = chainer.Variable(z.copy())
    x = gen(zv, np.array([1], np.int32))
    f = dis.feature_vector(x)
    ft = dis.feature_vector(target).array
    loss = -F.sum(F.normalize(f) * (ft / np.linalg.norm(ft))) + 0.2 * F.mean_squared_error(x, target)
    gen.cleargrads()
    dis.cleargrads()
    loss.backward()
    return zv.grad, float(loss.array)


def test_constant_parameters_give_input_gradients_only_and_cache():
    gen = nc.Generator.from_preset("tiny32")
    dis = nc.Discriminator.from_preset("tiny32")
    z = gen.sample_z(1, seed=1)
    target = np.random.RandomState(16).uniform(-1, 1, (1, 3, 32, 32)).astype(np.float32)
    u_before = dis.block2.c1.W_u.copy()
    with chainer.using_config("train", False):
        grad, loss = _projection_step(gen, dis, z, target)
        assert gen.block2.c1.W.grad is not None and dis.block2.c1.W.grad is not None
        with fastconv.constant_parameters():
            assert fastconv.parameters_constant()
            for _ in range(2):
                cgrad, closs = _projection_step(gen, dis, z, target)
                assert all(p.grad is None for p in gen.params()) and all(p.grad is None for p in dis.params())
                assert rel_err(cgrad, grad) < TOL and abs(closs - loss) <= 1e-5 * abs(loss)
            assert fastconv._CACHE
            cached = dict(fastconv._CACHE)
            _projection_step(gen, dis, z, target)
            assert all(fastconv._CACHE[k][1] is v[1] for k, v in cached.items())
        assert not fastconv._CACHE and not fastconv.parameters_constant()
    np.testing.assert_array_equal(dis.block2.c1.W_u, u_before)


def test_constant_parameters_cache_is_dropped_on_exit():
    gen = nc.Generator.from_preset("tiny32")
    z = gen.sample_z(1, seed=2)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        with fastconv.constant_parameters():
            before = gen(z, 0).array
        gen.block3.c1.W.array *= 2  # parameters may change between contexts
        with fastconv.constant_parameters():
            after = gen(z, 0).array
        expected = gen(z, 0).array
    assert np.abs(after - before).max() > 1e-4
    assert rel_err(after, expected) < TOL


def _manual_blend(gen, zs, y, maps):
    """Feature blending stream by stream (DESIGN.md section 1), every stream through every block."""
    s, n = len(zs), zs[0].shape[0]
    conds = gen.class_conditions(y, n)

    def mix(hs, target, m):
        out = sum(F.broadcast_to(m[:, i:i + 1], h.shape) * h for i, h in enumerate(hs))
        return out if target is None else out + F.broadcast_to(m[:, s:s + 1], target.shape) * target

    streams = [gen._bottom(z) for z in zs]
    target = mix(streams, None, maps[0])
    for b, block in enumerate(gen.blocks):
        streams = [block(h, conds[2 * b], conds[2 * b + 1]) for h in streams]
        target = mix(streams, block(target, conds[2 * b], conds[2 * b + 1]), maps[b + 1])
    return gen._tail(target)


def test_blending_skips_the_target_only_where_it_has_no_weight():
    gen = nc.Generator.from_preset("tiny32")
    rng = np.random.RandomState(17)
    zs = [gen.sample_z(2, seed=3), gen.sample_z(2, seed=4)]
    maps = [rng.uniform(0, 1, (2, 3, r, r)).astype(np.float32) for r in gen.blend_resolutions]
    for layer in (1, 3):
        maps[layer][:, 2] = 0  # the target stream's block output is discarded at these layers
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        for y in (1, _maps(gen, 2, rng)):
            assert rel_err(gen.blend(zs, y, maps).array, _manual_blend(gen, zs, y, maps).array) < TOL


def test_float64_inputs_stay_float64():
    rng = np.random.RandomState(18)
    x, W, b = (rng.standard_normal(s) for s in [(2, 3, 6, 8), (4, 3, 3, 3), (4,)])
    for fast, reference in [
            (lambda x, W, b: fastconv.convolution_2d(x, W, b, pad=1), lambda x, W, b: F.convolution_2d(x, W, b, pad=1)),
            (fastconv.upsample_convolution_2d,
             lambda x, W, b: F.convolution_2d(fastconv.upsample_nearest(x), W, b, pad=1)),
            (fastconv.convolution_2d_avgpool,
             lambda x, W, b: F.average_pooling_2d(F.convolution_2d(x, W, b, pad=1), 2))]:
        y, _ = compare(fast, reference, [x, W, b])
        assert y.dtype == np.float64 and isinstance(y.creator, function_nodes())


def function_nodes():
    return (fastconv.Convolution2DFunction, fastconv.UpsampleConvolution2DFunction,
            fastconv.Convolution2DAvgPoolFunction)

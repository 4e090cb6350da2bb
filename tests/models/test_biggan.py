"""BigGANDeep: sCBN and feature blending (against direct PyTorch implementations on the reference modules
when PyTorch is installed; slow, as importing PyTorch takes seconds: ``--runslow``), exact one-hot reproduction,
gradients, geometry, validation."""
import chainer
import numpy
import pytest

import biggan_reference as bref
from neuralcollage import maps as M
from neuralcollage.models.biggan import BIGGAN_PRESETS, BigGANDeep
from neuralcollage.snapshot import load_state, read_config, read_npz, save_snapshot

K = 5


def random_tiny(seed=0):
    """``tiny32`` with every statistic randomised and attention switched on (no PyTorch needed)."""
    G = BigGANDeep.from_preset("tiny32")
    rs = numpy.random.RandomState(seed)
    for _, link in G.namedlinks():
        if hasattr(link, "running_means"):
            link.running_means[...] = 0.3 * rs.standard_normal(link.running_means.shape)
            link.running_vars[...] = 0.5 + 1.5 * rs.random_sample(link.running_vars.shape)
    for name, p in sorted(G.namedparams()):
        fan_in = int(numpy.prod(p.shape[1:])) if p.ndim > 1 else 1
        p.array[...] = rs.standard_normal(p.shape) * (0.5 / numpy.sqrt(fan_in) if p.ndim > 1 else 0.1)
    G.attention.gamma.array[...] = 0.7
    return G


@pytest.fixture(scope="module")
def G():
    return random_tiny()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("pytorch_pretrained_biggan")
    from neuralcollage.convert import convert_biggan
    folder = tmp_path_factory.mktemp("biggan") / "ckpt"
    model = bref.make_checkpoint(str(folder), seed=3)
    out = folder.parent / "converted.npz"
    convert_biggan(folder, out)
    arrays = read_npz(out)
    conv = BigGANDeep(**read_config(arrays)["config"])
    load_state(conv, arrays)
    return model, conv


def two_class_map(n=2, size=32, a=1, b=3, seed=0):
    """A soft left/right collage of classes ``a`` and ``b`` (with a per-sample boundary)."""
    rs = numpy.random.RandomState(seed)
    xs = numpy.linspace(-1, 1, size)[None, None, :]
    shift = rs.uniform(-0.3, 0.3, size=(n, 1, 1))
    right = 1 / (1 + numpy.exp(-(xs - shift) * 8))
    right = numpy.broadcast_to(right, (n, size, size))
    m = numpy.zeros((n, K, size, size), dtype=numpy.float32)
    m[:, a] = 1 - right
    m[:, b] = right
    return m


# ---------------------------------------------------------------- geometry and API
def test_layer_geometry(G):
    assert G.resolution == 32
    assert G.n_class_layers == 21 == len(G.class_map_resolutions) == len(G.class_layer_names)
    assert G.class_map_resolutions[:9] == [4, 4, 4, 4, 4, 4, 4, 8, 8]
    assert G.class_layer_names[:3] == ["gen_z", "block0/bn_0", "block0/bn_1"]
    assert G.blend_resolutions == [4, 4, 8, 8, 16, 32] and G.n_blend_layers == 6
    layers = BIGGAN_PRESETS["biggan-deep-128"]["layers"]
    assert 4 * 2 ** sum(u for u, _, _ in layers) == 128


def test_images_shape_range_and_truncation_default(G):
    z = G.sample_z(2, seed=1)
    x = G(z=z, y=numpy.array([0, 4], dtype=numpy.int32))
    assert x.shape == (2, 3, 32, 32) and x.dtype == numpy.float32
    assert float(abs(x.array).max()) <= 1.0
    numpy.testing.assert_array_equal(x.array, G(z, numpy.array([0, 4]), truncation=1.0).array)
    G.truncation = 0.5
    try:
        numpy.testing.assert_array_equal(G(z, 1).array, G(z, 1, truncation=0.5).array)
    finally:
        G.truncation = 1.0


def test_sample_z_truncated_and_seeded(G):
    z = G.sample_z(50, seed=3, truncation=0.4)
    assert z.shape == (50, 8) and z.dtype == numpy.float32
    assert float(numpy.abs(z).max()) <= 0.8 + 1e-6
    numpy.testing.assert_array_equal(z, G.sample_z(50, seed=3, truncation=0.4))
    assert not numpy.array_equal(z, G.sample_z(50, seed=4, truncation=0.4))


def test_snapshot_round_trip(G, tmp_path):
    path = tmp_path / "g.npz"
    save_snapshot(G, path, kind="biggan_generator")
    arrays = read_npz(path)
    record = read_config(arrays)
    assert record["kind"] == "biggan_generator"
    H = BigGANDeep(**record["config"])
    load_state(H, arrays)
    z = G.sample_z(2, seed=0)
    numpy.testing.assert_array_equal(G(z, 2).array, H(z, 2).array)


# ---------------------------------------------------------------- one-hot reproduction (exact)
def test_one_hot_uniform_maps_reproduce_the_plain_call(G):
    z = G.sample_z(3, seed=2)
    ids = numpy.array([0, 3, 4], dtype=numpy.int32)
    plain = G(z, ids, truncation=0.6).array
    one = M.one_hot_map(ids, K, 32)
    numpy.testing.assert_array_equal(G(z, one, truncation=0.6).array, plain)
    per_layer = [M.one_hot_map(ids, K, r) for r in G.class_map_resolutions]
    numpy.testing.assert_array_equal(G(z, per_layer, truncation=0.6).array, plain)
    numpy.testing.assert_array_equal(G(z, numpy.eye(K, dtype=numpy.float32)[ids], truncation=0.6).array, plain)


def test_uniform_soft_map_equals_class_vectors(G):
    z = G.sample_z(2, seed=5)
    w = numpy.array([[0.3, 0, 0.7, 0, 0], [0, 0.5, 0, 0.25, 0.25]], dtype=numpy.float32)
    vec = G(z, w).array
    per_layer = [numpy.broadcast_to(w[:, :, None, None], (2, K, r, r)).copy() for r in G.class_map_resolutions]
    numpy.testing.assert_array_equal(G(z, per_layer).array, vec)
    uniform = numpy.broadcast_to(w[:, :, None, None], (2, K, 32, 32)).copy()
    numpy.testing.assert_allclose(G(z, uniform).array, vec, atol=1e-6)  # area resizing rounds soft weights
    assert numpy.abs(vec - G(z, numpy.array([2, 1])).array).max() > 1e-3


def test_map_on_some_layers_changes_only_from_there(G):
    z = G.sample_z(2, seed=6)
    collage = two_class_map()
    late = M.layer_maps(collage, G.class_map_resolutions, layers="13-", base=1)
    out = G(z, late).array
    plain = G(z, 1).array
    assert numpy.abs(out - plain).max() > 1e-3
    left = G(z, 1).array[..., :4]
    assert numpy.abs(out[..., :4] - left).max() < numpy.abs(out[..., -4:] - plain[..., -4:]).max()


# ---------------------------------------------------------------- against direct PyTorch implementations
@pytest.mark.slow
def test_reference_plain_call_through_direct_implementation(reference):
    model, conv = reference
    z = numpy.random.RandomState(0).standard_normal((2, 8)).astype(numpy.float32)
    ids = numpy.array([1, 4])
    layer = [M.one_hot_map(ids, K, r) for r in conv.class_map_resolutions]
    direct = bref.spatial_forward(model, z, layer, 0.37)
    assert numpy.abs(direct - bref.reference_images(model, z, ids, 0.37)).max() < 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("truncation", [1.0, 0.45])
def test_scbn_matches_per_pixel_reference(reference, truncation):
    model, conv = reference
    z = numpy.random.RandomState(1).standard_normal((2, 8)).astype(numpy.float32)
    layer = M.layer_maps(two_class_map(), conv.class_map_resolutions, layers="all")
    ref = bref.spatial_forward(model, z, layer, truncation)
    out = conv(z, layer, truncation=truncation).array
    assert numpy.abs(out - ref).max() < 1e-4
    one_map = conv(z, two_class_map(), truncation=truncation).array
    numpy.testing.assert_allclose(one_map, out, atol=1e-6)
    plain = bref.reference_images(model, z, numpy.array([1, 1]), truncation)
    assert numpy.abs(ref - plain).max() > 1e-2


@pytest.mark.slow
def test_mixed_per_layer_conditions_match_reference(reference):
    model, conv = reference
    z = numpy.random.RandomState(2).standard_normal((2, 8)).astype(numpy.float32)
    collage = two_class_map(a=0, b=2, seed=1)
    res = conv.class_map_resolutions
    conds, maps = [], []
    for i, r in enumerate(res):
        if i % 3 == 0:
            conds.append(numpy.array([4, 3], dtype=numpy.int32))
            maps.append(M.one_hot_map(numpy.array([4, 3]), K, r))
        else:
            m = M.resize_map(collage, r)
            conds.append(m)
            maps.append(m)
    ref = bref.spatial_forward(model, z, maps, 0.8)
    assert numpy.abs(conv(z, conds, truncation=0.8).array - ref).max() < 1e-4


@pytest.mark.slow
def test_blend_matches_streamwise_reference(reference):
    model, conv = reference
    rs = numpy.random.RandomState(3)
    zs = [rs.standard_normal((2, 8)).astype(numpy.float32) for _ in range(2)]
    mask = numpy.zeros((32, 32), numpy.float32)
    mask[8:24, 16:] = 1
    blend = M.blend_maps_from_mask(mask, n_streams=2, stream=1, resolutions=conv.blend_resolutions,
                                   layers="1-4", feather=1.0)
    blend = [numpy.broadcast_to(b, (2,) + b.shape[1:]).copy() for b in blend]
    collage = two_class_map(a=2, b=4, seed=2)
    layer = M.layer_maps(collage, conv.class_map_resolutions, layers="all")
    ref = bref.blend_forward(model, zs, layer, blend, 0.6)
    out = conv.blend(zs, layer, blend, truncation=0.6).array
    assert numpy.abs(out - ref).max() < 1e-4
    assert numpy.abs(out - conv(zs[0], layer, truncation=0.6).array).max() > 1e-2


# ---------------------------------------------------------------- feature blending (no PyTorch needed)
def _blend_on(G, s, stream, n=2):
    return [numpy.eye(s + 1, dtype=numpy.float32)[stream][None, :, None, None]
            * numpy.ones((n, 1, r, r), numpy.float32) for r in G.blend_resolutions]


def test_blend_all_weight_on_one_stream_reproduces_it(G):
    zs = [G.sample_z(2, seed=s) for s in (10, 11, 12)]
    ids = numpy.array([2, 0], dtype=numpy.int32)
    for i in range(3):
        out = G.blend(zs, ids, _blend_on(G, 3, i), truncation=0.7).array
        numpy.testing.assert_allclose(out, G(zs[i], ids, truncation=0.7).array, atol=1e-5)


def test_blend_keeps_target_after_layer0_and_drops_unused_streams(G):
    zs = [G.sample_z(2, seed=s) for s in (20, 21)]
    maps = _blend_on(G, 2, 2)
    maps[0] = _blend_on(G, 2, 1)[0]
    numpy.testing.assert_allclose(G.blend(zs, 3, maps).array, G(zs[1], 3).array, atol=1e-5)


def test_blend_with_per_pixel_class_map_and_spatial_blend(G):
    zs = [G.sample_z(2, seed=s) for s in (30, 31)]
    mask = numpy.zeros((32, 32), numpy.float32)
    mask[:, :16] = 1
    blend = M.blend_maps_from_mask(mask, n_streams=2, stream=1, resolutions=G.blend_resolutions, layers="2-")
    blend = [numpy.broadcast_to(b, (2,) + b.shape[1:]).copy() for b in blend]
    out = G.blend(zs, two_class_map(), blend).array
    base = G(zs[0], two_class_map()).array
    assert out.shape == (2, 3, 32, 32)
    assert numpy.abs(out - base)[..., 20:].mean() < numpy.abs(out - base)[..., :12].mean()


def test_blend_validation(G):
    zs = [G.sample_z(2, seed=0)]
    with pytest.raises(ValueError, match="blend maps"):
        G.blend(zs, 0, _blend_on(G, 1, 0)[:-1])
    bad = _blend_on(G, 1, 0)
    bad[2] = bad[2][:, :, :4, :4]
    with pytest.raises(ValueError, match="blend map 2 has shape"):
        G.blend(zs, 0, bad)


# ---------------------------------------------------------------- gradients (projection)
@pytest.mark.parametrize("kind", ["ids", "map", "blend"])
def test_gradient_reaches_z_only(G, kind):
    z = chainer.Variable(G.sample_z(2, seed=7))
    if kind == "blend":
        z2 = chainer.Variable(G.sample_z(2, seed=8))
        mask = numpy.zeros((32, 32), numpy.float32)
        mask[:, 16:] = 1
        bl = M.blend_maps_from_mask(mask, n_streams=2, stream=1, resolutions=G.blend_resolutions)
        bl = [numpy.broadcast_to(b, (2,) + b.shape[1:]).copy() for b in bl]
        x = G.blend([z, z2], 1, bl)
    else:
        x = G(z, numpy.array([1, 2]) if kind == "ids" else two_class_map())
    G.cleargrads()
    chainer.functions.sum(x * x).backward()
    assert z.grad is not None and numpy.isfinite(z.grad).all() and numpy.abs(z.grad).max() > 0
    assert all(p.grad is None for _, p in G.namedparams())

    if kind == "blend":
        def run(v):
            return G.blend([v, z2.array], 1, bl).array
    else:
        y = numpy.array([1, 2]) if kind == "ids" else two_class_map()

        def run(v):
            return G(v, y).array

    def f(v):
        return float((run(v).astype(numpy.float64) ** 2).sum())

    eps = 1e-3
    d = numpy.random.RandomState(0).standard_normal(z.shape).astype(numpy.float32)
    fd = (f(z.array + eps * d) - f(z.array - eps * d)) / (2 * eps)
    assert fd == pytest.approx(float((z.grad * d).sum()), rel=1e-2)


@pytest.mark.parametrize("kind", ["map", "blend"])
def test_fused_per_pixel_cbn_matches_standard_functions(G, kind):
    """The CPU fast path's fused per-pixel CBN against the composition of standard functions: images and
    the gradient reaching ``z`` (``blend``: streams and target in one batch, the map tiled along it)."""
    from neuralcollage.links import fastconv
    layer = M.layer_maps(two_class_map(), G.class_map_resolutions, layers="all")
    z2 = G.sample_z(2, seed=41)
    blend = _blend_on(G, 2, 2)
    blend[0] = _blend_on(G, 2, 0)[0]
    blend[3] = 0.5 * (_blend_on(G, 2, 1)[3] + blend[3])

    def run():
        z = chainer.Variable(G.sample_z(2, seed=40))
        x = G(z, layer, truncation=0.55) if kind == "map" else G.blend([z, z2], layer, blend, truncation=0.55)
        chainer.functions.sum(x * x).backward()
        return x.array, z.grad

    fast = run()
    fastconv.ENABLED = False
    try:
        standard = run()
    finally:
        fastconv.ENABLED = True
    numpy.testing.assert_allclose(fast[0], standard[0], atol=1e-5)
    numpy.testing.assert_allclose(fast[1], standard[1], rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- validation
def test_bad_inputs(G):
    z = G.sample_z(2, seed=0)
    with pytest.raises(ValueError, match="truncation"):
        G(z, 1, truncation=0)
    with pytest.raises(ValueError, match="class ids"):
        G(z, numpy.array([0, 5]))
    with pytest.raises(ValueError, match="21 class layers"):
        G(z, [numpy.array([0, 1])] * 20)
    with pytest.raises(ValueError, match="latents"):
        G(z[:, :4], 1)
    with pytest.raises(ValueError, match="classes"):
        G(z, numpy.ones((2, 4), numpy.float32))
    with pytest.raises(ValueError, match="attention_position"):
        BigGANDeep.from_preset("tiny32", attention_position=7)
    with pytest.raises(ValueError, match="keep or halve"):
        BigGANDeep(layers=[(False, 16, 4), (True, 4, 1)], ch=4, dim_z=8, n_classes=5)
    with pytest.raises(ValueError, match="overrides"):
        BigGANDeep.from_preset("tiny32", bottom_width=8)

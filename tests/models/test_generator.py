"""Generator numerics (sCBN, feature blending, the original calling convention) against the independent
reference; snapshot round trip; GPU against CPU."""
import chainer
import numpy as np
import pytest

import neuralcollage as nc
from neuralcollage.models.presets import DISCRIMINATOR_PRESETS, GENERATOR_PRESETS
import nc_reference as ref

pytestmark = pytest.mark.core

SMALL = {  # official channel plans at small width so the float64 reference stays quick
    "collage256": dict(ch=1, n_classes=5, dim_z=8),
    "collage128": dict(ch=2, n_classes=5, dim_z=8),
    "sngan128": dict(ch=1, n_classes=7, dim_z=8),
    "sngan64": dict(ch=2, n_classes=3, dim_z=8),
}


def write_official_generator(tmp_path, arch, seed=0):
    kw = SMALL[arch]
    arrays = ref.random_generator_arrays(GENERATOR_PRESETS[arch]["channels"], kw["ch"], kw["dim_z"],
                                         kw["n_classes"], seed=seed)
    path = tmp_path / f"{arch}_gen.npz"
    np.savez(path, **arrays)
    return path, arrays


def random_maps(gen, n, rng):
    maps = []
    for res in gen.class_map_resolutions:
        logits = rng.normal(0, 2, (n, gen.n_classes, res, res))
        m = np.exp(logits)
        maps.append((m / m.sum(axis=1, keepdims=True)).astype(np.float32))
    return maps


def one_hot(ids, k):
    return np.eye(k, dtype=np.float32)[ids]


@pytest.fixture(params=list(SMALL))
def official_gen(request, tmp_path):
    arch = request.param
    path, arrays = write_official_generator(tmp_path, arch)
    gen = nc.load_generator(path, arch=arch, **SMALL[arch])
    return gen, arrays


def test_generator_scbn_matches_reference(official_gen):
    gen, arrays = official_gen
    rng = np.random.RandomState(1)
    z = rng.normal(size=(2, gen.dim_z)).astype(np.float32)
    maps = random_maps(gen, 2, rng)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        out = gen(z, maps).array
    expected = ref.generator(arrays, z, maps)
    assert out.shape == (2, 3, gen.resolution, gen.resolution)
    np.testing.assert_allclose(out, expected, atol=1e-4, rtol=0)


def test_generator_class_ids_match_reference(official_gen):
    gen, arrays = official_gen
    z = np.random.RandomState(2).normal(size=(2, gen.dim_z)).astype(np.float32)
    ids = np.array([0, gen.n_classes - 1], dtype=np.int32)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        out = gen(z=z, y=ids).array
    maps = [np.broadcast_to(one_hot(ids, gen.n_classes)[:, :, None, None], (2, gen.n_classes, r, r))
            for r in gen.class_map_resolutions]
    np.testing.assert_allclose(out, ref.generator(arrays, z, maps), atol=1e-4, rtol=0)


def test_feature_blending_matches_reference(official_gen):
    gen, arrays = official_gen
    rng = np.random.RandomState(3)
    zs = rng.normal(size=(2, 2, gen.dim_z)).astype(np.float32)
    maps = random_maps(gen, 2, rng)
    blends = []
    for res in gen.blend_resolutions:
        m = rng.uniform(0, 1, (2, 3, res, res))
        blends.append((m / m.sum(axis=1, keepdims=True)).astype(np.float32))
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        out = gen.blend(list(zs), maps, blends).array
    np.testing.assert_allclose(out, ref.generator(arrays, None, maps, zs=zs, blends=blends), atol=1e-4, rtol=0)


def test_original_calling_convention(official_gen):
    gen, _ = official_gen
    rng = np.random.RandomState(4)
    zs = [rng.normal(size=(1, gen.dim_z)).astype(np.float32) for _ in range(2)]
    maps = random_maps(gen, 1, rng)
    blends = [rng.uniform(0, 1, (1, 3, r, r)).astype(np.float32) for r in gen.blend_resolutions]
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        new = gen.blend(zs, maps, blends).array
        old = gen.spatial_interpolation(zs=zs, weights=[m.transpose(0, 2, 3, 1) for m in maps],
                                        blends=[b.transpose(0, 2, 3, 1) for b in blends]).array
        new_scbn = gen(zs[0], maps).array
        old_scbn = gen.spatial_interpolation(z=zs[0], weights=[m.transpose(0, 2, 3, 1) for m in maps]).array
    np.testing.assert_array_equal(new, old)
    np.testing.assert_array_equal(new_scbn, old_scbn)


@pytest.mark.parametrize("arch", ["collage128", "sngan64"])
def test_one_hot_scbn_is_bit_identical_to_cbn(tmp_path, arch):
    path, _ = write_official_generator(tmp_path, arch)
    gen = nc.load_generator(path, arch=arch, **SMALL[arch])
    z = np.random.RandomState(5).normal(size=(3, gen.dim_z)).astype(np.float32)
    ids = np.array([1, 0, 2], dtype=np.int32)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        cbn = gen(z, ids).array
        other = gen(z, (ids + 1) % gen.n_classes).array
        vec = gen(z, one_hot(ids, gen.n_classes)).array
        uniform = [np.ascontiguousarray(np.broadcast_to(one_hot(ids, gen.n_classes)[:, :, None, None],
                                                        (3, gen.n_classes, r, r)))
                   for r in gen.class_map_resolutions]
        per_layer = gen(z, uniform).array
    np.testing.assert_array_equal(cbn, vec)
    np.testing.assert_array_equal(cbn, per_layer)
    assert not np.array_equal(cbn, other)  # the class reaches the output, so the equalities are not vacuous


def test_swapping_maps_of_equal_resolution_changes_output(official_gen):
    gen, _ = official_gen
    rng = np.random.RandomState(8)
    z = rng.normal(size=(1, gen.dim_z)).astype(np.float32)
    maps = random_maps(gen, 1, rng)
    res = gen.class_map_resolutions
    i, j = next((i, i + 1) for i in range(len(res) - 1) if res[i] == res[i + 1])
    swapped = list(maps)
    swapped[i], swapped[j] = maps[j], maps[i]
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        a = gen(z, maps).array
        b = gen(z, swapped).array
    assert np.abs(a - b).max() > 1e-3


def test_blend_with_all_weight_on_one_stream_equals_plain_generation(official_gen):
    gen, _ = official_gen
    rng = np.random.RandomState(9)
    zs = rng.normal(size=(2, 1, gen.dim_z)).astype(np.float32)
    blends = []
    for res in gen.blend_resolutions:
        m = np.zeros((1, 3, res, res), np.float32)
        m[:, 1] = 1
        blends.append(m)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        blended = gen.blend(list(zs), 0, blends).array
        plain = gen(zs[1], 0).array
    np.testing.assert_allclose(blended, plain, atol=1e-5)


def test_project_snapshot_round_trip_needs_no_arch(tmp_path):
    gen = nc.Generator.from_preset("tiny32")
    path = tmp_path / "g.npz"
    nc.save_snapshot(gen, path, kind="generator")
    loaded = nc.load_generator(path)
    assert loaded.config == gen.config
    z = gen.sample_z(2, seed=0)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        np.testing.assert_array_equal(gen(z, 1).array, loaded(z, 1).array)
    dis = nc.Discriminator.from_preset("tiny32")
    nc.save_snapshot(dis, tmp_path / "d.npz", kind="discriminator")
    assert set(np.load(tmp_path / "d.npz").files) >= {"block1/c1/u", "l_y/u", "l5/W"}
    np.testing.assert_array_equal(nc.load_discriminator(tmp_path / "d.npz").l_y.W_u, dis.l_y.W_u)


@pytest.mark.gpu
def test_gpu_generation_blending_and_discriminator_match_cpu(tmp_path):
    from neuralcollage.backend import to_numpy
    path, _ = write_official_generator(tmp_path, "collage128")
    cpu = nc.load_generator(path, arch="collage128", **SMALL["collage128"])
    gpu = nc.load_generator(path, arch="collage128", device=0, **SMALL["collage128"])
    rng = np.random.RandomState(10)
    z = rng.normal(size=(2, cpu.dim_z)).astype(np.float32)
    maps = random_maps(cpu, 2, rng)
    blends = [rng.uniform(0, 1, (2, 3, r, r)).astype(np.float32) for r in cpu.blend_resolutions]
    zs = [z, rng.normal(size=(2, cpu.dim_z)).astype(np.float32)]
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        np.testing.assert_allclose(to_numpy(gpu(z, maps)), cpu(z, maps).array, atol=1e-4)
        np.testing.assert_allclose(to_numpy(gpu(z, np.array([0, 3], np.int32))),
                                   cpu(z, np.array([0, 3], np.int32)).array, atol=1e-4)
        np.testing.assert_allclose(to_numpy(gpu.blend(zs, maps, blends)), cpu.blend(zs, maps, blends).array,
                                   atol=1e-4)
    p = DISCRIMINATOR_PRESETS["collage128"]
    arrays = ref.random_discriminator_arrays(p["channels"], 2, 5, hidden=p["hidden"])
    np.savez(tmp_path / "d.npz", **arrays)
    d_cpu = nc.load_discriminator(tmp_path / "d.npz", arch="collage128", ch=2, n_classes=5)
    d_gpu = nc.load_discriminator(tmp_path / "d.npz", arch="collage128", ch=2, n_classes=5, device=0)
    x = rng.uniform(-1, 1, (2, 3, 128, 128)).astype(np.float32)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        np.testing.assert_allclose(to_numpy(d_gpu.feature_vector(x)), d_cpu.feature_vector(x).array,
                                   rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("layer", [0, 1, 2, 3])
def test_forward_from_features_is_forward(layer):
    np.random.seed(3)
    gen = nc.Generator.from_preset("tiny32")
    z = gen.sample_z(2, seed=0)
    class_map = np.random.RandomState(1).dirichlet(np.ones(gen.n_classes), size=(2, 32, 32)).transpose(0, 3, 1, 2)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        for y in (np.array([1, 3], np.int32), class_map.astype(np.float32)):
            whole = gen.forward(z, y).array
            h = gen.features(z, y, layer)
            assert h.shape[2:] == (gen.blend_resolutions[layer],) * 2
            np.testing.assert_array_equal(gen.forward_from(h, y, layer).array, whole)

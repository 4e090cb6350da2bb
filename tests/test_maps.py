import cv2
import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuralcollage import backend, maps
from neuralcollage.maps import (blend_maps_from_mask, blend_maps_from_masks, class_map_from_label_image,
                                class_map_from_masks, format_layers, from_original_layout, gaussian_blur,
                                is_spatially_uniform, layer_maps, normalize_map, one_hot_map, parse_layers,
                                resize_map, resize_mask, to_original_layout, uniform_map, validate_map)

RES64 = [4, 8, 8, 16, 16, 32, 32, 64]
BLEND64 = [4, 8, 16, 32, 64]


def random_map(rng, shape):
    return normalize_map(rng.rand(*shape).astype(numpy.float32) + 0.01)


def assert_normalised(m, atol=1e-5):
    assert m.dtype == numpy.float32
    assert (m >= 0).all()
    numpy.testing.assert_allclose(m.sum(axis=1), 1, atol=atol)


# ---------------------------------------------------------------------------- layer selection

@pytest.mark.parametrize("spec, expected", [
    ("all", tuple(range(8))),
    ("ALL", tuple(range(8))),
    (None, tuple(range(8))),
    ("none", ()),
    ("", ()),
    ("  ", ()),
    ("3", (3,)),
    ("0-3", (0, 1, 2, 3)),
    ("4-", (4, 5, 6, 7)),
    ("-3", (0, 1, 2, 3)),
    ("0-2,5,7-", (0, 1, 2, 5, 7)),
    (" 0 - 2 , 5 ", (0, 1, 2, 5)),
    ("5,1,1-2", (1, 2, 5)),
    ("7-7", (7,)),
    (3, (3,)),
    (numpy.int64(3), (3,)),
    ([5, 1, 1], (1, 5)),
    (range(2, 5), (2, 3, 4)),
    (numpy.array([0, 7]), (0, 7)),
    ((), ()),
])
def test_parse_layers(spec, expected):
    assert parse_layers(spec, 8) == expected


@pytest.mark.parametrize("spec", ["8", "0-8", "9-", "-8", [8], [-1], -1, "3-1", "a", "1,,2", "-", "3 5",
                                  "1.5", [1.0], [True], 2.5])
def test_parse_layers_errors(spec):
    with pytest.raises(ValueError, match="valid layers: 0-7") as info:
        parse_layers(spec, 8)
    assert "\n" not in str(info.value)


def test_parse_layers_bad_count():
    with pytest.raises(ValueError, match="n_layers"):
        parse_layers("all", 0)


@pytest.mark.parametrize("indices, n, expected", [
    ([0, 1, 2, 3, 7], 12, "0-3,7"),
    (range(8), 8, "all"),
    ([], 8, "none"),
    ([4, 5, 6, 7], 8, "4-7"),
    ([1, 3, 5], 8, "1,3,5"),
    ([2, 3], 8, "2-3"),
    ("0-2,5,7-", 9, "0-2,5,7-8"),
])
def test_format_layers(indices, n, expected):
    assert format_layers(indices, n) == expected


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1)))))
def test_format_parse_round_trip(case):
    n, layers = case
    text = format_layers(layers, n)
    assert parse_layers(text, n) == tuple(sorted(layers))
    assert format_layers(text, n) == text


_item = st.one_of(
    st.integers(0, 20).map(lambda i: (str(i), {i})),
    st.tuples(st.integers(0, 20), st.integers(0, 20)).map(
        lambda ab: (f"{min(ab)}-{max(ab)}", set(range(min(ab), max(ab) + 1)))),
    st.integers(0, 20).map(lambda i: (f"{i}-", set(range(i, 21)))),
    st.integers(0, 20).map(lambda i: (f"-{i}", set(range(0, i + 1)))),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_item, min_size=1, max_size=5))
def test_parse_layers_matches_reference(items):
    spec = ",".join(text for text, _ in items)
    expected = set().union(*(s for _, s in items))
    assert parse_layers(spec, 21) == tuple(sorted(expected))


# ---------------------------------------------------------------------------- basic maps

def test_one_hot_map():
    m = one_hot_map([2, 0], 3, (4, 5))
    assert m.shape == (2, 3, 4, 5) and m.dtype == numpy.float32
    assert (m[0, 2] == 1).all() and (m[0, :2] == 0).all() and (m[1, 0] == 1).all()
    assert one_hot_map(1, 3, 2).shape == (1, 3, 2, 2)
    assert m.flags.c_contiguous and m.flags.writeable
    with pytest.raises(ValueError, match="0-2"):
        one_hot_map([3], 3, 4)
    with pytest.raises(ValueError):
        one_hot_map([0.5], 3, 4)


def test_uniform_map():
    m = uniform_map([1.0, 3.0, 0.0], (2, 3))
    assert m.shape == (1, 3, 2, 3)
    numpy.testing.assert_allclose(m[0, :, 1, 2], [0.25, 0.75, 0])
    m = uniform_map(numpy.array([[1, 0], [0, 2]], numpy.float32), 4)
    assert m.shape == (2, 2, 4, 4) and (m[1, 1] == 1).all()
    assert uniform_map([0.2, 0.2], 2, normalize=False)[0, 0, 0, 0] == numpy.float32(0.2)
    with pytest.raises(ValueError, match="negative"):
        uniform_map([1.0, -1.0], 4)
    with pytest.raises(ValueError, match="zero total weight"):
        uniform_map([0.0, 0.0], 4)
    with pytest.raises(ValueError, match="NaN"):
        uniform_map([numpy.nan, 1.0], 4)


def test_normalize_map():
    rng = numpy.random.RandomState(0)
    raw = rng.rand(2, 5, 6, 7).astype(numpy.float32) * 3
    raw[0, 1] = -0.5
    m = normalize_map(raw)
    assert_normalised(m)
    assert (m[0, 1] == 0).all()
    numpy.testing.assert_allclose(m[1] * raw[1].sum(axis=0), raw[1], rtol=1e-5)
    assert raw[0, 1, 0, 0] == -0.5  # input untouched


def test_normalize_map_empty_pixels():
    raw = numpy.zeros((1, 3, 2, 2), numpy.float32)
    raw[0, 1, 0, 0] = 2
    with pytest.raises(ValueError, match=r"3 pixels have zero total weight \(first: sample 0, y=0, x=1\)"):
        normalize_map(raw)
    m = normalize_map(raw, fill_class=2)
    assert m[0, :, 0, 0].tolist() == [0, 1, 0]
    assert m[0, :, 1, 1].tolist() == [0, 0, 1]
    with pytest.raises(ValueError, match="fill_class"):
        normalize_map(raw, fill_class=3)
    with pytest.raises(ValueError, match="fill_class"):
        normalize_map(numpy.ones((1, 3, 2, 2)), fill_class=-1)


@pytest.mark.parametrize("bad, match", [
    (numpy.ones((3, 4, 4)), "4-D"),
    (numpy.full((1, 2, 2, 2), numpy.inf), "NaN or infinity"),
    (numpy.full((1, 2, 2, 2), numpy.nan), "NaN or infinity"),
    (numpy.full((1, 2, 2, 2), -numpy.inf), "NaN or infinity"),
])
def test_normalize_map_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        normalize_map(bad)


def test_validate_map():
    m = one_hot_map(0, 3, (100, 80))
    assert validate_map(m, n_classes=3, size=(100, 80), n_samples=1) is m
    assert validate_map(m.astype(numpy.float64)).dtype == numpy.float32
    with pytest.raises(ValueError, match="map is 100x80 but 64x64 is needed"):
        validate_map(m, size=64)
    with pytest.raises(ValueError, match="K=3 channels but 6 are needed"):
        validate_map(m, n_classes=6)
    with pytest.raises(ValueError, match="N=1 samples but 2"):
        validate_map(m, n_samples=2)
    with pytest.raises(ValueError, match=r"4-D.*m\[None\]"):
        validate_map(m[0])
    with pytest.raises(ValueError, match="negative"):
        validate_map(-m)
    with pytest.raises(ValueError, match="NaN"):
        validate_map(m * numpy.nan)


# ---------------------------------------------------------------------------- resizing and blurring

def block_mean_reference(m, h, w):
    n, k, height, width = m.shape
    fy, fx = height // h, width // w
    out = numpy.zeros((n, k, h, w), numpy.float64)
    for i in range(h):
        for j in range(w):
            out[:, :, i, j] = m[:, :, i * fy:(i + 1) * fy, j * fx:(j + 1) * fx].astype(numpy.float64).mean(
                axis=(2, 3))
    return out


@pytest.mark.parametrize("shape, size", [((2, 3, 64, 64), 4), ((1, 4, 64, 32), (8, 8)), ((1, 2, 12, 12), 6),
                                         ((1, 2, 9, 27), (3, 9)), ((1, 1, 8, 8), 1)])
def test_resize_map_block_mean(shape, size):
    rng = numpy.random.RandomState(1)
    m = random_map(rng, shape)
    h, w = (size, size) if isinstance(size, int) else size
    out = resize_map(m, size)
    assert out.shape == shape[:2] + (h, w) and out.dtype == numpy.float32
    numpy.testing.assert_allclose(out, block_mean_reference(m, h, w), rtol=1e-6, atol=1e-7)
    assert_normalised(out)


@pytest.mark.parametrize("src, dst", [((10, 10), (3, 3)), ((64, 48), (5, 7)), ((7, 9), (4, 9))])
def test_resize_map_area_matches_cv2(src, dst):
    rng = numpy.random.RandomState(2)
    m = random_map(rng, (1, 3) + src)
    out = resize_map(m, dst)
    for c in range(3):
        expected = cv2.resize(m[0, c], dst[::-1], interpolation=cv2.INTER_AREA)
        numpy.testing.assert_allclose(out[0, c], expected, atol=1e-6)
    assert_normalised(out)


def test_resize_map_hard_boundary_fractions():
    m = numpy.zeros((1, 2, 8, 8), numpy.float32)
    m[0, 0, :, :3] = 1
    m[0, 1, :, 3:] = 1
    out = resize_map(m, 2)
    numpy.testing.assert_allclose(out[0, 0, 0], [0.75, 0])
    numpy.testing.assert_allclose(out[0, 1, 0], [0.25, 1])


def test_resize_map_upsampling():
    rng = numpy.random.RandomState(3)
    m = random_map(rng, (1, 3, 4, 5))
    nearest = resize_map(m, (8, 15))
    numpy.testing.assert_array_equal(nearest, m.repeat(2, axis=2).repeat(3, axis=3))
    bilinear = resize_map(m, (9, 13), upsample="bilinear")
    for c in range(3):
        expected = cv2.resize(m[0, c], (13, 9), interpolation=cv2.INTER_LINEAR)
        numpy.testing.assert_allclose(bilinear[0, c], expected, atol=1e-6)
    assert_normalised(bilinear)
    mixed = resize_map(m, (2, 10))          # shrink one axis, grow the other
    assert mixed.shape == (1, 3, 2, 10)
    assert_normalised(mixed)


def test_resize_map_same_size_is_a_copy():
    m = one_hot_map(0, 2, 4)
    out = resize_map(m, 4)
    numpy.testing.assert_array_equal(out, m)
    assert out is not m and not numpy.shares_memory(out, m)


@pytest.mark.parametrize("src, dst", [(7, 2), (7, 4), (9, 5), (13, 4), (13, 5)])
@pytest.mark.parametrize("upsample", ["nearest", "bilinear"])
def test_resize_mask_and_map_never_exceed_one(src, dst, upsample):
    mask = numpy.ones((src, src), numpy.float32)
    mask[0, 0] = 0.5  # not uniform: the area weights' float rounding used to give 1.0000002 here
    out = resize_mask(mask, dst, upsample=upsample)
    assert out.dtype == numpy.float32 and out.max() <= 1.0 and out.min() >= 0.0
    assert out.max() == 1.0
    m = numpy.stack([mask, 1 - mask])[None]
    out = resize_map(m, dst, upsample=upsample)
    assert out.max() <= 1.0 and out.min() >= 0.0
    numpy.testing.assert_allclose(out.sum(axis=1), 1, atol=1e-6)


def test_resize_map_clips_to_the_input_range_only():
    rng = numpy.random.RandomState(5)
    m = rng.uniform(-3, 7, (1, 2, 9, 11)).astype(numpy.float32)
    out = resize_map(m, (4, 5))
    assert m.min() <= out.min() and out.max() <= m.max() and out.max() > 1  # not clipped to [0, 1]
    for c in range(2):
        expected = cv2.resize(m[0, c], (5, 4), interpolation=cv2.INTER_AREA)
        numpy.testing.assert_allclose(out[0, c], expected, atol=1e-5)


@pytest.mark.parametrize("size", [(4, 5), (5, 2), (20, 30), 1, (13, 9)])
@pytest.mark.parametrize("upsample", ["nearest", "bilinear"])
def test_resize_map_passes_uniform_maps_through_exactly(size, upsample):
    rng = numpy.random.RandomState(6)
    weights = rng.dirichlet(numpy.ones(4), size=2).astype(numpy.float32)  # per-sample values differ
    m = numpy.ascontiguousarray(numpy.broadcast_to(weights[:, :, None, None], (2, 4, 13, 9)))
    out = resize_map(m, size, upsample=upsample)
    h, w = (size, size) if isinstance(size, int) else size
    assert out.shape == (2, 4, h, w) and out.dtype == numpy.float32 and out.flags.c_contiguous
    numpy.testing.assert_array_equal(out, numpy.broadcast_to(weights[:, :, None, None], out.shape))
    assert not numpy.shares_memory(out, m)
    out[0, 0, 0, 0] = 5  # writable, independent of the input
    assert m[0, 0, 0, 0] == weights[0, 0]
    ones = numpy.ones((1, 1, 7, 7), numpy.float32)
    numpy.testing.assert_array_equal(resize_map(ones, 2, upsample=upsample), numpy.ones((1, 1, 2, 2)))
    numpy.testing.assert_array_equal(resize_mask(numpy.ones((7, 7), bool), 2), numpy.ones((2, 2)))


def test_resize_map_errors():
    with pytest.raises(ValueError, match="4-D"):
        resize_map(numpy.ones((4, 4)), 2)
    with pytest.raises(ValueError, match="upsample"):
        resize_map(numpy.ones((1, 1, 4, 4)), 8, upsample="cubic")
    with pytest.raises(ValueError, match="size"):
        resize_map(numpy.ones((1, 1, 4, 4)), 0)


def test_resize_mask():
    mask = numpy.zeros((8, 8), bool)
    mask[:4] = True
    numpy.testing.assert_allclose(resize_mask(mask, 2), [[1, 1], [0, 0]])
    assert resize_mask(mask, 16).shape == (16, 16)


@pytest.mark.parametrize("sigma", [0.7, 1.1, 2.0, 3.5])
def test_gaussian_blur_matches_cv2(sigma):
    rng = numpy.random.RandomState(4)
    x = rng.rand(1, 2, 37, 29).astype(numpy.float32)
    out = gaussian_blur(x, sigma)
    for c in range(2):
        numpy.testing.assert_allclose(out[0, c], cv2.GaussianBlur(x[0, c], (0, 0), sigma), atol=1e-6)


def test_gaussian_blur_tiny_images_and_zero():
    x = numpy.ones((1, 1, 1, 3), numpy.float32)
    numpy.testing.assert_allclose(gaussian_blur(x, 5.0), x, rtol=1e-6)
    numpy.testing.assert_array_equal(gaussian_blur(x, 0), x)
    numpy.testing.assert_array_equal(gaussian_blur(x, 1e-300), x)   # kernel of size 1, as in cv2
    with pytest.raises(ValueError, match="sigma"):
        gaussian_blur(x, -1)


# ---------------------------------------------------------------------------- class maps from user input

def test_class_map_from_label_image_values():
    labels = numpy.array([[-1, 2, 2], [1, -1, 2]])
    m = class_map_from_label_image(labels, n_classes=4, default_class=3)
    assert m.shape == (1, 4, 2, 3) and m.dtype == numpy.float32
    assert m[0].argmax(axis=0).tolist() == [[3, 2, 2], [1, 3, 2]]
    assert set(numpy.unique(m)) == {0, 1}
    m = class_map_from_label_image(numpy.array([[255, 0]], numpy.uint8), n_classes=2, default_class=1,
                                   ignore=255)
    assert m[0].argmax(axis=0).tolist() == [[1, 0]]


@pytest.mark.parametrize("labels, match", [
    (numpy.array([[0, 4]]), "class 4, outside 0-3"),
    (numpy.array([[0, -2]]), "class -2"),
    (numpy.array([[0.0, 1.0]]), "integer dtype"),
    (numpy.zeros((1, 2, 2), int), "2-D"),
])
def test_class_map_from_label_image_errors(labels, match):
    with pytest.raises(ValueError, match=match):
        class_map_from_label_image(labels, n_classes=4, default_class=0)


def test_class_map_default_class_checked():
    with pytest.raises(ValueError, match="default_class 4"):
        class_map_from_label_image(numpy.zeros((2, 2), int), n_classes=4, default_class=4)


def test_feathering_sums_and_symmetry():
    labels = numpy.full((32, 32), -1)
    labels[8:24, 8:24] = 1
    labels[12:20, 4:28] = 2                    # symmetric under both flips
    m = class_map_from_label_image(labels, n_classes=3, default_class=0, feather=2.5)
    assert_normalised(m)
    numpy.testing.assert_allclose(m, m[:, :, ::-1], atol=1e-6)
    numpy.testing.assert_allclose(m, m[:, :, :, ::-1], atol=1e-6)
    transposed = class_map_from_label_image(labels.T, n_classes=3, default_class=0, feather=2.5)
    numpy.testing.assert_allclose(transposed, m.transpose(0, 1, 3, 2), atol=1e-6)
    soft = (m > 1e-3) & (m < 1 - 1e-3)
    assert soft[0, 1, 8, 16] and soft[0, 0, 8, 16]                # blurred across the edge
    assert m[0, 0, 0, 0] > 0.999 and m[0, 2, 16, 16] > 0.85       # far from edges: nearly hard
    hard = class_map_from_label_image(labels, n_classes=3, default_class=0)
    numpy.testing.assert_allclose(m.mean(axis=(2, 3)), hard.mean(axis=(2, 3)), atol=1e-2)


def test_class_map_from_masks_later_wins_and_soft_mix():
    a = numpy.zeros((4, 4), bool)
    a[:, :2] = True
    b = numpy.zeros((4, 4), numpy.float32)
    b[:2, 1:3] = 1.0
    soft = numpy.full((4, 4), 0.25, numpy.float32)
    m = class_map_from_masks({1: a, 2: b}, n_classes=4, default_class=0)
    assert m[0].argmax(axis=0).tolist() == [[1, 2, 2, 0], [1, 2, 2, 0], [1, 1, 0, 0], [1, 1, 0, 0]]
    m = class_map_from_masks([(1, a), (3, soft)], n_classes=4, default_class=0)
    numpy.testing.assert_allclose(m[0, :, 0, 0], [0, 0.75, 0, 0.25])
    numpy.testing.assert_allclose(m[0, :, 0, 3], [0.75, 0, 0, 0.25])
    assert_normalised(m)
    m = class_map_from_masks([(1, a), (2, a.astype(numpy.uint8)), (1, b)], n_classes=4, default_class=0)
    assert m[0, :, 0, 1].tolist() == [0, 1, 0, 0] and m[0, :, 3, 0].tolist() == [0, 0, 1, 0]


def test_class_map_from_masks_feather():
    mask = numpy.zeros((32, 32), bool)
    mask[8:24, 8:24] = True
    m = class_map_from_masks({5: mask}, n_classes=6, default_class=2, feather=2.0)
    assert m.shape == (1, 6, 32, 32)
    assert_normalised(m)
    numpy.testing.assert_allclose(m, m[:, :, ::-1, ::-1], atol=1e-6)
    assert 0.3 < m[0, 5, 8, 16] < 0.7
    assert (m[0, [0, 1, 3, 4]] == 0).all()


def test_class_map_from_masks_size():
    m = class_map_from_masks({}, n_classes=3, default_class=1, size=(5, 6))
    assert m.shape == (1, 3, 5, 6) and (m[0, 1] == 1).all()
    with pytest.raises(ValueError, match="size="):
        class_map_from_masks({}, n_classes=3, default_class=1)
    with pytest.raises(ValueError, match="mask for class 2 is 100x80 but the map needs 64x64"):
        class_map_from_masks({2: numpy.zeros((100, 80), bool)}, n_classes=3, default_class=0, size=64)
    with pytest.raises(ValueError, match="mask for class 1 is 8x8 but the map needs 4x4"):
        class_map_from_masks([(2, numpy.zeros((4, 4))), (1, numpy.zeros((8, 8)))], n_classes=3,
                             default_class=0)


@pytest.mark.parametrize("mask, match", [
    (numpy.full((4, 4), 255, numpy.uint8), "mask > 127"),
    (numpy.full((4, 4), 1.5), r"\[0, 1\]"),
    (numpy.full((4, 4), -0.1), r"\[0, 1\]"),
    (numpy.full((4, 4), numpy.nan), "NaN"),
    (numpy.zeros((4, 4, 3)), "2-D"),
])
def test_class_map_from_masks_bad_masks(mask, match):
    with pytest.raises(ValueError, match=match):
        class_map_from_masks({1: mask}, n_classes=3, default_class=0)


def test_class_map_from_masks_bad_class():
    with pytest.raises(ValueError, match="valid class"):
        class_map_from_masks({3: numpy.zeros((4, 4))}, n_classes=3, default_class=0)


# ---------------------------------------------------------------------------- per-layer maps

def collage_map():
    labels = numpy.full((64, 64), -1)
    labels[:, 32:] = 4
    return class_map_from_label_image(labels, n_classes=6, default_class=1)


def test_layer_maps_all():
    cm = collage_map()
    out = layer_maps(cm, RES64)
    assert [m.shape for m in out] == [(1, 6, r, r) for r in RES64]
    for m, r in zip(out, RES64):
        numpy.testing.assert_array_equal(m, resize_map(cm, r))
        assert_normalised(m)


@pytest.mark.parametrize("spec", ["0-3", "4-", "none", "1,3,5,7"])
def test_layer_maps_selection(spec):
    cm = collage_map()
    out = layer_maps(cm, RES64, layers=spec, base=1)
    selected = parse_layers(spec, len(RES64))
    for i, (m, r) in enumerate(zip(out, RES64)):
        if i in selected:
            numpy.testing.assert_array_equal(m, resize_map(cm, r))
        else:
            numpy.testing.assert_array_equal(m, one_hot_map(1, 6, r))
            assert is_spatially_uniform(m)


def test_layer_maps_base_forms():
    cm = numpy.concatenate([collage_map(), collage_map()])
    res = [4, 8]
    ids = layer_maps(cm, res, layers="1", base=[2, 3])[0]
    assert ids[0, 2].min() == 1 and ids[1, 3].min() == 1
    weights = layer_maps(cm, res, layers="1", base=numpy.array([1, 1, 0, 0, 0, 0], numpy.float32))[0]
    numpy.testing.assert_allclose(weights[:, :2], 0.5)
    per_sample = numpy.eye(6, dtype=numpy.float32)[[0, 5]]
    rows = layer_maps(cm, res, layers="1", base=per_sample)[0]
    assert rows[0, 0].min() == 1 and rows[1, 5].min() == 1
    other = one_hot_map(0, 6, 64)
    other[:, :, :, 32:] = numpy.eye(6, dtype=numpy.float32)[3][:, None, None]
    from_map = layer_maps(cm, res, layers="1", base=other)[0]
    assert from_map.shape == (2, 6, 4, 4)
    numpy.testing.assert_array_equal(from_map[1], resize_map(other, 4)[0])


@pytest.mark.parametrize("base, match", [
    (None, "layers '0-3' leave layers 4-7 unselected: pass base="),
    (6, "0-5"),
    (numpy.ones(5, numpy.float32), "K=5"),
    ([0, 1, 2], "3 samples"),
    (one_hot_map(0, 5, 8), "K=5 channels"),
    (numpy.ones((1, 1, 1), numpy.float32), "base must be"),
])
def test_layer_maps_errors(base, match):
    cm = numpy.concatenate([collage_map(), collage_map()])
    with pytest.raises(ValueError, match=match):
        layer_maps(cm, RES64, layers="0-3", base=base)


def test_layer_maps_bad_spec_and_map():
    with pytest.raises(ValueError, match="valid layers: 0-7"):
        layer_maps(collage_map(), RES64, layers="0-8", base=0)
    with pytest.raises(ValueError, match="negative"):
        layer_maps(-collage_map(), RES64)


def test_is_spatially_uniform():
    assert is_spatially_uniform(one_hot_map([0, 1], 3, 8))
    assert is_spatially_uniform(uniform_map(numpy.array([[0.2, 0.8], [1, 0]], numpy.float32), 4))
    m = one_hot_map(0, 3, 8)
    m[0, 0, 7, 7] = numpy.nextafter(numpy.float32(1), numpy.float32(0))
    assert not is_spatially_uniform(m)
    assert not is_spatially_uniform(collage_map())


# ---------------------------------------------------------------------------- blend maps

def half_mask(size=64):
    mask = numpy.zeros((size, size), bool)
    mask[:, : size // 2] = True
    return mask


@pytest.mark.parametrize("spec", ["all", "none", "0", "1-", "0-1", "2,4", "-2"])
@pytest.mark.parametrize("base_stream", [0, 2])
def test_blend_maps_semantics(spec, base_stream):
    out = blend_maps_from_mask(half_mask(), n_streams=3, stream=1, resolutions=BLEND64, layers=spec,
                               base_stream=base_stream)
    selected = parse_layers(spec, len(BLEND64))
    assert [m.shape for m in out] == [(1, 4, r, r) for r in BLEND64]
    assert (out[0][0, -1] == 0).all(), "layer 0 must never weight the (zero) target stream"
    for i, (m, r) in enumerate(zip(out, BLEND64)):
        assert_normalised(m)
        if i in selected:
            assert (m[0, 1, :, : r // 2] == 1).all()             # inside: the chosen stream
            assert (m[0, base_stream, :, r // 2:] == 1).all()    # outside: the base stream
        elif i == 0:
            assert (m[0, base_stream] == 1).all()
        else:
            assert (m[0, -1] == 1).all()                          # target unchanged


@settings(max_examples=50, deadline=None)
@given(st.sets(st.integers(0, 4)), st.integers(0, 3), st.floats(0, 3))
def test_blend_maps_layer0_never_weights_target(layers, stream, feather):
    mask = numpy.zeros((16, 16), numpy.float32)
    mask[3:11, 5:14] = 0.7
    out = blend_maps_from_mask(mask, n_streams=4, stream=stream, resolutions=[1, 2, 4, 8, 16],
                               layers=sorted(layers), feather=feather)
    assert (out[0][0, -1] == 0).all()
    for m in out:
        assert_normalised(m)


def test_blend_maps_soft_edges_and_multiple_masks():
    a = half_mask(8)
    b = numpy.zeros((8, 8), bool)
    b[:4] = True
    out = blend_maps_from_masks({1: a, 2: b}, n_streams=3, resolutions=[2, 8])
    assert out[1][0, :, 0, 0].tolist() == [0, 0, 1, 0]          # b painted over a
    assert out[1][0, :, 7, 0].tolist() == [0, 1, 0, 0]
    assert out[1][0, :, 7, 7].tolist() == [1, 0, 0, 0]
    numpy.testing.assert_allclose(out[0][0, :, :, 0], [[0, 0], [0, 1], [1, 0], [0, 0]])
    feathered = blend_maps_from_mask(half_mask(), n_streams=2, stream=1, resolutions=BLEND64, feather=3.0)
    assert 0.3 < feathered[-1][0, 1, 10, 32] < 0.7
    numpy.testing.assert_allclose(feathered[-1][0, 1], feathered[-1][0, 0, :, ::-1], atol=1e-6)


def test_blend_maps_errors():
    with pytest.raises(ValueError, match="aspect ratio"):
        blend_maps_from_mask(numpy.zeros((100, 80)), n_streams=2, stream=1, resolutions=BLEND64)
    with pytest.raises(ValueError, match="valid latent stream"):
        blend_maps_from_mask(half_mask(), n_streams=2, stream=2, resolutions=BLEND64)
    with pytest.raises(ValueError, match="valid latent stream"):
        blend_maps_from_mask(half_mask(), n_streams=2, stream=-1, resolutions=BLEND64)
    with pytest.raises(ValueError, match="base_stream"):
        blend_maps_from_mask(half_mask(), n_streams=2, stream=1, resolutions=BLEND64, base_stream=2)
    with pytest.raises(ValueError, match="valid layers: 0-4"):
        blend_maps_from_mask(half_mask(), n_streams=2, stream=1, resolutions=BLEND64, layers="5")
    with pytest.raises(ValueError, match="same size"):
        blend_maps_from_masks([(0, half_mask(64)), (1, half_mask(32))], n_streams=2, resolutions=BLEND64)


def test_blend_maps_non_square_and_double_size_mask():
    mask = numpy.zeros((64, 128), bool)
    mask[:, :64] = True
    out = blend_maps_from_mask(mask, n_streams=2, stream=1, resolutions=[(2, 4), (32, 64)])
    assert out[0].shape == (1, 3, 2, 4) and out[1].shape == (1, 3, 32, 64)
    assert (out[1][0, 1, :, :32] == 1).all() and (out[1][0, 0, :, 32:] == 1).all()


# ---------------------------------------------------------------------------- layout

def test_original_layout_round_trip():
    m = random_map(numpy.random.RandomState(5), (2, 3, 4, 5))
    original = to_original_layout(m)
    assert original.shape == (2, 4, 5, 3) and original.flags.c_contiguous
    numpy.testing.assert_array_equal(original[1, 2, 3], m[1, :, 2, 3])
    numpy.testing.assert_array_equal(from_original_layout(original), m)
    with pytest.raises(ValueError, match="4-D"):
        to_original_layout(m[0])


# ---------------------------------------------------------------------------- GPU

@pytest.mark.gpu
def test_array_functions_on_gpu():
    if not backend.gpu_available():
        pytest.skip("no CUDA GPU")
    device = backend.get_device(0)
    cm = collage_map()
    gm = device.send(cm)
    xp = backend.get_array_module(gm)
    assert xp is not numpy
    out = layer_maps(gm, RES64, layers="0-3", base=1)
    for g, c in zip(out, layer_maps(cm, RES64, layers="0-3", base=1)):
        assert backend.get_array_module(g) is xp
        numpy.testing.assert_allclose(backend.to_numpy(g), c, atol=1e-6)
    numpy.testing.assert_allclose(backend.to_numpy(resize_map(gm, (5, 7))), resize_map(cm, (5, 7)), atol=1e-6)
    numpy.testing.assert_allclose(backend.to_numpy(gaussian_blur(gm, 2.0)), gaussian_blur(cm, 2.0), atol=1e-6)
    numpy.testing.assert_allclose(backend.to_numpy(normalize_map(gm * 3)), cm, atol=1e-6)
    assert is_spatially_uniform(device.send(one_hot_map(2, 6, 8)))
    assert not is_spatially_uniform(gm)
    assert backend.get_array_module(one_hot_map(device.send(numpy.array([1, 2])), 6, 4)) is xp
    numpy.testing.assert_array_equal(backend.to_numpy(from_original_layout(to_original_layout(gm))), cm)
    validate_map(gm, n_classes=6, size=64)
    assert class_map_from_masks({2: device.send(half_mask())}, n_classes=3, default_class=0).shape[1] == 3


def test_maps_module_has_no_cupy_import():
    import inspect
    assert "import cupy" not in inspect.getsource(maps)

import math

import cv2
import numpy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuralcollage import blending
from neuralcollage.blending import (blend_region, crop_and_resize, dilate_mask, feather_mask, paste_back,
                                    poisson_blend, resize_to_box, screened_poisson, seam_region,
                                    square_crop_box)
from neuralcollage.io import InputError

MODES = ("normal", "mixed", "none")
FAST = settings(max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def smooth_photo(h, w, seed=0, noise=3.0):
    """A colour ramp plus noise: smooth enough to measure seams, textured enough to catch shifts."""
    rs = numpy.random.RandomState(seed)
    yy, xx = numpy.mgrid[0:h, 0:w].astype(numpy.float64)
    photo = numpy.stack([xx * 100 / w + 60, yy * 100 / h + 50, (xx + yy) * 50 / (h + w) + 90], -1)
    return numpy.clip(photo + rs.normal(0, noise, photo.shape), 0, 255).astype(numpy.uint8)


def rect_mask(h, w, r0, r1, c0, c1):
    mask = numpy.zeros((h, w), bool)
    mask[r0:r1, c0:c1] = True
    return mask


def region_of(mask, box, dilate=8):
    """blend_region, checked against its definition: inside the box and the dilated mask, and
    all of it except at most the box's outermost rows and columns."""
    top, left, side = box
    in_box = numpy.zeros(mask.shape, bool)
    in_box[top:top + side, left:left + side] = True
    expected = dilate_mask(mask, radius=dilate) & in_box
    region = blend_region(mask, box, dilate=dilate)
    assert region.dtype == bool and not (region & ~expected).any()
    inner = numpy.zeros(mask.shape, bool)
    inner[top + 1:top + side - 1, left + 1:left + side - 1] = True
    assert (region[expected & inner]).all()
    return region


def offset_edit(photo, box, size=64, offset=40):
    crop = crop_and_resize(photo, box, size)
    return numpy.clip(crop.astype(int) + offset, 0, 255).astype(numpy.uint8)


def seam(image, region):
    """Mean absolute colour step across the region's boundary (4-neighbour pairs)."""
    img = image.astype(numpy.float64)
    steps = [numpy.abs(numpy.diff(img, axis=0)).sum(-1)[region[1:] != region[:-1]],
             numpy.abs(numpy.diff(img, axis=1)).sum(-1)[region[:, 1:] != region[:, :-1]]]
    return numpy.concatenate(steps).mean()


def naive(photo, edited_crop, region, box):
    out = photo.copy()
    out[region] = paste_back(photo, edited_crop, box)[region]
    return out


def frozen(array):
    array = numpy.array(array, copy=True)
    array.flags.writeable = False
    return array


# --------------------------------------------------------------------------- masks

def test_dilate_mask_disc():
    mask = numpy.zeros((41, 41), numpy.float32)
    mask[20, 20] = 0.3
    grown = dilate_mask(mask, radius=10)
    assert grown.dtype == bool and grown.shape == mask.shape
    assert grown[20, 10] and grown[20, 30] and grown[10, 20] and not grown[12, 12]
    assert abs(grown.sum() - math.pi * 10.5 ** 2) < 0.1 * math.pi * 100
    numpy.testing.assert_array_equal(dilate_mask(mask, radius=0), mask > 0)
    assert mask.sum() == numpy.float32(0.3)


def test_feather_mask():
    mask = rect_mask(30, 40, 0, 15, 10, 30)
    soft = feather_mask(mask, sigma=3)
    assert soft.dtype == numpy.float32 and soft.shape == mask.shape
    assert 0 <= soft.min() and soft.max() <= 1
    assert soft[0, 20] > 0.99                     # reflected border: still solid at the top
    assert 0.4 < soft[15, 20] < 0.6 or 0.4 < soft[14, 20] < 0.6
    numpy.testing.assert_array_equal(feather_mask(mask, sigma=0), mask.astype(numpy.float32))
    with pytest.raises(ValueError):
        feather_mask(mask, sigma=-1)


# --------------------------------------------------------------------------- crop box

def test_square_crop_box_example():
    mask = rect_mask(100, 200, 40, 60, 90, 100)
    assert square_crop_box(mask) == (35, 80, 30)
    assert square_crop_box(mask, margin=0) == (40, 85, 20)
    assert square_crop_box(mask, min_size=64) == (18, 63, 64)
    assert square_crop_box(mask, image_size=(100, 200), min_size=500) == (0, 45, 100)


def test_square_crop_box_shifted_inside():
    mask = rect_mask(100, 200, 0, 10, 190, 200)
    top, left, size = square_crop_box(mask)
    assert (top, left + size) == (0, 200) and size == 15


def test_square_crop_box_wide_mask_covers_most_mask():
    mask = numpy.zeros((20, 100), bool)
    mask[5:10, 0:4] = True                  # small blob on the left
    mask[2:18, 60:90] = True                # big blob on the right
    top, left, size = square_crop_box(mask)
    assert (top, size) == (0, 20) and 60 <= left + 10 <= 90


def test_square_crop_box_errors():
    with pytest.raises(InputError, match="mask is empty"):
        square_crop_box(numpy.zeros((5, 5)))
    with pytest.raises(ValueError, match="image_size"):
        square_crop_box(numpy.ones((5, 5)), image_size=(5, 6))


@st.composite
def masks(draw):
    h = draw(st.integers(1, 120))
    w = draw(st.integers(1, 120))
    seed = draw(st.integers(0, 2 ** 31 - 1))
    rs = numpy.random.RandomState(seed)
    kind = draw(st.sampled_from(["rect", "pixels", "full"]))
    if kind == "full":
        return numpy.ones((h, w), bool)
    if kind == "pixels":
        mask = rs.rand(h, w) < rs.uniform(0.0, 0.05)
        mask[rs.randint(h), rs.randint(w)] = True
        return mask
    r0, r1 = sorted(rs.randint(0, h, 2))
    c0, c1 = sorted(rs.randint(0, w, 2))
    return rect_mask(h, w, r0, r1 + 1, c0, c1 + 1)


@FAST
@given(mask=masks(), margin=st.floats(0, 1.5), min_size=st.none() | st.integers(1, 200))
def test_square_crop_box_properties(mask, margin, min_size):
    h, w = mask.shape
    top, left, size = square_crop_box(mask, image_size=(h, w), margin=margin, min_size=min_size)
    assert all(isinstance(v, int) for v in (top, left, size))
    assert 1 <= size <= min(h, w)
    assert 0 <= top and top + size <= h and 0 <= left and left + size <= w
    rows = numpy.flatnonzero(mask.any(axis=1))
    cols = numpy.flatnonzero(mask.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    side = max(r1 - r0, c1 - c0)
    wanted = max(math.ceil(side * (1 + 2 * margin) - 1e-9), min_size or 1)
    assert size == min(wanted, h, w)
    axes = ((r0, r1, top, mask.sum(axis=1)), (c0, c1, left, mask.sum(axis=0)))
    for lo, hi, start, counts in axes:
        if hi - lo <= size:
            assert start <= lo and hi <= start + size        # contains the bounding box
        else:
            assert lo <= start and start + size <= hi        # largest square, inside the bbox
            best = max(counts[i:i + size].sum() for i in range(lo, hi - size + 1))
            assert counts[start:start + size].sum() == best  # covering the most mask
    assert mask[top:top + size, left:left + size].any()


# --------------------------------------------------------------------------- resizing

def test_crop_and_resize_shapes_and_interpolation():
    photo = smooth_photo(50, 80)
    small = crop_and_resize(photo, (10, 20, 40), 16)
    assert small.shape == (16, 16, 3) and small.dtype == numpy.uint8
    big = crop_and_resize(photo, (10, 20, 8), 32)
    assert big.shape == (32, 32, 3)
    same = crop_and_resize(photo, (10, 20, 16), 16)
    numpy.testing.assert_array_equal(same, photo[10:26, 20:36])
    grey = crop_and_resize(photo[..., 0], (0, 0, 50), 10)
    assert grey.shape == (10, 10)
    flat = numpy.full((40, 40, 3), 77, numpy.uint8)
    assert (crop_and_resize(flat, (0, 0, 40), 7) == 77).all()      # area averaging
    assert (crop_and_resize(flat, (0, 0, 3), 50) == 77).all()      # bicubic, no overshoot
    single = crop_and_resize(photo[..., :1], (0, 0, 20), 10)
    assert single.shape == (10, 10, 1)
    with pytest.raises(ValueError, match="not inside"):
        crop_and_resize(photo, (45, 0, 10), 8)


def test_resize_to_box_and_paste_back():
    photo = smooth_photo(50, 80)
    crop = numpy.full((16, 16, 3), 9, numpy.uint8)
    assert resize_to_box(crop, (0, 0, 30)).shape == (30, 30, 3)
    out = paste_back(frozen(photo), crop, (5, 7, 30))
    assert (out[5:35, 7:37] == 9).all()
    outside = numpy.ones((50, 80), bool)
    outside[5:35, 7:37] = False
    numpy.testing.assert_array_equal(out[outside], photo[outside])


# --------------------------------------------------------------------------- poisson_blend

@st.composite
def blend_cases(draw):
    h = draw(st.integers(8, 90))
    w = draw(st.integers(8, 90))
    rs = numpy.random.RandomState(draw(st.integers(0, 2 ** 31 - 1)))
    photo = rs.randint(0, 256, (h, w, 3)).astype(numpy.uint8)
    kind = draw(st.sampled_from(["rect", "blob", "pixel", "border", "full", "soft"]))
    if kind == "full":
        mask = numpy.ones((h, w), numpy.float32)
    elif kind == "pixel":
        mask = numpy.zeros((h, w), bool)
        mask[rs.randint(h), rs.randint(w)] = True
    elif kind == "blob":
        mask = cv2.GaussianBlur(rs.rand(h, w), (0, 0), 3) > 0.52
        mask[rs.randint(h), rs.randint(w)] = True
    elif kind == "soft":
        mask = rs.rand(h, w).astype(numpy.float32) * (rs.rand(h, w) < 0.1)
        mask[rs.randint(h), rs.randint(w)] = 0.5
    else:
        r0, r1 = sorted(rs.randint(0, h, 2))
        c0, c1 = sorted(rs.randint(0, w, 2))
        if kind == "border":
            r0, c1 = 0, w - 1
        mask = rect_mask(h, w, r0, r1 + 1, c0, c1 + 1)
    size = draw(st.sampled_from([8, 16, 32]))
    edited = rs.randint(0, 256, (size, size, 3)).astype(numpy.uint8)
    mode = draw(st.sampled_from(MODES))
    reach = draw(st.sampled_from([None, 0.5, 3.0, 40.0])) if mode == "normal" else None
    return photo, edited, mask, mode, draw(st.integers(0, 12)), reach


@FAST
@given(case=blend_cases())
def test_outside_dilated_mask_is_bit_identical(case):
    photo, edited, mask, mode, dilate, reach = case
    box = square_crop_box(mask, margin=0.25)
    out = poisson_blend(frozen(photo), frozen(edited), frozen(mask), box, blend_mode=mode, dilate=dilate,
                        colour_reach=reach)
    assert out.shape == photo.shape and out.dtype == numpy.uint8
    region = region_of(mask, box, dilate)
    numpy.testing.assert_array_equal(out[~region], photo[~region])


@pytest.mark.parametrize("mode", ["normal", "mixed"])
def test_poisson_is_aligned(mode):
    # Editing nothing (the crop at full resolution) must give the photo back: any misplacement of
    # the cloned patch would show up against the noise.
    photo = numpy.random.RandomState(1).randint(0, 256, (70, 90, 3)).astype(numpy.uint8)
    mask = rect_mask(70, 90, 20, 45, 30, 61)
    box = square_crop_box(mask)
    crop = photo[box[0]:box[0] + box[2], box[1]:box[1] + box[2]]
    out = poisson_blend(photo, crop, mask, box, blend_mode=mode)
    assert numpy.abs(out.astype(int) - photo).max() <= 2


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("where", ["centre", "top", "left", "bottom-right", "column"])
def test_seams_smaller_than_naive_paste(mode, where):
    h, w = 120, 170
    photo = smooth_photo(h, w)
    mask = {"centre": rect_mask(h, w, 40, 80, 60, 110),
            "top": rect_mask(h, w, 0, 30, 60, 100),
            "left": rect_mask(h, w, 50, 80, 0, 25),
            "bottom-right": rect_mask(h, w, 90, h, 140, w),
            "column": rect_mask(h, w, 0, h, 150, w)}[where]
    box = square_crop_box(mask)
    edited = offset_edit(photo, box)
    out = poisson_blend(photo, edited, mask, box, blend_mode=mode)
    region = region_of(mask, box)
    numpy.testing.assert_array_equal(out[~region], photo[~region])
    assert seam(out, region) < 0.25 * seam(naive(photo, edited, region, box), region)
    assert seam(out, region) < 1.5 * seam(photo, region)


def test_poisson_keeps_the_edit_structure():
    h, w = 100, 100
    photo = smooth_photo(h, w)
    mask = rect_mask(h, w, 30, 70, 30, 70)
    box = square_crop_box(mask)
    side = box[2]
    edited = crop_and_resize(photo, box, side).copy()
    c = side // 2
    edited[c - 6:c + 6, c - 6:c + 6] = 0                      # a dark square in the middle
    for mode in ("normal", "mixed"):
        out = poisson_blend(photo, edited, mask, box, blend_mode=mode).astype(int)
        centre = out[box[0] + c, box[1] + c]
        ring = out[box[0] + c, box[1] + c + 12]
        assert (ring - centre).sum() > 3 * 100, mode


def test_full_mask_square_photo_is_direct_paste():
    photo = smooth_photo(60, 60)
    mask = numpy.ones((60, 60), bool)
    box = square_crop_box(mask)
    assert box == (0, 0, 60)
    edited = offset_edit(photo, box, size=32)
    for mode in MODES:
        numpy.testing.assert_array_equal(poisson_blend(photo, edited, mask, box, blend_mode=mode),
                                         paste_back(photo, edited, box))


def test_full_mask_non_square_photo():
    photo = smooth_photo(60, 100)
    mask = numpy.ones((60, 100), bool)
    box = square_crop_box(mask)
    assert box == (0, 20, 60)
    edited = offset_edit(photo, box, size=32)
    for mode in MODES:
        out = poisson_blend(photo, edited, mask, box, blend_mode=mode)
        numpy.testing.assert_array_equal(out[:, :20], photo[:, :20])
        numpy.testing.assert_array_equal(out[:, 80:], photo[:, 80:])
        region = region_of(mask, box)
        assert seam(out, region) < 0.25 * seam(naive(photo, edited, region, box), region)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("pixels", [1, 2, 3])
def test_tiny_masks(mode, pixels):
    photo = smooth_photo(40, 50)
    mask = rect_mask(40, 50, 20, 20 + pixels, 25, 25 + pixels)
    box = square_crop_box(mask, min_size=12)
    edited = offset_edit(photo, box, size=16, offset=60)
    out = poisson_blend(photo, edited, mask, box, blend_mode=mode)
    region = region_of(mask, box)
    numpy.testing.assert_array_equal(out[~region], photo[~region])
    assert (out[region] != photo[region]).any() or mode != "none"


@pytest.mark.parametrize("corner", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_mask_in_corners(corner):
    h, w = 50, 70
    photo = smooth_photo(h, w)
    rows = slice(0, 6) if corner[0] == 0 else slice(h - 6, h)
    cols = slice(0, 6) if corner[1] == 0 else slice(w - 6, w)
    mask = numpy.zeros((h, w), bool)
    mask[rows, cols] = True
    box = square_crop_box(mask)
    edited = offset_edit(photo, box, size=16)
    for mode in MODES:
        out = poisson_blend(photo, edited, mask, box, blend_mode=mode, dilate=3)
        region = region_of(mask, box, 3)
        numpy.testing.assert_array_equal(out[~region], photo[~region])


def test_soft_mask_none_mode_partial_weight():
    photo = numpy.full((40, 40, 3), 100, numpy.uint8)
    mask = numpy.zeros((40, 40), numpy.float32)
    mask[10:30, 10:30] = 0.5
    box = (0, 0, 40)
    edited = numpy.full((20, 20, 3), 200, numpy.uint8)
    out = poisson_blend(photo, edited, mask, box, blend_mode="none")
    numpy.testing.assert_allclose(out[20, 20], 150, atol=2)
    uint8_mask = (mask * 255).astype(numpy.uint8)
    numpy.testing.assert_allclose(poisson_blend(photo, edited, uint8_mask, box, blend_mode="none"),
                                  out, atol=1)


def test_inputs_not_modified():
    photo = smooth_photo(50, 60)
    mask = rect_mask(50, 60, 10, 30, 10, 30).astype(numpy.float32)
    box = square_crop_box(mask)
    edited = offset_edit(photo, box, size=16)
    copies = [photo.copy(), edited.copy(), mask.copy()]
    for mode in MODES:
        poisson_blend(photo, edited, mask, box, blend_mode=mode)
    for before, after in zip(copies, (photo, edited, mask)):
        numpy.testing.assert_array_equal(before, after)


def test_blend_errors():
    photo = smooth_photo(30, 30)
    edited = numpy.zeros((16, 16, 3), numpy.uint8)
    with pytest.raises(InputError, match="mask is empty"):
        poisson_blend(photo, edited, numpy.zeros((30, 30)), (0, 0, 30))
    nan_mask = numpy.ones((30, 30))
    nan_mask[3, 3] = numpy.nan
    with pytest.raises(InputError, match="NaN"):
        poisson_blend(photo, edited, nan_mask, (0, 0, 30))
    far = rect_mask(30, 30, 0, 2, 0, 2)
    with pytest.raises(InputError, match="does not overlap"):
        poisson_blend(photo, edited, far, (20, 20, 10), dilate=2)
    mask = rect_mask(30, 30, 10, 20, 10, 20)
    with pytest.raises(ValueError, match="mode"):
        poisson_blend(photo, edited, mask, (0, 0, 30), blend_mode="fancy")
    with pytest.raises(ValueError, match="not inside"):
        poisson_blend(photo, edited, mask, (5, 5, 30))
    with pytest.raises(ValueError, match="mask shape"):
        poisson_blend(photo, edited, mask[:, :20], (0, 0, 20))
    with pytest.raises(ValueError, match="uint8"):
        poisson_blend(photo.astype(numpy.float32), edited, mask, (0, 0, 30))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        poisson_blend(photo, edited, mask * 2.0, (0, 0, 30))


# --------------------------------------------------------------------------- optimal seam

def _cut_cost(region, cost, band, smoothness):
    """The seam's objective, written out pair by pair (the reference for the max-flow solution)."""
    h, w = region.shape
    length = smoothness * float(numpy.median(cost[band])) + 1e-3
    total = 0.0
    for y in range(h):
        for x in range(w):
            if not region[y, x]:
                continue
            for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                v, u = y + dy, x + dx
                if not (0 <= v < h and 0 <= u < w):
                    if band[y, x]:
                        total += cost[y, x] + length
                elif not region[v, u]:
                    total += (cost[y, x] + cost[v, u]) / 2 + length
    return total


def _cut_costs(regions, cost, band, smoothness):
    """:func:`_cut_cost` of many regions ``(B, h, w)`` at once, pair by pair in NumPy."""
    h, w = cost.shape
    length = smoothness * float(numpy.median(cost[band])) + 1e-3
    total = numpy.zeros(len(regions))
    for a, b, ca, cb in ((regions[:, :-1], regions[:, 1:], cost[:-1], cost[1:]),
                         (regions[:, :, :-1], regions[:, :, 1:], cost[:, :-1], cost[:, 1:])):
        total += ((a ^ b) * ((ca + cb) / 2 + length)).sum(axis=(1, 2))
    sides = numpy.zeros((h, w))
    sides[0] += 1
    sides[-1] += 1
    sides[:, 0] += 1
    sides[:, -1] += 1
    return total + (regions * (band * sides * (cost + length))).sum(axis=(1, 2))


@pytest.mark.parametrize("seed", range(6))
def test_seam_region_is_the_cheapest_region(seed):
    rs = numpy.random.RandomState(seed)
    h, w = 4, 5
    photo = rs.randint(0, 256, (h, w, 3)).astype(numpy.uint8)
    edited = rs.randint(0, 256, (h, w, 3)).astype(numpy.uint8)
    inner = numpy.zeros((h, w), bool)
    inner[1 + seed % 2, 2] = True
    outer = numpy.ones((h, w), bool)
    outer[rs.rand(h, w) < 0.3] = False
    outer |= inner
    band = outer & ~inner
    smoothness = (0.0, 0.05, 1.0)[seed % 3]
    cost = numpy.square(edited.astype(float) - photo).sum(-1)
    region = seam_region(photo, edited, inner, outer, smoothness=smoothness)
    assert not (inner & ~region).any() and not (region & ~outer).any()
    cells = numpy.argwhere(band)
    assert len(cells) <= 16
    bits = numpy.arange(2 ** len(cells))[:, None] >> numpy.arange(len(cells)) & 1
    candidates = numpy.repeat(inner[None], len(bits), axis=0)
    candidates[:, cells[:, 0], cells[:, 1]] = bits.astype(bool)
    costs = _cut_costs(candidates, cost, band, smoothness)
    for k in (0, int(numpy.argmin(costs)), len(costs) - 1):
        assert costs[k] == pytest.approx(_cut_cost(candidates[k], cost, band, smoothness))
    best = costs.min()
    # capacities are rounded to integers of about 2**20 at the largest: allow that much error
    assert _cut_cost(region, cost, band, smoothness) <= best * (1 + 1e-4) + 1e-6


def test_seam_region_runs_where_the_edit_matches_the_photo():
    h = w = 64
    yy, xx = numpy.mgrid[:h, :w]
    r = numpy.hypot(yy - 32, xx - 30)
    photo = smooth_photo(h, w, noise=0)
    edited = photo.copy()
    edited[r < 20] = 255 - edited[r < 20]
    region = seam_region(photo, edited, r < 8, r < 28)
    assert (region[r < 20]).all()
    assert not region[r > 23].any()


@given(seed=st.integers(0, 2 ** 16), empty_inner=st.booleans())
@FAST
def test_seam_region_lies_between_inner_and_outer(seed, empty_inner):
    rs = numpy.random.RandomState(seed)
    h, w = rs.randint(3, 20, size=2)
    photo, edited = (rs.randint(0, 256, (h, w, 3)).astype(numpy.uint8) for _ in range(2))
    outer = rs.rand(h, w) < 0.7
    inner = numpy.zeros((h, w), bool) if empty_inner else rs.rand(h, w) < 0.2
    before = [a.copy() for a in (photo, edited, inner, outer)]
    region = seam_region(photo, edited, inner, outer)
    assert region.dtype == bool and region.shape == (h, w)
    if (inner & outer).any():
        assert not (inner & outer & ~region).any() and not (region & ~outer).any()
    else:
        numpy.testing.assert_array_equal(region, outer)
    for a, b in zip(before, (photo, edited, inner, outer)):
        numpy.testing.assert_array_equal(a, b)


def test_seam_region_refuses_bad_input():
    photo = numpy.zeros((8, 8, 3), numpy.uint8)
    inner = numpy.zeros((8, 8), bool)
    with pytest.raises(ValueError, match="same height and width"):
        seam_region(photo, photo[:4], inner, inner)
    with pytest.raises(ValueError, match="smoothness"):
        seam_region(photo, photo, inner, inner, smoothness=float("nan"))
    with pytest.raises(ValueError, match="seam must be one of"):
        poisson_blend(photo, photo, inner | True, (0, 0, 8), seam="best")
    with pytest.raises(ValueError, match="Poisson blend mode"):
        poisson_blend(photo, photo, inner | True, (0, 0, 8), blend_mode="none", seam="optimal")


@pytest.mark.parametrize("mode", ["normal", "mixed"])
def test_optimal_seam_keeps_more_of_the_edit(mode):
    # The edit brightens the mask by 70 and is off by 50 everywhere else except on a ring inside the band,
    # where it matches the photo.  The fixed boundary lies in the mismatch, which the colour correction
    # carries into the mask; the optimal seam follows the ring and keeps the edit.
    h, w = 90, 120
    photo = smooth_photo(h, w, noise=1.0)
    r = numpy.hypot(*(numpy.mgrid[:h, :w] - numpy.array([45, 60])[:, None, None]))
    mask = r < 10
    full = photo.astype(int) + 50
    full[(r >= 14) & (r < 18)] = photo[(r >= 14) & (r < 18)]
    full[mask] = photo[mask].astype(int) + 70
    box = (0, 15, 90)
    edited = numpy.clip(full, 0, 255).astype(numpy.uint8)[:, 15:105]
    fixed = poisson_blend(photo, edited, mask, box, blend_mode=mode, dilate=16)
    optimal = poisson_blend(photo, edited, mask, box, blend_mode=mode, dilate=16, seam="optimal")
    region = region_of(mask, box, 16)
    numpy.testing.assert_array_equal(optimal[~region], photo[~region])
    numpy.testing.assert_array_equal(optimal[r >= 19], photo[r >= 19])

    def kept(out):
        return (out[mask].astype(float) - photo[mask]).mean()
    # mixed gradients keep the larger of the edit's and the photo's steps, which loses part of the 70
    assert kept(optimal) > (65 if mode == "normal" else 50) and kept(fixed) < 30


# --------------------------------------------------------------------------- screened_poisson

def _screened_reference(photo, edited, region, inner, reach):
    """The minimiser of screened_poisson's energy, by dense least squares over its terms written out one by
    one (unrounded, float)."""
    h, w = region.shape
    cells = [tuple(c) for c in numpy.argwhere(region)]
    column = {c: k for k, c in enumerate(cells)}
    out = photo.astype(float).copy()
    for channel in range(3):
        f, e = photo[..., channel].astype(float), edited[..., channel].astype(float)
        rows, rhs = [], []
        for (y, x) in cells:
            for v, u in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if not (0 <= v < h and 0 <= u < w):
                    continue
                if (v, u) in column and (v, u) < (y, x):
                    continue                                   # the pair is written from its other end
                row = numpy.zeros(len(cells))
                row[column[(y, x)]] = 1.0
                target = e[y, x] - e[v, u]
                if (v, u) in column:
                    row[column[(v, u)]] = -1.0
                else:
                    target += f[v, u]
                rows.append(row)
                rhs.append(target)
            if inner[y, x]:
                row = numpy.zeros(len(cells))
                row[column[(y, x)]] = 1.0 / reach
                rows.append(row)
                rhs.append(e[y, x] / reach)
        solution = numpy.linalg.lstsq(numpy.array(rows), numpy.array(rhs), rcond=None)[0]
        for (y, x), value in zip(cells, solution):
            out[y, x, channel] = value
    return out


@pytest.mark.parametrize("seed", range(5))
def test_screened_poisson_minimises_its_energy(seed, monkeypatch):
    monkeypatch.setattr(blending, "_REACH_DEPTH", 1e6)
    rs = numpy.random.RandomState(seed)
    h, w = 9, 11
    photo, edited = (rs.randint(0, 256, (h, w, 3)).astype(numpy.uint8) for _ in range(2))
    region = rs.rand(h, w) < 0.6
    region[0, :] = seed % 2 == 0                               # sometimes on the photo's edge
    inner = region & (rs.rand(h, w) < 0.5)
    reach = (0.7, 2.0, 5.0, 30.0, 1.0)[seed]
    out = screened_poisson(frozen(photo), frozen(edited), frozen(region), frozen(inner), reach=reach)
    expected = numpy.clip(numpy.rint(_screened_reference(photo, edited, region, inner, reach)), 0, 255)
    assert numpy.abs(out.astype(int) - expected).max() <= 1
    numpy.testing.assert_array_equal(out[~region], photo[~region])


def test_screened_poisson_deep_pixels_keep_the_edit(monkeypatch):
    # the worst mismatch on the border (0 against 255): leaving the deep pixels out moves nothing
    h = w = 80
    photo = numpy.zeros((h, w, 3), numpy.uint8)
    edited = numpy.full((h, w, 3), 255, numpy.uint8)
    region = rect_mask(h, w, 5, 75, 5, 75)
    inner = rect_mask(h, w, 10, 70, 10, 70)
    for reach in (1.0, 3.0):
        truncated = screened_poisson(photo, edited, region, inner, reach=reach)
        with monkeypatch.context() as m:
            m.setattr(blending, "_REACH_DEPTH", 1e6)
            full = screened_poisson(photo, edited, region, inner, reach=reach)
        assert numpy.abs(truncated.astype(int) - full).max() <= 1
        assert (truncated[40, 40] == 255).all()


def test_colour_reach_keeps_the_edit_colours_and_the_seam():
    # The edit brightens everything by 40: classic Poisson editing removes a constant offset entirely; with a
    # colour reach of 2 px the mask keeps it away from its border, and the region's border stays seamless.
    h, w = 120, 170
    photo = smooth_photo(h, w)
    mask = rect_mask(h, w, 40, 80, 60, 110)
    box = square_crop_box(mask)
    edited = offset_edit(photo, box)
    classic = poisson_blend(photo, edited, mask, box)
    kept = poisson_blend(photo, edited, mask, box, colour_reach=2)
    region = region_of(mask, box)
    numpy.testing.assert_array_equal(kept[~region], photo[~region])
    deep = rect_mask(h, w, 53, 67, 73, 97)
    assert (classic[deep].astype(float) - photo[deep]).mean() < 5
    assert (kept[deep].astype(float) - photo[deep]).mean() > 35
    assert seam(kept, region) < 0.25 * seam(naive(photo, edited, region, box), region)
    far = poisson_blend(photo, edited, mask, box, colour_reach=1e4)
    assert numpy.abs(far.astype(float) - classic).mean() < 2
    numpy.testing.assert_array_equal(poisson_blend(photo, edited, mask, box, colour_reach=math.inf), classic)


def test_colour_reach_refuses_bad_values():
    photo = numpy.zeros((8, 8, 3), numpy.uint8)
    mask = numpy.ones((8, 8), bool)
    for bad in (0, -1.0, float("nan"), -math.inf, True, "3"):
        with pytest.raises(ValueError, match="colour_reach must be"):
            poisson_blend(photo, photo, mask, (0, 0, 8), colour_reach=bad)
    with pytest.raises(ValueError, match="same height and width"):
        screened_poisson(photo, photo[:4], mask, mask, reach=2)
    with pytest.raises(ValueError, match="finite reach"):
        screened_poisson(photo, photo, mask, mask, reach=math.inf)


@pytest.mark.parametrize("mode", ["mixed", "none"])
def test_colour_reach_is_ignored_by_the_other_modes(mode):
    # as feather is by the Poisson modes: a colour reach only changes normal Poisson blending
    h, w = 60, 80
    photo = smooth_photo(h, w)
    mask = rect_mask(h, w, 20, 40, 25, 55)
    box = square_crop_box(mask)
    edited = offset_edit(photo, box)
    numpy.testing.assert_array_equal(poisson_blend(photo, edited, mask, box, blend_mode=mode, colour_reach=2),
                                     poisson_blend(photo, edited, mask, box, blend_mode=mode))

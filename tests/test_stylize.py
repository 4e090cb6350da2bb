"""neuralcollage.stylize: MLS, guides, lookup table, StyleBlit, compositing (against independent references)."""
import subprocess
import sys

import cv2
import numpy
import pytest

from neuralcollage import stylize as st
from neuralcollage.limits import OPTION_RANGES
from neuralcollage.stylize import metrics


def _smooth_image(size, seed=0, shape=None):
    rng = numpy.random.default_rng(seed)
    h, w = shape or (size, size)
    small = rng.integers(0, 256, (max(2, h // 4), max(2, w // 4), 3)).astype(numpy.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _landmarks(h, w):
    return numpy.array([[0.3 * w, 0.35 * h], [0.7 * w, 0.35 * h], [0.5 * w, 0.55 * h], [0.5 * w, 0.8 * h],
                        [0.2 * w, 0.7 * h]])


def _mls_reference(v, p, q):
    """Schaefer et al. 2006, similarity case, written from the paper's matrix form, one point at a time."""
    w = 1.0 / numpy.maximum(((p - v) ** 2).sum(1), 1e-8)
    p_star = (w[:, None] * p).sum(0) / w.sum()
    q_star = (w[:, None] * q).sum(0) / w.sum()
    p_hat, q_hat = p - p_star, q - q_star
    mu = (w * (p_hat ** 2).sum(1)).sum()
    m = numpy.zeros((2, 2))
    for wi, a, b in zip(w, p_hat, q_hat):
        m += wi * numpy.array([a, [a[1], -a[0]]]).T @ numpy.array([b, [b[1], -b[0]]])
    return (v - p_star) @ (m / mu) + q_star


def test_mls_matches_the_papers_matrix_form():
    rng = numpy.random.default_rng(1)
    p = rng.uniform(0, 50, (7, 2))
    q = p + rng.normal(0, 4, (7, 2))
    points = rng.uniform(-10, 60, (40, 2))
    expected = numpy.array([_mls_reference(v, p, q) for v in points])
    numpy.testing.assert_allclose(st.mls_similarity(points, p, q), expected, rtol=0, atol=1e-9)


def test_mls_reproduces_a_pure_similarity_exactly():
    rng = numpy.random.default_rng(2)
    p = rng.uniform(0, 64, (6, 2))
    angle, scale, shift = 0.4, 1.3, numpy.array([5.0, -7.0])
    rot = scale * numpy.array([[numpy.cos(angle), -numpy.sin(angle)], [numpy.sin(angle), numpy.cos(angle)]])
    q = p @ rot.T + shift
    points = numpy.stack(numpy.meshgrid(numpy.arange(64.0), numpy.arange(64.0)), axis=-1)
    numpy.testing.assert_allclose(st.mls_similarity(points, p, q), points @ rot.T + shift, atol=1e-9)


def test_mls_moves_control_points_onto_their_destinations():
    rng = numpy.random.default_rng(3)
    p = rng.uniform(0, 64, (5, 2))
    q = p + rng.normal(0, 6, (5, 2))
    numpy.testing.assert_allclose(st.mls_similarity(p, p, q), q, atol=1e-5)


def test_position_guide_on_a_grid_is_close_to_the_exact_one():
    p = _landmarks(96, 80)
    q = p * 1.1 + 3.0
    q[2] += (2.0, -3.0)
    exact = st.position_guide((96, 80), p, q, (100, 100), grid=1)
    coarse = st.position_guide((96, 80), p, q, (100, 100), grid=4)
    assert exact.shape == coarse.shape == (96, 80, 2)
    assert numpy.abs(exact - coarse).max() < 0.5
    numpy.testing.assert_allclose(exact[0, 0], numpy.asarray(st.mls_similarity(numpy.zeros(2), p, q))
                                  * st.ramp_scale((100, 100)), rtol=1e-5)


def test_appearance_guide_of_a_flat_image_is_128():
    flat = numpy.full((40, 56, 3), 90, numpy.uint8)
    numpy.testing.assert_allclose(st.appearance_guide(flat), 128.0, atol=1e-3)


def test_match_histogram_gives_the_reference_distribution():
    rng = numpy.random.default_rng(4)
    values = rng.normal(0, 1, (50, 50)).astype(numpy.float32)
    reference = rng.uniform(10, 200, (60, 40)).astype(numpy.float32)
    matched = st.match_histogram(values, reference)
    numpy.testing.assert_allclose(numpy.quantile(matched, [0.1, 0.5, 0.9]),
                                  numpy.quantile(reference, [0.1, 0.5, 0.9]), rtol=0.03)
    assert (numpy.argsort(matched.ravel(), kind="stable") == numpy.argsort(values.ravel(), kind="stable")).all()


def _brute_force_cost(guide, value, position_weight, appearance_weight):
    s = st.ramp_scale(guide.shape)
    return (position_weight * (numpy.abs(guide[..., 0] - value[0]) + numpy.abs(guide[..., 1] - value[1]))
            + appearance_weight * numpy.abs(guide[..., 2] - value[2])), s


@pytest.mark.parametrize("shape", [(40, 40), (37, 53)])
def test_lookup_table_entries_are_the_global_minimum(shape):
    image = _smooth_image(0, seed=5, shape=shape)
    ex = st.prepare_exemplar(image, landmarks=_landmarks(*shape), appearance_bins=8, position_bins=16)
    table, guide = ex.table, ex.guide
    s = st.ramp_scale(shape)
    rng = numpy.random.default_rng(6)
    for _ in range(30):
        kx, ky, ka = rng.integers(len(table.centres_x)), rng.integers(len(table.centres_y)), rng.integers(8)
        value = (table.centres_x[kx] * s, table.centres_y[ky] * s, (ka + 0.5) * 32.0)
        cost, _ = _brute_force_cost(guide, value, 10.0, 2.0)
        x, y = table.positions[0, ka, ky, kx]
        assert cost[y, x] == pytest.approx(cost.min(), rel=1e-5, abs=1e-3)


def test_lookup_table_round_trips_through_a_cache_file(tmp_path, monkeypatch):
    image = _smooth_image(32, seed=7)
    cache = tmp_path / "table.npz"
    first = st.prepare_exemplar(image, landmarks=_landmarks(32, 32), table_cache=cache)
    assert cache.exists()
    with numpy.load(cache, allow_pickle=False) as f:
        assert all(f[k].dtype != object for k in f.files)
    loaded = st.load_lookup_table(cache, key=first.table.key)
    numpy.testing.assert_array_equal(loaded.positions, first.table.positions)
    import neuralcollage.stylize.core as core
    build = core.build_lookup_table
    monkeypatch.setattr(core, "build_lookup_table", lambda *a, **k: pytest.fail("the cache was not used"))
    again = st.prepare_exemplar(image, landmarks=_landmarks(32, 32), table_cache=cache)
    numpy.testing.assert_array_equal(again.table.positions, first.table.positions)
    monkeypatch.setattr(core, "build_lookup_table", build)
    with pytest.raises(ValueError, match="another exemplar"):
        st.load_lookup_table(cache, key="stale")
    other = st.prepare_exemplar(_smooth_image(32, seed=8), landmarks=_landmarks(32, 32), table_cache=cache)
    assert st.load_lookup_table(cache).key == other.table.key != first.table.key
    cache.write_bytes(b"not a zip")
    st.prepare_exemplar(image, landmarks=_landmarks(32, 32), table_cache=cache)  # a corrupt cache is rebuilt
    assert st.load_lookup_table(cache).key == first.table.key


@pytest.mark.parametrize("shape", [(64, 64), (48, 72), (200, 200)])
@pytest.mark.parametrize("radius", [0, 1])
def test_equal_guides_reproduce_the_exemplar(shape, radius):
    image = _smooth_image(0, seed=9, shape=shape)
    lm = _landmarks(*shape)
    out = st.stylize(image, image, target_landmarks=lm, exemplar_landmarks=lm, blend_radius=radius)
    numpy.testing.assert_array_equal(out, image)


def test_a_translated_target_copies_the_translated_exemplar():
    image = _smooth_image(80, seed=10)
    lm = _landmarks(80, 80)
    shifted = numpy.roll(image, (5, -3), axis=(0, 1))
    details = st.stylize_details(shifted, image, target_landmarks=lm + (-3, 5), exemplar_landmarks=lm,
                                 blend_radius=0, threshold=24.0)
    inner = (slice(10, 70), slice(10, 70))
    numpy.testing.assert_array_equal(details.image[inner], shifted[inner])
    assert (details.synthesis.level[inner] >= 0).all()


@pytest.mark.parametrize("stride", [1, 2])
def test_vote_matches_a_per_pixel_loop(stride):
    rng = numpy.random.default_rng(11)
    exemplar = rng.integers(0, 256, (9, 11, 3)).astype(numpy.uint8)
    nnf = numpy.stack([rng.integers(0, 11, (7, 6)), rng.integers(0, 9, (7, 6))], axis=-1)
    expected = numpy.zeros((7, 6, 3))
    for i in range(7):
        for j in range(6):
            samples = []
            for di in (-stride, 0, stride):
                for dj in (-stride, 0, stride):
                    if 0 <= i + di < 7 and 0 <= j + dj < 6:
                        x = min(max(nnf[i + di, j + dj, 0] - dj, 0), 10)
                        y = min(max(nnf[i + di, j + dj, 1] - di, 0), 8)
                        samples.append(exemplar[y, x].astype(float))
            expected[i, j] = numpy.mean(samples, axis=0)
    numpy.testing.assert_array_equal(st.vote(exemplar, nnf, radius=1, stride=stride),
                                     numpy.floor(expected + 0.5).astype(numpy.uint8))
    with pytest.raises(ValueError, match="stride must be >= 1"):
        st.vote(exemplar, nnf, radius=1, stride=0)


@pytest.mark.parametrize("radius, stride", [(1, 1), (2, 1), (2, 2)])
def test_weighted_vote_matches_a_per_pixel_loop(radius, stride):
    rng = numpy.random.default_rng(12)
    exemplar = rng.integers(0, 256, (9, 11, 3)).astype(numpy.uint8)
    gs = rng.uniform(0, 255, (9, 11, 2)).astype(numpy.float32)
    gt = rng.uniform(0, 255, (7, 6, 2)).astype(numpy.float32)
    nnf = numpy.stack([rng.integers(0, 11, (7, 6)), rng.integers(0, 9, (7, 6))], axis=-1)
    w, sigma = numpy.array([1.0, 0.5]), 40.0
    expected = numpy.zeros((7, 6, 3))
    for i in range(7):
        for j in range(6):
            total, acc = 0.0, numpy.zeros(3)
            offsets = [stride * k for k in range(-radius, radius + 1)]
            for di in offsets:
                for dj in offsets:
                    if 0 <= i + di < 7 and 0 <= j + dj < 6:
                        x = min(max(nnf[i + di, j + dj, 0] - dj, 0), 10)
                        y = min(max(nnf[i + di, j + dj, 1] - di, 0), 8)
                        weight = numpy.exp(-(numpy.abs(gt[i, j] - gs[y, x]) * w).sum() / sigma)
                        acc += weight * exemplar[y, x]
                        total += weight
            expected[i, j] = acc / total
    got = st.vote(exemplar, nnf, radius=radius, target_guide=gt, exemplar_guide=gs, guide_weights=w, sigma=sigma,
                  stride=stride)
    numpy.testing.assert_array_equal(got, numpy.floor(expected + 0.5).astype(numpy.uint8))
    flat = st.vote(exemplar, nnf, radius=1, target_guide=gt, exemplar_guide=gs, sigma=1e12)
    assert numpy.abs(flat.astype(int) - st.vote(exemplar, nnf, radius=1).astype(int)).max() <= 1
    with pytest.raises(ValueError, match="needs target_guide"):
        st.vote(exemplar, nnf, radius=1, sigma=4.0)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        st.vote(exemplar, nnf, radius=1, target_guide=gt, exemplar_guide=gs, sigma=0.0)


def test_weighted_vote_keeps_a_seam_sharp():
    """Two chunks meet at column 4: the plain mean blurs the seam, the weighted vote keeps each side's pixel
    where the guide says it belongs."""
    exemplar = numpy.zeros((8, 16, 1), numpy.uint8)
    exemplar[:, 8:] = 200
    gs = numpy.zeros((8, 16, 1), numpy.float32)
    gs[:, 8:] = 255
    gt = numpy.zeros((8, 8, 1), numpy.float32)
    gt[:, 4:] = 255
    xs = numpy.arange(8)[None, :].repeat(8, 0)
    nnf = numpy.stack([numpy.where(xs < 4, xs, xs + 4), numpy.arange(8)[:, None].repeat(8, 1)], axis=-1)
    plain = st.vote(exemplar, nnf, radius=1)[..., 0]
    sharp = st.vote(exemplar, nnf, radius=1, target_guide=gt, exemplar_guide=gs, sigma=8.0)[..., 0]
    assert (plain[:, 4] < 200).all()
    assert (sharp[:, :4] == 0).all() and (sharp[:, 4:] == 200).all()


def _face_pair(size=64, seed=3):
    from neuralcollage.datasets import pose_of, render_landmarks, render_sample
    pose = pose_of(seed + 5000)
    exemplar = render_sample(seed, size=size, style="hatch").image
    target = render_sample(seed, size=size, pose=pose).image
    ex_lm, t_lm = render_landmarks(seed, size=size), render_landmarks(seed, size=size, pose=pose)
    keep = ((ex_lm > -0.5) & (ex_lm < size - 0.5)).all(1) & ((t_lm > -0.5) & (t_lm < size - 0.5)).all(1)
    return exemplar, target, ex_lm[keep], t_lm[keep]


def test_fixed_seed_is_bit_identical_and_another_seed_boils():
    exemplar, target, ex_lm, t_lm = _face_pair()
    run = [st.stylize_details(target, exemplar, target_landmarks=t_lm, exemplar_landmarks=ex_lm, seed=s)
           for s in (4, 4, 5)]
    numpy.testing.assert_array_equal(run[0].image, run[1].image)
    numpy.testing.assert_array_equal(run[0].synthesis.nnf, run[1].synthesis.nnf)
    assert (run[0].synthesis.nnf != run[2].synthesis.nnf).any()


def test_output_copies_exemplar_pixels():
    exemplar, target, ex_lm, t_lm = _face_pair()
    out = st.stylize(target, exemplar, target_landmarks=t_lm, exemplar_landmarks=ex_lm, blend_radius=0)
    colours = {tuple(c) for c in exemplar.reshape(-1, 3)}
    assert all(tuple(c) in colours for c in out.reshape(-1, 3))


def test_mask_leaves_the_outside_untouched():
    exemplar, target, ex_lm, t_lm = _face_pair()
    mask = numpy.zeros(target.shape[:2], bool)
    mask[20:44, 16:48] = True
    details = st.stylize_details(target, exemplar, target_landmarks=t_lm, exemplar_landmarks=ex_lm, mask=mask,
                                 feather=2.0)
    out = details.image
    far = ~cv2.dilate(mask.astype(numpy.uint8), numpy.ones((15, 15), numpy.uint8)).astype(bool)
    numpy.testing.assert_array_equal(out[far], target[far])
    assert (out[mask] != target[mask]).any()
    core = numpy.zeros_like(mask)
    core[28:36, 24:40] = True
    numpy.testing.assert_allclose(out[core].astype(int), details.synthesis.image[core].astype(int), atol=1)


def test_segmentation_guide_keeps_parts_apart():
    exemplar, target, ex_lm, t_lm = _face_pair()
    labels = numpy.zeros(exemplar.shape[:2], int)
    labels[:, 32:] = 1
    out = st.stylize_details(exemplar, exemplar, target_landmarks=ex_lm, exemplar_landmarks=ex_lm,
                             labels=labels, n_labels=2, target_labels=labels, blend_radius=0)
    numpy.testing.assert_array_equal(out.image, exemplar)
    assert out.target_guide.shape == (64, 64, 4)


@pytest.mark.parametrize("bad, message", [
    (dict(target_landmarks=numpy.zeros((3, 2))), "has 3 points"),
    (dict(target_landmarks=numpy.array([[1.0, 1.0], [70.0, 3.0], [5, 5], [6, 6], [7, 7]])), "outside the 64x64"),
    (dict(guide_weights=(1, 1)), "guide_weights needs 3"),
    (dict(mask=numpy.ones((10, 10), bool)), "does not match"),
])
def test_bad_arguments_say_what_is_wrong(bad, message):
    image = _smooth_image(64, seed=12)
    kwargs = dict(target_landmarks=_landmarks(64, 64), exemplar_landmarks=_landmarks(64, 64))
    kwargs.update(bad)
    with pytest.raises(ValueError, match=message):
        st.stylize(image, image, **kwargs)


def test_very_different_sizes_are_refused():
    small, big = _smooth_image(32, seed=13), _smooth_image(160, seed=13)
    with pytest.raises(ValueError, match="differ in size"):
        st.stylize(small, big, target_landmarks=_landmarks(32, 32), exemplar_landmarks=_landmarks(160, 160))


def test_metrics_on_known_cases():
    image = _smooth_image(32, seed=14)
    assert metrics.ssim(image, image) == pytest.approx(1.0)
    assert metrics.ssim(image, 255 - image) < 0.0
    corner = image[:16, :16]  # brute-force patch matching: 16 px keep it to 144 x 144 patch pairs
    assert metrics.patch_match_fraction(corner, corner) == 1.0
    assert metrics.patch_match_fraction(numpy.zeros_like(corner), numpy.full_like(corner, 255)) == 0.0
    a = numpy.zeros((4, 4), bool)
    a[:2] = True
    assert metrics.mask_iou(a, a) == 1.0 and metrics.mask_iou(a, ~a) == 0.0


def test_importing_stylize_does_not_import_chainer():
    code = "import sys, neuralcollage.stylize, neuralcollage.stylize.metrics; print('chainer' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_style_brush_previews_the_painted_region():
    from neuralcollage.painting import LabelPainter
    import time
    exemplar, target, ex_lm, t_lm = _face_pair()
    brush = st.StyleBrush(target, exemplar, photo_landmarks=t_lm, exemplar_landmarks=ex_lm, seed=1)
    canvas = LabelPainter(2, target.shape[:2])
    numpy.testing.assert_array_equal(brush.preview(canvas.painted_alpha()), target)
    canvas.add_stroke([(20, 20), (44, 40)], label=1, radius=6)
    start = time.perf_counter()
    preview = brush.preview(canvas.painted_alpha())
    first = time.perf_counter() - start
    painted = canvas.painted_alpha() == 1.0
    full = st.stylize(target, exemplar, target_landmarks=t_lm, exemplar_landmarks=ex_lm, seed=1)
    numpy.testing.assert_array_equal(preview[painted], full[painted])
    numpy.testing.assert_array_equal(preview[canvas.painted_alpha() == 0], target[canvas.painted_alpha() == 0])
    assert first < 1.0


def test_the_voting_stride_grows_with_the_size():
    assert [st.vote_stride_for((s, s)) for s in (32, 64, 95, 96, 128, 256, 512)] == [1, 1, 1, 2, 2, 4, 8]
    from neuralcollage.datasets import render_landmarks, render_sample
    lm = render_landmarks(3, size=128)
    target, exemplar = render_sample(3, size=128).image, render_sample(3, size=128, style="hatch").image
    prepared = st.prepare_exemplar(exemplar, landmarks=lm)
    auto = st.stylize(target, prepared, target_landmarks=lm)
    assert numpy.array_equal(auto, st.stylize(target, prepared, target_landmarks=lm, vote_stride=2))
    assert not numpy.array_equal(auto, st.stylize(target, prepared, target_landmarks=lm, vote_stride=1))


def test_the_default_vote_is_radius_2_and_changes_the_output():
    """stylize() votes over the 25 neighbours (BLEND_RADIUS 2) unless told otherwise; radius 1 gives another
    image (docs/stylize.md, "Voting radius")."""
    from neuralcollage.datasets import pose_of, render_landmarks, render_sample
    assert st.BLEND_RADIUS == 2
    pose = pose_of(5003)
    ex, t = render_sample(3, size=48, style="watercolour").image, render_sample(3, size=48, pose=pose).image
    ex_lm, t_lm = render_landmarks(3, size=48), render_landmarks(3, size=48, pose=pose)
    keep = ((ex_lm > -0.5) & (ex_lm < 47.5)).all(1) & ((t_lm > -0.5) & (t_lm < 47.5)).all(1)
    args = dict(target_landmarks=t_lm[keep], exemplar_landmarks=ex_lm[keep])
    default = st.stylize(t, ex, **args)
    numpy.testing.assert_array_equal(default, st.stylize(t, ex, blend_radius=2, **args))
    assert (default != st.stylize(t, ex, blend_radius=1, **args)).any()


def _hatching(size, period=8, crossed=True):
    y, x = numpy.mgrid[0:size, 0:size].astype(numpy.float64)
    lines = numpy.cos(2 * numpy.pi * (x + y) / period)
    if crossed:
        lines = numpy.maximum(lines, numpy.cos(2 * numpy.pi * (x - y) / period))
    return (128 + 100 * lines).astype(numpy.float32)


def _on_lattice(vectors, basis):
    c = numpy.asarray(vectors, numpy.float64) @ numpy.linalg.inv(numpy.asarray(basis, numpy.float64)).T
    return numpy.abs(c - numpy.rint(c)).max(axis=-1) < 1e-6


def test_texture_lattice_finds_the_periods_of_hatching():
    crossed = st.guides.texture_lattice(_hatching(96))
    assert round(abs(numpy.linalg.det(crossed))) == 32  # the moves keeping both (x + y) and (x - y) mod 8
    assert _on_lattice([[4, 4], [4, -4], [8, 0]], crossed).all() and not _on_lattice([[1, -1], [2, 2]], crossed).any()
    lines = st.guides.texture_lattice(_hatching(96, crossed=False))
    assert round(abs(numpy.linalg.det(lines))) == 8  # x + y in 8Z: along the lines, and by 8 across them
    assert _on_lattice([[1, -1], [8, 0], [4, 4]], lines).all() and not _on_lattice([[1, 1], [2, 2]], lines).any()
    smooth = _smooth_image(96, seed=20)
    assert st.guides.texture_lattice(st.appearance_guide(smooth, stretch=True)) is None


def test_snap_to_lattice_takes_the_nearest_point_of_the_pixels_coset():
    from neuralcollage.stylize.styleblit import snap_to_lattice
    rng = numpy.random.default_rng(21)
    positions = rng.integers(0, 40, (200, 2))
    pixels = rng.integers(0, 40, (200, 2))
    window = numpy.stack(numpy.meshgrid(numpy.arange(-8, 9), numpy.arange(-8, 9)), -1).reshape(-1, 2)
    # crossed hatching (orthogonal basis), lines (an obtuse reduced basis), a skewed lattice
    for basis in (numpy.array([[4, 4], [4, -4]]), numpy.array([[-2, -3], [2, -5]]), numpy.array([[3, 1], [-1, 3]])):
        out = snap_to_lattice(positions, pixels, basis, (40, 40))
        assert _on_lattice(out - pixels, basis).all()
        for p, q, o in zip(positions, pixels, out):
            cand = p + window
            cand = cand[(cand >= 0).all(1) & (cand < 40).all(1) & _on_lattice(cand - q, basis)]
            assert ((o - p) ** 2).sum() == ((cand - p) ** 2).sum(1).min()
    basis = numpy.array([[4, 4], [4, -4]])
    labels = numpy.zeros((40, 40), int)
    labels[:, 20:] = 1
    kept = snap_to_lattice(positions, pixels, basis, (40, 40), exemplar_labels=labels,
                           target_labels=labels[positions[:, 1], positions[:, 0]])
    assert (labels[kept[:, 1], kept[:, 0]] == labels[positions[:, 1], positions[:, 0]]).all()
    assert _on_lattice(kept - pixels, basis).all()


def _hatch_pair(size=64, seed=3, style="hatch"):
    from neuralcollage.datasets import pose_of, render_landmarks, render_sample
    pose = pose_of(seed + 5000)
    exemplar = render_sample(seed, size=size, style=style).image
    target = render_sample(seed, size=size, pose=pose).image
    ex_lm, t_lm = render_landmarks(seed, size=size), render_landmarks(seed, size=size, pose=pose)
    keep = ((ex_lm > -0.5) & (ex_lm < size - 0.5)).all(1) & ((t_lm > -0.5) & (t_lm < size - 0.5)).all(1)
    return exemplar, target, dict(target_landmarks=t_lm[keep], exemplar_landmarks=ex_lm[keep])


def test_lattice_keeps_every_copied_offset_on_the_hatchings_lattice():
    exemplar, target, lm = _hatch_pair(64)
    prepared = st.prepare_exemplar(exemplar, landmarks=lm["exemplar_landmarks"])
    basis = st.core.exemplar_lattice(prepared, target.shape)
    assert basis is not None and round(abs(numpy.linalg.det(basis))) in (8, 16)  # period 4 at 64 px
    runs = [st.stylize_details(target, prepared, target_landmarks=lm["target_landmarks"], lattice="auto", seed=2)
            for _ in range(2)]
    numpy.testing.assert_array_equal(runs[0].image, runs[1].image)
    nnf = runs[0].synthesis.nnf
    offsets = nnf - numpy.stack(numpy.meshgrid(numpy.arange(64), numpy.arange(64)), -1)
    assert _on_lattice(offsets.reshape(-1, 2), basis).all()
    plain = st.stylize_details(target, prepared, target_landmarks=lm["target_landmarks"], seed=2)
    assert not _on_lattice((plain.synthesis.nnf - numpy.stack(numpy.meshgrid(numpy.arange(64), numpy.arange(64)),
                                                                -1)).reshape(-1, 2), basis).all()
    explicit = st.stylize(target, prepared, target_landmarks=lm["target_landmarks"], lattice=basis, seed=2)
    numpy.testing.assert_array_equal(explicit, runs[0].image)


def test_lattice_leaves_a_texture_without_period_and_the_default_alone():
    exemplar, target, lm = _hatch_pair(64, style="watercolour")
    default = st.stylize(target, exemplar, **lm)
    numpy.testing.assert_array_equal(default, st.stylize(target, exemplar, lattice="auto", **lm))
    numpy.testing.assert_array_equal(default, st.stylize(target, exemplar, lattice=None, texture_weight=0.0, **lm))


def test_lattice_keeps_part_labels_with_a_segmentation_guide():
    exemplar, target, lm = _hatch_pair(64)
    labels = numpy.zeros(exemplar.shape[:2], int)
    labels[:, 30:] = 1
    target_labels = numpy.zeros(target.shape[:2], int)
    target_labels[:, 34:] = 1
    d = st.stylize_details(target, exemplar, labels=labels, n_labels=2, target_labels=target_labels, lattice="auto",
                           blend_radius=0, **lm)
    nnf = d.synthesis.nnf
    assert (labels[nnf[..., 1], nnf[..., 0]] == target_labels).mean() > 0.99


def test_texture_weight_refines_the_per_pixel_answers_and_zero_is_the_default():
    from neuralcollage.stylize.styleblit import refine_field
    rng = numpy.random.default_rng(22)
    gs = rng.uniform(0, 255, (20, 24, 4)).astype(numpy.float32)
    values = rng.uniform(0, 255, (50, 4)).astype(numpy.float32)
    start = numpy.stack([rng.integers(0, 24, 50), rng.integers(0, 20, 50)], 1)
    weights = (1.0, 2.0, 1.0, 0.5)
    out = refine_field(values, gs, start, radius=2, guide_weights=weights)
    for v, s0, o in zip(values, start, out):
        best = min((float((numpy.abs(v - gs[y, x]) * weights).sum()), (x, y))
                   for y in range(max(0, s0[1] - 2), min(20, s0[1] + 3))
                   for x in range(max(0, s0[0] - 2), min(24, s0[0] + 3)))
        assert abs(best[0] - float((numpy.abs(v - gs[o[1], o[0]]) * weights).sum())) < 1e-3
    exemplar, target, lm = _hatch_pair(64)
    textured = [st.stylize(target, exemplar, texture_weight=1.0, seed=1, **lm) for _ in range(2)]
    numpy.testing.assert_array_equal(textured[0], textured[1])
    assert (textured[0] != st.stylize(target, exemplar, seed=1, **lm)).any()
    with pytest.raises(ValueError, match="texture_weight"):
        st.stylize(target, exemplar, texture_weight=-1.0, **lm)
    with pytest.raises(ValueError, match="lattice"):
        st.stylize(target, exemplar, lattice=numpy.array([[1, 2], [2, 4]]), **lm)
    with pytest.raises(ValueError, match="lattice"):
        st.stylize(target, exemplar, lattice="everywhere", **lm)


def _refine_reference(output, nnf, exemplar, gt, gs, lattice, weights, segmentation, r, guide_weight):
    """refine_patches one pixel at a time: the lowest cost of the candidates the docstring lists."""
    h, w = nnf.shape[:2]
    h_e, w_e = exemplar.shape[:2]
    out, ex = output.astype(numpy.float64), exemplar.astype(numpy.float64)
    best = numpy.full((h, w), numpy.inf)
    steps = [(0, 0)] + [(dx, dy) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dx, dy) != (0, 0)]
    moves = [] if lattice is None else [tuple(i * lattice[:, 0] + j * lattice[:, 1])
                                        for i in (-1, 0, 1) for j in (-1, 0, 1) if (i, j) != (0, 0)]
    for y in range(h):
        for x in range(w):
            cands = []
            for dx, dy in steps:
                if 0 <= y + dy < h and 0 <= x + dx < w:
                    n = nnf[y + dy, x + dx]
                    cands.append((n[0] - dx, n[1] - dy))
            cands += [(nnf[y, x, 0] + mx, nnf[y, x, 1] + my) for mx, my in moves]
            for cx, cy in cands:
                if not (0 <= cx < w_e and 0 <= cy < h_e):
                    continue
                if segmentation and gt[y, x, 3] != gs[cy, cx, 3]:
                    continue
                diff = [abs(out[min(max(y + v, 0), h - 1), min(max(x + u, 0), w - 1)]
                            - ex[min(max(cy + v, 0), h_e - 1), min(max(cx + u, 0), w_e - 1)]).mean()
                        for v in range(-r, r + 1) for u in range(-r, r + 1)]
                cost = numpy.mean(diff) + guide_weight * float((numpy.abs(gt[y, x] - gs[cy, cx]) * weights).sum())
                best[y, x] = min(best[y, x], cost)
    return best


@pytest.mark.parametrize("with_lattice, segmentation", [(False, False), (True, False), (True, True)])
def test_refine_patches_takes_the_candidate_of_lowest_patch_cost(with_lattice, segmentation):
    from neuralcollage.stylize.styleblit import refine_patches
    rng = numpy.random.default_rng(31)
    h, w, h_e, w_e = 9, 11, 10, 12
    exemplar = rng.integers(0, 256, (h_e, w_e, 3)).astype(numpy.uint8)
    output = rng.integers(0, 256, (h, w, 3)).astype(numpy.uint8)
    gt = rng.uniform(0, 255, (h, w, 4)).astype(numpy.float32)
    gs = rng.uniform(0, 255, (h_e, w_e, 4)).astype(numpy.float32)
    gt[..., 3] = 100.0 * (numpy.arange(w) >= 5)
    gs[..., 3] = 100.0 * (numpy.arange(w_e) >= 6)
    nnf = numpy.stack([rng.integers(-1, w_e + 1, (h, w)), rng.integers(-1, h_e + 1, (h, w))], -1).astype(numpy.int32)
    lattice = numpy.array([[3, 1], [0, 2]]) if with_lattice else None
    weights = numpy.array([1.0, 0.5, 2.0, 1.0], numpy.float32)
    new = refine_patches(output, nnf, exemplar, gt, gs, lattice=lattice, guide_weights=weights,
                         segmentation=segmentation, guide_weight=0.3)
    expected = _refine_reference(output, nnf, exemplar, gt, gs, lattice, weights, segmentation, 2, 0.3)
    found = numpy.isfinite(expected)
    assert found.mean() > 0.9
    assert numpy.array_equal(new[~found], nnf[~found])  # no allowed candidate: unchanged
    x, y = new[found, 0], new[found, 1]
    assert ((x >= 0) & (x < w_e) & (y >= 0) & (y < h_e)).all()
    if segmentation:
        assert (gs[y, x, 3] == gt[found, 3]).all()
    # the chosen candidate's cost is the reference's minimum
    cost = numpy.array([[numpy.mean([abs(output[min(max(yy + v, 0), h - 1), min(max(xx + u, 0), w - 1)]
                                         .astype(float) - exemplar[min(max(new[yy, xx, 1] + v, 0), h_e - 1),
                                                                   min(max(new[yy, xx, 0] + u, 0), w_e - 1)]).mean()
                                     for v in range(-2, 3) for u in range(-2, 3)])
                         + 0.3 * float((numpy.abs(gt[yy, xx] - gs[min(max(new[yy, xx, 1], 0), h_e - 1),
                                                                   min(max(new[yy, xx, 0], 0), w_e - 1)])
                                        * weights).sum())
                         for xx in range(w)] for yy in range(h)])
    numpy.testing.assert_allclose(cost[found], expected[found], rtol=1e-4, atol=1e-3)


def test_patch_iterations_keep_the_lattice_and_the_labels_and_zero_is_the_default():
    exemplar, target, lm = _hatch_pair(64)
    prepared = st.prepare_exemplar(exemplar, landmarks=lm["exemplar_landmarks"])
    basis = st.core.exemplar_lattice(prepared, target.shape)
    default = st.stylize(target, prepared, target_landmarks=lm["target_landmarks"], lattice="auto", seed=2)
    numpy.testing.assert_array_equal(default, st.stylize(target, prepared, target_landmarks=lm["target_landmarks"],
                                                         lattice="auto", seed=2, patch_iterations=0))
    runs = [st.stylize_details(target, prepared, target_landmarks=lm["target_landmarks"], lattice="auto", seed=2,
                               patch_iterations=2) for _ in range(2)]
    numpy.testing.assert_array_equal(runs[0].image, runs[1].image)
    assert (runs[0].image != default).any()
    grid = numpy.stack(numpy.meshgrid(numpy.arange(64), numpy.arange(64)), -1)
    assert _on_lattice((runs[0].synthesis.nnf - grid).reshape(-1, 2), basis).all()
    labels = numpy.zeros(exemplar.shape[:2], int)
    labels[:, 30:] = 1
    target_labels = numpy.zeros(target.shape[:2], int)
    target_labels[:, 34:] = 1
    d = st.stylize_details(target, exemplar, labels=labels, n_labels=2, target_labels=target_labels, lattice="auto",
                           patch_iterations=2, **lm)
    before = st.stylize_details(target, exemplar, labels=labels, n_labels=2, target_labels=target_labels,
                                lattice="auto", **lm)
    kept = lambda nnf: (labels[nnf[..., 1], nnf[..., 0]] == target_labels).mean()  # noqa: E731
    assert kept(d.synthesis.nnf) >= kept(before.synthesis.nnf) > 0.99
    with pytest.raises(ValueError, match="patch_iterations"):
        st.stylize(target, exemplar, patch_iterations=-1, **lm)
    for bad in (OPTION_RANGES["patch_iterations"][2] + 1, 2.0, True):
        with pytest.raises(ValueError, match=r"patch_iterations must be an integer in \[0, "):
            st.stylize(target, exemplar, patch_iterations=bad, **lm)

"""neuralcollage.stylize: MLS, guides, lookup table, StyleBlit, compositing (against independent references)."""
import subprocess
import sys

import cv2
import numpy
import pytest

from neuralcollage import stylize as st
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

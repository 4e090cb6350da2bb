"""Measures of a stylisation against a ground truth and its exemplar (NumPy/OpenCV)."""
import cv2
import numpy

__all__ = ["ssim_map", "ssim", "patch_match_fraction", "transfer_labels", "mask_iou", "warp_exemplar"]

_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


def _grey(image):
    arr = numpy.asarray(image)
    if arr.ndim == 3:
        arr = cv2.cvtColor(numpy.ascontiguousarray(arr, dtype=numpy.uint8), cv2.COLOR_RGB2GRAY)
    return arr.astype(numpy.float64)


def ssim_map(a, b, *, sigma=1.5):
    """Structural similarity (Wang, Bovik, Sheikh, Simoncelli 2004) of the grey versions of two uint8 images,
    Gaussian window of ``sigma`` px, constants ``K1 = 0.01``, ``K2 = 0.03``: ``(H, W)`` float64 in [-1, 1]."""
    x, y = _grey(a), _grey(b)
    if x.shape != y.shape:
        raise ValueError(f"images differ in shape: {x.shape} and {y.shape}")

    def blur(v):
        return cv2.GaussianBlur(v, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cxy = blur(x * y) - mx * my
    return ((2 * mx * my + _C1) * (2 * cxy + _C2)) / ((mx * mx + my * my + _C1) * (vx + vy + _C2))


def ssim(a, b, *, region=None, sigma=1.5):
    """Mean of :func:`ssim_map` over ``region`` (``(H, W)`` bool; default everywhere)."""
    m = ssim_map(a, b, sigma=sigma)
    return float(m.mean() if region is None else m[numpy.asarray(region, bool)].mean())


def _patches(image, size):
    arr = numpy.asarray(image, numpy.float32)
    h, w = arr.shape[:2]
    view = numpy.lib.stride_tricks.sliding_window_view(arr, (size, size), axis=(0, 1))
    return view.reshape(h - size + 1, w - size + 1, -1)


def patch_match_fraction(output, exemplar, *, region=None, patch=5, tolerance=8.0, chunk=2048, max_patches=None,
                         seed=0):
    """Fraction of ``output``'s ``patch`` x ``patch`` patches that have a close match in ``exemplar``.

    A patch matches when some exemplar patch (any position) differs from it by at most ``tolerance`` in mean
    absolute difference (uint8 units, over pixels and channels).  Only patches whose centre lies in
    ``region`` count; ``max_patches`` of them at most, drawn with ``numpy.random.default_rng(seed)``.  Brute
    force; meant for exemplars up to about 128 px.
    """
    r = patch // 2
    out_p = _patches(output, patch)
    ex_p = _patches(exemplar, patch).reshape(-1, out_p.shape[2])
    centres = numpy.ones(out_p.shape[:2], bool)
    if region is not None:
        centres = numpy.asarray(region, bool)[r:r + out_p.shape[0], r:r + out_p.shape[1]]
    queries = out_p[centres]
    if max_patches is not None and len(queries) > max_patches:
        queries = queries[numpy.sort(numpy.random.default_rng(seed).choice(len(queries), max_patches, replace=False))]
    if not len(queries):
        return float("nan")
    best = numpy.empty(len(queries), numpy.float32)
    for i in range(0, len(queries), chunk):
        q = queries[i:i + chunk]
        best[i:i + chunk] = numpy.abs(q[:, None, :] - ex_p[None, :, :]).mean(axis=2).min(axis=1) \
            if len(ex_p) * len(q) * q.shape[1] < 2e8 else _min_l1(q, ex_p)
    return float((best <= tolerance).mean())


def _min_l1(queries, candidates, step=256):
    best = numpy.full(len(queries), numpy.inf, numpy.float32)
    for j in range(0, len(candidates), step):
        d = numpy.abs(queries[:, None, :] - candidates[None, j:j + step, :]).mean(axis=2).min(axis=1)
        best = numpy.minimum(best, d)
    return best


def transfer_labels(labels, field):
    """Labels of the exemplar pixels a field points at: ``labels`` ``(He, We)`` and ``field`` ``(H, W, 2)``
    ``(x, y)`` (rounded, clipped) -> ``(H, W)``."""
    lab = numpy.asarray(labels)
    f = numpy.rint(numpy.asarray(field)).astype(numpy.int64)
    return lab[numpy.clip(f[..., 1], 0, lab.shape[0] - 1), numpy.clip(f[..., 0], 0, lab.shape[1] - 1)]


def mask_iou(a, b):
    """Intersection over union of two bool masks (1.0 when both are empty)."""
    a, b = numpy.asarray(a, bool), numpy.asarray(b, bool)
    union = (a | b).sum()
    return 1.0 if union == 0 else float((a & b).sum() / union)


def warp_exemplar(exemplar, target_shape, *, target_landmarks, exemplar_landmarks):
    """The baseline: the exemplar warped onto the target by MLS similarity deformation (bilinear).

    Returns ``(image (H, W, 3) uint8, field (H, W, 2) float32 exemplar (x, y) per target pixel)``.
    """
    from neuralcollage.stylize.guides import mls_similarity
    h, w = target_shape[:2]
    grid = numpy.stack(numpy.meshgrid(numpy.arange(w), numpy.arange(h)), axis=-1).astype(numpy.float64)
    field = mls_similarity(grid, target_landmarks, exemplar_landmarks).astype(numpy.float32)
    image = cv2.remap(numpy.ascontiguousarray(exemplar), numpy.ascontiguousarray(field[..., 0]),
                      numpy.ascontiguousarray(field[..., 1]), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return image, field

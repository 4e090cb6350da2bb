"""Guidance channels for example-based stylisation (FaceBlit-style guides from landmarks).

Coordinates are pixel-index coordinates ``(x, y)``: the centre of pixel ``image[i, j]`` is ``(j, i)``.
Guides are float32 ``(H, W, C)`` arrays in 0-255 units; channel 0 and 1 are the position guide
(x and y), channel 2 the appearance guide, further channels the optional segmentation guide.
"""
import cv2
import numpy

__all__ = ["mls_similarity", "position_ramp", "position_guide", "appearance_guide", "match_histogram",
           "segmentation_guide", "ramp_scale", "texture_lattice", "LATTICE_MIN_PEAK"]

#: Smallest normalised autocorrelation of a peak :func:`texture_lattice` takes for a period of the texture.
LATTICE_MIN_PEAK = 0.25

_EPS = 1e-8


def _as_points(points, name):
    arr = numpy.asarray(points, dtype=numpy.float64)
    if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) < 2:
        raise ValueError(f"{name} must be (K, 2) with K >= 2, got shape {arr.shape}")
    if not numpy.isfinite(arr).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return arr


def mls_similarity(points, source, destination, *, alpha=1.0):
    """Moving-least-squares similarity deformation (Schaefer, McPhail, Warren 2006) at ``points``.

    Each point ``v`` is moved by the similarity transform that best maps the ``source`` control points
    onto ``destination`` under the weights ``w_i = 1 / |source_i - v| ** (2 * alpha)``.  A control point
    maps onto its destination; when ``destination`` is one similarity transform of ``source`` every
    point follows that transform exactly.

    Parameters
    ----------
    points : array_like, shape (..., 2)
        Float ``(x, y)`` positions to deform.
    source, destination : array_like, shape (K, 2)
        Control points, K >= 2, not all equal.
    alpha : float, keyword-only
        Weight falloff exponent (> 0).

    Returns
    -------
    numpy.ndarray
        ``points.shape`` float64: the deformed positions.
    """
    src = _as_points(source, "source")
    dst = _as_points(destination, "destination")
    if src.shape != dst.shape:
        raise ValueError(f"source {src.shape} and destination {dst.shape} differ in shape")
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    pts = numpy.asarray(points, dtype=numpy.float64)
    if pts.shape[-1:] != (2,):
        raise ValueError(f"points must be (..., 2), got shape {pts.shape}")
    v = (pts[..., 0] + 1j * pts[..., 1]).reshape(-1, 1)
    p = (src[:, 0] + 1j * src[:, 1])[None, :]
    q = (dst[:, 0] + 1j * dst[:, 1])[None, :]
    d2 = numpy.abs(v - p) ** 2
    w = 1.0 / numpy.maximum(d2, _EPS) ** alpha
    w_sum = w.sum(axis=1, keepdims=True)
    p_star = (w * p).sum(axis=1, keepdims=True) / w_sum
    q_star = (w * q).sum(axis=1, keepdims=True) / w_sum
    p_hat = p - p_star
    q_hat = q - q_star
    mu = (w * (p_hat.real ** 2 + p_hat.imag ** 2)).sum(axis=1, keepdims=True)
    a = (w * numpy.conj(p_hat) * q_hat).sum(axis=1, keepdims=True) / numpy.maximum(mu, _EPS)
    out = ((v - p_star) * a + q_star)[:, 0]
    return numpy.stack([out.real, out.imag], axis=-1).reshape(pts.shape)


def ramp_scale(shape):
    """0-255 units per pixel of the position ramp of an image of ``shape`` (one scale for x and y)."""
    return 255.0 / max(max(shape[0], shape[1]) - 1, 1)


def position_ramp(shape):
    """The exemplar's position guide: ``(H, W, 2)`` float32, ``x`` and ``y`` times :func:`ramp_scale`."""
    h, w = shape[:2]
    s = ramp_scale((h, w))
    out = numpy.empty((h, w, 2), numpy.float32)
    out[..., 0] = numpy.arange(w, dtype=numpy.float32)[None, :] * s
    out[..., 1] = numpy.arange(h, dtype=numpy.float32)[:, None] * s
    return out


def position_guide(target_shape, target_landmarks, exemplar_landmarks, exemplar_shape, *, grid=4):
    """The target's position guide: the exemplar's ramp moved by MLS similarity deformation from the
    exemplar's landmarks onto the target's.

    The value at a target pixel ``v`` is the ramp at ``f(v)``, ``f`` the MLS map from target to exemplar
    landmarks, evaluated exactly on every ``grid``-th pixel and bilinearly interpolated between (``grid=1``:
    exact everywhere).

    Returns
    -------
    numpy.ndarray
        ``(H, W, 2)`` float32 in 0-255 units of the exemplar's ramp (values outside the exemplar fall
        outside ``[0, 255]``).
    """
    h, w = target_shape[:2]
    grid = max(1, int(grid))
    xs = numpy.arange(0, w - 1 + grid, grid, dtype=numpy.float64)
    ys = numpy.arange(0, h - 1 + grid, grid, dtype=numpy.float64)
    coarse = mls_similarity(numpy.stack(numpy.meshgrid(xs, ys), axis=-1), target_landmarks, exemplar_landmarks)
    coarse = (coarse * ramp_scale(exemplar_shape)).astype(numpy.float32)
    if grid == 1:
        return coarse
    map_x = numpy.broadcast_to(numpy.arange(w, dtype=numpy.float32)[None, :] / grid, (h, w))
    map_y = numpy.broadcast_to(numpy.arange(h, dtype=numpy.float32)[:, None] / grid, (h, w))
    return cv2.remap(coarse, numpy.ascontiguousarray(map_x), numpy.ascontiguousarray(map_y), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def _grey(image):
    arr = numpy.asarray(image)
    if arr.ndim == 3:
        if arr.shape[2] != 3:
            raise ValueError(f"image must be (H, W, 3) RGB or (H, W) grey, got shape {arr.shape}")
        arr = cv2.cvtColor(numpy.ascontiguousarray(arr, dtype=numpy.uint8), cv2.COLOR_RGB2GRAY)
    elif arr.ndim != 2:
        raise ValueError(f"image must be (H, W, 3) RGB or (H, W) grey, got shape {arr.shape}")
    return arr.astype(numpy.float32)


def _pyramid_blur(grey, levels):
    shapes = []
    g = grey
    for _ in range(levels):
        if min(g.shape) < 2:
            break
        shapes.append(g.shape)
        g = cv2.pyrDown(g)
    for shape in reversed(shapes):
        g = cv2.pyrUp(g, dstsize=(shape[1], shape[0]))
    return g


def appearance_guide(image, *, levels=3, stretch=False):
    """``(grey - blur(grey)) / 2 + 128``, the blur going ``levels`` pyramid levels down and up.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W, 3)`` uint8 RGB or ``(H, W)`` grey.
    stretch : bool, keyword-only
        Contrast-stretch about 128 so that the 1st and 99th percentiles reach 0 and 255 (the exemplar's
        guide; clipped).

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` float32 in [0, 255].
    """
    grey = _grey(image)
    out = (grey - _pyramid_blur(grey, levels)) * 0.5 + 128.0
    if stretch:
        spread = numpy.percentile(numpy.abs(out - 128.0), 99)
        if spread > 1e-3:
            out = (out - 128.0) * (127.0 / spread) + 128.0
    return numpy.clip(out, 0.0, 255.0).astype(numpy.float32)


def match_histogram(values, reference, *, mask=None, reference_mask=None):
    """Map ``values`` monotonically so that their histogram matches ``reference``'s (quantile matching).

    Only the pixels in ``mask`` / ``reference_mask`` (bool, same shapes; default all) define the two
    distributions; every pixel of ``values`` is mapped.  Returns float32 of ``values.shape``.
    """
    v = numpy.asarray(values, dtype=numpy.float32)
    r = numpy.asarray(reference, dtype=numpy.float32)
    src = v[mask] if mask is not None else v.ravel()
    ref = r[reference_mask] if reference_mask is not None else r.ravel()
    if src.size == 0 or ref.size == 0:
        return v.copy()
    quantiles = numpy.linspace(0.0, 1.0, 257)
    src_q = numpy.quantile(src, quantiles)
    ref_q = numpy.quantile(ref, quantiles)
    src_q, keep = numpy.unique(src_q, return_index=True)
    if len(src_q) < 2:
        return numpy.full_like(v, numpy.median(ref))
    return numpy.interp(v, src_q, ref_q[keep]).astype(numpy.float32)


def segmentation_guide(labels, n_labels):
    """Label map ``(H, W)`` int in ``[0, n_labels)`` -> ``(H, W)`` float32 guide ``label * 255 / (n - 1)``."""
    lab = numpy.asarray(labels)
    if lab.ndim != 2:
        raise ValueError(f"labels must be (H, W), got shape {lab.shape}")
    if lab.size and (lab.min() < 0 or lab.max() >= n_labels):
        raise ValueError(f"labels must lie in [0, {n_labels}), got [{lab.min()}, {lab.max()}]")
    return lab.astype(numpy.float32) * (255.0 / max(n_labels - 1, 1))


def _reduce_basis(a, b):
    """Lagrange-Gauss reduction of the integer basis ``a``, ``b``: the shortest basis of the same lattice."""
    a, b = numpy.asarray(a, numpy.int64), numpy.asarray(b, numpy.int64)
    while True:
        if a @ a > b @ b:
            a, b = b, a
        mu = int(numpy.floor((a @ b) / (a @ a) + 0.5))
        if mu == 0:
            return a, b
        b = b - mu * a


def texture_lattice(appearance, *, reach=None, min_peak=LATTICE_MIN_PEAK):
    """The translations under which a texture repeats, from the peaks of its autocorrelation.

    A hatched exemplar's appearance guide is, where the hatching runs at a fixed angle and spacing, nearly
    unchanged by the translations of a lattice (one set of lines: all the moves along the lines and by a
    multiple of the spacing across them; crossed sets: the moves that keep both).  The lattice is read off the
    normalised (circular) autocorrelation ``R(t)`` of ``appearance - mean`` within ``reach`` px: the highest local
    maximum ``a`` (``R(a) > min_peak``, ``t != 0``), then the highest one not parallel to ``a``; with none, the
    lines' lattice (``a`` and the shortest integer step along the lines, perpendicular to ``a``).

    Parameters
    ----------
    appearance : numpy.ndarray
        ``(H, W)`` float: the exemplar's appearance guide (or any grey texture).
    reach : int, keyword-only, optional
        Largest period looked for, px (default ``max(4, min(H, W) // 8)``).
    min_peak : float, keyword-only
        Smallest autocorrelation (1 at ``t = 0``) that counts as a period; smooth textures (watercolour washes)
        have none and give None.

    Returns
    -------
    numpy.ndarray or None
        ``(2, 2)`` int64 reduced basis, columns the lattice vectors ``(x, y)``; None without a period.
    """
    a = numpy.asarray(appearance, numpy.float64)
    if a.ndim != 2:
        raise ValueError(f"appearance must be (H, W), got shape {a.shape}")
    h, w = a.shape
    reach = max(4, min(h, w) // 8) if reach is None else int(reach)
    reach = min(reach, (min(h, w) - 1) // 2)
    if reach < 2:
        return None
    a = a - a.mean()
    power = numpy.abs(numpy.fft.rfft2(a)) ** 2  # circular: every shift compares all the pixels
    corr = numpy.fft.irfft2(power, s=(h, w))
    if not corr[0, 0] > 1e-9:
        return None
    corr = numpy.fft.fftshift(corr / corr[0, 0])
    cy, cx = h // 2, w // 2
    window = corr[cy - reach - 1:cy + reach + 2, cx - reach - 1:cx + reach + 2]
    inner = window[1:-1, 1:-1]
    neighbours = numpy.max(numpy.stack([window[1 + dy:window.shape[0] - 1 + dy, 1 + dx:window.shape[1] - 1 + dx]
                                        for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]), axis=0)
    peak = (inner >= neighbours) & (inner > min_peak)
    peak[reach, reach] = False
    ys, xs = numpy.nonzero(peak)
    if not len(ys):
        return None
    vectors = numpy.stack([xs - reach, ys - reach], axis=1).astype(numpy.int64)
    order = numpy.lexsort(((vectors ** 2).sum(axis=1), -inner[ys, xs]))  # highest first, then shortest
    vectors = vectors[order]
    first = vectors[0]
    for v in vectors[1:]:
        if first[0] * v[1] - first[1] * v[0] != 0:
            a_vec, b_vec = _reduce_basis(first, v)
            return numpy.stack([a_vec, b_vec], axis=1)
    g = int(numpy.gcd(abs(int(first[0])), abs(int(first[1])))) or 1
    along = numpy.array([first[1], -first[0]], numpy.int64) // g
    a_vec, b_vec = _reduce_basis(first, along)
    return numpy.stack([a_vec, b_vec], axis=1)

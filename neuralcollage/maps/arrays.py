"""Checks and array operations shared by class maps and blend maps: option values and sizes, validation,
normalisation, resizing (area when shrinking), Gaussian feathering, masks as weights, the original code's layout.

Maps are ``(N, K, H, W)`` float32 arrays, NumPy or CuPy (see :mod:`neuralcollage.maps`); masks are ``(H, W)``
bool or float in ``[0, 1]`` (NumPy).
"""
import functools
import math
import operator

import numpy

from neuralcollage import backend
from neuralcollage.limits import OPTION_RANGES

__all__ = ["is_int", "positive_int", "class_index", "as_size", "validate_map", "normalize_map", "resize_map",
           "resize_mask", "gaussian_blur", "is_spatially_uniform", "to_original_layout", "from_original_layout",
           "format_size", "as_numpy", "mask_alpha"]


def is_int(value):
    """True for an integer (Python or NumPy, anything with ``__index__``) that is not a bool."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return False
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def positive_int(value, name):
    """``value`` as an int >= 1; ``ValueError`` naming ``name`` otherwise."""
    if not is_int(value) or operator.index(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return operator.index(value)


def class_index(value, n, name, what="class"):
    """``value`` as an int in ``[0, n)``; ``ValueError`` naming ``name`` and the valid range otherwise."""
    if not is_int(value) or not 0 <= operator.index(value) < n:
        raise ValueError(f"{name} {value!r} is not a valid {what} (valid: 0-{n - 1})")
    return operator.index(value)


def as_size(size):
    """``(height, width)`` ints >= 1 of an int (a square) or a pair; ``ValueError`` otherwise.

    >>> as_size(4), as_size((3, 5))
    ((4, 4), (3, 5))
    """
    if is_int(size):
        size = (size, size)
    try:
        h, w = size
    except (TypeError, ValueError):
        raise ValueError(f"size must be an int or (height, width), got {size!r}") from None
    if not (is_int(h) and is_int(w)) or h < 1 or w < 1:
        raise ValueError(f"size must be positive integers, got {size!r}")
    return operator.index(h), operator.index(w)


def validate_map(m, *, n_classes=None, size=None, n_samples=None, name="map"):
    """Check a class or blend map and return it as float32 (no copy when it already is).

    Parameters
    ----------
    m : array (N, K, H, W), NumPy or CuPy
    n_classes : int, optional
        Required number of channels ``K``.
    size : int or (int, int), optional
        Required ``(H, W)``.
    n_samples : int, optional
        Required ``N``.
    name : str
        What to call the array in messages.

    Raises
    ------
    ValueError
        Wrong number of dimensions, NaN or infinity, negative weights, or a mismatching ``K``, ``N`` or size.
    """
    xp = backend.get_array_module(m)
    m = xp.asarray(m)
    if m.ndim != 4:
        hint = "; add a batch axis with m[None]" if m.ndim == 3 else ""
        raise ValueError(f"{name} must be 4-D (N, K, H, W), got shape {tuple(m.shape)}{hint}")
    if m.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a real array, got dtype {m.dtype}")
    m = m.astype(numpy.float32, copy=False)
    if not bool(xp.isfinite(m).all()):
        raise ValueError(f"{name} contains NaN or infinity")
    if m.size and float(m.min()) < 0:
        raise ValueError(f"{name} has negative weights (min {float(m.min()):g}); weights must be >= 0")
    if n_classes is not None and m.shape[1] != n_classes:
        raise ValueError(f"{name} has K={m.shape[1]} channels but {n_classes} are needed")
    if n_samples is not None and m.shape[0] != n_samples:
        raise ValueError(f"{name} has N={m.shape[0]} samples but {n_samples} are needed")
    if size is not None:
        h, w = as_size(size)
        if m.shape[2:] != (h, w):
            raise ValueError(f"{name} is {format_size(m.shape[2:])} but {h}x{w} is needed; resize it with resize_map")
    return m


def normalize_map(m, *, eps=1e-8, fill_class=None):
    """Clip negative weights to 0 and divide every pixel's weights by their sum.

    The generator uses maps as given; call this on hand-made maps (the builders of this module already
    return normalised maps).

    Parameters
    ----------
    m : array (N, K, H, W), NumPy or CuPy
    eps : float
        Pixels whose weights sum to ``eps`` or less count as empty.
    fill_class : int, optional
        Give empty pixels all weight on this class instead of raising.

    Returns
    -------
    array (N, K, H, W) float32
        A new array on the same device; weights in [0, 1], summing to 1 per pixel.

    Raises
    ------
    ValueError
        Not 4-D, NaN/infinity, or empty pixels without ``fill_class``.

    Examples
    --------
    >>> m = numpy.zeros((1, 2, 1, 2), numpy.float32); m[0, :, 0, 0] = (1, 3); m[0, 1, 0, 1] = 2
    >>> normalize_map(m)[0, :, 0]
    array([[0.25, 0.  ],
           [0.75, 1.  ]], dtype=float32)
    """
    xp = backend.get_array_module(m)
    m = xp.asarray(m)
    if m.ndim != 4:
        raise ValueError(f"map must be 4-D (N, K, H, W), got shape {tuple(m.shape)}")
    if not bool(xp.isfinite(m).all()):
        raise ValueError("map contains NaN or infinity")
    if fill_class is not None:
        fill_class = class_index(fill_class, m.shape[1], "fill_class")
    m = xp.maximum(m.astype(numpy.float32), 0)
    total = m.sum(axis=1, keepdims=True)
    empty = total <= eps
    if bool(empty.any()):
        if fill_class is None:
            n, _, y, x = (int(v) for v in xp.argwhere(empty)[0])
            raise ValueError(
                f"{int(empty.sum())} pixels have zero total weight (first: sample {n}, y={y}, x={x}); "
                "pass fill_class= to give them a class")
        channel = xp.arange(m.shape[1]).reshape(1, -1, 1, 1) == fill_class
        m = xp.where(empty, channel.astype(numpy.float32), m)
        total = xp.where(empty, numpy.float32(1), total)
    return (m / total).astype(numpy.float32, copy=False)


def resize_map(m, size, *, upsample="nearest"):
    """Resize maps, averaging areas when shrinking.

    Each axis is resized on its own: a shrinking axis by exact area averaging (the block mean when the
    old size is a multiple of the new one, otherwise overlap-weighted like ``cv2.INTER_AREA``), a growing
    axis by ``upsample`` interpolation (pixel centres aligned).  Every output pixel is a convex
    combination of input pixels, so normalised maps stay normalised and hard maps get soft edges only
    where a coarse pixel straddles a boundary.  The result is clipped to the input's value range (float
    rounding cannot take a map in [0, 1] above 1), and spatially uniform maps (every pixel of a sample has
    the same weights, :func:`is_spatially_uniform`) come back exactly, only repeated to the new size.

    Parameters
    ----------
    m : array (N, K, H, W), NumPy or CuPy
    size : int or (int, int)
        Output ``(h, w)``.
    upsample : {"nearest", "bilinear"}

    Returns
    -------
    array (N, K, h, w) float32
        A new array on the same device.

    Examples
    --------
    >>> m = numpy.zeros((1, 2, 8, 8), numpy.float32); m[0, 0, :4] = 1; m[0, 1, 4:] = 1
    >>> resize_map(m, 2)[0, 0]
    array([[1., 1.],
           [0., 0.]], dtype=float32)
    >>> resize_map(m, 3)[0, 0, :, 0]
    array([1. , 0.5, 0. ], dtype=float32)
    """
    xp = backend.get_array_module(m)
    m = xp.asarray(m)
    if m.ndim != 4:
        raise ValueError(f"map must be 4-D (N, K, H, W), got shape {tuple(m.shape)}")
    if upsample not in ("nearest", "bilinear"):
        raise ValueError(f"upsample must be 'nearest' or 'bilinear', got {upsample!r}")
    h, w = as_size(size)
    n, k, height, width = m.shape
    out = m.astype(numpy.float32, copy=True)
    if (h, w) == (height, width) or out.size == 0:
        return xp.ascontiguousarray(out)
    if is_spatially_uniform(out):
        return xp.ascontiguousarray(xp.broadcast_to(out[:, :, :1, :1], (n, k, h, w)))
    lo, hi = out.min(), out.max()
    if h != height:
        if h < height and height % h == 0:
            out = out.reshape(n, k, h, height // h, width).mean(axis=3)
        else:
            out = xp.matmul(xp.asarray(_resize_matrix(height, h, upsample)), out)
    if w != width:
        if w < width and width % w == 0:
            out = out.reshape(n, k, h, w, width // w).mean(axis=4)
        else:
            out = xp.matmul(out, xp.asarray(_resize_matrix(width, w, upsample).T))
    out = out.astype(numpy.float32, copy=False)
    if bool(xp.isfinite(lo)) and bool(xp.isfinite(hi)):
        out = xp.clip(out, lo, hi)
    return xp.ascontiguousarray(out)


def resize_mask(mask, size, *, upsample="bilinear"):
    """Resize a 2-D mask or weight image like :func:`resize_map` (area when shrinking).

    Parameters
    ----------
    mask : array (H, W), bool or float in [0, 1]
    size : int or (int, int)
    upsample : {"nearest", "bilinear"}

    Returns
    -------
    numpy.ndarray (h, w) float32 in [0, 1] (clipped: float rounding never takes it above 1)
    """
    alpha = mask_alpha(mask, "mask")
    out = resize_map(alpha[None, None], size, upsample=upsample)[0, 0]
    return numpy.clip(out, 0.0, 1.0, out=out)


def gaussian_blur(m, sigma):
    """Gaussian blur of every channel of maps, with mirrored borders.

    Matches ``cv2.GaussianBlur(x, (0, 0), sigma)`` (``BORDER_REFLECT_101``, kernel truncated at 4 sigma)
    but works for any image size and on NumPy and CuPy.  Rows of the blur operator sum to 1, so
    normalised maps stay normalised; the operator is mirror-symmetric, so it commutes with flips.

    Parameters
    ----------
    m : array (N, K, H, W)
    sigma : float
        Standard deviation in pixels; 0 returns a float32 copy.

    Returns
    -------
    array (N, K, H, W) float32
    """
    xp = backend.get_array_module(m)
    m = xp.asarray(m)
    sigma = float(sigma)
    if not math.isfinite(sigma) or sigma < 0 or sigma > OPTION_RANGES["feather"][2]:
        raise ValueError(f"feather/sigma must be a finite number in [0, {OPTION_RANGES['feather'][2]:g}], got {sigma}")
    if m.ndim != 4:
        raise ValueError(f"map must be 4-D (N, K, H, W), got shape {tuple(m.shape)}")
    out = m.astype(numpy.float32, copy=True)
    if sigma == 0:
        return out
    out = xp.matmul(xp.asarray(_blur_matrix(m.shape[2], sigma)), out)
    out = xp.matmul(out, xp.asarray(_blur_matrix(m.shape[3], sigma).T))
    return xp.ascontiguousarray(out.astype(numpy.float32, copy=False))


def is_spatially_uniform(m):
    """True when every pixel of each sample has exactly the same weights (per-sample values may differ).

    Lets the sCBN link take its cheap per-channel path.

    Parameters
    ----------
    m : array (N, K, H, W), NumPy or CuPy

    Returns
    -------
    bool

    Examples
    --------
    >>> m = numpy.ones((2, 3, 4, 4), numpy.float32); m[1] = 0.5
    >>> is_spatially_uniform(m), is_spatially_uniform(m[:, :, ::-1] * numpy.arange(4))
    (True, False)
    """
    xp = backend.get_array_module(m)
    m = xp.asarray(m)
    if m.ndim != 4:
        raise ValueError(f"map must be 4-D (N, K, H, W), got shape {tuple(m.shape)}")
    return bool(xp.all(m == m[:, :, :1, :1]))


def to_original_layout(m):
    """``(N, K, H, W)`` -> the original code's ``(N, H, W, K)`` (contiguous, same device)."""
    xp = backend.get_array_module(m)
    m = xp.asarray(m)
    if m.ndim != 4:
        raise ValueError(f"map must be 4-D (N, K, H, W), got shape {tuple(m.shape)}")
    return xp.ascontiguousarray(m.transpose(0, 2, 3, 1))


def from_original_layout(m):
    """The original code's ``(N, H, W, K)`` -> ``(N, K, H, W)`` (contiguous, same device)."""
    xp = backend.get_array_module(m)
    m = xp.asarray(m)
    if m.ndim != 4:
        raise ValueError(f"map must be 4-D (N, H, W, K), got shape {tuple(m.shape)}")
    return xp.ascontiguousarray(m.transpose(0, 3, 1, 2))


def format_size(shape):
    return f"{shape[0]}x{shape[1]}"


def as_numpy(a):
    """A NumPy array from a NumPy/CuPy array or a nested sequence."""
    if backend.get_array_module(a) is numpy:
        return numpy.asarray(a)
    return numpy.asarray(backend.to_numpy(a))


def mask_alpha(mask, name):
    """A mask as float32 (H, W) in [0, 1] (NumPy)."""
    a = as_numpy(mask)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (H, W), got shape {a.shape}")
    if a.dtype.kind == "b":
        return a.astype(numpy.float32)
    if a.dtype.kind in "iu":
        if a.size and (a.min() < 0 or a.max() > 1):
            raise ValueError(f"{name} is an integer image with values up to {a.max()}; masks hold 0/1 or "
                             "floats in [0, 1] (convert an 8-bit mask with mask > 127 or mask / 255)")
        return a.astype(numpy.float32)
    if a.dtype.kind != "f":
        raise ValueError(f"{name} must be bool or float, got dtype {a.dtype}")
    if not numpy.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinity")
    if a.size and (a.min() < 0 or a.max() > 1):
        raise ValueError(f"{name} has values in [{a.min():g}, {a.max():g}]; masks must be in [0, 1]")
    return a.astype(numpy.float32)


@functools.lru_cache(maxsize=64)
def _resize_matrix(n_in, n_out, upsample):
    """(n_out, n_in) float32 interpolation matrix with rows summing to 1."""
    mat = numpy.zeros((n_out, n_in), numpy.float64)
    scale = n_in / n_out
    if n_out < n_in:
        for i in range(n_out):
            start, end = i * scale, (i + 1) * scale
            for j in range(int(math.floor(start)), min(int(math.ceil(end)), n_in)):
                mat[i, j] = (min(end, j + 1) - max(start, j)) / scale
    elif upsample == "nearest":
        src = numpy.minimum(numpy.floor((numpy.arange(n_out) + 0.5) * scale).astype(int), n_in - 1)
        mat[numpy.arange(n_out), src] = 1
    else:
        src = numpy.clip((numpy.arange(n_out) + 0.5) * scale - 0.5, 0, n_in - 1)
        lo = numpy.floor(src).astype(int)
        hi = numpy.minimum(lo + 1, n_in - 1)
        frac = src - lo
        numpy.add.at(mat, (numpy.arange(n_out), lo), 1 - frac)
        numpy.add.at(mat, (numpy.arange(n_out), hi), frac)
    mat /= mat.sum(axis=1, keepdims=True)
    return _read_only(mat.astype(numpy.float32))


@functools.lru_cache(maxsize=64)
def _blur_matrix(n, sigma):
    """(n, n) float32 Gaussian blur matrix with BORDER_REFLECT_101 borders."""
    radius = (int(round(8 * sigma + 1)) | 1) // 2  # cv2's kernel size for float images
    if radius == 0:
        return _read_only(numpy.eye(n, dtype=numpy.float32))
    offsets = numpy.arange(-radius, radius + 1)
    kernel = numpy.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    mat = numpy.zeros((n, n), numpy.float64)
    rows = numpy.arange(n)
    for offset, weight in zip(offsets, kernel):
        numpy.add.at(mat, (rows, _reflect101(rows + offset, n)), weight)
    return _read_only(mat.astype(numpy.float32))


def _read_only(array):
    array.setflags(write=False)
    return array


def _reflect101(index, n):
    if n == 1:
        return numpy.zeros_like(index)
    period = 2 * (n - 1)
    index = numpy.mod(index, period)
    return numpy.where(index >= n, period - index, index)

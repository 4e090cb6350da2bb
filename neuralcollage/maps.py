"""Class-weight maps and blend maps for sCBN and feature blending.

Conventions
-----------
* A **class map** is a float32 array ``(N, K, H, W)``: for every sample and pixel, non-negative weights over
  the ``K`` classes of the model that sum to 1.  The sCBN generator mixes its per-class BN parameters with
  these weights *as given*; it does not normalise them.  The functions of this module that build maps
  return normalised maps; :func:`normalize_map` normalises a hand-made one.
* A **blend map** is a float32 array ``(N, S + 1, h, w)`` for feature blending with ``S`` latent streams:
  channels ``0 .. S-1`` weight the latent streams and the last channel (``-1``) weights the target stream
  itself.  There is one blend map per blending point: after the first linear layer and after every residual
  block (``1 + n_blocks`` maps; resolutions ``[4, 8, 16, 32, 64]`` for a 64 px generator).
* The generator takes one class map per conditional BN, at that BN's resolution (``[4, 8, 8, 16, 16, 32, 32,
  64]`` for a 64 px generator: ``block{b}/b1`` then ``block{b}/b2``).  :func:`layer_maps` turns one
  full-resolution map into that list; :func:`parse_layers` is the layer-selection syntax shared by the CLI,
  the widgets and the scripts (``"all"``, ``"0-3"``, ``"4-"``, ``"0-2,5,7-"``).
* Sizes are ``int`` (square) or ``(height, width)``; messages write them as ``HxW``.
* The builders from label images and masks are NumPy-only; move their result with
  :func:`neuralcollage.backend.to_device`.  :func:`normalize_map`, :func:`resize_map`, :func:`layer_maps`,
  :func:`validate_map`, :func:`is_spatially_uniform` and the layout helpers work on NumPy and CuPy arrays.
* :func:`to_original_layout` / :func:`from_original_layout` convert to and from the original code's
  ``(N, H, W, K)`` layout.

Example
-------
>>> label_image = numpy.full((64, 64), -1)
>>> label_image[16:48, 16:48] = 3                     # class 3 in a square, class 0 elsewhere
>>> class_map = class_map_from_label_image(label_image, n_classes=6, default_class=0, feather=2.0)
>>> maps = layer_maps(class_map, [4, 8, 8, 16, 16, 32, 32, 64], layers="0-3", base=0)
>>> [m.shape[2] for m in maps]
[4, 8, 8, 16, 16, 32, 32, 64]
"""
import functools
import math
import operator
import re
from collections.abc import Mapping

import numpy

from neuralcollage import backend
from neuralcollage.limits import OPTION_RANGES

__all__ = ["parse_layers", "format_layers", "one_hot_map", "uniform_map", "class_map_from_label_image",
           "class_map_from_masks", "normalize_map", "resize_map", "resize_mask", "layer_maps",
           "is_spatially_uniform", "blend_maps_from_mask", "blend_maps_from_masks", "validate_map",
           "to_original_layout", "from_original_layout", "gaussian_blur", "is_int", "positive_int", "class_index",
           "as_size"]

_LAYER_ITEM = re.compile(r"^(\d+)$|^(\d*)\s*-\s*(\d*)$")


# ----------------------------------------------------------------------------------------------------
# layer selection

def parse_layers(spec, n_layers):
    """Parse a layer selection into a sorted tuple of layer indices.

    Parameters
    ----------
    spec : str, int, iterable of int or None
        ``"all"`` (or None), ``"none"`` or ``""``, a single index ``"3"``, an inclusive range ``"0-3"``, an
        open range ``"4-"`` (4 to the last layer) or ``"-3"`` (0 to 3), or a comma-separated list of those
        (``"0-2,5,7-"``); or an int or an iterable of ints.  Case and spaces are ignored.
    n_layers : int
        Number of layers; valid indices are ``0 .. n_layers - 1``.

    Returns
    -------
    tuple of int
        Sorted, without duplicates.

    Raises
    ------
    ValueError
        Unparsable spec, reversed range, negative or out-of-range index; the one-line message gives the
        valid range ``0-{n_layers - 1}``.

    Examples
    --------
    >>> parse_layers("0-2,5,7-", 9)
    (0, 1, 2, 5, 7, 8)
    >>> parse_layers("-3", 8), parse_layers("none", 8), parse_layers([5, 1, 1], 8)
    ((0, 1, 2, 3), (), (1, 5))
    """
    n_layers = positive_int(n_layers, "n_layers")
    valid = f"valid layers: 0-{n_layers - 1}"
    if spec is None:
        return tuple(range(n_layers))
    if isinstance(spec, str):
        text = spec.strip().lower()
        if text == "all":
            return tuple(range(n_layers))
        if text in ("", "none"):
            return ()
        selected = set()
        for item in text.split(","):
            match = _LAYER_ITEM.match(item.strip())
            if not match or not any(match.groups()):
                raise ValueError(
                    f"cannot parse layer spec {spec!r} at {item.strip()!r}: use 'all', 'none', or indices "
                    f"and ranges like '0-3,5,7-' ({valid})")
            single, first, last = match.groups()
            if single:
                start = stop = int(single)
            else:
                start = int(first) if first else 0
                stop = int(last) if last else n_layers - 1
            if stop < start:
                raise ValueError(f"layer range {item.strip()!r} in {spec!r} is reversed ({valid})")
            for index in (start, stop):
                if index >= n_layers:
                    raise ValueError(
                        f"layer {index} in {spec!r} is out of range for {n_layers} layers ({valid})")
            selected.update(range(start, stop + 1))
        return tuple(sorted(selected))
    items = [spec] if is_int(spec) else spec
    try:
        items = list(items)
    except TypeError:
        raise ValueError(f"layer spec must be a string, an int or ints, got {spec!r} ({valid})") from None
    selected = set()
    for item in items:
        if not is_int(item):
            raise ValueError(f"layer {item!r} in {spec!r} is not an integer ({valid})")
        index = operator.index(item)
        if not 0 <= index < n_layers:
            raise ValueError(f"layer {index} is out of range for {n_layers} layers ({valid})")
        selected.add(index)
    return tuple(sorted(selected))


def format_layers(indices, n_layers):
    """The canonical compact string of a layer selection; inverse of :func:`parse_layers`.

    Parameters
    ----------
    indices : anything :func:`parse_layers` accepts
    n_layers : int

    Returns
    -------
    str
        ``"all"``, ``"none"`` or comma-separated indices and inclusive ranges.

    Examples
    --------
    >>> format_layers([0, 1, 2, 3, 7], 12), format_layers(range(8), 8), format_layers([], 8)
    ('0-3,7', 'all', 'none')
    """
    layers = parse_layers(indices, n_layers)
    if len(layers) == n_layers:
        return "all"
    if not layers:
        return "none"
    runs = []
    start = prev = layers[0]
    for index in layers[1:] + (None,):
        if index is not None and index == prev + 1:
            prev = index
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if index is not None:
            start = prev = index
    return ",".join(runs)


# ----------------------------------------------------------------------------------------------------
# validation and basic maps

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
            raise ValueError(f"{name} is {_hw(m.shape[2:])} but {h}x{w} is needed; resize it with resize_map")
    return m


def one_hot_map(class_ids, n_classes, size):
    """Spatially uniform one-hot class maps.

    Parameters
    ----------
    class_ids : int or array (N,) of int
        Class per sample (NumPy or CuPy; the result is on the same device).
    n_classes : int
    size : int or (int, int)

    Returns
    -------
    array (N, n_classes, H, W) float32
        ``N = 1`` for a scalar ``class_ids``.

    Examples
    --------
    >>> one_hot_map([2, 0], 3, 4).shape
    (2, 3, 4, 4)
    """
    xp = backend.get_array_module(class_ids)
    if xp is numpy:
        class_ids = numpy.asarray(class_ids)
    n_classes = positive_int(n_classes, "n_classes")
    ids = _class_ids(class_ids, n_classes, xp)
    h, w = as_size(size)
    weights = xp.eye(n_classes, dtype=numpy.float32)[ids]
    return xp.ascontiguousarray(xp.broadcast_to(weights[:, :, None, None], weights.shape + (h, w)))


def uniform_map(weights, size, *, normalize=True):
    """Spatially uniform class maps from per-sample class weights.

    Parameters
    ----------
    weights : array (N, K) or (K,), >= 0
        NumPy or CuPy; the result is on the same device.
    size : int or (int, int)
    normalize : bool
        Divide each row by its sum (rows summing to 0 are then an error).

    Returns
    -------
    array (N, K, H, W) float32
        ``N = 1`` for 1-D ``weights``.

    Examples
    --------
    >>> uniform_map([1.0, 1.0, 0.0], 2)[0, :, 0, 0]
    array([0.5, 0.5, 0. ], dtype=float32)
    """
    xp = backend.get_array_module(weights)
    weights = xp.asarray(weights)
    if weights.ndim == 1:
        weights = weights[None]
    if weights.ndim != 2 or weights.shape[1] == 0:
        raise ValueError(f"weights must be (N, K) or (K,), got shape {tuple(weights.shape)}")
    h, w = as_size(size)
    m = validate_map(weights[:, :, None, None], name="weights")
    if normalize:
        m = normalize_map(m)
    return xp.ascontiguousarray(xp.broadcast_to(m, m.shape[:2] + (h, w)))


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


# ----------------------------------------------------------------------------------------------------
# resizing and blurring

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
    alpha = _alpha(mask, "mask")
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


# ----------------------------------------------------------------------------------------------------
# class maps from user input (NumPy)

def class_map_from_label_image(label_image, *, n_classes, default_class, ignore=-1, feather=0.0):
    """A class map from an image of class indices.

    Parameters
    ----------
    label_image : array (H, W) of int
        Class index per pixel; pixels equal to ``ignore`` get ``default_class``.
    n_classes : int
    default_class : int
    ignore : int
        The "no label" value.
    feather : float
        Gaussian sigma in pixels of this map, applied to the class weights before normalisation
        (soft boundaries; 0 keeps them hard).

    Returns
    -------
    numpy.ndarray (1, n_classes, H, W) float32
        Normalised: weights in [0, 1] summing to 1 per pixel.

    Raises
    ------
    ValueError
        Not 2-D, not integer, or labels outside ``0 .. n_classes - 1`` other than ``ignore``.

    Examples
    --------
    >>> labels = numpy.array([[-1, 2], [2, 2]])
    >>> class_map_from_label_image(labels, n_classes=3, default_class=0)[0, :, 0, 0]
    array([1., 0., 0.], dtype=float32)
    """
    n_classes = positive_int(n_classes, "n_classes")
    default_class = class_index(default_class, n_classes, "default_class")
    image = _numpy(label_image)
    if image.ndim != 2:
        raise ValueError(f"label image must be 2-D (H, W), got shape {image.shape}")
    if image.dtype.kind not in "iu":
        raise ValueError(f"label image must have an integer dtype, got {image.dtype}")
    image = numpy.where(image == ignore, default_class, image)
    bad = (image < 0) | (image >= n_classes)
    if bad.any():
        value = image[bad].flat[0]
        raise ValueError(f"label image has class {value}, outside 0-{n_classes - 1} "
                         f"(use {ignore} for 'default class')")
    planes = {int(c): (image == c).astype(numpy.float32) for c in numpy.unique(image)}
    return _planes_to_map(planes, n_classes, image.shape, feather)


def class_map_from_masks(masks, *, n_classes, default_class, size=None, feather=0.0):
    """A class map from per-class region masks painted over a default class.

    The masks are applied in order over a map that is ``default_class`` everywhere: with mask value ``a``
    at a pixel, that pixel's weights become ``(1 - a) * previous + a * onehot(label)``.  So later masks win
    where they overlap, and soft masks (``0 < a < 1``) mix their class with what lies beneath.

    Parameters
    ----------
    masks : mapping {class index: array (H, W)} or iterable of (class index, array (H, W))
        Bool masks, or float masks in [0, 1] (integer masks must hold only 0 and 1).  All masks must have
        the map's size; resize them first (:func:`resize_mask`).  An iterable of pairs may repeat a class.
    n_classes : int
    default_class : int
        Class of the pixels that no mask covers.
    size : int or (int, int), optional
        Size of the map; required when ``masks`` is empty, otherwise it defaults to the masks' size and,
        when given, is checked against it.
    feather : float
        Gaussian sigma in pixels of this map, applied to the class weights before normalisation.

    Returns
    -------
    numpy.ndarray (1, n_classes, H, W) float32
        Normalised: weights in [0, 1] summing to 1 per pixel.

    Raises
    ------
    ValueError
        A mask with the wrong shape ("mask for class 3 is 100x80 but the map needs 64x64"), values outside
        [0, 1], NaN, or class indices out of range.

    Examples
    --------
    >>> mask = numpy.zeros((8, 8), bool); mask[2:6, 2:6] = True
    >>> m = class_map_from_masks({3: mask}, n_classes=4, default_class=1)
    >>> m[0, :, 4, 4], m[0, :, 0, 0]
    (array([0., 0., 0., 1.], dtype=float32), array([0., 1., 0., 0.], dtype=float32))
    """
    n_classes = positive_int(n_classes, "n_classes")
    default_class = class_index(default_class, n_classes, "default_class")
    pairs = _mask_pairs(masks)
    shape = as_size(size) if size is not None else None
    alphas = []
    for label, mask in pairs:
        label = class_index(label, n_classes, "mask class")
        alpha = _alpha(mask, f"mask for class {label}")
        if shape is None:
            shape = alpha.shape
        if alpha.shape != shape:
            raise ValueError(f"mask for class {label} is {_hw(alpha.shape)} but the map needs {_hw(shape)}; "
                             "resize it first (resize_mask)")
        alphas.append((label, alpha))
    if shape is None:
        raise ValueError("class_map_from_masks needs size= when no masks are given")
    return _planes_to_map(_composite(alphas, default_class, shape), n_classes, shape, feather)


# ----------------------------------------------------------------------------------------------------
# per-layer maps

def layer_maps(class_map, resolutions, *, layers="all", base=None):
    """One class map per conditional BN layer, applying ``class_map`` to the selected layers only.

    Parameters
    ----------
    class_map : array (N, K, H, W), NumPy or CuPy
        Should be normalised (see :func:`normalize_map`); used as given.
    resolutions : sequence of int or (int, int)
        Resolution of every conditional BN, in the generator's order, e.g. ``[4, 8, 8, 16, 16, 32, 32,
        64]`` for a 64 px generator.
    layers : layer spec
        Layers that get ``class_map`` (see :func:`parse_layers`).
    base : int, array of int (N,), array of float (K,) or (N, K), or array (N, K, H', W'), optional
        What the other layers get: one class for all samples, a class per sample, class weights
        (normalised here), or another map (resized).  Integer arrays are class ids, float arrays weights.
        Required unless every layer is selected.

    Returns
    -------
    list of array (N, K, h_l, w_l) float32
        On ``class_map``'s device.

    Raises
    ------
    ValueError
        Bad layer spec, ``base`` missing or with mismatching ``K`` or ``N``, invalid ``class_map``.

    Examples
    --------
    >>> collage = one_hot_map(4, 6, 64)
    >>> maps = layer_maps(collage, [4, 8, 8, 16], layers="2-", base=1)
    >>> [int(m[0, :, 0, 0].argmax()) for m in maps]
    [1, 1, 4, 4]
    """
    xp = backend.get_array_module(class_map)
    class_map = validate_map(class_map, name="class map")
    n, k = class_map.shape[:2]
    sizes = [as_size(r) for r in resolutions]
    selected = set(parse_layers(layers, len(sizes)))
    unselected = [i for i in range(len(sizes)) if i not in selected]
    if unselected and base is None:
        raise ValueError(
            f"layers {format_layers(selected, len(sizes))!r} leave layers "
            f"{format_layers(unselected, len(sizes))} unselected: pass base= (class id(s), class weights "
            "or a map) for them")
    result = []
    for i, size in enumerate(sizes):
        if i in selected:
            result.append(resize_map(class_map, size))
        else:
            result.append(_base_map(base, n, k, size, xp))
    return result


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
    >>> is_spatially_uniform(one_hot_map(numpy.array([0, 1]), 2, 4))
    True
    """
    xp = backend.get_array_module(m)
    m = xp.asarray(m)
    if m.ndim != 4:
        raise ValueError(f"map must be 4-D (N, K, H, W), got shape {tuple(m.shape)}")
    return bool(xp.all(m == m[:, :, :1, :1]))


# ----------------------------------------------------------------------------------------------------
# blend maps (NumPy)

def blend_maps_from_masks(masks, *, n_streams, resolutions, layers="all", base_stream=0, feather=0.0):
    """Feature-blending maps from per-stream region masks.

    In feature blending the target stream is *replaced*, at every blending point, by the weighted sum of
    all streams (the latent streams and the target itself).  So, per layer:

    * selected layers: the masks composited over ``base_stream`` (later masks win, soft masks mix, as in
      :func:`class_map_from_masks`) -- the target becomes the masked latent streams' features;
    * unselected layers: weight 1 on the target stream (channel -1), leaving it unchanged;
    * layer 0 (after the first linear layer) never weights the target, which is still zero there: when
      unselected it takes all weight on ``base_stream``.

    Parameters
    ----------
    masks : mapping {stream index: array (H, W)} or iterable of (stream index, array (H, W))
        Bool masks or float masks in [0, 1], all the same size, with the aspect ratio of the generator's
        output.  Each is resized to every layer's resolution by area averaging.
    n_streams : int
        Number of latent streams ``S`` (the target is extra).
    resolutions : sequence of int or (int, int)
        Resolution of every blending point: ``1 + n_blocks`` entries, e.g. ``[4, 8, 16, 32, 64]`` for a
        64 px generator.
    layers : layer spec
        Blending points that blend (see :func:`parse_layers`).
    base_stream : int
        The latent stream outside all masks.
    feather : float
        Gaussian sigma in pixels of the *masks'* resolution, applied once before resizing to each layer.

    Returns
    -------
    list of numpy.ndarray (1, n_streams + 1, h_l, w_l) float32
        Normalised per pixel; channel ``-1`` is the target stream.

    Examples
    --------
    >>> left = numpy.zeros((64, 64), bool); left[:, :32] = True
    >>> maps = blend_maps_from_masks({1: left}, n_streams=2, resolutions=[4, 8, 16], layers="1-")
    >>> maps[0][0, :, 0, 0]                    # layer 0 unselected: all on the base stream
    array([1., 0., 0.], dtype=float32)
    >>> maps[1][0, :, 0, 0], maps[1][0, :, 0, 7]  # inside / outside the mask
    (array([0., 1., 0.], dtype=float32), array([1., 0., 0.], dtype=float32))
    >>> maps[2][0, :, 0, 0]                    # blended, not the target, on every selected layer
    array([0., 1., 0.], dtype=float32)
    """
    n_streams = positive_int(n_streams, "n_streams")
    base_stream = class_index(base_stream, n_streams, "base_stream", what="latent stream")
    sizes = [as_size(r) for r in resolutions]
    if not sizes:
        raise ValueError("resolutions must list at least one blending point")
    selected = set(parse_layers(layers, len(sizes)))
    alphas, shape = [], None
    for stream, mask in _mask_pairs(masks):
        stream = class_index(stream, n_streams, "mask stream", what="latent stream")
        alpha = _alpha(mask, f"mask for stream {stream}")
        shape = shape or alpha.shape
        if alpha.shape != shape:
            raise ValueError(f"mask for stream {stream} is {_hw(alpha.shape)} but the first mask is "
                             f"{_hw(shape)}; all masks must have the same size")
        alphas.append((stream, alpha))
    top = max(sizes, key=lambda s: s[0] * s[1])
    if shape is None:
        shape = top
    elif shape[0] * top[1] != shape[1] * top[0]:
        raise ValueError(f"mask is {_hw(shape)} but the generator's output is {_hw(top)} (different aspect "
                         "ratio); crop or resize the mask first")
    n_channels = n_streams + 1
    full = _planes_to_map(_composite(alphas, base_stream, shape), n_channels, shape, feather)
    result = []
    for i, size in enumerate(sizes):
        if i in selected:
            result.append(normalize_map(resize_map(full, size)))
        else:
            stream = base_stream if i == 0 else n_channels - 1
            result.append(one_hot_map(numpy.array([stream]), n_channels, size))
    return result


def blend_maps_from_mask(mask, *, n_streams, stream, resolutions, layers="all", base_stream=0,
                         feather=0.0):
    """Feature-blending maps taking latent ``stream`` inside ``mask`` and ``base_stream`` outside.

    Shorthand for ``blend_maps_from_masks({stream: mask}, ...)``; see there for the per-layer semantics
    (unselected layers keep the target unchanged, layer 0 never weights the target).

    Parameters
    ----------
    mask : array (H, W), bool or float in [0, 1]
    n_streams : int
    stream : int
        Latent stream inside the mask, ``0 .. n_streams - 1``.
    resolutions, layers, base_stream, feather
        As for :func:`blend_maps_from_masks`.

    Returns
    -------
    list of numpy.ndarray (1, n_streams + 1, h_l, w_l) float32

    Examples
    --------
    >>> mask = numpy.ones((64, 64), bool)
    >>> maps = blend_maps_from_mask(mask, n_streams=2, stream=1, resolutions=[4, 8, 16, 32, 64], layers="0-1")
    >>> [int(m[0, :, 0, 0].argmax()) for m in maps]
    [1, 1, 2, 2, 2]
    """
    return blend_maps_from_masks([(stream, mask)], n_streams=n_streams, resolutions=resolutions,
                                 layers=layers, base_stream=base_stream, feather=feather)


# ----------------------------------------------------------------------------------------------------
# layout of the original code

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


# ----------------------------------------------------------------------------------------------------
# helpers

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


def _hw(shape):
    return f"{shape[0]}x{shape[1]}"


def _class_ids(class_ids, n_classes, xp):
    ids = xp.asarray(class_ids)
    if ids.ndim == 0:
        ids = ids[None]
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise ValueError(f"class ids must be an int or a 1-D integer array, got {class_ids!r}")
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= n_classes):
        raise ValueError(f"class ids must be in 0-{n_classes - 1}, got {backend.to_numpy(ids).tolist()}")
    return ids


def _numpy(a):
    """A NumPy array from a NumPy/CuPy array or a nested sequence."""
    if backend.get_array_module(a) is numpy:
        return numpy.asarray(a)
    return numpy.asarray(backend.to_numpy(a))


def _alpha(mask, name):
    """A mask as float32 (H, W) in [0, 1] (NumPy)."""
    a = _numpy(mask)
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


def _mask_pairs(masks):
    if isinstance(masks, Mapping):
        return list(masks.items())
    pairs = list(masks)
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError("masks must be a mapping {index: mask} or an iterable of (index, mask) pairs")
    return pairs


def _composite(alphas, default, shape):
    """Non-zero channels of the composite of ``alphas`` over ``default``: {channel: plane (H, W)}."""
    planes = {default: numpy.ones(shape, numpy.float32)}
    for channel, alpha in alphas:
        keep = 1 - alpha
        for plane in planes.values():
            plane *= keep
        planes[channel] = planes.get(channel, 0) + alpha
    return planes


def _planes_to_map(planes, n_channels, shape, feather):
    m = numpy.zeros((1, n_channels) + tuple(shape), numpy.float32)
    channels = sorted(planes)
    stack = numpy.stack([planes[c] for c in channels])[None]
    if feather:
        stack = gaussian_blur(stack, feather)
    m[0, channels] = stack[0]
    return normalize_map(m)


def _base_map(base, n, k, size, xp):
    b = _numpy(base) if xp is numpy else xp.asarray(base)
    if b.ndim == 4:
        m = resize_map(validate_map(b, n_classes=k, name="base map"), size)
    elif b.ndim == 0 or (b.ndim == 1 and b.dtype.kind in "iu"):
        m = one_hot_map(_class_ids(b, k, xp), k, size)
    elif b.ndim in (1, 2) and b.dtype.kind in "iuf":
        if b.shape[-1] != k:
            raise ValueError(f"base weights have K={b.shape[-1]} classes but the class map has {k}")
        m = uniform_map(b.astype(numpy.float32), size)
    else:
        raise ValueError(f"base must be class id(s), class weights (K,) / (N, K) or a map (N, K, H, W), "
                         f"got shape {tuple(b.shape)} dtype {b.dtype}")
    if m.shape[0] == 1 and n != 1:
        m = xp.ascontiguousarray(xp.broadcast_to(m, (n,) + m.shape[1:]))
    if m.shape[0] != n:
        raise ValueError(f"base has {m.shape[0]} samples but the class map has {n}")
    return m


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

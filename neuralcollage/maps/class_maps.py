"""Class maps ``(N, K, H, W)`` for sCBN: one-hot and uniform maps, maps from label images and masks, and the
per-layer maps the generator takes (:func:`layer_maps`).

The builders from label images and masks are NumPy-only; :func:`layer_maps` works on NumPy and CuPy arrays.
"""
from collections.abc import Mapping

import numpy

from neuralcollage import backend
from neuralcollage.maps.arrays import (as_numpy, as_size, class_index, format_size, gaussian_blur, mask_alpha,
                                       normalize_map, positive_int, resize_map, validate_map)
from neuralcollage.maps.layers import format_layers, parse_layers

__all__ = ["one_hot_map", "uniform_map", "class_map_from_label_image", "class_map_from_masks", "layer_maps",
           "mask_pairs", "composite_masks", "planes_to_map"]


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
    image = as_numpy(label_image)
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
    return planes_to_map(planes, n_classes, image.shape, feather)


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
    pairs = mask_pairs(masks)
    shape = as_size(size) if size is not None else None
    alphas = []
    for label, mask in pairs:
        label = class_index(label, n_classes, "mask class")
        alpha = mask_alpha(mask, f"mask for class {label}")
        if shape is None:
            shape = alpha.shape
        if alpha.shape != shape:
            raise ValueError(f"mask for class {label} is {format_size(alpha.shape)} but the map needs "
                             f"{format_size(shape)}; resize it first (resize_mask)")
        alphas.append((label, alpha))
    if shape is None:
        raise ValueError("class_map_from_masks needs size= when no masks are given")
    return planes_to_map(composite_masks(alphas, default_class, shape), n_classes, shape, feather)


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


def mask_pairs(masks):
    if isinstance(masks, Mapping):
        return list(masks.items())
    pairs = list(masks)
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError("masks must be a mapping {index: mask} or an iterable of (index, mask) pairs")
    return pairs


def composite_masks(alphas, default, shape):
    """Non-zero channels of the composite of ``alphas`` over ``default``: {channel: plane (H, W)}."""
    planes = {default: numpy.ones(shape, numpy.float32)}
    for channel, alpha in alphas:
        keep = 1 - alpha
        for plane in planes.values():
            plane *= keep
        planes[channel] = planes.get(channel, 0) + alpha
    return planes


def planes_to_map(planes, n_channels, shape, feather):
    m = numpy.zeros((1, n_channels) + tuple(shape), numpy.float32)
    channels = sorted(planes)
    stack = numpy.stack([planes[c] for c in channels])[None]
    if feather:
        stack = gaussian_blur(stack, feather)
    m[0, channels] = stack[0]
    return normalize_map(m)


def _class_ids(class_ids, n_classes, xp):
    ids = xp.asarray(class_ids)
    if ids.ndim == 0:
        ids = ids[None]
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise ValueError(f"class ids must be an int or a 1-D integer array, got {class_ids!r}")
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= n_classes):
        raise ValueError(f"class ids must be in 0-{n_classes - 1}, got {backend.to_numpy(ids).tolist()}")
    return ids


def _base_map(base, n, k, size, xp):
    b = as_numpy(base) if xp is numpy else xp.asarray(base)
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

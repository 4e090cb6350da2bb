"""Blend maps ``(N, S + 1, h, w)`` for feature blending with ``S`` latent streams (the target stream last),
one per blending point, from masks (NumPy).
"""
import numpy

from neuralcollage.maps.arrays import (as_size, class_index, format_size, mask_alpha, normalize_map, positive_int,
                                       resize_map)
from neuralcollage.maps.class_maps import composite_masks, mask_pairs, one_hot_map, planes_to_map
from neuralcollage.maps.layers import parse_layers

__all__ = ["blend_maps_from_masks", "blend_maps_from_mask"]


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
    for stream, mask in mask_pairs(masks):
        stream = class_index(stream, n_streams, "mask stream", what="latent stream")
        alpha = mask_alpha(mask, f"mask for stream {stream}")
        shape = shape or alpha.shape
        if alpha.shape != shape:
            raise ValueError(f"mask for stream {stream} is {format_size(alpha.shape)} but the first mask is "
                             f"{format_size(shape)}; all masks must have the same size")
        alphas.append((stream, alpha))
    top = max(sizes, key=lambda s: s[0] * s[1])
    if shape is None:
        shape = top
    elif shape[0] * top[1] != shape[1] * top[0]:
        raise ValueError(f"mask is {format_size(shape)} but the generator's output is {format_size(top)} "
                         "(different aspect ratio); crop or resize the mask first")
    n_channels = n_streams + 1
    full = planes_to_map(composite_masks(alphas, base_stream, shape), n_channels, shape, feather)
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

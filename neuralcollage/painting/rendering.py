"""From painted canvases to the generator's inputs and its image: class maps, feature-blending maps with attribute
painting's moved latent (:func:`blend_layer_maps`), and :func:`render_painting`.
"""
import functools
import math

import numpy

from neuralcollage import maps

__all__ = ["blend_layer_maps", "attribute_latent", "check_amount", "render_painting"]


def blend_layer_maps(stream_map, resolutions, *, layers="all", attribute_alpha=None, attribute_layers="all"):
    """Feature-blending maps from a painted stream map, and optionally an attribute region.

    Same per-layer semantics as :func:`neuralcollage.maps.blend_maps_from_masks`: selected blend layers
    replace the target stream by the painted mixture of latent streams; unselected layers keep the target
    (channel ``-1``), except layer 0 where the target is still zero and stream 0 is used.

    With ``attribute_alpha`` the result has one more latent stream, ``S`` (the moved latent
    ``z + a * u``), before the target: at every selected attribute layer it takes the attribute alpha times
    the weight of stream 0 from stream 0 (or, at layers that keep the target, from the target): attribute
    painting moves the image's own latent; where blend painting shows another latent, that latent stays.
    When the stream map is all stream 0 (nothing blended), the attribute layers mix stream 0 and the moved
    latent, exactly like :func:`neuralcollage.axes.local_edit`: with a last attribute layer at the output
    resolution, pixels farther than a pixel from the painted alpha keep the unedited features.  The same holds with
    blending when the attribute layers are among the blend layers; an attribute layer that is not a blend
    layer is composited over the target stream, so there the change may spread slightly beyond the alpha.

    Parameters
    ----------
    stream_map : numpy.ndarray (1, S, H, W)
        Normalised weights over the ``S`` latent streams (e.g. :meth:`LabelPainter.class_map`).
    resolutions : sequence of int
        The generator's ``blend_resolutions``.
    layers : layer spec
        Blend layers that get ``stream_map`` (see :func:`neuralcollage.maps.parse_layers`).
    attribute_alpha : numpy.ndarray (H, W), optional
        Float in [0, 1]: where the attribute moves (:meth:`LabelPainter.painted_alpha` of an attribute
        canvas).
    attribute_layers : layer spec
        Blend layers that blend the moved latent in.

    Returns
    -------
    list of numpy.ndarray (1, S + 1, h_l, w_l) float32, or (1, S + 2, h_l, w_l) with ``attribute_alpha``
        Normalised per pixel; channel ``-1`` is the target stream.
    """
    stream_map = maps.validate_map(stream_map, name="stream map")
    n, s = stream_map.shape[:2]
    if attribute_alpha is None:
        return _stream_layer_maps(stream_map, resolutions, layers)
    alpha = numpy.clip(numpy.asarray(attribute_alpha, numpy.float32), 0.0, 1.0)
    if alpha.shape != stream_map.shape[2:] or n != 1:
        raise ValueError(f"attribute alpha has shape {alpha.shape}; the stream map is {stream_map.shape} "
                         "(one sample, same (H, W))")
    selected = set(maps.parse_layers(attribute_layers, len(resolutions)))
    own = stream_map[0, 0]
    blended = float(own.min()) < 1.0
    base = _stream_layer_maps(stream_map, resolutions, layers if blended else attribute_layers)
    alpha = (alpha * own)[None, None]
    result = []
    for i, (m, res) in enumerate(zip(base, resolutions)):
        out = numpy.concatenate([m[:, :s], numpy.zeros((n, 1) + m.shape[2:], numpy.float32), m[:, s:]], axis=1)
        if i in selected:
            a = maps.resize_map(alpha, res)[:, 0]
            own_share = numpy.minimum(a, out[:, 0])
            out[:, 0] -= own_share
            out[:, -1] -= a - own_share
            out[:, s] += a
            out = maps.normalize_map(out)
        result.append(out)
    return result


def _stream_layer_maps(stream_map, resolutions, layers):
    n, s = stream_map.shape[:2]
    selected = set(maps.parse_layers(layers, len(resolutions)))
    result = []
    for i, res in enumerate(resolutions):
        if i in selected:
            m = numpy.zeros((n, s + 1) + maps.as_size(res), numpy.float32)
            m[:, :s] = maps.resize_map(stream_map, res)
            result.append(maps.normalize_map(m))
        else:
            result.append(maps.one_hot_map(numpy.full(n, 0 if i == 0 else s), s + 1, res))
    return result


def attribute_latent(z, direction, amount):
    """The moved latent of attribute painting: ``z + amount * direction`` (``(1, dim_z)`` float32 NumPy).

    Parameters
    ----------
    z : array (1, dim_z) or (dim_z,)
    direction : array (dim_z,) or :class:`neuralcollage.axes.Axis`
        A unit latent direction.
    amount : float
        In latent standard deviations along the direction.
    """
    from neuralcollage.axes import Axis, move_global
    from neuralcollage.backend import to_numpy

    z = numpy.asarray(to_numpy(z), numpy.float32).reshape(1, -1)
    direction = direction if isinstance(direction, Axis) else numpy.asarray(direction, numpy.float32)
    return numpy.asarray(move_global(z, direction, check_amount(amount)), numpy.float32)


def check_amount(amount):
    """An attribute amount as a finite float (ValueError otherwise)."""
    try:
        value = float(amount)
    except (TypeError, ValueError):
        raise ValueError(f"attribute amount must be a finite number, got {amount!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"attribute amount must be a finite number, got {amount!r}")
    return value


def render_painting(generator, *, z, class_map=None, base_class, class_layers="all", z_streams=None,
                    stream_map=None, blend_layers="all", attribute_z=None, attribute_alpha=None,
                    attribute_layers="all"):
    """Generate the image of a painting: sCBN class map and, optionally, feature blending and attribute
    painting.

    Parameters
    ----------
    generator : neuralcollage.models.Generator
    z : array (1, dim_z)
        Latent of the image (blend stream 0).
    class_map : numpy.ndarray (1, K, H, W), optional
        Painted class map (normalised); None or a blank map means ``base_class`` everywhere.
    base_class : int
        Class of the unselected class layers (and of everything when ``class_map`` is None).
    class_layers : layer spec
        Class layers that get ``class_map``.
    z_streams : sequence of array (1, dim_z), optional
        The other latent streams (stream 1, 2, ...) for feature blending.
    stream_map : numpy.ndarray (1, S, H, W), optional
        Painted weights over the ``S = 1 + len(z_streams)`` streams; None or all weight on stream 0 means
        no blending.
    blend_layers : layer spec
        Blend layers that get ``stream_map``.
    attribute_z : array (1, dim_z), optional
        The moved latent of attribute painting (:func:`attribute_latent`).
    attribute_alpha : numpy.ndarray (H, W), optional
        Where the attribute moves, float in [0, 1]; None or all zero means no attribute painting.
    attribute_layers : layer spec
        Blend layers that blend ``attribute_z`` in (see :func:`blend_layer_maps`).

    Returns
    -------
    numpy.ndarray (H, W, 3) uint8
        The generator's image (test-mode batch norm, no backprop).  The class map conditions every stream.
    """
    import chainer

    from neuralcollage.io import from_model
    from neuralcollage.backend import to_numpy

    g = generator
    base_class = maps.class_index(base_class, g.n_classes, "base_class")
    if class_map is None or (maps.is_spatially_uniform(class_map)
                             and float(class_map[0, base_class, 0, 0]) == 1.0):
        y = base_class
    else:
        y = maps.layer_maps(class_map, g.class_map_resolutions, layers=class_layers, base=base_class)
    streams = list(z_streams or [])
    blend = stream_map is not None and bool(streams) and float(stream_map[:, 0].min()) < 1.0
    attribute = attribute_z is not None and attribute_alpha is not None and \
        float(numpy.max(attribute_alpha)) > 0.0
    zs, blend_maps = [z], None
    if attribute:
        if not blend:
            streams, stream_map = [], numpy.ones((1, 1, g.resolution, g.resolution), numpy.float32)
        blend_maps = blend_layer_maps(stream_map, g.blend_resolutions, layers=blend_layers,
                                      attribute_alpha=attribute_alpha, attribute_layers=attribute_layers)
        zs = [z] + streams + [attribute_z]
    elif blend:
        blend_maps = blend_layer_maps(stream_map, g.blend_resolutions, layers=blend_layers)
        zs = [z] + streams
    if blend_maps is not None and all(float(m[:, -1].min()) == 1.0 for m in blend_maps[1:]) and \
            float(blend_maps[0][:, 0].min()) == 1.0:
        blend_maps = None
    if getattr(g, "feature_offset", None) is not None:
        from neuralcollage.reconstruction import fade_offset
        g = fade_offset(g, _changed_region(class_map, base_class, stream_map if blend else None,
                                           attribute_alpha if attribute else None))
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        if blend_maps is not None:
            x = g.blend(zs, y, blend_maps)
        else:
            x = g.forward(z, y)
    return from_model(to_numpy(x.array))[0]


def _changed_region(class_map, base_class, stream_map, attribute_alpha):
    """Where a painting departs from the photo it was fitted to, ``(H, W)`` float32 in ``[0, 1]`` (None:
    nowhere): another class than ``base_class``, weight off stream 0, attribute strokes."""
    parts = []
    if class_map is not None:
        parts.append(1.0 - numpy.asarray(class_map, numpy.float32)[0, base_class])
    if stream_map is not None:
        parts.append(1.0 - numpy.asarray(stream_map, numpy.float32)[0, 0])
    if attribute_alpha is not None:
        parts.append(numpy.asarray(attribute_alpha, numpy.float32))
    if not parts:
        return None
    size = max(p.shape[0] for p in parts)
    return functools.reduce(numpy.maximum, [maps.resize_mask(p, size) if p.shape[0] != size else p
                                            for p in parts])


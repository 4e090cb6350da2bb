"""Edits of a latent at the generator's resolution: rendering, sCBN collages and feature blending.

Images are ``(N, 3, R, R)`` float32 NumPy in ``[-1, 1]``; latents ``(N, dim_z)`` (NumPy or CuPy); masks
``(R, R)`` bool or float in ``[0, 1]`` (another size is resized).
"""
from neuralcollage import _compat  # noqa: F401

import chainer
import numpy

from neuralcollage import backend, maps

__all__ = ["render", "check_model_output", "edit_class_maps", "scbn_edit", "blend_edit", "host_latents",
           "model_mask"]

def host_latents(gen, z, *, name="latents", count=None, finite=False):
    """Latents on the host, checked against ``gen``.

    Args:
        gen: the generator (its ``dim_z``).
        z: ``(N, dim_z)`` or one ``(dim_z,)`` latent (NumPy, CuPy or a Chainer variable).
        name: how the error names ``z``.
        count: the ``N`` required (None: any).
        finite: refuse NaN and infinity.

    Returns:
        ``(N, dim_z)`` float32 NumPy (one ``(dim_z,)`` latent becomes ``(1, dim_z)``).

    Raises:
        ValueError: another shape, or (``finite``) a value that is not finite.
    """
    arr = numpy.asarray(backend.to_numpy(z), dtype=numpy.float32)
    if arr.ndim == 1:
        arr = arr[None]
    rows = "N" if count is None else count
    if (arr.ndim != 2 or arr.shape[1] != gen.dim_z or (count is not None and arr.shape[0] != count)
            or (finite and not numpy.isfinite(arr).all())):
        raise ValueError(f"{name} must be {'finite, ' if finite else ''}shape ({rows}, {gen.dim_z}); got shape "
                         f"{arr.shape}")
    return arr


def _latents(gen, z):
    return gen.device.send(host_latents(gen, z))


def model_mask(gen, mask):
    """A mask (``(h, w)`` bool or float, NumPy or CuPy) as ``(R, R)`` float32 in ``[0, 1]`` at ``gen``'s resolution
    ``R``; other sizes are resized (area / bilinear)."""
    return _clip(maps.resize_mask(backend.to_numpy(mask), gen.resolution))


def _clip(mask):
    return numpy.clip(mask, 0.0, 1.0).astype(numpy.float32, copy=False)


def render(gen, z, condition, *, z_others=None, blend_maps=None):
    """Generate images in test mode without a graph.

    Args:
        gen: a :class:`~neuralcollage.models.Generator`.
        z: ``(N, dim_z)`` latents (NumPy or CuPy; ``(dim_z,)`` is one sample).
        condition: a class condition (:meth:`Generator.class_conditions`: an int, ids ``(N,)``, vectors
            ``(N, K)``, one map ``(N, K, H, W)`` or one map per class layer).
        z_others: optional list of further latents ``(N, dim_z)``; with ``blend_maps`` this is feature
            blending of the streams ``[z] + z_others`` (:meth:`Generator.blend`).
        blend_maps: one ``(N, S + 1, h, w)`` map per blend layer.

    Returns:
        ``(N, 3, R, R)`` float32 NumPy in ``[-1, 1]``.
    """
    z = _latents(gen, z)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        if z_others is None:
            if blend_maps is not None:
                raise ValueError("blend_maps given without z_others (the latents to blend)")
            out = gen.forward(z, condition)
        else:
            if blend_maps is None:
                raise ValueError("feature blending needs blend_maps (one per blend layer)")
            out = gen.blend([z] + [_latents(gen, o) for o in z_others], condition, blend_maps)
    return check_model_output(gen, backend.to_numpy(out.array))


def check_model_output(gen, images):
    """``images`` when finite; else :class:`~neuralcollage.snapshot.SnapshotError` naming ``gen``'s model file
    (weights that overflow make NaN or infinity, which no photo should receive)."""
    if not numpy.isfinite(images).all():
        from neuralcollage.snapshot import SnapshotError
        source = getattr(gen, "snapshot_path", None)
        where = f"model file {source}" if source else "the generator (not loaded from a file)"
        raise SnapshotError(f"{where} produced NaN or infinite values: its weights are damaged or overflow")
    return images


def edit_class_maps(gen, source_class, target_class, mask, *, layers="all", feather=0.0):
    """Per-class-layer maps: ``target_class`` inside ``mask``, ``source_class`` elsewhere.

    Args:
        gen: the generator (its class-layer resolutions and class count are used).
        source_class, target_class: class ids.
        mask: ``(R, R)`` bool or float in ``[0, 1]`` at the generator's resolution (another size is
            resized); soft values mix the two classes.
        layers: class layers that get the collage (:func:`neuralcollage.maps.parse_layers`); the others
            get ``source_class`` everywhere.
        feather: Gaussian sigma in pixels at resolution ``R`` softening the mask's edge.

    Returns:
        list of ``(1, K, h_l, w_l)`` float32 NumPy maps, one per class layer.
    """
    k = gen.n_classes
    for name, c in (("source_class", source_class), ("target_class", target_class)):
        if not isinstance(c, (int, numpy.integer)) or not 0 <= int(c) < k:
            raise ValueError(f"{name} must be a class id in 0..{k - 1}, got {c!r}")
    alpha = model_mask(gen, mask)
    class_map = maps.class_map_from_masks({int(target_class): alpha}, n_classes=k,
                                          default_class=int(source_class), feather=feather)
    return maps.layer_maps(class_map, gen.class_map_resolutions, layers=layers, base=int(source_class))


def _tile(conds, n):
    if n == 1:
        return conds
    return [numpy.ascontiguousarray(numpy.broadcast_to(c, (n,) + c.shape[1:])) for c in conds]


def scbn_edit(gen, z, source_class, target_class, mask, *, layers="all", feather=0.0):
    """sCBN collage: the image of ``z`` with ``target_class`` inside ``mask`` on the selected class layers.

    Args:
        gen: a :class:`~neuralcollage.models.Generator`.
        z: ``(N, dim_z)`` latents (usually ``N = 1``, e.g. a projection's ``z``).
        source_class, target_class, mask, layers, feather: see :func:`edit_class_maps`.

    Returns:
        ``(N, 3, R, R)`` float32 NumPy in ``[-1, 1]``.
    """
    z = _latents(gen, z)
    conds = edit_class_maps(gen, source_class, target_class, mask, layers=layers, feather=feather)
    return render(gen, z, _tile(conds, z.shape[0]))


def blend_edit(gen, z, z_other, condition, mask, *, layers="all", feather=0.0):
    """Feature blending: ``z_other``'s features show through ``mask`` in the image of ``z``.

    Args:
        gen: a :class:`~neuralcollage.models.Generator`.
        z: ``(N, dim_z)``, the latent outside the mask (stream 0).
        z_other: ``(N, dim_z)``, the latent inside the mask (stream 1).
        condition: the class condition shared by both streams (see :func:`render`), e.g. a class id or
            :func:`edit_class_maps`.
        mask: ``(R, R)`` bool or float in ``[0, 1]`` (another size is resized).
        layers: blend layers (0 after ``l1``, then one after each block) that blend; the others keep the
            target stream (layer 0 unselected takes stream 0).
        feather: Gaussian sigma in pixels at resolution ``R``.

    Returns:
        ``(N, 3, R, R)`` float32 NumPy in ``[-1, 1]``.
    """
    z = _latents(gen, z)
    z_other = _latents(gen, z_other)
    if z_other.shape != z.shape:
        raise ValueError(f"z_other has shape {tuple(z_other.shape)}, z has {tuple(z.shape)}")
    bmaps = maps.blend_maps_from_mask(model_mask(gen, mask), n_streams=2, stream=1,
                                      resolutions=gen.blend_resolutions, layers=layers, base_stream=0,
                                      feather=feather)
    n = z.shape[0]
    if isinstance(condition, (list, tuple)):
        condition = _tile(list(condition), n)
    return render(gen, z, condition, z_others=[z_other], blend_maps=_tile(bmaps, n))


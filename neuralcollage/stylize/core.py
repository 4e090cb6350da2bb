"""Stylise a target image from one exemplar: guides from landmarks, lookup table, StyleBlit, compositing."""
import dataclasses
import os

import numpy

from neuralcollage.stylize.guides import (appearance_guide, match_histogram, position_guide, position_ramp,
                                          segmentation_guide, texture_lattice)
from neuralcollage.stylize.lookup import LookupTable, build_lookup_table, guide_key, load_lookup_table
from neuralcollage.stylize.styleblit import (BLEND_RADIUS, LEVELS, PATCH_ITERATIONS, THRESHOLD, VOTE_SIGMA,
                                             StyleBlitResult, check_patch_iterations, styleblit)

__all__ = ["Exemplar", "Stylized", "prepare_exemplar", "target_guide", "warped_labels", "stylize", "stylize_details",
           "check_landmarks", "texture_guides", "exemplar_lattice", "check_lattice", "check_patch_iterations",
           "HATCHING_OPTIONS", "MAX_SIZE_RATIO", "TEXTURE_WEIGHT", "TEXTURE_SEARCH_RADIUS", "LATTICE"]

#: The hatching setting (:func:`stylize` keywords): the texture lattice, radius-1 stride-1 voting and 3 patch
#: refinement passes; on periodic hatching it lifts patch match at 128 px above 0.90, at about 5x the synthesis
#: time (docs/stylize.md, "Patch refinement"; ``collage stylize --help`` shows the same flags).
HATCHING_OPTIONS = {"lattice": "auto", "blend_radius": 1, "vote_stride": 1, "patch_iterations": 3}

#: Largest ratio of exemplar to target side (either way) :func:`stylize` accepts.
MAX_SIZE_RATIO = 4.0

#: Default weight of the screen-anchored texture guide (:func:`texture_guides`): 0, off (docs/stylize.md,
#: "Hatching in phase": it lifts hatch but lowers watercolour below the warp).
TEXTURE_WEIGHT = 0.0

#: Default of :func:`stylize`'s ``lattice``: None, no snapping (docs/stylize.md, "Hatching in phase").
LATTICE = None

#: With a texture guide, the pixels no chunk accepts search this far around their lookup answer
#: (:func:`~neuralcollage.stylize.styleblit.refine_field`): the table knows nothing of the texture channel.
TEXTURE_SEARCH_RADIUS = 2


def _image(image, name):
    arr = numpy.asarray(image)
    if arr.dtype != numpy.uint8 or arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 2:
        raise ValueError(f"{name} must be (H, W, 3) uint8 RGB, at least 2x2, got {arr.dtype} {arr.shape}")
    return arr


def check_landmarks(landmarks, shape, *, name="landmarks", count=None):
    """``landmarks`` as a ``(K, 2)`` float64 array of ``(x, y)`` pixel coordinates, or ValueError with one line
    naming the problem: not ``(K, 2)`` with K >= 2, not finite, a point outside the ``shape`` image (half a
    pixel of slack), all points equal, or K other than ``count``."""
    arr = numpy.asarray(landmarks, dtype=numpy.float64)
    if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) < 2:
        raise ValueError(f"{name} must be a list of at least 2 (x, y) points, got shape {arr.shape}")
    if count is not None and len(arr) != count:
        raise ValueError(f"{name} has {len(arr)} points, the other image's landmarks have {count}")
    if not numpy.isfinite(arr).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    h, w = shape[:2]
    outside = (arr[:, 0] < -0.5) | (arr[:, 0] > w - 0.5) | (arr[:, 1] < -0.5) | (arr[:, 1] > h - 0.5)
    if outside.any():
        i = int(numpy.argmax(outside))
        raise ValueError(f"{name} point {i} ({arr[i, 0]:g}, {arr[i, 1]:g}) lies outside the {w}x{h} image")
    if numpy.ptp(arr, axis=0).max() < 1e-6:
        raise ValueError(f"{name} are all the same point")
    return arr


@dataclasses.dataclass(frozen=True)
class Exemplar:
    """A style exemplar ready for synthesis (its guide and lookup table built once).

    Attributes
    ----------
    image : numpy.ndarray
        ``(He, We, 3)`` uint8 RGB, the stylised exemplar.
    landmarks : numpy.ndarray
        ``(K, 2)`` float64 ``(x, y)``.
    guide : numpy.ndarray
        ``(He, We, C)`` float32, 0-255 units: ramp x, ramp y, appearance, [segmentation].
    table : LookupTable
    n_labels : int
        Segmentation labels (1: none).
    """

    image: numpy.ndarray
    landmarks: numpy.ndarray
    guide: numpy.ndarray
    table: LookupTable
    n_labels: int = 1

    def __repr__(self):
        return (f"Exemplar({self.image.shape[1]}x{self.image.shape[0]}, {len(self.landmarks)} landmarks, "
                f"n_labels={self.n_labels}, {self.table!r})")


@dataclasses.dataclass(frozen=True)
class Stylized:
    """Everything :func:`stylize_details` computed.

    Attributes
    ----------
    image : numpy.ndarray
        ``(H, W, 3)`` uint8: the target with the stylisation composited (inside ``alpha``).
    synthesis : StyleBlitResult
        The whole-frame synthesis (image, nearest-neighbour field, accepting level).
    target_guide : numpy.ndarray
        ``(H, W, C)`` float32.
    alpha : numpy.ndarray
        ``(H, W)`` float32 in [0, 1]: the compositing weight of the synthesis.
    exemplar : Exemplar
    """

    image: numpy.ndarray
    synthesis: StyleBlitResult
    target_guide: numpy.ndarray
    alpha: numpy.ndarray
    exemplar: Exemplar


def prepare_exemplar(image, *, landmarks, appearance_source=None, labels=None, n_labels=1, position_bins=128,
                     appearance_bins=32, position_weight=10.0, appearance_weight=2.0, table_cache=None):
    """Build an exemplar's guide and lookup table.

    Parameters
    ----------
    image : numpy.ndarray
        ``(He, We, 3)`` uint8 RGB: the stylised exemplar.
    landmarks : array_like, keyword-only
        ``(K, 2)`` ``(x, y)`` pixel coordinates inside the image.
    appearance_source : numpy.ndarray, keyword-only, optional
        ``(He, We, 3)`` uint8: the unstylised picture the exemplar was painted over, when there is one; its
        appearance guide then stands for the exemplar's (default: the exemplar's own).
    labels : numpy.ndarray, keyword-only, optional
        ``(He, We)`` int part labels in ``[0, n_labels)`` (the segmentation guide).
    position_bins, appearance_bins, position_weight, appearance_weight : keyword-only
        See :func:`~neuralcollage.stylize.lookup.build_lookup_table`.
    table_cache : str or os.PathLike, keyword-only, optional
        ``.npz`` path: the table is read from it when it was built for this guide and these parameters,
        else built and written there (atomically).

    Returns
    -------
    Exemplar
    """
    image = _image(image, "exemplar")
    lm = check_landmarks(landmarks, image.shape, name="exemplar landmarks")
    source = image if appearance_source is None else _image(appearance_source, "appearance_source")
    if source.shape != image.shape:
        raise ValueError(f"appearance_source {source.shape} and exemplar {image.shape} differ in shape")
    channels = [position_ramp(image.shape), appearance_guide(source, stretch=True)[..., None]]
    n_labels = int(n_labels)
    if labels is not None:
        if numpy.shape(labels) != image.shape[:2]:
            raise ValueError(f"labels {numpy.shape(labels)} do not match the exemplar {image.shape[:2]}")
        channels.append(segmentation_guide(labels, n_labels)[..., None])
    elif n_labels != 1:
        raise ValueError("n_labels > 1 needs labels")
    guide = numpy.concatenate(channels, axis=2)
    params = dict(position_bins=position_bins, appearance_bins=appearance_bins, position_weight=position_weight,
                  appearance_weight=appearance_weight, n_labels=n_labels)
    table = None
    if table_cache is not None and os.path.exists(table_cache):
        try:
            table = load_lookup_table(table_cache, key=guide_key(guide, **_table_params(params)))
        except ValueError:
            table = None
    if table is None:
        table = build_lookup_table(guide, **params)
        if table_cache is not None:
            table.save(table_cache)
    return Exemplar(image=image, landmarks=lm, guide=guide, table=table, n_labels=n_labels)


def _table_params(params):
    out = dict(params)
    out.setdefault("label_penalty", 1000.0)
    return {k: (float(v) if "weight" in k or k == "label_penalty" else int(v)) for k, v in out.items()}


def warped_labels(exemplar, target_shape, *, target_landmarks, grid=4):
    """The exemplar's part labels moved onto a target of ``target_shape`` by the MLS similarity deformation of
    the position guide (nearest exemplar pixel): ``(H, W)`` int32, the target's segmentation guide when none
    is given."""
    from neuralcollage.stylize.guides import ramp_scale
    pos = position_guide(target_shape, target_landmarks, exemplar.landmarks, exemplar.image.shape, grid=grid)
    pos = numpy.rint(pos / ramp_scale(exemplar.image.shape)).astype(numpy.int64)
    h, w = exemplar.image.shape[:2]
    labels = numpy.rint(exemplar.guide[..., 3] * ((exemplar.n_labels - 1) / 255.0)).astype(numpy.int32)
    return labels[numpy.clip(pos[..., 1], 0, h - 1), numpy.clip(pos[..., 0], 0, w - 1)]


def target_guide(target, exemplar, *, target_landmarks, target_labels=None, mask=None, grid=4):
    """The target's guide for ``exemplar``: MLS-warped ramp, appearance guide histogram-matched to the
    exemplar's (inside ``mask`` when given), [segmentation].

    Returns
    -------
    numpy.ndarray
        ``(H, W, C)`` float32, 0-255 units.
    """
    target = _image(target, "target")
    lm = check_landmarks(target_landmarks, target.shape, name="target landmarks", count=len(exemplar.landmarks))
    pos = position_guide(target.shape, lm, exemplar.landmarks, exemplar.image.shape, grid=grid)
    app = appearance_guide(target)
    app = match_histogram(app, exemplar.guide[..., 2], mask=None if mask is None else numpy.asarray(mask) > 0)
    channels = [pos, app[..., None]]
    if exemplar.n_labels > 1:
        if target_labels is None:
            target_labels = warped_labels(exemplar, target.shape, target_landmarks=lm, grid=grid)
        if numpy.shape(target_labels) != target.shape[:2]:
            raise ValueError(f"target_labels {numpy.shape(target_labels)} do not match the target "
                             f"{target.shape[:2]}")
        channels.append(segmentation_guide(target_labels, exemplar.n_labels)[..., None])
    return numpy.concatenate(channels, axis=2)


def texture_guides(target_guide, exemplar, *, texture_weight, guide_weights=None):
    """The guides with the screen-anchored texture channel appended, for :func:`stylize`'s ``texture_weight``.

    The channel is the exemplar's appearance guide (channel 2, its own texture) on the exemplar, and on the
    target the exemplar's appearance guide at the same place in the frame (resized to the target's shape when
    the sizes differ): an exemplar pixel then fits a target pixel when its texture is the one the exemplar has at
    that pixel's own screen position.  A texture drawn in screen space (hatching at a fixed angle and spacing,
    paper grain: an artist drawing over the picture) keeps its phase on the target instead of being averaged
    away by the appearance guide of the plain target.

    Returns
    -------
    target_guide, exemplar_guide : numpy.ndarray
        ``(H, W, C + 1)`` and ``(He, We, C + 1)`` float32.
    weights : numpy.ndarray
        ``(C + 1,)`` float32: ``guide_weights`` (default 1 each) and ``texture_weight``.
    """
    import cv2
    gt = numpy.asarray(target_guide, numpy.float32)
    gs = exemplar.guide
    texture = gs[..., 2]
    if texture.shape != gt.shape[:2]:
        texture = cv2.resize(texture, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_LINEAR)
    weights = numpy.ones(gt.shape[2], numpy.float32) if guide_weights is None else \
        numpy.asarray(guide_weights, numpy.float32)
    return (numpy.concatenate([gt, texture[..., None]], axis=2), numpy.concatenate([gs, gs[..., 2:3]], axis=2),
            numpy.append(weights, numpy.float32(texture_weight)))


def check_lattice(lattice):
    """``lattice`` as :func:`stylize` takes it, checked: None, ``"auto"`` or a ``(2, 2)`` int64 basis (det != 0);
    ValueError otherwise.  For callers that keep the option before there is a target (the painter's brush)."""
    if lattice is None or (isinstance(lattice, str) and lattice == "auto"):
        return lattice
    if isinstance(lattice, str):
        raise ValueError(f"lattice must be None, 'auto' or a (2, 2) integer basis, got {lattice!r}")
    basis = numpy.asarray(lattice)
    if basis.shape != (2, 2) or not numpy.issubdtype(basis.dtype, numpy.integer) or \
            round(abs(numpy.linalg.det(basis.astype(numpy.float64)))) == 0:
        raise ValueError(f"lattice must be a (2, 2) integer basis with det != 0, got {lattice!r}")
    return basis.astype(numpy.int64)


def exemplar_lattice(exemplar, target_shape, lattice="auto"):
    """The ``(2, 2)`` int lattice basis :func:`stylize` snaps to, or None: ``lattice`` None (off), ``"auto"``
    (:func:`~neuralcollage.stylize.guides.texture_lattice` of the exemplar's appearance guide; None when the
    texture has no period) or a basis given as ``(2, 2)`` ints (columns the vectors ``(x, y)``).  Only for a
    target of the exemplar's size (the phase is the exemplar's at the same pixel); None otherwise."""
    if lattice is None or tuple(target_shape[:2]) != tuple(exemplar.image.shape[:2]):
        return None
    if isinstance(lattice, str):
        if lattice != "auto":
            raise ValueError(f"lattice must be None, 'auto' or a (2, 2) integer basis, got {lattice!r}")
        return texture_lattice(exemplar.guide[..., 2])
    basis = numpy.asarray(lattice)
    if basis.shape != (2, 2) or not numpy.issubdtype(basis.dtype, numpy.integer) or \
            round(abs(numpy.linalg.det(basis.astype(numpy.float64)))) == 0:
        raise ValueError(f"lattice must be a (2, 2) integer basis with det != 0, got {lattice!r}")
    return basis.astype(numpy.int64)


def stylize_details(target, exemplar, *, target_landmarks, exemplar_landmarks=None, mask=None,
                    threshold=THRESHOLD, blend_radius=BLEND_RADIUS, seed=0, guide_weights=None, feather=2.0,
                    target_labels=None, levels=LEVELS, vote_sigma=VOTE_SIGMA, vote_stride=None,
                    texture_weight=TEXTURE_WEIGHT, lattice=LATTICE, patch_iterations=PATCH_ITERATIONS,
                    **exemplar_options):
    """As :func:`stylize`, returning a :class:`Stylized` with the guide, field and mask as well (its
    ``target_guide`` without the texture channel; :func:`texture_guides` adds it)."""
    target = _image(target, "target")
    if not isinstance(exemplar, Exemplar):
        if exemplar_landmarks is None:
            raise ValueError("exemplar_landmarks are needed with an exemplar image")
        exemplar = prepare_exemplar(exemplar, landmarks=exemplar_landmarks, **exemplar_options)
    elif exemplar_options:
        raise ValueError(f"{sorted(exemplar_options)} apply to an exemplar image, not to a prepared Exemplar")
    ratio = max(exemplar.image.shape[0] / target.shape[0], exemplar.image.shape[1] / target.shape[1],
                target.shape[0] / exemplar.image.shape[0], target.shape[1] / exemplar.image.shape[1])
    if ratio > MAX_SIZE_RATIO:
        raise ValueError(f"exemplar {exemplar.image.shape[1]}x{exemplar.image.shape[0]} and target "
                         f"{target.shape[1]}x{target.shape[0]} differ in size by more than {MAX_SIZE_RATIO:g}x; "
                         f"resize one of them")
    region = None
    if mask is not None:
        m = numpy.asarray(mask)
        if m.shape != target.shape[:2]:
            raise ValueError(f"mask {m.shape} does not match the target {target.shape[:2]}")
        region = m > 0
    guide = target_guide(target, exemplar, target_landmarks=target_landmarks, target_labels=target_labels,
                         mask=region)
    weights = guide_weights
    if weights is not None and len(weights) != guide.shape[2]:
        raise ValueError(f"guide_weights needs {guide.shape[2]} values (x, y, appearance"
                         f"{', segmentation' if guide.shape[2] > 3 else ''}), got {len(weights)}")
    if not (numpy.isfinite(texture_weight) and texture_weight >= 0):
        raise ValueError(f"texture_weight must be a finite number >= 0, got {texture_weight}")
    basis = exemplar_lattice(exemplar, target.shape, lattice)
    if texture_weight > 0:
        g_t, g_s, w = texture_guides(guide, exemplar, texture_weight=texture_weight, guide_weights=weights)
        result = styleblit(g_t, g_s, exemplar.image, exemplar.table, threshold=threshold,
                           blend_radius=blend_radius, guide_weights=w, seed=seed, levels=levels,
                           vote_sigma=vote_sigma, vote_stride=vote_stride, fallback_radius=TEXTURE_SEARCH_RADIUS,
                           lattice=basis, patch_iterations=patch_iterations)
    else:
        result = styleblit(guide, exemplar.guide, exemplar.image, exemplar.table, threshold=threshold,
                           blend_radius=blend_radius, guide_weights=weights, seed=seed, levels=levels,
                           vote_sigma=vote_sigma, vote_stride=vote_stride, lattice=basis,
                           patch_iterations=patch_iterations)
    if region is None:
        alpha = numpy.ones(target.shape[:2], numpy.float32)
        image = result.image
    else:
        from neuralcollage.blending import feather_mask
        alpha = feather_mask(region, sigma=feather) if feather > 0 else region.astype(numpy.float32)
        mixed = target.astype(numpy.float32) * (1.0 - alpha[..., None]) + result.image * alpha[..., None]
        image = numpy.clip(numpy.rint(mixed), 0, 255).astype(numpy.uint8)
    return Stylized(image=image, synthesis=result, target_guide=guide, alpha=alpha, exemplar=exemplar)


def stylize(target, exemplar, *, target_landmarks, exemplar_landmarks=None, mask=None, threshold=THRESHOLD,
            blend_radius=BLEND_RADIUS, seed=0, guide_weights=None, feather=2.0, target_labels=None, levels=LEVELS,
            vote_sigma=VOTE_SIGMA, vote_stride=None, texture_weight=TEXTURE_WEIGHT, lattice=LATTICE,
            patch_iterations=PATCH_ITERATIONS, **exemplar_options):
    """Stylise ``target`` with the texture of ``exemplar``, placed by the two images' landmarks.

    Guides (FaceBlit): the exemplar's position guide is a coordinate ramp, the target's the ramp moved by MLS
    similarity deformation from the exemplar's landmarks onto the target's; the appearance guides are
    ``grey - blur(grey)``, the target's histogram-matched to the exemplar's.  Synthesis: hierarchical
    StyleBlit with a small lookup table and voting.

    Parameters
    ----------
    target : numpy.ndarray
        ``(H, W, 3)`` uint8 RGB.
    exemplar : numpy.ndarray or Exemplar
        ``(He, We, 3)`` uint8 RGB stylised exemplar (sides within 4x of the target's), or one prepared by
        :func:`prepare_exemplar` (reuses its lookup table).
    target_landmarks, exemplar_landmarks : array_like, keyword-only
        ``(K, 2)`` ``(x, y)`` pixel coordinates (pixel ``[i, j]``'s centre is ``(j, i)``), corresponding
        point for point; ``exemplar_landmarks`` only with an exemplar image.
    mask : numpy.ndarray, keyword-only, optional
        ``(H, W)`` bool or [0, 1]: stylise only there (its edge feathered by ``feather`` px, with
        :func:`neuralcollage.blending.feather_mask`); default the whole image.
    threshold : float, keyword-only
        Chunk growth threshold on the guide error, 0-255 units (0-64 useful; lower: smaller chunks).  Default
        8, measured on held-out renders (the reference uses 24; docs/stylize.md).
    blend_radius : int, keyword-only
        Voting radius ``r``: the (2r + 1)^2 neighbours ``vote_stride`` apart (0: no voting).  Default 2
        (:data:`~neuralcollage.stylize.styleblit.BLEND_RADIUS`, measured on held-out renders, docs/stylize.md).
    vote_sigma : float or None, keyword-only
        Guide-error scale of the weighted voting: a neighbour's vote counts ``exp(-e / vote_sigma)``, ``e`` the
        guide error of its candidate at the pixel (:func:`~neuralcollage.stylize.vote`); None: the plain mean
        of the reference.
    vote_stride : int or None, keyword-only
        Spacing of the voting neighbours (:func:`~neuralcollage.stylize.vote`); None: by the target's size,
        :func:`~neuralcollage.stylize.styleblit.vote_stride_for` (1 up to 95 px, 2 at 128, 4 at 256).
    seed : int, keyword-only
        Jitter seed: a fixed seed gives bit-identical output; a new seed per frame gives "boiling".
    guide_weights : sequence of float, keyword-only, optional
        Weights of the guide channels in the chunk error (x, y, appearance[, segmentation]); default 1.
    target_labels : numpy.ndarray, keyword-only, optional
        ``(H, W)`` int part labels, when the exemplar has a segmentation guide (default: the exemplar's labels
        moved by the landmarks' MLS deformation, :func:`warped_labels`).
    texture_weight : float, keyword-only
        Weight of the screen-anchored texture guide (:func:`texture_guides`) in the chunk error, the voting
        weights and a local search (radius :data:`TEXTURE_SEARCH_RADIUS`) of the pixels no chunk accepts; for
        exemplars whose texture is drawn in screen space (hatching).  Default 0: off (the output is bit-identical
        to what it was without the option).  1 lifts the hatch renders' patch match and SSIM but lowers
        watercolour's SSIM below the warp's (docs/stylize.md, "Hatching in phase").
    lattice : None, "auto" or array_like, keyword-only
        Keep a periodic texture (hatching at a fixed angle and spacing) in phase: every chunk seed's and every
        per-pixel answer moves the least, keeping its part label, so that its offset lies on the texture's
        translation lattice (:func:`~neuralcollage.stylize.styleblit.snap_to_lattice`); ``"auto"`` reads the
        lattice off the exemplar (:func:`exemplar_lattice`; nothing changes for a texture without a period, or a
        target of another size), or give the ``(2, 2)`` int basis.  Default None: off (docs/stylize.md,
        "Hatching in phase").
    patch_iterations : int, keyword-only
        Passes of patch refinement after the vote (:func:`~neuralcollage.stylize.styleblit.refine_patches`: each
        pixel takes the candidate, among its own, its neighbours' continued and, with a lattice, its own moved by
        a lattice vector, whose 5x5 exemplar patch best fits the synthesis, then the same vote again).  Default
        0: off (bit-identical to the output without the option); 3 with ``lattice="auto"``, ``blend_radius=1``
        and ``vote_stride=1`` lifts the hatch renders' patch match at 128 px above 0.90 (docs/stylize.md,
        "Hatching in phase").
    **exemplar_options
        Passed to :func:`prepare_exemplar` with an exemplar image (``appearance_source``, ``labels``,
        ``n_labels``, ``table_cache``, bins and weights).

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` uint8 RGB.

    Example
    -------
    >>> from neuralcollage.datasets import render_sample, render_landmarks
    >>> out = stylize(render_sample(3).image, render_sample(3, style="hatch").image,
    ...               target_landmarks=render_landmarks(3), exemplar_landmarks=render_landmarks(3))
    >>> out.shape, out.dtype
    ((64, 64, 3), dtype('uint8'))
    """
    return stylize_details(target, exemplar, target_landmarks=target_landmarks,
                           exemplar_landmarks=exemplar_landmarks, mask=mask, threshold=threshold,
                           blend_radius=blend_radius, seed=seed, guide_weights=guide_weights, feather=feather,
                           target_labels=target_labels, levels=levels, vote_sigma=vote_sigma,
                           vote_stride=vote_stride, texture_weight=texture_weight, lattice=lattice,
                           patch_iterations=patch_iterations, **exemplar_options).image

"""Edit operations on latents, the real-photo pipeline and replayable edit recipes.

* :func:`render`, :func:`edit_class_maps`, :func:`scbn_edit`, :func:`blend_edit`: edits of a latent at the
  generator's resolution (images ``(N, 3, R, R)`` float32 in ``[-1, 1]``, masks ``(R, R)`` in ``[0, 1]``).
* :func:`edit_photo`: a real photo, a mask and a target label in, the edited photo out (DESIGN.md §1: crop,
  project, edit, Poisson-blend back at full resolution; every pixel outside
  :func:`neuralcollage.blending.blend_region` is bit-identical to the photo).
* :func:`make_recipe` / :func:`replay`: a JSON-able description of an edit from which :func:`replay`
  rebuilds the same output bit for bit on the CPU without projecting again; :func:`save_recipe` /
  :func:`load_recipe` read and write it.
"""
from neuralcollage import _compat  # noqa: F401

import base64
import dataclasses
import hashlib
import json
import math
import re
import struct
import zlib

import chainer
import cv2
import numpy

from neuralcollage import backend, blending, maps
from neuralcollage.inversion import describe_loss, guess_source_class, project
from neuralcollage import limits
from neuralcollage.io import InputError, as_mask, atomic_write_text, fit_mask, from_model, read_json_limited
from neuralcollage.options import (DEFAULT_COLOUR_REACH, DEFAULT_CONTEXT, UNSET, BlendOptions, EditOptions,
                                   ProjectionOptions)
from neuralcollage.reconstruction import (DEFAULT_RECONSTRUCTION, RECONSTRUCTIONS, FitOptions, edit_generator,
                                          feature_similarity, fit_generator, fit_options, fit_warning,
                                          model_psnr, projection_steps)

__all__ = ["METHODS", "RECIPE_FORMAT", "RECIPE_VERSION", "DEFAULT_CONTEXT", "DEFAULT_COLOUR_REACH", "BlendOptions",
           "EditOptions", "ProjectionOptions", "EditResult", "RecipeError",
           "render", "edit_class_maps", "scbn_edit", "blend_edit", "class_region", "edit_photo", "make_recipe",
           "replay", "save_recipe", "load_recipe", "check_recipe", "recipe_model"]

METHODS = ("scbn", "blend")
RECIPE_FORMAT = "neuralcollage-recipe"
RECIPE_VERSION = 1
# DEFAULT_CONTEXT and DEFAULT_COLOUR_REACH are the defaults of EditOptions.context and
# BlendOptions.colour_reach (neuralcollage/options.py), re-exported here.


class RecipeError(InputError):
    """A recipe that cannot be replayed here: malformed, another format version, another model or photo."""


@dataclasses.dataclass
class EditResult:
    """What :func:`edit_photo` and :func:`replay` return.

    Attributes:
        image: ``(H, W, 3)`` uint8, the edited photo (outside the blend region identical to the input).
        box: ``(top, left, size)`` of the square crop on the photo.
        crop: ``(R, R, 3)`` uint8, the crop resized to the generator's resolution ``R``.
        reconstruction: ``(R, R, 3)`` uint8, ``G(z, source_class)`` (the fitted generator's when the photo
            was fitted: ``reconstruction="features"`` or ``"pivotal"``).
        reconstruction_psnr: PSNR (dB) of :attr:`reconstruction` against :attr:`crop`: how faithfully the
            model reproduces the photo before editing it.
        edited_crop: ``(R, R, 3)`` uint8, the edit at the generator's resolution.
        mask_crop: ``(R, R)`` float32 in ``[0, 1]``, the mask on the crop.
        z: ``(1, dim_z)`` float32, the projected latent.
        z_target: ``(1, dim_z)`` float32, the latent shown through the mask (``"blend"`` only), else None.
        source_class, target_class: class ids.
        losses: the projection's loss trajectory (empty for a replay).
        recipe: the JSON-able recipe (:func:`make_recipe`).
        projection: the :class:`~neuralcollage.inversion.ProjectionResult` (None for a replay).
        source_guess: the :class:`~neuralcollage.inversion.SourceClassGuess` when the source class was
            guessed, else None.
        notes: one-line remarks (a resized mask, a guessed class, a poor fit).
        fit: the :class:`~neuralcollage.reconstruction.PhotoFit` when the photo was fitted, else None.
        projection_psnr, feature_similarity: how close the projection alone came (PSNR in dB; cosine of the
            discriminator's features, None without one): what the model can draw of the photo, the basis of
            the "far from what the model can draw" warning (None for a replay).
    """
    image: numpy.ndarray
    box: tuple
    crop: numpy.ndarray
    reconstruction: numpy.ndarray
    edited_crop: numpy.ndarray
    mask_crop: numpy.ndarray
    z: numpy.ndarray
    z_target: object
    source_class: int
    target_class: int
    losses: list
    recipe: dict
    projection: object = None
    source_guess: object = None
    notes: list = dataclasses.field(default_factory=list)
    reconstruction_psnr: float = None
    fit: object = None
    projection_psnr: float = None
    feature_similarity: float = None


# ----------------------------------------------------------------------------------------------------
# edits of latents

def _host_latents(gen, z, *, name="latents", count=None, finite=False):
    """``z`` as ``(N, dim_z)`` float32 NumPy (one ``(dim_z,)`` latent becomes ``(1, dim_z)``); ``count``
    fixes ``N``, ``finite`` refuses NaN and infinity."""
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
    return gen.device.send(_host_latents(gen, z))


def _model_mask(gen, mask):
    """A mask as ``(R, R)`` float32 in [0, 1]; other sizes are resized (area / bilinear)."""
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
    alpha = _model_mask(gen, mask)
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
    bmaps = maps.blend_maps_from_mask(_model_mask(gen, mask), n_streams=2, stream=1,
                                      resolutions=gen.blend_resolutions, layers=layers, base_stream=0,
                                      feather=feather)
    n = z.shape[0]
    if isinstance(condition, (list, tuple)):
        condition = _tile(list(condition), n)
    return render(gen, z, condition, z_others=[z_other], blend_maps=_tile(bmaps, n))


# ----------------------------------------------------------------------------------------------------
# the real-photo pipeline

def _check_photo(photo):
    arr = numpy.asarray(photo)
    if arr.dtype != numpy.uint8 or arr.ndim != 3 or arr.shape[2] != 3 or 0 in arr.shape:
        raise InputError(f"photo must be an (H, W, 3) uint8 RGB array, got {arr.dtype} {arr.shape}")
    return arr


def _class_id(vocabulary, gen, label, what):
    index = vocabulary.index(label)
    if index >= gen.n_classes:
        raise InputError(f"{what} {label!r} is class {index}, but the generator has {gen.n_classes} classes")
    return int(index)


def _layers_string(gen, method, layers):
    n = gen.n_class_layers if method == "scbn" else gen.n_blend_layers
    return maps.format_layers(maps.parse_layers(layers, n), n)


def _check_method(method):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def _user_box(box, mask):
    top, left, size = blending.check_box(box, mask.shape)
    if not numpy.any(mask[top:top + size, left:left + size] > 0):
        raise InputError(f"crop box (top={top}, left={left}, size={size}) contains none of the mask")
    return top, left, size


def _crop_mask(gen, mask, box):
    top, left, side = box
    return _clip(maps.resize_mask(mask[top:top + side, left:left + side], gen.resolution))


def _uint8(images):
    return from_model(images)[0]


def class_region(gen, mask_crop, context):
    """The region that gets the target class in the class maps: ``mask_crop`` grown by ``context``.

    Args:
        gen: the generator (its resolution ``R``).
        mask_crop: ``(R, R)`` float32 in ``[0, 1]``, the mask on the crop.
        context: how far the class region reaches beyond the mask, as a fraction of ``R`` (>= 0); the
            grown ring keeps the mask's soft values (grey-level dilation with a disc of
            ``round(context * R)`` pixels).

    Returns:
        ``(R, R)`` float32 in ``[0, 1]``.
    """
    radius = int(round(_check_context(context) * gen.resolution))
    return blending.grey_dilate(mask_crop, radius).astype(numpy.float32, copy=False)


def _check_context(context):
    try:
        context = float(context)
    except (TypeError, ValueError, OverflowError):
        context = math.nan
    if not 0.0 <= context <= 1.0:
        raise ValueError(f"context must be a fraction of the generator's resolution in [0, 1], got {context}")
    return context


def _apply(gen, photo, mask, box, *, z, z_target, source_class, target_class, method, layers, edit, blend,
           fit=None):
    """Render the edit of ``z`` (with the fitted generator when ``fit`` is given; ``edit`` the
    :class:`EditOptions`) and blend it into ``photo`` (``blend`` the :class:`BlendOptions`):
    (image, edited_crop, mask_crop)."""
    context, feather = edit.context, edit.feather
    mask_crop = _crop_mask(gen, mask, box)
    class_mask = class_region(gen, mask_crop, context)
    if fit is not None:
        fade = class_region(gen, mask_crop, context * fit.options.fade_context)
        gen = edit_generator(fit, numpy.maximum(fade, mask_crop))
    if method == "scbn":
        edited = scbn_edit(gen, z, source_class, target_class, class_mask, layers=layers, feather=feather)
    else:
        conds = edit_class_maps(gen, source_class, target_class, class_mask, layers="all", feather=feather)
        edited = blend_edit(gen, z, z_target, conds, mask_crop, layers=layers, feather=feather)
    edited_crop = _uint8(edited)
    image = blending.blend_back(photo, edited_crop, mask, box, blend)
    return image, edited_crop, mask_crop


def edit_photo(bundle, photo, mask, target_label, *, source_label=None, layers="all", method="scbn",
               z_target=None, blend_options=None, edit_options=None, projection_options=None, box=None,
               progress=None, guess_progress=None, reconstruction=DEFAULT_RECONSTRUCTION, fit=None,
               fit_progress=None, steps=UNSET, restarts=UNSET, seed=UNSET, candidates=UNSET, guess_steps=UNSET,
               blend_mode=UNSET, dilate=UNSET, seam=UNSET, colour_reach=UNSET, feather=UNSET, context=UNSET,
               margin=UNSET):
    """Turn the masked region of a photo into ``target_label``.

    Crop a square around the mask (:func:`neuralcollage.blending.square_crop_box` with ``margin``, at least
    the generator's resolution ``R``; or the given ``box``), resize it to ``R``, project it
    (:func:`neuralcollage.project`, encoder initialisation when the bundle has an encoder), with
    fit the generator to it (:func:`neuralcollage.reconstruction.fit_generator`; the default
    ``reconstruction="features"``), edit the latent, and Poisson-blend the edit back at
    full resolution.

    Args:
        bundle: a :class:`neuralcollage.pretrained.ModelBundle` (``generator``, ``discriminator``,
            optional ``encoder``, ``vocabulary``, ``name``, ``sha256``).  Without a discriminator (e.g.
            BigGAN-deep) the projection uses :class:`neuralcollage.inversion.PyramidFeatures` (a note says
            so) and ``source_label`` is required.
        photo: ``(H, W, 3)`` uint8 RGB.
        mask: ``(h, w)`` bool, uint8 (0..255) or float in ``[0, 1]`` with the photo's aspect ratio; another
            size is resized to the photo's (see ``EditResult.notes``).  Must not be empty.
        target_label: class name, synonym or index in ``bundle.vocabulary``; None keeps the source class
            (with ``method="blend"`` and a ``z_target``: a change of the latent inside the mask only).
        source_label: the photo's class; None guesses it (:func:`neuralcollage.inversion.guess_source_class`
            with ``candidates`` classes and ``guess_steps`` steps each).
        layers: ``"scbn"``: the class layers that get the target class; ``"blend"``: the blend layers that
            blend (:func:`neuralcollage.maps.parse_layers`).
        method: ``"scbn"`` (spatial class conditioning of the projected latent) or ``"blend"`` (feature
            blending: inside the mask, the features of the latent ``z_target`` rendered as the target class
            replace the projection's; both streams share the class map "target inside the mask, source
            outside" on every class layer).
        z_target: ``"blend"`` only: the latent shown inside the mask; None draws a fresh one,
            ``gen.sample_z(1, seed=projection_options.seed)``; an array ``(1, dim_z)`` (or ``(dim_z,)``) is used as it is; a
            callable ``z_target(z, source_class) -> (1, dim_z)`` gets the projected latent ``z`` (float32 NumPy
            ``(1, dim_z)``) and the source class id (e.g. ``z`` moved along an attribute axis,
            :func:`neuralcollage.axes.attribute_edit_photo`).  The recipe records the latent used.
        blend_options: :class:`neuralcollage.options.BlendOptions` (None: the defaults): how the edit is
            blended back (:func:`neuralcollage.blending.blend_back`): ``blend_mode``, ``dilate``, ``seam``,
            ``colour_reach`` (a number of pixels, ``math.inf`` or None: classic Poisson editing).
        edit_options: :class:`neuralcollage.options.EditOptions` (None: the defaults): ``margin`` (the crop
            around the mask), ``context`` (how far the target class reaches beyond the mask in the generator's
            class maps, a fraction of ``R``, :func:`class_region`; only the mask, dilated by ``dilate``,
            reaches the photo) and ``feather`` (the class/blend maps' edge).
        projection_options: :class:`neuralcollage.options.ProjectionOptions` (None: the defaults): ``steps``
            (None: the reconstruction's default, :data:`neuralcollage.reconstruction.PROJECTION_STEPS`, 50
            before a fit and 200 for the projection alone), ``restarts``, ``seed`` (which also draws the
            default blend latent), ``candidates`` and ``guess_steps`` (guessing the source class).
        steps, restarts, seed, candidates, guess_steps, blend_mode, dilate, seam, colour_reach, feather,
            context, margin: shorthands for the fields of the three options objects of these names (a given
            keyword replaces that field).
        box: ``(top, left, size)`` of the square crop on the photo instead of the one around the mask, e.g.
            the whole object when the model was trained on whole objects (``size`` >= 1, inside the photo,
            and it must contain part of the mask).
        progress: ``progress(step, loss, restart)`` during the projection.
        guess_progress: ``guess_progress(class_id, step, loss)`` while guessing the source class.
        reconstruction: ``"features"`` (the default,
            :data:`neuralcollage.reconstruction.DEFAULT_RECONSTRUCTION`: projection, then a feature offset
            fitted so that the generator, its weights as trained, reproduces the crop; the edit fades the
            offset out where the class changes), ``"pivotal"`` (the weights tuned too, on a per-photo copy)
            or ``"projection"`` (the latent alone, the paper's pipeline); see
            :func:`neuralcollage.reconstruction.fit_generator`.  Generators other than sCBN ResNets
            (BigGAN-deep) are projected only (a note says so).
        fit: :class:`neuralcollage.reconstruction.FitOptions` of the fit (None: the method's defaults).
        fit_progress: ``fit_progress(step, loss)`` during the fit.

    Returns:
        :class:`EditResult`; ``notes`` carries a warning when the reconstruction is below
        :data:`neuralcollage.reconstruction.WARN_PROJECTION_PSNR` or the features' similarity below
        :data:`~neuralcollage.reconstruction.WARN_FEATURE_SIMILARITY` (:func:`_projection_fidelity`).

    Raises:
        InputError: bad photo or mask (empty, wrong aspect ratio), a class the generator lacks.
        UnknownLabelError: a label the vocabulary does not know (the message suggests names).
        InputError: no ``source_label`` and the bundle has no discriminator (nothing to guess it with).
        ValueError: bad options, a ``z_target`` with ``method="scbn"`` or of the wrong shape.
    """
    _check_method(method)
    blend = BlendOptions.build(blend_options, blend_mode=blend_mode, dilate=dilate, seam=seam,
                               colour_reach=colour_reach)
    shape = EditOptions.build(edit_options, feather=feather, context=context, margin=margin)
    looks = ProjectionOptions.build(projection_options, steps=steps, restarts=restarts, seed=seed,
                                    candidates=candidates, guess_steps=guess_steps)
    settings = fit_options(reconstruction, fit)
    steps, restarts, seed = projection_steps(reconstruction, looks.steps), looks.restarts, looks.seed
    if method != "blend" and z_target is not None:
        raise ValueError(f"z_target applies to method 'blend' only, not {method!r}")
    gen = bundle.generator
    photo = _check_photo(photo)
    mask, note = fit_mask(mask, photo.shape[:2])
    notes = [note] if note else []
    target_class = None if target_label is None else _class_id(bundle.vocabulary, gen, target_label,
                                                                "target label")
    source_class = None if source_label is None else _class_id(bundle.vocabulary, gen, source_label,
                                                                "source label")
    layers = _layers_string(gen, method, layers)
    if z_target is not None and not callable(z_target):
        z_target = _blend_latent(gen, z_target)
    if bundle.discriminator is None:
        if source_class is None:
            raise InputError(f"model {bundle.name!r} has no discriminator to guess the photo's class from: give "
                             "the source label (--source-label on the command line)")
        notes.append(f"model {bundle.name!r} has no discriminator: projected with "
                     f"{describe_loss(None)} (neuralcollage.inversion.PyramidFeatures)")
    if box is None:
        box = blending.square_crop_box(mask, image_size=photo.shape[:2], margin=shape.margin,
                                       min_size=gen.resolution)
    else:
        box = _user_box(box, mask)
    crop = blending.crop_and_resize(photo, box, gen.resolution)

    guess = None
    if source_class is None:
        guess = guess_source_class(gen, bundle.discriminator, crop, candidates=looks.candidates, steps=looks.guess_steps,
                                   seed=seed, encoder=bundle.encoder, callback=guess_progress)
        source_class = guess.class_id
        notes.append(f"source class guessed: {_name(bundle.vocabulary, source_class)} (projection loss "
                     f"{guess.losses[source_class]:.4f} among {len(guess.candidates)} candidates)")
    if target_class is None:
        target_class = source_class
    if method == "scbn" and target_class == source_class:
        if guess is None:
            raise InputError(f"the target class {_name(bundle.vocabulary, target_class)!r} is the photo's own "
                             "class (the source label): an sCBN edit would change nothing; choose another label")
        notes.append(f"warning: the target class {_name(bundle.vocabulary, target_class)!r} is the class guessed "
                     "for the photo, so the edit changes little; if the guess is wrong, give the source label")
    proj = project(gen, bundle.discriminator, crop, source_class, steps=steps, restarts=restarts, seed=seed,
                   encoder=bundle.encoder, callback=progress)
    z = proj.z
    check_model_output(gen, numpy.asarray(proj.image))
    photo_fit = None
    if settings is not None and not _fittable(gen):
        notes.append(f"model {bundle.name!r} ({type(gen).__name__}) cannot be fitted to the photo: projection only")
        settings = None
    projection_psnr, similarity = _projection_fidelity(proj, crop, bundle.discriminator is not None)
    if settings is not None:
        photo_fit = fit_generator(gen, crop, z, source_class, options=settings, callback=fit_progress)
        rec_image, rec_psnr = photo_fit.image, photo_fit.psnr
    else:
        rec_image, rec_psnr = proj.image, projection_psnr
    warning = fit_warning(projection_psnr, similarity, model_name=bundle.name)
    if warning:
        notes.append(warning)
    if method == "blend" and z_target is None:
        z_target = _blend_latent(gen, gen.sample_z(1, seed=seed))
    elif callable(z_target):
        z_target = _blend_latent(gen, z_target(numpy.array(z, dtype=numpy.float32), int(source_class)))
    recipe = make_recipe(bundle, photo, mask, box=box, z=z, z_target=z_target, source_class=source_class,
                         target_class=target_class, layers=layers, method=method, blend_options=blend,
                         edit_options=shape, steps=steps, restarts=restarts, seed=seed, loss=proj.loss,
                         source_guessed=guess is not None, fit=photo_fit, reconstruction_psnr=rec_psnr,
                         projection_psnr=projection_psnr, feature_similarity=similarity)
    image, edited_crop, mask_crop = _apply(
        gen, photo, mask, box, z=z, z_target=z_target, source_class=source_class, target_class=target_class,
        method=method, layers=layers, edit=shape, blend=blend, fit=photo_fit)
    return EditResult(image=image, box=box, crop=crop, reconstruction=_uint8(rec_image),
                      edited_crop=edited_crop, mask_crop=mask_crop, z=z, z_target=z_target,
                      source_class=source_class, target_class=target_class, losses=proj.losses, recipe=recipe,
                      projection=proj, source_guess=guess, notes=notes, reconstruction_psnr=rec_psnr,
                      fit=photo_fit, projection_psnr=projection_psnr, feature_similarity=similarity)


def _projection_fidelity(proj, crop, with_discriminator):
    """``(PSNR of the projection alone, its feature similarity or None without a discriminator)``."""
    target = _model_crop(crop)
    psnr = model_psnr(proj.image[:1], target)
    if not with_discriminator:
        return psnr, None
    return psnr, feature_similarity(proj.sample_losses[0], proj.image[:1], target)


def _fittable(gen):
    from neuralcollage.models.generator import Generator
    return isinstance(gen, Generator)


def _model_crop(crop):
    from neuralcollage.io import to_model
    return to_model(crop[None]).astype(numpy.float32)


def _blend_latent(gen, z_target):
    """``z_target`` as a ``(1, dim_z)`` float32 NumPy latent (see :func:`edit_photo`)."""
    return _host_latents(gen, z_target, name="z_target", count=1, finite=True)


def _name(vocabulary, index):
    try:
        return vocabulary[index]
    except Exception:
        return str(index)


# ----------------------------------------------------------------------------------------------------
# recipes

def _photo_sha256(photo):
    digest = hashlib.sha256(f"{photo.shape[0]}x{photo.shape[1]}x{photo.shape[2]}:".encode())
    digest.update(numpy.ascontiguousarray(photo).tobytes())
    return digest.hexdigest()


def _encode_mask(mask):
    """Exact, compact encoding of a float32 mask: 8-bit PNG, 16-bit PNG or zlib-compressed float32."""
    for encoding, dtype, top in (("png8", numpy.uint8, 255.0), ("png16", numpy.uint16, 65535.0)):
        q = numpy.rint(mask * top).astype(dtype)
        if numpy.array_equal(_dequantise(q, top), mask):
            ok, buf = cv2.imencode(".png", q, [cv2.IMWRITE_PNG_COMPRESSION, 9])
            if ok:
                return encoding, base64.b64encode(buf.tobytes()).decode("ascii")
    data = zlib.compress(numpy.ascontiguousarray(mask, dtype="<f4").tobytes(), 9)
    return "f32-zlib", base64.b64encode(data).decode("ascii")


def _dequantise(q, top):
    return (q / top).astype(numpy.float32)


def _decode_mask(entry):
    """The recipe's mask; its declared size was checked by :func:`check_recipe`, and nothing decodes to more
    than that size (the PNG header is read before decoding, zlib output is capped)."""
    try:
        encoding, height, width = entry["encoding"], entry["height"], entry["width"]
        raw = base64.b64decode(entry["data"], validate=True)
        if encoding in ("png8", "png16"):
            _check_png_header(raw, height, width, 8 if encoding == "png8" else 16)
            q = cv2.imdecode(numpy.frombuffer(raw, numpy.uint8), cv2.IMREAD_UNCHANGED)
            want = numpy.uint8 if encoding == "png8" else numpy.uint16
            if q is None or q.dtype != want or q.shape != (height, width):
                raise ValueError("PNG does not decode to the recorded size and depth")
            mask = _dequantise(q, 255.0 if encoding == "png8" else 65535.0)
        elif encoding == "f32-zlib":
            size = height * width * 4
            inflate = zlib.decompressobj()
            data = inflate.decompress(raw, size + 1)
            if len(data) != size or inflate.unconsumed_tail or not inflate.eof:
                raise ValueError(f"zlib data does not hold exactly {height}x{width} float32 values")
            mask = numpy.frombuffer(data, dtype="<f4").astype(numpy.float32).reshape(height, width)
        else:
            raise ValueError(f"unknown mask encoding {encoding!r}")
    except (KeyError, TypeError, ValueError, zlib.error, cv2.error, struct.error) as exc:
        raise RecipeError(f"recipe mask is unreadable: {exc}") from None
    return as_mask(mask, name="in the recipe")


def _check_png_header(raw, height, width, depth):
    """A PNG's IHDR must declare the recorded size, the bit depth and one grey channel (before decoding)."""
    if len(raw) < 33 or raw[:8] != b"\x89PNG\r\n\x1a\n" or raw[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    w, h, bits, colour = struct.unpack(">IIBB", raw[16:26])
    if (h, w) != (height, width) or bits != depth or colour != 0:
        raise ValueError(f"the PNG declares {w}x{h} pixels of {bits} bits (colour type {colour}), not the "
                         f"recorded {width}x{height} grey pixels of {depth} bits")


def _floats(z):
    return [float(v) for v in numpy.asarray(z, dtype=numpy.float32).reshape(-1)]


def _recipe_model_name(bundle):
    """The name a recipe records: the registered name when the generator is a registered model's file (so that
    the recipe replays without ``--model``; see :func:`check_recipe`), else the bundle's name."""
    files = getattr(bundle, "files", None) or {}
    if files.get("generator"):
        from neuralcollage.pretrained import registered_file
        found = registered_file(files["generator"])
        if found is not None and found[1] == "generator":
            return found[0].name
    return str(bundle.name)


def _generator_sha256(bundle):
    return (getattr(bundle, "sha256", None) or {}).get("generator")


def make_recipe(bundle, photo, mask, *, box, z, source_class, target_class, layers="all", method="scbn",
                z_target=None, blend_options=None, edit_options=None, steps=None, restarts=None, seed=None,
                loss=None, source_guessed=False, fit=None, reconstruction_psnr=None, projection_psnr=None,
                feature_similarity=None, feather=UNSET, blend_mode=UNSET, dilate=UNSET, context=UNSET,
                seam=UNSET, colour_reach=UNSET):
    """A JSON-able description of an edit from which :func:`replay` rebuilds it bit for bit.

    Args:
        bundle: the model (its ``name``, ``sha256`` and ``vocabulary`` are recorded).
        photo: ``(H, W, 3)`` uint8, the photo (only its size and a sha256 of its pixels are stored).
        mask: ``(H, W)`` mask at the photo's resolution (stored exactly: 8-/16-bit PNG when its values are
            multiples of 1/255 or 1/65535, else zlib-compressed float32).
        box: ``(top, left, size)`` crop box.
        z: ``(1, dim_z)`` float32 projected latent (stored as JSON numbers, which round-trip float32).
        z_target: ``(1, dim_z)`` blend latent (``"blend"`` only).
        source_class, target_class: class ids.
        layers, method, blend_options, edit_options: the edit settings (see :func:`edit_photo`; the options
            default as there).  The options are recorded in the ``edit`` entry in their compact JSON form
            (:meth:`neuralcollage.options.Options.to_json`): an option at the value it had before it existed
            (``seam`` ``"fixed"``, ``colour_reach`` classic) is left out, so that older versions replay such
            edits, and a recipe without it replays as before.
        feather, blend_mode, dilate, context, seam, colour_reach: shorthands for the options' fields.
        steps, restarts, seed, loss, source_guessed: how the projection was made (informational).
        fit: the :class:`~neuralcollage.reconstruction.PhotoFit` of a fitted photo (its options are recorded
            and :func:`replay` fits again with them; None: projection only, no ``reconstruction`` entry).
        reconstruction_psnr, projection_psnr, feature_similarity: the reconstruction's PSNR, the projection's
            alone and its feature similarity (informational).

    Returns:
        dict with ``format``, ``version``, ``model``, ``photo``, ``mask``, ``box``, ``edit``, ``z``,
        ``z_target``, ``projection`` and ``reconstruction`` (``method``, ``fit`` options, ``psnr``).
    """
    _check_method(method)
    blend = BlendOptions.build(blend_options, blend_mode=blend_mode, dilate=dilate, seam=seam,
                               colour_reach=colour_reach)
    shape = EditOptions.build(edit_options, feather=feather, context=context)
    gen = bundle.generator
    photo = _check_photo(photo)
    mask = as_mask(mask)
    if mask.shape != photo.shape[:2]:
        raise InputError(f"mask is {mask.shape[1]}x{mask.shape[0]} but the photo is "
                         f"{photo.shape[1]}x{photo.shape[0]} (WxH)")
    if method == "blend" and z_target is None:
        raise ValueError("method 'blend' needs z_target")
    encoding, data = _encode_mask(mask)
    vocabulary = bundle.vocabulary
    from neuralcollage import __version__
    recipe = {
        "format": RECIPE_FORMAT,
        "version": RECIPE_VERSION,
        "package_version": __version__,
        "model": {"name": _recipe_model_name(bundle), "arch": gen.arch, "resolution": gen.resolution,
                  "n_classes": gen.n_classes, "dim_z": gen.dim_z,
                  "generator_sha256": _generator_sha256(bundle),
                  "sha256": dict(getattr(bundle, "sha256", None) or {})},
        "photo": {"height": int(photo.shape[0]), "width": int(photo.shape[1]), "sha256": _photo_sha256(photo)},
        "mask": {"encoding": encoding, "height": int(mask.shape[0]), "width": int(mask.shape[1]), "data": data},
        "box": [int(v) for v in box],
        "edit": {"method": method, "layers": _layers_string(gen, method, layers),
                 **shape.to_json(compact=True), **blend.to_json(compact=True),
                 "source_class": {"id": int(source_class), "name": _name(vocabulary, int(source_class)),
                                  "guessed": bool(source_guessed)},
                 "target_class": {"id": int(target_class), "name": _name(vocabulary, int(target_class))}},
        "z": _floats(z),
        "z_target": None if z_target is None else _floats(z_target),
        "projection": {"steps": steps, "restarts": restarts, "seed": seed,
                       "loss": None if loss is None else float(loss),
                       "encoder": getattr(bundle, "encoder", None) is not None},
    }
    recipe["reconstruction"] = {
        "method": "projection" if fit is None else fit.options.method,
        "fit": None if fit is None else fit.options.to_json(),
        "psnr": None if reconstruction_psnr is None else round(float(reconstruction_psnr), 4),
        "projection_psnr": None if projection_psnr is None else round(float(projection_psnr), 4),
        "feature_similarity": None if feature_similarity is None else round(float(feature_similarity), 4)}
    return recipe


def _latent_from_recipe(values, dim_z, name):
    try:
        z = numpy.asarray(values, dtype=numpy.float64)
    except (TypeError, ValueError, OverflowError):
        raise RecipeError(f"recipe {name} must be a list of numbers") from None
    if z.shape != (dim_z,) or not numpy.isfinite(z).all():
        raise RecipeError(f"recipe {name} must hold {dim_z} finite numbers, got shape {z.shape}")
    return z.astype(numpy.float32)[None]


_SHA256 = re.compile(r"[0-9a-f]{64}")


def _field(container, key, where, types, *, optional=False):
    if not isinstance(container, dict):
        raise RecipeError(f"recipe {where or 'top level'} must be a JSON object")
    if key not in container:
        if optional:
            return None
        raise RecipeError(f"recipe has no {_join(where, key)}")
    value = container[key]
    if optional and value is None:
        return None
    if isinstance(value, bool) and bool not in types or not isinstance(value, types):
        names = " or ".join({dict: "an object", list: "a list", str: "a string", int: "an integer",
                             float: "a number", bool: "true or false"}[t] for t in types)
        raise RecipeError(f"recipe {_join(where, key)} must be {names}, got {_brief(value)}")
    return value


def _join(where, key):
    return f"{where}.{key}" if where else str(key)


def _brief(value):
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _int_field(container, key, where, low, high, *, optional=False):
    value = _field(container, key, where, (int,), optional=optional)
    if value is not None and not low <= value <= high:
        raise RecipeError(f"recipe {_join(where, key)} must be an integer in [{low}, {high}], got {_brief(value)}")
    return value


def _sha256_field(container, key, where):
    value = _field(container, key, where, (str,), optional=True)
    if value is not None and not _SHA256.fullmatch(value.lower()):
        raise RecipeError(f"recipe {_join(where, key)} must be a sha256 (64 hex digits), got {_brief(value)}")
    return None if value is None else value.lower()


def _latent_field(recipe, key, dim_z, *, optional=False):
    values = _field(recipe, key, "", (list,), optional=optional)
    if values is None:
        return None
    if len(values) != dim_z:
        raise RecipeError(f"recipe {key} must hold {dim_z} numbers (the model's dim_z), got {len(values)}")
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise RecipeError(f"recipe {key}[{i}] must be a number, got {_brief(v)}")
        if isinstance(v, int) and abs(v) > 1e6 or isinstance(v, float) and not (math.isfinite(v) and abs(v) <= 1e6):
            raise RecipeError(f"recipe {key}[{i}] must be a finite number in [-1e6, 1e6], got {_brief(v)}")
    return numpy.asarray(values, dtype=numpy.float64).astype(numpy.float32)[None]


def recipe_model(recipe):
    """``(name, generator sha256 or None)`` of the model a recipe names, checked: the name is a string (a
    registered model's name, or a path recorded for information; :func:`check_recipe` does not open it),
    the sha256 64 hex digits.

    Raises:
        RecipeError: a missing or malformed ``model`` entry.
    """
    model = _field(recipe, "model", "", (dict,))
    name = _field(model, "name", "model", (str,))
    if not name.strip() or len(name) > 4096:
        raise RecipeError(f"recipe model.name must be a model's name, got {_brief(name)}")
    sha = _sha256_field(model, "generator_sha256", "model")
    hashes = _field(model, "sha256", "model", (dict,), optional=True) or {}
    for kind in hashes:
        _sha256_field(hashes, kind, "model.sha256")
    if sha is None and hashes.get("generator"):
        sha = hashes["generator"].lower()
    return name, sha


def check_recipe(recipe):
    """Every field of a recipe checked for type and range, before a model is loaded or a mask decoded.

    Returns:
        dict: ``model_name``, ``generator_sha256``, ``resolution``, ``n_classes``, ``dim_z``, ``height``,
        ``width``, ``photo_sha256``, ``box``, ``method``, ``layers``, ``blend`` (:class:`BlendOptions`),
        ``edit`` (:class:`EditOptions`; ``margin`` is the default, the box records the crop), ``source_class``,
        ``target_class``, ``z``, ``z_target`` (None unless ``method == "blend"``) and ``mask`` (the entry,
        still encoded).

    Raises:
        RecipeError: the first problem, in one line naming the field.
    """
    if not isinstance(recipe, dict) or recipe.get("format") != RECIPE_FORMAT:
        raise RecipeError(f"not a {RECIPE_FORMAT} (no 'format': {RECIPE_FORMAT!r} entry)")
    if recipe.get("version") != RECIPE_VERSION or isinstance(recipe.get("version"), bool):
        raise RecipeError(f"recipe format version {_brief(recipe.get('version'))} is not supported (this version "
                          f"reads {RECIPE_VERSION})")
    out = {}
    out["model_name"], out["generator_sha256"] = recipe_model(recipe)
    model = recipe["model"]
    out["resolution"] = _int_field(model, "resolution", "model", 1, 4096)
    out["n_classes"] = _int_field(model, "n_classes", "model", 1, limits.CONFIG_INT_RANGES["n_classes"][1])
    out["dim_z"] = _int_field(model, "dim_z", "model", 1, limits.LATENT_MAX_DIM)
    photo = _field(recipe, "photo", "", (dict,))
    out["height"] = _int_field(photo, "height", "photo", 1, limits.MASK_MAX_PIXELS)
    out["width"] = _int_field(photo, "width", "photo", 1, limits.MASK_MAX_PIXELS)
    if out["height"] * out["width"] > limits.MASK_MAX_PIXELS:
        raise RecipeError(f"recipe photo is {out['width']}x{out['height']}, over the limit of "
                          f"{limits.MASK_MAX_PIXELS} pixels")
    out["photo_sha256"] = _field(photo, "sha256", "photo", (str,), optional=True)
    mask = _field(recipe, "mask", "", (dict,))
    _field(mask, "encoding", "mask", (str,))
    _field(mask, "data", "mask", (str,))
    if (_int_field(mask, "height", "mask", 1, out["height"]), _int_field(mask, "width", "mask", 1, out["width"])) \
            != (out["height"], out["width"]):
        raise RecipeError(f"recipe mask is {mask['width']}x{mask['height']}, not the photo's size")
    out["mask"] = mask
    box = _field(recipe, "box", "", (list,))
    if len(box) != 3 or any(isinstance(v, bool) or not isinstance(v, int) for v in box):
        raise RecipeError(f"recipe box must be three integers (top, left, side), got {_brief(box)}")
    out["box"] = tuple(box)
    edit = _field(recipe, "edit", "", (dict,))
    out["method"] = _field(edit, "method", "edit", (str,))
    out["layers"] = _field(edit, "layers", "edit", (str,))
    for key in ("source_class", "target_class"):
        entry = _field(edit, key, "edit", (dict,))
        out[key] = _int_field(entry, "id", f"edit.{key}", 0, out["n_classes"] - 1)
    try:
        _check_method(out["method"])
        out["edit"] = EditOptions.from_json(edit, legacy=True, where="recipe edit.")
        out["blend"] = BlendOptions.from_json(edit, legacy=True, where="recipe edit.")
    except ValueError as exc:
        raise RecipeError(str(exc) if str(exc).startswith("recipe") else f"recipe edit settings: {exc}") from None
    out["z"] = _latent_field(recipe, "z", out["dim_z"])
    out["z_target"] = _latent_field(recipe, "z_target", out["dim_z"], optional=out["method"] != "blend")
    if out["method"] != "blend":
        out["z_target"] = None
    return out


def replay(recipe, photo, bundle, *, check_photo=True, fit_progress=None):
    """Rebuild an edit from its recipe (no projection; bit-identical to :func:`edit_photo` on the CPU).

    A recipe of a fitted photo (``reconstruction.method`` ``"features"`` or ``"pivotal"``) fits again from the
    recorded latent and options, which repeats the fit bit for bit on the same CPU.

    Args:
        recipe: a dict from :func:`make_recipe` / :func:`load_recipe` (or ``EditResult.recipe``).
        photo: ``(H, W, 3)`` uint8, the same photo (its size must match).
        bundle: the model the recipe was made with (the generator's sha256 is checked when both sides
            know it; only the generator is used).
        check_photo: refuse a photo whose pixels differ from the recipe's (sha256).
        fit_progress: ``fit_progress(step, loss)`` while a fitted recipe fits again.

    Returns:
        :class:`EditResult` (``losses`` empty, ``projection`` None).

    Raises:
        RecipeError: malformed recipe, other format version, another model or photo.
        InputError: bad photo.
    """
    fields = check_recipe(recipe)
    gen = bundle.generator
    photo = _check_photo(photo)
    want = (fields["resolution"], fields["n_classes"], fields["dim_z"])
    size = (fields["height"], fields["width"])
    box, method, layers, blend = fields["box"], fields["method"], fields["layers"], fields["blend"]
    source_class, target_class = fields["source_class"], fields["target_class"]
    have = (gen.resolution, gen.n_classes, gen.dim_z)
    if want != have:
        raise RecipeError(f"recipe was made with a {want[0]} px model with {want[1]} classes and dim_z {want[2]};"
                          f" this model is {have[0]} px with {have[1]} classes and dim_z {have[2]}")
    recorded, loaded = fields["generator_sha256"], _generator_sha256(bundle)
    if recorded and loaded and recorded != loaded:
        raise RecipeError(f"recipe was made with model {fields['model_name'][:80]!r} (generator sha256 "
                          f"{recorded[:12]}...) but the loaded generator has sha256 {loaded[:12]}...")
    _check_class_packs(recipe["model"], bundle)
    if tuple(photo.shape[:2]) != size:
        raise RecipeError(f"photo is {photo.shape[1]}x{photo.shape[0]} but the recipe was made for a "
                          f"{size[1]}x{size[0]} photo (WxH)")
    if check_photo and fields["photo_sha256"] != _photo_sha256(photo):
        raise RecipeError("photo differs from the one the recipe was made for (pixel sha256 mismatch)")
    try:
        layers = _layers_string(gen, method, layers)
    except ValueError as exc:
        raise RecipeError(f"recipe edit settings: {exc}") from None
    mask = _decode_mask(fields["mask"])
    z, z_target = fields["z"], fields["z_target"]
    try:
        blending.blend_region(mask, box, dilate=blend.dilate)
    except ValueError as exc:
        raise RecipeError(f"recipe box or dilation does not fit the photo: {exc}") from None
    settings = _recipe_fit(recipe, gen)
    crop = blending.crop_and_resize(photo, box, gen.resolution)
    photo_fit = None if settings is None else fit_generator(gen, crop, z, source_class, options=settings,
                                                                callback=fit_progress)
    image, edited_crop, mask_crop = _apply(
        gen, photo, mask, box, z=z, z_target=z_target, source_class=source_class, target_class=target_class,
        method=method, layers=layers, edit=fields["edit"], blend=blend, fit=photo_fit)
    rec = render(gen, z, source_class) if photo_fit is None else photo_fit.image
    return EditResult(image=image, box=box, crop=crop, reconstruction=_uint8(rec), edited_crop=edited_crop,
                      mask_crop=mask_crop, z=z, z_target=z_target, source_class=source_class,
                      target_class=target_class, losses=[], recipe=recipe,
                      reconstruction_psnr=model_psnr(rec, _model_crop(crop)), fit=photo_fit)


def _recipe_fit(recipe, gen):
    """The recipe's :class:`FitOptions` (None: projection only; recipes before fitting have no entry)."""
    entry = recipe.get("reconstruction")
    if entry is None:
        return None
    if not isinstance(entry, dict) or entry.get("method") not in RECONSTRUCTIONS:
        raise RecipeError("recipe reconstruction must be an object whose method is one of "
                          f"{', '.join(RECONSTRUCTIONS)}")
    if entry["method"] == "projection":
        return None
    if not _fittable(gen):
        raise RecipeError(f"recipe fits the generator to the photo, which a {type(gen).__name__} cannot do")
    try:
        options = fit_options(entry["method"], FitOptions.from_json(entry.get("fit")))
        options.resolve_layer(gen)
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"recipe fit options: {exc}") from None
    return options


def _check_class_packs(model, bundle):
    """The class packs a recipe recorded (``sha256["class:<name>"]``) must be the ones loaded, in that order."""
    recorded = model.get("sha256") if isinstance(model.get("sha256"), dict) else {}
    want = [(k, v) for k, v in recorded.items() if str(k).startswith("class:")]
    have = [(k, v) for k, v in (getattr(bundle, "sha256", None) or {}).items() if str(k).startswith("class:")]
    if want != have:
        def words(packs):
            return ", ".join(f"{k[6:]} ({str(v)[:12]}...)" for k, v in packs) or "none"
        raise RecipeError(f"recipe was made with class packs {words(want)} but the model has {words(have)} "
                          f"loaded")


def save_recipe(path, recipe, *, overwrite_protect=()):
    """Write a recipe as JSON, atomically (``overwrite_protect``: input paths it must not replace)."""
    atomic_write_text(path, json.dumps(recipe, indent=1, allow_nan=False) + "\n",
                      overwrite_protect=overwrite_protect)


def load_recipe(path):
    """Read a recipe written by :func:`save_recipe`: a regular file of at most
    :data:`neuralcollage.limits.RECIPE_MAX_BYTES` bytes, nested at most
    :data:`neuralcollage.limits.RECIPE_MAX_DEPTH` deep (its fields are checked by :func:`check_recipe`).

    Raises:
        RecipeError: unreadable file, a FIFO or device, too large, not JSON, or not a recipe.
    """
    try:
        recipe = read_json_limited(path, limit=limits.RECIPE_MAX_BYTES, what="recipe",
                                   max_depth=limits.RECIPE_MAX_DEPTH)
    except RecipeError:
        raise
    except InputError as exc:
        raise RecipeError(str(exc)) from None
    if not isinstance(recipe, dict) or recipe.get("format") != RECIPE_FORMAT:
        raise RecipeError(f"{path} is not a {RECIPE_FORMAT} file")
    return recipe

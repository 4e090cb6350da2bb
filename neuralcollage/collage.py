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
import zlib

import chainer
import cv2
import numpy

from neuralcollage import backend, blending, maps
from neuralcollage.inversion import describe_loss, guess_source_class, project
from neuralcollage.io import InputError, as_mask, atomic_write_text, fit_mask, from_model

__all__ = ["METHODS", "RECIPE_FORMAT", "RECIPE_VERSION", "DEFAULT_CONTEXT", "DEFAULT_COLOUR_REACH", "EditResult", "RecipeError",
           "render", "edit_class_maps", "scbn_edit", "blend_edit", "class_region", "edit_photo", "make_recipe",
           "replay", "save_recipe", "load_recipe"]

METHODS = ("scbn", "blend")
RECIPE_FORMAT = "neuralcollage-recipe"
RECIPE_VERSION = 1
#: :func:`edit_photo`'s default ``context``, chosen by ``scripts/sweep_part_translation.py`` on the built-in
#: model (part translation 56% at 0, 73% at 0.15 with Poisson blending; README, "The built-in model").
DEFAULT_CONTEXT = 0.15
# How far, in photo pixels, Poisson's colour correction reaches into the mask by default
# (:func:`neuralcollage.blending.screened_poisson`): the edit keeps its own colours deeper in.  Chosen by
# scripts/sweep_part_translation.py --colour-reaches on the evaluation's faces (README, "The built-in model").
DEFAULT_COLOUR_REACH = 4.0


class RecipeError(InputError):
    """A recipe that cannot be replayed here: malformed, another format version, another model or photo."""


@dataclasses.dataclass
class EditResult:
    """What :func:`edit_photo` and :func:`replay` return.

    Attributes:
        image: ``(H, W, 3)`` uint8, the edited photo (outside the blend region identical to the input).
        box: ``(top, left, size)`` of the square crop on the photo.
        crop: ``(R, R, 3)`` uint8, the crop resized to the generator's resolution ``R``.
        reconstruction: ``(R, R, 3)`` uint8, ``G(z, source_class)``.
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
        notes: one-line remarks (a resized mask, a guessed class).
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
    return backend.to_numpy(out.array)


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


def _check_options(method, blend_mode, seam="fixed", colour_reach=None):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if blend_mode not in blending.BLEND_MODES:
        raise ValueError(f"blend_mode must be one of {blending.BLEND_MODES}, got {blend_mode!r}")
    blending.check_seam(seam, blend_mode)
    blending.check_colour_reach(colour_reach)


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
    context = float(context)
    if not 0.0 <= context <= 1.0:
        raise ValueError(f"context must be a fraction of the generator's resolution in [0, 1], got {context}")
    return context


def _apply(gen, photo, mask, box, *, z, z_target, source_class, target_class, method, layers, feather,
           blend_mode, dilate, context=0.0, seam="fixed", colour_reach=None):
    """Render the edit of ``z`` and blend it into ``photo``: (image, edited_crop, mask_crop)."""
    mask_crop = _crop_mask(gen, mask, box)
    class_mask = class_region(gen, mask_crop, context)
    if method == "scbn":
        edited = scbn_edit(gen, z, source_class, target_class, class_mask, layers=layers, feather=feather)
    else:
        conds = edit_class_maps(gen, source_class, target_class, class_mask, layers="all", feather=feather)
        edited = blend_edit(gen, z, z_target, conds, mask_crop, layers=layers, feather=feather)
    edited_crop = _uint8(edited)
    image = blending.poisson_blend(photo, edited_crop, mask, box, mode=blend_mode, dilate=dilate, seam=seam,
                                   colour_reach=colour_reach)
    return image, edited_crop, mask_crop


def edit_photo(bundle, photo, mask, target_label, *, source_label=None, layers="all", method="scbn",
               z_target=None, steps=200, restarts=1, seed=0, blend_mode="normal", feather=0.0, dilate=8,
               context=DEFAULT_CONTEXT, margin=0.25, box=None, candidates=3, guess_steps=30, progress=None,
               guess_progress=None, seam="fixed", colour_reach=DEFAULT_COLOUR_REACH):
    """Turn the masked region of a photo into ``target_label``.

    Crop a square around the mask (:func:`neuralcollage.blending.square_crop_box` with ``margin``, at least
    the generator's resolution ``R``; or the given ``box``), resize it to ``R``, project it
    (:func:`neuralcollage.project`, encoder initialisation when the bundle has an encoder), edit the latent,
    and Poisson-blend the edit back at full resolution.

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
            ``gen.sample_z(1, seed=seed)``; an array ``(1, dim_z)`` (or ``(dim_z,)``) is used as it is; a
            callable ``z_target(z, source_class) -> (1, dim_z)`` gets the projected latent ``z`` (float32 NumPy
            ``(1, dim_z)``) and the source class id (e.g. ``z`` moved along an attribute axis,
            :func:`neuralcollage.axes.attribute_edit_photo`).  The recipe records the latent used.
        steps, restarts, seed: projection settings (:func:`neuralcollage.project`); ``seed`` also draws the
            default blend latent.
        blend_mode: ``"normal"``, ``"mixed"`` or ``"none"`` (:func:`neuralcollage.blending.poisson_blend`).
        feather: Gaussian sigma (pixels at resolution ``R``) softening the mask in the class/blend maps.
        dilate: pixels the mask is grown by for Poisson blending.
        seam: ``"fixed"`` (Poisson boundary on the dilated mask's border) or ``"optimal"`` (the cheapest seam
            between the mask and that border, where the edit matches the photo;
            :func:`neuralcollage.blending.seam_region`).  Poisson blend modes only.
        colour_reach: how far, in photo pixels, Poisson's colour correction reaches into the mask
            (:func:`neuralcollage.blending.screened_poisson`; ``"normal"`` blending only); the edit keeps its
            own colours deeper inside while the border stays seamless.  None or ``math.inf``: throughout
            (classic Poisson editing, ``cv2.seamlessClone``).  Ignored by the other blend modes.
        context: how far the target class reaches beyond the mask in the generator's class maps, as a
            fraction of its resolution ``R`` (:func:`class_region`; 0: the mask itself, as in the paper).
            The generator then draws the target's part with room around it (a rabbit's ears are longer
            than a cat's); only the mask, dilated by ``dilate``, reaches the photo.
        margin: context around the mask in the crop, as a fraction of the mask's longer side.
        box: ``(top, left, size)`` of the square crop on the photo instead of the one around the mask, e.g.
            the whole object when the model was trained on whole objects (``size`` >= 1, inside the photo,
            and it must contain part of the mask).
        progress: ``progress(step, loss, restart)`` during the projection.
        guess_progress: ``guess_progress(class_id, step, loss)`` while guessing the source class.

    Returns:
        :class:`EditResult`.

    Raises:
        InputError: bad photo or mask (empty, wrong aspect ratio), a class the generator lacks.
        UnknownLabelError: a label the vocabulary does not know (the message suggests names).
        InputError: no ``source_label`` and the bundle has no discriminator (nothing to guess it with).
        ValueError: bad options, a ``z_target`` with ``method="scbn"`` or of the wrong shape.
    """
    _check_options(method, blend_mode, seam, colour_reach)
    _check_context(context)
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
        box = blending.square_crop_box(mask, image_size=photo.shape[:2], margin=margin, min_size=gen.resolution)
    else:
        box = _user_box(box, mask)
    crop = blending.crop_and_resize(photo, box, gen.resolution)

    guess = None
    if source_class is None:
        guess = guess_source_class(gen, bundle.discriminator, crop, candidates=candidates, steps=guess_steps,
                                   seed=seed, encoder=bundle.encoder, callback=guess_progress)
        source_class = guess.class_id
        notes.append(f"source class guessed: {_name(bundle.vocabulary, source_class)} (projection loss "
                     f"{guess.losses[source_class]:.4f} among {len(guess.candidates)} candidates)")
    if target_class is None:
        target_class = source_class
    proj = project(gen, bundle.discriminator, crop, source_class, steps=steps, restarts=restarts, seed=seed,
                   encoder=bundle.encoder, callback=progress)
    z = proj.z
    if method == "blend" and z_target is None:
        z_target = _blend_latent(gen, gen.sample_z(1, seed=seed))
    elif callable(z_target):
        z_target = _blend_latent(gen, z_target(numpy.array(z, dtype=numpy.float32), int(source_class)))
    recipe = make_recipe(bundle, photo, mask, box=box, z=z, z_target=z_target, source_class=source_class,
                         target_class=target_class, layers=layers, method=method, feather=feather,
                         blend_mode=blend_mode, dilate=dilate, context=context, steps=steps, restarts=restarts,
                         seed=seed, loss=proj.loss, source_guessed=guess is not None, seam=seam,
                         colour_reach=colour_reach)
    image, edited_crop, mask_crop = _apply(
        gen, photo, mask, box, z=z, z_target=z_target, source_class=source_class, target_class=target_class,
        method=method, layers=layers, feather=feather, blend_mode=blend_mode, dilate=dilate, context=context,
        seam=seam, colour_reach=colour_reach)
    return EditResult(image=image, box=box, crop=crop, reconstruction=_uint8(proj.image),
                      edited_crop=edited_crop, mask_crop=mask_crop, z=z, z_target=z_target,
                      source_class=source_class, target_class=target_class, losses=proj.losses, recipe=recipe,
                      projection=proj, source_guess=guess, notes=notes)


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
    try:
        encoding, height, width = entry["encoding"], int(entry["height"]), int(entry["width"])
        raw = base64.b64decode(entry["data"], validate=True)
        if encoding in ("png8", "png16"):
            q = cv2.imdecode(numpy.frombuffer(raw, numpy.uint8), cv2.IMREAD_UNCHANGED)
            want = numpy.uint8 if encoding == "png8" else numpy.uint16
            if q is None or q.dtype != want or q.shape != (height, width):
                raise ValueError("PNG does not decode to the recorded size and depth")
            mask = _dequantise(q, 255.0 if encoding == "png8" else 65535.0)
        elif encoding == "f32-zlib":
            mask = numpy.frombuffer(zlib.decompress(raw), dtype="<f4").astype(numpy.float32)
            mask = mask.reshape(height, width)
        else:
            raise ValueError(f"unknown mask encoding {encoding!r}")
    except (KeyError, TypeError, ValueError, zlib.error, cv2.error) as exc:
        raise RecipeError(f"recipe mask is unreadable: {exc}") from None
    return as_mask(mask, name="in the recipe")


def _floats(z):
    return [float(v) for v in numpy.asarray(z, dtype=numpy.float32).reshape(-1)]


def _generator_sha256(bundle):
    return (getattr(bundle, "sha256", None) or {}).get("generator")


def make_recipe(bundle, photo, mask, *, box, z, source_class, target_class, layers="all", method="scbn",
                feather=0.0, blend_mode="normal", dilate=8, context=0.0, z_target=None, steps=None,
                restarts=None, seed=None, loss=None, source_guessed=False, seam="fixed", colour_reach=None):
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
        layers, method, feather, blend_mode, dilate, context, seam, colour_reach: the edit settings (see
            :func:`edit_photo`; ``seam`` is recorded only when it is not ``"fixed"`` and ``colour_reach`` only
            when it is finite, so that older versions replay classic edits; a recipe without it replays
            classic Poisson blending).
        steps, restarts, seed, loss, source_guessed: how the projection was made (informational).

    Returns:
        dict with ``format``, ``version``, ``model``, ``photo``, ``mask``, ``box``, ``edit``, ``z``,
        ``z_target``, ``projection``.
    """
    _check_options(method, blend_mode, seam, colour_reach)
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
        "model": {"name": str(bundle.name), "arch": gen.arch, "resolution": gen.resolution,
                  "n_classes": gen.n_classes, "dim_z": gen.dim_z,
                  "generator_sha256": _generator_sha256(bundle),
                  "sha256": dict(getattr(bundle, "sha256", None) or {})},
        "photo": {"height": int(photo.shape[0]), "width": int(photo.shape[1]), "sha256": _photo_sha256(photo)},
        "mask": {"encoding": encoding, "height": int(mask.shape[0]), "width": int(mask.shape[1]), "data": data},
        "box": [int(v) for v in box],
        "edit": {"method": method, "layers": _layers_string(gen, method, layers), "feather": float(feather),
                 "blend_mode": blend_mode, "dilate": int(dilate), "context": _check_context(context),
                 "source_class": {"id": int(source_class), "name": _name(vocabulary, int(source_class)),
                                  "guessed": bool(source_guessed)},
                 "target_class": {"id": int(target_class), "name": _name(vocabulary, int(target_class))}},
        "z": _floats(z),
        "z_target": None if z_target is None else _floats(z_target),
        "projection": {"steps": steps, "restarts": restarts, "seed": seed,
                       "loss": None if loss is None else float(loss),
                       "encoder": getattr(bundle, "encoder", None) is not None},
    }
    if seam != "fixed":
        recipe["edit"]["seam"] = seam
    if blend_mode == "normal" and not blending.classic_reach(colour_reach):
        recipe["edit"]["colour_reach"] = float(colour_reach)
    return recipe


def _latent_from_recipe(values, dim_z, name):
    try:
        z = numpy.asarray(values, dtype=numpy.float64)
    except (TypeError, ValueError):
        raise RecipeError(f"recipe {name} must be a list of numbers") from None
    if z.shape != (dim_z,) or not numpy.isfinite(z).all():
        raise RecipeError(f"recipe {name} must hold {dim_z} finite numbers, got shape {z.shape}")
    return z.astype(numpy.float32)[None]


def replay(recipe, photo, bundle, *, check_photo=True):
    """Rebuild an edit from its recipe (no projection; bit-identical to :func:`edit_photo` on the CPU).

    Args:
        recipe: a dict from :func:`make_recipe` / :func:`load_recipe` (or ``EditResult.recipe``).
        photo: ``(H, W, 3)`` uint8, the same photo (its size must match).
        bundle: the model the recipe was made with (the generator's sha256 is checked when both sides
            know it; only the generator is used).
        check_photo: refuse a photo whose pixels differ from the recipe's (sha256).

    Returns:
        :class:`EditResult` (``losses`` empty, ``projection`` None).

    Raises:
        RecipeError: malformed recipe, other format version, another model or photo.
        InputError: bad photo.
    """
    if not isinstance(recipe, dict) or recipe.get("format") != RECIPE_FORMAT:
        raise RecipeError(f"not a {RECIPE_FORMAT} (no 'format': {RECIPE_FORMAT!r} entry)")
    if recipe.get("version") != RECIPE_VERSION:
        raise RecipeError(f"recipe format version {recipe.get('version')!r} is not supported (this version "
                          f"reads {RECIPE_VERSION})")
    gen = bundle.generator
    photo = _check_photo(photo)
    try:
        model, info, edit = recipe["model"], recipe["photo"], recipe["edit"]
        want = (int(model["resolution"]), int(model["n_classes"]), int(model["dim_z"]))
        size = (int(info["height"]), int(info["width"]))
        box = tuple(int(v) for v in recipe["box"])
        method, layers, blend_mode = edit["method"], edit["layers"], edit["blend_mode"]
        feather, dilate = float(edit["feather"]), int(edit["dilate"])
        context = float(edit.get("context", 0.0))
        seam, colour_reach = edit.get("seam", "fixed"), edit.get("colour_reach")
        source_class, target_class = int(edit["source_class"]["id"]), int(edit["target_class"]["id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RecipeError(f"recipe is incomplete or malformed: {type(exc).__name__} {exc}") from None
    have = (gen.resolution, gen.n_classes, gen.dim_z)
    if want != have:
        raise RecipeError(f"recipe was made with a {want[0]} px model with {want[1]} classes and dim_z {want[2]};"
                          f" this model is {have[0]} px with {have[1]} classes and dim_z {have[2]}")
    recorded, loaded = model.get("generator_sha256"), _generator_sha256(bundle)
    if recorded and loaded and recorded != loaded:
        raise RecipeError(f"recipe was made with model {model.get('name')!r} (generator sha256 "
                          f"{recorded[:12]}...) but the loaded generator has sha256 {loaded[:12]}...")
    _check_class_packs(model, bundle)
    if tuple(photo.shape[:2]) != size:
        raise RecipeError(f"photo is {photo.shape[1]}x{photo.shape[0]} but the recipe was made for a "
                          f"{size[1]}x{size[0]} photo (WxH)")
    if check_photo and info.get("sha256") != _photo_sha256(photo):
        raise RecipeError("photo differs from the one the recipe was made for (pixel sha256 mismatch)")
    try:
        _check_options(method, blend_mode, seam, colour_reach)
        _check_context(context)
        layers = _layers_string(gen, method, layers)
    except ValueError as exc:
        raise RecipeError(f"recipe edit settings: {exc}") from None
    for c in (source_class, target_class):
        if not 0 <= c < gen.n_classes:
            raise RecipeError(f"recipe class {c} is out of range for {gen.n_classes} classes")
    mask = _decode_mask(recipe["mask"])
    if mask.shape != size:
        raise RecipeError(f"recipe mask is {mask.shape[1]}x{mask.shape[0]}, not the photo's size")
    z = _latent_from_recipe(recipe.get("z"), gen.dim_z, "z")
    z_target = None
    if method == "blend":
        z_target = _latent_from_recipe(recipe.get("z_target"), gen.dim_z, "z_target")
    try:
        blending.blend_region(mask, box, dilate=dilate)
    except ValueError as exc:
        raise RecipeError(f"recipe box or dilation does not fit the photo: {exc}") from None
    image, edited_crop, mask_crop = _apply(
        gen, photo, mask, box, z=z, z_target=z_target, source_class=source_class, target_class=target_class,
        method=method, layers=layers, feather=feather, blend_mode=blend_mode, dilate=dilate, context=context,
        seam=seam, colour_reach=colour_reach)
    crop = blending.crop_and_resize(photo, box, gen.resolution)
    reconstruction = _uint8(render(gen, z, source_class))
    return EditResult(image=image, box=box, crop=crop, reconstruction=reconstruction, edited_crop=edited_crop,
                      mask_crop=mask_crop, z=z, z_target=z_target, source_class=source_class,
                      target_class=target_class, losses=[], recipe=recipe)


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
    """Read a recipe written by :func:`save_recipe`.

    Raises:
        RecipeError: unreadable file, not JSON, or not a recipe.
    """
    try:
        with open(path, encoding="utf-8") as f:
            recipe = json.load(f)
    except OSError as exc:
        raise RecipeError(f"cannot read recipe {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise RecipeError(f"recipe {path} is not valid JSON: {exc}") from None
    if not isinstance(recipe, dict) or recipe.get("format") != RECIPE_FORMAT:
        raise RecipeError(f"{path} is not a {RECIPE_FORMAT} file")
    return recipe

"""The real-photo pipeline: :func:`edit_photo` (crop, project, fit, edit, blend back) and :func:`replay` (the
same edit rebuilt from its recipe, bit for bit on the CPU, without projecting again).

Photos are ``(H, W, 3)`` uint8 RGB; masks ``(H, W)`` at the photo's resolution, float32 in ``[0, 1]``; the crop
is resized to the generator's resolution ``R``.  Every pixel outside
:func:`neuralcollage.blending.blend_region` is bit-identical to the photo (DESIGN.md §1).
"""
import dataclasses
import math

import numpy

from neuralcollage import blending
from neuralcollage.classes.model import closeup_class
from neuralcollage.collage.edits import (blend_edit, check_model_output, edit_class_maps, host_latents, model_mask,
                                         render, scbn_edit)
from neuralcollage.collage.inputs import as_photo, check_method, class_id, class_name, layers_string
from neuralcollage.collage.recipes import (RecipeError, check_class_packs, check_recipe, decode_mask,
                                           generator_sha256, make_recipe, photo_sha256)
from neuralcollage.inversion import describe_loss, guess_source_class, project
from neuralcollage.io import InputError, fit_mask, from_model
from neuralcollage.options import UNSET, BlendOptions, EditOptions, ProjectionOptions
from neuralcollage.reconstruction import (DEFAULT_RECONSTRUCTION, RECONSTRUCTIONS, FitOptions, edit_generator,
                                          feature_similarity, fit_generator, fit_options, fit_warning,
                                          model_psnr, photo_score, projection_steps)

__all__ = ["EditResult", "class_region", "edit_photo", "replay"]


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
        recipe: the JSON-able recipe (:func:`~neuralcollage.collage.make_recipe`).
        projection: the :class:`~neuralcollage.inversion.ProjectionResult` (None for a replay).
        source_guess: the :class:`~neuralcollage.inversion.SourceClassGuess` when the source class was
            guessed, else None.
        notes: one-line remarks (a resized mask, a guessed class, a poor fit).
        fit: the :class:`~neuralcollage.reconstruction.PhotoFit` when the photo was fitted, else None.
        projection_psnr, feature_similarity: how close the projection alone came (PSNR in dB; cosine of the
            discriminator's features, None without one): what the model can draw of the photo, the basis of
            the "far from what the model can draw" warning (None for a replay).
        whole_photo_score: when the crop is a part of the photo, the discriminator's score of the whole photo
            (:func:`~neuralcollage.reconstruction.photo_score`), which then decides that warning instead; else
            None (and None for a replay).
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
    whole_photo_score: float = None



def _user_box(box, mask):
    top, left, size = blending.check_box(box, mask.shape)
    if not numpy.any(mask[top:top + size, left:left + size] > 0):
        raise InputError(f"crop box (top={top}, left={left}, size={size}) contains none of the mask")
    return top, left, size


def _crop_mask(gen, mask, box):
    top, left, side = box
    return model_mask(gen, mask[top:top + side, left:left + side])


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
               margin=UNSET, closeup_variant=UNSET):
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
            reaches the photo), ``feather`` (the class/blend maps' edge) and ``closeup_variant`` (``"auto"``:
            when the crop is a part of the photo, a target class with a close-up variant, a class pack's, is
            drawn with it; the recipe and ``EditResult.target_class`` name the class used; ``"off"``).
        projection_options: :class:`neuralcollage.options.ProjectionOptions` (None: the defaults): ``steps``
            (None: the reconstruction's default, :data:`neuralcollage.reconstruction.PROJECTION_STEPS`, 50
            before a fit and 200 for the projection alone), ``restarts``, ``seed`` (which also draws the
            default blend latent), ``candidates`` and ``guess_steps`` (guessing the source class).
        steps, restarts, seed, candidates, guess_steps, blend_mode, dilate, seam, colour_reach, feather,
            context, margin, closeup_variant: shorthands for the fields of the three options objects of these
            names (a given keyword replaces that field).
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
        :class:`EditResult`; ``notes`` carries a warning when the projection alone is below
        :data:`neuralcollage.reconstruction.WARN_PROJECTION_PSNR` or the features' similarity below
        :data:`~neuralcollage.reconstruction.WARN_FEATURE_SIMILARITY` (:func:`_projection_fidelity`), or, when
        the crop is a part of the photo, when the discriminator scores the whole photo below
        :data:`~neuralcollage.reconstruction.WARN_PHOTO_SCORE` (:func:`~neuralcollage.reconstruction.photo_score`).

    Raises:
        InputError: bad photo or mask (empty, wrong aspect ratio), a class the generator lacks.
        UnknownLabelError: a label the vocabulary does not know (the message suggests names).
        InputError: no ``source_label`` and the bundle has no discriminator (nothing to guess it with).
        ValueError: bad options, a ``z_target`` with ``method="scbn"`` or of the wrong shape.
    """
    check_method(method)
    blend = BlendOptions.build(blend_options, blend_mode=blend_mode, dilate=dilate, seam=seam,
                               colour_reach=colour_reach)
    shape = EditOptions.build(edit_options, feather=feather, context=context, margin=margin,
                              closeup_variant=closeup_variant)
    looks = ProjectionOptions.build(projection_options, steps=steps, restarts=restarts, seed=seed,
                                    candidates=candidates, guess_steps=guess_steps)
    settings = fit_options(reconstruction, fit)
    steps, restarts, seed = projection_steps(reconstruction, looks.steps), looks.restarts, looks.seed
    if method != "blend" and z_target is not None:
        raise ValueError(f"z_target applies to method 'blend' only, not {method!r}")
    gen = bundle.generator
    photo = as_photo(photo)
    mask, note = fit_mask(mask, photo.shape[:2])
    notes = [note] if note else []
    target_class = None if target_label is None else class_id(bundle.vocabulary, gen, target_label,
                                                                "target label")
    source_class = None if source_label is None else class_id(bundle.vocabulary, gen, source_label,
                                                                "source label")
    layers = layers_string(gen, method, layers)
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
        notes.append(f"source class guessed: {class_name(bundle.vocabulary, source_class)} (projection loss "
                     f"{guess.losses[source_class]:.4f} among {len(guess.candidates)} candidates)")
    if target_class is None:
        target_class = source_class
    if method == "scbn" and target_class == source_class:
        if guess is None:
            raise InputError(f"the target class {class_name(bundle.vocabulary, target_class)!r} is the photo's own "
                             "class (the source label): an sCBN edit would change nothing; choose another label")
        notes.append(f"warning: the target class {class_name(bundle.vocabulary, target_class)!r} is the class guessed "
                     "for the photo, so the edit changes little; if the guess is wrong, give the source label")
    variant = closeup_class(bundle, target_class)
    if variant is not None and shape.closeup_variant == "auto" and box[2] < min(photo.shape[:2]):
        notes.append(f"the crop is a part of the photo: {class_name(bundle.vocabulary, target_class)} drawn with its "
                     f"close-up variant {class_name(bundle.vocabulary, variant)!r}")
        target_class = variant
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
    whole_score = None
    if bundle.discriminator is not None and box[2] < min(photo.shape[:2]):
        whole_score = photo_score(bundle.discriminator, photo, source_class, resolution=gen.resolution)
    warning = fit_warning(projection_psnr, similarity, model_name=bundle.name, whole_photo_score=whole_score)
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
                      fit=photo_fit, projection_psnr=projection_psnr, feature_similarity=similarity,
                      whole_photo_score=whole_score)


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
    return host_latents(gen, z_target, name="z_target", count=1, finite=True)


def replay(recipe, photo, bundle, *, check_photo=True, fit_progress=None):
    """Rebuild an edit from its recipe (no projection; bit-identical to :func:`edit_photo` on the CPU).

    A recipe of a fitted photo (``reconstruction.method`` ``"features"`` or ``"pivotal"``) fits again from the
    recorded latent and options, which repeats the fit bit for bit on the same CPU.

    Args:
        recipe: a dict from :func:`~neuralcollage.collage.make_recipe` /
            :func:`~neuralcollage.collage.load_recipe` (or ``EditResult.recipe``).
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
    photo = as_photo(photo)
    want = (fields["resolution"], fields["n_classes"], fields["dim_z"])
    size = (fields["height"], fields["width"])
    box, method, layers, blend = fields["box"], fields["method"], fields["layers"], fields["blend"]
    source_class, target_class = fields["source_class"], fields["target_class"]
    have = (gen.resolution, gen.n_classes, gen.dim_z)
    if want != have:
        hint = ""
        try:
            check_class_packs(recipe["model"], bundle)
        except RecipeError as exc:
            hint = f" ({exc}; load them with --model BASE+PACK.npz)"
        raise RecipeError(f"recipe was made with a {want[0]} px model with {want[1]} classes and dim_z {want[2]};"
                          f" this model is {have[0]} px with {have[1]} classes and dim_z {have[2]}{hint}")
    recorded, loaded = fields["generator_sha256"], generator_sha256(bundle)
    if recorded and loaded and recorded != loaded:
        raise RecipeError(f"recipe was made with model {fields['model_name'][:80]!r} (generator sha256 "
                          f"{recorded[:12]}...) but the loaded generator has sha256 {loaded[:12]}...")
    check_class_packs(recipe["model"], bundle)
    if tuple(photo.shape[:2]) != size:
        raise RecipeError(f"photo is {photo.shape[1]}x{photo.shape[0]} but the recipe was made for a "
                          f"{size[1]}x{size[0]} photo (WxH)")
    if check_photo and fields["photo_sha256"] != photo_sha256(photo):
        raise RecipeError("photo differs from the one the recipe was made for (pixel sha256 mismatch)")
    try:
        layers = layers_string(gen, method, layers)
    except ValueError as exc:
        raise RecipeError(f"recipe edit settings: {exc}") from None
    mask = decode_mask(fields["mask"])
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

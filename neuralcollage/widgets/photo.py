"""A real photo being painted: its crop, projection and generator fit (:func:`open_photo`), and how the painted
crop goes back into the photo (:class:`PhotoContext`).  No widgets here.
"""
import collections
import warnings

import numpy

from neuralcollage import blending
from neuralcollage.io import to_model
from neuralcollage.options import UNSET, BlendOptions
from neuralcollage.reconstruction import DEFAULT_RECONSTRUCTION

__all__ = ["PhotoContext", "OpenedPhoto", "open_photo"]


class PhotoContext:
    """A real photo being edited through its projection.

    Attributes
    ----------
    photo : numpy.ndarray (H, W, 3) uint8
    box : (top, left, side)
        Crop of the photo given to the generator.
    crop : numpy.ndarray (R, R, 3) uint8
    source_class : int
    projection : ProjectionResult or None
        What :func:`neuralcollage.inversion.project` returned.
    blend_options : BlendOptions
        How the painted crop is blended back (:func:`neuralcollage.blending.blend_back`); given to the
        constructor as ``blend_options`` and/or its shorthands ``blend_mode``, ``dilate``, ``seam``,
        ``colour_reach`` (``poisson``: a deprecated spelling of ``blend_mode``).
    blend_mode, dilate, seam, colour_reach
        Its fields (read-only).
    """

    def __init__(self, photo, box, crop, source_class, projection=None, *, blend_options=None,
                 projection_options=None, fit=None, reconstruction_psnr=None, blend_mode=UNSET, dilate=UNSET,
                 seam=UNSET, colour_reach=UNSET, poisson=UNSET):
        blend_mode = _deprecated_poisson(poisson, blend_mode)
        self.blend_options = BlendOptions.build(blend_options, blend_mode=blend_mode, dilate=dilate, seam=seam,
                                                colour_reach=colour_reach)
        self.photo, self.box, self.crop = photo, tuple(int(v) for v in box), crop
        self.source_class, self.projection = int(source_class), projection
        self.projection_options = dict(projection_options or {})
        self.fit, self.reconstruction_psnr = fit, reconstruction_psnr

    blend_mode = property(lambda self: self.blend_options.blend_mode)
    dilate = property(lambda self: self.blend_options.dilate)
    seam = property(lambda self: self.blend_options.seam)
    colour_reach = property(lambda self: self.blend_options.colour_reach)
    poisson = property(lambda self: self.blend_options.blend_mode, doc="Deprecated: :attr:`blend_mode`.")

    def __repr__(self):
        return (f"PhotoContext(photo={self.photo.shape[1]}x{self.photo.shape[0]}, box={self.box}, "
                f"source_class={self.source_class})")

    def recipe_info(self):
        """What a painting recipe records of the photo (JSON-able dict)."""
        blend = self.blend_options.to_json(compact=True)
        info = {"box": list(self.box), "source_class": self.source_class, "poisson": blend.pop("blend_mode"),
                **blend, "photo_size": [int(self.photo.shape[0]), int(self.photo.shape[1])],
                "projection": dict(self.projection_options)}
        if self.projection is not None:
            info["projection"]["loss"] = float(self.projection.loss)
        info["reconstruction"] = {
            "method": "projection" if self.fit is None else self.fit.options.method,
            "fit": None if self.fit is None else self.fit.options.to_json(),
            "psnr": None if self.reconstruction_psnr is None else round(float(self.reconstruction_psnr), 4)}
        return info

    def composite(self, edited_crop, crop_mask, *, blend_options=None, blend_mode=UNSET, dilate=UNSET,
                  seam=UNSET, colour_reach=UNSET, mode=UNSET):
        """``edited_crop`` (R, R, 3) uint8 Poisson-blended into the full-resolution photo where ``crop_mask``
        (R, R) float32 in [0, 1] is painted: ``(H, W, 3)`` uint8 (a copy of the photo when nothing is painted).

        ``blend_options`` (default: this photo's :attr:`blend_options`) and its shorthands ``blend_mode``,
        ``dilate``, ``seam``, ``colour_reach`` override this photo's settings (with ``blend_mode="none"`` the
        seam becomes ``"fixed"``; ``mode``: a deprecated spelling of ``blend_mode``)."""
        blend_mode = _deprecated_poisson(mode, blend_mode, "mode")
        base = self.blend_options if blend_options is None else blend_options
        if blend_mode == "none" and seam is UNSET:
            seam = "fixed"
        options = BlendOptions.build(base, blend_mode=blend_mode, dilate=dilate, seam=seam,
                                     colour_reach=colour_reach)
        if not (crop_mask > 0).any():
            return numpy.array(self.photo, copy=True)
        return blending.blend_back(self.photo, edited_crop, self.photo_mask(crop_mask), self.box, options)

    def photo_mask(self, crop_mask):
        """``crop_mask`` (R, R) float32 resized into the photo's crop box: ``(H, W)`` float32 in [0, 1]."""
        top, left, side = self.box
        full = numpy.zeros(self.photo.shape[:2], numpy.float32)
        full[top:top + side, left:left + side] = numpy.clip(blending.resize_to_box(crop_mask, self.box), 0.0, 1.0)
        return full

    def collage_recipe(self, bundle, crop_mask, *, z, target_class, layers):
        """A painted single-class sCBN edit of this photo as a :func:`neuralcollage.collage.make_recipe` recipe
        (``crop_mask`` (R, R) where it was painted, ``z`` (1, dim_z) its latent, ``layers`` the class layers)."""
        from neuralcollage import collage
        options = self.projection_options
        return collage.make_recipe(
            bundle, self.photo, self.photo_mask(crop_mask), box=self.box, z=z, source_class=self.source_class,
            target_class=target_class, layers=layers, method="scbn", blend_options=self.blend_options,
            edit_options=collage.EditOptions(context=0.0), steps=options.get("steps"),
            restarts=options.get("restarts"), seed=options.get("seed"),
            loss=None if self.projection is None else self.projection.loss, fit=self.fit,
            reconstruction_psnr=self.reconstruction_psnr)

    @property
    def reconstruction_note(self):
        """``"reconstruction 31.2 dB (features fit)"``, or "" when the PSNR is unknown."""
        if self.reconstruction_psnr is None:
            return ""
        how = f"{self.fit.options.method} fit" if self.fit is not None else "projection"
        return f"reconstruction {self.reconstruction_psnr:.1f} dB ({how})"


#: What :func:`open_photo` returns: the generator to paint with (fitted to the crop, or the bundle's), the
#: projected latent ``z`` (1, dim_z) float32, the base ``class_id``, the ``crop`` (R, R, 3) uint8 and the
#: :class:`PhotoContext`.
OpenedPhoto = collections.namedtuple("OpenedPhoto", "generator z class_id crop context")


def open_photo(bundle, photo, *, label, mask=None, box=None, margin=0.25, steps=None, restarts=1, seed=0, lr=0.075,
               mse_weight=0.2, progress=None, blend_options=None, reconstruction=DEFAULT_RECONSTRUCTION, fit=None,
               fit_progress=None, blend_mode=UNSET, dilate=UNSET, seam=UNSET, colour_reach=UNSET, poisson=UNSET):
    """Crop ``photo``, project the crop (:func:`neuralcollage.inversion.project`) and fit the generator to it
    (:func:`neuralcollage.reconstruction.fit_generator`): what a painter on a real photo starts from.

    Parameters
    ----------
    bundle : ModelBundle
        Needs a generator; its discriminator's features enter the projection loss (without one, e.g.
        BigGAN-deep: :class:`neuralcollage.inversion.PyramidFeatures`) and its encoder (if any)
        initialises the projection.
    photo : numpy.ndarray (H, W, 3) uint8
    label : int or str
        The class of what the photo shows (projection class and base class).
    mask : array (H, W), optional
        Region to edit: the crop is the square around it (:func:`neuralcollage.blending.square_crop_box`
        with ``margin``, at least the generator's resolution, as :func:`neuralcollage.collage.edit_photo`).
        Without mask or box: the largest centred square.
    box : (top, left, side), optional
        The crop, explicitly.
    steps, restarts, seed, lr, mse_weight
        Projection options (``steps=None``: the reconstruction's default, as in
        :func:`neuralcollage.collage.edit_photo`).
    progress : callable, optional
        ``progress(step, loss, restart)`` during the projection.
    blend_options : BlendOptions, optional
        How the edit is blended back (:func:`neuralcollage.blending.blend_back`; default
        :class:`neuralcollage.options.BlendOptions`'s, as in :func:`neuralcollage.collage.edit_photo`).
    blend_mode, dilate, seam, colour_reach
        Shorthands for its fields (``poisson``: a deprecated spelling of ``blend_mode``).
    reconstruction, fit, fit_progress
        As for :func:`neuralcollage.collage.edit_photo`: ``"features"`` (the default) or ``"pivotal"`` paint
        on the generator fitted to the crop, so the preview starts from the photo itself (the fit fades out
        where the painting changes it); ``"projection"`` paints on the projection alone.  The
        reconstruction's PSNR is :attr:`PhotoContext.reconstruction_psnr`.

    Returns
    -------
    OpenedPhoto
    """
    from neuralcollage import inversion
    from neuralcollage import reconstruction as fitting
    from neuralcollage.models.generator import Generator

    blend = BlendOptions.build(blend_options, blend_mode=_deprecated_poisson(poisson, blend_mode), dilate=dilate,
                               seam=seam, colour_reach=colour_reach)
    settings = fitting.fit_options(reconstruction, fit)
    steps = fitting.projection_steps(reconstruction, steps)
    photo = numpy.asarray(photo)
    if photo.dtype != numpy.uint8 or photo.ndim != 3 or photo.shape[2] != 3:
        raise ValueError(f"photo must be (H, W, 3) uint8, got {photo.dtype} {photo.shape}")
    gen = bundle.generator
    class_id = bundle.vocabulary.index(label)
    if box is None:
        if mask is not None:
            box = blending.square_crop_box(mask, image_size=photo.shape[:2], margin=margin, min_size=gen.resolution)
        else:
            box = blending.centre_box(photo.shape)
    crop = blending.crop_and_resize(photo, box, gen.resolution)
    encoder = getattr(bundle, "encoder", None)
    options = dict(steps=steps, restarts=restarts, seed=seed, lr=lr, mse_weight=mse_weight,
                   encoder=encoder is not None)
    result = inversion.project(gen, getattr(bundle, "discriminator", None), crop, class_id, steps=steps, lr=lr,
                               mse_weight=mse_weight, encoder=encoder, restarts=restarts, seed=seed,
                               callback=progress)
    photo_fit = None
    if settings is not None and isinstance(gen, Generator):
        photo_fit = fitting.fit_generator(gen, crop, result.z[:1], class_id, options=settings, callback=fit_progress)
        gen = photo_fit.generator
    psnr = (photo_fit.psnr if photo_fit is not None
            else fitting.model_psnr(result.image[:1], to_model(crop[None])))
    context = PhotoContext(photo, box, crop, class_id, result, blend_options=blend, projection_options=options,
                           fit=photo_fit, reconstruction_psnr=psnr)
    return OpenedPhoto(gen, result.z[:1], class_id, crop, context)


def _deprecated_poisson(old, blend_mode, name="poisson"):
    """``blend_mode``, or the value of its deprecated spelling ``name`` (a DeprecationWarning)."""
    if old is UNSET:
        return blend_mode
    warnings.warn(f"{name}= is deprecated: use blend_mode=", DeprecationWarning, stacklevel=3)
    if blend_mode is not UNSET and blend_mode != old:
        raise ValueError(f"{name}={old!r} and blend_mode={blend_mode!r} disagree")
    return old

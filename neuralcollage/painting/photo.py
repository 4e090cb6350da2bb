"""A painting of a projected photo, back into the photo: where it changes the image (:func:`edit_mask`) and the
Poisson blend of the edited crop (:func:`composite_photo`).
"""
import numpy

__all__ = ["edit_mask", "composite_photo"]


def edit_mask(class_canvas, stream_canvas=None, attribute_canvas=None, style_canvas=None):
    """Where a painting changes the image: ``(H, W)`` float32 in [0, 1] (painted alpha of the canvases)."""
    mask = class_canvas.painted_alpha()
    for canvas in (stream_canvas, attribute_canvas, style_canvas):
        if canvas is not None:
            mask = numpy.maximum(mask, canvas.painted_alpha())
    return mask


def composite_photo(photo, edited_crop, crop_mask, box, *, mode="normal", dilate=8, seam="fixed",
                    colour_reach=None, feather=None):
    """Poisson-blend an edited crop into the photo where the crop's mask is painted.

    Parameters
    ----------
    photo : numpy.ndarray (H, W, 3) uint8
    edited_crop : numpy.ndarray (R, R, 3) uint8
    crop_mask : numpy.ndarray (R, R) float in [0, 1]
        Painted area on the crop (:func:`edit_mask`).
    box : (top, left, side)
        Where the crop was cut from the photo.
    mode, dilate, seam, colour_reach, feather
        See :func:`neuralcollage.blending.poisson_blend` (``mode`` is its ``blend_mode``; ``feather``, the
        alpha's Gaussian sigma in photo pixels, acts with ``mode="none"`` only).

    Returns
    -------
    numpy.ndarray (H, W, 3) uint8
        A copy of ``photo`` when nothing is painted.
    """
    from neuralcollage import blending

    photo = numpy.asarray(photo)
    top, left, side = (int(v) for v in box)
    if not (crop_mask > 0).any():
        return photo.copy()
    full = numpy.zeros(photo.shape[:2], numpy.float32)
    full[top:top + side, left:left + side] = numpy.clip(
        blending.resize_to_box(crop_mask.astype(numpy.float32), box), 0.0, 1.0)
    return blending.poisson_blend(photo, edited_crop, full, (top, left, side), blend_mode=mode, dilate=dilate,
                                  seam=seam, colour_reach=colour_reach, feather=feather)

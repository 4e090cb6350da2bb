"""Part maps as images: the segmentation guide of ``collage stylize --style-parts``."""
import numpy

__all__ = ["MAX_PARTS", "part_labels_from_image"]

#: Most distinct colours a part map may have.
MAX_PARTS = 16


def part_labels_from_image(image, *, max_parts=MAX_PARTS, colours=None):
    """Label map of a part image: every distinct colour is a part.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` or ``(H, W, 3)`` uint8: flat colours (black or any colour the background, e.g. a painted or
        exported segmentation; no antialiasing).
    max_parts : int, keyword-only
        ValueError when there are more distinct colours (a photo, a blurred or antialiased map).
    colours : numpy.ndarray, keyword-only, optional
        ``(N, 3)`` the palette to use (another image's, so that the same colour is the same part); a colour
        not in it is a ValueError.

    Returns
    -------
    labels : numpy.ndarray
        ``(H, W)`` int32 in ``[0, N)``, the colours in sorted order (black first when present).
    colours : numpy.ndarray
        ``(N, 3)`` uint8.
    """
    arr = numpy.asarray(image)
    if arr.dtype != numpy.uint8 or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
        raise ValueError(f"a part map must be (H, W) or (H, W, 3) uint8, got {arr.dtype} {arr.shape}")
    rgb = numpy.repeat(arr[..., None], 3, axis=2) if arr.ndim == 2 else arr
    flat = rgb.reshape(-1, 3)
    found, inverse = numpy.unique(flat, axis=0, return_inverse=True)
    if colours is None:
        if len(found) > max_parts:
            raise ValueError(f"the part map has {len(found)} distinct colours, at most {max_parts} allowed (flat "
                             f"colours, no antialiasing: is it a photo?)")
        if len(found) < 2:
            raise ValueError("the part map has a single colour: no parts")
        return inverse.reshape(arr.shape[:2]).astype(numpy.int32), found.astype(numpy.uint8)
    palette = numpy.asarray(colours, numpy.uint8).reshape(-1, 3)
    keys = {tuple(c): i for i, c in enumerate(palette.tolist())}
    missing = [tuple(c) for c in found.tolist() if tuple(c) not in keys]
    if missing:
        raise ValueError(f"the part map has colour {missing[0]} that the exemplar's part map lacks "
                         f"({len(missing)} such colours)")
    lut = numpy.asarray([keys[tuple(c)] for c in found.tolist()], numpy.int32)
    return lut[inverse.reshape(arr.shape[:2])], palette

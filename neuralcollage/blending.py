"""Putting an edited crop back into the full-resolution photo.

The real-photo pipeline crops a square around the user's mask (:func:`square_crop_box`), resizes
it to the generator's resolution (:func:`crop_and_resize`), edits it in the GAN, and blends the
edited crop back (:func:`poisson_blend`).  Pixels outside the slightly dilated mask come back
bit-identical.

Conventions: images are ``(H, W, 3)`` ``uint8``; masks are ``(H, W)`` ``bool`` or floating point
in ``[0, 1]`` (a pixel is "in the mask" when its value is > 0); a box is ``(top, left, size)``, a
square of ``size`` pixels whose top-left corner is ``(top, left)``.  No function modifies its
inputs.
"""
import math
import warnings

import cv2
import numpy

from neuralcollage.io import InputError, as_mask
from neuralcollage.limits import check_option
from neuralcollage.options import BLEND_MODES, SEAMS, BlendOptions

__all__ = ["dilate_mask", "grey_dilate", "feather_mask", "centre_box", "square_crop_box", "check_box", "crop_and_resize",
           "resize_to_box", "paste_back", "blend_region", "seam_region", "check_seam", "screened_poisson",
           "screened_unknowns", "check_colour_reach", "classic_reach", "poisson_blend", "blend_back", "BLEND_MODES", "SEAMS"]

_CLONE_FLAGS = {"normal": cv2.NORMAL_CLONE, "mixed": cv2.MIXED_CLONE}
# cv2.seamlessClone erodes the mask by 3 pixels (3x3 kernel, 3 iterations) before solving; the
# mask we hand it is closed with this square so that its solving domain still covers our region.
_CLONE_EROSION = 3
# Context around the solving domain, reflected from the photo where the domain touches a border.
_CLONE_PAD = 4
# screened_poisson: mask pixels deeper than this many reaches inside the mask keep the edit exactly (the
# correction has decayed there below half a grey level for any mismatch up to 255).
_REACH_DEPTH = 6.5


def _mask_array(mask, name="mask"):
    arr = numpy.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (H, W), got shape {arr.shape}")
    if arr.dtype.kind == "f" and numpy.isnan(arr).any():
        raise InputError(f"{name} contains NaN values")
    return arr


def dilate_mask(mask, *, radius):
    """Grow a mask by ``radius`` pixels with an elliptical (disc) structuring element.

    Parameters
    ----------
    mask : numpy.ndarray, shape (H, W)
        ``bool`` or numbers; pixels > 0 are in the mask.
    radius : int, keyword-only
        Dilation radius in pixels (>= 0; 0 returns ``mask > 0``).

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` ``bool``, a new array.
    """
    binary = _mask_array(mask) > 0
    radius = int(radius)
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    if radius == 0:
        return binary.copy()
    return grey_dilate(binary.astype(numpy.uint8), radius).astype(bool)


def feather_mask(mask, *, sigma):
    """Soften a mask's edge with a Gaussian blur.

    Parameters
    ----------
    mask : numpy.ndarray, shape (H, W)
        ``bool`` or floating point in ``[0, 1]``.
    sigma : float, keyword-only
        Standard deviation in pixels (>= 0; 0 returns the mask as ``float32``).  The image border
        is reflected, so a mask touching the border stays solid there.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` ``float32`` in ``[0, 1]``, a new array.
    """
    arr = _mask_array(mask).astype(numpy.float32)
    sigma = float(sigma)
    if not 0 <= sigma <= 1024:
        raise ValueError(f"sigma must be a number in [0, 1024], got {sigma}")
    if sigma > 0:
        arr = cv2.GaussianBlur(arr, (0, 0), sigmaX=sigma, sigmaY=sigma,
                               borderType=cv2.BORDER_REFLECT)
    return numpy.clip(arr, 0.0, 1.0)


def _bbox(binary):
    """(top, bottom, left, right) of the True pixels, bottom/right exclusive; None if none."""
    rows = numpy.flatnonzero(binary.any(axis=1))
    if rows.size == 0:
        return None
    cols = numpy.flatnonzero(binary.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def centre_box(shape):
    """``(top, left, side)`` of the largest centred square of an image of ``shape`` ``(H, W, ...)``.

    >>> centre_box((150, 226, 3))
    (0, 38, 150)
    """
    height, width = (int(v) for v in shape[:2])
    side = min(height, width)
    return (height - side) // 2, (width - side) // 2, side


def square_crop_box(mask, *, image_size=None, margin=0.25, min_size=None):
    """A square box around a mask, inside the photo, to crop for the generator.

    The mask's bounding box is made square on its longer side ``s`` and grown by ``margin * s`` on
    every side (side ``ceil(s * (1 + 2 * margin))``), at least ``min_size``, centred on the bounding
    box and shifted to lie inside the photo.  When the photo is smaller than that square the box is
    the largest square that fits (side ``min(H, W)``); it then contains the bounding box along every
    axis where the bounding box is not longer than ``min(H, W)``, and along the other axis it lies
    inside the bounding box where it covers the most mask pixels (nearest the centre on ties).

    Parameters
    ----------
    mask : numpy.ndarray, shape (H, W)
        The photo's mask (pixels > 0 are selected).
    image_size : tuple of int (H, W), optional, keyword-only
        The photo's size; must equal ``mask.shape`` (default).
    margin : float, keyword-only
        Context around the mask as a fraction of its longer side (>= 0).
    min_size : int, optional, keyword-only
        Smallest side, e.g. the generator's resolution to avoid enlarging small crops.

    Returns
    -------
    tuple of int
        ``(top, left, size)`` with ``0 <= top``, ``top + size <= H``, ``0 <= left``,
        ``left + size <= W``.

    Raises
    ------
    InputError
        The mask is empty.

    Examples
    --------
    >>> mask = numpy.zeros((100, 200), bool); mask[40:60, 90:100] = True
    >>> square_crop_box(mask)
    (35, 80, 30)
    """
    arr = _mask_array(mask)
    height, width = arr.shape
    if image_size is not None and tuple(int(s) for s in image_size) != (height, width):
        raise ValueError(f"mask shape {arr.shape} differs from image_size {tuple(image_size)}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    box = _bbox(arr > 0)
    if box is None:
        raise InputError("mask is empty")
    r0, r1, c0, c1 = box
    side = max(r1 - r0, c1 - c0)
    size = int(math.ceil(side * (1.0 + 2.0 * margin) - 1e-9))
    if min_size is not None:
        size = max(size, int(min_size))
    size = max(1, min(size, height, width))
    binary = arr > 0
    top = _place(binary.sum(axis=1), r0, r1, size, height)
    left = _place(binary.sum(axis=0), c0, c1, size, width)
    return int(top), int(left), int(size)


def _place(counts, lo, hi, size, length):
    """Start of a ``size`` window on an axis: centred on ``lo:hi`` and shifted inside ``length``;
    when ``lo:hi`` is longer than the window, the position inside it covering the most mask."""
    centred = lo + (hi - lo - size) // 2
    if hi - lo <= size:
        return min(max(centred, 0), length - size)
    sums = numpy.convolve(counts[lo:hi], numpy.ones(size, dtype=numpy.int64), mode="valid")
    best = numpy.flatnonzero(sums == sums.max()) + lo
    return int(best[numpy.argmin(numpy.abs(best - centred))])


def check_box(box, shape):
    """``box`` as ``(top, left, size)`` ints, checked to lie inside an image of ``shape`` ``(H, W, ...)``.

    Raises
    ------
    InputError
        ``box`` is not three integers, or the square is empty or leaves the image.
    """
    try:
        top, left, size = (int(v) for v in box)
    except (TypeError, ValueError):
        raise InputError(f"box must be three integers (top, left, size), got {box!r}") from None
    if size <= 0 or top < 0 or left < 0 or top + size > shape[0] or left + size > shape[1]:
        raise InputError(f"box (top={top}, left={left}, size={size}) is not inside the "
                         f"{shape[0]}x{shape[1]} (HxW) image")
    return top, left, size


def _resize(image, size):
    """Square resize (H, W[, C]) -> (size, size[, C]); area when shrinking, bicubic enlarging."""
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image.copy()
    interpolation = cv2.INTER_AREA if size * size < h * w else cv2.INTER_CUBIC
    out = cv2.resize(image, (size, size), interpolation=interpolation)
    if image.ndim == 3 and out.ndim == 2:
        out = out[:, :, None]
    return out


def crop_and_resize(image, box, size):
    """Cut ``box`` out of ``image`` and resize it to ``size`` x ``size``.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W, C)`` or ``(H, W)``, ``uint8`` (or float32).
    box : tuple of int
        ``(top, left, side)`` inside the image, e.g. from :func:`square_crop_box`.
    size : int
        Output side, e.g. the generator's resolution.

    Returns
    -------
    numpy.ndarray
        ``(size, size, C)`` or ``(size, size)``, same dtype; area averaging when shrinking,
        bicubic interpolation when enlarging.
    """
    arr = numpy.asarray(image)
    top, left, side = check_box(box, arr.shape)
    return _resize(arr[top:top + side, left:left + side], int(size))


def resize_to_box(crop, box):
    """Resize a square (edited) crop back to the box's side (area when shrinking, else bicubic).

    Parameters
    ----------
    crop : numpy.ndarray
        ``(s, s, C)`` or ``(s, s)``.
    box : tuple of int
        ``(top, left, side)``.

    Returns
    -------
    numpy.ndarray
        ``(side, side, C)`` or ``(side, side)``, same dtype.
    """
    return _resize(numpy.asarray(crop), int(box[2]))


def paste_back(photo, crop, box):
    """Naive paste: a copy of ``photo`` whose ``box`` is replaced by the resized ``crop``.

    Parameters
    ----------
    photo : numpy.ndarray
        ``(H, W, C)`` ``uint8``.
    crop : numpy.ndarray
        ``(s, s, C)`` ``uint8``.
    box : tuple of int
        ``(top, left, side)`` inside the photo.

    Returns
    -------
    numpy.ndarray
        ``(H, W, C)`` ``uint8``, a new array.
    """
    out = numpy.array(photo, copy=True)
    top, left, side = check_box(box, out.shape)
    out[top:top + side, left:left + side] = resize_to_box(crop, box)
    return out


def _check_image(image, name):
    arr = numpy.asarray(image)
    if arr.dtype != numpy.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"{name} must be (H, W, 3) uint8, got {arr.dtype} {arr.shape}")
    return arr


def blend_region(mask, box, *, dilate):
    """The pixels :func:`poisson_blend` may change: the dilated mask, clipped to the box.

    The box loses its outermost row or column on each side that lies inside the photo (unless its
    side is below 3 or nothing would be left), so that the Poisson solver's guidance never reaches
    beyond the edit.

    Parameters
    ----------
    mask : numpy.ndarray, shape (H, W)
        Pixels > 0 are in the mask.
    box : tuple of int
        ``(top, left, side)`` inside the photo.
    dilate : int, keyword-only
        Dilation radius in pixels.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` ``bool``.
    """
    arr = _mask_array(mask)
    top, left, side = check_box(box, arr.shape)
    height, width = arr.shape
    d = check_option("dilate", dilate)
    w0, w1 = max(top - d, 0), min(top + side + d, height)
    v0, v1 = max(left - d, 0), min(left + side + d, width)
    grown = dilate_mask(arr[w0:w1, v0:v1], radius=d)
    in_box = grown[top - w0:top + side - w0, left - v0:left + side - v0]
    if side >= 3:
        inner = in_box.copy()
        if top > 0:
            inner[0] = False
        if top + side < height:
            inner[-1] = False
        if left > 0:
            inner[:, 0] = False
        if left + side < width:
            inner[:, -1] = False
        if inner.any():
            in_box = inner
    region = numpy.zeros((height, width), bool)
    region[top:top + side, left:left + side] = in_box
    return region


def seam_region(photo, edited, inner, outer, *, smoothness=0.05):
    """The region between ``inner`` and ``outer`` whose border runs where the edit matches the photo.

    A Poisson blend copies the edit's gradients and adds the smooth membrane that matches its colours to the
    photo's along the region's border; where they differ on the border, the membrane carries that difference
    into the region.  This picks the border that costs least, in the spirit of drag-and-drop pasting (Jia et
    al., SIGGRAPH 2006; here without its free colour offset, so that the edit keeps its own colours): each
    pixel costs ``c = ||edited - photo||^2`` (RGB, 0..255 units), two 4-neighbours one on each side of the
    border cost ``(c_p + c_q) / 2 + smoothness * median(c over the band)`` (the second term prefers short
    borders where the mismatch is flat), a band pixel on the image's edge also pays its own cost against the
    reflected photo beyond, and the cheapest region is a minimum s-t cut (``scipy.sparse.csgraph.maximum_flow``
    on capacities scaled to integers) with ``inner`` tied to the source and everything outside ``outer`` to
    the sink.

    Parameters
    ----------
    photo, edited : numpy.ndarray
        ``(H, W, 3)`` ``uint8`` RGB, the photo and the edit at the same resolution.
    inner : numpy.ndarray
        ``(H, W)`` ``bool``, what must be inside (e.g. the painted mask).
    outer : numpy.ndarray
        ``(H, W)`` ``bool``, what may be inside (e.g. :func:`blend_region`); ``inner`` is clipped to it.
    smoothness : float, keyword-only
        Weight of the border-length term (>= 0).

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` ``bool``, with ``inner & outer`` <= result <= ``outer``; ``outer`` itself when
        ``inner & outer`` is empty.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order, maximum_flow
    photo, edited = _check_image(photo, "photo"), _check_image(edited, "edited")
    inner, outer = numpy.asarray(inner, bool), numpy.asarray(outer, bool)
    if not photo.shape == edited.shape or inner.shape != photo.shape[:2] or outer.shape != inner.shape:
        raise ValueError(f"photo {photo.shape}, edited {edited.shape}, inner {inner.shape} and outer "
                         f"{outer.shape} must have the same height and width")
    if not smoothness >= 0:
        raise ValueError(f"smoothness must be >= 0, got {smoothness}")
    inner = inner & outer
    band = outer & ~inner
    if not inner.any():
        return outer.copy()
    if not band.any():
        return inner
    cost = numpy.square(edited.astype(numpy.float64) - photo).sum(axis=2)
    length = smoothness * float(numpy.median(cost[band])) + 1e-3
    n = int(band.sum())
    source, sink = n, n + 1
    node = numpy.full(inner.shape, sink, numpy.int64)
    node[band] = numpy.arange(n)
    node[inner] = source
    heads, tails, capacity = [], [], []
    for a, b, ca, cb in ((node[:, :-1], node[:, 1:], cost[:, :-1], cost[:, 1:]),
                         (node[:-1], node[1:], cost[:-1], cost[1:])):
        pair = ((a < n) | (b < n)) & (a != b)
        heads.append(a[pair])
        tails.append(b[pair])
        capacity.append((ca[pair] + cb[pair]) / 2 + length)
    edge = numpy.zeros(inner.shape, bool)
    edge[[0, -1]] = True
    edge[:, [0, -1]] = True
    edge &= band
    heads.append(node[edge])
    tails.append(numpy.full(int(edge.sum()), sink))
    capacity.append(cost[edge] + length)
    heads, tails, capacity = (numpy.concatenate(v) for v in (heads, tails, capacity))
    # integer capacities: the largest about 2**20, their sum (which bounds every flow) below 2**30
    scale = min(2.0 ** 20 / capacity.max(), 2.0 ** 30 / capacity.sum())
    capacity = numpy.maximum(numpy.rint(capacity * scale), 1).astype(numpy.int32)
    graph = coo_matrix((numpy.concatenate([capacity, capacity]),
                        (numpy.concatenate([heads, tails]), numpy.concatenate([tails, heads]))),
                       shape=(n + 2, n + 2)).tocsr()
    graph.sum_duplicates()
    residual = (graph - maximum_flow(graph, source, sink).flow).tocsr()
    residual.data[residual.data < 0] = 0
    residual.eliminate_zeros()
    reached = breadth_first_order(residual, source, directed=True, return_predecessors=False)
    reached = reached[reached < n]
    region = inner.copy()
    rows, cols = numpy.nonzero(band)
    region[rows[reached], cols[reached]] = True
    return region


def screened_unknowns(region, inner, *, reach):
    """The pixels :func:`screened_poisson` solves for: ``(H, W)`` bool, the part of ``region`` outside ``inner``
    and the pixels of ``inner`` within ``6.5 * reach`` of its edge (deeper ones keep the edit exactly)."""
    depth = cv2.distanceTransform((inner & region).astype(numpy.uint8), cv2.DIST_L2, 5)
    return region & (depth <= _REACH_DEPTH * reach)


def screened_poisson(photo, edited, region, inner, *, reach):
    """Poisson image editing of ``edited`` into ``photo`` whose colour correction fades out inside ``inner``.

    Classic Poisson editing (Perez et al., SIGGRAPH 2003) keeps the edit's gradients in ``region`` and adds
    the smooth membrane that takes its colours to the photo's along the region's border, across the whole
    region: where edit and photo differ on the border, the whole edit drifts towards the photo's colours.
    Here the result ``f`` minimises, per channel,

        sum over 4-neighbour pairs (p, q) touching the region of ((f_p - f_q) - (e_p - e_q))^2
        + sum over pixels p of ``inner`` of (f_p - e_p)^2 / reach^2,

    with ``f = photo`` outside ``region`` (a screened Poisson equation for the correction ``f - e``). In the
    part of ``region`` outside ``inner`` the correction is harmonic, as in classic Poisson editing; inside
    ``inner`` it decays by about ``exp(-d / reach)`` at depth ``d``, so the edit keeps its own colours
    beyond a few ``reach``es from the border.  A large ``reach`` approaches classic Poisson editing.  Pixels of
    ``inner`` deeper than ``6.5 * reach`` keep the edit exactly (the correction there is below half a grey
    level); the rest is one sparse LU solve (``scipy.sparse.linalg.splu``), its size the band around the
    border.  Pixel pairs that leave the photo are left out (no boundary there).

    Parameters
    ----------
    photo, edited : numpy.ndarray
        ``(H, W, 3)`` ``uint8`` RGB: the photo, and the edit at the photo's resolution (only its values in
        and next to ``region`` matter).
    region : numpy.ndarray
        ``(H, W)`` ``bool``, the pixels that may change.
    inner : numpy.ndarray
        ``(H, W)`` ``bool``, where the edit's colours are kept (e.g. the painted mask); clipped to ``region``.
    reach : float, keyword-only
        How far, in pixels, the colour correction reaches into ``inner`` (> 0).

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` ``uint8``, a new array equal to ``photo`` outside ``region``.
    """
    from scipy.sparse import csc_matrix
    from scipy.sparse.linalg import splu
    photo, edited = _check_image(photo, "photo"), _check_image(edited, "edited")
    region, inner = numpy.asarray(region, bool), numpy.asarray(inner, bool)
    if not photo.shape == edited.shape or region.shape != photo.shape[:2] or inner.shape != region.shape:
        raise ValueError(f"photo {photo.shape}, edited {edited.shape}, region {region.shape} and inner "
                         f"{inner.shape} must have the same height and width")
    check_colour_reach(reach)
    if classic_reach(reach):
        raise ValueError("screened_poisson needs a finite reach; classic Poisson editing is poisson_blend's")
    inner = inner & region
    height, width = region.shape
    solve = screened_unknowns(region, inner, reach=reach)
    out = photo.copy()
    out[region & ~solve] = edited[region & ~solve]
    ys, xs = numpy.nonzero(solve)
    if ys.size == 0:
        return out
    # The correction u = f - e: known outside the solving pixels (photo - edit outside the region, 0 deep
    # inside the mask), unknown on them.
    known = (photo.astype(numpy.float64) - edited) * ~region[..., None]
    index = numpy.full((height, width), -1, numpy.int64)
    index[ys, xs] = numpy.arange(ys.size)
    diagonal = numpy.where(inner[ys, xs], 1.0 / float(reach) ** 2, 0.0)
    rhs = numpy.zeros((ys.size, 3))
    rows, cols = [], []
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        qy, qx = ys + dy, xs + dx
        on_photo = (qy >= 0) & (qy < height) & (qx >= 0) & (qx < width)
        diagonal += on_photo
        p = numpy.nonzero(on_photo)[0]
        q = index[qy[on_photo], qx[on_photo]]
        rows.append(p[q >= 0])
        cols.append(q[q >= 0])
        numpy.add.at(rhs, p[q < 0], known[qy[on_photo][q < 0], qx[on_photo][q < 0]])
    rows, cols = numpy.concatenate(rows), numpy.concatenate(cols)
    n = ys.size
    matrix = csc_matrix((numpy.concatenate([diagonal, -numpy.ones(rows.size)]),
                         (numpy.concatenate([numpy.arange(n), rows]), numpy.concatenate([numpy.arange(n), cols]))),
                        shape=(n, n))
    correction = splu(matrix, permc_spec="MMD_AT_PLUS_A").solve(rhs)
    out[ys, xs] = numpy.clip(numpy.rint(edited[ys, xs] + correction), 0, 255).astype(numpy.uint8)
    return out


def blend_back(photo, edited_crop, mask, box, options=None):
    """:func:`poisson_blend` with the settings of a :class:`neuralcollage.options.BlendOptions` (None: its
    defaults): how the photo pipeline, recipes, the painter and ``collage blend`` blend an edit back."""
    options = BlendOptions.build(options)
    return poisson_blend(photo, edited_crop, mask, box, blend_mode=options.blend_mode, dilate=options.dilate,
                         seam=options.seam, colour_reach=options.colour_reach, feather=options.composite_feather)


def poisson_blend(photo, edited_crop, mask, box, *, blend_mode="normal", dilate=8, feather=None, seam="fixed",
                  colour_reach=None, mode=None):
    """Blend an edited crop back into the full-resolution photo.

    The edited crop is resized to the box at the photo's resolution.  The region that may change is
    the mask dilated by ``dilate`` pixels, clipped to the box (:func:`blend_region`); every pixel
    outside it is bit-identical to ``photo``.  Inside it:

    * ``"normal"``: Poisson image editing (``cv2.seamlessClone`` with ``NORMAL_CLONE``): the edit's
      gradients, with colours matched to the photo along the region's boundary;
    * ``"mixed"``: the same with ``MIXED_CLONE`` (per pixel the stronger of the edit's and the
      photo's gradients, which keeps the photo's texture where the edit is flat);
    * ``"none"``: alpha compositing with the mask feathered by ``feather`` (Gaussian sigma); soft
      mask values act as partial weights.  Where the mask reaches a side of the box that lies inside
      the photo, the alpha fades out before that side.

    With ``seam="optimal"`` (Poisson modes only) the region that changes is instead the part of the dilated
    mask inside the cheapest seam around the mask (:func:`seam_region`): the border runs where the resized
    edit already matches the photo, so the colour correction has less to carry into the edit.  Give the
    seam room with a larger ``dilate``.

    With a finite ``colour_reach`` (``"normal"`` only) the colour correction fades out inside the mask within about
    that many pixels (:func:`screened_poisson`), so the edit keeps its own colours (a fox's white muzzle,
    a panda's dark eye patches) where classic Poisson editing would shift them towards the photo's; the
    blend stays seamless at the region's border, and the colour change happens mostly in the ring between
    the mask and the dilated region.

    Where the region touches the photo's border the photo is reflected outwards so that the solver
    has a boundary there (the edit's colours are then matched to the photo's own border pixels; with
    ``colour_reach`` the photo's border is no boundary, only the rest of the region's border is).
    When the region covers the whole photo, Poisson blending has no boundary to match and is
    undefined: the result is then the alpha composite of ``"none"`` (for a full mask simply the
    edited crop pasted back).

    Parameters
    ----------
    photo : numpy.ndarray
        ``(H, W, 3)`` ``uint8`` RGB, the original photo.
    edited_crop : numpy.ndarray
        ``(s, s, 3)`` ``uint8`` RGB, the edited crop at the generator's resolution.
    mask : numpy.ndarray
        ``(H, W)``, the edited area on the photo: anything :func:`neuralcollage.io.as_mask`
        accepts (``bool``, ``uint8`` 0..255, float in ``[0, 1]``).  Pixels > 0 are in the mask;
        soft values only matter for ``"none"``.
    box : tuple of int
        ``(top, left, side)`` the crop was cut from (:func:`square_crop_box`).
    blend_mode : {"normal", "mixed", "none"}, keyword-only
    dilate : int, keyword-only
        Pixels the mask is grown by before blending (>= 0).  Poisson modes need a little room
        outside the mask for the colour correction; 8 is a good value for photos up to a few
        thousand pixels wide.
    feather : float, optional, keyword-only
        ``"none"`` only: the alpha is the mask grown by ``dilate // 2`` pixels and blurred with
        this Gaussian sigma (default ``dilate / 4``), so that its transition lies in the ring
        between the mask and the dilated region (about 0.98 on the mask's edge, 0.02 on the
        region's).
    seam : {"fixed", "optimal"}, keyword-only
        Poisson modes: the boundary is the dilated mask's border (``"fixed"``) or the cheapest seam
        between the mask and that border (``"optimal"``, :func:`seam_region`).
    colour_reach : float, optional, keyword-only
        ``"normal"`` only (ignored by the other modes, as ``feather`` is by the Poisson ones): how far, in
        photo pixels, the colour correction reaches into the mask (> 0; :func:`screened_poisson`).  None
        (default) or ``inf``: throughout, classic Poisson editing (``cv2.seamlessClone``).
    mode : str, optional, keyword-only
        Deprecated spelling of ``blend_mode`` (a DeprecationWarning).

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` ``uint8``, a new array.

    Raises
    ------
    InputError
        The mask is empty, invalid (NaN, out of range) or does not overlap the box.
    ValueError
        Wrong shapes or dtypes, an unknown mode, a box outside the photo.
    """
    photo = _check_image(photo, "photo")
    edited_crop = _check_image(edited_crop, "edited_crop")
    if mode is not None:
        warnings.warn("poisson_blend(mode=) is deprecated: use blend_mode=", DeprecationWarning, stacklevel=2)
        blend_mode = mode
    mode = blend_mode
    if mode not in BLEND_MODES:
        raise ValueError(f"blend_mode must be one of {BLEND_MODES}, got {mode!r}")
    check_seam(seam, mode)
    check_colour_reach(colour_reach)
    height, width = photo.shape[:2]
    if numpy.shape(mask) != (height, width):
        raise ValueError(f"mask shape {numpy.shape(mask)} differs from the photo's "
                         f"{(height, width)}")
    soft = as_mask(mask)
    top, left, side = check_box(box, photo.shape)
    dilate = check_option("dilate", dilate)
    if feather is not None:
        feather = check_option("feather", feather)

    region = blend_region(soft, (top, left, side), dilate=dilate)
    if not region.any():
        raise InputError("mask does not overlap the crop box")

    if mode == "none" or region.all():
        sigma = dilate / 4.0 if feather is None else float(feather)
        alpha = grey_dilate(soft, dilate // 2) * _inner_box(box, (height, width), sigma)
        alpha = feather_mask(alpha, sigma=sigma) * region
        return _composite(photo, paste_back(photo, edited_crop, box), alpha, region)
    edited = resize_to_box(edited_crop, (top, left, side))
    if seam == "optimal":
        window = (slice(top, top + side), slice(left, left + side))
        inside = numpy.zeros_like(region)
        inside[window] = seam_region(photo[window], edited, (soft > 0)[window], region[window])
        region = inside
    if mode == "normal" and not classic_reach(colour_reach):
        pasted = photo.copy()
        pasted[top:top + side, left:left + side] = edited
        return screened_poisson(photo, pasted, region, (soft > 0) & region, reach=colour_reach)
    return _seamless_clone(photo, edited, (top, left, side), region, _CLONE_FLAGS[mode])


def check_seam(seam, mode):
    """Raise ValueError unless ``seam`` is one of :data:`SEAMS` and fits the blend ``mode``."""
    if seam not in SEAMS:
        raise ValueError(f"seam must be one of {SEAMS}, got {seam!r}")
    if seam == "optimal" and mode == "none":
        raise ValueError("an optimal seam needs a Poisson blend mode ('normal' or 'mixed'), not 'none'")


def _is_number(value):
    return isinstance(value, (int, float, numpy.number)) and not isinstance(value, bool)


def classic_reach(colour_reach):
    """True when ``colour_reach`` asks for classic Poisson editing: None or infinity (the correction reaches
    throughout the region)."""
    return colour_reach is None or (_is_number(colour_reach) and colour_reach == math.inf)


def check_colour_reach(colour_reach):
    """Raise ValueError unless ``colour_reach`` asks for classic Poisson editing (:func:`classic_reach`) or is a
    number of pixels > 0."""
    if classic_reach(colour_reach):
        return
    if not _is_number(colour_reach) or not math.isfinite(colour_reach) or colour_reach <= 0:
        raise ValueError(f"colour_reach must be a number of pixels > 0 (inf or None: classic Poisson), "
                         f"got {colour_reach!r}")
    check_option("colour_reach", colour_reach)


def grey_dilate(mask, radius):
    """Grey-level dilation of a float mask: the running maximum over a disc of ``radius`` pixels.

    ``mask`` is ``(H, W)`` float32 (soft values are kept, unlike :func:`dilate_mask`); ``radius <= 0``
    returns it unchanged.  Returns ``(H, W)`` float32.
    """
    if radius <= 0:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask, kernel)


def _inner_box(box, shape, sigma):
    """The box as a mask, shrunk by 2 sigma (at most a quarter of its side) on the sides that are
    not on the photo's border, so that a feathered alpha fades out where the edit ends."""
    top, left, side = box
    shrink = min(int(math.ceil(2.0 * sigma)), side // 4)
    y0 = top + (shrink if top > 0 else 0)
    x0 = left + (shrink if left > 0 else 0)
    y1 = top + side - (shrink if top + side < shape[0] else 0)
    x1 = left + side - (shrink if left + side < shape[1] else 0)
    inner = numpy.zeros(shape, numpy.float32)
    inner[y0:max(y1, y0), x0:max(x1, x0)] = 1.0
    return inner


def _composite(photo, source, alpha, region):
    out = photo.copy()
    a = alpha[region][:, None]
    mixed = photo[region] * (1.0 - a) + source[region] * a
    out[region] = numpy.clip(numpy.rint(mixed), 0, 255).astype(numpy.uint8)
    return out


def _seamless_clone(photo, edited, box, region, flags):
    """A copy of ``photo`` whose ``region`` is ``cv2.seamlessClone`` of ``edited`` (the box's
    content at full resolution) into the photo.

    OpenCV solves on the bounding box of its mask and zeroes the mask's outermost pixels, so the
    solver runs on a window around ``region`` padded by reflection where it leaves the photo (the
    edit is reflected beyond the box the same way).
    """
    height, width = photo.shape[:2]
    top, left, _ = box
    grow = 2 * _CLONE_EROSION + 1
    clone_mask = cv2.dilate(region.astype(numpy.uint8) * 255,
                            numpy.ones((grow, grow), numpy.uint8))
    r0, r1, c0, c1 = _bbox(clone_mask > 0)
    r0, r1, c0, c1 = r0 - _CLONE_PAD, r1 + _CLONE_PAD, c0 - _CLONE_PAD, c1 + _CLONE_PAD

    def window(image, y, x, border_type):
        """Photo rows r0:r1, cols c0:c1 of ``image`` (whose top-left pixel is at y, x)."""
        h, w = image.shape[:2]
        y0, y1 = max(r0 - y, 0), min(r1 - y, h)
        x0, x1 = max(c0 - x, 0), min(c1 - x, w)
        part = numpy.ascontiguousarray(image[y0:y1, x0:x1])
        borders = (y0 - (r0 - y), (r1 - y) - y1, x0 - (c0 - x), (c1 - x) - x1)
        return cv2.copyMakeBorder(part, *borders, borderType=border_type, value=0)

    dst = window(photo, 0, 0, cv2.BORDER_REFLECT)
    src = window(edited, top, left, cv2.BORDER_REFLECT)
    sub_mask = window(clone_mask, 0, 0, cv2.BORDER_CONSTANT)
    # seamlessClone centres the bounding box of the mask at ``center``; with this centre (integer
    # halves, as OpenCV computes them) it lands exactly where it is in ``src``.
    b0, b1, a0, a1 = _bbox(sub_mask > 0)
    center = (a0 + (a1 - a0) // 2, b0 + (b1 - b0) // 2)
    blended = cv2.seamlessClone(src, dst, sub_mask, center, flags)
    out = photo.copy()
    y0, y1, x0, x1 = max(r0, 0), min(r1, height), max(c0, 0), min(c1, width)
    inside = region[y0:y1, x0:x1]
    out[y0:y1, x0:x1][inside] = blended[y0 - r0:y1 - r0, x0 - c0:x1 - c0][inside]
    return out

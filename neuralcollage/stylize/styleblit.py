"""Hierarchical StyleBlit (Sýkora et al. 2019): guided synthesis by copying coherent exemplar chunks."""
import dataclasses

import numpy

from neuralcollage.limits import OPTION_RANGES

__all__ = ["LEVELS", "THRESHOLD", "VOTE_SIGMA", "BLEND_RADIUS", "StyleBlitResult", "styleblit", "nearest_field", "vote",
           "vote_stride_for", "refine_field", "snap_to_lattice", "refine_patches", "PATCH_ITERATIONS",
           "PATCH_GUIDE_WEIGHT", "PATCH_ITERATIONS_MAX", "check_patch_iterations"]

#: Seed spacings ``h`` from the coarsest level to the finest.
LEVELS = (64, 32, 16, 8, 4, 2, 1)

#: Default guide-error scale of the weighted voting (0-255 units summed over the guide's channels); see
#: :func:`vote`.
VOTE_SIGMA = 48.0

#: Default chunk threshold (0-255 units summed over the guide's channels).
THRESHOLD = 8.0

#: Default voting radius: the (2r + 1)^2 = 25 neighbours ``vote_stride`` apart (docs/stylize.md, "Voting radius").
BLEND_RADIUS = 2

#: Default number of patch refinement passes (:func:`refine_patches`) after the vote: 0, off.
PATCH_ITERATIONS = 0

#: The most patch refinement passes the CLI, the style brush and session and painting recipes accept (3 meets the
#: hatch target; each pass costs about one vote and a 5x5 patch search): ``OPTION_RANGES["patch_iterations"]`` of
#: :mod:`neuralcollage.limits`.
PATCH_ITERATIONS_MAX = OPTION_RANGES["patch_iterations"][2]

#: Weight of the guide error against the 5x5 patch difference in :func:`refine_patches` (both 0-255 units).
PATCH_GUIDE_WEIGHT = 0.1


def check_patch_iterations(patch_iterations):
    """``patch_iterations`` checked: an int in [0, :data:`PATCH_ITERATIONS_MAX`] (a bool or a float is refused);
    ValueError (one line) otherwise.  :func:`styleblit` checks it; the style brush, session and painting recipes
    check it before any synthesis."""
    value = patch_iterations
    if isinstance(value, (bool, numpy.bool_)) or not isinstance(value, (int, numpy.integer)) or \
            not 0 <= value <= PATCH_ITERATIONS_MAX:
        raise ValueError(f"patch_iterations must be an integer in [0, {PATCH_ITERATIONS_MAX}], got {value!r}")
    return int(value)


@dataclasses.dataclass(frozen=True)
class StyleBlitResult:
    """Output of :func:`styleblit`.

    Attributes
    ----------
    image : numpy.ndarray
        ``(H, W, 3)`` uint8 (or the exemplar's dtype and channels): the voted synthesis.
    nnf : numpy.ndarray
        ``(H, W, 2)`` int32 exemplar ``(x, y)`` each target pixel copies.
    level : numpy.ndarray
        ``(H, W)`` int8: index into the levels of the level that accepted the pixel; ``-1`` for the
        per-pixel lookup fallback.
    """

    image: numpy.ndarray
    nnf: numpy.ndarray
    level: numpy.ndarray

    @property
    def fallback_fraction(self):
        """Fraction of pixels the chunks did not cover (per-pixel lookups)."""
        return float((self.level < 0).mean())


def _jitter(rng, shape):
    return rng.random_sample(shape + (2,)).astype(numpy.float32)


def nearest_field(target_guide, exemplar_guide, table, *, threshold=THRESHOLD, guide_weights=None, seed=0,
                  levels=LEVELS, fallback_radius=0, lattice=None):
    """The nearest-neighbour field of hierarchical StyleBlit.

    For each level's seed spacing ``h`` every not yet accepted target pixel ``p`` takes the nearest of the
    jittered seeds ``q = h * (cell + jitter(cell))`` in the 3x3 cells around it, looks up ``u`` = the
    exemplar position for ``G_T(q)`` in ``table`` and proposes ``o = u + (p - q)``; it is accepted when ``o``
    lies inside the exemplar and ``sum_c w_c |G_T(p) - G_S(o)| < threshold``.  Pixels no level accepts take
    the table's answer for ``G_T(p)`` itself (refined by :func:`refine_field` when ``fallback_radius`` > 0;
    with ``lattice``, seeds' and pixels' answers snapped to it).

    Parameters
    ----------
    target_guide : numpy.ndarray
        ``(H, W, C)`` float32 in 0-255 units.
    exemplar_guide : numpy.ndarray
        ``(He, We, C)`` float32 in 0-255 units.
    table : LookupTable
        Built from ``exemplar_guide``.
    threshold : float, keyword-only
        Guide error below which a chunk grows (0-255 units, summed over channels).
    guide_weights : sequence of float, keyword-only
        ``(C,)`` weights of the error's channels (default all 1).
    seed : int, keyword-only
        Seed of the jitter table (``numpy.random.RandomState``); fixed seed, identical output.
    levels : sequence of int, keyword-only
        Seed spacings, coarse to fine.
    fallback_radius : int, keyword-only
        0 (default): the pixels no level accepts keep the table's answer.  ``r`` > 0: each of them takes the
        exemplar pixel of lowest weighted guide error (all channels, ``guide_weights``) among the
        ``(2r + 1)^2`` around the table's answer (:func:`refine_field`); the table knows only position,
        appearance and segmentation, so this is how further channels (the texture guide of
        :func:`~neuralcollage.stylize.core.texture_guides`) reach those pixels.
    lattice : numpy.ndarray, keyword-only, optional
        ``(2, 2)`` int basis (columns, ``(x, y)``) of the exemplar texture's translation lattice
        (:func:`~neuralcollage.stylize.guides.texture_lattice`): every seed's answer and every per-pixel answer
        is moved the least (keeping its part label) so that its offset ``o - p`` lies on the lattice
        (:func:`snap_to_lattice`), and the texture keeps its phase in the frame.  Default None: no snapping.

    Returns
    -------
    nnf : numpy.ndarray
        ``(H, W, 2)`` int32 exemplar ``(x, y)``.
    level : numpy.ndarray
        ``(H, W)`` int8, see :class:`StyleBlitResult`.
    """
    gt = numpy.asarray(target_guide, dtype=numpy.float32)
    gs = numpy.asarray(exemplar_guide, dtype=numpy.float32)
    if gt.ndim != 3 or gs.ndim != 3 or gt.shape[2] != gs.shape[2]:
        raise ValueError(f"guides must be (H, W, C) with equal C, got {gt.shape} and {gs.shape}")
    h_t, w_t, n_ch = gt.shape
    h_e, w_e = gs.shape[:2]
    weights = numpy.ones(n_ch, numpy.float32) if guide_weights is None else \
        numpy.asarray(guide_weights, numpy.float32)
    if weights.shape != (n_ch,):
        raise ValueError(f"guide_weights must have {n_ch} values, got {weights.shape}")
    gt_flat = gt.reshape(-1, n_ch)
    gs_flat = gs.reshape(-1, n_ch)
    nnf = numpy.zeros((h_t * w_t, 2), numpy.int32)
    level_map = numpy.full(h_t * w_t, -1, numpy.int8)
    todo = numpy.arange(h_t * w_t, dtype=numpy.int64)
    rng = numpy.random.RandomState(seed)
    labels_s = gs[..., 3] if lattice is not None and table.n_labels > 1 else None
    for index, spacing in enumerate(levels):
        n_cy, n_cx = -(-h_t // spacing), -(-w_t // spacing)
        jitter = _jitter(rng, (n_cy + 2, n_cx + 2))  # cells -1 .. n
        if not len(todo):
            continue
        cell_y = numpy.arange(-1, n_cy + 1, dtype=numpy.float32)[:, None]
        cell_x = numpy.arange(-1, n_cx + 1, dtype=numpy.float32)[None, :]
        seed_x = numpy.floor(spacing * (cell_x + jitter[..., 0])).astype(numpy.int32)
        seed_y = numpy.floor(spacing * (cell_y + jitter[..., 1])).astype(numpy.int32)
        valid = (seed_x >= 0) & (seed_x < w_t) & (seed_y >= 0) & (seed_y < h_t)
        sx, sy = numpy.clip(seed_x, 0, w_t - 1), numpy.clip(seed_y, 0, h_t - 1)
        cell = _nearest_seed_cell(sx, sy, valid, spacing, h_t, w_t).ravel()[todo]
        flat_sx, flat_sy = sx.ravel(), sy.ravel()
        if 2 * len(todo) < flat_sx.size:
            needed = numpy.unique(cell)
            seed_u = numpy.zeros((flat_sx.size, 2), numpy.int32)
            seed_u[needed] = table.query(gt[flat_sy[needed], flat_sx[needed]], exemplar_guide=gs)
        else:
            needed = None
            seed_u = table.query(gt[flat_sy, flat_sx], exemplar_guide=gs)
        if lattice is not None:
            pick = slice(None) if needed is None else needed
            seed_u[pick] = snap_to_lattice(seed_u[pick], numpy.stack([flat_sx[pick], flat_sy[pick]], axis=1),
                                           lattice, (h_e, w_e), exemplar_labels=labels_s,
                                           target_labels=None if labels_s is None else
                                           gt[flat_sy[pick], flat_sx[pick], 3])
        py, px = todo // w_t, todo % w_t
        ox = seed_u[cell, 0] + (px - flat_sx[cell])
        oy = seed_u[cell, 1] + (py - flat_sy[cell])
        inside = valid.ravel()[cell] & (ox >= 0) & (ox < w_e) & (oy >= 0) & (oy < h_e)
        o_flat = numpy.where(inside, oy * w_e + ox, 0)
        err = (numpy.abs(gt_flat[todo] - gs_flat[o_flat]) * weights).sum(axis=1)
        accept = inside & (err < threshold)
        done = todo[accept]
        nnf[done, 0], nnf[done, 1] = ox[accept], oy[accept]
        level_map[done] = index
        todo = todo[~accept]
    if len(todo):
        nnf[todo] = table.query(gt_flat[todo], exemplar_guide=gs)
        if fallback_radius > 0:
            nnf[todo] = refine_field(gt_flat[todo], gs, nnf[todo], radius=fallback_radius, guide_weights=weights)
        if lattice is not None:
            nnf[todo] = snap_to_lattice(nnf[todo], numpy.stack([todo % w_t, todo // w_t], axis=1), lattice,
                                        (h_e, w_e), exemplar_labels=labels_s,
                                        target_labels=None if labels_s is None else gt_flat[todo, 3])
    return nnf.reshape(h_t, w_t, 2), level_map.reshape(h_t, w_t)


#: Lattice steps (in basis units) :func:`snap_to_lattice` tries: the four corners of the cell, then (where one of
#: them is outside the exemplar or of another label) those and the twelve around them.
_CORNERS = numpy.array([(0, 0), (1, 0), (0, 1), (1, 1)], numpy.float64)
_AROUND = numpy.concatenate([_CORNERS, numpy.array([(i, j) for i in (-1, 0, 1, 2) for j in (-1, 0, 1, 2)
                                                   if not (0 <= i <= 1 and 0 <= j <= 1)], numpy.float64)])


def snap_to_lattice(positions, pixels, lattice, exemplar_shape, *, exemplar_labels=None, target_labels=None):
    """Move exemplar positions the least so that ``position - pixel`` lies on ``lattice``.

    A texture that repeats by the lattice's translations (hatching at a fixed angle and spacing) is then copied
    in the phase the exemplar has at the pixel's own place in the frame.

    Parameters
    ----------
    positions : numpy.ndarray
        ``(N, 2)`` int exemplar ``(x, y)``.
    pixels : numpy.ndarray
        ``(N, 2)`` int target ``(x, y)`` the positions are for.
    lattice : numpy.ndarray
        ``(2, 2)`` int, columns the basis vectors ``(x, y)``, ``det != 0``, reduced
        (:func:`~neuralcollage.stylize.guides.texture_lattice`).
    exemplar_shape : tuple
        ``(He, We)``.
    exemplar_labels : numpy.ndarray, keyword-only, optional
        ``(He, We)`` part labels (any numbers); with ``target_labels`` (``(N,)``, the pixels' labels) only
        candidates of the pixel's label count.

    Returns
    -------
    numpy.ndarray
        ``(N, 2)`` int32: ``position + r`` with ``position + r - pixel`` on the lattice, ``r`` the shortest
        (Euclidean; ties: the first tried) inside the exemplar (and of the pixel's label) among the 16 lattice
        points of the cell (of an acute reduced basis) around ``pixel - position`` and of the cells around it
        (only the cell's four corners are looked at when all four are allowed: the cell's two triangles are not
        obtuse, so one of them is the nearest); a position with no such candidate stays as it was.
    """
    basis = numpy.asarray(lattice, numpy.float64)
    if basis[:, 0] @ basis[:, 1] < 0:
        basis = basis * numpy.array([1.0, -1.0])  # an acute basis: the cell's two triangles are not obtuse
    pos = numpy.asarray(positions, numpy.int64)
    d = numpy.asarray(pixels, numpy.int64) - pos
    dx, dy = d[:, 0].astype(numpy.float64), d[:, 1].astype(numpy.float64)
    # pixel - position = basis @ (floor + frac): the residual basis @ frac is an integer vector in the cell
    inv = numpy.linalg.inv(basis)
    fa = numpy.floor(inv[0, 0] * dx + inv[0, 1] * dy + 1e-9)
    fb = numpy.floor(inv[1, 0] * dx + inv[1, 1] * dy + 1e-9)
    residual = numpy.stack([numpy.rint(dx - basis[0, 0] * fa - basis[0, 1] * fb),
                            numpy.rint(dy - basis[1, 0] * fa - basis[1, 1] * fb)], axis=1).astype(numpy.int32)
    h_e, w_e = exemplar_shape
    labels = None if exemplar_labels is None else numpy.asarray(exemplar_labels)
    wanted = None if exemplar_labels is None else numpy.asarray(target_labels)
    out = pos.astype(numpy.int32)
    rows = numpy.arange(len(pos))
    for steps in (_CORNERS, _AROUND):
        if not len(rows):
            break
        px, py = out[rows, 0], out[rows, 1]
        res_x, res_y = residual[rows, 0], residual[rows, 1]
        best = numpy.full(len(rows), numpy.iinfo(numpy.int32).max, numpy.int32)
        best_x, best_y = px.copy(), py.copy()
        allowed = numpy.ones(len(rows), bool)
        for sx, sy in numpy.rint(steps @ basis.T).astype(numpy.int32):
            rx, ry = res_x - sx, res_y - sy
            x, y = px + rx, py + ry
            ok = (x >= 0) & (x < w_e) & (y >= 0) & (y < h_e)
            if labels is not None:
                ok &= labels[numpy.clip(y, 0, h_e - 1), numpy.clip(x, 0, w_e - 1)] == wanted[rows]
            allowed &= ok
            cost = rx * rx + ry * ry
            better = ok & (cost < best)  # ties: the first candidate
            best = numpy.where(better, cost, best)
            best_x = numpy.where(better, x, best_x)
            best_y = numpy.where(better, y, best_y)
        # with all four corners allowed the nearest is one of them; otherwise look at all 16
        done = allowed if steps is _CORNERS else best < numpy.iinfo(numpy.int32).max
        out[rows[done], 0] = best_x[done]
        out[rows[done], 1] = best_y[done]
        rows = rows[~done]
    return out.astype(numpy.int32)


def refine_field(target_values, exemplar_guide, positions, *, radius=1, guide_weights=None):
    """Local search: for each query the exemplar pixel of lowest weighted guide error
    ``sum_c w_c |g_c - G_S(o)_c|`` among the ``(2 radius + 1)^2`` pixels ``o`` around its position (inside
    the exemplar; ties: the first in row-major order of the offsets, the centre counting first).

    Parameters
    ----------
    target_values : numpy.ndarray
        ``(N, C)`` float guide values of the queries, 0-255 units.
    exemplar_guide : numpy.ndarray
        ``(He, We, C)`` float32.
    positions : numpy.ndarray
        ``(N, 2)`` int exemplar ``(x, y)`` to search around.
    radius : int, keyword-only
        >= 0.
    guide_weights : sequence of float, keyword-only, optional
        ``(C,)`` (default 1).

    Returns
    -------
    numpy.ndarray
        ``(N, 2)`` int32 exemplar ``(x, y)``.
    """
    g = numpy.asarray(target_values, numpy.float32)
    gs = numpy.asarray(exemplar_guide, numpy.float32)
    h_e, w_e, n_ch = gs.shape
    if g.ndim != 2 or g.shape[1] != n_ch:
        raise ValueError(f"target_values must be (N, {n_ch}), got shape {g.shape}")
    radius = int(radius)
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    weights = numpy.ones(n_ch, numpy.float32) if guide_weights is None else \
        numpy.asarray(guide_weights, numpy.float32)
    base = numpy.asarray(positions, numpy.int64)
    bx, by = numpy.clip(base[:, 0], 0, w_e - 1), numpy.clip(base[:, 1], 0, h_e - 1)
    flat_gs = gs.reshape(-1, n_ch)
    gs_planes = [numpy.ascontiguousarray(flat_gs[:, c]) for c in range(n_ch)]
    g_planes = [numpy.ascontiguousarray(g[:, c]) for c in range(n_ch)]
    best = numpy.full(len(g), numpy.inf, numpy.float32)
    best_x, best_y = bx.copy(), by.copy()
    offsets = [(0, 0)] + [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)
                          if (dy, dx) != (0, 0)]
    for dy, dx in offsets:
        x, y = bx + dx, by + dy
        ok = (x >= 0) & (x < w_e) & (y >= 0) & (y < h_e)
        index = numpy.clip(y, 0, h_e - 1) * w_e + numpy.clip(x, 0, w_e - 1)
        err = None
        for plane, source, weight_c in zip(g_planes, gs_planes, weights):
            d = numpy.abs(plane - source.take(index))
            d *= weight_c
            err = d if err is None else err + d
        better = ok & (err < best)
        best = numpy.where(better, err, best)
        best_x = numpy.where(better, x, best_x)
        best_y = numpy.where(better, y, best_y)
    return numpy.stack([best_x, best_y], axis=1).astype(numpy.int32)


def _nearest_seed_cell(sx, sy, valid, spacing, h, w):
    """``(h, w)`` int64 flat index into the ``(n_cy + 2, n_cx + 2)`` seed arrays of each pixel's nearest valid
    seed among the 3x3 cells around the pixel's cell (ties: the first in row-major order of the offsets)."""
    n_cy, n_cx = sx.shape[0] - 2, sx.shape[1] - 2
    ys = (numpy.arange(n_cy, dtype=numpy.int32)[:, None, None, None] * spacing
          + numpy.arange(spacing, dtype=numpy.int32)[None, :, None, None])
    xs = (numpy.arange(n_cx, dtype=numpy.int32)[None, None, :, None] * spacing
          + numpy.arange(spacing, dtype=numpy.int32)[None, None, None, :])
    best = None
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            window = (slice(1 + dy, 1 + dy + n_cy), slice(1 + dx, 1 + dx + n_cx))
            d = ((sy[window][:, None, :, None] - ys) ** 2 + (sx[window][:, None, :, None] - xs) ** 2)
            d = numpy.where(valid[window][:, None, :, None], d, numpy.iinfo(numpy.int32).max)
            offset = (dy + 1) * (n_cx + 2) + (dx + 1)
            if best is None:
                best, choice = d, numpy.full(d.shape, offset, numpy.int32)
            else:
                closer = d < best
                best = numpy.where(closer, d, best)
                choice = numpy.where(closer, offset, choice)
    base = ((numpy.arange(n_cy, dtype=numpy.int32) * (n_cx + 2))[:, None, None, None]
            + numpy.arange(n_cx, dtype=numpy.int32)[None, None, :, None])
    cell = (base + choice).reshape(n_cy * spacing, n_cx * spacing)
    return cell[:h, :w].astype(numpy.int64)


def vote(exemplar, nnf, *, radius=1, target_guide=None, exemplar_guide=None, guide_weights=None, sigma=None,
         stride=1):
    """Blend by voting: each output pixel is the mean of ``S(NNF(n) - (n - p))`` over the target pixels ``n``
    within ``radius`` (a square, inside the target) of ``p``; exemplar positions are clipped to the
    exemplar.

    With ``sigma`` (and both guides) the mean is weighted: the vote of ``n`` counts
    ``exp(-e / sigma)``, ``e = sum_c w_c |G_T(p) - G_S(NNF(n) - (n - p))|`` the guide error of that candidate
    at ``p``.  Inside a chunk every vote is the same pixel; at a seam the candidates that fit ``p``'s guide
    dominate instead of blurring both sides together.

    Parameters
    ----------
    exemplar : numpy.ndarray
        ``(He, We, C)`` or ``(He, We)``, any numeric dtype.
    nnf : numpy.ndarray
        ``(H, W, 2)`` int exemplar ``(x, y)``.
    target_guide, exemplar_guide : numpy.ndarray, keyword-only, optional
        ``(H, W, G)`` and ``(He, We, G)``, 0-255 units: needed with ``sigma``.
    guide_weights : sequence of float, keyword-only, optional
        ``(G,)`` channel weights of ``e`` (default 1).
    sigma : float, keyword-only, optional
        Error scale of the weights, > 0 (None: the plain mean).
    stride : int, keyword-only
        Spacing of the voting neighbours: ``n - p`` in ``stride * {-radius, ..., radius}^2`` (the same number
        of votes reaching ``stride`` times as far).

    Returns
    -------
    numpy.ndarray
        ``(H, W, C)`` (or ``(H, W)``) of the exemplar's dtype (integer means rounded half up).
    """
    ex = numpy.asarray(exemplar)
    h_e, w_e = ex.shape[:2]
    h, w = nnf.shape[:2]
    radius, stride = int(radius), int(stride)
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if radius <= 0:
        return ex[numpy.clip(nnf[..., 1], 0, h_e - 1), numpy.clip(nnf[..., 0], 0, w_e - 1)]
    if sigma is not None:
        return _weighted_vote(ex, nnf, radius, target_guide, exemplar_guide, guide_weights, float(sigma), stride)
    flat_ex = ex.reshape(h_e * w_e, -1)
    integer = numpy.issubdtype(ex.dtype, numpy.integer)
    acc = numpy.zeros((h, w, flat_ex.shape[1]), numpy.int32 if integer else numpy.float64)
    count = numpy.zeros((h, w, 1), numpy.int32)
    reach = radius * stride
    pad = numpy.pad(nnf.astype(numpy.int32), ((reach, reach), (reach, reach), (0, 0)), mode="edge")
    inside = numpy.pad(numpy.ones((h, w), bool), reach, mode="constant")
    for dy in range(-reach, reach + 1, stride):
        for dx in range(-reach, reach + 1, stride):
            window = (slice(reach + dy, reach + dy + h), slice(reach + dx, reach + dx + w))
            ok = inside[window]
            x = numpy.clip(pad[window][..., 0] - dx, 0, w_e - 1)
            y = numpy.clip(pad[window][..., 1] - dy, 0, h_e - 1)
            ok = ok[..., None]
            acc += flat_ex.take(y * w_e + x, axis=0) * ok
            count += ok
    if integer:
        info = numpy.iinfo(ex.dtype)
        out = numpy.clip((2 * acc + count) // (2 * count), info.min, info.max).astype(ex.dtype)
    else:
        out = (acc / count).astype(ex.dtype)
    return out.reshape((h, w) + ex.shape[2:])


def _weighted_vote(ex, nnf, radius, target_guide, exemplar_guide, guide_weights, sigma, stride=1):
    if target_guide is None or exemplar_guide is None:
        raise ValueError("a weighted vote (sigma) needs target_guide and exemplar_guide")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    h_e, w_e = ex.shape[:2]
    h, w = nnf.shape[:2]
    gt = numpy.asarray(target_guide, numpy.float32)
    gs = numpy.asarray(exemplar_guide, numpy.float32)
    if gt.shape[:2] != (h, w) or gs.shape[:2] != (h_e, w_e) or gt.ndim != 3 or gs.shape[2:] != gt.shape[2:]:
        raise ValueError(f"guides {gt.shape} and {gs.shape} do not fit the field {nnf.shape} and the exemplar "
                         f"{ex.shape}")
    weights = numpy.ones(gt.shape[2], numpy.float32) if guide_weights is None else \
        numpy.asarray(guide_weights, numpy.float32)
    flat_ex = ex.reshape(h_e * w_e, -1).astype(numpy.float64)
    flat_gs = gs.reshape(h_e * w_e, -1)
    # one contiguous plane per channel: 1-D ``take`` gathers are much faster than fancy indexing of rows, and
    # the channel sums below add in the same order as ``sum(axis=-1)`` (the same bits, about 1.7x faster)
    gt_planes = [numpy.ascontiguousarray(gt[..., c]) for c in range(gt.shape[2])]
    gs_planes = [numpy.ascontiguousarray(flat_gs[:, c]) for c in range(flat_gs.shape[1])]
    ex_planes = [numpy.ascontiguousarray(flat_ex[:, c]) for c in range(flat_ex.shape[1])]
    acc = [numpy.zeros((h, w), numpy.float64) for _ in ex_planes]
    total = numpy.zeros((h, w), numpy.float64)
    reach = radius * stride
    pad = numpy.pad(nnf.astype(numpy.int32), ((reach, reach), (reach, reach), (0, 0)), mode="edge")
    inside = numpy.pad(numpy.ones((h, w), bool), reach, mode="constant")
    sigma32 = numpy.float32(sigma)
    for dy in range(-reach, reach + 1, stride):
        for dx in range(-reach, reach + 1, stride):
            window = (slice(reach + dy, reach + dy + h), slice(reach + dx, reach + dx + w))
            x = numpy.clip(pad[window][..., 0] - dx, 0, w_e - 1)
            y = numpy.clip(pad[window][..., 1] - dy, 0, h_e - 1)
            index = y * w_e + x
            err = None
            for plane, source, weight_c in zip(gt_planes, gs_planes, weights):
                d = numpy.abs(plane - source.take(index))
                d *= weight_c
                err = d if err is None else err + d
            weight = numpy.exp(-err / sigma32) * inside[window]
            for a, plane in zip(acc, ex_planes):
                a += plane.take(index) * weight
            total += weight
    out = numpy.stack(acc, axis=-1) / numpy.maximum(total, 1e-300)[..., None]
    if numpy.issubdtype(ex.dtype, numpy.integer):
        info = numpy.iinfo(ex.dtype)
        out = numpy.clip(numpy.floor(out + 0.5), info.min, info.max)
    return out.astype(ex.dtype).reshape((h, w) + ex.shape[2:])


def refine_patches(output, nnf, exemplar, target_guide, exemplar_guide, *, lattice=None, guide_weights=None,
                   segmentation=False, patch_radius=2, guide_weight=PATCH_GUIDE_WEIGHT):
    """One pass of patch refinement: each target pixel takes, among a few candidate exemplar positions, the one
    whose ``(2 patch_radius + 1)^2`` exemplar patch is closest to ``output``'s patch around the pixel.

    The candidates of pixel ``p``: its own ``nnf(p)``; its 8 neighbours' (inside the target) positions moved back
    by the offset (``nnf(n) - (n - p)``, so a neighbour's chunk grows over ``p``); with ``lattice``, ``nnf(p)``
    moved by the 8 lattice vectors ``i a + j b`` (``i, j`` in -1..1), which keep the offset on the lattice.
    Cost: the mean absolute difference over the patch's pixels and colour channels plus ``guide_weight`` times
    the weighted guide error ``sum_c w_c |G_T(p) - G_S(o)|``; a candidate outside the exemplar, or (with
    ``segmentation``) of another label than the pixel's, does not count.  Ties keep the first candidate (the
    pixel's own).  Fewer mismatched patches at chunk seams: the output then matches the
    exemplar patch for patch more often (docs/stylize.md, "Hatching in phase").

    Parameters
    ----------
    output : numpy.ndarray
        ``(H, W, C)`` the current synthesis (the vote of ``nnf``).
    nnf : numpy.ndarray
        ``(H, W, 2)`` int exemplar ``(x, y)``.
    exemplar : numpy.ndarray
        ``(He, We, C)``.
    target_guide, exemplar_guide : numpy.ndarray
        ``(H, W, G)`` and ``(He, We, G)``, 0-255 units.
    lattice : numpy.ndarray, keyword-only, optional
        ``(2, 2)`` int basis (columns ``(x, y)``), as :func:`nearest_field`'s.
    guide_weights : sequence of float, keyword-only, optional
        ``(G,)`` (default 1).
    segmentation : bool, keyword-only
        The guides' channel 3 is the part labels (a lookup table with ``n_labels > 1``): keep each pixel's.
    patch_radius : int, keyword-only
        2: 5x5 patches.
    guide_weight : float, keyword-only
        :data:`PATCH_GUIDE_WEIGHT` by default.

    Returns
    -------
    numpy.ndarray
        ``(H, W, 2)`` int32, the new field.
    """
    out = numpy.asarray(output, numpy.float32)
    ex = numpy.asarray(exemplar, numpy.float32)
    gt = numpy.asarray(target_guide, numpy.float32)
    gs = numpy.asarray(exemplar_guide, numpy.float32)
    field = numpy.asarray(nnf, numpy.int32)
    h, w = field.shape[:2]
    h_e, w_e = ex.shape[:2]
    if out.ndim == 2:
        out, ex = out[..., None], ex[..., None]
    if out.shape[:2] != (h, w) or gt.shape[:2] != (h, w) or gs.shape[:2] != (h_e, w_e) or \
            gt.shape[2:] != gs.shape[2:] or out.shape[2:] != ex.shape[2:]:
        raise ValueError(f"output {out.shape}, field {field.shape}, exemplar {ex.shape} and guides {gt.shape}, "
                         f"{gs.shape} do not fit")
    n_g = gt.shape[2]
    if segmentation and n_g < 4:
        raise ValueError(f"segmentation needs guides of 4 or more channels, got {n_g}")
    weights = numpy.ones(n_g, numpy.float32) if guide_weights is None else numpy.asarray(guide_weights, numpy.float32)
    r = int(patch_radius)
    if r < 0:
        raise ValueError(f"patch_radius must be >= 0, got {patch_radius}")
    side = 2 * r + 1
    scale = numpy.float32(1.0 / (side * side * out.shape[2]))
    # the exemplar padded by r (edge) so that every window offset is one add to a flat index
    w_p = w_e + 2 * r
    ex_planes = [numpy.ascontiguousarray(numpy.pad(ex[..., c], r, mode="edge")).ravel() for c in range(ex.shape[2])]
    out_pad = numpy.pad(out, ((r, r), (r, r), (0, 0)), mode="edge")
    out_windows = {(dy, dx): [numpy.ascontiguousarray(out_pad[r + dy:r + dy + h, r + dx:r + dx + w, c])
                              for c in range(out.shape[2])]
                   for dy in range(-r, r + 1) for dx in range(-r, r + 1)}
    gt_planes = [gt[..., c] for c in range(n_g)]
    gs_planes = [numpy.ascontiguousarray(gs[..., c]).ravel() for c in range(n_g)]
    pad = numpy.pad(field, ((1, 1), (1, 1), (0, 0)), mode="edge")
    inside = numpy.pad(numpy.ones((h, w), bool), 1, mode="constant")
    candidates = [(field, None)]
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if (dy, dx) != (0, 0):  # a neighbour outside the target proposes nothing
                candidates.append((pad[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] - numpy.array([dx, dy], numpy.int32),
                                   inside[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]))
    if lattice is not None:
        basis = numpy.asarray(lattice, numpy.int64)
        for i in (-1, 0, 1):
            for j in (-1, 0, 1):
                if (i, j) != (0, 0):
                    candidates.append((field + (i * basis[:, 0] + j * basis[:, 1]).astype(numpy.int32), None))
    best = numpy.full((h, w), numpy.inf, numpy.float32)
    chosen = field.copy()
    for cand, proposed in candidates:
        x, y = cand[..., 0], cand[..., 1]
        ok = (x >= 0) & (x < w_e) & (y >= 0) & (y < h_e)
        if proposed is not None:
            ok &= proposed
        xc, yc = numpy.clip(x, 0, w_e - 1), numpy.clip(y, 0, h_e - 1)
        flat = yc * w_e + xc
        g_err = numpy.zeros((h, w), numpy.float32)
        for c in range(n_g):
            d = numpy.abs(gt_planes[c] - gs_planes[c].take(flat))
            d *= weights[c]
            g_err += d
        if segmentation:
            ok &= gt_planes[3] == gs_planes[3].take(flat)
        base = (yc + r) * w_p + (xc + r)
        cost = numpy.zeros((h, w), numpy.float32)
        for (dy, dx), planes in out_windows.items():
            index = base + (dy * w_p + dx)
            for c, plane in enumerate(planes):
                cost += numpy.abs(plane - ex_planes[c].take(index))
        cost *= scale
        cost += numpy.float32(guide_weight) * g_err
        better = ok & (cost < best)
        best = numpy.where(better, cost, best)
        chosen = numpy.where(better[..., None], cand, chosen)
    return chosen.astype(numpy.int32)


def vote_stride_for(shape):
    """The default voting stride of a ``shape`` ``(H, W, ...)`` target: ``max(1, (min(H, W) + 32) // 64)`` (1 up
    to 95 px, 2 at 128, 4 at 256, 8 at 512): the votes reach as far, relative to the face, as at 64 px, at the
    cost of 9 votes (docs/stylize.md, "Voting stride")."""
    return max(1, (min(int(shape[0]), int(shape[1])) + 32) // 64)


def styleblit(target_guide, exemplar_guide, exemplar, table, *, threshold=THRESHOLD, blend_radius=BLEND_RADIUS,
              guide_weights=None, seed=0, levels=LEVELS, vote_sigma=VOTE_SIGMA, vote_stride=None, fallback_radius=0,
              lattice=None, patch_iterations=PATCH_ITERATIONS):
    """StyleBlit: :func:`nearest_field` (``fallback_radius`` and ``lattice`` passed on) then :func:`vote` of
    ``exemplar`` (``(He, We, 3)`` uint8), weighted by the guides with ``vote_sigma`` (None: the plain mean of the
    reference), neighbours ``vote_stride`` apart (None: :func:`vote_stride_for` the target); then
    ``patch_iterations`` times (default 0) :func:`refine_patches` of the field and the same vote again.

    Returns
    -------
    StyleBlitResult
    """
    iterations = check_patch_iterations(patch_iterations)
    nnf, level = nearest_field(target_guide, exemplar_guide, table, threshold=threshold,
                               guide_weights=guide_weights, seed=seed, levels=levels, fallback_radius=fallback_radius,
                               lattice=lattice)
    stride = vote_stride_for(target_guide.shape) if vote_stride is None else vote_stride
    image = vote(exemplar, nnf, radius=blend_radius, target_guide=target_guide, exemplar_guide=exemplar_guide,
                 guide_weights=guide_weights, sigma=vote_sigma, stride=stride)
    for _ in range(iterations):
        nnf = refine_patches(image, nnf, exemplar, target_guide, exemplar_guide, lattice=lattice,
                             guide_weights=guide_weights, segmentation=table.n_labels > 1)
        image = vote(exemplar, nnf, radius=blend_radius, target_guide=target_guide, exemplar_guide=exemplar_guide,
                     guide_weights=guide_weights, sigma=vote_sigma, stride=stride)
    return StyleBlitResult(image=image, nnf=nnf, level=level)

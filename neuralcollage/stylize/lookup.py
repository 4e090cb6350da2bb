"""A small quantised lookup table: guide value -> the exemplar position that matches it best.

The table is indexed by (segmentation label, appearance bin, position-y bin, position-x bin).  Each entry
holds the exemplar pixel ``u`` minimising ``position_weight * |ramp(u) - g_pos|_1 + appearance_weight *
|A(u) - g_app|`` (plus ``label_penalty`` where the label differs) for the bin's centre value ``g``.  The
minimum is exact over the whole exemplar: the position term is an L1 distance, so the search is a separable
L1 distance transform (two linear scans per axis) rather than a window scan.
"""
import dataclasses
import hashlib
import json
import zipfile

import numpy

from neuralcollage.stylize.guides import ramp_scale

__all__ = ["LookupTable", "build_lookup_table", "load_lookup_table", "guide_key"]

_FORMAT = "neuralcollage.stylize.lookup/1"


@dataclasses.dataclass(frozen=True)
class LookupTable:
    """Best exemplar positions per quantised guide value.

    Attributes
    ----------
    positions : numpy.ndarray
        ``(L, A, NY, NX, 2)`` int16 exemplar ``(x, y)`` per (label, appearance bin, y bin, x bin).
    centres_x, centres_y : numpy.ndarray
        ``(NX,)``, ``(NY,)`` int32 exemplar pixel coordinates of the position bins' centres.
    exemplar_shape : tuple
        ``(H, W)`` of the exemplar.
    appearance_bins : int
        ``A``; appearance bin ``k`` covers ``[k, k + 1) * 256 / A``.
    key : str
        Hex digest of the exemplar guide and the build parameters (for on-disk caches).
    """

    positions: numpy.ndarray
    centres_x: numpy.ndarray
    centres_y: numpy.ndarray
    exemplar_shape: tuple
    appearance_bins: int
    key: str = ""
    position_weight: float = 10.0
    appearance_weight: float = 2.0
    label_penalty: float = 1000.0

    def __repr__(self):
        n_labels, n_app, ny, nx, _ = self.positions.shape
        return (f"LookupTable(exemplar_shape={tuple(self.exemplar_shape)}, bins=(labels={n_labels}, "
                f"appearance={n_app}, y={ny}, x={nx}), {self.positions.nbytes / 2 ** 20:.2f} MiB)")

    @property
    def n_labels(self):
        return self.positions.shape[0]

    def query(self, guide, *, exemplar_guide=None):
        """Exemplar positions for guide values.

        Parameters
        ----------
        guide : numpy.ndarray
            ``(N, C)`` float in 0-255 units: position x, position y, appearance and (when the table has
            labels) the segmentation channel.

        Returns
        -------
        numpy.ndarray
            ``(N, 2)`` int32 exemplar ``(x, y)``: the entry of the nearest bin moved by the query's offset
            from that bin's centre (so that neighbouring queries in one bin get neighbouring positions),
            clipped to the exemplar.  With ``exemplar_guide`` (the ``(He, We, C)`` guide the table was
            built from), the exemplar pixel at the query's own position (the ramp's inverse) is a second
            candidate, and the one of lower weighted error wins (exact where the query equals the guide).
        """
        g = numpy.asarray(guide, dtype=numpy.float32)
        h, w = self.exemplar_shape
        s = ramp_scale(self.exemplar_shape)
        x = g[:, 0] / s
        y = g[:, 1] / s
        kx = _nearest_bin(x, self.centres_x)
        ky = _nearest_bin(y, self.centres_y)
        ka = numpy.clip((g[:, 2] * (self.appearance_bins / 256.0)).astype(numpy.int32), 0, self.appearance_bins - 1)
        if self.n_labels > 1:
            kl = numpy.clip(numpy.rint(g[:, 3] * ((self.n_labels - 1) / 255.0)).astype(numpy.int32), 0,
                            self.n_labels - 1)
        else:
            kl = numpy.zeros_like(ka)
        u = self.positions[kl, ka, ky, kx].astype(numpy.int32)
        ox = numpy.rint(x - self.centres_x[kx]).astype(numpy.int32)
        oy = numpy.rint(y - self.centres_y[ky]).astype(numpy.int32)
        out = numpy.empty((len(g), 2), numpy.int32)
        out[:, 0] = numpy.clip(u[:, 0] + ox, 0, w - 1)
        out[:, 1] = numpy.clip(u[:, 1] + oy, 0, h - 1)
        if exemplar_guide is not None:
            direct = numpy.empty_like(out)
            direct[:, 0] = numpy.clip(numpy.rint(x), 0, w - 1)
            direct[:, 1] = numpy.clip(numpy.rint(y), 0, h - 1)
            better = self.error(exemplar_guide, direct, g) < self.error(exemplar_guide, out, g)
            out[better] = direct[better]
        return out

    def error(self, exemplar_guide, positions, guide):
        """``(N,)`` float32 weighted error (the table's weights) between ``guide`` ``(N, C)`` and the
        exemplar guide at ``positions`` ``(N, 2)`` int ``(x, y)``."""
        e = exemplar_guide[positions[:, 1], positions[:, 0]]
        err = self.position_weight * (numpy.abs(e[:, 0] - guide[:, 0]) + numpy.abs(e[:, 1] - guide[:, 1]))
        err += self.appearance_weight * numpy.abs(e[:, 2] - guide[:, 2])
        if self.n_labels > 1:
            err += self.label_penalty * (numpy.abs(e[:, 3] - guide[:, 3]) > 0.5)
        return err

    def save(self, path):
        """Write an ``.npz`` (no pickles) atomically to exactly ``path``."""
        from neuralcollage.io import atomic_save_npz
        meta = dict(format=_FORMAT, exemplar_shape=list(self.exemplar_shape),
                    appearance_bins=int(self.appearance_bins), key=self.key,
                    position_weight=float(self.position_weight), appearance_weight=float(self.appearance_weight),
                    label_penalty=float(self.label_penalty))
        atomic_save_npz(path, positions=self.positions, centres_x=self.centres_x, centres_y=self.centres_y,
                        meta=numpy.array(json.dumps(meta)))


def _nearest_bin(values, centres):
    k = numpy.searchsorted(centres, values).clip(1, len(centres) - 1) if len(centres) > 1 else \
        numpy.zeros(values.shape, numpy.int64)
    if len(centres) > 1:
        left = centres[k - 1]
        k = numpy.where(numpy.abs(values - left) <= numpy.abs(centres[k] - values), k - 1, k)
    return k


def load_lookup_table(path, *, key=None):
    """Read a table written by :meth:`LookupTable.save`.

    Raises
    ------
    ValueError
        Not a lookup table file, or ``key`` is given and differs from the file's (a stale cache).
    """
    try:
        with numpy.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            if meta.get("format") != _FORMAT:
                raise ValueError(f"{path} is not a lookup table ({meta.get('format')!r})")
            table = LookupTable(positions=f["positions"], centres_x=f["centres_x"], centres_y=f["centres_y"],
                                exemplar_shape=tuple(meta["exemplar_shape"]),
                                appearance_bins=int(meta["appearance_bins"]), key=meta["key"],
                                position_weight=float(meta["position_weight"]),
                                appearance_weight=float(meta["appearance_weight"]),
                                label_penalty=float(meta["label_penalty"]))
    except (KeyError, OSError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a readable lookup table: {exc}") from None
    if key is not None and table.key != key:
        raise ValueError(f"{path} was built for another exemplar or other parameters")
    return table


def guide_key(exemplar_guide, **params):
    """Hex digest identifying an exemplar guide and the table's build parameters."""
    digest = hashlib.sha256()
    g = numpy.ascontiguousarray(exemplar_guide, dtype=numpy.float32)
    digest.update(json.dumps([list(g.shape), sorted((k, repr(v)) for k, v in params.items())]).encode())
    digest.update(g.tobytes())
    return digest.hexdigest()


def _distance_transform(cost, k, axis):
    """Min and argmin of ``cost[..., j] + k * |i - j|`` over ``j`` along ``axis`` (the last two axes)."""
    c = numpy.moveaxis(cost, axis, 0).copy()
    n = c.shape[0]
    arg = numpy.empty(c.shape, numpy.int32)
    arg[:] = numpy.arange(n, dtype=numpy.int32).reshape((n,) + (1,) * (c.ndim - 1))
    for i in range(1, n):
        cand = c[i - 1] + k
        better = cand < c[i]
        c[i] = numpy.where(better, cand, c[i])
        arg[i] = numpy.where(better, arg[i - 1], arg[i])
    for i in range(n - 2, -1, -1):
        cand = c[i + 1] + k
        better = cand < c[i]
        c[i] = numpy.where(better, cand, c[i])
        arg[i] = numpy.where(better, arg[i + 1], arg[i])
    return numpy.moveaxis(c, 0, axis), numpy.moveaxis(arg, 0, axis)


def build_lookup_table(exemplar_guide, *, position_bins=128, appearance_bins=32, position_weight=10.0,
                       appearance_weight=2.0, n_labels=1, label_penalty=1000.0):
    """Build the lookup table of an exemplar guide.

    Parameters
    ----------
    exemplar_guide : numpy.ndarray
        ``(H, W, C)`` float32 in 0-255 units: the exemplar's ramp (channels 0, 1), its appearance guide
        (channel 2) and, when ``n_labels > 1``, the segmentation guide (channel 3).
    position_bins : int, keyword-only
        At most this many bins per position axis (one per pixel on smaller exemplars).
    appearance_bins : int, keyword-only
        Bins of the appearance channel.
    position_weight, appearance_weight : float, keyword-only
        Weights of the L1 position and appearance differences (0-255 units).
    n_labels : int, keyword-only
        Segmentation labels (1: no segmentation channel).
    label_penalty : float, keyword-only
        Cost of an exemplar pixel of another label.

    Returns
    -------
    LookupTable
    """
    g = numpy.asarray(exemplar_guide, dtype=numpy.float32)
    if g.ndim != 3 or g.shape[2] < 3 + (n_labels > 1):
        raise ValueError(f"exemplar_guide must be (H, W, {3 + (n_labels > 1)}), got shape {g.shape}")
    h, w = g.shape[:2]
    params = dict(position_bins=int(position_bins), appearance_bins=int(appearance_bins),
                  position_weight=float(position_weight), appearance_weight=float(appearance_weight),
                  n_labels=int(n_labels), label_penalty=float(label_penalty))
    centres_x = numpy.unique(numpy.rint(numpy.linspace(0, w - 1, min(w, int(position_bins)))).astype(numpy.int32))
    centres_y = numpy.unique(numpy.rint(numpy.linspace(0, h - 1, min(h, int(position_bins)))).astype(numpy.int32))
    app_centres = (numpy.arange(appearance_bins, dtype=numpy.float32) + 0.5) * (256.0 / appearance_bins)
    cost = appearance_weight * numpy.abs(app_centres[:, None, None] - g[None, :, :, 2])  # (A, H, W)
    if n_labels > 1:
        labels = numpy.rint(g[:, :, 3] * ((n_labels - 1) / 255.0)).astype(numpy.int32)
        other = labels[None] != numpy.arange(n_labels)[:, None, None]
        cost = cost[None] + label_penalty * other[:, None].astype(numpy.float32)  # (L, A, H, W)
    else:
        cost = cost[None]
    k = numpy.float32(position_weight * ramp_scale((h, w)))
    along_x, arg_x = _distance_transform(cost, k, axis=3)
    along_x, arg_x = along_x[..., centres_x], arg_x[..., centres_x]  # (L, A, H, NX)
    _, arg_y = _distance_transform(along_x, k, axis=2)
    arg_y = arg_y[:, :, centres_y, :]  # (L, A, NY, NX)
    best_x = numpy.take_along_axis(arg_x, arg_y, axis=2)
    positions = numpy.stack([best_x, arg_y], axis=-1).astype(numpy.int16)
    return LookupTable(positions=positions, centres_x=centres_x, centres_y=centres_y, exemplar_shape=(h, w),
                       appearance_bins=int(appearance_bins), key=guide_key(g, **params), **{
                           k: params[k] for k in ("position_weight", "appearance_weight", "label_penalty")})

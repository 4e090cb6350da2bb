"""Brush strokes -> label maps, and replayable painting recipes (plain Python and NumPy).

This is the logic behind the notebook painter (:mod:`neuralcollage.widgets`), kept free of widgets and
plotting so that it can be tested and scripted without a browser.

Conventions
-----------
* A canvas has ``n_labels`` labels (the model's classes for sCBN painting, the latent streams for
  feature-blend painting) and a size ``(H, W)``, normally the generator's resolution.
* Stroke points are ``(x, y)`` in canvas pixels: ``x`` is the column, ``y`` the row, pixel centres at
  integers (matplotlib's ``imshow`` data coordinates).  Points may lie outside the canvas.
* A stroke paints an alpha mask (1 inside the brush, falling to 0 at its radius; ``hardness`` 1 is a hard
  disc with a one-pixel anti-aliased edge, 0 a linear-to-smooth falloff from the centre) and composites
  its label over what is beneath: ``w <- (1 - a) w + a onehot(label)``.  The eraser composites the base
  label (``base_label``) instead, so erasing returns to the unpainted state.  Every pixel's weights stay
  non-negative and sum to 1.
* Strokes are the unit of undo/redo; the map is always the composite of the committed strokes, so
  replaying a painter's strokes reproduces its map exactly.
* Attribute painting uses a two-label canvas (0 unchanged, 1 moved): inside its painted alpha the features
  of ``G(z + a * u)`` (a latent attribute axis ``u`` of :mod:`neuralcollage.axes`, amount ``a``) are
  blended into the painting at the attribute's blend layers (:func:`blend_layer_maps`,
  :func:`render_painting`); recipes record the axis, its direction, the amount and the strokes.
* Style painting (the painter's "style" mode) uses a two-label canvas too: inside its painted alpha the
  generator's image of the other paintings is stylised from an exemplar (:mod:`neuralcollage.stylize`);
  recipes record the exemplar (by name, file and sha256), its landmarks, the painted image's landmarks, the
  knobs and the strokes (:mod:`neuralcollage.stylize.recipe`).
* Recipe versions: 1 (class and blend painting), 2 (with attribute painting), 3 (with style painting).  A
  recipe gets the lowest version that holds it, so recipes without attribute or style painting still read
  with older versions of this module, and every older recipe replays as before.

Example
-------
>>> painter = LabelPainter(6, 64, base_label=0)
>>> stroke = painter.add_stroke([(10, 10), (40, 20)], label=3, radius=6, hardness=1.0)
>>> m = painter.class_map()
>>> m.shape, float(m[0, 3, 15, 25]), float(m[0, 0, 60, 60])
((1, 6, 64, 64), 1.0, 1.0)
>>> _ = painter.undo(); float(painter.class_map()[0, 3].max())
0.0
"""
import functools
import json
import math
import operator
from dataclasses import dataclass

import numpy

from neuralcollage import maps

__all__ = ["Stroke", "LabelPainter", "stroke_alpha", "blend_layer_maps", "render_painting", "attribute_latent",
           "check_amount", "attribute_canvas", "painting_recipe", "replay_recipe", "check_recipe", "edit_mask",
           "composite_photo", "RECIPE_KIND", "RECIPE_VERSION", "ATTRIBUTE_LABEL"]

RECIPE_KIND = "neuralcollage.painting"
RECIPE_VERSION = 3
ATTRIBUTE_LABEL = 1


# ----------------------------------------------------------------------------------------------------
# strokes

@dataclass(frozen=True)
class Stroke:
    """One brush stroke (immutable).

    Attributes
    ----------
    points : tuple of (float, float)
        ``(x, y)`` canvas pixels along the stroke (at least one; one point is a dot).  Empty for a fill.
    radius : float
        Brush radius in canvas pixels (> 0).
    label : int
        Label painted (ignored by the eraser, which paints the canvas's base label).
    hardness : float
        1 hard edge ... 0 soft falloff from the centre.
    erase : bool
        Eraser stroke.
    fill : bool
        Covers the whole canvas (``points`` and ``radius`` unused); ``fill`` + ``erase`` clears.
    """
    points: tuple
    radius: float
    label: int
    hardness: float = 1.0
    erase: bool = False
    fill: bool = False

    def __post_init__(self):
        pts = tuple((float(x), float(y)) for x, y in self.points)
        if not all(math.isfinite(v) for p in pts for v in p):
            raise ValueError("stroke points must be finite numbers")
        if not pts and not self.fill:
            raise ValueError("a brush stroke needs at least one point")
        radius = float(self.radius)
        if not self.fill and not (math.isfinite(radius) and radius > 0):
            raise ValueError(f"brush radius must be a positive number, got {self.radius!r}")
        hardness = float(self.hardness)
        if not 0.0 <= hardness <= 1.0:
            raise ValueError(f"brush hardness must be in [0, 1], got {self.hardness!r}")
        if not maps.is_int(self.label) or operator.index(self.label) < 0:
            raise ValueError(f"stroke label must be a non-negative integer, got {self.label!r}")
        object.__setattr__(self, "points", pts)
        object.__setattr__(self, "radius", radius)
        object.__setattr__(self, "hardness", hardness)
        object.__setattr__(self, "label", operator.index(self.label))
        object.__setattr__(self, "erase", bool(self.erase))
        object.__setattr__(self, "fill", bool(self.fill))

    def to_dict(self):
        """JSON-able dict (exact: replaying it reproduces the stroke bit for bit)."""
        return {"points": [[x, y] for x, y in self.points], "radius": self.radius,
                "label": self.label, "hardness": self.hardness, "erase": self.erase, "fill": self.fill}

    @classmethod
    def from_dict(cls, d):
        """Inverse of :meth:`to_dict`; raises ValueError on missing or bad fields."""
        if not isinstance(d, dict):
            raise ValueError(f"a stroke must be a JSON object, got {type(d).__name__}")
        try:
            return cls(points=tuple(tuple(p) for p in d.get("points", ())), radius=d.get("radius", 1.0),
                       label=d["label"], hardness=d.get("hardness", 1.0), erase=d.get("erase", False),
                       fill=d.get("fill", False))
        except KeyError as exc:
            raise ValueError(f"stroke is missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bad stroke {d!r}: {exc}") from None


def _falloff(distance, radius, hardness):
    """Brush alpha at ``distance`` from the stroke's spine (float32, in [0, 1])."""
    width = max(1.0, (1.0 - hardness) * radius)
    s = numpy.clip((radius - distance) / numpy.float32(width), 0.0, 1.0)
    if hardness < 1.0:
        s = s * s * (3.0 - 2.0 * s)
    return s.astype(numpy.float32, copy=False)


def _segment_box(a, b, radius, shape):
    """Rows/cols ``(r0, r1, c0, c1)`` of the pixels a segment's brush can touch, or None."""
    h, w = shape
    r0 = max(int(math.floor(min(a[1], b[1]) - radius)), 0)
    r1 = min(int(math.ceil(max(a[1], b[1]) + radius)) + 1, h)
    c0 = max(int(math.floor(min(a[0], b[0]) - radius)), 0)
    c1 = min(int(math.ceil(max(a[0], b[0]) + radius)) + 1, w)
    if r0 >= r1 or c0 >= c1:
        return None
    return r0, r1, c0, c1


def _paint_segment(alpha, a, b, radius, hardness):
    """``alpha = max(alpha, brush along a-b)`` in place; returns the touched box or None."""
    box = _segment_box(a, b, radius, alpha.shape)
    if box is None:
        return None
    r0, r1, c0, c1 = box
    ys = numpy.arange(r0, r1, dtype=numpy.float32)[:, None]
    xs = numpy.arange(c0, c1, dtype=numpy.float32)[None, :]
    ax, ay = numpy.float32(a[0]), numpy.float32(a[1])
    dx, dy = numpy.float32(b[0] - a[0]), numpy.float32(b[1] - a[1])
    length2 = float(dx * dx + dy * dy)
    if length2 > 0:
        t = numpy.clip(((xs - ax) * dx + (ys - ay) * dy) / numpy.float32(length2), 0.0, 1.0)
        px, py = xs - ax - t * dx, ys - ay - t * dy
    else:
        px, py = xs - ax, ys - ay
    dist = numpy.sqrt(px * px + py * py)
    region = alpha[r0:r1, c0:c1]
    numpy.maximum(region, _falloff(dist, radius, hardness), out=region)
    return box


def _union(box, other):
    if box is None:
        return other
    if other is None:
        return box
    return min(box[0], other[0]), max(box[1], other[1]), min(box[2], other[2]), max(box[3], other[3])


def stroke_alpha(stroke, size):
    """The alpha mask of a stroke.

    Parameters
    ----------
    stroke : Stroke
    size : int or (int, int)
        Canvas size ``(H, W)``.

    Returns
    -------
    numpy.ndarray (H, W) float32 in [0, 1]
        1 everywhere for a fill.
    """
    h, w = maps.as_size(size)
    if stroke.fill:
        return numpy.ones((h, w), numpy.float32)
    alpha = numpy.zeros((h, w), numpy.float32)
    pts = stroke.points
    segments = zip(pts, pts[1:]) if len(pts) > 1 else [(pts[0], pts[0])]
    for a, b in segments:
        _paint_segment(alpha, a, b, stroke.radius, stroke.hardness)
    return alpha


# ----------------------------------------------------------------------------------------------------
# the canvas

class LabelPainter:
    """A canvas of soft labels painted with brush strokes, with undo/redo.

    Parameters
    ----------
    n_labels : int
        Number of labels ``K`` (classes, or latent streams for blend painting).
    size : int or (int, int)
        Canvas size ``(H, W)`` in pixels, normally the generator's resolution.
    base_label : int
        The label of unpainted pixels; the eraser paints it.
    checkpoint_every : int
        Keep a copy of the map every this many strokes so that undo replays at most that many.

    Only the labels actually used are stored (memory ``O(used labels x H x W)``, not ``K x H x W``).
    Mouse-style use: :meth:`begin`, :meth:`extend` (any number), :meth:`end`; :attr:`weights` shows the
    stroke in progress.  Scripted use: :meth:`add_stroke`.

    Examples
    --------
    >>> p = LabelPainter(4, 32, base_label=1)
    >>> p.begin(5, 5, label=2, radius=3); _ = p.extend(20, 5); stroke = p.end()
    >>> int(p.label_image()[5, 12]), int(p.label_image()[20, 20])
    (2, 1)
    """

    def __init__(self, n_labels, size, *, base_label=0, checkpoint_every=32):
        self.n_labels = maps.positive_int(n_labels, "n_labels")
        self.size = maps.as_size(size)
        self.base_label = maps.class_index(base_label, self.n_labels, "base_label", what="label")
        self.checkpoint_every = maps.positive_int(checkpoint_every, "checkpoint_every")
        self._strokes = []
        self._redo = []
        self._labels, self._weights = self._blank()
        self._checkpoints = {0: (list(self._labels), self._weights.copy())}
        self._active = None
        self._version = 0

    def __repr__(self):
        return (f"LabelPainter(n_labels={self.n_labels}, size={self.size[0]}x{self.size[1]}, "
                f"base_label={self.base_label}, strokes={len(self._strokes)})")

    # -------------------------------------------------------------- state
    @property
    def strokes(self):
        """The committed strokes, oldest first (tuple of :class:`Stroke`)."""
        return tuple(self._strokes)

    @property
    def version(self):
        """A counter that changes whenever the committed map changes (for caches)."""
        return self._version

    @property
    def can_undo(self):
        return bool(self._strokes)

    @property
    def can_redo(self):
        return bool(self._redo)

    @property
    def drawing(self):
        """True while a stroke is in progress."""
        return self._active is not None

    @property
    def is_blank(self):
        """True when every pixel has all its weight on the base label."""
        return bool((self._weights[0] == 1).all())

    def used_labels(self):
        """Labels with any weight, sorted (list of int)."""
        return sorted(lab for lab, plane in zip(self._labels, self._weights) if plane.any())

    def weights(self, *, include_active=True):
        """Compact weights: ``(labels, planes)``.

        Returns
        -------
        labels : list of int
            The label of every plane (the base label first).
        planes : numpy.ndarray (len(labels), H, W) float32
            Non-negative, summing to 1 per pixel.  A copy when a stroke is in progress and
            ``include_active``, otherwise the canvas's own array (do not modify it).
        """
        if include_active and self._active is not None and self._active["box"] is not None:
            labels, planes = list(self._labels), self._weights.copy()
            planes = self._composite(labels, planes, self._active_stroke(), self._active["alpha"],
                                     self._active["box"])
            return labels, planes
        return list(self._labels), self._weights

    def class_map(self, *, include_active=False):
        """The painted map.

        Returns
        -------
        numpy.ndarray (1, n_labels, H, W) float32
            Normalised (weights in [0, 1] summing to 1 per pixel).
        """
        labels, planes = self.weights(include_active=include_active)
        m = numpy.zeros((1, self.n_labels) + self.size, numpy.float32)
        for label, plane in zip(labels, planes):
            m[0, label] += plane
        return maps.normalize_map(m)

    def label_image(self, *, include_active=False):
        """Per pixel the label with the most weight: ``(H, W)`` int64."""
        labels, planes = self.weights(include_active=include_active)
        return numpy.asarray(labels, numpy.int64)[planes.argmax(axis=0)]

    def painted_alpha(self, *, include_active=False):
        """How much of each pixel is painted (not the base label): ``(H, W)`` float32 in [0, 1]."""
        _, planes = self.weights(include_active=include_active)
        return numpy.clip(1.0 - planes[0], 0.0, 1.0).astype(numpy.float32)

    # -------------------------------------------------------------- mouse-style painting
    def begin(self, x, y, *, label, radius, hardness=1.0, erase=False):
        """Start a stroke at ``(x, y)`` (an unfinished stroke is committed first)."""
        if self._active is not None:
            self.end()
        stroke = Stroke(points=((x, y),), radius=radius, label=label, hardness=hardness, erase=erase)
        self._check_label(stroke)
        self._active = {"points": [stroke.points[0]], "radius": stroke.radius, "label": stroke.label,
                        "hardness": stroke.hardness, "erase": stroke.erase,
                        "alpha": numpy.zeros(self.size, numpy.float32), "box": None}
        a = stroke.points[0]
        self._active["box"] = _paint_segment(self._active["alpha"], a, a, stroke.radius, stroke.hardness)

    def extend(self, x, y):
        """Continue the stroke in progress to ``(x, y)``; returns the touched box ``(r0, r1, c0, c1)`` or
        None.  Ignored when no stroke is in progress."""
        act = self._active
        if act is None:
            return None
        x, y = float(x), float(y)
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        a = act["points"][-1]
        if (x, y) == a:
            return None
        act["points"].append((x, y))
        box = _paint_segment(act["alpha"], a, (x, y), act["radius"], act["hardness"])
        act["box"] = _union(act["box"], box)
        return box

    def end(self):
        """Commit the stroke in progress; returns it (None when there was none)."""
        act = self._active
        if act is None:
            return None
        self._active = None
        stroke = Stroke(points=tuple(act["points"]), radius=act["radius"], label=act["label"],
                        hardness=act["hardness"], erase=act["erase"])
        self._commit(stroke, act["alpha"], act["box"])
        return stroke

    def cancel(self):
        """Drop the stroke in progress."""
        self._active = None

    # -------------------------------------------------------------- scripted painting
    def add_stroke(self, points=None, *, label=None, radius=None, hardness=1.0, erase=False, stroke=None):
        """Paint and commit a whole stroke.

        Parameters
        ----------
        points : sequence of (x, y)
            Canvas pixels; ignored when ``stroke`` is given.
        label : int
            Required unless ``erase`` or ``stroke``.
        radius, hardness, erase
            See :class:`Stroke`.
        stroke : Stroke, optional
            A ready-made stroke (e.g. from a recipe).

        Returns
        -------
        Stroke
        """
        if stroke is None:
            if label is None:
                if not erase:
                    raise ValueError("add_stroke needs label= (or erase=True)")
                label = self.base_label
            stroke = Stroke(points=tuple(points), radius=radius, label=label, hardness=hardness, erase=erase)
        self._check_label(stroke)
        if self._active is not None:
            self.end()
        alpha = stroke_alpha(stroke, self.size)
        self._commit(stroke, alpha, self._box_of(alpha, stroke))
        return stroke

    def fill(self, label):
        """Fill the whole canvas with ``label`` (undoable)."""
        return self.add_stroke(stroke=Stroke(points=(), radius=1.0, label=label, fill=True))

    def clear(self):
        """Return every pixel to the base label (undoable; a no-op on a blank canvas)."""
        if self.is_blank and self._active is None:
            return None
        return self.add_stroke(stroke=Stroke(points=(), radius=1.0, label=self.base_label, erase=True,
                                             fill=True))

    def undo(self):
        """Undo the last stroke; returns it (None when there is nothing to undo)."""
        self.cancel()
        if not self._strokes:
            return None
        stroke = self._strokes.pop()
        self._redo.append(stroke)
        self._rebuild()
        return stroke

    def redo(self):
        """Redo the last undone stroke; returns it (None when there is nothing to redo)."""
        self.cancel()
        if not self._redo:
            return None
        stroke = self._redo.pop()
        alpha = stroke_alpha(stroke, self.size)
        self._apply(stroke, alpha, self._box_of(alpha, stroke))
        return stroke

    def replay(self, strokes):
        """Add several strokes (:class:`Stroke` or their dicts) in order."""
        for s in strokes:
            self.add_stroke(stroke=s if isinstance(s, Stroke) else Stroke.from_dict(s))

    # -------------------------------------------------------------- serialisation
    def to_dict(self):
        """JSON-able description: size, labels, base label and the committed strokes."""
        return {"size": list(self.size), "n_labels": self.n_labels, "base_label": self.base_label,
                "strokes": [s.to_dict() for s in self._strokes]}

    @classmethod
    def from_dict(cls, d):
        """Rebuild a painter (its map is identical to the original's)."""
        if not isinstance(d, dict):
            raise ValueError(f"a canvas must be a JSON object, got {type(d).__name__}")
        try:
            painter = cls(d["n_labels"], tuple(d["size"]), base_label=d.get("base_label", 0))
        except KeyError as exc:
            raise ValueError(f"canvas is missing field {exc.args[0]!r}") from None
        painter.replay(d.get("strokes", []))
        return painter

    # -------------------------------------------------------------- internals
    def _blank(self):
        return [self.base_label], numpy.ones((1,) + self.size, numpy.float32)

    def _check_label(self, stroke):
        if not stroke.erase and not 0 <= stroke.label < self.n_labels:
            raise ValueError(f"label {stroke.label} is not valid (valid: 0-{self.n_labels - 1})")

    def _active_stroke(self):
        act = self._active
        return Stroke(points=tuple(act["points"]), radius=act["radius"], label=act["label"],
                      hardness=act["hardness"], erase=act["erase"])

    def _box_of(self, alpha, stroke):
        if stroke.fill:
            return 0, self.size[0], 0, self.size[1]
        rows, cols = numpy.nonzero(alpha)
        if not rows.size:
            return None
        return int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1

    def _composite(self, labels, planes, stroke, alpha, box):
        """Composite ``stroke`` with ``alpha`` over ``(labels, planes)`` in place; returns the planes
        (a new array when a plane had to be added)."""
        if box is None:
            return planes
        label = self.base_label if stroke.erase else stroke.label
        if label not in labels:
            labels.append(label)
            planes = numpy.concatenate([planes, numpy.zeros((1,) + self.size, numpy.float32)])
        channel = labels.index(label)
        r0, r1, c0, c1 = box
        a = alpha[r0:r1, c0:c1]
        region = planes[:, r0:r1, c0:c1]
        region *= (1.0 - a)[None]
        region[channel] += a
        return planes

    def _apply(self, stroke, alpha, box):
        self._weights = self._composite(self._labels, self._weights, stroke, alpha, box)
        self._strokes.append(stroke)
        n = len(self._strokes)
        if n % self.checkpoint_every == 0:
            self._checkpoints[n] = (list(self._labels), self._weights.copy())
        self._version += 1

    def _commit(self, stroke, alpha, box):
        self._redo.clear()
        n = len(self._strokes)
        for key in [k for k in self._checkpoints if k > n]:
            del self._checkpoints[key]
        self._apply(stroke, alpha, box)

    def _rebuild(self):
        n = len(self._strokes)
        start = max(k for k in self._checkpoints if k <= n)
        labels, planes = self._checkpoints[start]
        self._labels, self._weights = list(labels), planes.copy()
        for stroke in self._strokes[start:n]:
            alpha = stroke_alpha(stroke, self.size)
            self._weights = self._composite(self._labels, self._weights, stroke, alpha,
                                            self._box_of(alpha, stroke))
        for key in [k for k in self._checkpoints if k > n]:
            del self._checkpoints[key]
        self._version += 1


# ----------------------------------------------------------------------------------------------------
# from canvases to generator inputs

def blend_layer_maps(stream_map, resolutions, *, layers="all", attribute_alpha=None, attribute_layers="all"):
    """Feature-blending maps from a painted stream map, and optionally an attribute region.

    Same per-layer semantics as :func:`neuralcollage.maps.blend_maps_from_masks`: selected blend layers
    replace the target stream by the painted mixture of latent streams; unselected layers keep the target
    (channel ``-1``), except layer 0 where the target is still zero and stream 0 is used.

    With ``attribute_alpha`` the result has one more latent stream, ``S`` (the moved latent
    ``z + a * u``), before the target: at every selected attribute layer it takes the attribute alpha times
    the weight of stream 0 from stream 0 (or, at layers that keep the target, from the target): attribute
    painting moves the image's own latent; where blend painting shows another latent, that latent stays.
    When the stream map is all stream 0 (nothing blended), the attribute layers mix stream 0 and the moved
    latent, exactly like :func:`neuralcollage.axes.local_edit`: with a last attribute layer at the output
    resolution, pixels farther than a pixel from the painted alpha keep the unedited features.  The same holds with
    blending when the attribute layers are among the blend layers; an attribute layer that is not a blend
    layer is composited over the target stream, so there the change may spread slightly beyond the alpha.

    Parameters
    ----------
    stream_map : numpy.ndarray (1, S, H, W)
        Normalised weights over the ``S`` latent streams (e.g. :meth:`LabelPainter.class_map`).
    resolutions : sequence of int
        The generator's ``blend_resolutions``.
    layers : layer spec
        Blend layers that get ``stream_map`` (see :func:`neuralcollage.maps.parse_layers`).
    attribute_alpha : numpy.ndarray (H, W), optional
        Float in [0, 1]: where the attribute moves (:meth:`LabelPainter.painted_alpha` of an attribute
        canvas).
    attribute_layers : layer spec
        Blend layers that blend the moved latent in.

    Returns
    -------
    list of numpy.ndarray (1, S + 1, h_l, w_l) float32, or (1, S + 2, h_l, w_l) with ``attribute_alpha``
        Normalised per pixel; channel ``-1`` is the target stream.
    """
    stream_map = maps.validate_map(stream_map, name="stream map")
    n, s = stream_map.shape[:2]
    if attribute_alpha is None:
        return _stream_layer_maps(stream_map, resolutions, layers)
    alpha = numpy.clip(numpy.asarray(attribute_alpha, numpy.float32), 0.0, 1.0)
    if alpha.shape != stream_map.shape[2:] or n != 1:
        raise ValueError(f"attribute alpha has shape {alpha.shape}; the stream map is {stream_map.shape} "
                         "(one sample, same (H, W))")
    selected = set(maps.parse_layers(attribute_layers, len(resolutions)))
    own = stream_map[0, 0]
    blended = float(own.min()) < 1.0
    base = _stream_layer_maps(stream_map, resolutions, layers if blended else attribute_layers)
    alpha = (alpha * own)[None, None]
    result = []
    for i, (m, res) in enumerate(zip(base, resolutions)):
        out = numpy.concatenate([m[:, :s], numpy.zeros((n, 1) + m.shape[2:], numpy.float32), m[:, s:]], axis=1)
        if i in selected:
            a = maps.resize_map(alpha, res)[:, 0]
            own_share = numpy.minimum(a, out[:, 0])
            out[:, 0] -= own_share
            out[:, -1] -= a - own_share
            out[:, s] += a
            out = maps.normalize_map(out)
        result.append(out)
    return result


def _stream_layer_maps(stream_map, resolutions, layers):
    n, s = stream_map.shape[:2]
    selected = set(maps.parse_layers(layers, len(resolutions)))
    result = []
    for i, res in enumerate(resolutions):
        if i in selected:
            m = numpy.zeros((n, s + 1) + maps.as_size(res), numpy.float32)
            m[:, :s] = maps.resize_map(stream_map, res)
            result.append(maps.normalize_map(m))
        else:
            result.append(maps.one_hot_map(numpy.full(n, 0 if i == 0 else s), s + 1, res))
    return result


def attribute_latent(z, direction, amount):
    """The moved latent of attribute painting: ``z + amount * direction`` (``(1, dim_z)`` float32 NumPy).

    Parameters
    ----------
    z : array (1, dim_z) or (dim_z,)
    direction : array (dim_z,) or :class:`neuralcollage.axes.Axis`
        A unit latent direction.
    amount : float
        In latent standard deviations along the direction.
    """
    from neuralcollage.axes import Axis, move_global
    from neuralcollage.backend import to_numpy

    z = numpy.asarray(to_numpy(z), numpy.float32).reshape(1, -1)
    direction = direction if isinstance(direction, Axis) else numpy.asarray(direction, numpy.float32)
    return numpy.asarray(move_global(z, direction, check_amount(amount)), numpy.float32)


def check_amount(amount):
    """An attribute amount as a finite float (ValueError otherwise)."""
    try:
        value = float(amount)
    except (TypeError, ValueError):
        raise ValueError(f"attribute amount must be a finite number, got {amount!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"attribute amount must be a finite number, got {amount!r}")
    return value


def attribute_canvas(size):
    """A blank attribute canvas: two labels (0 unchanged, :data:`ATTRIBUTE_LABEL` moved), base label 0."""
    return LabelPainter(2, size, base_label=0)


def render_painting(generator, *, z, class_map=None, base_class, class_layers="all", z_streams=None,
                    stream_map=None, blend_layers="all", attribute_z=None, attribute_alpha=None,
                    attribute_layers="all"):
    """Generate the image of a painting: sCBN class map and, optionally, feature blending and attribute
    painting.

    Parameters
    ----------
    generator : neuralcollage.models.Generator
    z : array (1, dim_z)
        Latent of the image (blend stream 0).
    class_map : numpy.ndarray (1, K, H, W), optional
        Painted class map (normalised); None or a blank map means ``base_class`` everywhere.
    base_class : int
        Class of the unselected class layers (and of everything when ``class_map`` is None).
    class_layers : layer spec
        Class layers that get ``class_map``.
    z_streams : sequence of array (1, dim_z), optional
        The other latent streams (stream 1, 2, ...) for feature blending.
    stream_map : numpy.ndarray (1, S, H, W), optional
        Painted weights over the ``S = 1 + len(z_streams)`` streams; None or all weight on stream 0 means
        no blending.
    blend_layers : layer spec
        Blend layers that get ``stream_map``.
    attribute_z : array (1, dim_z), optional
        The moved latent of attribute painting (:func:`attribute_latent`).
    attribute_alpha : numpy.ndarray (H, W), optional
        Where the attribute moves, float in [0, 1]; None or all zero means no attribute painting.
    attribute_layers : layer spec
        Blend layers that blend ``attribute_z`` in (see :func:`blend_layer_maps`).

    Returns
    -------
    numpy.ndarray (H, W, 3) uint8
        The generator's image (test-mode batch norm, no backprop).  The class map conditions every stream.
    """
    import chainer

    from neuralcollage.io import from_model
    from neuralcollage.backend import to_numpy

    g = generator
    base_class = maps.class_index(base_class, g.n_classes, "base_class")
    if class_map is None or (maps.is_spatially_uniform(class_map)
                             and float(class_map[0, base_class, 0, 0]) == 1.0):
        y = base_class
    else:
        y = maps.layer_maps(class_map, g.class_map_resolutions, layers=class_layers, base=base_class)
    streams = list(z_streams or [])
    blend = stream_map is not None and bool(streams) and float(stream_map[:, 0].min()) < 1.0
    attribute = attribute_z is not None and attribute_alpha is not None and \
        float(numpy.max(attribute_alpha)) > 0.0
    zs, blend_maps = [z], None
    if attribute:
        if not blend:
            streams, stream_map = [], numpy.ones((1, 1, g.resolution, g.resolution), numpy.float32)
        blend_maps = blend_layer_maps(stream_map, g.blend_resolutions, layers=blend_layers,
                                      attribute_alpha=attribute_alpha, attribute_layers=attribute_layers)
        zs = [z] + streams + [attribute_z]
    elif blend:
        blend_maps = blend_layer_maps(stream_map, g.blend_resolutions, layers=blend_layers)
        zs = [z] + streams
    if blend_maps is not None and all(float(m[:, -1].min()) == 1.0 for m in blend_maps[1:]) and \
            float(blend_maps[0][:, 0].min()) == 1.0:
        blend_maps = None
    if getattr(g, "feature_offset", None) is not None:
        from neuralcollage.reconstruction import fade_offset
        g = fade_offset(g, _changed_region(class_map, base_class, stream_map if blend else None,
                                           attribute_alpha if attribute else None))
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        if blend_maps is not None:
            x = g.blend(zs, y, blend_maps)
        else:
            x = g.forward(z, y)
    return from_model(to_numpy(x.array))[0]


def _changed_region(class_map, base_class, stream_map, attribute_alpha):
    """Where a painting departs from the photo it was fitted to, ``(H, W)`` float32 in ``[0, 1]`` (None:
    nowhere): another class than ``base_class``, weight off stream 0, attribute strokes."""
    parts = []
    if class_map is not None:
        parts.append(1.0 - numpy.asarray(class_map, numpy.float32)[0, base_class])
    if stream_map is not None:
        parts.append(1.0 - numpy.asarray(stream_map, numpy.float32)[0, 0])
    if attribute_alpha is not None:
        parts.append(numpy.asarray(attribute_alpha, numpy.float32))
    if not parts:
        return None
    size = max(p.shape[0] for p in parts)
    return functools.reduce(numpy.maximum, [maps.resize_mask(p, size) if p.shape[0] != size else p
                                            for p in parts])


# ----------------------------------------------------------------------------------------------------
# recipes

def painting_recipe(*, model, z, class_canvas, class_layers, z_streams=(), stream_canvas=None,
                    blend_layers="all", class_names=None, photo=None, extra=None, attribute_canvas=None,
                    attribute_axis=None, attribute_amount=0.0, attribute_layers="all", style=None):
    """A replayable JSON-able description of a painting.

    Parameters
    ----------
    model : dict
        ``{"name": ..., "arch": ..., "sha256": ...}`` identifying the generator (free form; recorded).
    z : array (1, dim_z)
    class_canvas : LabelPainter
        Class painting (its base label is the base class).
    class_layers : layer spec
    z_streams : sequence of array (1, dim_z)
        Latent streams 1, 2, ... of feature blending.
    stream_canvas : LabelPainter, optional
        Stream painting (labels are streams 0 .. S-1).
    blend_layers : layer spec
    class_names : sequence of str, optional
        Names of the classes, recorded for humans.
    photo : dict, optional
        For projected photos: ``{"box": [top, left, side], "source_class": int, "poisson": mode,
        "dilate": int, "projection": {...}}``, ``"seam"`` when it is not ``"fixed"`` and ``"colour_reach"``
        when it is set.
    extra : dict, optional
        Anything else to record.
    attribute_canvas : LabelPainter, optional
        Attribute painting (:func:`attribute_canvas`); recorded with the axis when it has strokes.
    attribute_axis : neuralcollage.axes.Axis, optional
        The axis it moves (name, class and direction are recorded, so replay needs no axes file).
    attribute_amount : float
    attribute_layers : layer spec
    style : dict, optional
        The style painting's entry (:meth:`neuralcollage.stylize.StyleSession.recipe_entry`,
        :mod:`neuralcollage.stylize.recipe`); recorded when its canvas has strokes.

    Returns
    -------
    dict
        ``kind`` = :data:`RECIPE_KIND`, ``version``, ``model``, ``z``, ``base_class``, ``class_layers``,
        ``class_canvas``, ``z_streams``, ``blend_layers``, ``stream_canvas`` and optionally ``photo``,
        ``attribute`` (``axis``, ``attribute``, ``class_id``, ``decorrelated_from``, ``direction``
        (dim_z floats), ``amount``, ``layers``, ``canvas``) and ``style``.  Version 3 with ``style``, else 2
        with ``attribute``, else 1.
    """
    recipe = {
        "kind": RECIPE_KIND, "version": RECIPE_VERSION, "model": dict(model),
        "z": _latent_list(z), "base_class": class_canvas.base_label,
        "class_layers": class_layers if isinstance(class_layers, str) else list(class_layers),
        "class_canvas": class_canvas.to_dict(),
        "z_streams": [_latent_list(v) for v in z_streams],
        "blend_layers": blend_layers if isinstance(blend_layers, str) else list(blend_layers),
        "stream_canvas": stream_canvas.to_dict() if stream_canvas is not None else None,
    }
    if class_names is not None:
        used = class_canvas.used_labels()
        recipe["class_names"] = {str(i): str(class_names[i]) for i in used}
    if photo is not None:
        recipe["photo"] = dict(photo)
    if extra:
        recipe["extra"] = dict(extra)
    if attribute_canvas is not None and attribute_canvas.strokes:
        if attribute_axis is None:
            raise ValueError("an attribute painting needs attribute_axis= (the axis it moves)")
        amount = check_amount(attribute_amount)
        recipe["version"] = 2
        recipe["attribute"] = {
            "axis": str(attribute_axis.name), "attribute": str(attribute_axis.attribute),
            "class_id": None if attribute_axis.class_id is None else int(attribute_axis.class_id),
            "decorrelated_from": list(attribute_axis.decorrelated_from),
            "direction": [float(v) for v in numpy.asarray(attribute_axis.direction, numpy.float32)],
            "amount": amount,
            "layers": attribute_layers if isinstance(attribute_layers, str) else list(attribute_layers),
            "canvas": attribute_canvas.to_dict()}
    else:
        recipe["version"] = 1
    if style is not None and style.get("canvas", {}).get("strokes"):
        from neuralcollage.stylize.recipe import check_style_entry
        recipe["style"] = check_style_entry(dict(style), size=class_canvas.size)
        recipe["version"] = 3
    json.dumps(recipe)
    return recipe


def check_recipe(recipe, generator=None):
    """Validate a painting recipe (dict or JSON text); returns the dict.

    Raises
    ------
    ValueError
        Not a painting recipe, a newer version, or latents/canvases that do not fit ``generator``.
    """
    from neuralcollage.io import json_depth
    from neuralcollage.limits import RECIPE_MAX_BYTES, RECIPE_MAX_DEPTH
    if isinstance(recipe, (str, bytes)):
        if len(recipe) > RECIPE_MAX_BYTES:
            raise ValueError(f"painting recipe is {len(recipe):,} bytes; recipes may hold at most "
                             f"{RECIPE_MAX_BYTES:,}")
        try:
            recipe = json.loads(recipe)
        except json.JSONDecodeError as exc:
            raise ValueError(f"recipe is not valid JSON: {exc}") from None
        except RecursionError:
            raise ValueError(f"painting recipe nests deeper than {RECIPE_MAX_DEPTH} levels") from None
    if json_depth(recipe) > RECIPE_MAX_DEPTH:
        raise ValueError(f"painting recipe nests deeper than {RECIPE_MAX_DEPTH} levels")
    if not isinstance(recipe, dict) or recipe.get("kind") != RECIPE_KIND:
        raise ValueError(f"not a painting recipe (kind must be {RECIPE_KIND!r})")
    if not isinstance(recipe.get("version"), int) or recipe["version"] > RECIPE_VERSION:
        raise ValueError(f"painting recipe version {recipe.get('version')!r} is not supported "
                         f"(this version reads up to {RECIPE_VERSION})")
    for key in ("z", "base_class", "class_layers", "class_canvas"):
        if key not in recipe:
            raise ValueError(f"painting recipe is missing {key!r}")
    if generator is not None:
        z = numpy.asarray(recipe["z"], numpy.float32)
        if z.shape != (1, generator.dim_z):
            raise ValueError(f"recipe latent has shape {z.shape}; the generator takes (1, {generator.dim_z})")
        canvas = recipe["class_canvas"]
        if canvas.get("n_labels") != generator.n_classes:
            raise ValueError(f"recipe was painted with {canvas.get('n_labels')} classes; the generator has "
                             f"{generator.n_classes}")
        if tuple(canvas.get("size", ())) != (generator.resolution, generator.resolution):
            raise ValueError(f"recipe canvas is {canvas.get('size')} but the generator makes "
                             f"{generator.resolution}x{generator.resolution} images")
    if recipe.get("attribute") is not None:
        _check_attribute(recipe["attribute"], generator)
    if recipe.get("style") is not None:
        from neuralcollage.stylize.recipe import check_style_entry
        size = tuple(recipe["class_canvas"].get("size", ())) if isinstance(recipe["class_canvas"], dict) else None
        check_style_entry(recipe["style"], size=size)
    return recipe


def _check_attribute(attr, generator):
    if not isinstance(attr, dict):
        raise ValueError("recipe attribute must be a JSON object")
    for key in ("axis", "direction", "amount", "canvas"):
        if key not in attr:
            raise ValueError(f"recipe attribute is missing {key!r}")
    try:
        direction = numpy.asarray(attr["direction"], numpy.float64)
        amount = float(attr["amount"])
    except (TypeError, ValueError):
        raise ValueError("recipe attribute direction and amount must be numbers") from None
    if direction.ndim != 1 or not numpy.isfinite(direction).all() or not math.isfinite(amount):
        raise ValueError("recipe attribute needs a finite 1-D direction and a finite amount")
    canvas = attr["canvas"]
    if not isinstance(canvas, dict) or canvas.get("n_labels") != 2:
        raise ValueError("recipe attribute canvas must have 2 labels (unchanged, moved)")
    if generator is not None:
        if direction.shape != (generator.dim_z,):
            raise ValueError(f"recipe attribute direction has {direction.shape[0]} entries; the generator's "
                             f"latents have {generator.dim_z}")
        if tuple(canvas.get("size", ())) != (generator.resolution, generator.resolution):
            raise ValueError(f"recipe attribute canvas is {canvas.get('size')} but the generator makes "
                             f"{generator.resolution}x{generator.resolution} images")


def replay_recipe(recipe, generator, *, photo=None, exemplars=None, exemplar_paths=None, base_dir=None):
    """Reproduce a painting from its recipe.

    Parameters
    ----------
    recipe : dict or str
        From :func:`painting_recipe` (or its JSON text).
    generator : neuralcollage.models.Generator
    photo : numpy.ndarray (H, W, 3) uint8, optional
        The original photo, for recipes of projected photos: the edit is then Poisson-blended back (and a
        photo painted on a fitted generator is fitted again, as :meth:`Painter.from_photo` did).
    exemplars, exemplar_paths, base_dir
        For a recipe with style painting: exemplars by name that replace the recorded ones (needed for those
        given in code), new places of exemplar files, the folder relative paths are in
        (:func:`neuralcollage.stylize.recipe.resolve_exemplar`).

    Returns
    -------
    numpy.ndarray (H, W, 3) uint8
        The generated image (for a photo recipe with ``photo``: the blended full-resolution photo).
        Attribute paintings are rebuilt from the recorded direction and amount (no axes file needed); style
        paintings stylise the generator's image inside their canvas, bit for bit as the painter's preview.

    Raises
    ------
    ValueError
        A malformed recipe; :class:`neuralcollage.stylize.recipe.StyleRecipeError` (a ValueError) for a style
        exemplar file that is missing or changed (one line).
    """
    recipe = check_recipe(recipe, generator)
    generator = _fitted(recipe, generator, photo)
    class_canvas = LabelPainter.from_dict(recipe["class_canvas"])
    streams = [numpy.asarray(v, numpy.float32) for v in recipe.get("z_streams", [])]
    stream_canvas = recipe.get("stream_canvas")
    stream_canvas = LabelPainter.from_dict(stream_canvas) if stream_canvas else None
    z = numpy.asarray(recipe["z"], numpy.float32)
    attr = recipe.get("attribute")
    attr_canvas, attr_kwargs = None, {}
    if attr is not None:
        attr_canvas = LabelPainter.from_dict(attr["canvas"])
        attr_kwargs = dict(attribute_z=attribute_latent(z, numpy.asarray(attr["direction"], numpy.float32),
                                                        attr["amount"]),
                           attribute_alpha=attr_canvas.painted_alpha(), attribute_layers=attr.get("layers", "all"))
    image = render_painting(
        generator, z=z, class_map=class_canvas.class_map(),
        base_class=recipe["base_class"], class_layers=recipe["class_layers"], z_streams=streams,
        stream_map=stream_canvas.class_map() if stream_canvas is not None else None,
        blend_layers=recipe.get("blend_layers", "all"), **attr_kwargs)
    style_canvas = None
    if recipe.get("style") is not None:
        from neuralcollage.stylize.recipe import apply_style_entry
        style_canvas = LabelPainter.from_dict(recipe["style"]["canvas"])
        image = apply_style_entry(image, recipe["style"], style_canvas.painted_alpha(), exemplars=exemplars,
                                  exemplar_paths=exemplar_paths, base_dir=base_dir)
    if photo is None or "photo" not in recipe:
        return image
    info = recipe["photo"]
    mask = edit_mask(class_canvas, stream_canvas, attr_canvas, style_canvas)
    return composite_photo(photo, image, mask, tuple(info["box"]), mode=info.get("poisson", "normal"),
                           dilate=info.get("dilate", 8), seam=info.get("seam", "fixed"),
                           colour_reach=info.get("colour_reach"))


def _fitted(recipe, generator, photo):
    """The generator of a photo painting that was fitted to its photo (``recipe["photo"]["reconstruction"]``):
    the fit is made again from the photo's crop, the recorded latent and options (bit for bit on the CPU).
    Without the photo, or for other recipes, ``generator`` itself."""
    info = recipe.get("photo")
    entry = info.get("reconstruction") if isinstance(info, dict) else None
    from neuralcollage.reconstruction import FIT_METHODS, FitOptions, fit_generator, fit_options
    if photo is None or not isinstance(entry, dict) or entry.get("method") not in FIT_METHODS:
        return generator
    from neuralcollage import blending
    try:
        options = fit_options(entry["method"], FitOptions.from_json(entry.get("fit")))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"painting recipe fit options: {exc}") from None
    crop = blending.crop_and_resize(numpy.asarray(photo), tuple(info["box"]), generator.resolution)
    z = numpy.asarray(recipe["z"], numpy.float32)
    return fit_generator(generator, crop, z, int(info["source_class"]), options=options).generator


def edit_mask(class_canvas, stream_canvas=None, attribute_canvas=None, style_canvas=None):
    """Where a painting changes the image: ``(H, W)`` float32 in [0, 1] (painted alpha of the canvases)."""
    mask = class_canvas.painted_alpha()
    for canvas in (stream_canvas, attribute_canvas, style_canvas):
        if canvas is not None:
            mask = numpy.maximum(mask, canvas.painted_alpha())
    return mask


def composite_photo(photo, edited_crop, crop_mask, box, *, mode="normal", dilate=8, seam="fixed",
                    colour_reach=None):
    """Poisson-blend an edited crop into the photo where the crop's mask is painted.

    Parameters
    ----------
    photo : numpy.ndarray (H, W, 3) uint8
    edited_crop : numpy.ndarray (R, R, 3) uint8
    crop_mask : numpy.ndarray (R, R) float in [0, 1]
        Painted area on the crop (:func:`edit_mask`).
    box : (top, left, side)
        Where the crop was cut from the photo.
    mode, dilate, seam, colour_reach
        See :func:`neuralcollage.blending.poisson_blend`.

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
                                  seam=seam, colour_reach=colour_reach)


def _latent_list(z):
    from neuralcollage.backend import to_numpy
    z = numpy.asarray(to_numpy(z), numpy.float32)
    if z.ndim == 1:
        z = z[None]
    return [[float(v) for v in row] for row in z]

"""The canvas of soft labels that brush strokes paint, with undo and redo (:class:`LabelPainter`).

A canvas's map is always the composite of its committed strokes, so replaying a painter's strokes reproduces its
map exactly.
"""
import math

import numpy

from neuralcollage import maps
from neuralcollage.painting.strokes import Stroke, paint_segment, stroke_alpha, union_box

__all__ = ["LabelPainter", "attribute_canvas", "ATTRIBUTE_LABEL"]

#: The label of attribute and style painting's canvases that moves (0 leaves the image unchanged).
ATTRIBUTE_LABEL = 1


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
        self._active["box"] = paint_segment(self._active["alpha"], a, a, stroke.radius, stroke.hardness)

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
        box = paint_segment(act["alpha"], a, (x, y), act["radius"], act["hardness"])
        act["box"] = union_box(act["box"], box)
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


def attribute_canvas(size):
    """A blank attribute canvas: two labels (0 unchanged, :data:`ATTRIBUTE_LABEL` moved), base label 0."""
    return LabelPainter(2, size, base_label=0)


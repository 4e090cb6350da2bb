"""Brush strokes and the alpha masks they paint (NumPy).

Stroke points are ``(x, y)`` canvas pixels (``x`` the column, ``y`` the row, pixel centres at integers); an alpha
mask is ``(H, W)`` float32 in ``[0, 1]``: 1 inside the brush, falling to 0 at its radius (``hardness`` 1 a hard
disc with a one-pixel anti-aliased edge, 0 a smooth falloff from the centre).
"""
import math
import operator
from dataclasses import dataclass

import numpy

from neuralcollage import maps

__all__ = ["Stroke", "stroke_alpha", "paint_segment", "union_box"]


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


def paint_segment(alpha, a, b, radius, hardness):
    """Paint one segment of a stroke: ``alpha = max(alpha, brush along a-b)`` in place.

    Parameters
    ----------
    alpha : numpy.ndarray (H, W) float32 in [0, 1]
        Modified in place.
    a, b : (float, float)
        The segment's ends, ``(x, y)`` canvas pixels (``a == b`` paints a dot).
    radius, hardness : float
        See :class:`Stroke`.

    Returns
    -------
    (r0, r1, c0, c1) or None
        The rows and columns the brush can touch, None when it misses the canvas.
    """
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


def union_box(box, other):
    """The smallest box ``(r0, r1, c0, c1)`` holding both boxes (None stands for an empty box)."""
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
        paint_segment(alpha, a, b, stroke.radius, stroke.hardness)
    return alpha


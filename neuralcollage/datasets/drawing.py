"""The shapes of the built-in data set's cartoon faces: polygons in face coordinates, each species' head,
ears, eyes and muzzle, and where its landmarks lie (:mod:`neuralcollage.datasets.faces` places a face in a
scene and renders it).

Face coordinates: the head's radius is about 1, ``x`` to the image's right, ``y`` down, faces symmetric about
``x = 0``.  Colours are RGB tuples in [0, 1].
"""
import colorsys
import math

import cv2
import numpy

__all__ = ["lerp", "rotation", "hsv", "draw_face", "face_landmarks"]

_SHIFT = 4
_ONE = 1 << _SHIFT
_OUTLINE = 0.07
_THIN = 0.035
_INK = (0.1, 0.07, 0.06)
_BLACK = (0.08, 0.08, 0.09)
_WHITE = (0.97, 0.96, 0.94)
_PINK = (0.96, 0.58, 0.64)


def lerp(a, b, t):
    return a + (b - a) * t


def _mix(c0, c1, t):
    return tuple(lerp(a, b, t) for a, b in zip(c0, c1))


def _scaled(colour, factor):
    return tuple(min(1.0, c * factor) for c in colour)


_UNIT_CIRCLE = numpy.stack([numpy.cos(numpy.linspace(0, 2 * math.pi, 48, endpoint=False)),
                            numpy.sin(numpy.linspace(0, 2 * math.pi, 48, endpoint=False))], axis=1)


def rotation(degrees):
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return numpy.array([[c, -s], [s, c]])


def _ellipse(cx, cy, rx, ry, angle=0.0):
    pts = _UNIT_CIRCLE * (rx, ry)
    if angle:
        pts = pts @ rotation(angle).T
    return pts + (cx, cy)


def _arc(cx, cy, rx, ry, start, stop, n=16):
    t = numpy.radians(numpy.linspace(start, stop, n))
    return numpy.stack([cx + rx * numpy.cos(t), cy + ry * numpy.sin(t)], axis=1)


def _lens(half_width, half_height, n=10):
    """Almond shape with pointed corners at ``(+-half_width, 0)``: two circular arcs."""
    radius = (half_width ** 2 + half_height ** 2) / (2 * half_height)
    x = numpy.linspace(-half_width, half_width, n)
    sag = numpy.sqrt(radius ** 2 - x ** 2) - (radius - half_height)
    return numpy.concatenate([numpy.stack([x, -sag], 1), numpy.stack([x[::-1], sag[::-1]], 1)[1:-1]])


def _place(pts, *, at=(0.0, 0.0), angle=0.0):
    return pts @ rotation(angle).T + at


def _mirror(pts):
    return pts * (-1.0, 1.0)


def _pair(pts):
    """The right-hand part and its mirror image (faces are symmetric about ``x = 0``)."""
    return pts, _mirror(pts)


class _Painter:
    """Fills polygons given in face coordinates (head radius about 1, y down) onto a canvas and masks."""

    def __init__(self, canvas, mask_size, affine, parts):
        self.canvas = canvas
        self.masks = {name: numpy.zeros((mask_size, mask_size), numpy.uint8) for name in parts}
        self._to_canvas = self._pixel_affine(affine, canvas.shape[0])
        self._to_mask = self._pixel_affine(affine, mask_size)
        self._pixels_per_unit = canvas.shape[0] * math.hypot(*affine[0, :2])

    @staticmethod
    def _pixel_affine(affine, size):
        out = affine * size
        out[:, 2] -= 0.5
        return out * _ONE

    @staticmethod
    def _points(pts, affine):
        return numpy.rint(pts @ affine[:, :2].T + affine[:, 2]).astype(numpy.int32)

    def _thickness(self, width):
        return max(1, int(round(width * self._pixels_per_unit)))

    def fill(self, colour, *polygons, outline=_OUTLINE, mask=None):
        """Fill with an RGB ``colour`` in [0, 1], outline ``outline`` units wide, add to ``mask``."""
        pts = [self._points(p, self._to_canvas) for p in polygons]
        cv2.fillPoly(self.canvas, pts, _rgb255(colour), cv2.LINE_AA, _SHIFT)
        if outline:
            cv2.polylines(self.canvas, pts, True, _rgb255(_INK), self._thickness(outline), cv2.LINE_AA,
                          _SHIFT)
        if mask is not None:
            self.mask(mask, *polygons)

    def outline(self, *polygons, width=_OUTLINE):
        pts = [self._points(p, self._to_canvas) for p in polygons]
        cv2.polylines(self.canvas, pts, True, _rgb255(_INK), self._thickness(width), cv2.LINE_AA, _SHIFT)

    def line(self, colour, *polylines, width=_THIN):
        pts = [self._points(p, self._to_canvas) for p in polylines]
        cv2.polylines(self.canvas, pts, False, _rgb255(colour), self._thickness(width), cv2.LINE_AA,
                      _SHIFT)

    def mask(self, name, *polygons):
        """Set the pixels whose centres lie inside ``polygons`` (``cv2.fillPoly`` adds half a pixel)."""
        pts = [numpy.rint(_inset(p @ self._to_mask[:, :2].T + self._to_mask[:, 2], 0.5 * _ONE)
                          ).astype(numpy.int32) for p in polygons]
        cv2.fillPoly(self.masks[name], pts, 1, cv2.LINE_8, _SHIFT)


def _inset(pts, distance):
    """Move the edges of a closed ``(n, 2)`` polygon ``distance`` inwards, with mitred vertices."""
    edges = numpy.roll(pts, -1, axis=0) - pts
    lengths = numpy.maximum(numpy.hypot(edges[:, 0], edges[:, 1]), 1e-12)
    normals = numpy.stack([-edges[:, 1], edges[:, 0]], axis=1) / lengths[:, None]
    before = numpy.roll(normals, 1, axis=0)
    miter = (normals + before) / numpy.maximum(1.0 + (normals * before).sum(1), 0.2)[:, None]
    signed_area = (pts[:, 0] * numpy.roll(pts[:, 1], -1) - numpy.roll(pts[:, 0], -1) * pts[:, 1]).sum()
    return pts + math.copysign(distance, signed_area) * miter


def _rgb255(colour):
    return (colour[0] * 255.0, colour[1] * 255.0, colour[2] * 255.0)


def hsv(h, s, v):
    return colorsys.hsv_to_rgb(h % 1.0, s, v)




def _fur_colour(name, hue, brightness, style):
    if name == "cat":
        return hsv(0.075, lerp(0.03, 0.72, hue), lerp(0.42, 0.95, brightness))
    if name == "dog":
        if _dog_is_black_and_white(style):
            return hsv(lerp(0.055, 0.11, hue), 0.3, lerp(0.1, 0.32, brightness))
        return hsv(lerp(0.055, 0.11, hue), 0.62, lerp(0.38, 0.88, brightness))
    if name == "fox":
        return hsv(lerp(0.028, 0.075, hue), 0.9, lerp(0.68, 1.0, brightness))
    if name == "rabbit":
        return hsv(lerp(0.6, 0.08, hue), 0.12, lerp(0.62, 0.98, brightness))
    if name == "bear":
        return hsv(lerp(0.04, 0.095, hue), 0.68, lerp(0.24, 0.52, brightness))
    if name == "koala":
        return hsv(lerp(0.58, 0.1, hue), 0.06, lerp(0.5, 0.74, brightness))
    if name == "tiger":
        return hsv(lerp(0.045, 0.085, hue), 0.88, lerp(0.78, 1.0, brightness))
    return hsv(lerp(0.6, 0.1, hue), 0.07, lerp(0.8, 1.0, brightness))


def _dog_is_black_and_white(style):
    return style[0] < 0.25


def _ellipse_edge_y(x, rx, ry):
    return -ry * math.sqrt(max(0.0, 1.0 - (x / rx) ** 2))


def _ellipse_edge_x(y, rx, ry):
    return rx * math.sqrt(max(0.0, 1.0 - (y / ry) ** 2))


_HEAD_RADII = {"cat": (1.0, 0.86), "dog": (0.95, 0.95), "rabbit": (0.86, 0.95), "bear": (1.04, 0.94),
               "panda": (1.08, 0.94), "koala": (1.0, 0.86), "tiger": (1.06, 0.9)}


def _fox_head():
    right = numpy.array([(1.2, 0.34), (0.84, 0.4), (0.36, 0.8), (0.0, 0.94)])
    return numpy.concatenate([_arc(0, 0, 0.95, 0.85, 180, 360, 20), right, _mirror(right[::-1])[1:]])


_FOX_HEAD = _fox_head()
_FOX_CHEEK_RIGHT = numpy.array([(0.0, 0.62), (0.2, 0.28), (0.6, 0.1), (1.2, 0.34), (0.84, 0.4),
                                (0.36, 0.8), (0.0, 0.94)])
_FOX_CHEEKS = numpy.concatenate([_FOX_CHEEK_RIGHT, _mirror(_FOX_CHEEK_RIGHT[::-1])[1:-1]])


def _head(p, name, fur, style):
    if name == "fox":
        p.fill(fur, _FOX_HEAD, outline=None, mask="face")
        p.fill(_WHITE, _FOX_CHEEKS, outline=None)
        p.outline(_FOX_HEAD)
        return
    rx, ry = _HEAD_RADII[name]
    head = _ellipse(0, 0, rx, ry)
    p.fill(fur, head, outline=None, mask="face")
    if name == "cat":
        stripe = _scaled(fur, 0.5)
        for x in (-0.24, 0.0, 0.24):
            length = 0.46 if x == 0 else 0.36
            p.fill(stripe, numpy.array([(x - 0.07, _ellipse_edge_y(x - 0.07, rx, ry) + 0.02),
                                        (x + 0.07, _ellipse_edge_y(x + 0.07, rx, ry) + 0.02),
                                        (x, _ellipse_edge_y(x, rx, ry) + length)]), outline=None)
        for y in (0.02, 0.2):
            p.fill(stripe, *_pair(numpy.array([(_ellipse_edge_x(y - 0.05, rx, ry) - 0.02, y - 0.05),
                                               (_ellipse_edge_x(y + 0.05, rx, ry) - 0.02, y + 0.05),
                                               (_ellipse_edge_x(y, rx, ry) - 0.3, y)])), outline=None)
    if name == "tiger":
        p.fill(_WHITE, *_pair(_ellipse(0.42, 0.34, 0.46, 0.3)), outline=None)
        for x in (-0.2, 0.0, 0.2):
            top = _ellipse_edge_y(x, rx, ry)
            p.fill(_BLACK, numpy.array([(x - 0.05, top + 0.02), (x + 0.05, top + 0.02), (x, top + 0.3)]),
                   outline=None)
        for y in (-0.12, 0.06, 0.24):
            edge = _ellipse_edge_x(y, rx, ry)
            p.fill(_BLACK, *_pair(numpy.array([(edge - 0.02, y - 0.05), (edge - 0.02, y + 0.05),
                                               (edge - 0.34, y + 0.01)])), outline=None)
    if name == "dog" and style[1] < 0.5:
        p.fill(_dog_muzzle_colour(fur, style), numpy.array(
            [(-0.07, _ellipse_edge_y(-0.07, rx, ry) + 0.03), (0.07, _ellipse_edge_y(0.07, rx, ry) + 0.03),
             (0.16, 0.3), (-0.16, 0.3)]), outline=None)
    p.outline(head)


def _dog_muzzle_colour(fur, style):
    return _WHITE if _dog_is_black_and_white(style) else _mix(fur, (0.99, 0.93, 0.8), 0.65)


def _ears_behind(p, name, fur, tilt):
    """Ears drawn before the head (all but the dog's)."""
    if name == "cat":
        angle = lerp(5.0, 40.0, tilt)
        outer = _place(numpy.array([(-0.32, 0.0), (0.0, -0.74), (0.32, 0.0)]), at=(0.55, -0.56), angle=angle)
        inner = _place(numpy.array([(-0.17, -0.08), (0.0, -0.54), (0.17, -0.08)]), at=(0.55, -0.56),
                       angle=angle)
        p.fill(fur, *_pair(outer), mask="ears")
        p.fill(_PINK, *_pair(inner), outline=None)
    elif name == "fox":
        angle = lerp(0.0, 28.0, tilt)
        at = (0.5, -0.58)
        outer = _place(numpy.array([(-0.37, 0.0), (0.0, -1.12), (0.37, 0.0)]), at=at, angle=angle)
        tip = _place(numpy.array([(-0.14, -0.7), (0.0, -1.12), (0.14, -0.7)]), at=at, angle=angle)
        inner = _place(numpy.array([(-0.2, -0.06), (0.0, -0.72), (0.2, -0.06)]), at=at, angle=angle)
        p.fill(fur, *_pair(outer), outline=None, mask="ears")
        p.fill(_WHITE, *_pair(inner), outline=None)
        p.fill(_BLACK, *_pair(tip), outline=None)
        p.outline(*_pair(outer))
    elif name == "rabbit":
        angle = lerp(-2.0, 30.0, tilt)
        at = (0.34, -0.7)
        outer = _place(_ellipse(0, -0.78, 0.25, 0.78), at=at, angle=angle)
        inner = _place(_ellipse(0, -0.84, 0.12, 0.58), at=at, angle=angle)
        p.fill(fur, *_pair(outer), mask="ears")
        p.fill(_PINK, *_pair(inner), outline=None)
    else:
        position = math.radians(lerp(-62.0, -38.0, tilt))
        rx, ry = _HEAD_RADII[name]
        at = (0.88 * rx * math.cos(position), 0.88 * ry * math.sin(position))
        if name == "koala":
            at = (1.02 * rx * math.cos(position + 0.35), 0.9 * ry * math.sin(position + 0.35))
            p.fill(fur, *_pair(_ellipse(*at, 0.5, 0.46)), mask="ears")
            p.fill(_WHITE, *_pair(_ellipse(at[0] + 0.06, at[1] + 0.04, 0.3, 0.27)), outline=None)
        elif name == "tiger":
            p.fill(fur, *_pair(_ellipse(*at, 0.28, 0.28)), mask="ears")
            p.fill(_BLACK, *_pair(_ellipse(*at, 0.17, 0.17)), outline=None)
            p.fill(_WHITE, *_pair(_ellipse(at[0], at[1] + 0.02, 0.07, 0.07)), outline=None)
        elif name == "bear":
            p.fill(fur, *_pair(_ellipse(*at, 0.33, 0.33)), mask="ears")
            p.fill(_bear_muzzle_colour(fur), *_pair(_ellipse(*at, 0.18, 0.18)), outline=None)
        else:
            p.fill(_BLACK, *_pair(_ellipse(*at, 0.36, 0.36)), mask="ears")


def _dog_ears(p, fur, tilt, style):
    colour = _BLACK if _dog_is_black_and_white(style) else _scaled(fur, 0.55)
    ear = numpy.concatenate([numpy.array([(-0.2, -0.06), (0.2, -0.1)]), _arc(0.03, 0.58, 0.3, 0.46, 0, 180)])
    p.fill(colour, *_pair(_place(ear, at=(0.74, -0.56), angle=-lerp(0.0, 40.0, tilt))), mask="ears")


def _bear_muzzle_colour(fur):
    return _mix(fur, (0.92, 0.78, 0.58), 0.55)


def _eyes(p, name, scale, style):
    k = lerp(0.75, 1.3, scale)
    if name == "tiger":
        at = (0.36, -0.12)
        p.fill((0.95, 0.75, 0.2), *_pair(_ellipse(*at, 0.13 * k, 0.11 * k)), outline=_THIN, mask="eyes")
        p.fill(_BLACK, *_pair(_ellipse(*at, 0.05 * k, 0.05 * k)), outline=None)
        return
    if name in ("cat", "fox"):
        iris = hsv(lerp(0.14, 0.3, style[2]), 0.85, 0.85) if name == "cat" else (0.93, 0.62, 0.12)
        tilt = -12.0 if name == "cat" else -20.0
        at = (0.38, -0.1) if name == "cat" else (0.36, -0.06)
        outer = _place(_lens(0.2 * k, 0.13 * k), at=at, angle=tilt)
        pupil = _place(_ellipse(0, 0, 0.036 * k, 0.12 * k), at=at)
        p.fill(iris, *_pair(outer), outline=_THIN, mask="eyes")
        p.fill(_BLACK, *_pair(pupil), outline=None)
        return
    if name == "panda":
        patch_scale = lerp(0.88, 1.12, scale)
        patch = _ellipse(0.4, 0.0, 0.24 * patch_scale, 0.34 * patch_scale, angle=-38)
        p.fill(_BLACK, *_pair(patch), outline=None, mask="eyes")
        at, radius = (0.42, -0.06), 0.085 * k
        p.fill(_WHITE, *_pair(_ellipse(*at, radius, radius)), outline=None)
        p.fill(_BLACK, *_pair(_ellipse(at[0] - 0.01, at[1] + 0.01, 0.055 * k, 0.055 * k)), outline=None)
        return
    at, radius = {"dog": ((0.38, -0.12), 0.12), "bear": ((0.4, -0.14), 0.12),
                  "rabbit": ((0.42, -0.12), 0.14), "koala": ((0.4, -0.1), 0.08)}[name]
    radius *= k
    if name == "dog":
        p.fill(_WHITE, *_pair(_ellipse(*at, radius * 1.3, radius * 1.3)), outline=_THIN, mask="eyes")
    p.fill(_BLACK, *_pair(_ellipse(*at, radius, radius)), outline=None, mask="eyes")
    glint = 0.38 * radius
    p.fill(_WHITE, *_pair(_ellipse(at[0] + 0.35 * radius, at[1] - 0.35 * radius, glint, glint)), outline=None)


def _whiskers(p, *, root, spread, length, colour):
    lines = []
    for k, dy in enumerate((-0.07, 0.02, 0.11)):
        start = (root[0], root[1] + dy)
        lines.append(numpy.array([start, (start[0] + length, start[1] + spread * (k - 1) - 0.05)]))
    p.line(colour, *(half for line in lines for half in _pair(line)), width=_THIN)


def _smile(p, *, top, drop, width):
    x, y = top
    stem = numpy.array([(x, y), (x, y + drop)])
    right = _arc(x + width / 2, y + drop, width / 2, width / 3, 180, 20, 8)
    p.line(_INK, stem, *_pair(right), width=_THIN * 1.3)


def _muzzle(p, name, size, fur, style):
    m = lerp(0.8, 1.2, size)
    if name == "cat":
        p.mask("muzzle", _ellipse(0, 0.32, 0.34 * m, 0.22 * m))
        p.fill(_mix(fur, _WHITE, 0.55), *_pair(_ellipse(0.1 * m, 0.34, 0.13 * m, 0.1 * m)), outline=None)
        p.fill(_PINK, numpy.array([(-0.11 * m, 0.16), (0.11 * m, 0.16), (0.0, 0.16 + 0.12 * m)]),
               outline=_THIN)
        _smile(p, top=(0.0, 0.16 + 0.12 * m), drop=0.06 * m, width=0.16 * m)
        _whiskers(p, root=(0.26 * m, 0.3), spread=0.1, length=0.95, colour=_INK)
    elif name == "dog":
        muzzle = _ellipse(0, 0.42, 0.48 * m, 0.36 * m)
        p.fill(_dog_muzzle_colour(fur, style), muzzle, mask="muzzle")
        if style[3] < 0.5:
            p.fill((0.9, 0.36, 0.42), _ellipse(0.03, 0.42 + 0.3 * m, 0.12 * m, 0.16 * m))
        _smile(p, top=(0.0, 0.3), drop=0.12 * m, width=0.24 * m)
        p.fill(_BLACK, _ellipse(0, 0.25, 0.19 * m, 0.12 * m), outline=None)
        p.fill((0.6, 0.6, 0.65), _ellipse(0.06 * m, 0.22, 0.05 * m, 0.03 * m), outline=None)
    elif name == "fox":
        p.mask("muzzle", numpy.array([(-0.28, 0.3), (0.28, 0.3), (0.2, 0.76), (0.0, 0.94), (-0.2, 0.76)])
               * (m, 1.0))
        p.fill(_BLACK, _ellipse(0, 0.68, 0.12 * m, 0.08 * m), outline=None)
        p.line(_INK, numpy.array([(0.0, 0.72), (0.0, 0.84)]), width=_THIN)
    elif name == "rabbit":
        p.mask("muzzle", _ellipse(0, 0.4, 0.32 * m, 0.25 * m))
        p.fill(_WHITE, numpy.array([(-0.07 * m, 0.42), (0.07 * m, 0.42), (0.07 * m, 0.42 + 0.17 * m),
                                    (-0.07 * m, 0.42 + 0.17 * m)]), outline=_THIN)
        p.line(_INK, numpy.array([(0.0, 0.42), (0.0, 0.42 + 0.17 * m)]), width=_THIN * 0.7)
        p.fill(_mix(fur, _WHITE, 0.7), *_pair(_ellipse(0.11 * m, 0.36, 0.14 * m, 0.11 * m)), outline=_THIN)
        p.fill(_PINK, numpy.array([(-0.09 * m, 0.22), (0.09 * m, 0.22), (0.0, 0.22 + 0.09 * m)]),
               outline=_THIN)
        _whiskers(p, root=(0.24 * m, 0.34), spread=0.1, length=0.85, colour=_INK)
    elif name == "koala":
        p.mask("muzzle", _ellipse(0, 0.3, 0.3 * m, 0.34 * m))
        p.fill((0.16, 0.15, 0.17), _ellipse(0, 0.26, 0.2 * m, 0.28 * m), outline=_THIN)
        p.fill((0.45, 0.45, 0.5), _ellipse(0.07 * m, 0.14, 0.05 * m, 0.08 * m), outline=None)
    elif name == "tiger":
        muzzle = _ellipse(0, 0.42, 0.4 * m, 0.28 * m)
        p.fill(_WHITE, muzzle, outline=None, mask="muzzle")
        p.fill(_PINK, numpy.array([(-0.13 * m, 0.22), (0.13 * m, 0.22), (0.0, 0.22 + 0.13 * m)]),
               outline=_THIN)
        _smile(p, top=(0.0, 0.22 + 0.13 * m), drop=0.07 * m, width=0.18 * m)
        _whiskers(p, root=(0.28 * m, 0.38), spread=0.08, length=0.8, colour=_INK)
    elif name == "bear":
        muzzle = _ellipse(0, 0.38, 0.42 * m, 0.32 * m)
        p.fill(_bear_muzzle_colour(fur), muzzle, mask="muzzle")
        _smile(p, top=(0.0, 0.3), drop=0.12 * m, width=0.22 * m)
        p.fill((0.12, 0.07, 0.05), _ellipse(0, 0.26, 0.16 * m, 0.1 * m), outline=None)
    else:
        muzzle = _ellipse(0, 0.42, 0.34 * m, 0.26 * m)
        p.fill(_mix(fur, _WHITE, 0.5), muzzle, outline=_THIN, mask="muzzle")
        _smile(p, top=(0.0, 0.34), drop=0.08 * m, width=0.2 * m)
        p.fill(_BLACK, _ellipse(0, 0.32, 0.13 * m, 0.085 * m), outline=None)




def _ear_landmark(name, tilt):
    """The right ear's landmark in face coordinates."""
    if name == "cat":
        return _place(numpy.array([(0.0, -0.74)]), at=(0.55, -0.56), angle=lerp(5.0, 40.0, tilt))[0]
    if name == "fox":
        return _place(numpy.array([(0.0, -1.12)]), at=(0.5, -0.58), angle=lerp(0.0, 28.0, tilt))[0]
    if name == "rabbit":
        return _place(numpy.array([(0.0, -1.56)]), at=(0.34, -0.7), angle=lerp(-2.0, 30.0, tilt))[0]
    if name == "dog":
        return _place(numpy.array([(0.03, 1.04)]), at=(0.74, -0.56), angle=-lerp(0.0, 40.0, tilt))[0]
    position = math.radians(lerp(-62.0, -38.0, tilt))
    rx, ry = _HEAD_RADII[name]
    return numpy.array([0.88 * rx * math.cos(position), 0.88 * ry * math.sin(position)])


_EYE_CENTRES = {"cat": (0.38, -0.1), "fox": (0.36, -0.06), "panda": (0.42, -0.06), "dog": (0.38, -0.12),
                "bear": (0.4, -0.14), "rabbit": (0.42, -0.12)}


def face_landmarks(name, attributes):
    """``(10, 2)`` landmarks in face coordinates, in the order of :data:`neuralcollage.datasets.LANDMARK_NAMES`."""
    m = lerp(0.8, 1.2, attributes["muzzle_size"])
    nose, mouth = {"cat": (0.16 + 0.04 * m, 0.16 + 0.18 * m), "dog": (0.25, 0.3 + 0.12 * m), "fox": (0.68, 0.84),
                   "rabbit": (0.22 + 0.03 * m, 0.42 + 0.17 * m), "bear": (0.26, 0.3 + 0.12 * m),
                   "panda": (0.32, 0.34 + 0.08 * m)}[name]
    if name == "fox":
        cheek, chin, crown = (1.2, 0.34), 0.94, -0.85
    else:
        rx, ry = _HEAD_RADII[name]
        cheek, chin, crown = (rx, 0.0), ry, -ry
    eye = _EYE_CENTRES[name]
    ear = _ear_landmark(name, attributes["ear_angle"])
    return numpy.array([(-eye[0], eye[1]), eye, (0.0, nose), (0.0, mouth), (-ear[0], ear[1]), tuple(ear),
                        (-cheek[0], cheek[1]), cheek, (0.0, chin), (0.0, crown)], dtype=numpy.float64)


def draw_face(canvas, *, mask_size, affine, name, attributes, style, parts):
    """Draw the face of species ``name`` onto ``canvas`` (in place) and return its part masks.

    Parameters
    ----------
    canvas : numpy.ndarray
        ``(S, S, 3)`` uint8 RGB, drawn on in place (anti-aliased).
    mask_size : int
        Side of the masks in pixels (the canvas may be supersampled).
    affine : numpy.ndarray
        ``(2, 3)`` map from face coordinates to normalised image coordinates in [0, 1].
    name : str
        The species.
    attributes : dict of str to float
        ``fur_hue``, ``fur_brightness``, ``eye_size``, ``ear_angle``, ``muzzle_size``, each in [0, 1].
    style : tuple of float
        The scene's style draws in [0, 1] (markings, dog colouring, iris hue).
    parts : sequence of str
        The mask names (``face``, ``ears``, ``eyes``, ``muzzle``).

    Returns
    -------
    dict of str to numpy.ndarray
        ``parts`` -> ``(mask_size, mask_size)`` bool: the pixels whose centres lie inside each part as drawn
        (overlapping; the caller makes ``face`` and ``ears`` disjoint).
    """
    p = _Painter(canvas, mask_size, affine, parts)
    fur = _fur_colour(name, attributes["fur_hue"], attributes["fur_brightness"], style)
    if name != "dog":
        _ears_behind(p, name, fur, attributes["ear_angle"])
    _head(p, name, fur, style)
    _eyes(p, name, attributes["eye_size"], style)
    _muzzle(p, name, attributes["muzzle_size"], fur, style)
    if name == "dog":
        _dog_ears(p, fur, attributes["ear_angle"], style)
    return {k: v.astype(bool) for k, v in p.masks.items()}

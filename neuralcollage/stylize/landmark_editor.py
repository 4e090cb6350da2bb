"""Click-to-place landmarks for an exemplar, without widgets (the notebook's editor only calls this).

Points are placed in the landmark model's order (:data:`BUILTIN_LANDMARK_NAMES` by default), moved, undone and
redone, then saved as the JSON file ``collage stylize --style-landmarks`` reads:
``{"landmarks": [[x, y], ...], "names": [...], "image_size": [W, H]}`` (``(0, 0)`` the centre of the top-left
pixel).
"""
import json
import os

import numpy

from neuralcollage.datasets import LANDMARK_NAMES

__all__ = ["BUILTIN_LANDMARK_NAMES", "LandmarkEditor", "read_landmarks_json"]

#: The built-in landmark model's order (the built-in data set's landmarks).
BUILTIN_LANDMARK_NAMES = LANDMARK_NAMES


def _outside(x, y, shape):
    h, w = shape[:2]
    return not (-0.5 <= x <= w - 0.5 and -0.5 <= y <= h - 0.5)


def read_landmarks_json(path):
    """``(K, 2)`` float64 from a landmark JSON file (``[[x, y], ...]`` or ``{"landmarks": [[x, y], ...]}``);
    ValueError with one line when it is missing or malformed."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"{path}: no such file")
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if isinstance(data, dict):
        data = data.get("landmarks")
    try:
        points = numpy.asarray(data, dtype=numpy.float64)
    except (TypeError, ValueError):
        points = None
    if points is None or points.ndim != 2 or points.shape[1] != 2 or len(points) < 2:
        raise ValueError(f"{path}: expected [[x, y], ...] or {{\"landmarks\": [[x, y], ...]}} with at least "
                         f"2 points")
    return points


class LandmarkEditor:
    """Landmarks of one image, placed point by point.

    Parameters
    ----------
    shape : tuple
        The image's shape ``(H, W, ...)`` (or pass the image's ``.shape``).
    names : sequence of str, keyword-only
        The landmarks in order (default: the built-in landmark model's).
    points : array_like, keyword-only, optional
        ``(K, 2)`` starting points (e.g. predicted); NaN rows are unplaced.

    Example
    -------
    >>> editor = LandmarkEditor((64, 64))
    >>> editor.place(20, 24)        # the left eye
    0
    >>> editor.next_index, editor.names[editor.next_index]
    (1, 'right_eye')
    """

    def __init__(self, shape, *, names=BUILTIN_LANDMARK_NAMES, points=None):
        self.shape = tuple(int(v) for v in shape[:2])
        if min(self.shape) < 1:
            raise ValueError(f"image shape must be positive, got {shape}")
        self.names = tuple(str(n) for n in names)
        if len(self.names) < 2 or len(set(self.names)) != len(self.names):
            raise ValueError("names must be at least 2 distinct landmark names")
        self._points = numpy.full((len(self.names), 2), numpy.nan)
        if points is not None:
            arr = numpy.asarray(points, numpy.float64)
            if arr.shape != self._points.shape:
                raise ValueError(f"points must be ({len(self.names)}, 2), got {arr.shape}")
            for i, (x, y) in enumerate(arr):
                if numpy.isfinite(x) and numpy.isfinite(y):
                    self._check(i, x, y)
            self._points = arr.copy()
        self._undo, self._redo = [], []
        self.selected = None

    def __repr__(self):
        return (f"LandmarkEditor({self.shape[1]}x{self.shape[0]}, {self.n_placed}/{len(self.names)} placed, "
                f"next={self.next_name!r})")

    # ---------------------------------------------------------------- state
    @property
    def points(self):
        """``(K, 2)`` float64 ``(x, y)``; NaN for unplaced landmarks (a copy)."""
        return self._points.copy()

    @property
    def placed(self):
        return numpy.isfinite(self._points).all(axis=1)

    @property
    def n_placed(self):
        return int(self.placed.sum())

    @property
    def complete(self):
        return bool(self.placed.all())

    @property
    def next_index(self):
        """The landmark a click places: the selected one, else the first unplaced (None when all are)."""
        if self.selected is not None:
            return self.selected
        missing = numpy.flatnonzero(~self.placed)
        return int(missing[0]) if len(missing) else None

    @property
    def next_name(self):
        i = self.next_index
        return None if i is None else self.names[i]

    def select(self, index):
        """Make the next click set landmark ``index`` (an int or a name; None: back to the first unplaced)."""
        self.selected = None if index is None else self._index(index)

    def _index(self, index):
        if isinstance(index, str):
            if index not in self.names:
                raise ValueError(f"no landmark {index!r}; the landmarks are {', '.join(self.names)}")
            return self.names.index(index)
        i = int(index)
        if not 0 <= i < len(self.names):
            raise ValueError(f"landmark index {index} is not in 0-{len(self.names) - 1}")
        return i

    def _check(self, i, x, y):
        if not (numpy.isfinite(x) and numpy.isfinite(y)):
            raise ValueError(f"{self.names[i]}: ({x}, {y}) is not a finite point")
        if _outside(x, y, self.shape):
            raise ValueError(f"{self.names[i]} at ({x:g}, {y:g}) lies outside the {self.shape[1]}x{self.shape[0]} "
                             f"image")

    def _set(self, i, xy):
        before = self._points[i].copy()
        self._points[i] = xy
        self._undo.append((i, before, numpy.asarray(xy, numpy.float64).copy()))
        self._redo.clear()

    # ---------------------------------------------------------------- editing
    def place(self, x, y):
        """Put the next landmark (:attr:`next_index`) at ``(x, y)``; returns its index.  ValueError when the
        point is outside the image or every landmark is placed and none is selected (move one instead)."""
        i = self.next_index
        if i is None:
            raise ValueError("every landmark is placed: select one or move it")
        self._check(i, float(x), float(y))
        self._set(i, (float(x), float(y)))
        self.selected = None
        return i

    def move(self, index, x, y):
        """Move landmark ``index`` (int or name) to ``(x, y)``."""
        i = self._index(index)
        self._check(i, float(x), float(y))
        self._set(i, (float(x), float(y)))
        return i

    def remove(self, index):
        """Unplace landmark ``index`` (undoable)."""
        i = self._index(index)
        self._set(i, (numpy.nan, numpy.nan))
        return i

    def nearest(self, x, y, *, radius=numpy.inf):
        """Index of the placed landmark nearest ``(x, y)`` within ``radius`` pixels, or None."""
        placed = numpy.flatnonzero(self.placed)
        if not len(placed):
            return None
        d = numpy.hypot(self._points[placed, 0] - x, self._points[placed, 1] - y)
        k = int(numpy.argmin(d))
        return int(placed[k]) if d[k] <= radius else None

    def undo(self):
        """Undo the last place / move / remove; returns the landmark index, or None when there is nothing."""
        if not self._undo:
            return None
        i, before, after = self._undo.pop()
        self._points[i] = before
        self._redo.append((i, before, after))
        return i

    def redo(self):
        if not self._redo:
            return None
        i, before, after = self._redo.pop()
        self._points[i] = after
        self._undo.append((i, before, after))
        return i

    @property
    def can_undo(self):
        return bool(self._undo)

    @property
    def can_redo(self):
        return bool(self._redo)

    # ---------------------------------------------------------------- results
    def landmarks(self):
        """``(K, 2)`` float64; ValueError naming the unplaced landmarks when some are missing."""
        if not self.complete:
            missing = [self.names[i] for i in numpy.flatnonzero(~self.placed)]
            raise ValueError(f"{len(missing)} landmarks not placed: {', '.join(missing)}")
        return self._points.copy()

    def to_dict(self):
        return {"landmarks": self.landmarks().tolist(), "names": list(self.names),
                "image_size": [self.shape[1], self.shape[0]]}

    def save(self, path):
        """Write the JSON that ``collage stylize --style-landmarks`` reads (atomically); returns ``path``."""
        from neuralcollage.io import atomic_write_json
        atomic_write_json(os.fspath(path), self.to_dict())
        return path

    @classmethod
    def load(cls, path, shape, *, names=None):
        """An editor holding the landmarks of ``path`` for an image of ``shape``: ValueError with one line when
        the file is malformed, its point count or names do not match, or a point is outside the image."""
        points = read_landmarks_json(path)
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        stored = data.get("names") if isinstance(data, dict) else None
        if names is None:
            names = stored if stored is not None else (BUILTIN_LANDMARK_NAMES if len(points) == len(
                BUILTIN_LANDMARK_NAMES) else [f"point {i}" for i in range(len(points))])
        elif stored is not None and list(stored) != list(names):
            raise ValueError(f"{path}: its landmarks are {stored}, expected {list(names)}")
        if len(points) != len(names):
            raise ValueError(f"{path}: {len(points)} points, expected {len(names)} ({', '.join(names)})")
        try:
            return cls(shape, names=names, points=points)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

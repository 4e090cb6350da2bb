"""The painter's style mode without widgets: named exemplars, their cached lookup tables, the painted image's
landmarks, and the live preview of a painted alpha.

The notebook painter (:class:`neuralcollage.widgets.Painter`) only calls this object: a chooser sets
:meth:`StyleSession.choose`, each preview calls :meth:`StyleSession.preview` with the image under the brush
and the painted alpha.  A synthesis runs once per (image, exemplar, seed); every stroke after that is a blend.
"""
import hashlib
import os
import threading
import time

import numpy

from neuralcollage.stylize.brush import StyleBrush
from neuralcollage.stylize.core import (Exemplar, check_landmarks, check_lattice, check_patch_iterations,
                                        prepare_exemplar)
from neuralcollage.stylize.styleblit import BLEND_RADIUS, LEVELS, THRESHOLD, VOTE_SIGMA

__all__ = ["StyleSession"]


def _digest(image):
    arr = numpy.ascontiguousarray(image)
    return hashlib.sha256(str(arr.shape).encode() + arr.tobytes()).hexdigest()


def _lattice_key(lattice):
    """A checked lattice as a comparable value (None, "auto" or nested tuples of the basis)."""
    return lattice if lattice is None or isinstance(lattice, str) else tuple(map(tuple, lattice.tolist()))


class StyleSession:
    """Exemplars to stylise a painted region with, and the state of the current one.

    Parameters
    ----------
    exemplars : mapping of str to Exemplar or dict
        Name -> a prepared :class:`~neuralcollage.stylize.Exemplar`, or a dict with ``image`` (``(He, We, 3)``
        uint8) and ``landmarks`` (``(K, 2)``) and optionally ``labels`` / ``n_labels`` (the part-mask guide)
        and ``appearance_source`` (all as :func:`~neuralcollage.stylize.prepare_exemplar`) and ``source`` (where it
        comes from, for painting recipes: :func:`~neuralcollage.stylize.builtin_exemplar`,
        :func:`~neuralcollage.stylize.exemplar_from_file`).  An exemplar is
        prepared (its lookup table built) the first time it is chosen, then kept.
    landmark_predictor : callable, keyword-only, optional
        ``image -> (K, 2)`` landmarks of the image under the brush when :meth:`set_target` gets none.
    seed, threshold, blend_radius, vote_sigma, guide_weights, levels, vote_stride, lattice : keyword-only
        As :func:`~neuralcollage.stylize.stylize` (``lattice``: None, ``"auto"`` or a ``(2, 2)`` int basis,
        recorded in painting recipes; it applies to an image of the exemplar's size only).
    patch_iterations : int, keyword-only
        Passes of patch refinement after the vote, as :func:`~neuralcollage.stylize.stylize`: an int in
        [0, :data:`~neuralcollage.stylize.styleblit.PATCH_ITERATIONS_MAX`] (ValueError otherwise), recorded in
        painting recipes; default 0, off.  3 with ``lattice="auto"``, ``blend_radius=1`` and ``vote_stride=1``
        is the hatch setting of docs/stylize.md ("Patch refinement").
    table_dir : str or os.PathLike, keyword-only, optional
        Folder of on-disk lookup-table caches (``<name>.npz``).

    Attributes
    ----------
    timings : dict
        Milliseconds of the latest :meth:`preview`: ``landmarks_ms`` (0 when cached), ``prepare_ms`` (0 when
        the table was ready), ``synthesis_ms`` (0 when the stylisation was cached), ``blend_ms``, ``total_ms``.

    Example
    -------
    >>> session = StyleSession({"hatch": {"image": ex, "landmarks": ex_lm}})   # doctest: +SKIP
    >>> session.set_target(photo, landmarks=photo_lm)                          # doctest: +SKIP
    >>> preview = session.preview(alpha)                                       # doctest: +SKIP
    """

    def __init__(self, exemplars, *, landmark_predictor=None, seed=0, threshold=THRESHOLD,
                 blend_radius=BLEND_RADIUS, vote_sigma=VOTE_SIGMA, guide_weights=None, levels=LEVELS, vote_stride=None,
                 table_dir=None, lattice=None, patch_iterations=0):
        if not exemplars:
            raise ValueError("a style session needs at least one exemplar")
        self._sources = {}
        for name, spec in dict(exemplars).items():
            self._sources[str(name)] = self._check_spec(str(name), spec)
        self._prepared = {}
        self.landmark_predictor = landmark_predictor
        self.threshold, self.blend_radius = float(threshold), int(blend_radius)
        self.vote_sigma = vote_sigma
        self.guide_weights = None if guide_weights is None else tuple(float(w) for w in guide_weights)
        self.levels = tuple(int(v) for v in levels)
        self.vote_stride = None if vote_stride is None else int(vote_stride)
        self._lock = threading.RLock()
        self._brush = None
        self._lattice = check_lattice(lattice)
        self._patch_iterations = check_patch_iterations(patch_iterations)
        if self.blend_radius < 0:
            raise ValueError(f"blend_radius must be >= 0, got {blend_radius}")
        self.table_dir = None if table_dir is None else os.fspath(table_dir)
        self._seed = int(seed)
        self._name = next(iter(self._sources))
        self._target = self._target_key = self._target_landmarks = None
        self.timings = {}

    @staticmethod
    def _check_spec(name, spec):
        if isinstance(spec, Exemplar):
            return spec
        if not isinstance(spec, dict) or "image" not in spec or "landmarks" not in spec:
            raise ValueError(f"exemplar {name!r} must be an Exemplar or a dict with 'image' and 'landmarks'")
        extra = set(spec) - {"image", "landmarks", "labels", "n_labels", "appearance_source", "source"}
        if extra:
            raise ValueError(f"exemplar {name!r}: unknown keys {sorted(extra)}")
        image = numpy.asarray(spec["image"])
        check_landmarks(spec["landmarks"], image.shape, name=f"exemplar {name!r} landmarks")
        return dict(spec)

    def __repr__(self):
        return (f"StyleSession({len(self._sources)} exemplars, current={self._name!r}, seed={self._seed}, "
                f"threshold={self.threshold:g}, blend_radius={self.blend_radius})")

    @property
    def names(self):
        """The exemplars' names, in the order given."""
        return list(self._sources)

    @property
    def current(self):
        return self._name

    def choose(self, name):
        """Make ``name`` the current exemplar (KeyError naming the choices for another name)."""
        name = str(name)
        if name not in self._sources:
            raise KeyError(f"no exemplar {name!r}; choose one of {self.names}")
        with self._lock:
            if name != self._name:
                self._name = name
                self._brush = None

    @property
    def seed(self):
        return self._seed

    @seed.setter
    def seed(self, value):
        """A new jitter seed re-synthesises on the next preview (the "boiling" of a hand-drawn frame)."""
        with self._lock:
            self._seed = int(value)
            if self._brush is not None:
                self._brush.seed = self._seed

    @property
    def lattice(self):
        """The texture lattice the synthesis snaps to: None (off), ``"auto"`` or a ``(2, 2)`` int64 basis."""
        return self._lattice

    @lattice.setter
    def lattice(self, value):
        """Switch the texture lattice (checked as the constructor's ``lattice``: ValueError otherwise); another
        value re-synthesises on the next preview, and the painting recipe records it."""
        self._switch("_lattice", check_lattice(value), key=_lattice_key)

    @property
    def patch_iterations(self):
        """Passes of patch refinement after the vote (0: off)."""
        return self._patch_iterations

    @patch_iterations.setter
    def patch_iterations(self, value):
        """Switch the patch refinement (checked as the constructor's: ValueError otherwise); another value
        re-synthesises on the next preview, and the painting recipe records it."""
        self._switch("_patch_iterations", check_patch_iterations(value))

    def _switch(self, attribute, value, *, key=lambda v: v):
        """Set a synthesis knob; another value (compared by ``key``) drops the brush, so the next preview
        re-synthesises."""
        with self._lock:
            if key(value) != key(getattr(self, attribute)):
                self._brush = None
            setattr(self, attribute, value)

    def exemplar(self, name=None):
        """The prepared :class:`~neuralcollage.stylize.Exemplar` ``name`` (default: the current one)."""
        name = self._name if name is None else str(name)
        if name not in self._prepared:
            spec = self._sources[name]
            if isinstance(spec, Exemplar):
                self._prepared[name] = spec
            else:
                options = {k: v for k, v in spec.items() if k not in ("image", "landmarks", "source")}
                cache = None if self.table_dir is None else os.path.join(self.table_dir, f"{name}.npz")
                self._prepared[name] = prepare_exemplar(spec["image"], landmarks=spec["landmarks"],
                                                        table_cache=cache, **options)
        return self._prepared[name]

    @property
    def target_landmarks(self):
        return self._target_landmarks

    def set_target(self, image, *, landmarks=None):
        """The image under the brush (``(H, W, 3)`` uint8) and its landmarks (default: predicted; ValueError
        when there is no predictor).  The same image again keeps the cached stylisation."""
        with self._lock:
            return self._set_target(image, landmarks)

    def _set_target(self, image, landmarks):
        image = numpy.asarray(image)
        key = _digest(image)
        if key == self._target_key and landmarks is None:
            return False
        t0 = time.perf_counter()
        if landmarks is None:
            if self.landmark_predictor is None:
                raise ValueError("no landmarks for the image under the brush and no landmark predictor")
            landmarks = self.landmark_predictor(image)
        self._target, self._target_key = image.copy(), key
        self._target_landmarks = numpy.asarray(landmarks, numpy.float64)
        self._brush = None
        self.timings["landmarks_ms"] = 1e3 * (time.perf_counter() - t0)
        return True

    def brush(self):
        """The :class:`~neuralcollage.stylize.StyleBrush` of the current target and exemplar."""
        if self._target is None:
            raise ValueError("set_target() first: no image under the brush")
        if self._brush is None:
            self._brush = StyleBrush(self._target, self.exemplar(), photo_landmarks=self._target_landmarks,
                                     seed=self._seed, threshold=self.threshold, blend_radius=self.blend_radius,
                                     vote_sigma=self.vote_sigma, guide_weights=self.guide_weights,
                                     levels=self.levels, vote_stride=self.vote_stride, lattice=self.lattice,
                                     patch_iterations=self._patch_iterations)
        return self._brush

    def stylised(self):
        """The whole target stylised with the current exemplar: ``(H, W, 3)`` uint8."""
        return self.brush().stylised

    def preview(self, alpha, *, target=None, landmarks=None):
        """The target with the stylisation where ``alpha`` (``(H, W)`` in [0, 1]) is painted, ``(H, W, 3)``
        uint8; ``target`` (and ``landmarks``) first replace the image under the brush when given.  Safe to call
        from a preview thread while the chooser calls :meth:`choose` or sets :attr:`seed`."""
        with self._lock:
            return self._preview(alpha, target, landmarks)

    def _preview(self, alpha, target, landmarks):
        t0 = time.perf_counter()
        self.timings = {"landmarks_ms": 0.0}
        if target is not None:
            self._set_target(target, landmarks)
        t1 = time.perf_counter()
        prepared = self._name in self._prepared
        self.exemplar()
        t2 = time.perf_counter()
        brush = self.brush()
        cached = brush.is_synthesised
        brush.stylised  # noqa: B018  (synthesis on first use)
        t3 = time.perf_counter()
        image = brush.preview(alpha)
        t4 = time.perf_counter()
        self.timings.update(prepare_ms=0.0 if prepared else 1e3 * (t2 - t1),
                            synthesis_ms=0.0 if cached else 1e3 * (t3 - t2), blend_ms=1e3 * (t4 - t3),
                            total_ms=1e3 * (t4 - t0))
        return image

    def recipe_entry(self, canvas, *, target, landmarks=None):
        """The ``style`` entry of a painting recipe (:mod:`neuralcollage.stylize.recipe`) for the style painting
        ``canvas`` (a two-label :class:`~neuralcollage.painting.LabelPainter`) over ``target``, the image it
        stylises (its landmarks predicted as for :meth:`preview` unless given): the current exemplar (its
        source, digests, landmarks and table options), the painted image's landmarks, the seed and the knobs
        (the lattice and the patch refinement included)."""
        from neuralcollage.stylize.recipe import exemplar_entry, style_entry
        with self._lock:
            self._set_target(target, landmarks)
            exemplar = exemplar_entry(self._name, self._sources[self._name], self.exemplar())
            return style_entry(exemplar=exemplar, canvas=canvas, target_landmarks=self._target_landmarks,
                               seed=self._seed, threshold=self.threshold, blend_radius=self.blend_radius,
                               vote_sigma=self.vote_sigma, guide_weights=self.guide_weights, levels=self.levels,
                               vote_stride=self.vote_stride, lattice=self.lattice,
                               patch_iterations=self._patch_iterations)

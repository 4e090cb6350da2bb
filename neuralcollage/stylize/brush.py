"""A "style" brush: stylise the painted region of a photo live from one exemplar.

The painter's style mode: the whole-frame synthesis is computed once per (photo, exemplar, seed) and each
stroke only recomposites it through the painted alpha, so a preview costs a blend, not a synthesis.
"""
import numpy

from neuralcollage.stylize.core import (Exemplar, check_landmarks, check_lattice, check_patch_iterations,
                                        prepare_exemplar, stylize_details)
from neuralcollage.stylize.styleblit import BLEND_RADIUS, LEVELS, THRESHOLD, VOTE_SIGMA

__all__ = ["StyleBrush"]


class StyleBrush:
    """Stylise where a painter's canvas is painted.

    Parameters
    ----------
    photo : numpy.ndarray
        ``(H, W, 3)`` uint8 RGB.
    exemplar : numpy.ndarray or Exemplar
        The stylised exemplar, or one from :func:`~neuralcollage.stylize.prepare_exemplar`.
    photo_landmarks : array_like, keyword-only
        ``(K, 2)`` ``(x, y)``.
    exemplar_landmarks : array_like, keyword-only
        With an exemplar image.
    seed, threshold, blend_radius, vote_sigma, guide_weights, levels, vote_stride, lattice : keyword-only
        As :func:`~neuralcollage.stylize.stylize` (``lattice``: None, ``"auto"`` or a ``(2, 2)`` int basis; it
        applies to a photo of the exemplar's size only, docs/stylize.md "Hatching in phase").
    patch_iterations : int, keyword-only
        As :func:`~neuralcollage.stylize.stylize`: passes of patch refinement after the vote, an int in
        [0, :data:`~neuralcollage.stylize.styleblit.PATCH_ITERATIONS_MAX`] (ValueError otherwise); default 0, off.

    Example
    -------
    >>> from neuralcollage.painting import LabelPainter
    >>> canvas = LabelPainter(2, photo.shape[:2])                            # doctest: +SKIP
    >>> brush = StyleBrush(photo, exemplar, photo_landmarks=a, exemplar_landmarks=b)  # doctest: +SKIP
    >>> canvas.add_stroke([(10, 10), (40, 30)], label=1, radius=6)            # doctest: +SKIP
    >>> preview = brush.preview(canvas.painted_alpha(include_active=True))    # doctest: +SKIP
    """

    def __init__(self, photo, exemplar, *, photo_landmarks, exemplar_landmarks=None, seed=0, threshold=THRESHOLD,
                 blend_radius=BLEND_RADIUS, vote_sigma=VOTE_SIGMA, guide_weights=None, levels=LEVELS,
                 vote_stride=None, lattice=None, patch_iterations=0):
        self.photo = numpy.asarray(photo)
        if not isinstance(exemplar, Exemplar):
            if exemplar_landmarks is None:
                raise ValueError("exemplar_landmarks are needed with an exemplar image")
            exemplar = prepare_exemplar(exemplar, landmarks=exemplar_landmarks)
        self.exemplar = exemplar
        self.photo_landmarks = check_landmarks(photo_landmarks, self.photo.shape, name="photo landmarks",
                                               count=len(exemplar.landmarks))
        self.threshold, self.blend_radius = float(threshold), int(blend_radius)
        self.vote_sigma = None if vote_sigma is None else float(vote_sigma)
        self.guide_weights = None if guide_weights is None else tuple(float(w) for w in guide_weights)
        self.levels = tuple(int(v) for v in levels)
        self.vote_stride = None if vote_stride is None else int(vote_stride)
        self.lattice = check_lattice(lattice)
        self.patch_iterations = check_patch_iterations(patch_iterations)
        self._stylised = None
        self.seed = seed

    def __repr__(self):
        return (f"StyleBrush({self.photo.shape[1]}x{self.photo.shape[0]}, seed={self.seed}, "
                f"threshold={self.threshold:g}, blend_radius={self.blend_radius})")

    @property
    def seed(self):
        return self._seed

    @seed.setter
    def seed(self, value):
        """A new jitter seed re-synthesises on the next preview."""
        self._seed = int(value)
        self._stylised = None

    @property
    def is_synthesised(self):
        """Whether the stylisation of the current seed is computed (the next preview is only a blend)."""
        return self._stylised is not None

    @property
    def stylised(self):
        """The whole photo stylised: ``(H, W, 3)`` uint8 (computed on first use)."""
        if self._stylised is None:
            self._stylised = stylize_details(self.photo, self.exemplar, target_landmarks=self.photo_landmarks,
                                             threshold=self.threshold, blend_radius=self.blend_radius,
                                             vote_sigma=self.vote_sigma, guide_weights=self.guide_weights,
                                             levels=self.levels, vote_stride=self.vote_stride,
                                             lattice=self.lattice, patch_iterations=self.patch_iterations,
                                             seed=self._seed).image
        return self._stylised

    def preview(self, alpha):
        """The photo with the stylisation where ``alpha`` (``(H, W)`` float in [0, 1], e.g. a
        :class:`~neuralcollage.painting.LabelPainter`'s ``painted_alpha``) is painted: ``(H, W, 3)`` uint8."""
        a = numpy.asarray(alpha, dtype=numpy.float32)
        if a.shape != self.photo.shape[:2]:
            raise ValueError(f"alpha {a.shape} does not match the photo {self.photo.shape[:2]}")
        a = numpy.clip(a, 0.0, 1.0)[..., None]
        mixed = self.photo.astype(numpy.float32) * (1.0 - a) + self.stylised.astype(numpy.float32) * a
        return numpy.clip(numpy.rint(mixed), 0, 255).astype(numpy.uint8)

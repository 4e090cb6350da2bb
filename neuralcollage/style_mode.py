"""The notebook painter's "style" mode: its canvas and controls (an exemplar chooser, the jitter seed).

The stylisation is :class:`neuralcollage.stylize.StyleSession`'s (headless, tested without widgets); this
module only holds the canvas the brush paints into and the widgets that call the session.
:func:`builtin_style_session` makes a session whose landmarks of the painted image come from the built-in
landmark model.
"""
import os

import numpy

from neuralcollage import painting

__all__ = ["StyleMode", "builtin_style_session", "STYLE_COLORS"]

#: Overlay colours of the style canvas's labels: 0 unchanged, 1 stylised.
STYLE_COLORS = numpy.asarray([(0.5, 0.5, 0.5), (0.35, 0.2, 0.85)], numpy.float32)


def builtin_style_session(exemplars, **options):
    """A :class:`~neuralcollage.stylize.StyleSession` over ``exemplars`` that predicts the painted image's
    landmarks with the built-in landmark model (``landmarks.npz`` of the built-in model; FileNotFoundError
    naming it when it is not installed).  ``options`` go to the session."""
    from neuralcollage.pretrained import builtin_dir
    from neuralcollage.stylize import StyleSession
    from neuralcollage.train.landmarks import load_landmark_predictor
    path = os.path.join(builtin_dir(), "landmarks.npz")
    if not os.path.exists(path):
        raise FileNotFoundError(f"the built-in landmark model {path} is not installed")
    return StyleSession(exemplars, landmark_predictor=load_landmark_predictor(path), **options)


class StyleMode:
    """The style canvas (0 unchanged, 1 stylised) and the chooser widgets of a painter's style mode.

    Parameters
    ----------
    session : neuralcollage.stylize.StyleSession
    resolution : int
        The painter's side in pixels.
    on_change : callable
        Called (no arguments) when the exemplar or the seed changes: the painter requests a preview.
    """

    LABEL = painting.ATTRIBUTE_LABEL

    def __init__(self, session, resolution, *, on_change):
        import ipywidgets as W
        self.session = session
        self.canvas = painting.attribute_canvas(resolution)
        self._on_change = on_change
        self.chooser = W.Dropdown(options=session.names, value=session.current, description="exemplar",
                                  layout=W.Layout(width="230px"))
        self.seed = W.BoundedIntText(value=session.seed, min=0, max=2 ** 31 - 1, description="jitter seed",
                                     layout=W.Layout(width="230px"))
        self.box = W.VBox([self.chooser, self.seed])
        self.chooser.observe(self._on_exemplar, names="value")
        self.seed.observe(self._on_seed, names="value")
        self.widgets = [self.chooser, self.seed, self.box]
        self.show(False)

    def __repr__(self):
        return f"StyleMode({self.session!r}, strokes={len(self.canvas.strokes)})"

    def _on_exemplar(self, change):
        if change["new"] is not None:
            self.session.choose(change["new"])
            self._on_change()

    def _on_seed(self, change):
        self.session.seed = int(change["new"])
        self._on_change()

    def choose(self, name, *, seed=None):
        """Select exemplar ``name`` (and the jitter ``seed``) as the chooser would."""
        self.session.choose(name)
        self.chooser.value = self.session.current
        if seed is not None:
            self.seed.value = int(seed)

    def show(self, visible):
        self.box.layout.display = None if visible else "none"

    @staticmethod
    def palette_options():
        return [("0: unchanged (eraser)", 0), (f"{StyleMode.LABEL}: stylise", StyleMode.LABEL)]

    def swatch(self, label):
        """``(rgb, name)`` of ``label`` for the painter's swatch."""
        return STYLE_COLORS[label], (f"style {self.session.current!r}" if label else "unchanged")

    def alpha(self):
        """The painted alpha, ``(R, R)`` float32, or None while the style canvas is blank (call under the
        painter's lock)."""
        return None if self.canvas.is_blank else self.canvas.painted_alpha()

    def apply(self, image, alpha):
        """``image`` (the painter's render) stylised where ``alpha`` (from :meth:`alpha`) is painted."""
        return self.session.preview(alpha, target=image)

    def close(self):
        for w in self.widgets:
            w.close()

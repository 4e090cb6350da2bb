"""The notebook painter's "style" mode: its controls (an exemplar chooser, the jitter seed, the texture lattice,
the patch refinement passes).

The stylisation is :class:`neuralcollage.stylize.StyleSession`'s and the style canvas the painter session's
(:attr:`neuralcollage.widgets.session.PainterSession.style_canvas`), both headless and tested without widgets;
this module only holds the widgets that call them.  :func:`builtin_style_session` makes a style session whose
landmarks of the painted image come from the built-in landmark model.
"""
import os

import numpy

from neuralcollage import painting
from neuralcollage.limits import OPTION_RANGES
from neuralcollage.widgets.display import STYLE_COLORS

__all__ = ["StyleMode", "builtin_style_session", "STYLE_COLORS"]


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
    """The chooser widgets of a painter's style mode.

    Parameters
    ----------
    painter_session : neuralcollage.widgets.session.PainterSession
        A session made with ``style=``: the chooser and the seed call its :meth:`choose_style
        <neuralcollage.widgets.session.PainterSession.choose_style>`, which requests a preview.  The lattice
        buttons set the style session's :attr:`~neuralcollage.stylize.StyleSession.lattice` (``off``: None,
        ``auto``: ``"auto"``; ``given`` is offered when the session was made with a basis, and restores it), then
        request a preview the same way; painting recipes record the lattice in use.  The "refine passes" box sets
        :attr:`~neuralcollage.stylize.StyleSession.patch_iterations` (0: off, up to
        ``OPTION_RANGES["patch_iterations"]``) and requests a preview the same way; recipes record it too.

    Attributes
    ----------
    session : neuralcollage.stylize.StyleSession
    chooser, seed, lattice, refine, box : ipywidgets widgets
    """

    LABEL = painting.ATTRIBUTE_LABEL
    #: The lattice buttons (plus ``"given"`` for a session made with a basis).
    LATTICE_OPTIONS = ("off", "auto")

    def __init__(self, painter_session):
        import ipywidgets as W
        self.painter_session = painter_session
        self.session = painter_session.style_session
        self._syncing = False
        self.chooser = W.Dropdown(options=self.session.names, value=self.session.current, description="exemplar",
                                  layout=W.Layout(width="230px"))
        self.seed = W.BoundedIntText(value=self.session.seed, min=0, max=2 ** 31 - 1, description="jitter seed",
                                     layout=W.Layout(width="230px"))
        current = self.session.lattice
        self._given = None if current is None or isinstance(current, str) else current
        options = list(self.LATTICE_OPTIONS) + (["given"] if self._given is not None else [])
        self.lattice = W.ToggleButtons(options=options, value=self._lattice_option(current), description="lattice",
                                       tooltips=["no texture lattice", "keep a periodic hatching in phase (found in "
                                                 "the exemplar)"] + (["the basis given in code"] if
                                                                     self._given is not None else []),
                                       style={"button_width": "56px"}, layout=W.Layout(width="230px"))
        low, high = OPTION_RANGES["patch_iterations"][1:3]
        self.refine = W.BoundedIntText(value=self.session.patch_iterations, min=low, max=high,
                                       description="refine passes", tooltip="passes of patch refinement after the "
                                       "vote (0: off; 3 for periodic hatching, slower)", layout=W.Layout(width="230px"),
                                       style={"description_width": "initial"})
        self.box = W.VBox([self.chooser, self.seed, self.lattice, self.refine])
        self.chooser.observe(self._on_exemplar, names="value")
        self.seed.observe(self._on_seed, names="value")
        self.lattice.observe(self._on_lattice, names="value")
        self.refine.observe(self._on_refine, names="value")
        self.widgets = [self.chooser, self.seed, self.lattice, self.refine, self.box]
        self.show(False)

    def __repr__(self):
        return f"StyleMode({self.session!r}, strokes={len(self.canvas.strokes)})"

    @property
    def canvas(self):
        """The style canvas (0 unchanged, 1 stylised) the brush paints into in this mode."""
        return self.painter_session.style_canvas

    def _on_exemplar(self, change):
        if change["new"] is not None and not self._syncing:
            self.painter_session.choose_style(change["new"])

    def _on_seed(self, change):
        if not self._syncing:
            self.painter_session.choose_style(seed=int(change["new"]))

    def _lattice_option(self, lattice):
        """The button of ``lattice``; None (no button down) for a basis other than the one given at the start."""
        if lattice is None:
            return "off"
        if isinstance(lattice, str):
            return "auto"
        return "given" if self._given is not None and numpy.array_equal(lattice, self._given) else None

    def _on_lattice(self, change):
        if change["new"] is not None and not self._syncing:
            self.set_lattice(change["new"])

    def set_lattice(self, option):
        """Set the style session's texture lattice as the buttons would: ``"off"``, ``"auto"`` or ``"given"``
        (the basis the session was made with; ValueError naming the choices otherwise); the preview follows."""
        choices = {"off": None, "auto": "auto"}
        if self._given is not None:
            choices["given"] = self._given
        if option not in choices:
            raise ValueError(f"lattice must be one of {sorted(choices)}, got {option!r}")
        self.session.lattice = choices[option]
        self.painter_session.choose_style()

    def _on_refine(self, change):
        if change["new"] is not None and not self._syncing:
            self.set_patch_iterations(change["new"])

    def set_patch_iterations(self, passes):
        """Set the style session's patch refinement passes as the box would (0: off; ValueError from the session's
        check outside ``OPTION_RANGES["patch_iterations"]``); the preview follows."""
        self.session.patch_iterations = passes
        self.painter_session.choose_style()

    def choose(self, name, *, seed=None):
        """Select exemplar ``name`` (and the jitter ``seed``) as the chooser would."""
        self.painter_session.choose_style(name, seed=seed)

    def sync(self):
        """Show the style session's exemplar, seed, lattice and patch refinement passes in the widgets."""
        self._syncing = True
        try:
            self.chooser.value = self.session.current
            self.seed.value = int(self.session.seed)
            self.lattice.value = self._lattice_option(self.session.lattice)
            self.refine.value = int(self.session.patch_iterations)
        finally:
            self._syncing = False

    def show(self, visible):
        self.box.layout.display = None if visible else "none"

    def close(self):
        for w in self.widgets:
            w.close()

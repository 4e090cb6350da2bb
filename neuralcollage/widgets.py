"""Notebook brush painter: paint a label map over an image and watch the generator follow.

:class:`Painter` shows two panels in an ipympl canvas: the image you paint on (a generated image, or the
crop of a real photo) with the painted labels laid over it, and a live preview regenerated after every
stroke.  Around it: a searchable class palette, brush radius and softness, eraser, undo/redo, clear, a
layer-range box (``"all"``, ``"0-3"``, ``"4-"``: :func:`neuralcollage.maps.parse_layers`), a switch between
**classes** (sCBN class painting), **blend** (feature blending: paint where a second latent shows
through) and **attribute** (paint where a latent attribute axis of :mod:`neuralcollage.axes` moves: an axis
dropdown and an amount slider; the features of ``G(z + a * u)`` are blended into the image inside the
painted region; available when the model ships axes, ``axes.json`` beside its generator), and export of
the map (``.npz``) and of a replayable recipe (``.json``, :func:`neuralcollage.painting.replay_recipe`).
The three paintings combine: the class map conditions every latent stream.

The preview is computed in a background thread: the kernel stays responsive, and strokes made while a
preview is being computed are coalesced into one follow-up render (debouncing without added latency;
``debounce=`` adds a quiet period).  Everything the mouse does is also available as methods
(:meth:`Painter.stroke`, :meth:`Painter.undo`, ...), which scripted notebooks and tests use.

Example (in a notebook)::

    from neuralcollage import pretrained, widgets
    bundle = pretrained.load_bundle("builtin")
    painter = widgets.Painter.from_bundle(bundle, seed=3, class_id="cat")
    painter                      # paint with the mouse
    painter.stroke([(10, 20), (40, 22)], label="fox", radius=6)   # or script it
    painter.set_mode("attribute"); painter.set_axis("fur_brightness", 1.5)   # when the model has axes
    painter.stroke([(20, 30), (30, 34)], radius=5)
    painter.export_recipe("my_edit.json")
"""
import html
import json
import os
import threading
import time
import warnings

import numpy

from matplotlib.figure import Figure

try:
    import ipywidgets as W
    from ipympl.backend_nbagg import Canvas, FigureManager
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(f"neuralcollage.widgets needs ipywidgets and ipympl ({exc}); install the notebook extra: "
                      "pip install 'neuralcollage[notebook]'") from exc

from neuralcollage import io as ncio
from neuralcollage import maps, painting, plotting
from neuralcollage.blending import classic_reach
from neuralcollage.collage import DEFAULT_COLOUR_REACH
from neuralcollage.io import to_model
from neuralcollage.reconstruction import DEFAULT_RECONSTRUCTION
from neuralcollage.style_mode import STYLE_COLORS, StyleMode

__all__ = ["Painter", "PreviewScheduler", "PhotoContext", "notebook_bundle", "tiny_bundle", "scripted",
           "MODES", "AMOUNT_RANGE", "SCRIPTED_ENV", "MODEL_ENV"]

MODES = ("scbn", "blend", "attribute", "style")
AMOUNT_RANGE = (-3.0, 3.0)
SCRIPTED_ENV = "NEURALCOLLAGE_SCRIPTED"
MODEL_ENV = "NEURALCOLLAGE_NOTEBOOK_MODEL"
_STREAM_COLORS = numpy.asarray([(0.5, 0.5, 0.5), (0.95, 0.2, 0.55), (0.1, 0.75, 0.9), (0.95, 0.75, 0.1)],
                               numpy.float32)
_ATTRIBUTE_COLORS = numpy.asarray([(0.5, 0.5, 0.5), (1.0, 0.55, 0.0)], numpy.float32)


# ----------------------------------------------------------------------------------------------------
# notebook support

def scripted(environ=None):
    """True when ``$NEURALCOLLAGE_SCRIPTED`` asks notebooks to replace the human's strokes by scripted ones."""
    value = (os.environ if environ is None else environ).get(SCRIPTED_ENV, "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def tiny_bundle(*, seed=0):
    """A tiny randomly initialised model (``tiny32``: 32 px, 4 classes) for demos and tests.

    Returns a :class:`neuralcollage.pretrained.ModelBundle` named ``"tiny-random"`` with a generator and a
    discriminator (weights drawn from ``seed``; the images are noise-like, not meaningful).  The per-class
    BN tables are randomised too (``gamma ~ 1 + 0.5 N(0, 1)``, ``beta ~ 0.5 N(0, 1)``), so that painting
    a class visibly changes the image.
    """
    from neuralcollage.labels import from_names
    from neuralcollage.models import Discriminator, Generator
    from neuralcollage.datasets import CLASS_NAMES

    state = numpy.random.get_state()
    try:
        numpy.random.seed(seed)
        gen = Generator.from_preset("tiny32")
        dis = Discriminator.from_preset("tiny32")
        rng = numpy.random.RandomState(seed)
        for path, param in sorted(gen.namedparams()):
            if path.endswith("/gammas/W"):
                param.array[...] = 1.0 + 0.5 * rng.standard_normal(param.shape)
            elif path.endswith("/betas/W"):
                param.array[...] = 0.5 * rng.standard_normal(param.shape)
    finally:
        numpy.random.set_state(state)
    vocab = from_names(list(CLASS_NAMES[:gen.n_classes]), name="tiny")
    fields = dict(name="tiny-random", generator=gen, discriminator=dis, vocabulary=vocab, arch="tiny32")
    from neuralcollage.pretrained import ModelBundle
    return ModelBundle(**fields)


def notebook_bundle(name=None, *, environ=None):
    """The model a notebook should use.

    ``$NEURALCOLLAGE_NOTEBOOK_MODEL`` (or ``name``) chooses: ``"tiny"`` forces :func:`tiny_bundle`;
    unset or ``"builtin"`` loads the built-in model and falls back to the tiny random model with a
    visible warning when it is not installed; anything else is passed to
    :func:`neuralcollage.pretrained.load_bundle` (errors are raised).

    Returns
    -------
    ModelBundle
    """
    env = os.environ if environ is None else environ
    choice = (name or env.get(MODEL_ENV) or "builtin").strip()
    if choice.lower() == "tiny":
        return tiny_bundle()
    if choice.lower() != "builtin":
        from neuralcollage.pretrained import load_bundle
        return load_bundle(choice)
    try:
        from neuralcollage.pretrained import load_bundle
        return load_bundle("builtin")
    except Exception as exc:  # not installed, not trained yet, or pretrained.py unavailable
        message = (f"the built-in model could not be loaded ({str(exc).splitlines()[0] if str(exc) else exc!r}); "
                   "using a tiny RANDOM model instead: images are noise, only the mechanics are shown")
        warnings.warn(message, stacklevel=2)
        try:
            from IPython import get_ipython
            from IPython.display import HTML, display
            if getattr(get_ipython(), "kernel", None) is not None:
                display(HTML(f"<div style='background:#fff3cd;border:1px solid #e0b000;padding:6px'>"
                             f"<b>Warning:</b> {message}</div>"))
        except Exception:
            pass
        return tiny_bundle()


# ----------------------------------------------------------------------------------------------------
# background rendering

class PreviewScheduler:
    """Run ``render()`` after requests, in one background thread, coalescing bursts.

    A request made while a render runs (or while ``delay`` has not passed since the last request) does not
    start another render: one more render follows the current one.  So the latest state is always rendered,
    the work is bounded by the render rate, and the caller never blocks.

    Parameters
    ----------
    render : callable
        Called with no arguments in the worker thread (or inline when ``threaded`` is False).
    delay : float
        Quiet period in seconds after the last request before rendering (0: render at once).
    threaded : bool
        False renders synchronously inside :meth:`request` (deterministic scripts and tests).
    on_error : callable, optional
        ``on_error(exception)`` when ``render`` raises (default: a warning).
    idle_exit : float
        The worker thread ends after this many idle seconds (a later request starts a new one), so that an
        abandoned painter does not keep a thread alive.
    """

    def __init__(self, render, *, delay=0.0, threaded=True, on_error=None, idle_exit=60.0):
        self._render = render
        self.delay = float(delay)
        self.threaded = bool(threaded)
        self._on_error = on_error
        self.idle_exit = float(idle_exit)
        self._cond = threading.Condition()
        self._pending = False
        self._busy = False
        self._closed = False
        self._last_request = 0.0
        self._thread = None
        self.requests = 0
        self.renders = 0

    def __repr__(self):
        return (f"PreviewScheduler(delay={self.delay}, threaded={self.threaded}, requests={self.requests}, "
                f"renders={self.renders})")

    @property
    def idle(self):
        """True when no render is running or pending."""
        with self._cond:
            return not (self._pending or self._busy)

    def request(self):
        """Ask for a render of the current state (returns at once when threaded)."""
        if self._closed:
            raise RuntimeError("the preview scheduler is closed")
        self.requests += 1
        if not self.threaded:
            self._run()
            return
        with self._cond:
            self._pending = True
            self._last_request = time.perf_counter()
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="neuralcollage-preview", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def wait(self, timeout=None):
        """Block until no render is running or pending; False on timeout."""
        if not self.threaded:
            return True
        with self._cond:
            return self._cond.wait_for(lambda: not (self._pending or self._busy) or self._closed, timeout)

    def close(self):
        """Stop the worker thread (a running render finishes first)."""
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)

    def _loop(self):
        while True:
            with self._cond:
                if not self._cond.wait_for(lambda: self._pending or self._closed, self.idle_exit):
                    self._thread = None
                    return
                while not self._closed and self.delay > 0:
                    remaining = self._last_request + self.delay - time.perf_counter()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                if self._closed:
                    self._thread = None
                    self._cond.notify_all()
                    return
                self._pending = False
                self._busy = True
            try:
                self._run()
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _run(self):
        try:
            self._render()
            self.renders += 1
        except Exception as exc:
            if self._on_error is not None:
                self._on_error(exc)
            else:
                warnings.warn(f"preview failed: {exc}")


# ----------------------------------------------------------------------------------------------------
# the painter

class PhotoContext:
    """A real photo being edited through its projection.

    Attributes
    ----------
    photo : numpy.ndarray (H, W, 3) uint8
    box : (top, left, side)
        Crop of the photo given to the generator.
    crop : numpy.ndarray (R, R, 3) uint8
    source_class : int
    projection : ProjectionResult or None
        What :func:`neuralcollage.inversion.project` returned.
    poisson : {"normal", "mixed", "none"}
    dilate : int
    seam : {"fixed", "optimal"}
        The Poisson boundary (:func:`neuralcollage.blending.poisson_blend`).
    colour_reach : float or None
        How far Poisson's colour correction reaches into the mask, in photo pixels (``"normal"`` only; None or
        ``inf``: throughout).
    """

    def __init__(self, photo, box, crop, source_class, projection=None, *, poisson="normal", dilate=8,
                 projection_options=None, seam="fixed", colour_reach=None, fit=None, reconstruction_psnr=None):
        from neuralcollage.blending import check_colour_reach, check_seam
        check_seam(seam, poisson)
        check_colour_reach(colour_reach)
        self.photo, self.box, self.crop = photo, tuple(int(v) for v in box), crop
        self.source_class, self.projection = int(source_class), projection
        self.poisson, self.dilate, self.seam, self.colour_reach = poisson, int(dilate), seam, colour_reach
        self.projection_options = dict(projection_options or {})
        self.fit, self.reconstruction_psnr = fit, reconstruction_psnr

    def __repr__(self):
        return (f"PhotoContext(photo={self.photo.shape[1]}x{self.photo.shape[0]}, box={self.box}, "
                f"source_class={self.source_class})")

    def recipe_info(self):
        info = {"box": list(self.box), "source_class": self.source_class, "poisson": self.poisson,
                "dilate": self.dilate, "photo_size": [int(self.photo.shape[0]), int(self.photo.shape[1])],
                "projection": dict(self.projection_options)}
        if self.seam != "fixed":
            info["seam"] = self.seam
        if self.poisson == "normal" and not classic_reach(self.colour_reach):
            info["colour_reach"] = float(self.colour_reach)
        if self.projection is not None:
            info["projection"]["loss"] = float(self.projection.loss)
        info["reconstruction"] = {
            "method": "projection" if self.fit is None else self.fit.options.method,
            "fit": None if self.fit is None else self.fit.options.to_json(),
            "psnr": None if self.reconstruction_psnr is None else round(float(self.reconstruction_psnr), 4)}
        return info


class Painter:
    """Brush painter with live preview for sCBN class maps, feature-blend masks and attribute regions.

    Parameters
    ----------
    generator : neuralcollage.models.Generator
    vocabulary : neuralcollage.labels.Vocabulary, optional
        Class names (default: numbered classes).
    z : array (1, dim_z), optional
        Latent of the image; default ``generator.sample_z(1, seed=seed)``.
    seed : int
        Seed of ``z`` when it is not given.
    class_id : int or str
        Base class: the image's class, what unpainted pixels (and the eraser) get.
    blend_seed : int, optional
        Seed of the second latent shown through blend painting (default ``seed + 1``).
    layers, blend_layers : layer spec
        Class layers that get the painted class map / blend layers that get the blend mask.
    attribute_layers : layer spec
        Blend layers where attribute painting blends the moved latent in.
    mode : {"scbn", "blend", "attribute", "style"}
        ``"style"`` needs ``style``.
    radius : float, optional
        Brush radius in generator pixels (default ``resolution / 10``).
    hardness : float
        1 hard edge ... 0 soft.
    debounce : float
        Extra quiet period in seconds before a preview (strokes during a render are coalesced anyway).
    threaded : bool
        Render previews in a background thread (False: synchronously, for scripts and tests).
    background : numpy.ndarray (R, R, 3) uint8, optional
        What to paint on (default: the unedited generated image); a photo crop for :meth:`from_photo`.
    photo : PhotoContext, optional
    model_info : dict, optional
        Recorded in recipes (``name``, ``sha256``, ...).
    panel_px : int
        Side in screen pixels of the paint panel and of the preview.
    bundle : ModelBundle, optional
        The model the generator comes from (set by :meth:`from_bundle` / :meth:`from_photo`; needed by
        :meth:`collage_recipe`; its axes file gives the attribute axes).
    axes : list of neuralcollage.axes.Axis or path, optional
        Attribute axes (default: :func:`neuralcollage.axes.bundle_axes` of ``bundle``).  Without axes (or
        without one usable for the base class) the attribute mode is off and a note says why.
    axis : str, optional
        The axis to paint (default: the first); a per-class axis of the base class is preferred.
    amount : float
        How far the painted region moves along the axis, in latent standard deviations (the slider spans
        :data:`AMOUNT_RANGE`; :meth:`set_axis` widens it for larger scripted amounts).
    style : neuralcollage.stylize.StyleSession, optional
        Exemplars for the "style" mode (:mod:`neuralcollage.style_mode`): the painted region of the preview is
        stylised live from the chosen exemplar.  Without it the mode is off.

    Attributes
    ----------
    class_canvas, stream_canvas, attribute_canvas : neuralcollage.painting.LabelPainter
        The class painting (``n_classes`` labels), the blend painting (labels = latent streams, 0 the
        image's own latent) and the attribute painting (0 unchanged, 1 moved).
    axes : list of neuralcollage.axes.Axis
        The axes offered (empty when the attribute mode is off).
    attribute_available : bool
    attribute_note : str
        Why the attribute mode is off ("" when it is on).
    preview : numpy.ndarray (R, R, 3) uint8
        The latest preview.
    timings : dict
        Milliseconds of the latest preview: ``render_ms`` (generator), ``show_ms`` (PNG to the widget),
        ``stroke_to_preview_ms`` (from the end of the stroke).
    preview_shown_at : float or None
        ``time.perf_counter()`` when the latest preview was sent to its widget.
    """

    def __init__(self, generator, *, vocabulary=None, z=None, seed=0, class_id=0, blend_seed=None,
                 layers="all", blend_layers="all", attribute_layers="all", mode="scbn", radius=None, hardness=0.8,
                 debounce=0.0, threaded=True, background=None, photo=None, model_info=None, panel_px=320,
                 bundle=None, axes=None, axis=None, amount=1.0, style=None):
        from neuralcollage.backend import to_numpy
        from neuralcollage.labels import numbered

        self.generator = generator
        self.vocabulary = vocabulary if vocabulary is not None else numbered(generator.n_classes)
        if len(self.vocabulary) != generator.n_classes:
            raise ValueError(f"vocabulary has {len(self.vocabulary)} classes but the generator has "
                             f"{generator.n_classes}")
        self.resolution = generator.resolution
        self.base_class = self.vocabulary.index(class_id)
        self.seed = seed
        self.z = numpy.asarray(to_numpy(generator.sample_z(1, seed=seed)) if z is None else to_numpy(z),
                               numpy.float32).reshape(1, generator.dim_z)
        self.blend_seed = seed + 1 if blend_seed is None else blend_seed
        self.z_streams = [numpy.asarray(to_numpy(generator.sample_z(1, seed=self.blend_seed)), numpy.float32)]
        self.class_canvas = painting.LabelPainter(generator.n_classes, self.resolution, base_label=self.base_class)
        self.stream_canvas = painting.LabelPainter(1 + len(self.z_streams), self.resolution, base_label=0)
        self._layers = {"scbn": maps.format_layers(maps.parse_layers(layers, generator.n_class_layers),
                                                   generator.n_class_layers),
                        "blend": maps.format_layers(maps.parse_layers(blend_layers, generator.n_blend_layers),
                                                    generator.n_blend_layers),
                        "attribute": maps.format_layers(maps.parse_layers(attribute_layers,
                                                                          generator.n_blend_layers),
                                                        generator.n_blend_layers)}
        self.attribute_canvas = painting.attribute_canvas(self.resolution)
        self.bundle = bundle
        self._init_axes(axes, axis, amount)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode == "attribute" and not self.attribute_available:
            raise ValueError(self.attribute_note)
        self.style = None if style is None else StyleMode(style, self.resolution, on_change=self._request_preview)
        if mode == "style" and self.style is None:
            raise ValueError("the style mode needs style= (a neuralcollage.stylize.StyleSession)")
        self.mode = mode
        self.radius = float(radius) if radius is not None else max(1.0, self.resolution / 10)
        self.hardness = float(hardness)
        self.erase = False
        self.label = {"scbn": (self.base_class + 1) % generator.n_classes, "blend": 1,
                      "attribute": painting.ATTRIBUTE_LABEL, "style": StyleMode.LABEL}
        self.photo = photo
        self.model_info = dict(model_info or {"name": "custom"})
        self.model_info.setdefault("arch", getattr(generator, "arch", None))
        self.model_info.setdefault("resolution", self.resolution)
        self.colors = plotting.label_colors(generator.n_classes)
        self.timings = {}
        self.last_error = None
        self._lock = threading.RLock()
        self._stroke_ended_at = None
        self._last_motion_draw = 0.0
        self._preview_version = 0
        self._stream_image = None
        self._attribute_image = None
        self._syncing = False
        self.preview_shown_at = None
        if background is None:
            background = self._generate(painting.LabelPainter(generator.n_classes, self.resolution,
                                                              base_label=self.base_class), None, None)
        self.background = numpy.asarray(background, numpy.uint8)
        if self.background.shape != (self.resolution, self.resolution, 3):
            raise ValueError(f"background must be ({self.resolution}, {self.resolution}, 3) uint8, got "
                             f"{self.background.shape}")
        self.preview = self.background.copy() if photo is None else self._generate(self.class_canvas, None, None)
        self._scheduler = PreviewScheduler(self._render_preview, delay=debounce, threaded=threaded,
                                           on_error=self._report_error)
        self.panel_px = int(panel_px)
        self._build_figure()
        self._build_controls()
        self._refresh_overlay()
        self._update_controls()

    def _init_axes(self, axes, axis, amount):
        from neuralcollage import axes as naxes

        self.axes, self.axis_names, self._axis, self.attribute_note = [], [], None, ""
        self.amount = painting.check_amount(amount)
        what = f"model {self._model_name!r}"
        if axes is None:
            try:
                axes = naxes.bundle_axes(self.bundle) if self.bundle is not None else []
            except naxes.AxisError as exc:
                self.attribute_note = f"attribute painting is off: {exc}"
                return
        elif isinstance(axes, (str, os.PathLike)):
            axes = naxes.load_axes(axes, dim_z=self.generator.dim_z)
        else:
            axes = list(axes)
        for a in axes:
            if a.dim_z != self.generator.dim_z:
                raise ValueError(f"axis {a.name!r} has dim_z {a.dim_z}; the generator's latents have "
                                 f"{self.generator.dim_z}")
        if not axes:
            self.attribute_note = (f"attribute painting is off: {what} has no attribute axes "
                                   f"({naxes.AXES_FILE} beside its generator; {naxes.DISCOVER_HINT})")
            return
        usable = []
        for name in naxes.axis_names(axes):
            try:
                naxes.get_axis(axes, name, class_id=self.base_class)
                usable.append(name)
            except naxes.UnknownAxisError:
                pass
        if not usable:
            self.attribute_note = (f"attribute painting is off: the axes of {what} "
                                   f"({', '.join(naxes.axis_names(axes))}) were fitted on other classes than "
                                   f"{self.vocabulary.names[self.base_class]!r}")
            return
        self.axes, self.axis_names = axes, usable
        self._axis = self._resolve_axis(usable[0] if axis is None else axis)

    @property
    def _model_name(self):
        name = getattr(self.bundle, "name", None)
        return str(name) if name is not None else "custom"

    @property
    def attribute_available(self):
        """True when the attribute mode can be used (the model has axes for the base class)."""
        return self._axis is not None

    @property
    def axis(self):
        """The :class:`neuralcollage.axes.Axis` attribute painting moves along (None when off)."""
        return self._axis

    def _resolve_axis(self, name):
        from neuralcollage import axes as naxes
        axis = naxes.get_axis(self.axes, name, class_id=self.base_class)
        if axis.name not in self.axis_names:
            raise naxes.UnknownAxisError(f"axis {axis.name!r} is not offered here (available: "
                                         f"{', '.join(self.axis_names)})")
        return axis

    # -------------------------------------------------------------- constructors
    @classmethod
    def from_bundle(cls, bundle, **kwargs):
        """A painter on a generated image of ``bundle`` (see :class:`Painter` for ``kwargs``)."""
        info = {"name": str(bundle.name), "arch": getattr(bundle, "arch", None)}
        sha = (getattr(bundle, "sha256", None) or {}).get("generator")
        if sha:
            info["sha256"] = sha
        kwargs.setdefault("model_info", info)
        return cls(bundle.generator, vocabulary=bundle.vocabulary, bundle=bundle, **kwargs)

    @classmethod
    def from_photo(cls, bundle, photo, *, label, mask=None, box=None, margin=0.25, steps=None, restarts=1,
                   seed=0, lr=0.075, mse_weight=0.2, progress=None, poisson="normal", dilate=8, seam="fixed",
                   colour_reach=DEFAULT_COLOUR_REACH, reconstruction=DEFAULT_RECONSTRUCTION, fit=None,
                   fit_progress=None, **kwargs):
        """A painter on a real photo: crop, project (:func:`neuralcollage.inversion.project`), fit the
        generator to the crop (:func:`neuralcollage.reconstruction.fit_generator`), then paint.

        Parameters
        ----------
        bundle : ModelBundle
            Needs a generator; its discriminator's features enter the projection loss (without one, e.g.
            BigGAN-deep: :class:`neuralcollage.inversion.PyramidFeatures`) and its encoder (if any)
            initialises the projection.
        photo : numpy.ndarray (H, W, 3) uint8
        label : int or str
            The class of what the photo shows (projection class and base class).
        mask : array (H, W), optional
            Region to edit: the crop is the square around it (:func:`neuralcollage.blending.square_crop_box`
            with ``margin``, at least the generator's resolution, as :func:`neuralcollage.collage.edit_photo`).
            Without mask or box: the largest centred square.
        box : (top, left, side), optional
            The crop, explicitly.
        steps, restarts, seed, lr, mse_weight
            Projection options (``steps=None``: the reconstruction's default, as in
            :func:`neuralcollage.collage.edit_photo`).
        progress : callable, optional
            ``progress(step, loss, restart)`` during the projection.
        poisson, dilate, seam, colour_reach
            How :meth:`composite` blends the edit back (:func:`neuralcollage.blending.poisson_blend`;
            ``colour_reach`` defaults to :data:`neuralcollage.collage.DEFAULT_COLOUR_REACH`, as in
            :func:`neuralcollage.collage.edit_photo`).
        reconstruction, fit, fit_progress
            As for :func:`neuralcollage.collage.edit_photo`: ``"features"`` (the default) or ``"pivotal"``
            paint on the generator fitted to the crop, so the preview starts from the photo itself (the fit
            fades out where the painting changes it); ``"projection"`` paints on the projection alone.  The reconstruction's PSNR shows in the status
            line (:attr:`PhotoContext.reconstruction_psnr`).
        **kwargs
            Passed to :class:`Painter`.
        """
        from neuralcollage import blending, inversion

        from neuralcollage import reconstruction as fitting
        from neuralcollage.models.generator import Generator

        blending.check_seam(seam, poisson)
        blending.check_colour_reach(colour_reach)
        settings = fitting.fit_options(reconstruction, fit)
        steps = fitting.projection_steps(reconstruction, steps)
        photo = numpy.asarray(photo)
        if photo.dtype != numpy.uint8 or photo.ndim != 3 or photo.shape[2] != 3:
            raise ValueError(f"photo must be (H, W, 3) uint8, got {photo.dtype} {photo.shape}")
        gen = bundle.generator
        class_id = bundle.vocabulary.index(label)
        if box is None:
            if mask is not None:
                box = blending.square_crop_box(mask, image_size=photo.shape[:2], margin=margin,
                                               min_size=gen.resolution)
            else:
                side = min(photo.shape[:2])
                box = ((photo.shape[0] - side) // 2, (photo.shape[1] - side) // 2, side)
        crop = blending.crop_and_resize(photo, box, gen.resolution)
        options = dict(steps=steps, restarts=restarts, seed=seed, lr=lr, mse_weight=mse_weight,
                       encoder=getattr(bundle, "encoder", None) is not None)
        result = inversion.project(gen, getattr(bundle, "discriminator", None), crop, class_id, steps=steps, lr=lr,
                                   mse_weight=mse_weight, encoder=getattr(bundle, "encoder", None),
                                   restarts=restarts, seed=seed, callback=progress)
        photo_fit = None
        if settings is not None and isinstance(gen, Generator):
            photo_fit = fitting.fit_generator(gen, crop, result.z[:1], class_id, options=settings,
                                              callback=fit_progress)
            gen = photo_fit.generator
        psnr = (photo_fit.psnr if photo_fit is not None
                else fitting.model_psnr(result.image[:1], to_model(crop[None])))
        context = PhotoContext(photo, box, crop, class_id, result, poisson=poisson, dilate=dilate,
                               projection_options=options, seam=seam, colour_reach=colour_reach, fit=photo_fit,
                               reconstruction_psnr=psnr)
        info = {"name": str(bundle.name), "arch": getattr(bundle, "arch", None)}
        sha = (getattr(bundle, "sha256", None) or {}).get("generator")
        if sha:
            info["sha256"] = sha
        kwargs.setdefault("model_info", info)
        return cls(gen, vocabulary=bundle.vocabulary, z=result.z[:1], class_id=class_id, background=crop,
                   photo=context, bundle=bundle, **kwargs)

    def __repr__(self):
        return (f"Painter(model={self.model_info.get('name')!r}, {self.resolution}px, mode={self.mode!r}, "
                f"base={self.vocabulary.names[self.base_class]!r}, class strokes="
                f"{len(self.class_canvas.strokes)}, blend strokes={len(self.stream_canvas.strokes)}, "
                f"attribute strokes={len(self.attribute_canvas.strokes)})")

    # -------------------------------------------------------------- display
    @property
    def widget(self):
        """The ipywidgets box to display."""
        return self._box

    @property
    def canvas(self):
        """The ipympl canvas (a widget; ``canvas.figure`` is the matplotlib figure)."""
        return self._canvas

    def _ipython_display_(self):
        from IPython.display import display
        display(self._box)

    def close(self):
        """Stop the preview thread and close the widgets."""
        self._scheduler.close()
        for w in self._all_widgets:
            w.close()

    # -------------------------------------------------------------- scripted painting (same paths as the mouse)
    @property
    def active_canvas(self):
        """The canvas the brush paints into in the current mode."""
        if self.mode == "style":
            return self.style.canvas
        return {"scbn": self.class_canvas, "blend": self.stream_canvas,
                "attribute": self.attribute_canvas}[self.mode]

    def stroke(self, points, *, label=None, radius=None, hardness=None, erase=None, mode=None, button=1):
        """Paint a stroke through the mouse handlers, as a drag along ``points``.

        Parameters
        ----------
        points : sequence of (x, y)
            Generator pixels (column, row).
        label : int or str, optional
            Class (name or index) in sCBN mode, latent stream in blend mode, 1 (move) or 0 (unchanged) in
            attribute mode; selects it in the palette.
        radius, hardness, erase : optional
            Set the brush controls first.
        mode : {"scbn", "blend", "attribute"}, optional
            Switch mode first.
        button : int
            1 left (paint), 3 right (erase).

        Returns
        -------
        neuralcollage.painting.Stroke or None
        """
        if mode is not None:
            self.set_mode(mode)
        if label is not None:
            self.select(label)
        if radius is not None:
            self._radius_slider.max = max(self._radius_slider.max, float(radius))
            self._radius_slider.value = float(radius)
        if hardness is not None:
            self._hardness_slider.value = float(hardness)
        if erase is not None:
            self._eraser.value = bool(erase)
        points = [tuple(map(float, p)) for p in points]
        if not points:
            raise ValueError("a stroke needs at least one point")
        ax = self._ax_paint
        n_before = len(self.active_canvas.strokes)
        self._on_press(_SyntheticEvent(ax, points[0], button))
        for p in points[1:]:
            self._on_motion(_SyntheticEvent(ax, p, button))
        self._on_release(_SyntheticEvent(ax, points[-1], button))
        strokes = self.active_canvas.strokes
        return strokes[-1] if len(strokes) > n_before else None

    def fill(self, label=None):
        """Fill the whole canvas of the current mode with ``label`` (undoable)."""
        if label is not None:
            self.select(label)
        with self._lock:
            self.active_canvas.fill(self.label[self.mode])
        self._changed()

    def undo(self):
        with self._lock:
            stroke = self.active_canvas.undo()
        self._changed()
        return stroke

    def redo(self):
        with self._lock:
            stroke = self.active_canvas.redo()
        self._changed()
        return stroke

    def clear(self):
        """Clear the canvas of the current mode (undoable)."""
        with self._lock:
            self.active_canvas.clear()
        self._changed()

    def set_mode(self, mode):
        """Switch to ``"scbn"``, ``"blend"`` or ``"attribute"`` (ValueError with the reason when the attribute
        mode is off)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode == "attribute" and not self.attribute_available:
            raise ValueError(self.attribute_note)
        if mode == "style" and self.style is None:
            raise ValueError("the style mode needs style= (a neuralcollage.stylize.StyleSession)")
        self._mode_toggle.value = mode

    def set_axis(self, name=None, amount=None):
        """Choose the attribute axis (name, case-insensitive) and/or the amount; the preview follows.

        Returns the :class:`neuralcollage.axes.Axis` in use.  Raises
        :class:`neuralcollage.axes.UnknownAxisError` for an axis not offered, ValueError for a non-finite
        amount or when the attribute mode is off.
        """
        if not self.attribute_available:
            raise ValueError(self.attribute_note)
        axis = self._axis if name is None else self._resolve_axis(name)
        value = self.amount if amount is None else painting.check_amount(amount)
        changed = axis is not self._axis or value != self.amount
        with self._lock:
            self._axis, self.amount = axis, value
            if changed:
                self._attribute_image = None
        self._syncing = True
        try:
            self._axis_dropdown.value = axis.name
            self._amount_slider.min = min(self._amount_slider.min, value)
            self._amount_slider.max = max(self._amount_slider.max, value)
            self._amount_slider.value = value
        finally:
            self._syncing = False
        if changed:
            self._update_swatch()
            self._update_attribute_note()
            if self.mode == "attribute":
                self._refresh_overlay()
            if not self.attribute_canvas.is_blank:
                self._request_preview()
        return axis

    def attribute_latent(self):
        """The moved latent ``z + amount * u``: ``(1, dim_z)`` float32 (ValueError when the mode is off)."""
        if self._axis is None:
            raise ValueError(self.attribute_note)
        return painting.attribute_latent(self.z, self._axis.direction, self.amount)

    def set_layers(self, spec, *, mode=None):
        """Set the layers of ``mode`` (default: the current mode); raises ValueError on a bad spec."""
        mode = mode or self.mode
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        n = self.generator.n_class_layers if mode == "scbn" else self.generator.n_blend_layers
        text = maps.format_layers(maps.parse_layers(spec, n), n)
        changed = text != self._layers[mode]
        self._layers[mode] = text
        if mode == self.mode:
            self._layers_text.value = text
        if changed:
            self._request_preview()

    def layers(self, mode=None):
        """The layer spec of ``mode`` (canonical string)."""
        return self._layers[mode or self.mode]

    def select(self, label):
        """Choose the label to paint: a class (name or index) in sCBN mode, a stream index in blend mode,
        1 (move) or 0 (unchanged) in attribute mode."""
        if self.mode == "scbn":
            index = self.vocabulary.index(label)
            self.label["scbn"] = index
            if index not in [v for _, v in self._palette.options]:
                if self._search.value:
                    self._search.value = ""
                else:
                    self._fill_palette()
            self._palette.value = index
        else:
            index = int(label)
            n = self.active_canvas.n_labels
            if not 0 <= index < n:
                what = "stream" if self.mode == "blend" else "attribute label"
                raise ValueError(f"{what} {label!r} is not valid (valid: 0-{n - 1})")
            self._palette.value = index
        return index

    def new_blend_latent(self, seed=None):
        """Draw a new second latent (stream 1) for blend painting."""
        from neuralcollage.backend import to_numpy
        self.blend_seed = self.blend_seed + 1 if seed is None else seed
        with self._lock:
            self.z_streams[0] = numpy.asarray(to_numpy(self.generator.sample_z(1, seed=self.blend_seed)),
                                              numpy.float32)
            self._stream_image = None
        self._refresh_overlay()
        self._request_preview()

    # -------------------------------------------------------------- results
    def class_map(self):
        """The painted class map: ``(1, n_classes, R, R)`` float32, normalised."""
        with self._lock:
            return self.class_canvas.class_map()

    def stream_map(self):
        """The painted blend weights over the latent streams: ``(1, S, R, R)`` float32, normalised."""
        with self._lock:
            return self.stream_canvas.class_map()

    def layer_maps(self):
        """The class map of every class layer (what the generator gets): list of ``(1, K, h, w)``."""
        return maps.layer_maps(self.class_map(), self.generator.class_map_resolutions,
                               layers=self._layers["scbn"], base=self.base_class)

    def attribute_alpha(self):
        """Where the attribute moves: ``(R, R)`` float32 in [0, 1]."""
        with self._lock:
            return self.attribute_canvas.painted_alpha()

    def render(self):
        """Generate the current edit now (synchronously): ``(R, R, 3)`` uint8."""
        with self._lock:
            kwargs = self._render_kwargs(self.class_canvas, self.stream_canvas, self.attribute_canvas)
        return painting.render_painting(self.generator, **kwargs)

    def wait(self, timeout=30.0):
        """Wait for the pending preview; returns the preview (raises TimeoutError)."""
        if not self._scheduler.wait(timeout):
            raise TimeoutError(f"the preview did not finish within {timeout} s")
        return self.preview

    def edit_mask(self):
        """Where the painting changes the image: ``(R, R)`` float32 in [0, 1]."""
        with self._lock:
            return painting.edit_mask(self.class_canvas, self.stream_canvas, self.attribute_canvas)

    def composite(self, *, image=None, mode=None, dilate=None, seam=None, colour_reach=None):
        """For a photo: the edit Poisson-blended into the full-resolution photo, ``(H, W, 3)`` uint8.

        ``mode``, ``dilate``, ``seam`` and ``colour_reach`` override the photo's settings
        (:class:`PhotoContext`; with ``mode="none"`` the seam defaults to ``"fixed"``; a colour reach
        only acts with ``"normal"``, ``inf`` for classic Poisson)."""
        if self.photo is None:
            raise ValueError("composite() is for painters made with Painter.from_photo")
        image = self.render() if image is None else image
        mode = mode or self.photo.poisson
        if seam is None:
            seam = "fixed" if mode == "none" else self.photo.seam
        if colour_reach is None:
            colour_reach = self.photo.colour_reach
        return painting.composite_photo(self.photo.photo, image, self.edit_mask(), self.photo.box, mode=mode,
                                        dilate=self.photo.dilate if dilate is None else dilate, seam=seam,
                                        colour_reach=colour_reach)

    def photo_mask(self):
        """For a photo: the painted region at the photo's resolution, ``(H, W)`` float32 in [0, 1]."""
        if self.photo is None:
            raise ValueError("photo_mask() is for painters made with Painter.from_photo")
        from neuralcollage import blending
        top, left, side = self.photo.box
        full = numpy.zeros(self.photo.photo.shape[:2], numpy.float32)
        full[top:top + side, left:left + side] = numpy.clip(
            blending.resize_to_box(self.edit_mask(), self.photo.box), 0.0, 1.0)
        return full

    def collage_recipe(self):
        """For a photo painted with one target class (sCBN, no blend strokes): the edit as a
        :func:`neuralcollage.collage.make_recipe` recipe, replayable by :func:`neuralcollage.collage.replay`
        and the ``collage`` command line.

        The recipe stores the painted region at the photo's resolution, which the replay resamples to the
        crop again, so the replayed photo matches :meth:`composite` closely, not bit for bit
        (:meth:`recipe` replays exactly and also holds multi-class and blend paintings).

        Raises
        ------
        ValueError
            Not a photo painter, no bundle, nothing painted, several target classes or blend strokes.
        """
        if self.photo is None or self.bundle is None:
            raise ValueError("collage_recipe() is for painters made with Painter.from_photo")
        with self._lock:
            if not self.stream_canvas.is_blank:
                raise ValueError("blend painting cannot be written as a collage recipe; use recipe()")
            if not self.attribute_canvas.is_blank:
                raise ValueError("attribute painting cannot be written as a collage recipe; use recipe()")
            targets = [c for c in self.class_canvas.used_labels() if c != self.base_class]
        if len(targets) != 1:
            names = ", ".join(self.vocabulary.names[c] for c in targets) or "none"
            raise ValueError(f"a collage recipe holds one target class; this painting has {names}; use recipe()")
        from neuralcollage import collage
        options = self.photo.projection_options
        return collage.make_recipe(
            self.bundle, self.photo.photo, self.photo_mask(), box=self.photo.box, z=self.z,
            source_class=self.base_class, target_class=targets[0], layers=self._layers["scbn"], method="scbn",
            blend_mode=self.photo.poisson, dilate=self.photo.dilate, seam=self.photo.seam,
            colour_reach=self.photo.colour_reach, steps=options.get("steps"),
            restarts=options.get("restarts"), seed=options.get("seed"),
            loss=None if self.photo.projection is None else self.photo.projection.loss, fit=self.photo.fit,
            reconstruction_psnr=self.photo.reconstruction_psnr)

    def recipe(self):
        """A replayable JSON-able recipe (:func:`neuralcollage.painting.replay_recipe`); attribute strokes
        are recorded with the axis (name, class, direction) and the amount."""
        with self._lock:
            return painting.painting_recipe(
                model=self.model_info, z=self.z, class_canvas=self.class_canvas,
                class_layers=self._layers["scbn"], z_streams=self.z_streams, stream_canvas=self.stream_canvas,
                blend_layers=self._layers["blend"], class_names=self.vocabulary.names,
                photo=self.photo.recipe_info() if self.photo is not None else None,
                extra={"seed": self.seed, "blend_seed": self.blend_seed},
                attribute_canvas=self.attribute_canvas if self._axis is not None else None,
                attribute_axis=self._axis, attribute_amount=self.amount,
                attribute_layers=self._layers["attribute"])

    def export_recipe(self, path):
        """Write :meth:`recipe` as JSON (atomically); returns the path."""
        ncio.atomic_write_text(path, json.dumps(self.recipe(), indent=1) + "\n")
        return path

    def export_map(self, path):
        """Write the maps to an ``.npz`` (atomically); returns the path.

        Keys: ``class_map (1, K, R, R)``, ``label_image (R, R)``, ``stream_map (1, S, R, R)``,
        ``class_layers``, ``blend_layers`` (str), ``base_class``, ``class_names (K,)``, ``z (1, dim_z)``,
        ``z_streams (S - 1, dim_z)``, ``attribute_alpha (R, R)``, ``attribute_layers`` (str), and when the
        attribute mode is on ``attribute_axis`` (str), ``attribute_amount``, ``z_attribute (1, dim_z)``.
        """
        with self._lock:
            arrays = dict(class_map=self.class_canvas.class_map(), label_image=self.class_canvas.label_image(),
                          stream_map=self.stream_canvas.class_map(),
                          class_layers=numpy.array(self._layers["scbn"]),
                          blend_layers=numpy.array(self._layers["blend"]),
                          base_class=numpy.array(self.base_class, numpy.int64),
                          class_names=numpy.array(self.vocabulary.names),
                          z=self.z, z_streams=numpy.concatenate(self.z_streams, axis=0),
                          attribute_alpha=self.attribute_canvas.painted_alpha(),
                          attribute_layers=numpy.array(self._layers["attribute"]))
            if self._axis is not None:
                arrays.update(attribute_axis=numpy.array(self._axis.name),
                              attribute_amount=numpy.array(self.amount, numpy.float64),
                              z_attribute=self.attribute_latent())
        ncio.atomic_save_npz(path, **arrays)
        return path

    # -------------------------------------------------------------- figure
    def _build_figure(self):
        dpi = 100
        side = self.panel_px / dpi
        fig = Figure(figsize=(side, side), dpi=dpi)
        ax = fig.add_axes((0, 0, 1, 1))
        r = self.resolution
        ax.set_axis_off()
        ax.set_xlim(-0.5, r - 0.5)
        ax.set_ylim(r - 0.5, -0.5)
        self._ax_paint = ax
        self._im_paint = ax.imshow(self.background, interpolation="nearest")
        self._canvas = Canvas(fig)
        self._manager = FigureManager(self._canvas, 0)
        self._canvas.header_visible = False
        self._canvas.footer_visible = False
        self._canvas.toolbar_visible = False
        self._canvas.resizable = False
        self._canvas.capture_scroll = False
        self._canvas.mpl_connect("button_press_event", self._on_press)
        self._canvas.mpl_connect("motion_notify_event", self._on_motion)
        self._canvas.mpl_connect("button_release_event", self._on_release)
        self.figure = fig
        self._preview_image = W.Image(value=self._png(self.preview), format="png",
                                      layout=W.Layout(width=f"{self.panel_px}px", height=f"{self.panel_px}px"))
        self._preview_image.add_class("neuralcollage-preview")
        self._canvas.add_class("neuralcollage-paint")

    def _png(self, image):
        """PNG bytes of ``image`` enlarged (nearest) to about the panel size."""
        from io import BytesIO

        from PIL import Image
        factor = max(1, self.panel_px // self.resolution)
        big = numpy.repeat(numpy.repeat(image, factor, axis=0), factor, axis=1) if factor > 1 else image
        with BytesIO() as buffer:
            Image.fromarray(big).save(buffer, format="png", compress_level=1)
            return buffer.getvalue()

    def _draw(self):
        self._canvas.draw_idle()

    def _overlay(self):
        """The paint panel: background with the current mode's painting laid over it."""
        with self._lock:
            canvas = self.active_canvas
            labels, planes = canvas.weights(include_active=True)
            painted = numpy.clip(1.0 - planes[0], 0.0, 1.0)
            if self.mode == "scbn":
                colors = self.colors[labels]
            elif self.mode == "blend":
                colors = _STREAM_COLORS[numpy.asarray(labels) % len(_STREAM_COLORS)]
            elif self.mode == "style":
                colors = STYLE_COLORS[labels]
            else:
                colors = _ATTRIBUTE_COLORS[labels]
            rgb = numpy.tensordot(planes[1:], colors[1:], axes=(0, 0)) / numpy.maximum(painted, 1e-6)[:, :, None]
        if self.mode in ("blend", "attribute"):
            source = self._stream_preview() if self.mode == "blend" else self._attribute_preview()
            shown = plotting.overlay_map(self.background, source, painted)
            return plotting.overlay_map(shown, numpy.clip(rgb * 255, 0, 255), 0.25 * painted)
        return plotting.overlay_map(self.background, numpy.clip(rgb * 255, 0, 255), 0.55 * painted)

    def _stream_preview(self):
        if self._stream_image is None:
            with self._lock:
                z = self.z_streams[0]
            self._stream_image = painting.render_painting(self.generator, z=z, base_class=self.base_class)
        return self._stream_image

    def _attribute_preview(self):
        """``G(z + amount * u)`` of the base class: what shows through the attribute painting's overlay."""
        image = self._attribute_image
        if image is None:
            image = painting.render_painting(self.generator, z=self.attribute_latent(), base_class=self.base_class)
            self._attribute_image = image
        return image

    def _refresh_overlay(self, *, throttle=False):
        now = time.perf_counter()
        if throttle and now - self._last_motion_draw < 0.04:
            return
        self._last_motion_draw = now
        self._im_paint.set_data(self._overlay())
        self._draw()

    # -------------------------------------------------------------- mouse
    def _on_press(self, event):
        if event.inaxes is not self._ax_paint or event.xdata is None or event.button not in (1, 3):
            return
        erase = self.erase or event.button == 3
        with self._lock:
            self.active_canvas.begin(event.xdata, event.ydata, label=self.label[self.mode], radius=self.radius,
                                     hardness=self.hardness, erase=erase)
        self._refresh_overlay()

    def _on_motion(self, event):
        if not self.active_canvas.drawing or event.inaxes is not self._ax_paint or event.xdata is None:
            return
        with self._lock:
            self.active_canvas.extend(event.xdata, event.ydata)
        self._refresh_overlay(throttle=True)

    def _on_release(self, event):
        if not self.active_canvas.drawing:
            return
        with self._lock:
            if event.inaxes is self._ax_paint and event.xdata is not None:
                self.active_canvas.extend(event.xdata, event.ydata)
            self.active_canvas.end()
        self._changed()

    def _changed(self):
        self._stroke_ended_at = time.perf_counter()
        self._refresh_overlay()
        self._update_controls()
        self._request_preview()

    # -------------------------------------------------------------- preview
    def _request_preview(self):
        self._scheduler.request()

    def _render_kwargs(self, class_canvas, stream_canvas, attribute_canvas):
        """Arguments of :func:`neuralcollage.painting.render_painting` for these canvases (fresh arrays; call
        under the lock)."""
        blank_streams = stream_canvas is None or stream_canvas.is_blank
        kwargs = dict(z=self.z, class_map=None if class_canvas.is_blank else class_canvas.class_map(),
                      base_class=self.base_class, class_layers=self._layers["scbn"], z_streams=list(self.z_streams),
                      stream_map=None if blank_streams else stream_canvas.class_map(),
                      blend_layers=self._layers["blend"])
        if attribute_canvas is not None and not attribute_canvas.is_blank and self._axis is not None:
            kwargs.update(attribute_z=self.attribute_latent(), attribute_alpha=attribute_canvas.painted_alpha(),
                          attribute_layers=self._layers["attribute"])
        return kwargs

    def _generate(self, class_canvas, stream_canvas, attribute_canvas):
        return painting.render_painting(self.generator,
                                        **self._render_kwargs(class_canvas, stream_canvas, attribute_canvas))

    def _render_preview(self):
        with self._lock:
            ended = self._stroke_ended_at
            kwargs = self._render_kwargs(self.class_canvas, self.stream_canvas, self.attribute_canvas)
            style_alpha = None if self.style is None else self.style.alpha()
        t0 = time.perf_counter()
        image = painting.render_painting(self.generator, **kwargs)
        if style_alpha is not None:
            image = self.style.apply(image, style_alpha)
        t1 = time.perf_counter()
        with self._lock:
            self.preview = image
            self._preview_version += 1
        self._preview_image.value = self._png(image)
        t2 = time.perf_counter()
        self.preview_shown_at = t2
        self.timings = {"render_ms": 1e3 * (t1 - t0), "show_ms": 1e3 * (t2 - t1)}
        if ended is not None:
            self.timings["stroke_to_preview_ms"] = 1e3 * (t2 - ended)
        self.last_error = None
        self._set_status(f"preview {self.timings['render_ms']:.0f} ms")

    def _report_error(self, exc):
        self.last_error = exc
        self._set_status(f"<span style='color:#b00'>preview failed: {exc}</span>")

    # -------------------------------------------------------------- controls
    def _build_controls(self):
        n = self.generator.n_classes
        modes = [("classes (sCBN)", "scbn"), ("blend latent", "blend")]
        if self.attribute_available:
            modes.append(("attribute", "attribute"))
        if self.style is not None:
            modes.append(("style", "style"))
        self._mode_toggle = W.ToggleButtons(options=modes, value=self.mode, description="mode",
                                            style={"button_width": "130px"})
        self._attribute_note = W.HTML()
        self._axis_dropdown = W.Dropdown(options=list(self.axis_names),
                                         value=self._axis.name if self._axis is not None else None,
                                         description="axis", disabled=not self.attribute_available,
                                         layout=W.Layout(width="230px"))
        lo, hi = AMOUNT_RANGE
        self._amount_slider = W.FloatSlider(value=self.amount, min=min(lo, self.amount), max=max(hi, self.amount),
                                            step=0.1, description="amount", continuous_update=False,
                                            disabled=not self.attribute_available, readout_format="+.1f")
        self._attribute_box = W.VBox([self._axis_dropdown, self._amount_slider])
        self._search = W.Text(placeholder="search classes", description="class", continuous_update=True,
                              layout=W.Layout(width="230px"))
        self._palette = W.Select(options=[], rows=min(8, max(n, 2)), layout=W.Layout(width="230px"))
        self._swatch = W.HTML()
        self._radius_slider = W.FloatSlider(value=self.radius, min=0.5, max=max(2.0, self.resolution / 2), step=0.5,
                                            description="radius", continuous_update=False)
        self._hardness_slider = W.FloatSlider(value=self.hardness, min=0.0, max=1.0, step=0.05,
                                              description="hardness", continuous_update=False)
        self._eraser = W.ToggleButton(value=False, description="eraser", icon="eraser")
        self._undo_button = W.Button(description="undo", icon="undo", layout=W.Layout(width="80px"))
        self._redo_button = W.Button(description="redo", icon="repeat", layout=W.Layout(width="80px"))
        self._clear_button = W.Button(description="clear", icon="trash", layout=W.Layout(width="80px"))
        self._new_latent_button = W.Button(description="new latent", icon="random", layout=W.Layout(width="110px"))
        self._layers_text = W.Text(value=self._layers.get(self.mode, ""), description="layers",
                                   continuous_update=False, layout=W.Layout(width="230px"))
        self._layers_help = W.HTML()
        self._path_text = W.Text(value="painting", description="save as", layout=W.Layout(width="230px"))
        self._save_map_button = W.Button(description="map .npz", icon="save", layout=W.Layout(width="100px"))
        self._save_recipe_button = W.Button(description="recipe .json", icon="save", layout=W.Layout(width="110px"))
        self._composite_button = W.Button(description="blend into photo", icon="image",
                                          layout=W.Layout(width="150px"), disabled=self.photo is None)
        self._status = W.HTML()
        self._output = W.Output()

        self._mode_toggle.observe(self._on_mode, names="value")
        self._axis_dropdown.observe(self._on_axis, names="value")
        self._amount_slider.observe(self._on_amount, names="value")
        self._search.observe(self._on_search, names="value")
        self._palette.observe(self._on_palette, names="value")
        self._radius_slider.observe(lambda c: setattr(self, "radius", float(c["new"])), names="value")
        self._hardness_slider.observe(lambda c: setattr(self, "hardness", float(c["new"])), names="value")
        self._eraser.observe(lambda c: setattr(self, "erase", bool(c["new"])), names="value")
        self._undo_button.on_click(lambda _: self.undo())
        self._redo_button.on_click(lambda _: self.redo())
        self._clear_button.on_click(lambda _: self.clear())
        self._new_latent_button.on_click(lambda _: self.new_blend_latent())
        self._layers_text.observe(self._on_layers, names="value")
        self._save_map_button.on_click(lambda _: self._save("map"))
        self._save_recipe_button.on_click(lambda _: self._save("recipe"))
        self._composite_button.on_click(lambda _: self._show_composite())

        self._fill_palette()
        style_box = [self.style.box] if self.style is not None else []
        if self.style is not None:
            self.style.show(self.mode == "style")
        palette = W.VBox([self._search, self._attribute_box, *style_box, self._palette, self._swatch])
        brush = W.VBox([self._radius_slider, self._hardness_slider,
                        W.HBox([self._eraser, self._undo_button, self._redo_button, self._clear_button]),
                        W.HBox([self._layers_text, self._layers_help]), self._new_latent_button])
        export = W.HBox([self._path_text, self._save_map_button, self._save_recipe_button, self._composite_button])
        side = W.Layout(min_width=f"{self.panel_px + 8}px")
        panels = W.HBox([W.VBox([W.HTML("<b>paint here</b>"), self._canvas], layout=side),
                         W.VBox([W.HTML("<b>preview</b>"), self._preview_image], layout=side)])
        self._box = W.VBox([self._mode_toggle, self._attribute_note, W.HBox([panels, W.VBox([palette, brush])],
                                                      layout=W.Layout(flex_flow="row wrap")), export,
                            self._status, self._output])
        self._all_widgets = [self._mode_toggle, self._search, self._palette, self._swatch, self._radius_slider,
                             self._hardness_slider, self._eraser, self._undo_button, self._redo_button,
                             self._clear_button, self._new_latent_button, self._layers_text, self._layers_help,
                             self._path_text, self._save_map_button, self._save_recipe_button,
                             self._composite_button, self._status, self._output, palette, brush, export,
                             panels, self._box, self._canvas, self._preview_image, self._attribute_note,
                             self._axis_dropdown, self._amount_slider, self._attribute_box]
        self._all_widgets += self.style.widgets if self.style is not None else []
        self._update_attribute_note()

    def _fill_palette(self):
        if self.mode == "scbn":
            found = self.vocabulary.search(self._search.value, limit=200)
            options = [(f"{i}: {name}", i) for i, name in found]
            current = self.label["scbn"]
            if current not in [i for i, _ in found] and found and not self._search.value:
                options.insert(0, (f"{current}: {self.vocabulary.names[current]}", current))
        elif self.mode == "blend":
            options = [("0: this image's latent (eraser)", 0)] + [
                (f"{i}: latent seed {self.blend_seed + i - 1}", i) for i in range(1, self.stream_canvas.n_labels)]
            current = self.label["blend"]
        elif self.mode == "style":
            options, current = StyleMode.palette_options(), self.label["style"]
        else:
            options = [("0: unchanged (eraser)", 0), (f"{painting.ATTRIBUTE_LABEL}: move the attribute",
                                                     painting.ATTRIBUTE_LABEL)]
            current = self.label["attribute"]
        values = [v for _, v in options]
        self._palette.unobserve(self._on_palette, names="value")
        self._palette.options = options
        self._palette.value = current if current in values else None
        self._palette.observe(self._on_palette, names="value")
        self._update_swatch()

    def _update_swatch(self):
        if self.mode == "scbn":
            i = self.label["scbn"]
            c, name = self.colors[i], self.vocabulary.names[i]
        elif self.mode == "blend":
            i = self.label["blend"]
            c, name = _STREAM_COLORS[i % len(_STREAM_COLORS)], f"latent stream {i}"
        elif self.mode == "style":
            c, name = self.style.swatch(self.label["style"])
        else:
            i = self.label["attribute"]
            c = _ATTRIBUTE_COLORS[i]
            name = f"{self._axis.name} {self.amount:+.2g}" if i else "unchanged"
        rgb = ",".join(str(int(round(255 * v))) for v in c)
        base = self.vocabulary.names[self.base_class]
        self._swatch.value = (f"<span style='display:inline-block;width:14px;height:14px;background:rgb({rgb});"
                              f"border:1px solid #333;vertical-align:middle'></span> painting <b>{name}</b> "
                              f"<small>(base: {base})</small>")

    def _on_mode(self, change):
        self.mode = change["new"]
        if self.mode in self._layers:
            self._layers_text.value = self._layers[self.mode]
        self._search.layout.display = None if self.mode == "scbn" else "none"
        if self.style is not None:
            self.style.show(self.mode == "style")
        self._update_attribute_note()
        self._fill_palette()
        self._refresh_overlay()
        self._update_controls()

    def _on_axis(self, change):
        if not self._syncing and change["new"] is not None:
            self.set_axis(change["new"])

    def _on_amount(self, change):
        if not self._syncing:
            self.set_axis(amount=change["new"])

    def _update_attribute_note(self):
        self._attribute_box.layout.display = None if self.mode == "attribute" else "none"
        if not self.attribute_available:
            self._attribute_note.value = (f"<div style='color:#8a6d00;background:#fff8e1;padding:2px 6px'>"
                                          f"<small>{html.escape(self.attribute_note)}</small></div>")
            return
        if self.mode != "attribute":
            self._attribute_note.value = ""
            return
        a = self._axis
        scope = "global axis" if a.class_id is None else f"axis of class {self.vocabulary.names[a.class_id]!r}"
        fit = f", fit R^2 {a.r2:.2f}" if numpy.isfinite(a.r2) else ""
        self._attribute_note.value = (f"<small>paint where <b>{html.escape(a.name)}</b> moves by "
                                      f"{self.amount:+.2g} latent std ({scope}{fit}); the features of the moved "
                                      f"latent are blended in at the attribute layers</small>")

    def _on_search(self, change):
        if self.mode == "scbn":
            self._fill_palette()

    def _on_palette(self, change):
        if change["new"] is None:
            return
        self.label[self.mode] = int(change["new"])
        self._update_swatch()

    def _on_layers(self, change):
        try:
            self.set_layers(change["new"])
        except ValueError as exc:
            self._layers_help.value = f"<span style='color:#b00'>{exc}</span>"
            return
        self._update_controls()

    def _update_controls(self):
        canvas = self.active_canvas
        self._undo_button.disabled = not canvas.can_undo
        self._redo_button.disabled = not canvas.can_redo
        n = self.generator.n_class_layers if self.mode == "scbn" else self.generator.n_blend_layers
        kind = "class layers" if self.mode == "scbn" else "blend layers"
        self._layers_help.value = f"<small>{kind} 0-{n - 1} (early: shape, late: texture)</small>" \
            if self.mode != "style" else "<small>the style mode has no layers</small>"
        self._layers_text.disabled = self.mode == "style"
        self._new_latent_button.layout.display = None if self.mode == "blend" else "none"

    def _set_status(self, message):
        with self._lock:
            used = self.class_canvas.used_labels()
        names = ", ".join(self.vocabulary.names[i] for i in used[:6]) + (" ..." if len(used) > 6 else "")
        if self.photo is not None and self.photo.reconstruction_psnr is not None:
            how = f"{self.photo.fit.options.method} fit" if self.photo.fit is not None else "projection"
            message += f" &middot; reconstruction {self.photo.reconstruction_psnr:.1f} dB ({how})"
        self._status.value = (f"<small>{message} &middot; class strokes {len(self.class_canvas.strokes)}, blend "
                              f"strokes {len(self.stream_canvas.strokes)}, attribute strokes "
                              f"{len(self.attribute_canvas.strokes)} &middot; classes: {names}</small>")

    def _save(self, what):
        stem = self._path_text.value.strip() or "painting"
        path = stem if stem.endswith(".npz" if what == "map" else ".json") else \
            stem + (".npz" if what == "map" else ".json")
        try:
            (self.export_map if what == "map" else self.export_recipe)(path)
            self._set_status(f"saved {path}")
        except Exception as exc:
            self._set_status(f"<span style='color:#b00'>could not save {path}: {exc}</span>")

    def _show_composite(self):
        from IPython.display import display
        self._output.clear_output()
        with self._output:
            result = self.composite()
            display(plotting.before_after(self.photo.photo, result, titles=("photo", "edited photo")))


class _SyntheticEvent:
    """What the mouse handlers read from a matplotlib ``MouseEvent``."""

    def __init__(self, ax, point, button):
        self.inaxes = ax
        self.xdata, self.ydata = float(point[0]), float(point[1])
        self.button = button

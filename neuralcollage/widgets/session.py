"""The brush painter without widgets: the painted maps, strokes and undo, the rendered preview, photo edits,
recipes and exports.

:class:`PainterSession` holds everything :class:`neuralcollage.widgets.Painter` shows and does; the painter only
draws it and forwards the mouse and the controls.  A session works the same in a script, a test or another
user interface: paint with :meth:`PainterSession.stroke` (or the pointer calls :meth:`~PainterSession.begin`,
:meth:`~PainterSession.extend`, :meth:`~PainterSession.end`), read :attr:`~PainterSession.preview`, and
:meth:`~PainterSession.observe` its events to follow it.  It imports no widget or plotting library.

Examples
--------
>>> from neuralcollage.models import Generator
>>> session = PainterSession(Generator.from_preset("tiny32"), seed=0, threaded=False)
>>> session.stroke([(4, 4), (20, 12)], label=1, radius=3).label
1
>>> int(session.class_canvas.label_image()[8, 12])
1
>>> session.preview.shape, session.preview.dtype
((32, 32, 3), dtype('uint8'))
>>> _ = session.undo()
>>> session.class_canvas.is_blank
True
"""
import inspect
import time

import numpy

from neuralcollage import painting
from neuralcollage.widgets.document import PaintDocument
from neuralcollage.widgets.forward import forwarding
from neuralcollage.widgets.photo import open_photo
from neuralcollage.widgets.scheduler import PreviewScheduler

__all__ = ["PainterSession", "MODES", "AMOUNT_RANGE", "DOCUMENT_NAMES", "bundle_model_info"]

#: The painting modes: sCBN classes, feature blending of a second latent, an attribute axis, example-based style.
MODES = ("scbn", "blend", "attribute", "style")
#: The amounts a view's slider spans (scripts may go further).
AMOUNT_RANGE = (-3.0, 3.0)
_PHOTO_OPTIONS = tuple(name for name, p in inspect.signature(open_photo).parameters.items()
                       if p.kind is p.KEYWORD_ONLY and name != "label")


def bundle_model_info(bundle):
    """What recipes record of ``bundle``'s model: ``{"name", "arch"[, "sha256"]}``."""
    info = {"name": str(bundle.name), "arch": getattr(bundle, "arch", None)}
    sha = (getattr(bundle, "sha256", None) or {}).get("generator")
    if sha:
        info["sha256"] = sha
    return info


#: The document's names a session shows as its own.
DOCUMENT_NAMES = (
    "generator", "vocabulary", "resolution", "base_class", "seed", "z", "blend_seed", "z_streams", "class_canvas",
    "stream_canvas", "attribute_canvas", "style_canvas", "photo", "bundle", "model_info", "attributes", "lock",
    "axes", "axis_names", "axis", "amount", "attribute_note", "attribute_available", "attribute_latent",
    "class_map", "stream_map", "layer_maps", "attribute_alpha", "edit_mask", "render", "stream_image",
    "attribute_image", "composite", "photo_mask", "collage_recipe", "recipe", "export_recipe", "export_map",
    "style_alpha", "render_styled")


@forwarding("document", DOCUMENT_NAMES, source=PaintDocument)
class PainterSession:
    """Painted sCBN class maps, feature-blend masks, attribute and style regions, and their live preview.

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
    photo : neuralcollage.widgets.photo.PhotoContext, optional
    model_info : dict, optional
        Recorded in recipes (``name``, ``sha256``, ...).
    bundle : ModelBundle, optional
        The model the generator comes from (needed by :meth:`collage_recipe`; its axes file gives the axes).
    axes, axis, amount
        The attribute axes (default: those of ``bundle``), the axis to paint and how far the painted region
        moves along it, in latent standard deviations (:class:`neuralcollage.widgets.attribute.AttributeChoice`).
        Without a usable axis the attribute mode is off and :attr:`attribute_note` says why.
    style : neuralcollage.stylize.StyleSession, optional
        Exemplars for the "style" mode: the painted region of the preview is stylised from the chosen exemplar.

    Attributes
    ----------
    document : neuralcollage.widgets.document.PaintDocument
        What is painted: the latents, the canvases (``class_canvas``, ``stream_canvas``, ``attribute_canvas``,
        ``style_canvas``), the layers and the attribute axis; its :data:`DOCUMENT_NAMES` are the session's too.
    style_session : neuralcollage.stylize.StyleSession or None
    mode : str
    radius, hardness : float
    erase : bool
        The brush.
    label : dict
        The label each mode paints.
    preview : numpy.ndarray (R, R, 3) uint8
        The latest preview.
    timings : dict
        Milliseconds of the latest preview: ``render_ms`` (generator), ``show_ms`` (the observers, e.g. a view
        sending the image to its widget), ``stroke_to_preview_ms`` (from the end of the stroke).
    preview_shown_at : float or None
        ``time.perf_counter()`` when the observers had the latest preview.
    last_error : Exception or None
        What the latest preview raised.
    scheduler : neuralcollage.widgets.scheduler.PreviewScheduler

    Events (:meth:`observe`): ``callback(event, **info)`` with ``"stroke"`` (a stroke grows; ``throttle``),
    ``"changed"`` (a stroke ended, undo, redo, clear, fill), ``"mode"``, ``"label"``, ``"axis"`` (``changed``),
    ``"layers"`` (``mode``), ``"streams"``, ``"style"``, ``"preview"`` (``image``), ``"status"``
    (``message``, ``error``).
    """

    def __init__(self, generator, *, vocabulary=None, z=None, seed=0, class_id=0, blend_seed=None, layers="all",
                 blend_layers="all", attribute_layers="all", mode="scbn", radius=None, hardness=0.8, debounce=0.0,
                 threaded=True, background=None, photo=None, model_info=None, bundle=None, axes=None, axis=None,
                 amount=1.0, style=None):
        self.document = PaintDocument(generator, vocabulary=vocabulary, z=z, seed=seed, class_id=class_id,
                                      blend_seed=blend_seed, layers=layers, blend_layers=blend_layers,
                                      attribute_layers=attribute_layers, photo=photo, model_info=model_info,
                                      bundle=bundle, axes=axes, axis=axis, amount=amount,
                                      style=style if style is not None else False)
        self.style_session = style
        self._check_mode(mode)
        self.mode = mode
        r = self.resolution
        self.radius = float(radius) if radius is not None else max(1.0, r / 10)
        self.hardness = float(hardness)
        self.erase = False
        self.label = {"scbn": (self.base_class + 1) % generator.n_classes, "blend": 1,
                      "attribute": painting.ATTRIBUTE_LABEL, "style": painting.ATTRIBUTE_LABEL}
        self.timings, self.last_error, self.preview_shown_at = {}, None, None
        self._listeners = []
        self._stroke_ended_at = None
        self.background = numpy.asarray(self.document.render(painted=False) if background is None else background,
                                        numpy.uint8)
        if self.background.shape != (r, r, 3):
            raise ValueError(f"background must be ({r}, {r}, 3) uint8, got {self.background.shape}")
        self.preview = self.background.copy() if photo is None else self.document.render()
        self.scheduler = PreviewScheduler(self._render_preview, delay=debounce, threaded=threaded,
                                          on_error=self._report_error)

    @classmethod
    def from_bundle(cls, bundle, **kwargs):
        """A session on a generated image of ``bundle`` (``kwargs``: see :class:`PainterSession`)."""
        kwargs.setdefault("model_info", bundle_model_info(bundle))
        return cls(bundle.generator, vocabulary=bundle.vocabulary, bundle=bundle, **kwargs)

    @classmethod
    def from_photo(cls, bundle, photo, *, label, **kwargs):
        """A session on a real photo: crop, project, fit the generator to the crop
        (:func:`neuralcollage.widgets.photo.open_photo`, which takes the photo options of ``kwargs``: ``mask``,
        ``box``, ``margin``, ``steps``, ``restarts``, ``seed``, ``lr``, ``mse_weight``, ``progress``,
        ``blend_options`` (a :class:`neuralcollage.options.BlendOptions`) or its shorthands ``blend_mode``,
        ``dilate``, ``seam``, ``colour_reach``, ``reconstruction``, ``fit``, ``fit_progress``),
        then paint on the crop with the projected latent (the other ``kwargs``: see :class:`PainterSession`)."""
        options = {name: kwargs.pop(name) for name in _PHOTO_OPTIONS if name in kwargs}
        opened = open_photo(bundle, photo, label=label, **options)
        kwargs.setdefault("model_info", bundle_model_info(bundle))
        return cls(opened.generator, vocabulary=bundle.vocabulary, z=opened.z, class_id=opened.class_id,
                   background=opened.crop, photo=opened.context, bundle=bundle, **kwargs)

    def __repr__(self):
        return (f"{type(self).__name__}(model={self.model_info.get('name')!r}, {self.resolution}px, "
                f"mode={self.mode!r}, base={self.vocabulary.names[self.base_class]!r}, class strokes="
                f"{len(self.class_canvas.strokes)}, blend strokes={len(self.stream_canvas.strokes)}, "
                f"attribute strokes={len(self.attribute_canvas.strokes)})")

    # ------------------------------------------------------------------ events
    def observe(self, callback):
        """Call ``callback(event, **info)`` on every event (see the class docstring)."""
        self._listeners.append(callback)

    def unobserve(self, callback):
        """Stop calling ``callback`` (no error when it is not observing)."""
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _notify(self, event, **info):
        for callback in list(self._listeners):
            callback(event, **info)

    def close(self):
        """Stop the preview thread."""
        self.scheduler.close()

    # ------------------------------------------------------------------ controls
    def set_axis(self, name=None, amount=None):
        """Choose the attribute axis (name, case-insensitive) and/or the amount; the preview follows.

        Returns the :class:`neuralcollage.axes.Axis` in use.  Raises
        :class:`neuralcollage.axes.UnknownAxisError` for an axis not offered, ValueError for a non-finite
        amount or when the attribute mode is off.
        """
        changed = self.document.set_axis(name, amount)
        self._notify("axis", changed=changed)
        if changed and not self.attribute_canvas.is_blank:
            self.request_preview()
        return self.axis

    def _check_mode(self, mode):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode == "attribute" and not self.attribute_available:
            raise ValueError(self.attribute_note)
        if mode == "style" and self.style_session is None:
            raise ValueError("the style mode needs style= (a neuralcollage.stylize.StyleSession)")

    def set_mode(self, mode):
        """Switch to ``"scbn"``, ``"blend"``, ``"attribute"`` or ``"style"`` (ValueError with the reason when
        the mode is off)."""
        self._check_mode(mode)
        if mode != self.mode:
            self.mode = mode
            self._notify("mode")

    @property
    def active_canvas(self):
        """The canvas the brush paints into in the current mode."""
        return {"scbn": self.class_canvas, "blend": self.stream_canvas, "attribute": self.attribute_canvas,
                "style": self.style_canvas}[self.mode]

    def set_layers(self, spec, *, mode=None):
        """Set the layers of ``mode`` (default: the current mode); raises ValueError on a bad spec."""
        mode = mode or self.mode
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        changed = self.document.set_layers(spec, mode=mode)
        self._notify("layers", mode=mode)
        if changed:
            self.request_preview()

    def layers(self, mode=None):
        """The layer spec of ``mode`` (default: the current mode; canonical string, None for the style mode)."""
        return self.document.layers(mode or self.mode)

    def select(self, label):
        """Choose the label to paint: a class (name or index) in sCBN mode, a stream index in blend mode,
        1 (move / stylise) or 0 (unchanged) in attribute and style mode.  Returns the index."""
        if self.mode == "scbn":
            index = self.vocabulary.index(label)
        else:
            index = int(label)
            n = self.active_canvas.n_labels
            if not 0 <= index < n:
                what = "stream" if self.mode == "blend" else "attribute label"
                raise ValueError(f"{what} {label!r} is not valid (valid: 0-{n - 1})")
        self.label[self.mode] = index
        self._notify("label")
        return index

    def new_blend_latent(self, seed=None):
        """Draw a new second latent (stream 1) for blend painting."""
        self.document.new_blend_latent(seed)
        self._notify("streams")
        self.request_preview()

    def choose_style(self, name=None, *, seed=None):
        """Select the style exemplar ``name`` and/or the jitter ``seed``; the preview follows."""
        if self.style_session is None:
            raise ValueError("the style mode needs style= (a neuralcollage.stylize.StyleSession)")
        if name is not None:
            self.style_session.choose(name)
        if seed is not None:
            self.style_session.seed = int(seed)
        self._notify("style")
        self.request_preview()

    # ------------------------------------------------------------------ painting
    def begin(self, x, y, *, button=1):
        """Press the brush at generator pixel ``(x, y)``: button 1 paints the selected label, 3 erases."""
        if button not in (1, 3):
            return
        with self.lock:
            self.active_canvas.begin(x, y, label=self.label[self.mode], radius=self.radius, hardness=self.hardness,
                                     erase=self.erase or button == 3)
        self._notify("stroke", throttle=False)

    def extend(self, x, y):
        """Drag the pressed brush to ``(x, y)`` (ignored when no stroke is open)."""
        if not self.active_canvas.drawing:
            return
        with self.lock:
            self.active_canvas.extend(x, y)
        self._notify("stroke", throttle=True)

    def end(self, x=None, y=None):
        """Release the brush (at ``(x, y)`` when given); the preview follows."""
        if not self.active_canvas.drawing:
            return
        with self.lock:
            if x is not None:
                self.active_canvas.extend(x, y)
            self.active_canvas.end()
        self._changed()

    def stroke(self, points, *, label=None, radius=None, hardness=None, erase=None, mode=None, button=1):
        """Paint a stroke along ``points`` (generator pixels ``(x, y)``), optionally switching ``mode``,
        selecting ``label`` and setting the brush first (see :meth:`select`); ``button`` 3 erases.

        Returns the new :class:`neuralcollage.painting.Stroke`, or None."""
        if mode is not None:
            self.set_mode(mode)
        if label is not None:
            self.select(label)
        if radius is not None:
            self.radius = float(radius)
        if hardness is not None:
            self.hardness = float(hardness)
        if erase is not None:
            self.erase = bool(erase)
        points = [tuple(map(float, p)) for p in points]
        if not points:
            raise ValueError("a stroke needs at least one point")
        n_before = len(self.active_canvas.strokes)
        self.begin(*points[0], button=button)
        for p in points[1:]:
            self.extend(*p)
        self.end(*points[-1])
        strokes = self.active_canvas.strokes
        return strokes[-1] if len(strokes) > n_before else None

    def fill(self, label=None):
        """Fill the whole canvas of the current mode with ``label`` (undoable)."""
        if label is not None:
            self.select(label)
        with self.lock:
            self.active_canvas.fill(self.label[self.mode])
        self._changed()

    def undo(self):
        """Undo the last stroke of the current mode; returns it (or None)."""
        with self.lock:
            stroke = self.active_canvas.undo()
        self._changed()
        return stroke

    def redo(self):
        """Redo the last undone stroke of the current mode; returns it (or None)."""
        with self.lock:
            stroke = self.active_canvas.redo()
        self._changed()
        return stroke

    def clear(self):
        """Clear the canvas of the current mode (undoable)."""
        with self.lock:
            self.active_canvas.clear()
        self._changed()

    def _changed(self):
        self._stroke_ended_at = time.perf_counter()
        self._notify("changed")
        self.request_preview()

    # ------------------------------------------------------------------ preview
    def request_preview(self):
        """Ask for a preview of the current state (in the background when threaded)."""
        self.scheduler.request()

    def wait(self, timeout=30.0):
        """Wait for the pending preview; returns the preview (raises TimeoutError)."""
        if not self.scheduler.wait(timeout):
            raise TimeoutError(f"the preview did not finish within {timeout} s")
        return self.preview

    def active_weights(self):
        """``(labels, planes)`` of the active canvas, the stroke being drawn included
        (:meth:`neuralcollage.painting.LabelPainter.weights`)."""
        with self.lock:
            return self.active_canvas.weights(include_active=True)

    def status_parts(self, message):
        """The status line as plain-text pieces: ``message``, the photo's reconstruction, the stroke counts and
        the classes painted."""
        with self.lock:
            used = self.class_canvas.used_labels()
        names = ", ".join(self.vocabulary.names[i] for i in used[:6]) + (" ..." if len(used) > 6 else "")
        parts = [message]
        if self.photo is not None and self.photo.reconstruction_note:
            parts.append(self.photo.reconstruction_note)
        return parts + [f"class strokes {len(self.class_canvas.strokes)}, blend strokes "
                        f"{len(self.stream_canvas.strokes)}, attribute strokes {len(self.attribute_canvas.strokes)}",
                        f"classes: {names}"]

    def _render_preview(self):
        with self.lock:
            ended = self._stroke_ended_at
            kwargs = self.document.render_kwargs()
            style = self.style_canvas
            style_alpha = None if style is None or style.is_blank else style.painted_alpha()
        t0 = time.perf_counter()
        image = painting.render_painting(self.generator, **kwargs)
        if style_alpha is not None:
            image = self.style_session.preview(style_alpha, target=image)
        t1 = time.perf_counter()
        with self.lock:
            self.preview = image
        self._notify("preview", image=image)
        t2 = time.perf_counter()
        self.preview_shown_at = t2
        self.timings = {"render_ms": 1e3 * (t1 - t0), "show_ms": 1e3 * (t2 - t1)}
        if ended is not None:
            self.timings["stroke_to_preview_ms"] = 1e3 * (t2 - ended)
        self.last_error = None
        self._notify("status", message=f"preview {self.timings['render_ms']:.0f} ms", error=False)

    def _report_error(self, exc):
        self.last_error = exc
        self._notify("status", message=f"preview failed: {exc}", error=True)

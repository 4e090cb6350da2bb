"""The notebook painter's view: an ipympl paint panel, a live preview and the controls around them.

:class:`Painter` draws a :class:`~neuralcollage.widgets.session.PainterSession` and forwards the mouse and the
controls to it; everything it does is the session's (its public names are the painter's too), so the view only
builds widgets, turns their events into session calls and redraws on the session's events.
"""
import html
import time

from matplotlib.figure import Figure

try:
    import ipywidgets as W
    from ipympl.backend_nbagg import Canvas, FigureManager
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(f"neuralcollage.widgets needs ipywidgets and ipympl ({exc}); install the notebook extra: "
                      "pip install 'neuralcollage[notebook]'") from exc

from neuralcollage import plotting
from neuralcollage.widgets import display
from neuralcollage.widgets.forward import forwarding
from neuralcollage.widgets.session import AMOUNT_RANGE, DOCUMENT_NAMES, PainterSession
from neuralcollage.widgets.style_mode import StyleMode

__all__ = ["Painter", "SESSION_NAMES"]

#: The session's names a painter shows as its own (the document's and the session's).
SESSION_NAMES = DOCUMENT_NAMES + (
    "document", "style_session", "mode", "radius", "hardness", "erase", "label", "background", "preview",
    "timings", "last_error", "preview_shown_at", "active_canvas", "set_mode", "set_axis", "set_layers", "layers",
    "select", "new_blend_latent", "fill", "undo", "redo", "clear", "wait")


@forwarding("session", SESSION_NAMES, source=PainterSession)
class Painter:
    """Brush painter with live preview for sCBN class maps, feature-blend masks, attribute and style regions.

    Parameters
    ----------
    generator : neuralcollage.models.Generator, optional
        The painter makes its session from it and ``options``.
    session : neuralcollage.widgets.session.PainterSession, keyword-only, optional
        Or show an existing session.
    panel_px : int, keyword-only
        Side in screen pixels of the paint panel and of the preview.
    **options
        The :class:`~neuralcollage.widgets.session.PainterSession`'s (``vocabulary``, ``z``, ``seed``,
        ``class_id``, ``blend_seed``, ``layers``, ``blend_layers``, ``attribute_layers``, ``mode``, ``radius``,
        ``hardness``, ``debounce``, ``threaded``, ``background``, ``photo``, ``model_info``, ``bundle``, ``axes``,
        ``axis``, ``amount``, ``style``).  The attribute mode's amount slider spans :data:`AMOUNT_RANGE`
        (:meth:`set_axis` widens it for larger scripted amounts).

    Attributes
    ----------
    session : neuralcollage.widgets.session.PainterSession
        What is painted and its preview; its :data:`SESSION_NAMES` (``class_canvas``, ``preview``, ``undo``,
        ``recipe``, ...) are the painter's too.
    style : neuralcollage.widgets.style_mode.StyleMode or None
        The style mode's controls (``style.canvas`` is the style canvas).
    timings : dict
        As the session's; ``show_ms`` is the PNG sent to the preview widget.
    """

    def __init__(self, generator=None, *, session=None, panel_px=320, **options):
        if session is None:
            if generator is None:
                raise TypeError("Painter needs a generator (or session=)")
            session = PainterSession(generator, **options)
        elif generator is not None or options:
            raise TypeError("Painter(session=...) takes no generator or session options")
        self.session = session
        self.panel_px = int(panel_px)
        self.colors = plotting.label_colors(self.generator.n_classes)
        self.style = StyleMode(session) if session.style_session is not None else None
        self._syncing = False
        self._last_motion_draw = 0.0
        self._build_figure()
        self._build_controls()
        self._refresh_overlay()
        self._update_controls()
        session.observe(self._on_session)

    @classmethod
    def from_bundle(cls, bundle, *, panel_px=320, **options):
        """A painter on a generated image of ``bundle`` (``options``: :meth:`PainterSession.from_bundle
        <neuralcollage.widgets.session.PainterSession.from_bundle>`)."""
        return cls(session=PainterSession.from_bundle(bundle, **options), panel_px=panel_px)

    @classmethod
    def from_photo(cls, bundle, photo, *, label, panel_px=320, **options):
        """A painter on a real photo: crop, project, fit the generator to the crop, then paint
        (:meth:`PainterSession.from_photo <neuralcollage.widgets.session.PainterSession.from_photo>`; the photo
        options are :func:`neuralcollage.widgets.photo.open_photo`'s).  The reconstruction's PSNR shows in the
        status line; :meth:`composite` blends the edit back into the photo."""
        return cls(session=PainterSession.from_photo(bundle, photo, label=label, **options), panel_px=panel_px)

    def __repr__(self):
        return repr(self.session).replace(type(self.session).__name__, "Painter", 1)

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
        from IPython.display import display as show
        show(self._box)

    def close(self):
        """Stop the preview thread and close the widgets."""
        self.session.unobserve(self._on_session)
        self.session.close()
        for w in self._all_widgets:
            w.close()

    def stroke(self, points, *, label=None, radius=None, hardness=None, erase=None, mode=None, button=1):
        """Paint a stroke through the mouse handlers, as a drag along ``points`` (generator pixels ``(x, y)``),
        setting the controls first: the mode, the palette's ``label``, the brush's ``radius``, ``hardness`` and
        ``erase`` (as :meth:`PainterSession.stroke <neuralcollage.widgets.session.PainterSession.stroke>`;
        ``button`` 1 paints, 3 erases).  Returns the new :class:`neuralcollage.painting.Stroke`, or None."""
        if mode is not None:
            self.set_mode(mode)
        if label is not None:
            self.select(label)
        if radius is not None:
            self._radius_slider.max = max(self._radius_slider.max, float(radius))
            self._radius_slider.value = self.session.radius = float(radius)
        if hardness is not None:
            self._hardness_slider.value = self.session.hardness = float(hardness)
        if erase is not None:
            self._eraser.value = self.session.erase = bool(erase)
        points = [tuple(map(float, p)) for p in points]
        if not points:
            raise ValueError("a stroke needs at least one point")
        n_before = len(self.active_canvas.strokes)
        self._on_press(_SyntheticEvent(self._ax_paint, points[0], button))
        for p in points[1:]:
            self._on_motion(_SyntheticEvent(self._ax_paint, p, button))
        self._on_release(_SyntheticEvent(self._ax_paint, points[-1], button))
        strokes = self.active_canvas.strokes
        return strokes[-1] if len(strokes) > n_before else None

    # -------------------------------------------------------------- mouse
    def _on_press(self, event):
        if event.inaxes is self._ax_paint and event.xdata is not None:
            self.session.begin(event.xdata, event.ydata, button=event.button)

    def _on_motion(self, event):
        if event.inaxes is self._ax_paint and event.xdata is not None:
            self.session.extend(event.xdata, event.ydata)

    def _on_release(self, event):
        inside = event.inaxes is self._ax_paint and event.xdata is not None
        self.session.end(*((event.xdata, event.ydata) if inside else ()))

    # -------------------------------------------------------------- the session's events
    def _on_session(self, event, **info):
        if event == "stroke":
            self._refresh_overlay(throttle=info["throttle"])
        elif event in ("changed", "streams"):
            self._refresh_overlay()
            self._update_controls()
        elif event == "preview":
            self._preview_image.value = self._png(info["image"])
        elif event == "status":
            self._set_status(info["message"], error=info["error"])
        elif event == "mode":
            self._show_mode()
        elif event == "label":
            self._show_label()
        elif event == "axis":
            self._show_axis(info["changed"])
        elif event == "layers":
            if info["mode"] == self.mode:
                self._sync(self._layers_text, value=self.layers())
            self._update_controls()
        elif event == "style" and self.style is not None:
            self.style.sync()

    def _sync(self, widget, **values):
        """Set widget traits without calling the session back."""
        self._syncing = True
        try:
            for name, value in values.items():
                setattr(widget, name, value)
        finally:
            self._syncing = False

    def _show_mode(self):
        self._sync(self._mode_toggle, value=self.mode)
        if self.layers() is not None:
            self._sync(self._layers_text, value=self.layers())
        self._search.layout.display = None if self.mode == "scbn" else "none"
        if self.style is not None:
            self.style.show(self.mode == "style")
        self._show_attribute_note()
        self._fill_palette()
        self._refresh_overlay()
        self._update_controls()

    def _show_label(self):
        index = self.label[self.mode]
        if self.mode == "scbn" and index not in [v for _, v in self._palette.options]:
            if self._search.value:
                self._search.value = ""
            else:
                self._fill_palette()
        self._sync(self._palette, value=index)
        self._update_swatch()

    def _show_axis(self, changed):
        value = self.amount
        self._sync(self._axis_dropdown, value=self.axis.name)
        self._sync(self._amount_slider, min=min(self._amount_slider.min, value),
                   max=max(self._amount_slider.max, value), value=value)
        if changed:
            self._update_swatch()
            self._show_attribute_note()
            if self.mode == "attribute":
                self._refresh_overlay()

    def _show_attribute_note(self):
        self._attribute_box.layout.display = None if self.mode == "attribute" else "none"
        self._attribute_note.value = display.attribute_note_html(self.session)

    def _fill_palette(self):
        options = display.palette_options(self.session, self._search.value)
        current = self.label[self.mode]
        self._sync(self._palette, options=options)
        self._sync(self._palette, value=current if current in [v for _, v in options] else None)
        self._update_swatch()

    def _update_swatch(self):
        self._swatch.value = display.swatch_html(self.session, self.colors)

    def _update_controls(self):
        canvas = self.active_canvas
        self._undo_button.disabled = not canvas.can_undo
        self._redo_button.disabled = not canvas.can_redo
        self._layers_help.value = display.layers_help_html(self.session)
        self._layers_text.disabled = self.mode == "style"
        self._new_latent_button.layout.display = None if self.mode == "blend" else "none"

    def _set_status(self, message, *, error=False):
        parts = [html.escape(part) for part in self.session.status_parts(message)]
        if error:
            parts[0] = f"<span style='color:#b00'>{parts[0]}</span>"
        self._status.value = "<small>" + " &middot; ".join(parts) + "</small>"

    # -------------------------------------------------------------- the controls' events
    def _on_mode(self, change):
        if not self._syncing:
            self.set_mode(change["new"])

    def _on_axis(self, change):
        if not self._syncing and change["new"] is not None:
            self.set_axis(change["new"])

    def _on_amount(self, change):
        if not self._syncing:
            self.set_axis(amount=change["new"])

    def _on_search(self, change):
        if self.mode == "scbn":
            self._fill_palette()

    def _on_palette(self, change):
        if not self._syncing and change["new"] is not None:
            self.select(change["new"])

    def _on_layers(self, change):
        if self._syncing:
            return
        try:
            self.set_layers(change["new"])
        except ValueError as exc:
            self._layers_help.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"

    def _save(self, what):
        suffix = ".npz" if what == "map" else ".json"
        stem = self._path_text.value.strip() or "painting"
        path = stem if stem.endswith(suffix) else stem + suffix
        try:
            (self.export_map if what == "map" else self.export_recipe)(path)
            self._set_status(f"saved {path}")
        except Exception as exc:
            self._set_status(f"could not save {path}: {exc}", error=True)

    def _show_composite(self):
        from IPython.display import display as show
        self._output.clear_output()
        with self._output:
            result = self.composite()
            show(plotting.before_after(self.photo.photo, result, titles=("photo", "edited photo")))

    # -------------------------------------------------------------- drawing
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
        for attr in ("header_visible", "footer_visible", "toolbar_visible", "resizable", "capture_scroll"):
            setattr(self._canvas, attr, False)
        self._canvas.mpl_connect("button_press_event", self._on_press)
        self._canvas.mpl_connect("motion_notify_event", self._on_motion)
        self._canvas.mpl_connect("button_release_event", self._on_release)
        self.figure = fig
        self._preview_image = W.Image(value=self._png(self.preview), format="png",
                                      layout=W.Layout(width=f"{self.panel_px}px", height=f"{self.panel_px}px"))
        self._preview_image.add_class("neuralcollage-preview")
        self._canvas.add_class("neuralcollage-paint")

    def _png(self, image):
        return display.png_bytes(image, factor=max(1, self.panel_px // self.resolution))

    def _refresh_overlay(self, *, throttle=False):
        now = time.perf_counter()
        if throttle and now - self._last_motion_draw < 0.04:
            return
        self._last_motion_draw = now
        self._im_paint.set_data(display.overlay(self.session, self.colors))
        self._canvas.draw_idle()

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
                                         value=self.axis.name if self.axis is not None else None,
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
        self._layers_text = W.Text(value=self.layers() or "", description="layers",
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
        self._radius_slider.observe(lambda c: setattr(self.session, "radius", float(c["new"])), names="value")
        self._hardness_slider.observe(lambda c: setattr(self.session, "hardness", float(c["new"])), names="value")
        self._eraser.observe(lambda c: setattr(self.session, "erase", bool(c["new"])), names="value")
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
        self._show_attribute_note()


class _SyntheticEvent:
    """What the mouse handlers read from a matplotlib ``MouseEvent``."""

    def __init__(self, ax, point, button):
        self.inaxes = ax
        self.xdata, self.ydata = float(point[0]), float(point[1])
        self.button = button

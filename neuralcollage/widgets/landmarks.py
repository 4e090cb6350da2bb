"""Notebook landmark editor: click to place an exemplar's landmarks, drag to move them, save the JSON.

The editing is :class:`neuralcollage.stylize.LandmarkEditor`'s (headless, tested without widgets); this
widget shows the image in an ipympl canvas and turns mouse events into its calls: a left click places the next
landmark (the one chosen in the dropdown, else the first not yet placed), a left drag from a placed point
moves it, a right click removes the nearest one.  Undo, redo, save and load buttons; every mouse action is
also a method (:meth:`LandmarkEditorWidget.click`, :meth:`LandmarkEditorWidget.drag`) for scripts and tests.

Example (in a notebook)::

    from neuralcollage.widgets.landmarks import LandmarkEditorWidget
    editor = LandmarkEditorWidget(exemplar_image)
    editor                          # click the points in the order the panel asks for
    editor.save("exemplar.json")    # then: collage stylize --style-landmarks exemplar.json ...
"""
import html

import numpy
from matplotlib.figure import Figure

try:
    import ipywidgets as W
    from ipympl.backend_nbagg import Canvas, FigureManager
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(f"neuralcollage.widgets.landmarks needs ipywidgets and ipympl ({exc}); install the notebook "
                      "extra: pip install 'neuralcollage[notebook]'") from exc

from neuralcollage.stylize.landmark_editor import BUILTIN_LANDMARK_NAMES, LandmarkEditor

__all__ = ["LandmarkEditorWidget"]


class _Event:
    def __init__(self, ax, x, y, button):
        self.inaxes, self.xdata, self.ydata, self.button = ax, float(x), float(y), button


class LandmarkEditorWidget:
    """Place, move and save an image's landmarks with the mouse.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W, 3)`` uint8 RGB.
    names : sequence of str, keyword-only
        The landmarks in order (default: the built-in landmark model's).
    points : array_like, keyword-only, optional
        Starting points, e.g. predicted (NaN rows unplaced).
    path : str, keyword-only
        Default file of the save / load buttons.
    panel_px : int, keyword-only
    grab_px : float, keyword-only
        A press within this many screen pixels of a placed point drags it instead of placing a new one.

    Attributes
    ----------
    editor : neuralcollage.stylize.LandmarkEditor
    """

    def __init__(self, image, *, names=BUILTIN_LANDMARK_NAMES, points=None, path="landmarks.json", panel_px=320,
                 grab_px=8.0):
        self.image = numpy.asarray(image)
        self.editor = LandmarkEditor(self.image.shape, names=names, points=points)
        self.panel_px = int(panel_px)
        h, w = self.editor.shape
        self._grab = float(grab_px) * max(h, w) / self.panel_px
        self._dragging = None
        fig = Figure(figsize=(self.panel_px / 100, self.panel_px * h / w / 100), dpi=100)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_axis_off()
        ax.imshow(self.image, interpolation="nearest")
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        self._ax = ax
        self._dots = ax.scatter([], [], s=28, c="#ffd400", edgecolors="black", linewidths=0.8, zorder=3)
        self._labels = []
        self._canvas = Canvas(fig)
        self._manager = FigureManager(self._canvas, 0)
        for attr in ("header_visible", "footer_visible", "toolbar_visible", "resizable", "capture_scroll"):
            setattr(self._canvas, attr, False)
        self._canvas.mpl_connect("button_press_event", self._on_press)
        self._canvas.mpl_connect("button_release_event", self._on_release)
        self.figure = fig
        self._next = W.Dropdown(options=[("first unplaced", -1)] + [(f"{i}: {n}", i) for i, n in
                                                                    enumerate(self.editor.names)],
                                value=-1, description="next", layout=W.Layout(width="230px"))
        self._undo = W.Button(description="undo", icon="undo", layout=W.Layout(width="80px"))
        self._redo = W.Button(description="redo", icon="repeat", layout=W.Layout(width="80px"))
        self._path = W.Text(value=path, description="file", layout=W.Layout(width="230px"))
        self._save = W.Button(description="save", icon="save", layout=W.Layout(width="80px"))
        self._load = W.Button(description="load", icon="folder-open", layout=W.Layout(width="80px"))
        self._status = W.HTML()
        self._next.observe(self._on_next, names="value")
        self._undo.on_click(lambda _: self.undo())
        self._redo.on_click(lambda _: self.redo())
        self._save.on_click(lambda _: self._save_clicked())
        self._load.on_click(lambda _: self._load_clicked())
        controls = W.VBox([self._next, W.HBox([self._undo, self._redo]), W.HBox([self._path, self._save,
                                                                                  self._load]), self._status])
        self._box = W.HBox([self._canvas, controls])
        self._widgets = [self._next, self._undo, self._redo, self._path, self._save, self._load, self._status,
                         controls, self._box, self._canvas]
        self._refresh()

    def __repr__(self):
        return f"LandmarkEditorWidget({self.editor!r})"

    @property
    def widget(self):
        return self._box

    @property
    def status(self):
        """The status line (HTML): how many are placed, which is next, the last message."""
        return self._status.value

    @property
    def canvas(self):
        return self._canvas

    def _ipython_display_(self):
        from IPython.display import display
        display(self._box)

    def close(self):
        for w in self._widgets:
            w.close()

    # ------------------------------------------------------------ scripted mouse (same handlers)
    def click(self, x, y, *, button=1):
        """A click at image pixel ``(x, y)``: place (button 1) or remove the nearest point (button 3)."""
        self._on_press(_Event(self._ax, x, y, button))
        self._on_release(_Event(self._ax, x, y, button))

    def drag(self, start, end):
        """Press at ``start`` and release at ``end`` (moves the point grabbed at ``start``)."""
        self._on_press(_Event(self._ax, *start, 1))
        self._on_release(_Event(self._ax, *end, 1))

    def undo(self):
        self.editor.undo()
        self._refresh()

    def redo(self):
        self.editor.redo()
        self._refresh()

    def save(self, path=None):
        """Save the landmarks JSON (ValueError naming the missing landmarks when incomplete); returns the path."""
        path = path or self._path.value
        self.editor.save(path)
        self._refresh(f"saved {html.escape(str(path))}")
        return path

    def load(self, path=None):
        path = path or self._path.value
        loaded = LandmarkEditor.load(path, self.image.shape, names=self.editor.names)
        self.editor = loaded
        self._refresh(f"loaded {html.escape(str(path))}")

    # ------------------------------------------------------------ handlers
    def _on_press(self, event):
        if event.inaxes is not self._ax or event.xdata is None:
            return
        if event.button == 3:
            i = self.editor.nearest(event.xdata, event.ydata, radius=self._grab)
            if i is not None:
                self.editor.remove(i)
            self._refresh()
            return
        if event.button == 1:
            self._dragging = self.editor.nearest(event.xdata, event.ydata, radius=self._grab)
            if self.editor.selected is not None:
                self._dragging = None

    def _on_release(self, event):
        if event.button != 1 or event.inaxes is not self._ax or event.xdata is None:
            self._dragging = None
            return
        try:
            if self._dragging is not None:
                self.editor.move(self._dragging, event.xdata, event.ydata)
            else:
                self.editor.place(event.xdata, event.ydata)
                self._next.value = -1
        except ValueError as exc:
            self._refresh(f"<span style='color:#b00'>{html.escape(str(exc))}</span>")
            return
        finally:
            self._dragging = None
        self._refresh()

    def _on_next(self, change):
        self.editor.select(None if change["new"] == -1 else change["new"])
        self._refresh()

    def _save_clicked(self):
        try:
            self.save()
        except (ValueError, OSError) as exc:
            self._refresh(f"<span style='color:#b00'>{html.escape(str(exc))}</span>")

    def _load_clicked(self):
        try:
            self.load()
        except (ValueError, OSError) as exc:
            self._refresh(f"<span style='color:#b00'>{html.escape(str(exc))}</span>")

    def _refresh(self, message=None):
        placed = self.editor.placed
        pts = self.editor.points[placed]
        self._dots.set_offsets(pts if len(pts) else numpy.empty((0, 2)))
        for text in self._labels:
            text.remove()
        self._labels = [self._ax.text(x + 0.8, y - 0.8, str(i), color="white", fontsize=8, zorder=4,
                                      bbox=dict(boxstyle="round,pad=0.1", fc="black", alpha=0.5, lw=0))
                        for i, (x, y) in zip(numpy.flatnonzero(placed), pts)]
        self._canvas.draw_idle()
        self._undo.disabled = not self.editor.can_undo
        self._redo.disabled = not self.editor.can_redo
        nxt = self.editor.next_name
        state = (f"click <b>{self.editor.next_index}: {html.escape(nxt)}</b>" if nxt is not None
                 else "all placed: drag a point to move it, or save")
        self._status.value = (f"<small>{self.editor.n_placed}/{len(self.editor.names)} placed &middot; {state}"
                              + (f" &middot; {message}" if message else "") + "</small>")

"""Notebook brush painter: paint a label map over an image and watch the generator follow.

:class:`Painter` shows two panels in an ipympl canvas: the image you paint on (a generated image, or the
crop of a real photo) with the painted labels laid over it, and a live preview regenerated after every
stroke.  Around it: a searchable class palette, brush radius and softness, eraser, undo/redo, clear, a
layer-range box (``"all"``, ``"0-3"``, ``"4-"``: :func:`neuralcollage.maps.parse_layers`), a switch between
**classes** (sCBN class painting), **blend** (feature blending: paint where a second latent shows
through), **attribute** (paint where a latent attribute axis of :mod:`neuralcollage.axes` moves: an axis
dropdown and an amount slider; the features of ``G(z + a * u)`` are blended into the image inside the
painted region; available when the model ships axes, ``axes.json`` beside its generator) and **style**
(with ``style=``, a :class:`neuralcollage.stylize.StyleSession`), and export of the map (``.npz``) and of a
replayable recipe (``.json``, :func:`neuralcollage.painting.replay_recipe`).  The paintings combine: the
class map conditions every latent stream.

The preview is computed in a background thread: the kernel stays responsive, and strokes made while a
preview is being computed are coalesced into one follow-up render (debouncing without added latency;
``debounce=`` adds a quiet period).  Everything the mouse does is also available as methods
(:meth:`Painter.stroke`, :meth:`Painter.undo`, ...), which scripted notebooks and tests use.

The package, by role (only ``view``, ``style_mode`` and ``landmarks`` import ipywidgets, and only when used):

* ``session`` -- :class:`~neuralcollage.widgets.session.PainterSession`, the painter without widgets (modes,
  brush, undo, previews, events), painting a ``document`` (:class:`~neuralcollage.widgets.document.PaintDocument`:
  latents, canvases, layers, renders, recipes and exports) with the helpers ``attribute`` (the attribute
  axes), ``photo`` (projection, fit and compositing of a real photo) and ``scheduler`` (background previews);
* ``view`` -- :class:`Painter`, the widgets, drawing with ``display`` (overlay, palette and swatch);
* ``style_mode`` -- the style mode's controls; ``landmarks`` -- the click-to-place landmark editor;
* ``notebook`` -- the model a notebook uses and whether it scripts the strokes.

Example (in a notebook)::

    from neuralcollage import pretrained, widgets
    bundle = pretrained.load_bundle("builtin")
    painter = widgets.Painter.from_bundle(bundle, seed=3, class_id="cat")
    painter                      # paint with the mouse
    painter.stroke([(10, 20), (40, 22)], label="fox", radius=6)   # or script it
    painter.set_mode("attribute"); painter.set_axis("fur_brightness", 1.5)   # when the model has axes
    painter.stroke([(20, 30), (30, 34)], radius=5)
    painter.export_recipe("my_edit.json")

Without a notebook::

    from neuralcollage.widgets.session import PainterSession
    session = PainterSession.from_bundle(bundle, seed=3, class_id="cat", threaded=False)
    session.stroke([(10, 20), (40, 22)], label="fox", radius=6)
    session.preview              # (R, R, 3) uint8
"""
import importlib

__all__ = ["Painter", "PainterSession", "PreviewScheduler", "PhotoContext", "StyleMode", "LandmarkEditorWidget",
           "builtin_style_session", "notebook_bundle", "tiny_bundle", "scripted", "MODES", "AMOUNT_RANGE",
           "STYLE_COLORS", "SCRIPTED_ENV", "MODEL_ENV"]

# name -> the module that defines it, imported on first use (so that the headless modules import no widgets)
_WHERE = {"Painter": "view", "PainterSession": "session", "MODES": "session", "AMOUNT_RANGE": "session",
          "PreviewScheduler": "scheduler", "PhotoContext": "photo", "StyleMode": "style_mode",
          "builtin_style_session": "style_mode", "STYLE_COLORS": "display", "LandmarkEditorWidget": "landmarks",
          "notebook_bundle": "notebook", "tiny_bundle": "notebook", "scripted": "notebook",
          "SCRIPTED_ENV": "notebook", "MODEL_ENV": "notebook"}


def __getattr__(name):
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))

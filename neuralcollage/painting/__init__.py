"""Brush strokes -> label maps, and replayable painting recipes (plain Python and NumPy).

This is the logic behind the notebook painter (:mod:`neuralcollage.widgets`), kept free of widgets and
plotting so that it can be tested and scripted without a browser.

Conventions
-----------
* A canvas has ``n_labels`` labels (the model's classes for sCBN painting, the latent streams for
  feature-blend painting) and a size ``(H, W)``, normally the generator's resolution.
* Stroke points are ``(x, y)`` in canvas pixels: ``x`` is the column, ``y`` the row, pixel centres at
  integers (matplotlib's ``imshow`` data coordinates).  Points may lie outside the canvas.
* A stroke paints an alpha mask (1 inside the brush, falling to 0 at its radius; ``hardness`` 1 is a hard
  disc with a one-pixel anti-aliased edge, 0 a linear-to-smooth falloff from the centre) and composites
  its label over what is beneath: ``w <- (1 - a) w + a onehot(label)``.  The eraser composites the base
  label (``base_label``) instead, so erasing returns to the unpainted state.  Every pixel's weights stay
  non-negative and sum to 1.
* Strokes are the unit of undo/redo; the map is always the composite of the committed strokes, so
  replaying a painter's strokes reproduces its map exactly.
* Attribute painting uses a two-label canvas (0 unchanged, 1 moved): inside its painted alpha the features
  of ``G(z + a * u)`` (a latent attribute axis ``u`` of :mod:`neuralcollage.axes`, amount ``a``) are
  blended into the painting at the attribute's blend layers (:func:`blend_layer_maps`,
  :func:`render_painting`); recipes record the axis, its direction, the amount and the strokes.
* Style painting (the painter's "style" mode) uses a two-label canvas too: inside its painted alpha the
  generator's image of the other paintings is stylised from an exemplar (:mod:`neuralcollage.stylize`);
  recipes record the exemplar (by name, file and sha256), its landmarks, the painted image's landmarks, the
  knobs and the strokes (:mod:`neuralcollage.stylize.recipe`).
* Recipe versions: 1 (class and blend painting), 2 (with attribute painting), 3 (with style painting).  A
  recipe gets the lowest version that holds it, so recipes without attribute or style painting still read
  with older versions of this package, and every older recipe replays as before.

Modules
-------
Everything is imported from here (``from neuralcollage.painting import LabelPainter``); the modules are the
layout: ``strokes`` (:class:`Stroke`, :func:`stroke_alpha`), ``canvas`` (:class:`LabelPainter`,
:func:`attribute_canvas`), ``rendering`` (:func:`blend_layer_maps`, :func:`attribute_latent`,
:func:`render_painting`), ``photo`` (:func:`edit_mask`, :func:`composite_photo`) and ``recipes``
(:func:`painting_recipe`, :func:`check_recipe`, :func:`replay_recipe`, :func:`photo_blend_options`).

Example
-------
>>> painter = LabelPainter(6, 64, base_label=0)
>>> stroke = painter.add_stroke([(10, 10), (40, 20)], label=3, radius=6, hardness=1.0)
>>> m = painter.class_map()
>>> m.shape, float(m[0, 3, 15, 25]), float(m[0, 0, 60, 60])
((1, 6, 64, 64), 1.0, 1.0)
>>> _ = painter.undo(); float(painter.class_map()[0, 3].max())
0.0
"""
from neuralcollage.painting.canvas import ATTRIBUTE_LABEL, LabelPainter, attribute_canvas
from neuralcollage.painting.photo import composite_photo, edit_mask
from neuralcollage.painting.recipes import (RECIPE_KIND, RECIPE_VERSION, check_recipe, painting_recipe,
                                            photo_blend_options, replay_recipe)
from neuralcollage.painting.rendering import attribute_latent, blend_layer_maps, check_amount, render_painting
from neuralcollage.painting.strokes import Stroke, stroke_alpha

__all__ = ["Stroke", "LabelPainter", "stroke_alpha", "blend_layer_maps", "render_painting", "attribute_latent",
           "check_amount", "attribute_canvas", "painting_recipe", "replay_recipe", "check_recipe", "edit_mask",
           "composite_photo", "photo_blend_options", "RECIPE_KIND", "RECIPE_VERSION", "ATTRIBUTE_LABEL"]

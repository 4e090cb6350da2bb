"""Edit operations on latents, the real-photo pipeline and replayable edit recipes.

* :func:`render`, :func:`edit_class_maps`, :func:`scbn_edit`, :func:`blend_edit`: edits of a latent at the
  generator's resolution (images ``(N, 3, R, R)`` float32 in ``[-1, 1]``, masks ``(R, R)`` in ``[0, 1]``;
  :mod:`~neuralcollage.collage.edits`).
* :func:`edit_photo`: a real photo, a mask and a target label in, the edited photo out (DESIGN.md §1: crop,
  project, edit, Poisson-blend back at full resolution; every pixel outside
  :func:`neuralcollage.blending.blend_region` is bit-identical to the photo; :mod:`~neuralcollage.collage.photo`).
* :func:`make_recipe` / :func:`replay`: a JSON-able description of an edit from which :func:`replay`
  rebuilds the same output bit for bit on the CPU without projecting again; :func:`save_recipe` /
  :func:`load_recipe` read and write it (:mod:`~neuralcollage.collage.recipes`).
* :mod:`~neuralcollage.collage.inputs`: the checks of an edit's inputs that the pipeline and its recipes share.
* :func:`closeup_variant_preview` / :func:`closeup_variant_check`: part edits into a class pack's class with and
  without its close-up variant, and the check that decides whether the pack keeps the variant
  (:mod:`~neuralcollage.collage.preview`, :mod:`~neuralcollage.collage.closeup_check`).
* :func:`add_class`: few-shot class addition as users call it (``neuralcollage.add_class``): the class, its
  close-up variant and the check (:mod:`~neuralcollage.collage.new_class`).

Everything is imported from here (``from neuralcollage.collage import edit_photo``); the modules are the
layout.  ``DEFAULT_CONTEXT`` and ``DEFAULT_COLOUR_REACH`` are the defaults of ``EditOptions.context`` and
``BlendOptions.colour_reach`` (:mod:`neuralcollage.options`), re-exported with the options.
"""
from neuralcollage import _compat  # noqa: F401

from neuralcollage.collage.closeup_check import CloseupCheck, closeup_variant_check
from neuralcollage.collage.edits import blend_edit, check_model_output, edit_class_maps, render, scbn_edit
from neuralcollage.collage.inputs import METHODS
from neuralcollage.collage.new_class import add_class
from neuralcollage.collage.photo import EditResult, class_region, edit_photo, replay
from neuralcollage.collage.preview import closeup_variant_preview
from neuralcollage.collage.recipes import (RECIPE_FORMAT, RECIPE_VERSION, RecipeError, check_recipe, load_recipe,
                                           make_recipe, recipe_model, save_recipe)
from neuralcollage.options import (DEFAULT_COLOUR_REACH, DEFAULT_CONTEXT, BlendOptions, EditOptions,
                                   ProjectionOptions)

__all__ = ["METHODS", "RECIPE_FORMAT", "RECIPE_VERSION", "DEFAULT_CONTEXT", "DEFAULT_COLOUR_REACH", "BlendOptions",
           "EditOptions", "ProjectionOptions", "EditResult", "RecipeError",
           "render", "edit_class_maps", "scbn_edit", "blend_edit", "class_region", "edit_photo", "make_recipe",
           "replay", "save_recipe", "load_recipe", "check_recipe", "recipe_model", "check_model_output",
           "closeup_variant_preview", "closeup_variant_check", "CloseupCheck", "add_class"]

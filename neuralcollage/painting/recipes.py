"""Painting recipes: a JSON-able description of a painting (:func:`painting_recipe`) from which
:func:`replay_recipe` reproduces its image, checked by :func:`check_recipe`.

Recipe versions: 1 (class and blend painting), 2 (with attribute painting), 3 (with style painting).  A recipe
gets the lowest version that holds it, so recipes without attribute or style painting still read with older
versions of this package, and every older recipe replays as before.
"""
import json
import math

import numpy

from neuralcollage.options import BlendOptions
from neuralcollage.painting.canvas import LabelPainter
from neuralcollage.painting.photo import composite_photo, edit_mask
from neuralcollage.painting.rendering import attribute_latent, check_amount, render_painting

__all__ = ["painting_recipe", "check_recipe", "replay_recipe", "photo_blend_options", "RECIPE_KIND",
           "RECIPE_VERSION"]

RECIPE_KIND = "neuralcollage.painting"
RECIPE_VERSION = 3
#: What a painting recipe's ``photo`` entry without the key replays with (painting recipes have always recorded
#: both; the blend mode under the name ``poisson``).
PHOTO_BLEND_LEGACY = {"blend_mode": "normal", "dilate": 8}


def painting_recipe(*, model, z, class_canvas, class_layers, z_streams=(), stream_canvas=None,
                    blend_layers="all", class_names=None, photo=None, extra=None, attribute_canvas=None,
                    attribute_axis=None, attribute_amount=0.0, attribute_layers="all", style=None):
    """A replayable JSON-able description of a painting.

    Parameters
    ----------
    model : dict
        ``{"name": ..., "arch": ..., "sha256": ...}`` identifying the generator (free form; recorded).
    z : array (1, dim_z)
    class_canvas : LabelPainter
        Class painting (its base label is the base class).
    class_layers : layer spec
    z_streams : sequence of array (1, dim_z)
        Latent streams 1, 2, ... of feature blending.
    stream_canvas : LabelPainter, optional
        Stream painting (labels are streams 0 .. S-1).
    blend_layers : layer spec
    class_names : sequence of str, optional
        Names of the classes, recorded for humans.
    photo : dict, optional
        For projected photos: ``{"box": [top, left, side], "source_class": int, "poisson": mode,
        "dilate": int, "projection": {...}}`` and the other blend options in their compact JSON form
        (``"seam"`` when it is not ``"fixed"``, ``"colour_reach"``, ``"composite_feather"`` when set; read back
        by :func:`photo_blend_options`).
    extra : dict, optional
        Anything else to record.
    attribute_canvas : LabelPainter, optional
        Attribute painting (:func:`attribute_canvas`); recorded with the axis when it has strokes.
    attribute_axis : neuralcollage.axes.Axis, optional
        The axis it moves (name, class and direction are recorded, so replay needs no axes file).
    attribute_amount : float
    attribute_layers : layer spec
    style : dict, optional
        The style painting's entry (:meth:`neuralcollage.stylize.StyleSession.recipe_entry`,
        :mod:`neuralcollage.stylize.recipe`); recorded when its canvas has strokes.

    Returns
    -------
    dict
        ``kind`` = :data:`RECIPE_KIND`, ``version``, ``model``, ``z``, ``base_class``, ``class_layers``,
        ``class_canvas``, ``z_streams``, ``blend_layers``, ``stream_canvas`` and optionally ``photo``,
        ``attribute`` (``axis``, ``attribute``, ``class_id``, ``decorrelated_from``, ``direction``
        (dim_z floats), ``amount``, ``layers``, ``canvas``) and ``style``.  Version 3 with ``style``, else 2
        with ``attribute``, else 1.
    """
    recipe = {
        "kind": RECIPE_KIND, "version": RECIPE_VERSION, "model": dict(model),
        "z": _latent_list(z), "base_class": class_canvas.base_label,
        "class_layers": class_layers if isinstance(class_layers, str) else list(class_layers),
        "class_canvas": class_canvas.to_dict(),
        "z_streams": [_latent_list(v) for v in z_streams],
        "blend_layers": blend_layers if isinstance(blend_layers, str) else list(blend_layers),
        "stream_canvas": stream_canvas.to_dict() if stream_canvas is not None else None,
    }
    if class_names is not None:
        used = class_canvas.used_labels()
        recipe["class_names"] = {str(i): str(class_names[i]) for i in used}
    if photo is not None:
        recipe["photo"] = dict(photo)
    if extra:
        recipe["extra"] = dict(extra)
    if attribute_canvas is not None and attribute_canvas.strokes:
        if attribute_axis is None:
            raise ValueError("an attribute painting needs attribute_axis= (the axis it moves)")
        amount = check_amount(attribute_amount)
        recipe["version"] = 2
        recipe["attribute"] = {
            "axis": str(attribute_axis.name), "attribute": str(attribute_axis.attribute),
            "class_id": None if attribute_axis.class_id is None else int(attribute_axis.class_id),
            "decorrelated_from": list(attribute_axis.decorrelated_from),
            "direction": [float(v) for v in numpy.asarray(attribute_axis.direction, numpy.float32)],
            "amount": amount,
            "layers": attribute_layers if isinstance(attribute_layers, str) else list(attribute_layers),
            "canvas": attribute_canvas.to_dict()}
    else:
        recipe["version"] = 1
    if style is not None and style.get("canvas", {}).get("strokes"):
        from neuralcollage.stylize.recipe import check_style_entry
        recipe["style"] = check_style_entry(dict(style), size=class_canvas.size)
        recipe["version"] = 3
    json.dumps(recipe)
    return recipe


def check_recipe(recipe, generator=None):
    """Validate a painting recipe (dict or JSON text); returns the dict.

    Raises
    ------
    ValueError
        Not a painting recipe, a newer version, or latents/canvases that do not fit ``generator``.
    """
    from neuralcollage.io import json_depth
    from neuralcollage.limits import RECIPE_MAX_BYTES, RECIPE_MAX_DEPTH
    if isinstance(recipe, (str, bytes)):
        if len(recipe) > RECIPE_MAX_BYTES:
            raise ValueError(f"painting recipe is {len(recipe):,} bytes; recipes may hold at most "
                             f"{RECIPE_MAX_BYTES:,}")
        try:
            recipe = json.loads(recipe)
        except json.JSONDecodeError as exc:
            raise ValueError(f"recipe is not valid JSON: {exc}") from None
        except RecursionError:
            raise ValueError(f"painting recipe nests deeper than {RECIPE_MAX_DEPTH} levels") from None
    if json_depth(recipe) > RECIPE_MAX_DEPTH:
        raise ValueError(f"painting recipe nests deeper than {RECIPE_MAX_DEPTH} levels")
    if not isinstance(recipe, dict) or recipe.get("kind") != RECIPE_KIND:
        raise ValueError(f"not a painting recipe (kind must be {RECIPE_KIND!r})")
    if not isinstance(recipe.get("version"), int) or recipe["version"] > RECIPE_VERSION:
        raise ValueError(f"painting recipe version {recipe.get('version')!r} is not supported "
                         f"(this version reads up to {RECIPE_VERSION})")
    for key in ("z", "base_class", "class_layers", "class_canvas"):
        if key not in recipe:
            raise ValueError(f"painting recipe is missing {key!r}")
    if generator is not None:
        z = numpy.asarray(recipe["z"], numpy.float32)
        if z.shape != (1, generator.dim_z):
            raise ValueError(f"recipe latent has shape {z.shape}; the generator takes (1, {generator.dim_z})")
        canvas = recipe["class_canvas"]
        if canvas.get("n_labels") != generator.n_classes:
            raise ValueError(f"recipe was painted with {canvas.get('n_labels')} classes; the generator has "
                             f"{generator.n_classes}")
        if tuple(canvas.get("size", ())) != (generator.resolution, generator.resolution):
            raise ValueError(f"recipe canvas is {canvas.get('size')} but the generator makes "
                             f"{generator.resolution}x{generator.resolution} images")
    if recipe.get("attribute") is not None:
        _check_attribute(recipe["attribute"], generator)
    if recipe.get("style") is not None:
        from neuralcollage.stylize.recipe import check_style_entry
        size = tuple(recipe["class_canvas"].get("size", ())) if isinstance(recipe["class_canvas"], dict) else None
        check_style_entry(recipe["style"], size=size)
    return recipe


def _check_attribute(attr, generator):
    if not isinstance(attr, dict):
        raise ValueError("recipe attribute must be a JSON object")
    for key in ("axis", "direction", "amount", "canvas"):
        if key not in attr:
            raise ValueError(f"recipe attribute is missing {key!r}")
    try:
        direction = numpy.asarray(attr["direction"], numpy.float64)
        amount = float(attr["amount"])
    except (TypeError, ValueError):
        raise ValueError("recipe attribute direction and amount must be numbers") from None
    if direction.ndim != 1 or not numpy.isfinite(direction).all() or not math.isfinite(amount):
        raise ValueError("recipe attribute needs a finite 1-D direction and a finite amount")
    canvas = attr["canvas"]
    if not isinstance(canvas, dict) or canvas.get("n_labels") != 2:
        raise ValueError("recipe attribute canvas must have 2 labels (unchanged, moved)")
    if generator is not None:
        if direction.shape != (generator.dim_z,):
            raise ValueError(f"recipe attribute direction has {direction.shape[0]} entries; the generator's "
                             f"latents have {generator.dim_z}")
        if tuple(canvas.get("size", ())) != (generator.resolution, generator.resolution):
            raise ValueError(f"recipe attribute canvas is {canvas.get('size')} but the generator makes "
                             f"{generator.resolution}x{generator.resolution} images")


def replay_recipe(recipe, generator, *, photo=None, exemplars=None, exemplar_paths=None, base_dir=None):
    """Reproduce a painting from its recipe.

    Parameters
    ----------
    recipe : dict or str
        From :func:`painting_recipe` (or its JSON text).
    generator : neuralcollage.models.Generator
    photo : numpy.ndarray (H, W, 3) uint8, optional
        The original photo, for recipes of projected photos: the edit is then Poisson-blended back (and a
        photo painted on a fitted generator is fitted again, as :meth:`Painter.from_photo` did).
    exemplars, exemplar_paths, base_dir
        For a recipe with style painting: exemplars by name that replace the recorded ones (needed for those
        given in code), new places of exemplar files, the folder relative paths are in
        (:func:`neuralcollage.stylize.recipe.resolve_exemplar`).

    Returns
    -------
    numpy.ndarray (H, W, 3) uint8
        The generated image (for a photo recipe with ``photo``: the blended full-resolution photo).
        Attribute paintings are rebuilt from the recorded direction and amount (no axes file needed); style
        paintings stylise the generator's image inside their canvas, bit for bit as the painter's preview.

    Raises
    ------
    ValueError
        A malformed recipe; :class:`neuralcollage.stylize.recipe.StyleRecipeError` (a ValueError) for a style
        exemplar file that is missing or changed (one line).
    """
    recipe = check_recipe(recipe, generator)
    generator = _fitted(recipe, generator, photo)
    class_canvas = LabelPainter.from_dict(recipe["class_canvas"])
    streams = [numpy.asarray(v, numpy.float32) for v in recipe.get("z_streams", [])]
    stream_canvas = recipe.get("stream_canvas")
    stream_canvas = LabelPainter.from_dict(stream_canvas) if stream_canvas else None
    z = numpy.asarray(recipe["z"], numpy.float32)
    attr = recipe.get("attribute")
    attr_canvas, attr_kwargs = None, {}
    if attr is not None:
        attr_canvas = LabelPainter.from_dict(attr["canvas"])
        attr_kwargs = dict(attribute_z=attribute_latent(z, numpy.asarray(attr["direction"], numpy.float32),
                                                        attr["amount"]),
                           attribute_alpha=attr_canvas.painted_alpha(), attribute_layers=attr.get("layers", "all"))
    image = render_painting(
        generator, z=z, class_map=class_canvas.class_map(),
        base_class=recipe["base_class"], class_layers=recipe["class_layers"], z_streams=streams,
        stream_map=stream_canvas.class_map() if stream_canvas is not None else None,
        blend_layers=recipe.get("blend_layers", "all"), **attr_kwargs)
    style_canvas = None
    if recipe.get("style") is not None:
        from neuralcollage.stylize.recipe import apply_style_entry
        style_canvas = LabelPainter.from_dict(recipe["style"]["canvas"])
        image = apply_style_entry(image, recipe["style"], style_canvas.painted_alpha(), exemplars=exemplars,
                                  exemplar_paths=exemplar_paths, base_dir=base_dir)
    if photo is None or "photo" not in recipe:
        return image
    blend = photo_blend_options(recipe["photo"])
    mask = edit_mask(class_canvas, stream_canvas, attr_canvas, style_canvas)
    return composite_photo(photo, image, mask, tuple(recipe["photo"]["box"]), mode=blend.blend_mode,
                           dilate=blend.dilate, seam=blend.seam, colour_reach=blend.colour_reach,
                           feather=blend.composite_feather)


def photo_blend_options(info):
    """The :class:`~neuralcollage.options.BlendOptions` of a painting recipe's ``photo`` entry.

    The entry holds the blend options in their compact JSON form
    (:meth:`neuralcollage.widgets.photo.PhotoContext.recipe_info`), the blend mode under the key ``poisson``.
    It is read as a recipe's entry (:meth:`neuralcollage.options.Options.from_json` with ``legacy``): a missing
    ``seam`` is ``"fixed"``, a missing ``colour_reach`` classic Poisson editing, a missing ``composite_feather``
    None, and a missing blend mode or ``dilate`` takes :data:`PHOTO_BLEND_LEGACY`.

    Raises
    ------
    ValueError
        Not a JSON object, or a value of the wrong type or out of range (one line naming the key).
    """
    if not isinstance(info, dict):
        raise ValueError("painting recipe photo must be a JSON object")
    entry = {key: info[key] for key in BlendOptions.names() if key in info and key != "blend_mode"}
    entry["blend_mode"] = info.get("poisson", PHOTO_BLEND_LEGACY["blend_mode"])
    entry.setdefault("dilate", PHOTO_BLEND_LEGACY["dilate"])
    try:
        return BlendOptions.from_json(entry, legacy=True, where="painting recipe photo.")
    except ValueError as exc:
        raise ValueError(str(exc).replace("photo.blend_mode", "photo.poisson")) from None


def _fitted(recipe, generator, photo):
    """The generator of a photo painting that was fitted to its photo (``recipe["photo"]["reconstruction"]``):
    the fit is made again from the photo's crop, the recorded latent and options (bit for bit on the CPU).
    Without the photo, or for other recipes, ``generator`` itself."""
    info = recipe.get("photo")
    entry = info.get("reconstruction") if isinstance(info, dict) else None
    from neuralcollage.reconstruction import FIT_METHODS, FitOptions, fit_generator, fit_options
    if photo is None or not isinstance(entry, dict) or entry.get("method") not in FIT_METHODS:
        return generator
    from neuralcollage import blending
    try:
        options = fit_options(entry["method"], FitOptions.from_json(entry.get("fit")))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"painting recipe fit options: {exc}") from None
    crop = blending.crop_and_resize(numpy.asarray(photo), tuple(info["box"]), generator.resolution)
    z = numpy.asarray(recipe["z"], numpy.float32)
    return fit_generator(generator, crop, z, int(info["source_class"]), options=options).generator


def _latent_list(z):
    from neuralcollage.backend import to_numpy
    z = numpy.asarray(to_numpy(z), numpy.float32)
    if z.ndim == 1:
        z = z[None]
    return [[float(v) for v in row] for row in z]

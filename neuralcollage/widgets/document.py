"""What a painter paints: the latents, the canvases and their layers, what they render to and how they are
saved (recipes, maps, photo composites).  No widgets, no modes, no brush: those are the session's
(:mod:`neuralcollage.widgets.session`).
"""
import json
import os
import threading

import numpy

from neuralcollage import io as ncio
from neuralcollage import maps, painting
from neuralcollage.widgets.attribute import AttributeChoice

__all__ = ["PaintDocument", "LAYERED_MODES"]

#: The painting modes with layers: sCBN class layers, blend layers, attribute (blend) layers.
LAYERED_MODES = ("scbn", "blend", "attribute")


class PaintDocument:
    """The painted edit of one image: its latents, four canvases, layer specs and attribute axis.

    Parameters
    ----------
    generator : neuralcollage.models.Generator
    vocabulary : neuralcollage.labels.Vocabulary, optional
        Class names (default: numbered classes).
    z : array (1, dim_z), optional
        Latent of the image; default ``generator.sample_z(1, seed=seed)``.
    seed, class_id, blend_seed, layers, blend_layers, attribute_layers, photo, model_info, bundle
        As for :class:`neuralcollage.widgets.session.PainterSession`.
    axes, axis, amount
        The attribute axes (:class:`neuralcollage.widgets.attribute.AttributeChoice`).
    style : neuralcollage.stylize.StyleSession or bool
        The style mode's session (a style canvas is made; recipes and :meth:`composite` include the
        stylisation), or True for a style canvas alone.

    Attributes
    ----------
    class_canvas, stream_canvas, attribute_canvas : neuralcollage.painting.LabelPainter
        The class painting (``n_classes`` labels), the blend painting (labels = latent streams, 0 the image's
        own latent) and the attribute painting (0 unchanged, 1 moved).
    style_canvas : neuralcollage.painting.LabelPainter or None
        The style painting (0 unchanged, 1 stylised).
    style_session : neuralcollage.stylize.StyleSession or None
    attributes : neuralcollage.widgets.attribute.AttributeChoice
    lock : threading.RLock
        Held while the canvases are read or changed (previews render in another thread).
    """

    def __init__(self, generator, *, vocabulary=None, z=None, seed=0, class_id=0, blend_seed=None, layers="all",
                 blend_layers="all", attribute_layers="all", photo=None, model_info=None, bundle=None, axes=None,
                 axis=None, amount=1.0, style=False):
        from neuralcollage.backend import to_numpy
        from neuralcollage.labels import numbered

        self.generator = generator
        self.vocabulary = vocabulary if vocabulary is not None else numbered(generator.n_classes)
        if len(self.vocabulary) != generator.n_classes:
            raise ValueError(f"vocabulary has {len(self.vocabulary)} classes but the generator has "
                             f"{generator.n_classes}")
        self.resolution = r = generator.resolution
        self.base_class = self.vocabulary.index(class_id)
        self.seed = seed
        self.z = numpy.asarray(to_numpy(generator.sample_z(1, seed=seed)) if z is None else to_numpy(z),
                               numpy.float32).reshape(1, generator.dim_z)
        self.blend_seed = seed + 1 if blend_seed is None else blend_seed
        self.z_streams = [numpy.asarray(to_numpy(generator.sample_z(1, seed=self.blend_seed)), numpy.float32)]
        self.class_canvas = painting.LabelPainter(generator.n_classes, r, base_label=self.base_class)
        self.stream_canvas = painting.LabelPainter(1 + len(self.z_streams), r, base_label=0)
        self.attribute_canvas = painting.attribute_canvas(r)
        self.style_canvas = painting.attribute_canvas(r) if style is not None and style is not False else None
        self.style_session = None if isinstance(style, bool) else style
        self._layers = {}
        for mode, spec in zip(LAYERED_MODES, (layers, blend_layers, attribute_layers)):
            self.set_layers(spec, mode=mode)
        self.bundle = bundle
        self.attributes = AttributeChoice(generator, base_class=self.base_class, class_names=self.vocabulary.names,
                                          bundle=bundle, axes=axes, axis=axis, amount=amount)
        self.photo = photo
        self.model_info = dict(model_info or {"name": "custom"})
        self.model_info.setdefault("arch", getattr(generator, "arch", None))
        self.model_info.setdefault("resolution", r)
        self.lock = threading.RLock()
        self._stream_image = self._attribute_image = None

    def __repr__(self):
        return (f"PaintDocument({self.resolution}px, base={self.vocabulary.names[self.base_class]!r}, class "
                f"strokes={len(self.class_canvas.strokes)}, blend strokes={len(self.stream_canvas.strokes)}, "
                f"attribute strokes={len(self.attribute_canvas.strokes)})")

    # ------------------------------------------------------------------ layers, latents, the attribute axis
    def set_layers(self, spec, *, mode):
        """Set the layers of ``mode`` (one of :data:`LAYERED_MODES`); returns True when they changed.  Raises
        ValueError on a bad spec."""
        if mode not in LAYERED_MODES:
            raise ValueError(f"the {mode!r} mode has no layers" if mode == "style" else
                             f"mode must be one of {LAYERED_MODES}, got {mode!r}")
        n = self.generator.n_class_layers if mode == "scbn" else self.generator.n_blend_layers
        text = maps.format_layers(maps.parse_layers(spec, n), n)
        changed = text != self._layers.get(mode)
        self._layers[mode] = text
        return changed

    def layers(self, mode):
        """The layer spec of ``mode`` (canonical string; None for a mode without layers)."""
        return self._layers.get(mode)

    def new_blend_latent(self, seed=None):
        """Draw a new second latent (stream 1) for blend painting (``seed``, default the next one)."""
        from neuralcollage.backend import to_numpy
        self.blend_seed = self.blend_seed + 1 if seed is None else seed
        with self.lock:
            self.z_streams[0] = numpy.asarray(to_numpy(self.generator.sample_z(1, seed=self.blend_seed)),
                                              numpy.float32)
            self._stream_image = None

    axes = property(lambda self: self.attributes.axes, doc="The attribute axes offered (empty when off).")
    axis_names = property(lambda self: self.attributes.names, doc="Names of the attribute axes offered.")
    axis = property(lambda self: self.attributes.axis,
                    doc="The :class:`neuralcollage.axes.Axis` attribute painting moves along (None when off).")
    amount = property(lambda self: self.attributes.amount,
                      doc="How far the attribute moves, in latent standard deviations.")
    attribute_note = property(lambda self: self.attributes.note, doc="Why the attribute mode is off ('' when on).")
    attribute_available = property(lambda self: self.attributes.available,
                                   doc="True when the attribute mode can be used (axes for the base class).")

    def set_axis(self, name=None, amount=None):
        """Choose the attribute axis and/or amount (:meth:`AttributeChoice.choose
        <neuralcollage.widgets.attribute.AttributeChoice.choose>`); returns True when either changed."""
        with self.lock:
            changed = self.attributes.choose(name, amount)
            if changed:
                self._attribute_image = None
        return changed

    def attribute_latent(self):
        """The moved latent ``z + amount * u``: ``(1, dim_z)`` float32 (ValueError when the mode is off)."""
        return self.attributes.latent(self.z)

    # ------------------------------------------------------------------ maps and renders
    def class_map(self):
        """The painted class map: ``(1, n_classes, R, R)`` float32, normalised."""
        with self.lock:
            return self.class_canvas.class_map()

    def stream_map(self):
        """The painted blend weights over the latent streams: ``(1, S, R, R)`` float32, normalised."""
        with self.lock:
            return self.stream_canvas.class_map()

    def layer_maps(self):
        """The class map of every class layer (what the generator gets): list of ``(1, K, h, w)``."""
        return maps.layer_maps(self.class_map(), self.generator.class_map_resolutions,
                               layers=self._layers["scbn"], base=self.base_class)

    def attribute_alpha(self):
        """Where the attribute moves: ``(R, R)`` float32 in [0, 1]."""
        with self.lock:
            return self.attribute_canvas.painted_alpha()

    def edit_mask(self):
        """Where the painting changes the image (the style painting included when there is a style session):
        ``(R, R)`` float32 in [0, 1]."""
        with self.lock:
            style = self.style_canvas if self.style_session is not None else None
            return painting.edit_mask(self.class_canvas, self.stream_canvas, self.attribute_canvas, style)

    def render_kwargs(self, *, painted=True):
        """Arguments of :func:`neuralcollage.painting.render_painting` for the painting (fresh arrays), or for
        the unpainted image when ``painted`` is False."""
        with self.lock:
            kwargs = dict(z=self.z, class_map=None, base_class=self.base_class, class_layers=self._layers["scbn"],
                          z_streams=list(self.z_streams), stream_map=None, blend_layers=self._layers["blend"])
            if not painted:
                return kwargs
            if not self.class_canvas.is_blank:
                kwargs["class_map"] = self.class_canvas.class_map()
            if not self.stream_canvas.is_blank:
                kwargs["stream_map"] = self.stream_canvas.class_map()
            if not self.attribute_canvas.is_blank and self.axis is not None:
                kwargs.update(attribute_z=self.attribute_latent(),
                              attribute_alpha=self.attribute_canvas.painted_alpha(),
                              attribute_layers=self._layers["attribute"])
        return kwargs

    def render(self, *, painted=True):
        """Generate the edit now (without the style mode's stylisation): ``(R, R, 3)`` uint8."""
        return painting.render_painting(self.generator, **self.render_kwargs(painted=painted))

    def style_alpha(self):
        """Where the style painting stylises: ``(R, R)`` float32 in [0, 1] (zeros without a style canvas)."""
        with self.lock:
            if self.style_canvas is None:
                return numpy.zeros((self.resolution, self.resolution), numpy.float32)
            return self.style_canvas.painted_alpha()

    def render_styled(self):
        """The edit with the style painting's stylisation (what the painter previews and recipes replay):
        ``(R, R, 3)`` uint8."""
        image = self.render()
        alpha = self.style_alpha()
        if self.style_session is None or not alpha.any():
            return image
        return self.style_session.preview(alpha, target=image)

    def stream_image(self):
        """``G(z_streams[0])`` of the base class: what shows through blend painting, ``(R, R, 3)`` uint8."""
        image = self._stream_image
        if image is None:
            with self.lock:
                z = self.z_streams[0]
            image = self._stream_image = painting.render_painting(self.generator, z=z, base_class=self.base_class)
        return image

    def attribute_image(self):
        """``G(z + amount * u)`` of the base class: what shows through attribute painting, ``(R, R, 3)`` uint8."""
        image = self._attribute_image
        if image is None:
            image = painting.render_painting(self.generator, z=self.attribute_latent(), base_class=self.base_class)
            self._attribute_image = image
        return image

    # ------------------------------------------------------------------ photos, recipes, exports
    def composite(self, *, image=None, **blend):
        """For a photo: the edit (``image``, default :meth:`render_styled`) Poisson-blended into the full-resolution
        photo, ``(H, W, 3)`` uint8; ``blend`` (``blend_options`` and its shorthands ``blend_mode``, ``dilate``,
        ``seam``, ``colour_reach``) overrides the photo's (:meth:`PhotoContext.composite
        <neuralcollage.widgets.photo.PhotoContext.composite>`)."""
        if self.photo is None:
            raise ValueError("composite() is for painters made with from_photo")
        image = self.render_styled() if image is None else image
        return self.photo.composite(image, self.edit_mask(), **blend)

    def photo_mask(self):
        """For a photo: the painted region at the photo's resolution, ``(H, W)`` float32 in [0, 1]."""
        if self.photo is None:
            raise ValueError("photo_mask() is for painters made with from_photo")
        return self.photo.photo_mask(self.edit_mask())

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
            raise ValueError("collage_recipe() is for painters made with from_photo")
        with self.lock:
            if not self.stream_canvas.is_blank:
                raise ValueError("blend painting cannot be written as a collage recipe; use recipe()")
            if not self.attribute_canvas.is_blank:
                raise ValueError("attribute painting cannot be written as a collage recipe; use recipe()")
            if self.style_canvas is not None and not self.style_canvas.is_blank:
                raise ValueError("style painting cannot be written as a collage recipe; use recipe()")
            targets = [c for c in self.class_canvas.used_labels() if c != self.base_class]
        if len(targets) != 1:
            names = ", ".join(self.vocabulary.names[c] for c in targets) or "none"
            raise ValueError(f"a collage recipe holds one target class; this painting has {names}; use recipe()")
        return self.photo.collage_recipe(self.bundle, self.edit_mask(), z=self.z, target_class=targets[0],
                                         layers=self._layers["scbn"])

    def recipe(self):
        """A replayable JSON-able recipe (:func:`neuralcollage.painting.replay_recipe`); attribute strokes
        are recorded with the axis (name, class, direction) and the amount, style strokes with the exemplar
        (name, source, sha256, landmarks), the painted image's landmarks and the knobs
        (:meth:`neuralcollage.stylize.StyleSession.recipe_entry`; the image is rendered to find them)."""
        with self.lock:
            style = None
            if self.style_session is not None and self.style_canvas is not None and self.style_canvas.strokes:
                style = self.style_session.recipe_entry(self.style_canvas, target=self.render())
            return painting.painting_recipe(
                model=self.model_info, z=self.z, class_canvas=self.class_canvas,
                class_layers=self._layers["scbn"], z_streams=self.z_streams, stream_canvas=self.stream_canvas,
                blend_layers=self._layers["blend"], class_names=self.vocabulary.names,
                photo=self.photo.recipe_info() if self.photo is not None else None,
                extra={"seed": self.seed, "blend_seed": self.blend_seed},
                attribute_canvas=self.attribute_canvas if self.axis is not None else None,
                attribute_axis=self.axis, attribute_amount=self.amount, attribute_layers=self._layers["attribute"],
                style=style)

    def export_recipe(self, path):
        """Write :meth:`recipe` as JSON (atomically); returns the path.  A style exemplar file inside the
        recipe's folder is recorded relative to it (:func:`neuralcollage.stylize.recipe.paths_relative_to`)."""
        from neuralcollage.stylize.recipe import paths_relative_to
        recipe = self.recipe()
        if recipe.get("style"):
            recipe["style"] = paths_relative_to(recipe["style"], os.path.dirname(os.path.abspath(path)))
        ncio.atomic_write_text(path, json.dumps(recipe, indent=1) + "\n")
        return path

    def export_map(self, path):
        """Write the maps to an ``.npz`` (atomically); returns the path.

        Keys: ``class_map (1, K, R, R)``, ``label_image (R, R)``, ``stream_map (1, S, R, R)``,
        ``class_layers``, ``blend_layers`` (str), ``base_class``, ``class_names (K,)``, ``z (1, dim_z)``,
        ``z_streams (S - 1, dim_z)``, ``attribute_alpha (R, R)``, ``attribute_layers`` (str), and when the
        attribute mode is on ``attribute_axis`` (str), ``attribute_amount``, ``z_attribute (1, dim_z)``.
        """
        with self.lock:
            arrays = dict(class_map=self.class_canvas.class_map(), label_image=self.class_canvas.label_image(),
                          stream_map=self.stream_canvas.class_map(), class_layers=numpy.array(self._layers["scbn"]),
                          blend_layers=numpy.array(self._layers["blend"]),
                          base_class=numpy.array(self.base_class, numpy.int64),
                          class_names=numpy.array(self.vocabulary.names),
                          z=self.z, z_streams=numpy.concatenate(self.z_streams, axis=0),
                          attribute_alpha=self.attribute_canvas.painted_alpha(),
                          attribute_layers=numpy.array(self._layers["attribute"]))
            if self.axis is not None:
                arrays.update(attribute_axis=numpy.array(self.axis.name),
                              attribute_amount=numpy.array(self.amount, numpy.float64),
                              z_attribute=self.attribute_latent())
        ncio.atomic_save_npz(path, **arrays)
        return path

"""The options of the photo pipeline, each defined once: its name, default, range or choices, help and JSON form.

* :class:`BlendOptions`: how an edited crop goes back into the photo (:func:`neuralcollage.blending.blend_back`);
* :class:`EditOptions`: how the crop and the generator's class maps are made around the mask;
* :class:`ProjectionOptions`: how the crop is projected into the latent space.

Each is a small frozen dataclass whose fields carry their default (the single source of truth: the library's
keyword defaults, recipes, the ``collage`` command's flags and the painter read it from here), a check (a range
of :data:`neuralcollage.limits.OPTION_RANGES` or a tuple of choices), a one-line help (the CLI's) and, for
recipes, the value an option takes in a file written before it existed (``legacy``), so that old recipes keep
their meaning.  Construction validates and normalises every field (``ValueError``, one line naming it);
:meth:`~Options.to_json` / :meth:`~Options.from_json` are strict (unknown keys, wrong JSON types and
out-of-range values are refused).

``colour_reach`` has one meaning everywhere: a number of pixels, or ``math.inf`` for classic Poisson editing
(None is accepted as a spelling of ``inf`` and JSON writes it as ``null``).

Adding an option to the photo pipeline: a field here, its use where it acts (for the blend,
:func:`neuralcollage.blending.blend_back`), a test.  The library's functions take the dataclasses whole
(``blend=``, ``edit=``) and the recipes, the CLI (:func:`neuralcollage.cli.common.add_option`) and the painter
pass them along.

This module imports nothing heavy (no NumPy, no Chainer): ``collage --help`` uses it.
"""
import dataclasses
import math

from neuralcollage.limits import OPTION_RANGES, check_option, option_range_text

__all__ = ["Options", "BlendOptions", "EditOptions", "ProjectionOptions", "UNSET", "BLEND_MODES", "SEAMS",
           "DEFAULT_CONTEXT", "DEFAULT_COLOUR_REACH", "CLOSEUP_VARIANTS"]

#: ``"normal"`` / ``"mixed"``: Poisson image editing (``cv2.seamlessClone``'s NORMAL_CLONE / MIXED_CLONE);
#: ``"none"``: feathered alpha compositing.
BLEND_MODES = ("normal", "mixed", "none")
#: :attr:`EditOptions.closeup_variant`'s values.
CLOSEUP_VARIANTS = ("auto", "off")
#: Where a Poisson blend's boundary runs: the dilated mask's border, or the cheapest closed seam between the mask
#: and that border (:func:`neuralcollage.blending.seam_region`).
SEAMS = ("fixed", "optimal")


class _Unset:
    def __repr__(self):
        return "UNSET"

    def __bool__(self):
        return False


#: The default of a keyword that overrides one field of an options object only when it is given.
UNSET = _Unset()
_REQUIRED = object()


def option(default, help, *, limit=None, choices=None, optional=False, legacy=_REQUIRED, always=False,
           recorded=True):
    """A field of an :class:`Options` dataclass.

    Args:
        default: the default value.
        help: one line (the CLI's help, without the default).
        limit: the name of its range in :data:`neuralcollage.limits.OPTION_RANGES` (numbers).
        choices: the allowed strings.
        optional: None is a value of its own (e.g. "the reconstruction's default").
        legacy: the value of a recipe written before the option existed (it is absent there); without one
            the option must be in a recipe.
        always: a recipe records the option even when it has its legacy value.
        recorded: recipes record it (False: recipes record its outcome instead, e.g. the crop box).
    """
    return dataclasses.field(default=default, metadata={
        "help": help, "limit": limit, "choices": choices, "optional": optional, "legacy": legacy,
        "always": always, "recorded": recorded})


class Options:
    """The behaviour shared by the options dataclasses (validation, JSON, CLI help)."""

    #: How errors name the group ("blend options").
    what = "options"

    def __post_init__(self):
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, self._checked(f, getattr(self, f.name)))
        self._check()

    def _check(self):
        """Rules between fields (ValueError)."""

    def _ignored(self):
        """Fields that have no effect with this combination (a compact JSON form leaves them out)."""
        return ()

    @classmethod
    def _checked(cls, f, value, label=None):
        meta = f.metadata
        label = label or f.name
        if value is None and meta["optional"]:
            return None
        if meta["choices"] is not None:
            if not isinstance(value, str) or value not in meta["choices"]:
                raise ValueError(f"{label} must be one of {', '.join(meta['choices'])}; got {_brief(value)}")
            return value
        if meta["limit"] == "colour_reach" and value is None:
            return math.inf
        return check_option(meta["limit"], value, label=label)

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(cls, base=None, **changes):
        """``base`` (None: the defaults) with the ``changes`` that are not :data:`UNSET`.

        Raises:
            ValueError: ``base`` of another type, an unknown name, a value out of range.
        """
        if base is None:
            base = cls()
        elif not isinstance(base, cls):
            raise ValueError(f"expected a neuralcollage.options.{cls.__name__}, got {type(base).__name__}")
        given = {k: v for k, v in changes.items() if v is not UNSET}
        unknown = sorted(set(given) - set(cls.names()))
        if unknown:
            raise ValueError(f"unknown {cls.what}: {', '.join(unknown)} (known: {', '.join(cls.names())})")
        return dataclasses.replace(base, **given) if given else base

    def replace(self, **changes):
        """A copy with ``changes`` (validated)."""
        return self.build(self, **changes)

    @classmethod
    def names(cls):
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def field(cls, name):
        """The :class:`dataclasses.Field` of option ``name``."""
        for f in dataclasses.fields(cls):
            if f.name == name:
                return f
        raise KeyError(name)

    @classmethod
    def help(cls, name):
        """The one-line help of option ``name``."""
        return cls.field(name).metadata["help"]

    @classmethod
    def default_text(cls, name, value=UNSET):
        """``value`` (default: the option's default) as the CLI's help writes it: ``8``, ``inf``, ``none``."""
        value = cls.field(name).default if value is UNSET else value
        if value is None:
            return "none"
        return f"{value:g}" if isinstance(value, float) else str(value)

    # ------------------------------------------------------------------ JSON
    def to_json(self, *, compact=False):
        """A JSON-able dict (``inf`` as None).  ``compact``: a recipe's form, which leaves out the options
        recipes do not record, those at their legacy value (unless ``always``) and those without effect here,
        so that a recipe of an edit an older version could make reads the same there."""
        out = {}
        ignored = self._ignored() if compact else ()
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            meta = f.metadata
            if compact and (not meta["recorded"] or f.name in ignored or (
                    meta["legacy"] is not _REQUIRED and not meta["always"] and value == meta["legacy"])):
                continue
            out[f.name] = None if isinstance(value, float) and value == math.inf else value
        return out

    @classmethod
    def from_json(cls, data, *, legacy=False, where=""):
        """Options from :meth:`to_json`'s dict, checked strictly.

        Args:
            data: a dict; a missing key takes the default, or with ``legacy`` (a recipe's entry) the value the
                option had before it existed (an error for an option recipes must hold).
            legacy: read a recipe's entry (keys of other settings may be in it: only this class's are read).
            where: how errors name the entry (``"recipe edit."``: ``recipe edit.dilate must be ...``).

        Raises:
            ValueError: not a dict, an unknown key (unless ``legacy``), a wrong JSON type, a value out of range;
                one line naming the key.
        """
        if not isinstance(data, dict):
            raise ValueError(f"{where or cls.what + ' '}must be a JSON object, got {_brief(data)}".replace(
                ". must", " must"))
        if not legacy:
            unknown = sorted(str(k) for k in set(data) - set(cls.names()))
            if unknown:
                raise ValueError(f"unknown {cls.what}: {', '.join(unknown)} (known: {', '.join(cls.names())})")
        values = {}
        for f in dataclasses.fields(cls):
            meta, label = f.metadata, where + f.name
            if f.name not in data:
                if legacy and meta["recorded"]:
                    if meta["legacy"] is _REQUIRED:
                        raise ValueError(f"{label} is missing")
                    values[f.name] = meta["legacy"]
                continue
            value = data[f.name]
            if value is None and meta["limit"] == "colour_reach":
                value = math.inf
            elif value is None and not meta["optional"]:
                raise ValueError(f"{label} must not be null")
            elif value is not None:
                want = (str,) if meta["choices"] is not None else (
                    (int,) if OPTION_RANGES[meta["limit"]][0] == "int" else (int, float))
                if isinstance(value, bool) or not isinstance(value, want):
                    kind = "a string" if want == (str,) else option_range_text(meta["limit"])
                    raise ValueError(f"{label} must be {kind}, got {_brief(value)}")
            values[f.name] = cls._checked(f, value, label)
        try:
            return cls(**values)
        except ValueError as exc:
            raise ValueError(f"{where.rstrip('.') or cls.what}: {exc}") from None


def _brief(value):
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


#: :class:`EditOptions`' default ``context``, chosen by ``scripts/sweep_part_translation.py`` on the built-in
#: model (part translation 56% at 0, 73% at 0.15 with Poisson blending; docs/builtin_model.md).
DEFAULT_CONTEXT = 0.15
#: How far, in photo pixels, Poisson's colour correction reaches into the mask by default
#: (:func:`neuralcollage.blending.screened_poisson`): the edit keeps its own colours deeper in.  Chosen on the
#: part-translation faces of seeds 0 and 1 with the default features fit: 1.5 / 2 / 2.5 / 3 / 4 px translate
#: 180 / 182 / 181 / 179 / 176 of 200 parts (docs/reconstruction.md).
DEFAULT_COLOUR_REACH = 2.0


@dataclasses.dataclass(frozen=True)
class BlendOptions(Options):
    """How an edited crop is blended back into the photo (:func:`neuralcollage.blending.blend_back`).

    Attributes:
        blend_mode: :data:`BLEND_MODES`.
        dilate: pixels the mask grows by; nothing outside the grown mask changes.
        seam: :data:`SEAMS` (``"optimal"`` needs a Poisson mode).
        colour_reach: pixels (``inf``: classic Poisson); ``"normal"`` only, ignored by the other modes.
        composite_feather: ``"none"`` (and a region covering the whole photo): the alpha's Gaussian sigma in
            photo pixels (None: ``dilate / 4``).
    """
    what = "blend options"

    blend_mode: str = option(
        "normal", "normal or mixed-gradient Poisson blending, or none: feathered compositing",
        choices=BLEND_MODES)
    dilate: int = option(
        8, "pixels the mask grows by before blending; nothing outside the grown mask changes", limit="dilate")
    seam: str = option(
        "fixed", "Poisson boundary: the grown mask's border, or the cheapest seam between the mask and that "
                 "border, where the edit already matches the photo, so less of the photo's colour is carried "
                 "into the edit (needs --blend-mode normal or mixed; give it room with a larger --dilate, e.g. 16)",
        choices=SEAMS, legacy="fixed")
    colour_reach: float = option(
        DEFAULT_COLOUR_REACH,
        "how far, in photo pixels, Poisson's colour correction reaches into the mask; deeper in, the edit keeps "
        "its own colours (a fox's white muzzle, a panda's dark eye patches) while the border stays seamless; "
        "inf: throughout, classic Poisson (needs --blend-mode normal)", limit="colour_reach", legacy=math.inf)
    composite_feather: float = option(
        None, "--blend-mode none: Gaussian sigma, in photo pixels, of the composite's alpha (none: a quarter of "
              "--dilate); larger is a softer edge", limit="feather", optional=True, legacy=None)

    def _check(self):
        if self.seam == "optimal" and self.blend_mode == "none":
            raise ValueError("an optimal seam needs a Poisson blend mode ('normal' or 'mixed'), not 'none'")
        if not self.colour_reach > 0:
            raise ValueError(f"colour_reach must be a number of pixels > 0 (inf: classic Poisson), got "
                             f"{self.colour_reach!r}")

    def _ignored(self):
        return ("colour_reach",) if self.blend_mode != "normal" else ()

    @property
    def classic(self):
        """True when the colour correction reaches throughout (classic Poisson editing, or no Poisson at all)."""
        return self.blend_mode != "normal" or self.colour_reach == math.inf


@dataclasses.dataclass(frozen=True)
class EditOptions(Options):
    """How the crop and the generator's class maps are made around the mask
    (:func:`neuralcollage.collage.edit_photo`).

    Attributes:
        margin: context around the mask in the crop, a fraction of the mask's longer side (the crop is at least
            the generator's resolution); recipes record the box it gave.
        context: how far the target class reaches beyond the mask in the class maps, a fraction of the
            generator's resolution (:func:`neuralcollage.collage.class_region`).
        feather: Gaussian sigma (pixels at the generator's resolution) softening the mask in the class and
            blend maps.
        closeup_variant: :data:`CLOSEUP_VARIANTS`: ``"auto"``: when the crop is a part of the photo, a target
            class that has a close-up variant (a class pack's, :attr:`neuralcollage.classes.ClassPack.closeup`)
            is drawn with it; ``"off"``: always with the class's own rows.  Recipes record the class used.
    """
    what = "edit options"

    margin: float = option(
        0.25, "context around the mask in the crop, as a fraction of the mask's longer side (the crop is at "
              "least the model's resolution, clipped to the photo)", limit="margin", recorded=False)
    context: float = option(
        DEFAULT_CONTEXT,
        "how far the target class reaches beyond the mask inside the generator, as a fraction of its "
        "resolution, so it can draw the new part whole; only the mask (dilated a few pixels) reaches the photo",
        limit="context", legacy=0.0, always=True)
    feather: float = option(
        0.0, "Gaussian sigma (pixels at the model's resolution) softening the mask's edge in the class maps",
        limit="feather")
    closeup_variant: str = option(
        "auto", "auto: when the crop is a part of the photo, draw a target class that has a close-up variant (a "
                "class pack's, see `collage add-class --closeup-variant`) with it; off: with the class's own rows",
        choices=CLOSEUP_VARIANTS, recorded=False)


@dataclasses.dataclass(frozen=True)
class ProjectionOptions(Options):
    """How the crop is projected (:func:`neuralcollage.inversion.project`) and its class guessed
    (:func:`neuralcollage.inversion.guess_source_class`).

    Attributes:
        steps: Adam steps; None: the reconstruction's default
            (:data:`neuralcollage.reconstruction.PROJECTION_STEPS`).
        restarts: projection runs, the best kept.
        seed: seed of every random choice (also the default blend latent's).
        candidates, guess_steps: classes tried and steps each when the source class is guessed.
    """
    what = "projection options"

    steps: int = option(None, "Adam steps of the manifold projection", limit="steps", optional=True)
    restarts: int = option(
        1, "projection runs, the best kept; the first starts from the encoder's guess when the model has an "
           "encoder, the others from random latents", limit="restarts")
    seed: int = option(0, "seed of every random choice", limit="seed")
    candidates: int = option(3, "classes tried when the photo's class is guessed", limit="candidates")
    guess_steps: int = option(30, "projection steps per class tried when the photo's class is guessed",
                              limit="guess_steps")

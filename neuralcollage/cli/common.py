"""What the commands' parsers share: exit codes, the error a command reports, messages on stderr, the parser
classes, the option types (each with its range and wording) and the option groups that several commands take
(each option is defined once, here).
"""
import argparse
import math
import os
import sys

from neuralcollage.options import (BLEND_MODES, DEFAULT_COLOUR_REACH, DEFAULT_CONTEXT, SEAMS,  # noqa: F401
                                   UNSET, BlendOptions, EditOptions, ProjectionOptions)

EXIT_OK, EXIT_FAILURE, EXIT_INPUT, EXIT_MODEL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DEFAULT_MAX_PIXELS = 64_000_000
SUBCOMMANDS = ("edit", "attribute", "generate", "invert", "blend", "models", "labels", "replay", "demo", "train",
               "eval", "convert", "add-class", "stylize", "ablate", "axes")
PROG = "collage"


class CommandError(Exception):
    """A failure the command reports itself: one line and an exit status."""

    def __init__(self, message, code=EXIT_INPUT):
        super().__init__(message)
        self.code = code


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


class Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=32, width=100)


# ------------------------------------------------------------------------------------------------ messages

def one_line(text):
    return " ".join(str(text).split())


def say(message, *, quiet=False):
    if not quiet:
        print(message, file=sys.stderr)


def note(message):
    """One line on stderr: ``collage: note: ...``, or ``collage: warning: ...`` for a message that starts with
    ``warning:``."""
    kind, text = ("warning", message[len("warning:"):].lstrip()) if message.startswith("warning:") else ("note", message)
    print(f"{PROG}: {kind}: {one_line(text)}", file=sys.stderr)


# ------------------------------------------------------------------------------------------------ option types

def _env_int(name, default):
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        return int(value)
    except ValueError:
        return default


def _number_type(convert, accept, wording, *, unparsable=None):
    """An argparse type: ``convert(text)`` when ``accept`` holds for it.  Errors read "expected ``unparsable``"
    (default ``wording``) when the text does not convert, "expected ``wording``" when the value is refused."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {unparsable or wording}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"expected {wording}, got {text}")
        return value
    return parse


#: The largest value of an integer option without a range of its own in :data:`neuralcollage.limits.OPTION_RANGES`
#: (iterations, batch sizes, pixel budgets, ...): larger is a typing slip, not a plan.
INT_OPTION_MAX = 10 ** 9


def _int_at_least(minimum, wording):
    return _number_type(int, lambda v: minimum <= v <= INT_OPTION_MAX, f"{wording} (at most {INT_OPTION_MAX:,})",
                        unparsable="an integer")


positive_int = _int_at_least(1, "a positive integer")
nonnegative_int = _int_at_least(0, "an integer >= 0")
bounded_count = _number_type(int, lambda v: 1 <= v <= 100_000, "a positive integer (at most 100000)",
                             unparsable="an integer")


def finite_float(accept, wording, *, unparsable=None):
    """An argparse type: a finite float for which ``accept(value)`` holds (see :func:`_number_type`)."""
    return _number_type(float, lambda v: math.isfinite(v) and accept(v), wording, unparsable=unparsable)


_nonnegative_float = finite_float(lambda v: v >= 0, "a number >= 0")
fraction = finite_float(lambda v: 0 <= v <= 1, "a number in [0, 1]")
_truncation = finite_float(lambda v: 0 < v <= 1, "a truncation in (0, 1]")


def colour_reach_spec(text):
    """``--colour-reach``: pixels > 0 (up to :data:`neuralcollage.limits.OPTION_RANGES`), or ``inf`` (classic
    Poisson)."""
    from neuralcollage.limits import OPTION_RANGES, check_option
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    try:
        if not value > 0:
            raise ValueError
        return check_option("colour_reach", value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of pixels > 0 or inf (at most "
                                         f"{OPTION_RANGES['colour_reach'][2]:g} when finite), got {text!r}") from None


def ranged(name):
    """An argparse type for option ``name`` of :data:`neuralcollage.limits.OPTION_RANGES` (the library's
    range, so the command line and the library agree)."""
    def parse(text):
        from neuralcollage.limits import OPTION_RANGES, check_option, option_range_text
        try:
            value = int(text) if OPTION_RANGES[name][0] == "int" else float(text)
            return check_option(name, value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {option_range_text(name)}, got {text!r}") from None
    parse.__name__ = name
    return parse


def gpu_id(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a GPU id (an integer, -1 for the CPU), got {text!r}") from None


def box_spec(text):
    try:
        top, left, side = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected TOP,LEFT,SIDE (three integers), got {text!r}") from None
    if top < 0 or left < 0 or side < 1:
        raise argparse.ArgumentTypeError(f"box {text!r} must have TOP, LEFT >= 0 and SIDE >= 1")
    return top, left, side


# ------------------------------------------------------------------------------------------------ option groups

def common_options():
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or progress messages")
    return p


def model_options():
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("model")
    g.add_argument("--model", default="builtin", metavar="NAME|PATH",
                   help="registered model (see `collage models`), a generator .npz or a folder holding one "
                        "(default: %(default)s)")
    g.add_argument("--arch", metavar="PRESET",
                   help="architecture of official snapshot files given by path: collage256, collage128, "
                        "sngan128, ... (project snapshots describe themselves)")
    g.add_argument("--gpu", type=gpu_id, default=-1, metavar="ID",
                   help="CUDA device id, -1 for the CPU (default: %(default)s)")
    return p


def image_options():
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--max-pixels", type=positive_int, metavar="N",
                   default=_env_int("NEURALCOLLAGE_MAX_PIXELS", DEFAULT_MAX_PIXELS),
                   help="refuse input images with more pixels (default: %(default)s; environment "
                        "NEURALCOLLAGE_MAX_PIXELS)")
    return p


def resolve_projection_steps(args):
    """``--steps`` left out: the projection steps of ``--reconstruction`` (50 before a fit, 200 without)."""
    if getattr(args, "reconstruction", None) is not None and getattr(args, "steps", 0) is None:
        from neuralcollage.reconstruction import projection_steps
        args.steps = projection_steps(args.reconstruction)


def option_flag(name, prefix=""):
    """The flag of option ``name``: ``--colour-reach`` (``prefix`` ``"part-"``: ``--part-colour-reach``)."""
    return "--" + prefix + name.replace("_", "-")


def add_option(group, cls, name, *, prefix="", default=UNSET, default_text=None, help_prefix="", **extra):
    """Add the flag of field ``name`` of the options dataclass ``cls`` (:mod:`neuralcollage.options`) to
    ``group``: its type (choices or the range of :data:`neuralcollage.limits.OPTION_RANGES`), default and help
    come from the field.

    Args:
        prefix: before the flag's name and destination (``"part-"``: ``--part-dilate``, ``args.part_dilate``).
        default: the parser's default (default: the field's; None: "not given", see :func:`options_from_args`).
        default_text: how the help words the default (default: the field's default).
        help_prefix: before the field's help (``"part translation: "``).
    """
    f = cls.field(name)
    meta = f.metadata
    kwargs = {"dest": (prefix + name).replace("-", "_"),
              "default": f.default if default is UNSET else default}
    if meta["choices"] is not None:
        kwargs["choices"] = meta["choices"]
    else:
        kwargs["type"] = colour_reach_spec if meta["limit"] == "colour_reach" else ranged(meta["limit"])
        from neuralcollage.limits import OPTION_RANGES
        kwargs["metavar"] = ("PX" if meta["limit"] in ("dilate", "colour_reach", "feather")
                             else "N" if OPTION_RANGES[meta["limit"]][0] == "int" else "F")
    text = default_text if default_text is not None else cls.default_text(name)
    kwargs["help"] = f"{help_prefix}{meta['help']} (default: {text})"
    kwargs.update(extra)
    return group.add_argument(option_flag(name, prefix), **kwargs)


def add_options(group, cls, names=None, *, prefix="", base=None, unset=False, help_prefix="", default_text=None):
    """Add the flags of the fields ``names`` (default: all) of ``cls`` (see :func:`add_option`).

    Args:
        base: this command's defaults (a ``cls`` instance; default: the dataclass's).
        unset: every flag defaults to None, "not given" (the library's default applies).
        default_text: ``default_text(name, value)`` words the default in the help.
    """
    base = cls() if base is None else base
    for name in names or cls.names():
        value = getattr(base, name)
        add_option(group, cls, name, prefix=prefix, help_prefix=help_prefix,
                   default=None if unset or value is None or name == "colour_reach" else value,
                   default_text=(default_text(name, value) if default_text is not None
                                 else default_words(cls, name, value)))


def default_words(cls, name, value):
    """How the help words ``value``, the default of option ``name`` of ``cls``: ``8``, ``inf, classic Poisson``."""
    if name == "colour_reach" and value == math.inf:
        return "inf, classic Poisson"
    return cls.default_text(name, value)


def options_from_args(cls, args, *, prefix="", base=None):
    """The ``cls`` options of parsed ``args``: each flag of :func:`add_options` that is not None replaces the
    field of ``base`` (default: the dataclass's defaults).

    Raises:
        neuralcollage.io.InputError: a combination the options refuse (one line).
    """
    given = {name: getattr(args, (prefix + name).replace("-", "_"), None) for name in cls.names()}
    try:
        return cls.build(base, **{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        from neuralcollage.io import InputError
        raise InputError(str(exc)) from None


class DeprecatedFlag(argparse.Action):
    """An old spelling of a flag: stores into the new one's destination with a note on stderr."""

    def __init__(self, option_strings, dest, *, new, **kwargs):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        note(f"{option_string} is deprecated: use {self.new}")
        setattr(namespace, self.dest, values)


def projection_options(parser, *, with_restarts=True):
    from neuralcollage.reconstruction import PROJECTION_STEPS
    g = parser.add_argument_group("projection")
    add_option(g, ProjectionOptions, "steps", default_text="%d before a fit, %d with --reconstruction projection" % (
        PROJECTION_STEPS["features"], PROJECTION_STEPS["projection"]))
    if with_restarts:
        add_option(g, ProjectionOptions, "restarts")
    add_option(g, ProjectionOptions, "seed", metavar=None)
    from neuralcollage.reconstruction import DEFAULT_RECONSTRUCTION, RECONSTRUCTIONS, FitOptions
    g.add_argument("--reconstruction", choices=RECONSTRUCTIONS, default=DEFAULT_RECONSTRUCTION,
                   help="features: after the projection, fit an offset of the generator's features so that it "
                        "reproduces the photo before editing (the weights stay as trained; the offset fades "
                        "out where the class changes); pivotal: tune a per-photo copy of the weights too; "
                        "projection: the latent alone, as in the paper (default: %(default)s)")
    g.add_argument("--fit-steps", type=nonnegative_int, default=FitOptions().steps, metavar="N",
                   help="Adam steps of the fit (default: %(default)s)")


def recipe_and_figure_options(group):
    group.add_argument("--save-recipe", metavar="JSON",
                       help="also write a recipe that `collage replay` reproduces bit for bit on the CPU")
    group.add_argument("--figure", metavar="PNG",
                       help="also write a before/after figure (photo, mask, reconstruction, result)")


def check_poisson(seam, colour_reach, mode, mode_flag, *, prefix="--"):
    """:func:`neuralcollage.blending.check_seam` before any work, and a colour reach the user gave only with
    normal Poisson blending; refusals are worded with the command's flags (``prefix``: ``"--part-"`` for
    ``collage eval``; None: the library's default)."""
    from neuralcollage.blending import check_seam
    from neuralcollage.io import InputError
    mode = mode or "normal"
    try:
        check_seam(seam or "fixed", mode)
    except ValueError:
        raise InputError(f"{prefix}seam {seam} needs Poisson blending ({mode_flag} normal or mixed), not "
                         f"{mode_flag} {mode}") from None
    if colour_reach is not None and mode != "normal":
        raise InputError(f"{prefix}colour-reach needs normal Poisson blending ({mode_flag} normal), not "
                         f"{mode_flag} {mode}")

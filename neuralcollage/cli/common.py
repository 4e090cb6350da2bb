"""What the commands' parsers share: exit codes, the error a command reports, messages on stderr, the parser
classes, the option types (each with its range and wording) and the option groups that several commands take
(each option is defined once, here).
"""
import argparse
import math
import os
import sys

EXIT_OK, EXIT_FAILURE, EXIT_INPUT, EXIT_MODEL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DEFAULT_MAX_PIXELS = 64_000_000
#: ``neuralcollage.collage.DEFAULT_CONTEXT`` and ``DEFAULT_COLOUR_REACH``, repeated so that ``--help`` does not
#: import Chainer (a test keeps them equal).
DEFAULT_CONTEXT = 0.15
DEFAULT_COLOUR_REACH = 2.0
#: ``neuralcollage.blending.BLEND_MODES`` and ``SEAMS``, repeated for the same reason (and kept equal by a test).
BLEND_MODES = ("normal", "mixed", "none")
SEAMS = ("fixed", "optimal")
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


def projection_options(parser, *, with_restarts=True):
    from neuralcollage.reconstruction import PROJECTION_STEPS
    g = parser.add_argument_group("projection")
    g.add_argument("--steps", type=ranged("steps"), default=None, metavar="N",
                   help="Adam steps of the manifold projection (default: %d before a fit, %d with "
                        "--reconstruction projection)" % (PROJECTION_STEPS["features"],
                                                          PROJECTION_STEPS["projection"]))
    if with_restarts:
        g.add_argument("--restarts", type=ranged("restarts"), default=1, metavar="N",
                       help="projection runs, the best kept; the first starts from the encoder's guess when the "
                            "model has an encoder, the others from random latents (default: %(default)s)")
    g.add_argument("--seed", type=ranged("seed"), default=0, help="seed of every random choice (default: %(default)s)")
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


def poisson_options(group, mode_flag, *, reach_default):
    """``--dilate``, ``--seam`` and ``--colour-reach``: the extent, boundary and colour correction of the blend
    (``mode_flag`` names the blend mode; ``reach_default`` words the colour reach's default for the help)."""
    group.add_argument("--dilate", type=ranged("dilate"), default=8, metavar="PX",
                       help="pixels the mask grows by before blending; nothing outside the grown mask changes "
                            "(default: %(default)s)")
    group.add_argument("--seam", choices=SEAMS, default="fixed",
                       help="Poisson boundary: the grown mask's border, or the cheapest seam between the mask and "
                            "that border, where the edit already matches the photo, so less of the photo's colour "
                            f"is carried into the edit (needs {mode_flag} normal or mixed; give it room with a "
                            "larger --dilate, e.g. 16) (default: %(default)s)")
    group.add_argument("--colour-reach", type=colour_reach_spec, metavar="PX",
                       help="how far, in photo pixels, Poisson's colour correction reaches into the mask; deeper "
                            "in, the edit keeps its own colours (a fox's white muzzle, a panda's dark eye "
                            "patches) while the border stays seamless; inf: throughout, classic Poisson "
                            f"(needs {mode_flag} normal) (default: {reach_default})")


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

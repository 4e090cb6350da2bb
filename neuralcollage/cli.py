"""The ``collage`` command line: parse, call the library, save.

``main(argv)`` returns the exit status: 0 success, 2 bad input or usage, 3 a model problem (unknown, not
installed, corrupt, wrong architecture, checksum mismatch, unusable device), 1 anything unexpected, 130 on
Ctrl-C (143 on SIGTERM, 129 on SIGHUP; no temporary file is left).  Recipes and model files are untrusted
data (docs/untrusted_files.md): a recipe never makes the tool open a file the user did not name.  Errors are one line on stderr, ``collage: error: ...``; ``--debug`` adds the traceback.  Every output
is written atomically and never over one of the command's input files.  Heavy modules (Chainer, the models)
are imported inside the commands so that ``collage --help`` stays fast.
"""
import argparse
import json
import math
import os
import sys
import time
import warnings

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_FAILURE", "EXIT_INPUT", "EXIT_MODEL"]

EXIT_OK, EXIT_FAILURE, EXIT_INPUT, EXIT_MODEL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DEFAULT_MAX_PIXELS = 64_000_000
#: ``neuralcollage.collage.DEFAULT_CONTEXT`` and ``DEFAULT_COLOUR_REACH``, repeated so that ``--help`` does not
#: import Chainer (a test keeps them equal).
DEFAULT_CONTEXT = 0.15
DEFAULT_COLOUR_REACH = 4.0
#: ``neuralcollage.blending.BLEND_MODES`` and ``SEAMS``, repeated for the same reason (and kept equal by a test).
BLEND_MODES = ("normal", "mixed", "none")
SEAMS = ("fixed", "optimal")
SUBCOMMANDS = ("edit", "attribute", "generate", "invert", "blend", "models", "labels", "replay", "demo", "train",
               "eval", "convert", "add-class", "stylize")
_PROG = "collage"


class CommandError(Exception):
    """A failure the command reports itself: one line and an exit status."""

    def __init__(self, message, code=EXIT_INPUT):
        super().__init__(message)
        self.code = code


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(f"{message} (see `{self.prog} --help`)")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=32, width=100)


# ------------------------------------------------------------------------------------------------ messages

def _one_line(text):
    return " ".join(str(text).split())


def _say(message, *, quiet=False):
    if not quiet:
        print(message, file=sys.stderr)


def _note(message):
    """One line on stderr: ``collage: note: ...``, or ``collage: warning: ...`` for a message that starts with
    ``warning:``."""
    kind, text = ("warning", message[len("warning:"):].lstrip()) if message.startswith("warning:") else ("note", message)
    print(f"{_PROG}: {kind}: {_one_line(text)}", file=sys.stderr)


def _loaded(name):
    return sys.modules.get(name)


def _classify(exc):
    """(exit status, one-line message) for an exception raised by a command."""
    if isinstance(exc, CommandError):
        return exc.code, str(exc)
    snapshot, backend = _loaded("neuralcollage.snapshot"), _loaded("neuralcollage.backend")
    distributed = _loaded("neuralcollage.train.distributed")
    if snapshot is not None and isinstance(exc, snapshot.SnapshotError):
        return EXIT_MODEL, str(exc)
    if backend is not None and isinstance(exc, backend.DeviceError):
        return EXIT_MODEL, str(exc)
    if distributed is not None and isinstance(exc, getattr(distributed, "DistributedError", ())):
        return EXIT_MODEL, str(exc)
    if isinstance(exc, ValueError):  # io.InputError, labels.UnknownLabelError, validation
        return EXIT_INPUT, str(exc)
    if isinstance(exc, RecursionError):
        return EXIT_INPUT, "input nests too deeply"
    if isinstance(exc, OverflowError):
        return EXIT_INPUT, f"a number is too large: {exc}"
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return EXIT_INPUT, f"{where}{exc.strerror or exc}"
    if isinstance(exc, MemoryError):
        return EXIT_FAILURE, "out of memory (try a smaller photo, fewer restarts or the CPU)"
    return EXIT_FAILURE, (f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback "
                          f"and please report it)")


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"{_PROG}: warning: {_one_line(message)}", file=sys.stderr)


# ------------------------------------------------------------------------------------------------ parser

EDIT_EPILOG = """\
The edit: the photo is cropped to a square around the mask (grown by --margin, clipped to the photo; or the
square --box), resized to the model's resolution and projected onto the generator's manifold as the source
class (--source-label, or the best of the discriminator's top guesses; models without a discriminator, such as
BigGAN-deep, need --source-label and project with multi-scale pixel statistics instead of its features); a
generator is then fitted to the crop so that it reproduces the photo (--reconstruction features, the default: a
feature offset, faded out where the class changes; pivotal: the weights tuned too; projection: the latent
alone, as in the paper); the summary line gives the reconstruction's PSNR, and a warning says when the photo is
far from what the model can draw; the masked region is then turned into TARGET with spatial class conditioning (--method scbn) or feature blending
(--method blend) on the chosen generator layers, and the edited crop is Poisson-blended back into the photo at
full resolution.  Pixels outside the mask dilated by --dilate pixels are unchanged; --seam optimal lets the
Poisson border run anywhere inside that limit, where the edit already matches the photo; --colour-reach
confines Poisson's colour correction to a band along the border, so the edit keeps its own colours inside.

The mask: white (or opaque, for a stroke painted on a transparent layer) selects; grey levels are soft weights.
A mask of another size than the photo is resized to it when the aspect ratios match (within 1%; a note says
so) and refused otherwise.  An empty mask is refused.  Paint a little beyond the part you change: the target
class's part may have another shape, and the model needs room to draw it.

Exit status: 0 success, 2 bad input or usage, 3 model problem (unknown, not installed, corrupt, wrong
architecture, checksum mismatch, unusable GPU).

examples:
  collage demo                                          # the bundled example on the built-in model
  collage --base dog.png --mask ears.png --label fox -o fox_ears.png
  collage --base dog.png --mask ears.png --label fox --seam optimal --dilate 16 -o fox_ears_seam.png
  collage --base dog.png --mask muzzle.png --label fox --colour-reach 4 -o fox_muzzle.png
  collage --base dog.png --mask ears.png --label fox --reconstruction projection -o paper.png  # no fit
  collage --base dog.png --mask ears.png --label fox --source-label dog --layers 4- --steps 300 \\
          --save-recipe edit.json --figure before_after.png
  collage --base pup.jpg --mask eyes.png --label pomeranian --model dogcat256 --gpu 0
  collage --base pup.jpg --mask eyes.png --label 108 --model ./ResNetGenerator_450000.npz --arch collage256
"""

TOP_DESCRIPTION = """\
Spatial semantic collage editing with class-conditional GANs: turn a masked region of a photo into another
class (Neural Collage: sCBN, feature blending, manifold projection, Poisson blending).

commands (the first is the default: `collage --base ...` means `collage edit --base ...`):
  edit       edit a photo: --base PHOTO --label TARGET --mask MASK [-o OUT]
  attribute  move a photo's attribute along a latent axis: --base PHOTO --axis NAME --amount A [--mask MASK]
  generate   generate images of a class from random or saved latents
  invert     project a photo onto the generator's manifold: writes z (.npz) and the reconstruction
  blend      Poisson-blend an edited image into a photo inside a mask
  models     list the registered models and whether they are installed
  labels     list or search a model's class labels
  replay     reproduce an edit from a recipe written by --save-recipe
  demo       run the bundled example photo on the built-in model
  train      train the built-in GAN, encoder or classifiers (gan|encoder|classifier)
  eval       evaluate a model (the built-in one by default) and print its metrics
  convert    convert another framework's checkpoint (biggan: pytorch-pretrained-biggan BigGAN-deep)

Run `collage COMMAND --help` for a command's options.
"""

TOP_EPILOG = """\
examples:
  collage demo -o demo_out
  collage --base dog.png --mask ears.png --label fox -o fox_ears.png --figure before_after.png
  collage attribute --base dog.png --axis fur_brightness --amount 1.5 --mask fur.png -o brighter_fur.png
  collage models
  collage labels --model dogcat256 --search terrier
  collage replay edit.json --base dog.png -o again.png
  collage convert biggan ckpt/ ~/.cache/neuralcollage/biggan-deep-128/generator.npz
  collage generate --model biggan-deep-128 --label "golden retriever" --truncation 0.4 -n 4 -o dogs.png

Exit status: 0 success, 2 bad input or usage, 3 model problem.  Errors are one line on stderr; --debug shows
the traceback.  Outputs are written atomically and never over an input file.
"""


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


_positive_int = _int_at_least(1, "a positive integer")
_nonnegative_int = _int_at_least(0, "an integer >= 0")
_bounded_count = _number_type(int, lambda v: 1 <= v <= 100_000, "a positive integer (at most 100000)",
                              unparsable="an integer")


def _finite_float(accept, wording, *, unparsable=None):
    """An argparse type: a finite float for which ``accept(value)`` holds (see :func:`_number_type`)."""
    return _number_type(float, lambda v: math.isfinite(v) and accept(v), wording, unparsable=unparsable)


_nonnegative_float = _finite_float(lambda v: v >= 0, "a number >= 0")
_fraction = _finite_float(lambda v: 0 <= v <= 1, "a number in [0, 1]")
_truncation = _finite_float(lambda v: 0 < v <= 1, "a truncation in (0, 1]")


def _colour_reach(text):
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


def _ranged(name):
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


def _gpu_id(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a GPU id (an integer, -1 for the CPU), got {text!r}") from None


def _box(text):
    try:
        top, left, side = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected TOP,LEFT,SIDE (three integers), got {text!r}") from None
    if top < 0 or left < 0 or side < 1:
        raise argparse.ArgumentTypeError(f"box {text!r} must have TOP, LEFT >= 0 and SIDE >= 1")
    return top, left, side


def _common():
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or progress messages")
    return p


def _model_options():
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("model")
    g.add_argument("--model", default="builtin", metavar="NAME|PATH",
                   help="registered model (see `collage models`), a generator .npz or a folder holding one "
                        "(default: %(default)s)")
    g.add_argument("--arch", metavar="PRESET",
                   help="architecture of official snapshot files given by path: collage256, collage128, "
                        "sngan128, ... (project snapshots describe themselves)")
    g.add_argument("--gpu", type=_gpu_id, default=-1, metavar="ID",
                   help="CUDA device id, -1 for the CPU (default: %(default)s)")
    return p


def _image_options():
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--max-pixels", type=_positive_int, metavar="N",
                   default=_env_int("NEURALCOLLAGE_MAX_PIXELS", DEFAULT_MAX_PIXELS),
                   help="refuse input images with more pixels (default: %(default)s; environment "
                        "NEURALCOLLAGE_MAX_PIXELS)")
    return p


def _resolve_projection_steps(args):
    """``--steps`` left out: the projection steps of ``--reconstruction`` (50 before a fit, 200 without)."""
    if getattr(args, "reconstruction", None) is not None and getattr(args, "steps", 0) is None:
        from neuralcollage.reconstruction import projection_steps
        args.steps = projection_steps(args.reconstruction)


def _projection_options(parser, *, with_restarts=True):
    from neuralcollage.reconstruction import PROJECTION_STEPS
    g = parser.add_argument_group("projection")
    g.add_argument("--steps", type=_ranged("steps"), default=None, metavar="N",
                   help="Adam steps of the manifold projection (default: %d before a fit, %d with "
                        "--reconstruction projection)" % (PROJECTION_STEPS["features"],
                                                          PROJECTION_STEPS["projection"]))
    if with_restarts:
        g.add_argument("--restarts", type=_ranged("restarts"), default=1, metavar="N",
                       help="projection runs, the best kept; the first starts from the encoder's guess when the "
                            "model has an encoder, the others from random latents (default: %(default)s)")
    g.add_argument("--seed", type=_ranged("seed"), default=0, help="seed of every random choice (default: %(default)s)")
    from neuralcollage.reconstruction import DEFAULT_RECONSTRUCTION, RECONSTRUCTIONS, FitOptions
    g.add_argument("--reconstruction", choices=RECONSTRUCTIONS, default=DEFAULT_RECONSTRUCTION,
                   help="features: after the projection, fit an offset of the generator's features so that it "
                        "reproduces the photo before editing (the weights stay as trained; the offset fades "
                        "out where the class changes); pivotal: tune a per-photo copy of the weights too; "
                        "projection: the latent alone, as in the paper (default: %(default)s)")
    g.add_argument("--fit-steps", type=_nonnegative_int, default=FitOptions().steps, metavar="N",
                   help="Adam steps of the fit (default: %(default)s)")


def _recipe_and_figure_options(group):
    group.add_argument("--save-recipe", metavar="JSON",
                       help="also write a recipe that `collage replay` reproduces bit for bit on the CPU")
    group.add_argument("--figure", metavar="PNG",
                       help="also write a before/after figure (photo, mask, reconstruction, result)")


def _add_edit_arguments(p):
    req = p.add_argument_group("required")
    req.add_argument("--base", required=True, metavar="PHOTO", help="the photo to edit (any common format)")
    req.add_argument("--label", required=True, metavar="TARGET",
                     help="class the masked region becomes: a name, synonym or index (see `collage labels`)")
    req.add_argument("--mask", required=True, metavar="MASK", help="image whose white area is edited")
    out = p.add_argument_group("output")
    out.add_argument("-o", "--output", metavar="OUT",
                     help="edited photo (.png, .jpg, .webp, .bmp, .tif; default: PHOTO-STEM_TARGET.png in the "
                          "current folder)")
    _recipe_and_figure_options(out)
    e = p.add_argument_group("edit")
    e.add_argument("--source-label", metavar="L",
                   help="the photo's class (default: guessed from the discriminator's top candidates; "
                        "required for a model without a discriminator, e.g. BigGAN-deep)")
    e.add_argument("--layers", default="all", metavar="SPEC",
                   help="generator layers the edit applies to: all, 0-11, 4-, 1,3,5 (default: %(default)s)")
    e.add_argument("--method", choices=("scbn", "blend"), default="scbn",
                   help="scbn: spatial class conditioning; blend: feature blending (default: %(default)s)")
    e.add_argument("--blend-mode", choices=BLEND_MODES, default="normal",
                   help="Poisson blending of the edit into the photo: normal, mixed gradients, or none (plain "
                        "feathered compositing) (default: %(default)s)")
    _poisson_options(e, "--blend-mode", reach_default=f"{DEFAULT_COLOUR_REACH:g}")
    e.add_argument("--margin", type=_ranged("margin"), default=0.25, metavar="F",
                   help="context around the mask in the crop, as a fraction of the mask's longer side "
                        "(default: %(default)s)")
    e.add_argument("--context", type=_fraction, default=DEFAULT_CONTEXT, metavar="F",
                   help="how far the target class reaches beyond the mask inside the generator, as a fraction "
                        "of its resolution, so it can draw the new part whole; only the mask (dilated a few "
                        "pixels) changes the photo; 0 = the mask itself (default: %(default)s)")
    e.add_argument("--box", type=_box, metavar="TOP,LEFT,SIDE",
                   help="crop this square of the photo instead (e.g. the whole face or animal, when the mask "
                        "covers only a small part of it and the model was trained on whole objects)")
    _projection_options(p)


ATTRIBUTE_EPILOG = """\
The edit: the photo is cropped to a square around the mask (without --mask: the whole photo's largest centred
square) and projected as the source class like `collage edit` does; inside the mask, the features of the
latent moved along the axes, z + A1*u1 + A2*u2 + ..., are blended into those of z on the chosen blend layers
(the class stays the same), and the edit is Poisson-blended back at full resolution.  Pixels outside the
slightly dilated mask are unchanged.  --save-recipe writes a recipe `collage replay` reproduces bit for bit.

The axes: unit directions in latent space found per attribute (neuralcollage.axes.discover_axes) and stored as
axes.json beside the model's generator, or given with --axes.  An amount is in latent standard deviations
along the axis; positive increases the attribute.  When an axis was fitted per class, the one of the photo's
class is used.  `collage attribute --list-axes` lists them.

Exit status: 0 success, 2 bad input or usage (unknown axis, one --amount per --axis missing), 3 model problem.

examples:
  collage attribute --list-axes
  collage attribute --base dog.png --axis fur_brightness --amount 1.5 --mask fur.png -o brighter_fur.png
  collage attribute --base dog.png --axis eye_size --amount=-1 --axis fur_hue --amount 0.5 --source-label dog \\
          --save-recipe attr.json --figure before_after.png
  collage attribute --base cat.png --axis eye_size --amount 2 --axes my_axes.json --model runs/builtin64
"""


_amount = _finite_float(lambda v: True, "a finite number", unparsable="a number")


def _poisson_options(group, mode_flag, *, reach_default):
    """``--dilate``, ``--seam`` and ``--colour-reach``: the extent, boundary and colour correction of the blend
    (``mode_flag`` names the blend mode; ``reach_default`` words the colour reach's default for the help)."""
    group.add_argument("--dilate", type=_ranged("dilate"), default=8, metavar="PX",
                       help="pixels the mask grows by before blending; nothing outside the grown mask changes "
                            "(default: %(default)s)")
    group.add_argument("--seam", choices=SEAMS, default="fixed",
                       help="Poisson boundary: the grown mask's border, or the cheapest seam between the mask and "
                            "that border, where the edit already matches the photo, so less of the photo's colour "
                            f"is carried into the edit (needs {mode_flag} normal or mixed; give it room with a "
                            "larger --dilate, e.g. 16) (default: %(default)s)")
    group.add_argument("--colour-reach", type=_colour_reach, metavar="PX",
                       help="how far, in photo pixels, Poisson's colour correction reaches into the mask; deeper "
                            "in, the edit keeps its own colours (a fox's white muzzle, a panda's dark eye "
                            "patches) while the border stays seamless; inf: throughout, classic Poisson "
                            f"(needs {mode_flag} normal) (default: {reach_default})")


def _check_poisson(seam, colour_reach, mode, mode_flag, *, prefix="--"):
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


def _add_attribute_arguments(p):
    a = p.add_argument_group("axes")
    a.add_argument("--axis", action="append", metavar="NAME",
                   help="axis to move along (repeat for several; see --list-axes)")
    a.add_argument("--amount", action="append", type=_ranged("amount"), metavar="A",
                   help="how far to move along the --axis of the same position, in latent standard deviations "
                        "(negative: --amount=-1 or --amount -1)")
    a.add_argument("--axes", metavar="FILE",
                   help="axes file (.json or .npz; default: axes.json beside the model's generator)")
    a.add_argument("--list-axes", action="store_true", help="list the available axes and exit")
    io_ = p.add_argument_group("input and output")
    io_.add_argument("--base", metavar="PHOTO", help="the photo to edit (required unless --list-axes)")
    io_.add_argument("--mask", metavar="MASK", help="image whose white area is edited (default: the whole crop)")
    io_.add_argument("-o", "--output", metavar="OUT",
                     help="edited photo (default: PHOTO-STEM_AXES.png in the current folder)")
    _recipe_and_figure_options(io_)
    e = p.add_argument_group("edit")
    e.add_argument("--source-label", metavar="L",
                   help="the photo's class (default: guessed from the discriminator's top candidates)")
    e.add_argument("--layers", default="all", metavar="SPEC",
                   help="blend layers the edit applies to: all, 0-3, 2-, 1,3 (default: %(default)s; all keeps "
                        "the change inside the mask)")
    e.add_argument("--blend-mode", choices=BLEND_MODES, default="normal",
                   help="Poisson blending of the edit into the photo (default: %(default)s)")
    _projection_options(p)


def build_parser():
    """The ``collage`` argument parser (subcommands; ``edit`` is the default, see :func:`main`)."""
    common, model, image = _common(), _model_options(), _image_options()
    parser = _Parser(prog=_PROG, formatter_class=_Formatter, description=TOP_DESCRIPTION, epilog=TOP_EPILOG,
                     usage="%(prog)s [edit] --base PHOTO --label TARGET --mask MASK [-o OUT] [options]\n"
                           "       %(prog)s {attribute,generate,invert,blend,models,labels,replay,demo,train,eval,"
                           "convert,add-class,stylize} ...")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("edit", prog="collage edit", parents=[common, model, image],
                       formatter_class=_Formatter,
                       help="edit a photo (default command)", description="Edit a masked region of a photo "
                       "into another class.", epilog=EDIT_EPILOG)
    _add_edit_arguments(p)
    p.set_defaults(func=cmd_edit)

    p = sub.add_parser("attribute", prog="collage attribute", parents=[common, model, image],
                       formatter_class=_Formatter, help="move an attribute along a latent axis",
                       description="Move a photo's attribute (\"darker fur\", \"bigger eyes\") along latent "
                       "axes, inside a masked region or on the whole crop.", epilog=ATTRIBUTE_EPILOG,
                       usage="%(prog)s --base PHOTO --axis NAME --amount A [--axis NAME --amount A ...] "
                             "[--mask MASK] [-o OUT] [options]\n       %(prog)s --list-axes [--model M] "
                             "[--axes FILE]")
    _add_attribute_arguments(p)
    p.set_defaults(func=cmd_attribute)

    p = sub.add_parser("generate", prog="collage generate", parents=[common, model], formatter_class=_Formatter,
                       help="generate images", description="Generate images of a class.", epilog="""\
examples:
  collage generate --label fox -n 8 -o foxes.png
  collage generate --z z.npz -o again.png               # class from the z file (written by `collage invert`)
  collage generate --label cat --seed 3 --save-z cat3.npz -o cat3.png
  collage generate --model biggan-deep-256 --label "golden retriever" --truncation 0.4 -n 4 -o dogs.png

--truncation (BigGAN models only) draws the random latents from a normal distribution truncated to [-2, 2]
and scaled by T, and selects the batch-norm statistics stored for T; latents from --z are used as they are
(with the truncation stored beside them, unless --truncation is given).
""")
    p.add_argument("--label", metavar="L", help="class to generate (default: the class stored in --z)")
    p.add_argument("-n", "--count", type=_ranged("count"), default=1, metavar="N",
                   help="number of images, written as one grid (default: %(default)s)")
    p.add_argument("--seed", type=_ranged("seed"), default=0, help="seed of the random latents (default: %(default)s)")
    p.add_argument("--z", metavar="NPZ", help="latents from a .npz with an array 'z' (N, dim_z) instead of random")
    p.add_argument("--save-z", metavar="NPZ", help="also write the latents used")
    p.add_argument("--truncation", type=_ranged("truncation"), metavar="T",
                   help="BigGAN truncation in (0, 1] (default: the model's own, 1.0 for converted checkpoints)")
    p.add_argument("-o", "--output", default="generated.png", metavar="OUT", help="image (default: %(default)s)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("invert", prog="collage invert", parents=[common, model, image],
                       formatter_class=_Formatter,
                       help="project a photo onto the manifold", description="Project a photo (or the square "
                       "around a mask) onto the generator's manifold.", epilog="""\
The photo is cropped to a square (around --mask when given, else the largest centred square) and resized to
the model's resolution.  Writes the latent z (.npz with z, class_id, label, model, sha256, box, loss) and the
reconstruction G(z, class).  A model without a discriminator (BigGAN-deep) needs --label and projects with
multi-scale pixel statistics (neuralcollage.inversion.PyramidFeatures) instead of the discriminator's features.

examples:
  collage invert --base dog.png --label dog -o recon.png --z-out dog_z.npz
  collage invert --base photo.jpg --mask face.png --steps 400 --restarts 3
""")
    p.add_argument("--base", required=True, metavar="PHOTO", help="the photo")
    p.add_argument("--label", metavar="L",
                   help="the photo's class (default: guessed; required without a discriminator)")
    p.add_argument("--mask", metavar="MASK", help="crop the square around this mask")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="reconstruction image (default: PHOTO-STEM_reconstruction.png)")
    p.add_argument("--z-out", metavar="NPZ", help="latent file (default: PHOTO-STEM_z.npz)")
    _projection_options(p)
    p.set_defaults(func=cmd_invert)

    p = sub.add_parser("blend", prog="collage blend", parents=[common, image], formatter_class=_Formatter,
                       help="Poisson-blend an edit into a photo", description="Blend an edited image into a "
                       "photo inside a mask; pixels outside the dilated mask stay unchanged.", epilog="""\
--source is either an image of the photo's size (resized when only the resolution differs) or, with --box, a
square crop that is resized to the box.

examples:
  collage blend --base photo.png --source edited.png --mask mask.png -o out.png
  collage blend --base photo.png --source crop64.png --box 120,80,200 --mask mask.png --mode mixed -o out.png
""")
    p.add_argument("--base", required=True, metavar="PHOTO", help="the photo")
    p.add_argument("--source", required=True, metavar="EDITED", help="the edited image")
    p.add_argument("--mask", required=True, metavar="MASK", help="the region to blend")
    p.add_argument("--box", type=_box, metavar="TOP,LEFT,SIDE", help="where a square --source crop belongs")
    p.add_argument("--mode", choices=BLEND_MODES, default="normal",
                   help="normal or mixed-gradient Poisson blending, or feathered compositing (default: "
                        "%(default)s)")
    _poisson_options(p, "--mode", reach_default="inf, classic Poisson")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the blended photo")
    p.set_defaults(func=cmd_blend)

    add_stylize_parser(sub, common, _Formatter)

    p = sub.add_parser("models", prog="collage models", parents=[common], formatter_class=_Formatter,
                       help="list registered models",
                       description="The registered models, where their files go and whether they are "
                       "installed.  Official files go in $NEURALCOLLAGE_HOME/<name>/ (default "
                       "~/.cache/neuralcollage/<name>/); see neuralcollage/data/pretrained/README.md.",
                       epilog="""\
examples:
  collage models                                 # a table: name, kind, installed, folder, how to get it
  collage models --json                          # the same as JSON
  collage models --forget dogcat256              # after replacing its files on purpose
""")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--forget", metavar="NAME",
                   help="forget the sha256 recorded for an official model (after replacing its files)")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("labels", prog="collage labels", parents=[common], formatter_class=_Formatter,
                       help="list or search labels",
                       description="A model's class labels (index, name, synonyms).", epilog="""\
examples:
  collage labels                                 # the built-in model's classes
  collage labels --model dogcat256 --search retriever
""")
    p.add_argument("--model", default="builtin", metavar="NAME|PATH", help="model (default: %(default)s)")
    p.add_argument("--arch", metavar="PRESET", help="architecture of an official file given by path")
    p.add_argument("--search", metavar="TEXT", help="only classes with a synonym containing TEXT")
    p.set_defaults(func=cmd_labels)

    p = sub.add_parser("replay", prog="collage replay", parents=[common, image], formatter_class=_Formatter,
                       help="replay a recipe",
                       description="Reproduce an edit from a recipe written by --save-recipe (bit for bit on "
                       "the CPU with the same model file).", epilog="""\
examples:
  collage replay edit.json --base dog.png -o again.png
""")
    p.add_argument("recipe", metavar="RECIPE", help="recipe JSON")
    p.add_argument("--base", required=True, metavar="PHOTO", help="the photo the recipe was made on")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the edited photo")
    p.add_argument("--model", metavar="NAME|PATH",
                   help="model (default: the registered model the recipe names; a recipe made with a model "
                        "file needs --model, since a recipe never chooses a file to read)")
    p.add_argument("--arch", metavar="PRESET", help="architecture of an official file given by path")
    p.add_argument("--gpu", type=_gpu_id, default=-1, metavar="ID",
                   help="CUDA device id, -1 for the CPU (default: %(default)s; bit-exact only on the CPU)")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("demo", prog="collage demo", parents=[common], formatter_class=_Formatter,
                       help="run the bundled example",
                       description="Edit the bundled example photo (a 256 px cat rendered by the built-in data "
                       "set): turn the cat's ears, given by the bundled mask, into fox ears, and write result.png, "
                       "before_after.png and recipe.json into the output folder (removed again if the demo fails "
                       "and it was created for it).",
                       epilog="""\
examples:
  collage demo -o demo_out                       # about 10 s on a 2-core CPU
  collage demo -o demo_out --method blend        # feature blending instead of sCBN
  collage demo -o demo_gpu --gpu 0
""")
    p.add_argument("-o", "--output-dir", default="collage_demo", metavar="DIR",
                   help="output folder, created if missing (default: %(default)s)")
    p.add_argument("--model", default="builtin", metavar="NAME|PATH", help="model (default: %(default)s)")
    p.add_argument("--gpu", type=_gpu_id, default=-1, metavar="ID", help="CUDA device id (default: %(default)s)")
    p.add_argument("--method", choices=("scbn", "blend"), default="scbn", help="edit method (default: %(default)s)")
    _projection_options(p)
    p.set_defaults(func=cmd_demo)

    _add_train_parsers(sub, common)

    p = sub.add_parser("eval", prog="collage eval", parents=[common], formatter_class=_Formatter,
                       help="evaluate a model",
                       description="Measure a model (by default the built-in one): classifier accuracy, class "
                       "fidelity and diversity of samples, projection PSNR, part translation; print the metrics "
                       "as a table.  Metrics whose models the bundle lacks (classifier, part classifier, "
                       "discriminator) are reported as skipped.", epilog=f"""\
metrics: {', '.join(EVAL_METRICS)}

examples:
  collage eval                                   # the built-in model, the library's sample counts
  collage eval --n-samples 50 --metrics classifier_accuracy,diversity
  collage eval runs/builtin64 --out-json metrics.json
  collage eval --metrics few_shot --few-shot-images 5,10 --out-json few_shot.json
""")
    p.add_argument("model", nargs="?", default="builtin", metavar="MODEL",
                   help="registered model name, generator .npz or folder (default: %(default)s)")
    p.add_argument("--arch", metavar="PRESET", help="architecture of official snapshot files given by path")
    p.add_argument("--out-json", metavar="JSON", help="also write the metrics here")
    p.add_argument("--n-samples", type=_bounded_count, metavar="N",
                   help="sample count of every metric (held-out faces, generated samples, projections, "
                        "translations; diversity: per class) (default: the library's, 600/600/20/100, 50 per "
                        "class)")
    p.add_argument("--metrics", type=_metric_list, metavar="LIST",
                   help="comma-separated metrics to run (default: all but few_shot)")
    p.add_argument("--steps", type=_bounded_count, metavar="N",
                   help="projection steps of the projection and translation metrics (default: the library's)")
    p.add_argument("--part-region-grow", type=_finite_float(lambda v: 0 <= v < 0.5, "a number >= 0 and < 0.5"),
                   metavar="F",
                   help="part translation edits the part's mask grown by this fraction of the photo side "
                        "(0: the exact mask) (default: the library's, 0.08)")
    p.add_argument("--part-context", type=_fraction, metavar="F",
                   help="part translation: how far the target class reaches beyond the region inside the "
                        "generator (`collage edit --context`) (default: the edit's, %s)" % DEFAULT_CONTEXT)
    p.add_argument("--part-blend-mode", choices=BLEND_MODES,
                   help="part translation: Poisson mode, or none for feathered compositing (default: the "
                        "library's, normal)")
    p.add_argument("--part-dilate", type=_ranged("dilate"), metavar="PX",
                   help="part translation: pixels the region grows by for blending (`collage edit --dilate`) "
                        "(default: the library's, 8)")
    p.add_argument("--part-seam", choices=SEAMS,
                   help="part translation: Poisson boundary (`collage edit --seam`) (default: the library's, "
                        "fixed)")
    p.add_argument("--part-colour-reach", type=_colour_reach, metavar="PX",
                   help="part translation: how far Poisson's colour correction reaches into the region "
                        "(`collage edit --colour-reach`; inf: classic Poisson) (default: the edit's, "
                        f"{DEFAULT_COLOUR_REACH:g})")
    g = p.add_argument_group("few_shot (not run by default: it trains one class pack per species and image "
                             "count, minutes each on a CPU)")
    g.add_argument("--few-shot-species", type=_name_list, metavar="LIST",
                   help="comma-separated species the model never saw, drawn by the renderer (default: the "
                        "library's, koala,tiger)")
    g.add_argument("--few-shot-images", type=_count_list, metavar="LIST",
                   help="comma-separated training-image counts, one pack each (default: the library's, 5,10,25)")
    g.add_argument("--few-shot-steps", type=_nonnegative_int, metavar="N",
                   help=f"training steps per pack (default: add-class's, {ADD_CLASS_DEFAULTS['steps']})")
    _start_from_option(g, "--few-shot-start-from")
    g.add_argument("--few-shot-translation", type=_nonnegative_int, metavar="N",
                   help="also translate a part of N held-out faces into each class learnt from 10 images (or the "
                        "largest count), judged by the 8-species part judge (default: the library's, 0: off)")
    g.add_argument("--few-shot-packs", metavar="DIR",
                   help="keep the packs in DIR (a pack already there trained on the same renders, steps and "
                        "seed is reused)")
    p.add_argument("--seed", type=_ranged("seed"), default=0, help="seed (default: %(default)s)")
    p.add_argument("--gpu", type=_gpu_id, default=-1, metavar="ID", help="CUDA device id (default: %(default)s)")
    p.set_defaults(func=cmd_eval)

    _add_convert_parsers(sub, common)
    _add_class_parsers(sub, common, model)
    return parser


EVAL_METRICS = ("classifier_accuracy", "part_classifier_accuracy", "conditioned_class_accuracy", "diversity",
                "projection_psnr", "part_translation", "reconstruction_psnr", "few_shot")
#: What ``--metrics`` runs when not given: everything but few_shot (neuralcollage.evaluation.METRICS).
EVAL_DEFAULT_METRICS = EVAL_METRICS[:-1]


def _name_list(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return tuple(dict.fromkeys(names))


def _count_list(text):
    try:
        counts = [int(n) for n in text.split(",") if n.strip()]
    except ValueError:
        counts = []
    if not counts or any(not 1 <= c <= 10_000 for c in counts):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}")
    return tuple(dict.fromkeys(counts))


def _metric_list(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in EVAL_METRICS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"unknown metric(s) {', '.join(unknown) or repr(text)}; choose from "
                                         f"{', '.join(EVAL_METRICS)}")
    return tuple(dict.fromkeys(names))


def _add_convert_parsers(sub, common):
    p = sub.add_parser("convert", prog="collage convert", formatter_class=_Formatter,
                       help="convert another framework's checkpoint",
                       description="Convert a checkpoint of another framework into this project's "
                       "self-describing snapshot format.", epilog="""\
examples:
  collage convert biggan ~/Downloads/biggan-deep-128 ~/.cache/neuralcollage/biggan-deep-128/generator.npz
""")
    csub = p.add_subparsers(dest="what", metavar="{biggan}", parser_class=_Parser)
    csub.required = True
    q = csub.add_parser("biggan", prog="collage convert biggan", parents=[common], formatter_class=_Formatter,
                        help="BigGAN-deep (pytorch-pretrained-biggan format)",
                        description="Convert a BigGAN-deep checkpoint folder in the pytorch-pretrained-biggan "
                        "format (pytorch_model.bin + config.json) into a generator snapshot that loads without "
                        "PyTorch.  Needs PyTorch (pip install 'neuralcollage[convert]').", epilog="""\
The registered models biggan-deep-128, biggan-deep-256 and biggan-deep-512 (see `collage models`) are the
checkpoints published with the pytorch-pretrained-biggan package (v0.1.1): the URLs of each name in
PRETRAINED_MODEL_ARCHIVE_MAP (weights) and PRETRAINED_CONFIG_ARCHIVE_MAP (config) of its model.py.  Download
both files, rename them to pytorch_model.bin and config.json in one folder, and convert them to
$NEURALCOLLAGE_HOME/<name>/generator.npz: its sha256 is then recorded, and every later load is verified.

BigGAN has no discriminator: `collage edit` (with --source-label) and `collage invert` (with --label) project
photos with multi-scale pixel statistics instead; `collage attribute` and `collage demo` do not work with it.

Exit status: 0 success, 2 bad input (missing folder, unwritable output), 3 checkpoint problem (missing or
unreadable files, weights that do not match config.json) or PyTorch missing.

examples:
  collage convert biggan ~/Downloads/biggan-deep-128 ~/.cache/neuralcollage/biggan-deep-128/generator.npz
  collage convert biggan my_checkpoint/ my_biggan.npz       # then --model my_biggan.npz
""")
    q.add_argument("src_dir", metavar="SRC_DIR", help="folder holding pytorch_model.bin and config.json")
    q.add_argument("out", metavar="OUT", help="the snapshot to write (.npz)")
    q.set_defaults(func=cmd_convert_biggan)


#: The defaults of :func:`neuralcollage.train.gan.train_gan` (tests check that they agree).
GAN_DEFAULTS = dict(arch="builtin64", iterations=20000, batch_size=32, n_dis=2, lr=2e-4, beta1=0.0, beta2=0.9,
                    ema_decay=0.999, seed=0, checkpoint_every=200, sample_every=500, log_every=20, time_limit=None,
                    closeups=0.0)
#: The command that trained the built-in model.
BUILTIN_GAN_COMMAND = ("collage train gan runs/builtin64 --iterations 6000 --batch-size 32 --n-dis 2 "
                       "--checkpoint-every 100 --sample-every 250 --log-every 10 --seed 0 --time-limit 5400")
_GAN_OPTIONS = ("arch", "iterations", "batch_size", "n_dis", "lr", "beta1", "beta2", "ema_decay", "seed",
                "checkpoint_every", "sample_every", "log_every", "time_limit", "closeups")


_positive_seconds = _finite_float(lambda v: v > 0, "a positive number of seconds",
                                  unparsable="a number of seconds")


def _seconds(text):
    value = _positive_seconds(text)
    return int(value) if value.is_integer() else value


def _add_train_parsers(sub, common):
    p = sub.add_parser("train", prog="collage train", formatter_class=_Formatter, help="train the built-in models",
                       description="Train on the built-in rendered data set; every run resumes from the "
                       "checkpoint in OUT_DIR.", epilog="""\
examples:
  collage train gan runs/builtin64 --iterations 6000
  collage train encoder runs/encoder --generator runs/builtin64/generator.npz
  collage train classifier runs/classifier --kind whole
""")
    tsub = p.add_subparsers(dest="what", metavar="{gan,encoder,classifier}", parser_class=_Parser)
    tsub.required = True

    def base(name, help_, description, epilog):
        q = tsub.add_parser(name, prog=f"collage train {name}", parents=[common], formatter_class=_Formatter,
                            help=help_,
                            description=description, epilog=epilog)
        q.add_argument("out_dir", metavar="OUT_DIR", help="run folder (checkpoints, snapshots, plots)")
        q.add_argument("--gpu", type=_gpu_id, default=-1, metavar="ID",
                       help="CUDA device id, -1 for the CPU (default: %(default)s)")
        q.add_argument("--seed", type=_ranged("seed"), default=0, help="seed (default: %(default)s)")
        q.add_argument("--time-limit", type=_seconds, metavar="SEC",
                       help="stop after checkpointing once this many seconds have passed (default: no limit)")
        q.add_argument("--distributed", action="store_true",
                       help="data-parallel over MPI processes with ChainerMN (run under mpiexec)")
        return q

    q = base("gan", "train the generator and discriminator",
             "SNGAN-projection with hinge loss, spectral norm, Adam and an EMA generator on the rendered faces.  "
             "Every option is passed to neuralcollage.train.gan.train_gan as it is; the command prints the "
             "full command line that reproduces the run.", f"""\
examples:
  {BUILTIN_GAN_COMMAND}
      # the built-in model's run: train_gan("runs/builtin64", arch="builtin64", iterations=6000,
      # batch_size=32, n_dis=2, checkpoint_every=100, sample_every=250, log_every=10, seed=0, time_limit=5400)
  collage train gan runs/quick --iterations 50 --batch-size 8 --checkpoint-every 10 --sample-every 25
""")
    q.add_argument("--arch", default="builtin64", metavar="PRESET", help="architecture (default: %(default)s)")
    q.add_argument("--iterations", type=_positive_int, default=GAN_DEFAULTS["iterations"], metavar="N",
                   help="generator updates in total; a resumed run continues up to this count (default: "
                        "%(default)s)")
    q.add_argument("--batch-size", type=_positive_int, default=GAN_DEFAULTS["batch_size"], metavar="N",
                   help="(default: %(default)s)")
    q.add_argument("--n-dis", type=_positive_int, default=GAN_DEFAULTS["n_dis"], metavar="N",
                   help="discriminator updates per generator update (default: %(default)s)")
    q.add_argument("--lr", type=_finite_float(lambda v: 0 < v <= 1, "a learning rate in (0, 1]"),
                   default=GAN_DEFAULTS["lr"], metavar="LR",
                   help="Adam step size (default: %(default)s)")
    q.add_argument("--beta1", type=_finite_float(lambda v: 0 <= v < 1, "a number in [0, 1)"),
                   default=GAN_DEFAULTS["beta1"], metavar="B",
                   help="Adam beta1 (default: %(default)s)")
    q.add_argument("--beta2", type=_finite_float(lambda v: 0 <= v < 1, "a number in [0, 1)"),
                   default=GAN_DEFAULTS["beta2"], metavar="B",
                   help="Adam beta2 (default: %(default)s)")
    q.add_argument("--ema-decay", type=_finite_float(lambda v: 0 <= v <= 1, "a number in [0, 1]"),
                   default=GAN_DEFAULTS["ema_decay"], metavar="D",
                   help="EMA of the generator's weights, 0 for none (default: %(default)s)")
    q.add_argument("--checkpoint-every", type=_positive_int, default=GAN_DEFAULTS["checkpoint_every"],
                   metavar="N", help="iterations between checkpoints and snapshots (default: %(default)s)")
    q.add_argument("--sample-every", type=_positive_int, default=GAN_DEFAULTS["sample_every"], metavar="N",
                   help="iterations between sample grids (default: %(default)s)")
    q.add_argument("--log-every", type=_positive_int, default=GAN_DEFAULTS["log_every"], metavar="N",
                   help="iterations between log lines (default: %(default)s)")
    q.add_argument("--closeups", type=_fraction, default=GAN_DEFAULTS["closeups"], metavar="F",
                   help="fraction of the real images that are part close-ups (ears, eyes or muzzle enlarged "
                        "1.3-2.4 times) instead of whole faces (default: %(default)s)")
    q.set_defaults(func=cmd_train_gan)

    q = base("encoder", "train the projection encoder", "Train E(x, y) -> z on generated (image, z, class) "
             "triples of a trained generator, for projection initialisation.", """\
examples:
  collage train encoder runs/encoder --generator runs/builtin64/generator.npz
""")
    q.add_argument("--generator", required=True, metavar="NPZ", help="the trained generator snapshot")
    q.add_argument("--iterations", type=_positive_int, metavar="N", help="(default: the trainer's)")
    q.add_argument("--batch-size", type=_positive_int, metavar="N", help="(default: the trainer's)")
    q.set_defaults(func=cmd_train_encoder)

    q = base("classifier", "train the evaluation classifiers", "Train the whole-image classifier or the part "
             "classifier (part crops) on the rendered data set.", """\
examples:
  collage train classifier runs/classifier --kind whole
  collage train classifier runs/part_classifier --kind part
""")
    q.add_argument("--kind", choices=("whole", "part"), default="whole", help="(default: %(default)s)")
    q.add_argument("--iterations", type=_positive_int, metavar="N", help="(default: the trainer's)")
    q.add_argument("--batch-size", type=_positive_int, metavar="N", help="(default: the trainer's)")
    q.set_defaults(func=cmd_train_classifier)


def _version():
    try:
        from importlib.metadata import version
        return version("neuralcollage")
    except Exception:
        return "unknown"


# ------------------------------------------------------------------------------------------------ main

#: Options every command takes, accepted before the command too (``collage -q replay ...``).
GLOBAL_FLAGS = ("-q", "--quiet", "--debug")
#: Commands whose options follow a second word (``collage train gan ...``).
_NESTED = ("train", "convert")


def _arrange(argv):
    """``argv`` with the default command ``edit`` filled in and global flags given before the command moved
    after it."""
    lead = []
    while argv and argv[0] in GLOBAL_FLAGS:
        lead.append(argv.pop(0))
    if argv and argv[0] in SUBCOMMANDS:
        cut = 2 if argv[0] in _NESTED and len(argv) > 1 and not argv[1].startswith("-") else 1
        return argv[:cut] + lead + argv[cut:]
    if not lead and argv and argv[0] in ("-h", "--help", "--version"):
        return argv
    return ["edit"] + lead + argv


def main(argv=None):
    """Run ``collage`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    SIGINT, SIGTERM and SIGHUP are turned into a clean stop from the first instant (temporary files removed,
    one line, status 130, 143 or 129); the previous handlers are restored on return.
    """
    try:
        from neuralcollage import _signals
        with _signals.raising(force=True):
            return _main(argv)
    except KeyboardInterrupt as exc:
        return _interrupted(exc)


def _interrupted(exc):
    import signal
    signum = getattr(exc, "signum", signal.SIGINT)
    try:
        print(f"{_PROG}: interrupted" + ("" if signum == signal.SIGINT else f" ({signal.Signals(signum).name})"),
              file=sys.stderr)
    except (OSError, ValueError):
        pass
    return 128 + int(signum) if signum != signal.SIGINT else EXIT_INTERRUPTED


def _main(argv):
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if not argv:
        print(build_parser().format_usage().rstrip(), file=sys.stderr)
        print(f"{_PROG}: error: nothing to do; try `collage demo` or `collage --help`", file=sys.stderr)
        return EXIT_INPUT
    lead = 0
    while lead < len(argv) and argv[lead] in GLOBAL_FLAGS:
        lead += 1
    if lead < len(argv) and not argv[lead].startswith("-") and argv[lead] not in SUBCOMMANDS:
        print(f"{_PROG}: error: {_unknown_command(argv[lead])}", file=sys.stderr)
        return EXIT_INPUT
    argv = _arrange(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(f"{_PROG}: error: {_one_line(exc)}{_option_hints(parser, argv)}", file=sys.stderr)
        return EXIT_INPUT
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    if getattr(args, "func", None) is None:
        print(f"{_PROG}: error: choose a command (see `collage --help`)", file=sys.stderr)
        return EXIT_INPUT
    with warnings.catch_warnings():
        if not debug:
            warnings.showwarning = _show_warning
        try:
            import neuralcollage._compat  # noqa: F401  (NumPy aliases before any command imports Chainer)
            _resolve_projection_steps(args)
            status = args.func(args)
        except KeyboardInterrupt as exc:
            return _interrupted(exc)
        except BrokenPipeError:  # `collage labels | head`: the reader went away; stop quietly
            _silence_stdout()
            return EXIT_FAILURE
        except Exception as exc:  # noqa: BLE001: every failure becomes one line and a status
            code, message = _classify(exc)
            if debug:
                import traceback
                traceback.print_exc()
            print(f"{_PROG}: error: {_one_line(message)}", file=sys.stderr)
            return code
    return EXIT_OK if status is None else int(status)


def _unknown_command(word):
    """The message for a first word that is neither a command nor an option (the edit takes no positional)."""
    import difflib
    close = difflib.get_close_matches(word, SUBCOMMANDS, n=1, cutoff=0.6)
    hint = f" (did you mean `collage {close[0]}`?)" if close else ""
    return (f"unknown command {word!r}{hint}; the commands are {', '.join(SUBCOMMANDS)} "
            "(see `collage --help`; an edit needs no command word: `collage --base PHOTO --mask MASK --label L`)")


#: Spellings users type for this project's options: American -> the British the options use.
_SPELLINGS = (("color", "colour"),)


def _option_hints(parser, argv):
    """"; did you mean --X?" for each unrecognised option of ``argv`` with a close match in its command."""
    import difflib
    sub = parser._subparsers._group_actions[0].choices if parser._subparsers else {}
    command = sub.get(argv[0]) if argv and argv[0] in sub else None
    while command is not None and command._subparsers is not None and len(argv) > 1:
        nested = command._subparsers._group_actions[0].choices  # collage train gan, collage convert biggan
        if argv[1] not in nested:
            break
        command, argv = nested[argv[1]], argv[1:]
    if command is None:
        return ""
    known = [o for o in command._option_string_actions if o.startswith("--")]
    hints = []
    for token in argv[1:]:
        option = token.split("=", 1)[0]
        if not option.startswith("--") or option in command._option_string_actions:
            continue
        guess = option
        for american, british in _SPELLINGS:
            guess = guess.replace(american, british)
        if guess in known:
            close = [guess[2:]]
        else:  # compared without the leading "--", which every candidate shares
            close = difflib.get_close_matches(option[2:], [k[2:] for k in known], n=1, cutoff=0.8)
        if close and "--" + close[0] not in hints:
            hints.append("--" + close[0])
    return f"; did you mean {' '.join(hints)}?" if hints else ""


def _silence_stdout():
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


# ------------------------------------------------------------------------------------------------ helpers

def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _check_outputs(outputs, inputs):
    """Refuse before any work: outputs over inputs or each other, unknown image suffixes, missing or
    unwritable folders.  ``outputs`` is a list of (path or None, "image" | "json" | "npz")."""
    from neuralcollage.io import IMAGE_SUFFIXES, InputError
    seen = []
    for path, kind in outputs:
        if path is None:
            continue
        if not str(path).strip():
            raise InputError("empty output file name")
        if kind == "image":
            suffix = os.path.splitext(path)[1].lower()
            if suffix not in IMAGE_SUFFIXES:
                raise InputError(f"cannot write {path}: unknown image format {suffix or '(no suffix)'!r} "
                                 f"(use one of {', '.join(IMAGE_SUFFIXES)})")
        for other in inputs:
            if other is not None and _same_file(path, other):
                raise InputError(f"refusing to overwrite input file {other} (output {path} is the same file)")
        for other in seen:
            if _same_file(path, other):
                raise InputError(f"two outputs are the same file: {path}")
        seen.append(path)
        if os.path.isdir(path):
            raise InputError(f"cannot write {path}: it is a directory")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise InputError(f"cannot write {path}: directory {folder} does not exist")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise InputError(f"cannot write {path}: directory {folder} is not writable")
        if os.path.exists(path) and not os.access(path, os.W_OK) and not os.access(folder, os.W_OK):
            raise InputError(f"cannot write {path}: permission denied")


def _read_photo(path, args):
    from neuralcollage.io import read_image
    return read_image(path, max_pixels=args.max_pixels)


def _read_mask_for(path, photo, args):
    from neuralcollage.io import fit_mask, read_mask
    mask = read_mask(path, max_pixels=args.max_pixels)
    mask, note = fit_mask(mask, photo.shape[:2], name=path)
    if note:
        _note(note)
    return mask


def _device(gpu):
    return None if gpu is None or gpu < 0 else gpu


def _load(model, arch, gpu):
    from neuralcollage.pretrained import load_bundle
    bundle = load_bundle(model, arch=arch, device=_device(gpu))
    for note in bundle.notes:
        _note(note)
    return bundle


def _vocabulary(model, arch):
    from neuralcollage.pretrained import model_vocabulary
    return model_vocabulary(model, arch=arch)


def _no_discriminator(name, *, biggan):
    hint = ("BigGAN-deep publishes none; `collage generate`, `collage edit --source-label` and `collage invert "
            "--label` work with it" if biggan else "put discriminator.npz beside the generator")
    return CommandError(f"projection needs a discriminator and model {name} has none ({hint})", EXIT_MODEL)


def _registry_entry(model):
    """The registry entry ``model`` names (None for a path or an unknown name)."""
    from neuralcollage.pretrained import REGISTRY
    return REGISTRY.get(model.strip().lower()) if isinstance(model, str) else None


def _require_registered_discriminator(model):
    """Fail before loading anything when a registered model has no discriminator."""
    entry = _registry_entry(model)
    if entry is not None and "discriminator" not in entry.files:
        raise _no_discriminator(entry.name, biggan=entry.convert == "biggan")


def _require_discriminator(bundle):
    if bundle.discriminator is None:
        raise _no_discriminator(bundle.name, biggan=_is_biggan(bundle.generator))


def _require_photo_class(model, label, option, bundle=None):
    """Without a discriminator the photo's class cannot be guessed: ``option`` must give it.  Checked before
    loading for a registered model (from its registry entry) and after loading for ``bundle``."""
    if label is not None:
        return
    if bundle is not None:
        missing, name = bundle.discriminator is None, bundle.name
    else:
        entry = _registry_entry(model)
        missing, name = entry is not None and "discriminator" not in entry.files, getattr(entry, "name", model)
    if missing:
        raise CommandError(f"model {name} has no discriminator to guess the photo's class from; give it with "
                           f"{option}", EXIT_INPUT)


def _is_biggan(gen):
    return hasattr(gen, "truncation")


def _safe_name(text):
    keep = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(text).strip())
    return keep.strip("_") or "edit"


def _stem(path):
    return os.path.splitext(os.path.basename(path))[0]


class _Progress:
    """A tqdm bar on stderr fed by ``callback(step, loss, restart)`` of the projection."""

    def __init__(self, *, steps, enabled, desc="projection"):
        self.steps, self.enabled, self.desc, self.bar = steps, enabled, desc, None

    def __call__(self, step=None, loss=None, restart=0, *args, **kwargs):
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=self.steps + 1, desc=self.desc, file=sys.stderr, leave=False,
                            dynamic_ncols=True, disable=None)
        if step == 0 and self.bar.n:
            self.bar.reset(total=self.steps + 1)
        if isinstance(restart, int):
            self.bar.set_description(f"{self.desc} (run {restart + 1})", refresh=False)
        if loss is not None:
            try:
                self.bar.set_postfix(loss=f"{float(loss):.4f}", refresh=False)
            except (TypeError, ValueError):
                pass
        self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class _GuessProgress:
    """A tqdm bar for ``guess_progress(class_id, step, loss)`` while the source class is guessed."""

    def __init__(self, *, enabled):
        self.enabled, self.bar = enabled, None

    def __call__(self, class_id=None, step=None, loss=None, *args, **kwargs):
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm.auto import tqdm
            self.bar = tqdm(desc="guessing the source class", unit="step", file=sys.stderr, leave=False,
                            dynamic_ncols=True, disable=None)
        self.bar.set_postfix(candidate=class_id, refresh=False)
        self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class MetricProgress:
    """A tqdm bar on stderr fed by ``progress(metric, i, n)`` of :func:`neuralcollage.evaluation.evaluate`
    (``collage eval`` and ``scripts/evaluate_builtin.py``)."""

    def __init__(self, *, enabled):
        self.enabled, self.bar, self.metric = enabled, None, None

    def __call__(self, metric, i, n):
        if not self.enabled:
            return
        if self.bar is not None and self.metric != metric:
            self.close()
        if self.bar is None:
            from tqdm.auto import tqdm
            self.metric = metric
            self.bar = tqdm(total=n, desc=metric.replace("_", " "), unit="face", file=sys.stderr, leave=False,
                            dynamic_ncols=True, disable=None)
        self.bar.update(i - self.bar.n)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _read_json(path, *, limit=None, max_depth=None):
    """A JSON object from a regular file of at most ``limit`` bytes (default
    :data:`neuralcollage.limits.JSON_MAX_BYTES`)."""
    from neuralcollage.io import InputError, read_json_limited
    from neuralcollage.limits import JSON_MAX_BYTES
    data = read_json_limited(path, limit=limit or JSON_MAX_BYTES, what="JSON file", max_depth=max_depth)
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    return data


def before_after_png(photo, mask, result, *, reconstruction=None, box=None, titles=None):
    """A before/after figure as PNG bytes: photo, mask overlay (with the crop box), reconstruction, result.

    Args:
        photo, result: ``(H, W, 3)`` uint8.  mask: ``(H, W)`` float in [0, 1].
        reconstruction: ``(R, R, 3)`` uint8 or None (panel left out).  box: ``(top, left, side)`` or None.
        titles: panel titles (defaults: photo, mask, reconstruction, result).
    """
    import io as _io

    import numpy
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    overlay = photo.astype(numpy.float32)
    tint = numpy.array([255.0, 40.0, 40.0], numpy.float32)
    alpha = 0.55 * numpy.clip(mask, 0.0, 1.0)[..., None]
    overlay = (overlay * (1 - alpha) + tint * alpha).round().astype(numpy.uint8)
    panels = [("photo", photo), ("mask", overlay)]
    if reconstruction is not None:
        panels.append(("reconstruction", reconstruction))
    panels.append(("result", result))
    if titles is not None:
        panels = [(t, img) for t, (_, img) in zip(titles, panels)]
    fig = Figure(figsize=(3.2 * len(panels), 3.5), dpi=100)
    FigureCanvasAgg(fig)
    for i, (title, img) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        ax.imshow(img, interpolation="nearest" if img.shape[0] <= 128 else "antialiased")
        ax.set_title(title, fontsize=10)
        ax.set_axis_off()
        if i == 1 and box is not None:
            top, left, side = box
            ax.add_patch(Rectangle((left - 0.5, top - 0.5), side, side, fill=False, edgecolor="yellow",
                                   linewidth=1.2, linestyle="--"))
    fig.tight_layout()
    buffer = _io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _label_name(vocab, index):
    try:
        return vocab[int(index)]
    except Exception:
        return str(index)


# ------------------------------------------------------------------------------------------------ edit

def _edit(bundle, photo, mask, target, *, source, args):
    """Run :func:`neuralcollage.collage.edit_photo` with progress bars; print its notes."""
    from neuralcollage.collage import edit_photo
    return _with_progress(lambda progress, guessing, fitting: edit_photo(
        bundle, photo, mask, target, source_label=source, layers=args.layers, method=args.method,
        steps=args.steps, restarts=args.restarts, seed=args.seed, blend_mode=args.blend_mode, context=args.context,
        margin=args.margin, box=args.box, dilate=args.dilate, seam=args.seam,
        colour_reach=DEFAULT_COLOUR_REACH if args.colour_reach is None else args.colour_reach, progress=progress,
        guess_progress=guessing, **_fit_kwargs(args, fitting)), args, source=source)


def _fit_kwargs(args, fitting):
    """``reconstruction``, ``fit`` and ``fit_progress`` of :func:`neuralcollage.collage.edit_photo` from the
    ``--reconstruction``/``--fit-steps`` flags (``fitting``: the fit's progress bar)."""
    return {"reconstruction": args.reconstruction, "fit": _fit_settings(args),
            "fit_progress": lambda step, loss: fitting(step - 1, loss, None)}


def _fit_settings(args):
    """The :class:`~neuralcollage.reconstruction.FitOptions` of ``--reconstruction`` with ``--fit-steps`` and
    ``--seed`` (None: projection only)."""
    import dataclasses
    from neuralcollage.reconstruction import fit_options
    settings = fit_options(args.reconstruction)
    return None if settings is None else dataclasses.replace(settings, steps=args.fit_steps, seed=args.seed)


def _fit_line(result):
    """The reconstruction part of an edit's summary line, e.g. ``reconstruction 31.2 dB (features fit, ...)``."""
    if result.reconstruction_psnr is None:
        return ""
    if result.fit is None:
        return f"; reconstruction {result.reconstruction_psnr:.1f} dB (projection)"
    alone = "" if result.projection_psnr is None else f", projection alone {result.projection_psnr:.1f} dB"
    return f"; reconstruction {result.reconstruction_psnr:.1f} dB ({result.fit.options.method} fit{alone})"


def _with_progress(run, args, *, source):
    """``run(progress, guess_progress, fit_progress)`` with the projection's, the fit's (and, without
    ``source``, the class guess's) progress bars; prints the result's notes and returns it."""
    progress = _Progress(steps=args.steps, enabled=not args.quiet)
    guessing = _GuessProgress(enabled=not args.quiet and source is None)
    fitting = _Progress(steps=max(args.fit_steps - 1, 0), desc="fit",
                        enabled=not args.quiet and _fit_settings(args) is not None and args.fit_steps > 0)
    try:
        result = run(progress, guessing, fitting)
    finally:
        guessing.close()
        progress.close()
        fitting.close()
    for note in result.notes:
        _note(note)
    return result


def _write_edit(result, photo, mask, *, output, recipe_path, figure_path, inputs):
    from neuralcollage.io import atomic_write_bytes, read_image_info, write_image
    metadata = read_image_info(inputs[0]) if inputs else None  # the photo's colour profile and resolution
    write_image(output, result.image, overwrite_protect=inputs, metadata=metadata)
    written = [output]
    if recipe_path:
        from neuralcollage.collage import save_recipe
        save_recipe(recipe_path, result.recipe, overwrite_protect=inputs)
        written.append(recipe_path)
    if figure_path:
        png = before_after_png(photo, mask, result.image, reconstruction=result.reconstruction, box=result.box)
        atomic_write_bytes(figure_path, png, overwrite_protect=inputs)
        written.append(figure_path)
    return written


def cmd_edit(args):
    started = time.time()
    output = args.output or f"{_stem(args.base)}_{_safe_name(args.label)}.png"
    inputs = [args.base, args.mask]
    if os.path.exists(args.model):
        inputs.append(args.model)
    _check_poisson(args.seam, args.colour_reach, args.blend_mode, "--blend-mode")
    _check_outputs([(output, "image"), (args.save_recipe, "json"), (args.figure, "image")], inputs)
    _require_photo_class(args.model, args.source_label, "--source-label")
    photo = _read_photo(args.base, args)
    mask = _read_mask_for(args.mask, photo, args)
    vocab = _vocabulary(args.model, args.arch)
    target = vocab.index(args.label)
    source = None if args.source_label is None else vocab.index(args.source_label)
    bundle = _load(args.model, args.arch, args.gpu)
    _require_photo_class(args.model, args.source_label, "--source-label", bundle)
    result = _edit(bundle, photo, mask, target, source=source, args=args)
    written = _write_edit(result, photo, mask, output=output, recipe_path=args.save_recipe,
                          figure_path=args.figure, inputs=inputs)
    src = result.source_class
    print(f"edited {args.base}: {_label_name(vocab, src)} -> {_label_name(vocab, target)} "
          f"({args.method}, layers {args.layers}, {args.steps} steps{_fit_line(result)}) in "
          f"{time.time() - started:.1f} s; wrote {', '.join(written)}")
    return EXIT_OK


# ------------------------------------------------------------------------------------------------ attribute

def _model_axes_file(model):
    """axes.json beside a generator given by path (None for a registered name)."""
    if not isinstance(model, str) or not os.path.exists(model):
        return None
    folder = model if os.path.isdir(model) else os.path.dirname(os.path.abspath(model))
    return os.path.join(folder, "axes.json")


def _bundle_axes_file(bundle):
    generator = (getattr(bundle, "files", None) or {}).get("generator")
    return os.path.join(os.path.dirname(os.path.abspath(generator)), "axes.json") if generator else None


def _attribute_axes(bundle, path):
    from neuralcollage import axes as ax
    if path is not None:
        return ax.load_axes(path, dim_z=bundle.generator.dim_z,
                            generator_sha256=(bundle.sha256 or {}).get("generator"))
    found = ax.bundle_axes(bundle)
    if not found:
        raise CommandError(f"model {bundle.name} has no attribute axes (no axes.json beside its generator); "
                           f"{ax.DISCOVER_HINT}, or give --axes FILE")
    return found


def _list_axes(args):
    bundle = _load(args.model, args.arch, args.gpu)
    found = _attribute_axes(bundle, args.axes)
    vocab = bundle.vocabulary
    where = args.axes or _bundle_axes_file(bundle)
    print(f"axes of {bundle.name} ({where}):")
    width = max(len(a.name) for a in found)
    print(f"  {'NAME':<{width}}  {'ATTRIBUTE':<16}  {'CLASS':<12}  {'SLOPE':>8}  {'R^2':>6}  DECORRELATED FROM")
    for a in found:
        scope = "all" if a.class_id is None else _label_name(vocab, a.class_id)
        print(f"  {a.name:<{width}}  {a.attribute:<16}  {scope:<12}  {a.slope:8.4g}  {a.r2:6.3f}  "
              f"{', '.join(a.decorrelated_from) or '-'}")
    return EXIT_OK


def cmd_attribute(args):
    from neuralcollage.io import InputError
    if args.list_axes:
        return _list_axes(args)
    started = time.time()
    if not args.base:
        raise InputError("give --base PHOTO (or --list-axes)")
    names, amounts = args.axis or [], args.amount or []
    if not names:
        raise InputError("give at least one --axis NAME --amount A (see --list-axes)")
    if len(names) != len(amounts):
        raise InputError(f"give one --amount per --axis: {len(names)} --axis, {len(amounts)} --amount")
    output = args.output or f"{_stem(args.base)}_{'_'.join(_safe_name(n) for n in names)}.png"
    inputs = [p for p in (args.base, args.mask, args.axes, args.model, _model_axes_file(args.model))
              if p is not None and os.path.exists(p)]
    _check_outputs([(output, "image"), (args.save_recipe, "json"), (args.figure, "image")], inputs)
    _require_registered_discriminator(args.model)
    photo = _read_photo(args.base, args)
    mask = _read_mask_for(args.mask, photo, args) if args.mask else None
    vocab = _vocabulary(args.model, args.arch)
    source = None if args.source_label is None else vocab.index(args.source_label)
    bundle = _load(args.model, args.arch, args.gpu)
    _require_discriminator(bundle)
    inputs += [p for p in (_bundle_axes_file(bundle),) if p is not None and os.path.exists(p)]
    axes = _attribute_axes(bundle, args.axes)
    from neuralcollage.axes import attribute_edit_photo
    result = _with_progress(lambda progress, guessing, fitting: attribute_edit_photo(
        bundle, photo, names, amounts, mask=mask, axes=axes, layers=args.layers, steps=args.steps,
        restarts=args.restarts, seed=args.seed, source_label=source, blend_mode=args.blend_mode,
        progress=progress, guess_progress=guessing, **_fit_kwargs(args, fitting)), args, source=source)
    import numpy
    shown = mask if mask is not None else numpy.ones(photo.shape[:2], numpy.float32)
    written = _write_edit(result, photo, shown, output=output, recipe_path=args.save_recipe,
                          figure_path=args.figure, inputs=inputs)
    moves = ", ".join(f"{e['name']} {e['amount']:+g}" for e in result.recipe["attribute"]["axes"])
    print(f"edited {args.base}: {_label_name(vocab, result.source_class)}, {moves} (layers {args.layers}, "
          f"{args.steps} steps{_fit_line(result)}) in {time.time() - started:.1f} s; wrote {', '.join(written)}")
    return EXIT_OK


# ------------------------------------------------------------------------------------------------ generate

def _read_z(path, dim_z):
    """z ``(N, dim_z)`` float32, the stored class id and the stored BigGAN truncation (each None when absent)
    from a .npz written by `collage invert` or `collage generate --save-z`."""
    import zipfile

    import numpy
    from neuralcollage.io import InputError, check_regular_file
    check_regular_file(path, what="latent file")
    _check_z_headers(path, dim_z)
    try:
        with numpy.load(path, allow_pickle=False) as f:
            if "z" not in f.files:
                raise InputError(f"{path}: no array named 'z' (has: {', '.join(f.files) or 'nothing'})")
            z = numpy.asarray(f["z"])
            class_id = f["class_id"] if "class_id" in f.files else None
            truncation = f["truncation"] if "truncation" in f.files else None
    except InputError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise InputError(f"{path}: not a readable .npz file (corrupt or truncated?): {_one_line(exc)}") from None
    if z.dtype.kind not in "fiu":
        raise InputError(f"{path}: z must be numeric, got {z.dtype}")
    if z.ndim == 1:
        z = z[None]
    if z.ndim != 2 or z.shape[1] != dim_z or z.shape[0] == 0:
        raise InputError(f"{path}: z has shape {z.shape}, the model needs (N, {dim_z})")
    if not numpy.isfinite(z).all():
        raise InputError(f"{path}: z contains NaN or infinite values")
    if class_id is not None:
        class_id = numpy.asarray(class_id).reshape(-1)
        class_id = int(class_id[0]) if class_id.size else None
    if truncation is not None:
        truncation = numpy.asarray(truncation, numpy.float64).reshape(-1)
        truncation = float(truncation[0]) if truncation.size else None
        if truncation is not None and not (numpy.isfinite(truncation) and 0 < truncation <= 1):
            raise InputError(f"{path}: stored truncation {truncation} is not in (0, 1]")
    return z.astype(numpy.float32), class_id, truncation


#: Largest latent file read by ``--z`` (bytes declared in its zip directory, all arrays together).
Z_FILE_MAX_BYTES = 64 * 2 ** 20


def _check_z_headers(path, dim_z):
    """Refuse a latent file whose declared arrays are too large or of the wrong shape, before decompressing
    any of them (:class:`neuralcollage.snapshot.SnapshotFile` reads only the zip directory and .npy headers)."""
    from neuralcollage.io import InputError
    from neuralcollage.limits import OPTION_RANGES
    from neuralcollage.snapshot import SnapshotError, SnapshotFile
    try:
        headers = SnapshotFile(path).headers
    except SnapshotError as exc:
        raise InputError(f"{path}: not a usable latent file: {_one_line(exc)}") from None
    total = sum(h.nbytes for h in headers.values())
    if total > Z_FILE_MAX_BYTES:
        raise InputError(f"{path}: declares {total:,} bytes of arrays; a latent file may hold at most "
                         f"{Z_FILE_MAX_BYTES:,}")
    z = headers.get("z")
    most = OPTION_RANGES["count"][2]
    if z is not None and (len(z.shape) not in (1, 2) or z.shape[-1] != dim_z
                          or (len(z.shape) == 2 and not 1 <= z.shape[0] <= most)):
        raise InputError(f"{path}: z has shape {z.shape}, the model needs (N, {dim_z}) with 1 <= N <= {most}")


def cmd_generate(args):
    import chainer
    import numpy
    from neuralcollage.backend import to_numpy
    from neuralcollage.io import atomic_save_npz, from_model, write_image
    inputs = [p for p in (args.z, args.model) if p is not None and os.path.exists(p)]
    _check_outputs([(args.output, "image"), (args.save_z, "npz")], inputs)
    vocab = _vocabulary(args.model, args.arch)
    label = None if args.label is None else vocab.index(args.label)
    bundle = _load(args.model, args.arch, args.gpu)
    gen = bundle.generator
    biggan = _is_biggan(gen)
    if args.truncation is not None and not biggan:
        raise CommandError(f"--truncation applies to BigGAN models only; {bundle.name} is not one")
    truncation = args.truncation
    if args.z is not None:
        z, stored, stored_truncation = _read_z(args.z, gen.dim_z)
        if label is None:
            label = stored
        if truncation is None and biggan:
            truncation = stored_truncation
    elif biggan:
        truncation = gen.truncation if truncation is None else truncation
        z = to_numpy(gen.sample_z(args.count, seed=args.seed, truncation=truncation))
    else:
        z = to_numpy(gen.sample_z(args.count, seed=args.seed))
    if biggan and truncation is None:
        truncation = gen.truncation
    if label is None:
        raise CommandError("give --label (the z file stores no class)")
    if not 0 <= label < gen.n_classes:
        raise CommandError(f"class {label} is out of range for a {gen.n_classes}-class model")
    ids = numpy.full((z.shape[0],), label, numpy.int32)
    extra = {"truncation": truncation} if biggan else {}
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        x = gen(gen.device.send(z), gen.device.send(ids), **extra)
    from neuralcollage.collage import check_model_output
    images = from_model(check_model_output(gen, to_numpy(x.array)))
    image = images[0] if len(images) == 1 else _grid(images)
    write_image(args.output, image, overwrite_protect=inputs)
    written = [args.output]
    if args.save_z:
        extra_arrays = {"truncation": numpy.float64(truncation)} if biggan else {}
        atomic_save_npz(args.save_z, z=z, class_id=numpy.int64(label), label=numpy.array(vocab[label]),
                        model=numpy.array(bundle.name), sha256=numpy.array(bundle.sha256.get("generator", "")),
                        **extra_arrays)
        written.append(args.save_z)
    how = f" (truncation {truncation:g})" if biggan else ""
    print(f"generated {len(images)} x {_label_name(vocab, label)} with {bundle.name}{how}; wrote "
          f"{', '.join(written)}")
    return EXIT_OK


def _grid(images, *, pad=2):
    import numpy
    n, h, w, _ = images.shape
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    grid = numpy.full((rows * h + (rows - 1) * pad, cols * w + (cols - 1) * pad, 3), 255, numpy.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = img
    return grid


# ------------------------------------------------------------------------------------------------ invert

def _centre_box(shape):
    height, width = shape[:2]
    side = min(height, width)
    return (height - side) // 2, (width - side) // 2, side


def cmd_invert(args):
    import numpy
    from neuralcollage.blending import crop_and_resize, square_crop_box
    from neuralcollage.inversion import guess_source_class, project
    from neuralcollage.io import atomic_save_npz, from_model, to_model, write_image
    from neuralcollage.reconstruction import feature_similarity, fit_warning, model_psnr
    output = args.output or f"{_stem(args.base)}_reconstruction.png"
    z_out = args.z_out or f"{_stem(args.base)}_z.npz"
    inputs = [p for p in (args.base, args.mask, args.model) if p is not None and os.path.exists(p)]
    _check_outputs([(output, "image"), (z_out, "npz")], inputs)
    _require_photo_class(args.model, args.label, "--label")
    photo = _read_photo(args.base, args)
    mask = _read_mask_for(args.mask, photo, args) if args.mask else None
    vocab = _vocabulary(args.model, args.arch)
    label = None if args.label is None else vocab.index(args.label)
    bundle = _load(args.model, args.arch, args.gpu)
    _require_photo_class(args.model, args.label, "--label", bundle)
    gen, dis = bundle.generator, bundle.discriminator
    if dis is None:
        from neuralcollage.inversion import describe_loss
        _note(f"model {bundle.name} has no discriminator: projecting with {describe_loss(None)}")
    box = square_crop_box(mask, min_size=gen.resolution) if mask is not None else _centre_box(photo.shape)
    crop = crop_and_resize(photo, box, gen.resolution)
    if label is None:
        _say("guessing the photo's class ...", quiet=args.quiet)
        guess = guess_source_class(gen, dis, crop, seed=args.seed, encoder=bundle.encoder)
        label = guess.class_id
        _note(f"source class: {vocab[label]} (candidates "
              + ", ".join(f"{vocab[c]} {guess.losses[c]:.4f}" for c in guess.candidates) + ")")
    progress = _Progress(steps=args.steps, enabled=not args.quiet)
    try:
        result = project(gen, dis, crop, label, steps=args.steps, encoder=bundle.encoder,
                         restarts=args.restarts, seed=args.seed, callback=progress)
    finally:
        progress.close()
    image, fitted = _fit_inversion(bundle, crop, result, label, args)
    target = to_model(crop[None])
    psnr, projected = model_psnr(image, target), model_psnr(result.image[:1], target)
    similarity = None if dis is None else feature_similarity(result.sample_losses[0], result.image[:1], target)
    reconstruction = from_model(image)[0]
    write_image(output, reconstruction, overwrite_protect=inputs)
    atomic_save_npz(z_out, z=result.z.astype(numpy.float32), class_id=numpy.int64(label),
                    label=numpy.array(vocab[label]), model=numpy.array(bundle.name),
                    sha256=numpy.array(bundle.sha256.get("generator", "")), box=numpy.array(box, numpy.int64),
                    loss=numpy.float64(result.loss), losses=numpy.asarray(result.losses, numpy.float64),
                    reconstruction=numpy.array(args.reconstruction if fitted else "projection"),
                    psnr=numpy.float64(psnr))
    how = f", {args.reconstruction} fit {args.fit_steps} steps" if fitted else ""
    alone = f" (projection alone {projected:.1f} dB)" if fitted else ""
    print(f"projected {args.base} as {vocab[label]} ({args.steps} steps{how}, loss {result.loss:.4f}); "
          f"reconstruction {psnr:.1f} dB{alone}; wrote {output}, {z_out}")
    warning = fit_warning(projected, similarity, model_name=bundle.name)
    if warning:
        _note(warning)
    return EXIT_OK


def _fit_inversion(bundle, crop, projection, label, args):
    """The reconstruction `collage invert` writes: ``(image (1, 3, R, R) float32, fitted)``; the fit
    unless ``--reconstruction projection`` or the model cannot be fitted."""
    from neuralcollage.models.generator import Generator
    from neuralcollage.reconstruction import fit_generator
    settings = _fit_settings(args)
    if settings is None or not isinstance(bundle.generator, Generator):
        if settings is not None:
            _note(f"model {bundle.name} ({type(bundle.generator).__name__}) cannot be fitted: projection only")
        return projection.image, False
    fitting = _Progress(steps=max(args.fit_steps - 1, 0), desc="fit", enabled=not args.quiet and args.fit_steps > 0)
    try:
        fit = fit_generator(bundle.generator, crop, projection.z, label,
                            options=settings,
                            callback=lambda step, loss: fitting(step - 1, loss, None))
    finally:
        fitting.close()
    return fit.image, True


# ------------------------------------------------------------------------------------------------ blend

def cmd_blend(args):
    from neuralcollage.blending import classic_reach, crop_and_resize, poisson_blend, square_crop_box
    from neuralcollage.io import InputError, read_image, write_image
    inputs = [args.base, args.source, args.mask]
    _check_poisson(args.seam, args.colour_reach, args.mode, "--mode")
    _check_outputs([(args.output, "image")], inputs)
    photo = _read_photo(args.base, args)
    mask = _read_mask_for(args.mask, photo, args)
    source = read_image(args.source, max_pixels=args.max_pixels)
    if args.box is not None:
        top, left, side = args.box
        if top + side > photo.shape[0] or left + side > photo.shape[1]:
            raise InputError(f"box {top},{left},{side} does not fit in the {photo.shape[1]}x{photo.shape[0]} "
                             f"photo")
        if source.shape[0] != source.shape[1]:
            raise InputError(f"{args.source}: with --box the source must be square, got "
                             f"{source.shape[1]}x{source.shape[0]}")
        box, crop = args.box, source
    else:
        if source.shape[:2] != photo.shape[:2]:
            source = _fit_source(source, photo.shape[:2], args.source)
        box = square_crop_box(mask)
        crop = crop_and_resize(source, box, box[2])
    out = poisson_blend(photo, crop, mask, box, mode=args.mode, dilate=args.dilate, seam=args.seam,
                        colour_reach=args.colour_reach)
    from neuralcollage.io import read_image_info
    write_image(args.output, out, overwrite_protect=inputs, metadata=read_image_info(args.base))
    how = args.mode + (", optimal seam" if args.seam == "optimal" else "")
    how += "" if classic_reach(args.colour_reach) else f", colour reach {args.colour_reach:g} px"
    print(f"blended {args.source} into {args.base} ({how}); wrote {args.output}")
    return EXIT_OK


def _fit_source(source, size, name):
    """Resize an edited image to the photo's size when only the resolution differs (else InputError)."""
    import cv2
    from neuralcollage.io import InputError
    (h, w), (height, width) = source.shape[:2], size
    if abs(w / h - width / height) > 0.01 * (width / height):
        raise InputError(f"{name} is {w}x{h} (WxH) but the photo is {width}x{height}: the aspect ratios differ; "
                         f"give an image of the photo's size, or a square crop with --box")
    shrink = w * h > width * height
    _note(f"{name} resized from {w}x{h} to the photo's {width}x{height} (WxH)")
    return cv2.resize(source, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


# ------------------------------------------------------------------------------------------------ models, labels

def cmd_models(args):
    import json
    from neuralcollage.pretrained import REGISTRY, forget_hashes, home_dir, list_models
    if args.forget:
        if args.forget not in REGISTRY:
            raise CommandError(f"unknown model {args.forget!r} (known: {', '.join(REGISTRY)})")
        done = forget_hashes(args.forget)
        print(f"{'forgot' if done else 'nothing recorded for'} {args.forget}")
        return EXIT_OK
    rows = list_models()
    if args.json:
        print(json.dumps([dict(name=r.name, kind=r.kind, installed=r.installed, path=r.path, notes=r.notes)
                          for r in rows], indent=2))
        return EXIT_OK
    width = max(len(r.name) for r in rows)
    print(f"{'NAME':<{width}}  {'KIND':<9}  {'INSTALLED':<9}  PATH")
    for r in rows:
        print(f"{r.name:<{width}}  {r.kind:<9}  {'yes' if r.installed else 'no':<9}  {r.path}")
        print(f"{'':<{width}}  {r.notes}")
    print(f"\nOfficial files go in $NEURALCOLLAGE_HOME/<name>/ (now {home_dir()}); "
          "see neuralcollage/data/pretrained/README.md.")
    return EXIT_OK


def cmd_labels(args):
    vocab = _vocabulary(args.model, args.arch)
    if args.search is not None:
        hits = vocab.search(args.search, limit=None)
        if not hits:
            hints = vocab.suggestions(args.search)
            _say(f"no label of {vocab.name} contains {args.search!r}"
                 + (f"; did you mean: {', '.join(hints)}?" if hints else ""))
            return EXIT_OK
    else:
        hits = list(enumerate(vocab.names))
    for index, name in hits:
        others = [s for s in vocab.synonyms(index) if s != name]
        print(f"{index:5d}  {name}" + (f"  ({', '.join(others)})" if others else ""))
    return EXIT_OK


# ------------------------------------------------------------------------------------------------ replay

def _check_recipe_numbers(recipe, path):
    from neuralcollage.io import InputError

    def walk(value, where):
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"{path}: {where} is NaN or infinite (the recipe is damaged)")
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{where}.{k}" if where else str(k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{where}[{i}]")

    walk(recipe, "")


def _recipe_model(recipe):
    model = recipe.get("model")
    if isinstance(model, dict):
        return model.get("name") or model.get("id"), model.get("sha256")
    return model, recipe.get("sha256")


def _replay_model(args, name):
    """The model a replay loads: ``--model`` when given, else the registered model the recipe names.  A recipe
    never makes the tool open a path: one that names anything but a registered model is refused without
    looking at the file system (the message is the same whether such a file exists or not)."""
    if args.model:
        return args.model
    entry = _registry_entry(name)
    if entry is None:
        shown = name if len(name) <= 80 else name[:77] + "..."
        raise CommandError(f"{args.recipe}: the recipe names model {shown!r}, which is not a registered model; a "
                           f"recipe cannot choose a file to load: give --model NAME|PATH (the model it was made "
                           f"with)")
    return entry.name


def cmd_replay(args):
    inputs = [args.recipe, args.base]
    _check_outputs([(args.output, "image")], inputs)
    from neuralcollage.limits import RECIPE_MAX_BYTES, RECIPE_MAX_DEPTH
    recipe = _read_json(args.recipe, limit=RECIPE_MAX_BYTES, max_depth=RECIPE_MAX_DEPTH)
    _check_recipe_numbers(recipe, args.recipe)
    from neuralcollage.collage import RecipeError, check_recipe
    try:
        fields = check_recipe(recipe)
    except RecipeError as exc:
        raise CommandError(f"{args.recipe}: {exc}") from None
    name, sha = fields["model_name"], fields["generator_sha256"]
    model = _replay_model(args, name)
    photo = _read_photo(args.base, args)
    if tuple(photo.shape[:2]) != (fields["height"], fields["width"]):
        raise CommandError(f"{args.base} is {photo.shape[1]}x{photo.shape[0]} but the recipe was made for a "
                           f"{fields['width']}x{fields['height']} photo (WxH)")
    bundle = _load(model, args.arch, args.gpu)
    if sha and bundle.sha256.get("generator") not in (None, sha):
        raise CommandError(f"{args.recipe} was made with a generator of sha256 {sha[:16]}... but "
                           f"{bundle.files.get('generator')} has {bundle.sha256['generator'][:16]}...", EXIT_MODEL)
    from neuralcollage.collage import replay
    from neuralcollage.io import read_image_info, write_image
    fit = (recipe.get("reconstruction") or {}).get("fit") if isinstance(recipe.get("reconstruction"), dict) else None
    steps = fit.get("steps", 0) if isinstance(fit, dict) and isinstance(fit.get("steps"), int) else 0
    fitting = _Progress(steps=max(steps - 1, 0), desc="fit", enabled=not args.quiet and steps > 0)
    try:
        result = replay(recipe, photo, bundle, fit_progress=lambda step, loss: fitting(step - 1, loss, None))
    except RecipeError as exc:
        raise CommandError(f"{args.recipe}: {exc}") from None
    finally:
        fitting.close()
    write_image(args.output, result.image, overwrite_protect=inputs, metadata=read_image_info(args.base))
    print(f"replayed {args.recipe} on {args.base}{_fit_line(result)}; wrote {args.output}")
    return EXIT_OK


# ------------------------------------------------------------------------------------------------ demo

def examples_dir():
    """The bundled demo inputs: ``neuralcollage/data/examples``."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "examples")


def cmd_demo(args):
    from neuralcollage.io import InputError
    started = time.time()
    folder = examples_dir()
    spec = _read_json(os.path.join(folder, "example.json"))
    out_dir = args.output_dir
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise InputError(f"cannot write into {out_dir}: it is a file, not a folder")
    created, parent = [], os.path.abspath(out_dir)  # the folders made for this demo, deepest first
    while not os.path.exists(parent):
        created.append(parent)
        parent = os.path.dirname(parent)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {out_dir}: {exc.strerror or exc}") from None
    try:
        return _run_demo(args, spec, folder, out_dir, started)
    except BaseException:
        for made in created:  # a failed demo leaves no empty folder behind
            try:
                os.rmdir(made)
            except OSError:  # not empty: keep it and what holds it
                break
        raise


def _run_demo(args, spec, folder, out_dir, started):
    from neuralcollage.io import read_image, read_mask
    photo_path, mask_path = (os.path.join(folder, spec[k]) for k in ("photo", "mask"))
    result_path, figure_path, recipe_path = (os.path.join(out_dir, f) for f in
                                             ("result.png", "before_after.png", "recipe.json"))
    inputs = [photo_path, mask_path]
    _check_outputs([(result_path, "image"), (figure_path, "image"), (recipe_path, "json")], inputs)
    _require_registered_discriminator(args.model)
    photo = read_image(photo_path)
    mask = read_mask(mask_path)
    vocab = _vocabulary(args.model, None)
    target = vocab.index(spec["target_label"])
    source = vocab.index(spec["source_label"]) if spec.get("source_label") else None
    bundle = _load(args.model, None, args.gpu)
    _require_discriminator(bundle)
    _say(f"demo: turning the {spec.get('part', 'masked region')} of the {spec.get('source_label', 'photo')} in "
         f"{photo_path} ({photo.shape[1]}x{photo.shape[0]}) into a {spec['target_label']} with model "
         f"{bundle.name} ...", quiet=args.quiet)
    args.layers, args.blend_mode = spec.get("layers", "all"), spec.get("blend_mode", "normal")
    args.margin, args.box = spec.get("margin", 0.25), spec.get("box")
    args.context = spec.get("context", DEFAULT_CONTEXT)
    args.dilate, args.seam = spec.get("dilate", 8), spec.get("seam", "fixed")
    args.colour_reach = spec.get("colour_reach")
    result = _edit(bundle, photo, mask, target, source=source, args=args)
    written = _write_edit(result, photo, mask, output=result_path, recipe_path=recipe_path,
                          figure_path=figure_path, inputs=inputs)
    print(f"demo: edited the {spec.get('part', 'masked region')} of {os.path.basename(photo_path)} "
          f"({_label_name(vocab, result.source_class)} -> {vocab[target]}, {args.method}, "
          f"{args.steps} steps{_fit_line(result)}) in {time.time() - started:.1f} s; wrote {', '.join(written)}")
    return EXIT_OK


# ------------------------------------------------------------------------------------------------ train, eval

def _call(func, *args, **kwargs):
    """Call a library entry point with the options it accepts; None-valued options are left to its defaults.

    An option the user set that ``func`` does not take is an error (not silently dropped)."""
    import inspect
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return func(*args, **kwargs)
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        unknown = [k for k in kwargs if k not in params]
        if unknown:
            opts = ", ".join("--" + k.replace("_", "-") for k in unknown)
            raise CommandError(f"{func.__name__} in this version does not support {opts}")
    return func(*args, **kwargs)


def _import(module, name):
    """``module.name``, imported when a command runs.  Only a missing third-party package becomes a one-line
    error (naming it); an import error inside neuralcollage, or a missing name, is a bug and propagates."""
    import importlib
    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if not missing or missing == __name__.partition(".")[0]:
            raise
        raise CommandError(f"{module} needs the package {missing!r}, which is not installed",
                           EXIT_FAILURE) from None


def _train_common(args):
    common = dict(device=_device(args.gpu), progress=False if args.quiet else None,
                  distributed=True if args.distributed else None)
    if args.what != "gan":
        common.update(seed=args.seed, time_limit=args.time_limit)
    return common


def gan_command(out_dir, *, gpu=-1, distributed=False, **options):
    """The ``collage train gan`` command line that calls ``train_gan(out_dir, **options)`` (every option
    spelled out, so that it reproduces the run whatever the defaults become)."""
    import shlex
    unknown = sorted(set(options) - set(_GAN_OPTIONS))
    if unknown:
        raise ValueError(f"train_gan options without a command-line flag: {unknown}")
    words = ["collage", "train", "gan", str(out_dir)]
    for key in _GAN_OPTIONS:
        value = options.get(key, GAN_DEFAULTS[key])
        if value is not None:
            words += ["--" + key.replace("_", "-"), repr(value) if isinstance(value, float) else str(value)]
    if gpu is not None and gpu >= 0:
        words += ["--gpu", str(gpu)]
    if distributed:
        words.append("--distributed")
    return " ".join(shlex.quote(w) for w in words)


def cmd_train_gan(args):
    train_gan = _import("neuralcollage.train.gan", "train_gan")
    options = {key: getattr(args, key) for key in _GAN_OPTIONS}
    command = gan_command(args.out_dir, gpu=args.gpu, distributed=args.distributed, **options)
    _say(f"command: {command}", quiet=args.quiet)
    reached = _call(train_gan, args.out_dir, **options, **_train_common(args))
    print(f"trained to iteration {reached}; snapshots in {args.out_dir}; command: {command}")
    return EXIT_OK


def cmd_train_encoder(args):
    train_encoder = _import("neuralcollage.train.encoder", "train_encoder")
    if not os.path.isfile(args.generator):
        raise CommandError(f"{args.generator}: no such file", EXIT_MODEL)
    _call(train_encoder, args.out_dir, generator_path=args.generator, iterations=args.iterations,
          batch_size=args.batch_size, **_train_common(args))
    print(f"encoder training done; snapshots in {args.out_dir}")
    return EXIT_OK


def cmd_train_classifier(args):
    train_classifier = _import("neuralcollage.train.classifier", "train_classifier")
    _call(train_classifier, args.out_dir, kind=args.kind, iterations=args.iterations, batch_size=args.batch_size,
          **_train_common(args))
    print(f"{args.kind} classifier training done; snapshots in {args.out_dir}")
    return EXIT_OK


def _print_metrics(metrics, prefix=""):
    for key, value in metrics.items():
        if isinstance(value, dict):
            _print_metrics(value, prefix=f"{prefix}{key}.")
        elif isinstance(value, float):
            print(f"  {prefix + key:<40} {value:.4f}")
        else:
            print(f"  {prefix + key:<40} {value}")


def _eval_counts(n):
    """The sample-count options of :func:`neuralcollage.evaluation.evaluate` for ``--n-samples n``."""
    if n is None:
        return {}
    return dict(n_classifier=n, n_generated=n, n_diversity=n, n_projection=n, n_translation=n, n_reconstruction=n)


def _json_safe(value):
    """Metrics as strict JSON: NumPy scalars and arrays to Python, NaN and infinities to None."""
    import numpy
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, numpy.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, numpy.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _few_shot_counts(n):
    """The sample-count options of :func:`neuralcollage.few_shot.evaluate_few_shot` for ``--n-samples n``."""
    if n is None:
        return {}
    return dict(n=n, n_diversity=max(2, min(50, n)), n_old=min(100, n))


def cmd_eval(args):
    from neuralcollage.io import InputError
    evaluate = _import("neuralcollage.evaluation", "evaluate")
    names = args.metrics if args.metrics is not None else EVAL_DEFAULT_METRICS
    few_shot = "few_shot" in names
    given = [flag for flag, value in (("--few-shot-species", args.few_shot_species),
                                      ("--few-shot-images", args.few_shot_images),
                                      ("--few-shot-steps", args.few_shot_steps),
                                      ("--few-shot-translation", args.few_shot_translation),
                                      ("--few-shot-packs", args.few_shot_packs)) if value is not None]
    if args.few_shot_start_from != ADD_CLASS_DEFAULTS["init_class"]:
        given.append("--few-shot-start-from")
    if given and not few_shot:
        raise InputError(f"{', '.join(given)}: only for --metrics few_shot")
    inputs = [args.model] if os.path.exists(args.model) else []
    _check_poisson(args.part_seam, args.part_colour_reach, args.part_blend_mode, "--part-blend-mode",
                   prefix="--part-")
    if args.out_json:
        _check_outputs([(args.out_json, "json")], inputs)
    bundle = _load(args.model, args.arch, args.gpu)
    started = time.time()

    def log(name, record):
        if "skipped" in record:
            _say(f"eval: {name} skipped ({record['skipped']})", quiet=args.quiet)
        else:
            _say(f"eval: {name} done ({time.time() - started:.0f} s so far)", quiet=args.quiet)

    progress = MetricProgress(enabled=not args.quiet)
    standard = None if args.metrics is None else tuple(n for n in names if n != "few_shot")
    metrics = {}
    try:
        if standard is None or standard:
            metrics = _call(evaluate, bundle, metrics=standard, steps=args.steps, grow=args.part_region_grow,
                            context=args.part_context, blend_mode=args.part_blend_mode, dilate=args.part_dilate,
                            seam=args.part_seam, colour_reach=args.part_colour_reach, seed=args.seed, log=log,
                            progress=progress, **_eval_counts(args.n_samples))
    finally:
        progress.close()
    if few_shot:
        evaluate_few_shot = _import("neuralcollage.few_shot", "evaluate_few_shot")

        def log_pack(row):
            _say(f"eval: few_shot {row['species']} {row['n_images']} images: judged {row['judged']:.1%}, "
                 f"diversity {row['diversity']:.2f}, started from {row['init_class']} "
                 f"({time.time() - started:.0f} s so far)", quiet=args.quiet)

        metrics["few_shot"] = _call(evaluate_few_shot, bundle, species=args.few_shot_species,
                                    counts=args.few_shot_images, steps=args.few_shot_steps,
                                    init_class=args.few_shot_start_from, pack_dir=args.few_shot_packs,
                                    n_translation=args.few_shot_translation, translation_steps=args.steps,
                                    seed=args.seed, log=log_pack, **_few_shot_counts(args.n_samples))
        log("few_shot", metrics["few_shot"])
    print(f"metrics of {bundle.name} (seed {args.seed}):")
    try:
        from neuralcollage.evaluation import format_table
        print(format_table(metrics))
    except Exception:  # noqa: BLE001: another result layout; print it plainly
        _print_metrics(metrics)
    if few_shot:
        from neuralcollage.few_shot import format_few_shot
        print(format_few_shot(metrics["few_shot"]))
    if args.out_json:
        from neuralcollage.io import atomic_write_json
        report = {"model": bundle.name, "arch": bundle.arch, "sha256": dict(bundle.sha256), "seed": args.seed,
                  "n_samples": args.n_samples, "steps": args.steps,
                  "part_region_grow": args.part_region_grow, "part_context": args.part_context,
                  "part_blend_mode": args.part_blend_mode, "part_dilate": args.part_dilate,
                  "part_seam": args.part_seam, "part_colour_reach": args.part_colour_reach,
                  "few_shot_species": args.few_shot_species, "few_shot_images": args.few_shot_images,
                  "few_shot_steps": args.few_shot_steps, "few_shot_start_from": args.few_shot_start_from,
                  "few_shot_packs": args.few_shot_packs, "few_shot_translation": args.few_shot_translation,
                  "seconds": time.time() - started,
                  "metrics": metrics}
        atomic_write_json(args.out_json, _json_safe(report), overwrite_protect=inputs)
        print(f"wrote {args.out_json}")
    return EXIT_OK


# ------------------------------------------------------------------------------------------------ stylize

STYLIZE_EPILOG = """\
The exemplar (--style) is a stylised picture of the same kind of face; its texture is copied onto the base
photo in coherent chunks (StyleBlit), placed by the two faces' landmarks (FaceBlit's guides: a coordinate ramp
of the exemplar moved by moving-least-squares similarity deformation, plus an appearance guide).  Exemplar and
base should be of similar size (within 4x per side).

Landmarks: a JSON file of (x, y) pixel coordinates, [[x, y], ...] or {"landmarks": [[x, y], ...]}, the same
points in the same order for both images (at least 2; the built-in faces use 10: left eye, right eye, nose,
mouth, left ear, right ear, left cheek, right cheek, chin, crown).  The centre of the top-left pixel is (0, 0).
Without a file, the built-in landmark model (neuralcollage/data/pretrained/builtin64/landmarks.npz, for the built-in kind of
cartoon faces, square images) predicts them when it is installed.

examples:
  collage stylize --base face.png --style hatched.png --style-landmarks hatched.json \\
      --base-landmarks face.json -o out.png
  collage stylize --base face.png --style hatched.png --mask region.png --seed 3 -o out.png --figure fig.png
  collage stylize --base face.png --style hatched.png --style-parts hatched_parts.png -o out.png

Parts (--style-parts): a map of the exemplar's parts, one flat colour per part (black or any colour for the
background; at most 16 colours, no antialiasing), e.g. exported from a paint program.  It adds a segmentation
guide that keeps each part's texture inside that part on the photo; the photo's parts are the exemplar's moved
by the landmarks' deformation unless --base-parts gives them (same colours).

Exit status: 0 success, 2 bad input (missing or unreadable files, landmarks outside the image, very different
sizes, no landmarks available), 3 model problem (the landmark model).
"""


def add_stylize_parser(sub, common, formatter):
    """Register ``stylize`` on the ``collage`` subparsers ``sub``."""
    p = sub.add_parser("stylize", prog="collage stylize", parents=[common], formatter_class=formatter,
                       help="stylise a photo or a region from one exemplar (StyleBlit)",
                       description="Stylise a photo, or the region of --mask, with the hand-made texture of an "
                                   "exemplar, placed by the faces' landmarks.", epilog=STYLIZE_EPILOG)
    p.add_argument("--base", required=True, metavar="PHOTO", help="the photo to stylise")
    p.add_argument("--style", required=True, metavar="EXEMPLAR", help="the stylised exemplar")
    p.add_argument("--style-landmarks", metavar="JSON", help="the exemplar's landmarks (default: predicted)")
    p.add_argument("--base-landmarks", metavar="JSON", help="the photo's landmarks (default: predicted)")
    p.add_argument("--mask", metavar="MASK", help="stylise only the white area (default: the whole photo)")
    p.add_argument("--style-parts", metavar="PARTS", help="the exemplar's part map, one flat colour per part "
                                                          "(default: no segmentation guide)")
    p.add_argument("--base-parts", metavar="PARTS",
                   help="the photo's part map in the same colours (default: the exemplar's moved by the landmarks)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the stylised photo")
    p.add_argument("--threshold", type=float, default=8.0,
                   help="guide error below which chunks grow, 0-255 units (0-64 useful; lower: smaller "
                        "chunks; the reference's is 24) (default: %(default)s)")
    p.add_argument("--blend-radius", type=int, default=1, help="voting radius in pixels (default: %(default)s)")
    p.add_argument("--vote-sigma", type=float, default=48.0,
                   help="guide-error scale of the weighted voting: a neighbour's vote counts exp(-error / sigma); "
                        "0: the plain mean of the reference (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0,
                   help="jitter seed; the same seed gives the same output (default: %(default)s)")
    p.add_argument("--feather", type=float, default=2.0,
                   help="softening of the --mask edge, in pixels (default: %(default)s)")
    p.add_argument("--figure", metavar="FIG", help="also write a figure: exemplar, photo, guides, result")
    p.set_defaults(func=cmd_stylize)
    return p


def read_landmarks(path):
    """``(K, 2)`` float64 from a landmark JSON file; InputError (one line) when it is missing or malformed."""
    from neuralcollage.io import InputError
    from neuralcollage.stylize.landmark_editor import read_landmarks_json
    try:
        return read_landmarks_json(path)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _landmarks(path, image, what, predictor):
    from neuralcollage.io import InputError
    if path:
        return read_landmarks(path)
    if predictor[0] is None:
        from neuralcollage.pretrained import builtin_dir
        model = os.path.join(builtin_dir(), "landmarks.npz")
        if not os.path.exists(model):
            raise InputError(f"no landmarks for the {what}: give --{'style' if what == 'exemplar' else 'base'}"
                             f"-landmarks JSON (the built-in landmark model is not installed)")
        from neuralcollage.train.landmarks import load_landmark_predictor
        predictor[0] = load_landmark_predictor(model)
    if image.shape[0] != image.shape[1]:
        raise InputError(f"the built-in landmark model needs a square {what}, got {image.shape[1]}x"
                         f"{image.shape[0]}; give its landmarks as JSON")
    return predictor[0](image)


def guide_figure(exemplar, target, guide, result):
    """``(H, 4W + 3 gaps, 3)`` uint8: exemplar, photo, guide (R = x, G = y, B = appearance), result (each
    resized to the photo's height)."""
    import cv2
    import numpy
    h = target.shape[0]

    def fit(image):
        if image.shape[0] == h:
            return image
        return cv2.resize(image, (max(1, round(image.shape[1] * h / image.shape[0])), h),
                          interpolation=cv2.INTER_AREA)

    g = numpy.clip(guide[..., :3], 0, 255).astype(numpy.uint8)
    gap = numpy.full((h, 4, 3), 255, numpy.uint8)
    panels = [fit(exemplar), gap, target, gap, g, gap, result]
    return numpy.concatenate(panels, axis=1)


def _stylize_parts(args, exemplar_shape, base_shape):
    """The segmentation-guide options of :func:`neuralcollage.stylize.stylize` from --style-parts /
    --base-parts (InputError, one line, for a bad map)."""
    from neuralcollage.io import InputError, read_image
    from neuralcollage.stylize import part_labels_from_image
    if args.base_parts and not args.style_parts:
        raise InputError("--base-parts needs --style-parts (the exemplar's parts in the same colours)")
    if not args.style_parts:
        return {}
    out = {}
    for path, shape, key in ((args.style_parts, exemplar_shape, "labels"),
                             (args.base_parts, base_shape, "target_labels")):
        if not path:
            continue
        image = read_image(path)
        if image.shape[:2] != shape[:2]:
            raise InputError(f"{path}: the part map is {image.shape[1]}x{image.shape[0]}, its image "
                             f"{shape[1]}x{shape[0]}")
        try:
            labels, colours = part_labels_from_image(image, colours=out.get("colours"))
        except ValueError as exc:
            raise InputError(f"{path}: {exc}") from None
        out[key], out["colours"] = labels, colours
    colours = out.pop("colours")
    return dict(out, n_labels=len(colours))


def cmd_stylize(args):
    from neuralcollage.io import InputError, read_image, read_mask, write_image
    from neuralcollage import stylize as st
    _check_outputs([(args.output, "image"), (args.figure, "image")],
                   [p for p in (args.base, args.style, args.mask, args.style_landmarks, args.base_landmarks,
                                args.style_parts, args.base_parts) if p])
    if args.blend_radius < 0:
        raise InputError(f"--blend-radius must be >= 0, got {args.blend_radius}")
    if not args.threshold >= 0:
        raise InputError(f"--threshold must be >= 0, got {args.threshold}")
    if not args.vote_sigma >= 0 or args.vote_sigma == float("inf"):
        raise InputError(f"--vote-sigma must be a finite number >= 0, got {args.vote_sigma}")
    base = read_image(args.base)
    exemplar = read_image(args.style)
    mask = read_mask(args.mask, size=base.shape[:2]) if args.mask else None
    ratio = max(exemplar.shape[0] / base.shape[0], base.shape[0] / exemplar.shape[0],
                exemplar.shape[1] / base.shape[1], base.shape[1] / exemplar.shape[1])
    if ratio > st.MAX_SIZE_RATIO:
        raise InputError(f"the exemplar ({exemplar.shape[1]}x{exemplar.shape[0]}) and the photo "
                         f"({base.shape[1]}x{base.shape[0]}) differ in size by more than "
                         f"{st.MAX_SIZE_RATIO:g}x; resize one of them")
    predictor = [None]
    ex_lm = _landmarks(args.style_landmarks, exemplar, "exemplar", predictor)
    base_lm = _landmarks(args.base_landmarks, base, "photo", predictor)
    label = {"exemplar": args.style_landmarks or "predicted", "photo": args.base_landmarks or "predicted"}
    try:
        ex_lm = st.check_landmarks(ex_lm, exemplar.shape, name=f"exemplar landmarks ({label['exemplar']})")
        base_lm = st.check_landmarks(base_lm, base.shape, name=f"photo landmarks ({label['photo']})",
                                     count=len(ex_lm))
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if mask is not None and not (mask > 0).any():
        raise InputError(f"{args.mask}: the mask is empty")
    parts = _stylize_parts(args, exemplar.shape, base.shape)
    details = st.stylize_details(base, exemplar, target_landmarks=base_lm, exemplar_landmarks=ex_lm,
                                 mask=mask, threshold=args.threshold, blend_radius=args.blend_radius,
                                 seed=args.seed, feather=args.feather, vote_sigma=args.vote_sigma or None, **parts)
    inputs = [p for p in (args.base, args.style, args.mask) if p]
    write_image(args.output, details.image, overwrite_protect=inputs)
    _say(f"wrote {args.output} ({details.synthesis.fallback_fraction:.0%} of the pixels outside chunks)",
         quiet=args.quiet)
    if args.figure:
        write_image(args.figure, guide_figure(exemplar, base, details.target_guide, details.image),
                    overwrite_protect=inputs)
        _say(f"wrote {args.figure}", quiet=args.quiet)


# ------------------------------------------------------------------------------------------------ add-class

ADD_CLASS_DESCRIPTION = """\
Learn a new class from a handful of images (at least 3; 10 or more work better) and save it as a class
pack: a small .npz with the new class's rows for every conditional batch norm of the generator (and the
discriminator's projection row and the encoder's class row), its name and the sha256 of the base model.
Every convolution and every old class stays as it was.  Images of any size are cut to their centred square
and resized to the model's resolution.  Load the pack with --model BASE+PACK.npz in every other command
(generate, edit, blend, attribute, labels, replay); the new class is then the last label."""

ADD_CLASS_EPILOG = """\
Exit status: 0 success, 2 bad input (too few or unreadable images, a name the model already has), 3 model
problem (e.g. a model that cannot take classes: BigGAN-deep).

examples:
  collage add-class koala k1.png k2.png k3.png k4.png k5.png -o koala.npz
  collage add-class rex photos/rex_*.jpg -o rex.npz --steps 300 --seed 0 --synonym "our dog"
then use the pack in any command, e.g. `collage generate --model builtin+koala.npz --label koala -n 8`.
"""


#: ``neuralcollage.classes.MIN_IMAGES``, ``METHODS`` and ``DEFAULTS["steps"]``/``["method"]``, repeated so
#: that ``--help`` does not import Chainer (a test keeps them equal).
ADD_CLASS_MIN_IMAGES = 3
ADD_CLASS_METHODS = ("nearest", "rows", "combination")
ADD_CLASS_DEFAULTS = {"steps": 300, "method": "rows", "init_class": "search"}
ADD_CLASS_START_MODES = ("nearest", "search")


def _add_class_parsers(sub, common, model):
    """Add ``add-class`` to the subparsers ``sub`` (``common``, ``model``: the shared option parents)."""
    p = sub.add_parser("add-class", prog="collage add-class", parents=[common, model],
                       formatter_class=_Formatter, help="learn a new class from a few images (a class pack)",
                       description=ADD_CLASS_DESCRIPTION, epilog=ADD_CLASS_EPILOG)
    p.add_argument("name", metavar="NAME", help="the new class's name")
    p.add_argument("images", nargs="+", metavar="IMAGE", help=f"training images (at least {ADD_CLASS_MIN_IMAGES})")
    p.add_argument("-o", "--output", required=True, metavar="PACK.npz", help="the class pack to write")
    p.add_argument("--synonym", action="append", default=[], metavar="S", help="another name (repeatable)")
    p.add_argument("--steps", type=_nonnegative_int, default=ADD_CLASS_DEFAULTS["steps"], metavar="N",
                   help="training steps (default: %(default)s)")
    p.add_argument("--seed", type=_nonnegative_int, default=0, metavar="S",
                   help="seed of every random choice (default: %(default)s)")
    p.add_argument("--method", choices=ADD_CLASS_METHODS, default=ADD_CLASS_DEFAULTS["method"],
                   help="nearest: copy the nearest existing class's rows (no training); rows: train new rows; "
                        "combination: rows as a learnt combination of the old classes' plus a residual "
                        "(default: %(default)s)")
    _start_from_option(p, "--start-from")
    p.add_argument("--samples", metavar="PNG",
                   help="sample grid of the new class (default: PACK-STEM_samples.png beside the pack)")
    p.add_argument("--no-samples", action="store_true", help="write no sample grid")
    p.add_argument("--max-pixels", type=_positive_int, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help="refuse input images with more pixels (default: %(default)s)")
    p.set_defaults(func=cmd_add_class)
    return p


def _start_from_option(parser, flag):
    """The ``--start-from`` option of ``add-class`` (and of ``eval --metrics few_shot``), defined once."""
    parser.add_argument(flag, default=ADD_CLASS_DEFAULTS["init_class"], metavar="CLASS",
                        help="the existing class whose rows the new class starts from: search (a 30-step trial from "
                             "each of the 6 classes the discriminator scores highest, the best reconstruction wins; "
                             "1.6x the time of 300 steps; measured best), nearest (the discriminator's first "
                             "choice), or a class name (default: %(default)s)")


def _pack_grid(images, columns=4):
    import numpy
    n, h, w, c = images.shape
    rows = -(-n // columns)
    out = numpy.full((rows * h, columns * w, c), 255, numpy.uint8)
    for i, image in enumerate(images):
        r, q = divmod(i, columns)
        out[r * h:(r + 1) * h, q * w:(q + 1) * w] = image
    return out


def cmd_add_class(args):
    from neuralcollage.classes import ClassPackError, add_class, pack_samples, split_model_spec
    from neuralcollage.io import InputError, read_image, write_image
    out = args.output
    if not out.lower().endswith(".npz"):
        raise InputError(f"the class pack must be a .npz file, not {out}")
    samples = None if args.no_samples else (args.samples or os.path.splitext(out)[0] + "_samples.png")
    _check_outputs([(out, "npz"), (samples, "image")], args.images)
    if len(args.images) < ADD_CLASS_MIN_IMAGES:
        raise InputError(f"{len(args.images)} image{'s' if len(args.images) != 1 else ''} given; adding a class "
                         f"needs at least {ADD_CLASS_MIN_IMAGES} (10 or more work better)")
    base, _ = split_model_spec(args.model)
    entry = _registry_entry(base)
    if entry is not None and entry.convert == "biggan":
        raise ClassPackError(f"model {entry.name} cannot take new classes: BigGAN-deep conditions its batch norms "
                             f"through one linear map of a shared class embedding, not per-class rows; use a CBN "
                             f"model (builtin, dogcat256, dogcat128, imagenet128, cub128)")
    vocab = _vocabulary(args.model, args.arch)
    for s in [args.name] + list(args.synonym):
        if s.strip().isdigit() or s in vocab:
            raise InputError(f"model {args.model} already has a class named {s!r} (see `collage labels`); choose "
                             f"another name")
    images = [read_image(path, max_pixels=args.max_pixels) for path in args.images]
    bundle = _load(args.model, args.arch, args.gpu)
    progress = _Progress(steps=max(args.steps - 1, 0), enabled=not args.quiet and args.method != "nearest",
                             desc=f"add-class {args.name}")
    try:
        pack = add_class(bundle, images, args.name, steps=args.steps, seed=args.seed, synonyms=args.synonym,
                         method=args.method, init_class=args.start_from,
                         callback=lambda step, loss: progress(step, loss, None))
    finally:
        progress.close()
    pack.save(out, overwrite_protect=args.images)
    size = os.path.getsize(out)
    _say(f"class {pack.name!r} learnt from {len(images)} images in {pack.record['seconds']:.0f} s "
             f"(method {pack.record['method']}, started from {pack.record['init_class']!r}); pack {out} "
             f"({size / 1024:.0f} KiB, sha256 {pack.sha256[:12]}...)", quiet=args.quiet)
    if samples:
        write_image(samples, _pack_grid(pack_samples(bundle, pack, n=16, seed=args.seed)),
                    overwrite_protect=args.images)
        _say(f"samples of the new class: {samples}", quiet=args.quiet)
    _say(f"use it with --model {args.model}+{out}", quiet=args.quiet)
    print(out, file=sys.stdout)
    return EXIT_OK


# ------------------------------------------------------------------------------------------------ convert

def _registered_target(out):
    from neuralcollage.pretrained import registered_file
    return registered_file(out)


def _check_biggan_target(src_dir, out, target):
    """Refuse before converting when ``out`` is where another registered model's file lives, or where a
    BigGAN-deep of another size belongs."""
    import json
    from neuralcollage.io import InputError
    if target is None:
        return
    entry, kind = target
    if entry.convert != "biggan" or kind != "generator":
        raise InputError(f"refusing to write a converted BigGAN to {out}: that is the {kind} file of registered "
                         f"model {entry.name!r} ({entry.arch})")
    config_path = os.path.join(src_dir, "config.json")
    try:
        with open(config_path, encoding="utf-8") as fh:
            raw = json.load(fh)
    except (OSError, UnicodeDecodeError, ValueError):
        return  # the converter reports it
    from neuralcollage.convert import biggan_config
    arch = biggan_config(raw, source=config_path)["arch"]
    if arch != entry.arch:
        what = f"a {arch}" if arch else "a BigGAN-deep of no registered size"
        raise InputError(f"{src_dir} holds {what} checkpoint (config.json), but {out} is where {entry.name} "
                         f"belongs; convert it to another file")


def cmd_convert_biggan(args):
    from neuralcollage.io import InputError
    src, out = args.src_dir, args.out
    if not os.path.exists(src):
        raise InputError(f"{src}: no such folder")
    if not os.path.isdir(src):
        raise InputError(f"{src}: not a folder (give the folder holding pytorch_model.bin and config.json)")
    if os.path.splitext(out)[1].lower() != ".npz":
        raise InputError(f"cannot write {out}: the snapshot must be a .npz file")
    inputs = [os.path.join(src, name) for name in ("pytorch_model.bin", "config.json")]
    target = _registered_target(out)
    _check_biggan_target(src, out, target)
    folder = os.path.dirname(os.path.abspath(out))
    created = target is not None and not os.path.exists(folder)
    if created:  # $NEURALCOLLAGE_HOME/<name>/ of a registered model: made here, removed again on failure
        try:
            os.makedirs(folder)
        except OSError as exc:
            raise InputError(f"cannot create {folder}: {exc.strerror or exc}") from None
    try:
        _check_outputs([(out, "npz")], [p for p in inputs if os.path.exists(p)])
        from neuralcollage.convert import convert_biggan
        _say(f"converting {src} ...", quiet=args.quiet)
        try:
            result = convert_biggan(src, out)
        except ImportError as exc:
            raise CommandError(str(exc), EXIT_MODEL) from None
    except BaseException:
        if created:
            try:
                os.rmdir(folder)
            except OSError:
                pass
        raise
    config = result.config
    arch = config.get("arch") or "custom"
    print(f"wrote {result.path}")
    print(f"arch: {arch} ({2 ** len([1 for up, _, _ in config['layers'] if up]) * 4} px, "
          f"{config['n_classes']} classes, dim_z {config['dim_z']})")
    print(f"sha256: {result.sha256}")
    if target is not None:
        from neuralcollage.pretrained import record_sha256
        entry, kind = target
        _note(record_sha256(entry.name, kind, result.path, result.sha256))
        print(f"installed as model {entry.name} (use --model {entry.name})")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

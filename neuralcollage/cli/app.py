"""The ``collage`` program: the parser assembled from the command modules' parts, the default command and
global flags, dispatch, error classification (one line and an exit status), warnings and signals.  The command
modules never import this one.
"""
import os
import sys
import warnings

from . import ablate, attribute, axes, classes, edit, evaluate, generate, invert, models, replay, stylize
from .common import (CommandError, EXIT_FAILURE, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_MODEL, EXIT_OK, Formatter, PROG,
                     Parser, SUBCOMMANDS, UsageError, common_options, image_options, model_options, one_line,
                     resolve_projection_steps)


def _loaded(name):
    return sys.modules.get(name)


def classify(exc):
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
    print(f"{PROG}: warning: {one_line(message)}", file=sys.stderr)


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
  ablate     measure which layers a collage touches (scbn|blend: the paper's Figs. 9 and 10)
  axes       find or measure the latent attribute axes `attribute` uses (discover|evaluate)

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
  collage ablate scbn --source cat --target fox --out out/scbn
  collage axes discover --generator runs/builtin64/generator.npz -o out/axes.json

Exit status: 0 success, 2 bad input or usage, 3 model problem.  Errors are one line on stderr; --debug shows
the traceback.  Outputs are written atomically and never over an input file.
"""


def build_parser():
    """The ``collage`` argument parser (subcommands; ``edit`` is the default, see :func:`main`)."""
    common, model, image = common_options(), model_options(), image_options()
    parser = Parser(prog=PROG, formatter_class=Formatter, description=TOP_DESCRIPTION, epilog=TOP_EPILOG,
                    usage="%(prog)s [edit] --base PHOTO --label TARGET --mask MASK [-o OUT] [options]\n"
                          "       %(prog)s {attribute,generate,invert,blend,models,labels,replay,demo,train,eval,"
                          "convert,add-class,stylize,ablate,axes} ...")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    # The order of the commands in `collage --help`.
    edit.add_edit_parser(sub, common, model, image)
    attribute.add_attribute_parser(sub, common, model, image)
    generate.add_generate_parser(sub, common, model)
    invert.add_invert_parser(sub, common, model, image)
    generate.add_blend_parser(sub, common, image)
    stylize.add_stylize_parser(sub, common, Formatter)
    models.add_models_parser(sub, common)
    models.add_labels_parser(sub, common)
    replay.add_replay_parser(sub, common, image)
    edit.add_demo_parser(sub, common)
    evaluate.add_train_parsers(sub, common)
    evaluate.add_eval_parser(sub, common)
    models.add_convert_parsers(sub, common)
    classes.add_class_parsers(sub, common, model)
    ablate.add_ablate_parsers(sub, common)
    axes.add_axes_parsers(sub, common)
    return parser


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
_NESTED = ("train", "convert", "ablate", "axes")


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
        print(f"{PROG}: interrupted" + ("" if signum == signal.SIGINT else f" ({signal.Signals(signum).name})"),
              file=sys.stderr)
    except (OSError, ValueError):
        pass
    return 128 + int(signum) if signum != signal.SIGINT else EXIT_INTERRUPTED


def _main(argv):
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if not argv:
        print(build_parser().format_usage().rstrip(), file=sys.stderr)
        print(f"{PROG}: error: nothing to do; try `collage demo` or `collage --help`", file=sys.stderr)
        return EXIT_INPUT
    lead = 0
    while lead < len(argv) and argv[lead] in GLOBAL_FLAGS:
        lead += 1
    if lead < len(argv) and not argv[lead].startswith("-") and argv[lead] not in SUBCOMMANDS:
        print(f"{PROG}: error: {_unknown_command(argv[lead])}", file=sys.stderr)
        return EXIT_INPUT
    argv = _arrange(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(f"{PROG}: error: {one_line(exc)}{_option_hints(parser, argv)}", file=sys.stderr)
        return EXIT_INPUT
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    if getattr(args, "func", None) is None:
        print(f"{PROG}: error: choose a command (see `collage --help`)", file=sys.stderr)
        return EXIT_INPUT
    with warnings.catch_warnings():
        if not debug:
            warnings.showwarning = _show_warning
        try:
            import neuralcollage._compat  # noqa: F401  (NumPy aliases before any command imports Chainer)
            resolve_projection_steps(args)
            status = args.func(args)
        except KeyboardInterrupt as exc:
            return _interrupted(exc)
        except BrokenPipeError:  # `collage labels | head`: the reader went away; stop quietly
            _silence_stdout()
            return EXIT_FAILURE
        except Exception as exc:  # noqa: BLE001: every failure becomes one line and a status
            code, message = classify(exc)
            if debug:
                import traceback
                traceback.print_exc()
            print(f"{PROG}: error: {one_line(message)}", file=sys.stderr)
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

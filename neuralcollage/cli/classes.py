"""``collage add-class``: learn a new class from a few images (a class pack)."""
import os
import sys

from .common import DEFAULT_MAX_PIXELS, EXIT_OK, Formatter, finite_float, nonnegative_int, positive_int, say
from .support import Progress, check_outputs, load, registry_entry, vocabulary

# ------------------------------------------------------------------------------------------------ add-class

ADD_CLASS_DESCRIPTION = """\
Learn a new class from a handful of images (at least 3; 10 or more work better) and save it as a class
pack: a small .npz with the new class's rows for every conditional batch norm of the generator (and the
discriminator's projection row and the encoder's class row), its name and the sha256 of the base model.
Every convolution and every old class stays as it was.  Images of any size are cut to their centred square
and resized to the model's resolution.  By default it also learns the class's close-up variant, with which
edits of a part draw the class, and keeps it only when a check of 30 part edits says it draws parts better
(about four times the time of the class alone; --closeup-variant 0 skips both).  Load the pack with
--model BASE+PACK.npz in every other command (generate, edit, blend, attribute, labels, replay); the new
class is then the last label."""

ADD_CLASS_EPILOG = """\
Exit status: 0 success, 2 bad input (too few or unreadable images, a name the model already has), 3 model
problem (e.g. a model that cannot take classes: BigGAN-deep).

examples:
  collage add-class koala k1.png k2.png k3.png k4.png k5.png -o koala.npz
      # the class, and for edits of parts its close-up variant, kept only when 30 part edits drawn with it look
      # more like the images' close-ups than with the class's rows (a probe on the discriminator's features
      # decides); writes koala_samples.png and koala_closeup.png (three of those edits, without and with it)
  collage add-class rex photos/rex_*.jpg -o rex.npz --steps 300 --seed 0 --synonym "our dog"
  collage add-class koala k*.png -o koala.npz --closeup-variant 0   # the class alone: about 4x faster
  collage add-class koala k*.png -o koala.npz --method branch --closeups 2     # a per-class branch, close-ups
  collage add-class koala k*.png -o koala.npz --adversarial 0.1 --tune-d-blocks 1   # FreezeD
then use the pack in any command, e.g. `collage generate --model builtin+koala.npz --label koala -n 8`.
"""


#: ``neuralcollage.classes.MIN_IMAGES`` and ``METHODS`` and ``neuralcollage.collage.new_class.DEFAULTS`` (those the
#: command line sets), repeated so that ``--help`` does not import Chainer (a test keeps them equal).
ADD_CLASS_MIN_IMAGES = 3
ADD_CLASS_METHODS = ("nearest", "rows", "combination", "branch", "two_stage")
ADD_CLASS_DEFAULTS = {"steps": 300, "method": "rows", "init_class": "search", "closeups": 0, "adversarial": 0.0,
                      "tune_d_blocks": 0, "closeup_variant": 4, "lr_rows": 0.03}
#: The :func:`neuralcollage.collage.add_class` keywords :func:`training_options` sets.
TRAINING_OPTIONS = ("method", "closeups", "adversarial", "tune_d_blocks", "closeup_variant", "lr_rows")
ADD_CLASS_START_MODES = ("nearest", "search")


def add_class_parsers(sub, common, model):
    """Add ``add-class`` to the subparsers ``sub`` (``common``, ``model``: the shared option parents)."""
    p = sub.add_parser("add-class", prog="collage add-class", parents=[common, model],
                       formatter_class=Formatter, help="learn a new class from a few images (a class pack)",
                       description=ADD_CLASS_DESCRIPTION, epilog=ADD_CLASS_EPILOG)
    p.add_argument("name", metavar="NAME", help="the new class's name")
    p.add_argument("images", nargs="+", metavar="IMAGE", help=f"training images (at least {ADD_CLASS_MIN_IMAGES})")
    p.add_argument("-o", "--output", required=True, metavar="PACK.npz", help="the class pack to write")
    p.add_argument("--synonym", action="append", default=[], metavar="S", help="another name (repeatable)")
    p.add_argument("--steps", type=nonnegative_int, default=ADD_CLASS_DEFAULTS["steps"], metavar="N",
                   help="training steps (default: %(default)s)")
    p.add_argument("--seed", type=nonnegative_int, default=0, metavar="S",
                   help="seed of every random choice (default: %(default)s)")
    training_options(p, "--")
    closeup_check_option(p, "--")
    start_from_option(p, "--start-from")
    p.add_argument("--samples", metavar="PNG",
                   help="sample grid of the new class (default: PACK-STEM_samples.png beside the pack)")
    p.add_argument("--no-samples", action="store_true",
                   help="write no sample grid (nor the close-up variant's part edits PACK-STEM_closeup.png)")
    p.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help="refuse input images with more pixels (default: %(default)s)")
    p.set_defaults(func=cmd_add_class)
    return p


def start_from_option(parser, flag):
    """The ``--start-from`` option of ``add-class`` (and of ``eval --metrics few_shot``), defined once."""
    parser.add_argument(flag, default=ADD_CLASS_DEFAULTS["init_class"], metavar="CLASS",
                        help="the existing class whose rows the new class starts from: search (a 30-step trial from "
                             "each of the 6 classes the discriminator scores highest, the best reconstruction wins; "
                             "1.6x the time of 300 steps; measured best), nearest (the discriminator's first "
                             "choice), or a class name (default: %(default)s)")


def closeup_check_option(parser, prefix):
    """``{prefix}keep-closeup-variant`` of ``add-class`` (and of ``eval --metrics few_shot``), defined once."""
    parser.add_argument(f"{prefix}keep-closeup-variant", action="store_true",
                        help="keep the close-up variant without checking it (by default it is kept only when "
                             "part edits drawn with it score higher than with the class's rows on a probe fitted to "
                             "the images' close-ups, which takes about as long as training the variant)")


def training_options(parser, prefix):
    """The training options of ``add-class`` (and, with ``prefix="--few-shot-"``, of ``eval --metrics few_shot``),
    defined once: ``{prefix}method``, ``{prefix}closeups``, ``{prefix}adversarial``, ``{prefix}tune-d-blocks``,
    ``{prefix}closeup-variant``, ``{prefix}lr-rows`` (``add_class``'s ``method``, ``closeups``, ``adversarial``,
    ``tune_d_blocks``, ``closeup_variant``, ``lr_rows``; read them back with :func:`training_kwargs`)."""
    d = ADD_CLASS_DEFAULTS
    parser.add_argument(f"{prefix}method", choices=ADD_CLASS_METHODS, default=d["method"],
                        help="nearest: copy the nearest existing class's rows (no training); rows: train new rows; "
                             "combination: rows as a learnt combination of the old classes' plus a residual; "
                             "branch: rows plus a small per-class branch on the 16x16 features, used only where "
                             "the new class is asked for (bigger pack); two_stage: rows on the whole images, then a "
                             "branch trained on close-ups while the class's whole faces are held to the rows' "
                             "(experimental, for part edits; see docs/few_shot.md) (default: %(default)s)")
    parser.add_argument(f"{prefix}closeups", type=nonnegative_int, default=d["closeups"], metavar="N",
                        help="also train on N close-ups (enlarged windows, the framing a part edit sends to the "
                             "model) of each image; with method two_stage the close-ups of its second stage "
                             "(0: 4) (default: %(default)s)")
    parser.add_argument(f"{prefix}adversarial", type=finite_float(lambda v: v >= 0, "a number >= 0"),
                        default=d["adversarial"], metavar="W",
                        help="weight of an adversarial term against the frozen discriminator (0: reconstruction "
                             "only) (default: %(default)s)")
    parser.add_argument(f"{prefix}tune-d-blocks", type=nonnegative_int, default=d["tune_d_blocks"], metavar="K",
                        help=f"FreezeD: with {prefix}adversarial > 0, fine-tune a copy of the discriminator's top K "
                             "blocks (training only; e.g. --adversarial 0.1 --tune-d-blocks 1) (default: %(default)s)")
    parser.add_argument(f"{prefix}closeup-variant", type=nonnegative_int, metavar="N",
                        help="also learn a close-up variant of the class from the images and N close-ups of each (a "
                             "second set of rows, as many steps again): edits of a part of a photo draw the class "
                             "with it, everything else with the class's own rows; it is kept only when part edits "
                             "drawn with it look more like the images' close-ups (a check of 30 part edits); 0: "
                             "none, about 4x faster, but the koala's parts translated 36%% and 54%% without it, "
                             f"80%% and 88%% with it (default: {d['closeup_variant']}; 0 with {prefix}method "
                             "nearest)")
    parser.add_argument(f"{prefix}lr-rows", type=finite_float(lambda v: 0 < v <= 1, "a number in (0, 1]"),
                        default=d["lr_rows"], metavar="LR",
                        help="Adam step size of the new class's rows (the start search keeps 0.01): if the sample "
                             "grid still shows the start class, try a larger one; if it shows another existing "
                             "class, a smaller one, e.g. 0.01 (default: %(default)s)")


def training_kwargs(args, prefix=""):
    """``add_class`` keywords from :func:`training_options`'s parsed options (``prefix``: their ``dest`` prefix,
    e.g. ``"few_shot_"``); only those that differ from the defaults.

    Raises:
        InputError: ``tune-d-blocks`` without an adversarial weight."""
    from neuralcollage.io import InputError
    values = {k: getattr(args, prefix + k) for k in TRAINING_OPTIONS}
    flag = "--" + prefix.replace("_", "-")
    if values["tune_d_blocks"] and not values["adversarial"] > 0:
        raise InputError(f"{flag}tune-d-blocks needs {flag}adversarial > 0 (FreezeD tunes the discriminator for the "
                         f"adversarial term), e.g. {flag}adversarial 0.1 {flag}tune-d-blocks 1")
    if values["closeup_variant"] and values["method"] == "nearest":
        raise InputError(f"{flag}closeup-variant needs training: not with {flag}method nearest")
    return {k: v for k, v in values.items() if v is not None and v != ADD_CLASS_DEFAULTS[k]}


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
    from neuralcollage.classes import ClassPackError, closeup_name, pack_samples, split_model_spec
    from neuralcollage.collage import add_class, closeup_check
    from neuralcollage.collage.new_class import closeup_variant_count
    from neuralcollage.io import InputError, read_image, write_image
    out = args.output
    options = training_kwargs(args)
    options.pop("closeup_variant", None)
    if not out.lower().endswith(".npz"):
        raise InputError(f"the class pack must be a .npz file, not {out}")
    variant_count = closeup_variant_count(args.method, args.closeup_variant)
    samples = None if args.no_samples else (args.samples or os.path.splitext(out)[0] + "_samples.png")
    preview = None if args.no_samples or not variant_count else os.path.splitext(out)[0] + "_closeup.png"
    check_outputs([(out, "npz"), (samples, "image"), (preview, "image")], args.images)
    if len(args.images) < ADD_CLASS_MIN_IMAGES:
        raise InputError(f"{len(args.images)} image{'s' if len(args.images) != 1 else ''} given; adding a class "
                         f"needs at least {ADD_CLASS_MIN_IMAGES} (10 or more work better)")
    base, _ = split_model_spec(args.model)
    entry = registry_entry(base)
    if entry is not None and entry.convert == "biggan":
        raise ClassPackError(f"model {entry.name} cannot take new classes: BigGAN-deep conditions its batch norms "
                             f"through one linear map of a shared class embedding, not per-class rows; use a CBN "
                             f"model (builtin, dogcat256, dogcat128, imagenet128, cub128)")
    vocab = vocabulary(args.model, args.arch)
    for s in [args.name] + list(args.synonym):
        if s.strip().isdigit() or s in vocab:
            raise InputError(f"model {args.model} already has a class named {s!r} (see `collage labels`); choose "
                             f"another name")
    images = [read_image(path, max_pixels=args.max_pixels) for path in args.images]
    bundle = load(args.model, args.arch, args.gpu)
    check = bool(variant_count) and not args.keep_closeup_variant
    if check and bundle.discriminator is None:
        say(f"model {args.model} has no discriminator to check the close-up variant with: it is kept",
            quiet=args.quiet)
    total = args.steps * (2 if variant_count else 1)
    training_bar = Progress(steps=max(total - 1, 0), enabled=not args.quiet and args.method != "nearest",
                            desc=f"add-class {args.name}")
    check_bar = Progress(steps=closeup_check.CHECK_EDITS - 1, enabled=not args.quiet, desc="close-up check")

    def on_check(i, n):
        training_bar.close()
        check_bar(i, None, None)

    try:
        pack, result = add_class(bundle, images, args.name, steps=args.steps, seed=args.seed, synonyms=args.synonym,
                                 init_class=args.start_from, closeup_variant=variant_count, check_closeup=check,
                                 callback=lambda step, loss: training_bar(step, loss, None),
                                 check_callback=on_check, return_check=True, **options)
    finally:
        training_bar.close()
        check_bar.close()
    if result is not None:
        say(result.describe(), quiet=args.quiet)
    variant = ""
    if pack.closeup is not None:
        variant = (f", and its close-up variant {closeup_name(pack.name)!r} (for edits of parts) in "
                   f"{pack.closeup['record']['seconds']:.0f} s")
    elif result is not None:
        variant = " (its close-up variant was dropped by the check)"
    edits = None if result is None else result.edits
    pack.save(out, overwrite_protect=args.images)
    size = os.path.getsize(out)
    say(f"class {pack.name!r} learnt from {len(images)} images in {pack.record['seconds']:.0f} s "
        f"(method {pack.record['method']}, started from {pack.record['init_class']!r}){variant}; pack {out} "
        f"({size / 1024:.0f} KiB, sha256 {pack.sha256[:12]}...)", quiet=args.quiet)
    if samples:
        write_image(samples, _pack_grid(pack_samples(bundle, pack, n=16, seed=args.seed)),
                    overwrite_protect=args.images)
        say(f"samples of the new class: {samples}", quiet=args.quiet)
    if preview:
        if edits is None:
            from neuralcollage.collage.preview import closeup_variant_preview
            edits = closeup_variant_preview(bundle, pack, n=3, seed=args.seed)
        write_image(preview, _pack_grid(edits[:3].reshape((-1,) + edits.shape[2:]), columns=3),
                    overwrite_protect=args.images)
        advice = ("where the second column shows the class better, edit with --closeup-variant off"
                  if pack.closeup is not None else "the pack keeps the class's own rows")
        say(f"part edits into {pack.name!r} (columns: photo, the class's own rows, its close-up variant): {preview}; "
            f"{advice}", quiet=args.quiet)
    say(f"use it with --model {args.model}+{out}", quiet=args.quiet)
    print(out, file=sys.stdout)
    return EXIT_OK

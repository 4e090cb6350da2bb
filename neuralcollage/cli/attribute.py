"""``collage attribute``: move a photo's attribute along latent axes."""
import os
import time

from .common import (CommandError, EXIT_OK, BlendOptions, Formatter, ProjectionOptions, add_options, check_poisson,
                     options_from_args, projection_options, ranged, recipe_and_figure_options)
from .support import (check_outputs, label_name, load, read_mask_for, read_photo, require_discriminator,
                      require_registered_discriminator, safe_name, stem, vocabulary)
from .edit import fit_kwargs, fit_line, with_progress, write_edit

ATTRIBUTE_EPILOG = """\
The edit: the photo is cropped to a square around the mask (without --mask: the whole photo's largest centred
square) and projected as the source class like `collage edit` does; inside the mask, the features of the
latent moved along the axes, z + A1*u1 + A2*u2 + ..., are blended into those of z on the chosen blend layers
(the class stays the same), and the edit is Poisson-blended back at full resolution.  Pixels outside the
slightly dilated mask are unchanged.  --save-recipe writes a recipe `collage replay` reproduces bit for bit.

The axes: unit directions in latent space found per attribute (neuralcollage.analysis.axes.discover_axes) and
stored as axes.json beside the model's generator, or given with --axes.  An amount is in latent standard
deviations along the axis; positive increases the attribute.  When an axis was fitted per class, the one of the
photo's class is used.  `collage attribute --list-axes` lists them.

Exit status: 0 success, 2 bad input or usage (unknown axis, one --amount per --axis missing), 3 model problem.

examples:
  collage attribute --list-axes
  collage attribute --base dog.png --axis fur_brightness --amount 1.5 --mask fur.png -o brighter_fur.png
  collage attribute --base dog.png --axis eye_size --amount=-1 --axis fur_hue --amount 0.5 --source-label dog \\
          --save-recipe attr.json --figure before_after.png
  collage attribute --base cat.png --axis eye_size --amount 2 --axes my_axes.json --model runs/builtin64
"""


def _add_attribute_arguments(p):
    a = p.add_argument_group("axes")
    a.add_argument("--axis", action="append", metavar="NAME",
                   help="axis to move along (repeat for several; see --list-axes)")
    a.add_argument("--amount", action="append", type=ranged("amount"), metavar="A",
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
    recipe_and_figure_options(io_)
    e = p.add_argument_group("edit")
    e.add_argument("--source-label", metavar="L",
                   help="the photo's class (default: guessed from the discriminator's top candidates)")
    e.add_argument("--layers", default="all", metavar="SPEC",
                   help="blend layers the edit applies to: all, 0-3, 2-, 1,3 (default: %(default)s; all keeps "
                        "the change inside the mask)")
    add_options(e, BlendOptions)
    projection_options(p)


def add_attribute_parser(sub, common, model, image):
    """Add ``collage attribute`` to the subparsers ``sub``."""
    p = sub.add_parser("attribute", prog="collage attribute", parents=[common, model, image],
                       formatter_class=Formatter, help="move an attribute along a latent axis",
                       description="Move a photo's attribute (\"darker fur\", \"bigger eyes\") along latent "
                       "axes, inside a masked region or on the whole crop.", epilog=ATTRIBUTE_EPILOG,
                       usage="%(prog)s --base PHOTO --axis NAME --amount A [--axis NAME --amount A ...] "
                             "[--mask MASK] [-o OUT] [options]\n       %(prog)s --list-axes [--model M] "
                             "[--axes FILE]")
    _add_attribute_arguments(p)
    p.set_defaults(func=cmd_attribute)


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
    bundle = load(args.model, args.arch, args.gpu)
    found = _attribute_axes(bundle, args.axes)
    vocab = bundle.vocabulary
    where = args.axes or _bundle_axes_file(bundle)
    print(f"axes of {bundle.name} ({where}):")
    width = max(len(a.name) for a in found)
    print(f"  {'NAME':<{width}}  {'ATTRIBUTE':<16}  {'CLASS':<12}  {'SLOPE':>8}  {'R^2':>6}  DECORRELATED FROM")
    for a in found:
        scope = "all" if a.class_id is None else label_name(vocab, a.class_id)
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
    output = args.output or f"{stem(args.base)}_{'_'.join(safe_name(n) for n in names)}.png"
    inputs = [p for p in (args.base, args.mask, args.axes, args.model, _model_axes_file(args.model))
              if p is not None and os.path.exists(p)]
    check_poisson(args.seam, args.colour_reach, args.blend_mode, "--blend-mode")
    check_outputs([(output, "image"), (args.save_recipe, "json"), (args.figure, "image")], inputs)
    require_registered_discriminator(args.model)
    photo = read_photo(args.base, args)
    mask = read_mask_for(args.mask, photo, args) if args.mask else None
    vocab = vocabulary(args.model, args.arch)
    source = None if args.source_label is None else vocab.index(args.source_label)
    bundle = load(args.model, args.arch, args.gpu)
    require_discriminator(bundle)
    inputs += [p for p in (_bundle_axes_file(bundle),) if p is not None and os.path.exists(p)]
    axes = _attribute_axes(bundle, args.axes)
    from neuralcollage.axes import attribute_edit_photo
    result = with_progress(lambda progress, guessing, fitting: attribute_edit_photo(
        bundle, photo, names, amounts, mask=mask, axes=axes, layers=args.layers, source_label=source,
        blend_options=options_from_args(BlendOptions, args),
        projection_options=options_from_args(ProjectionOptions, args), progress=progress, guess_progress=guessing, **fit_kwargs(args, fitting)), args, source=source)
    import numpy
    shown = mask if mask is not None else numpy.ones(photo.shape[:2], numpy.float32)
    written = write_edit(result, photo, shown, output=output, recipe_path=args.save_recipe,
                         figure_path=args.figure, inputs=inputs)
    moves = ", ".join(f"{e['name']} {e['amount']:+g}" for e in result.recipe["attribute"]["axes"])
    print(f"edited {args.base}: {label_name(vocab, result.source_class)}, {moves} (layers {args.layers}, "
          f"{args.steps} steps{fit_line(result)}) in {time.time() - started:.1f} s; wrote {', '.join(written)}")
    return EXIT_OK

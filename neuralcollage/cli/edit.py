"""``collage edit`` and ``collage demo``, and the photo pipeline's run, summary and outputs that ``attribute``,
``invert`` and ``replay`` share.
"""
import os
import time

from .common import (EXIT_OK, BlendOptions, EditOptions, Formatter, ProjectionOptions, add_options, box_spec,
                     check_poisson, gpu_id, note, options_from_args, projection_options, recipe_and_figure_options, say)
from .support import (GuessProgress, Progress, check_outputs, label_name, load, read_json, read_mask_for, read_photo,
                      require_discriminator, require_photo_class, require_registered_discriminator, safe_name, stem,
                      vocabulary)

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
    recipe_and_figure_options(out)
    e = p.add_argument_group("edit")
    e.add_argument("--source-label", metavar="L",
                   help="the photo's class (default: guessed from the discriminator's top candidates; "
                        "required for a model without a discriminator, e.g. BigGAN-deep)")
    e.add_argument("--layers", default="all", metavar="SPEC",
                   help="generator layers the edit applies to: all, 0-11, 4-, 1,3,5 (default: %(default)s)")
    e.add_argument("--method", choices=("scbn", "blend"), default="scbn",
                   help="scbn: spatial class conditioning; blend: feature blending (default: %(default)s)")
    add_options(e, BlendOptions)
    add_options(e, EditOptions, ("margin", "context", "closeup_variant"))
    e.add_argument("--box", type=box_spec, metavar="TOP,LEFT,SIDE",
                   help="crop this square of the photo instead (e.g. the whole face or animal, when the mask "
                        "covers only a small part of it and the model was trained on whole objects)")
    projection_options(p)


def add_edit_parser(sub, common, model, image):
    """Add ``collage edit`` to the subparsers ``sub``."""
    p = sub.add_parser("edit", prog="collage edit", parents=[common, model, image],
                       formatter_class=Formatter,
                       help="edit a photo (default command)", description="Edit a masked region of a photo "
                       "into another class.", epilog=EDIT_EPILOG)
    _add_edit_arguments(p)
    p.set_defaults(func=cmd_edit)


def add_demo_parser(sub, common):
    """Add ``collage demo`` to the subparsers ``sub``."""
    p = sub.add_parser("demo", prog="collage demo", parents=[common], formatter_class=Formatter,
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
    p.add_argument("--gpu", type=gpu_id, default=-1, metavar="ID", help="CUDA device id (default: %(default)s)")
    p.add_argument("--method", choices=("scbn", "blend"), default="scbn", help="edit method (default: %(default)s)")
    projection_options(p)
    p.set_defaults(func=cmd_demo)


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


# ------------------------------------------------------------------------------------------------ edit

def run_edit(bundle, photo, mask, target, *, source, args):
    """Run :func:`neuralcollage.collage.edit_photo` with progress bars; print its notes."""
    from neuralcollage.collage import edit_photo
    options = edit_options_from_args(args)
    return with_progress(lambda progress, guessing, fitting: edit_photo(
        bundle, photo, mask, target, source_label=source, layers=args.layers, method=args.method, box=args.box,
        progress=progress, guess_progress=guessing, **options, **fit_kwargs(args, fitting)), args, source=source)


def edit_options_from_args(args):
    """The ``blend_options``, ``edit_options`` and ``projection_options`` of :func:`neuralcollage.collage.edit_photo`
    given on the command line (the flags of :func:`~neuralcollage.cli.common.add_options`)."""
    return {"blend_options": options_from_args(BlendOptions, args),
            "edit_options": options_from_args(EditOptions, args),
            "projection_options": options_from_args(ProjectionOptions, args)}


def fit_kwargs(args, fitting):
    """``reconstruction``, ``fit`` and ``fit_progress`` of :func:`neuralcollage.collage.edit_photo` from the
    ``--reconstruction``/``--fit-steps`` flags (``fitting``: the fit's progress bar)."""
    return {"reconstruction": args.reconstruction, "fit": fit_settings(args),
            "fit_progress": lambda step, loss: fitting(step - 1, loss, None)}


def fit_settings(args):
    """The :class:`~neuralcollage.reconstruction.FitOptions` of ``--reconstruction`` with ``--fit-steps`` and
    ``--seed`` (None: projection only)."""
    import dataclasses
    from neuralcollage.reconstruction import fit_options
    settings = fit_options(args.reconstruction)
    return None if settings is None else dataclasses.replace(settings, steps=args.fit_steps, seed=args.seed)


def fit_line(result):
    """The reconstruction part of an edit's summary line, e.g. ``reconstruction 31.2 dB (features fit, ...)``."""
    if result.reconstruction_psnr is None:
        return ""
    if result.fit is None:
        return f"; reconstruction {result.reconstruction_psnr:.1f} dB (projection)"
    alone = "" if result.projection_psnr is None else f", projection alone {result.projection_psnr:.1f} dB"
    return f"; reconstruction {result.reconstruction_psnr:.1f} dB ({result.fit.options.method} fit{alone})"


def with_progress(run, args, *, source):
    """``run(progress, guess_progress, fit_progress)`` with the projection's, the fit's (and, without
    ``source``, the class guess's) progress bars; prints the result's notes and returns it."""
    progress = Progress(steps=args.steps, enabled=not args.quiet)
    guessing = GuessProgress(enabled=not args.quiet and source is None)
    fitting = Progress(steps=max(args.fit_steps - 1, 0), desc="fit",
                       enabled=not args.quiet and fit_settings(args) is not None and args.fit_steps > 0)
    try:
        result = run(progress, guessing, fitting)
    finally:
        guessing.close()
        progress.close()
        fitting.close()
    for line in result.notes:
        note(line)
    return result


def write_edit(result, photo, mask, *, output, recipe_path, figure_path, inputs):
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
    output = args.output or f"{stem(args.base)}_{safe_name(args.label)}.png"
    inputs = [args.base, args.mask]
    if os.path.exists(args.model):
        inputs.append(args.model)
    check_poisson(args.seam, args.colour_reach, args.blend_mode, "--blend-mode")
    check_outputs([(output, "image"), (args.save_recipe, "json"), (args.figure, "image")], inputs)
    require_photo_class(args.model, args.source_label, "--source-label")
    photo = read_photo(args.base, args)
    mask = read_mask_for(args.mask, photo, args)
    vocab = vocabulary(args.model, args.arch)
    target = vocab.index(args.label)
    source = None if args.source_label is None else vocab.index(args.source_label)
    bundle = load(args.model, args.arch, args.gpu)
    require_photo_class(args.model, args.source_label, "--source-label", bundle)
    result = run_edit(bundle, photo, mask, target, source=source, args=args)
    written = write_edit(result, photo, mask, output=output, recipe_path=args.save_recipe,
                         figure_path=args.figure, inputs=inputs)
    src = result.source_class
    print(f"edited {args.base}: {label_name(vocab, src)} -> {label_name(vocab, target)} "
          f"({args.method}, layers {args.layers}, {args.steps} steps{fit_line(result)}) in "
          f"{time.time() - started:.1f} s; wrote {', '.join(written)}")
    return EXIT_OK


# ------------------------------------------------------------------------------------------------ demo

def examples_dir():
    """The bundled demo inputs: ``neuralcollage/data/examples``."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "examples")


def cmd_demo(args):
    from neuralcollage.io import InputError
    started = time.time()
    folder = examples_dir()
    spec = read_json(os.path.join(folder, "example.json"))
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
    check_outputs([(result_path, "image"), (figure_path, "image"), (recipe_path, "json")], inputs)
    require_registered_discriminator(args.model)
    photo = read_image(photo_path)
    mask = read_mask(mask_path)
    vocab = vocabulary(args.model, None)
    target = vocab.index(spec["target_label"])
    source = vocab.index(spec["source_label"]) if spec.get("source_label") else None
    bundle = load(args.model, None, args.gpu)
    require_discriminator(bundle)
    say(f"demo: turning the {spec.get('part', 'masked region')} of the {spec.get('source_label', 'photo')} in "
        f"{photo_path} ({photo.shape[1]}x{photo.shape[0]}) into a {spec['target_label']} with model "
        f"{bundle.name} ...", quiet=args.quiet)
    args.layers, args.box = spec.get("layers", "all"), spec.get("box")
    for cls in (BlendOptions, EditOptions):
        for name in cls.names():
            setattr(args, name, spec.get(name))
    result = run_edit(bundle, photo, mask, target, source=source, args=args)
    written = write_edit(result, photo, mask, output=result_path, recipe_path=recipe_path,
                         figure_path=figure_path, inputs=inputs)
    print(f"demo: edited the {spec.get('part', 'masked region')} of {os.path.basename(photo_path)} "
          f"({label_name(vocab, result.source_class)} -> {vocab[target]}, {args.method}, "
          f"{args.steps} steps{fit_line(result)}) in {time.time() - started:.1f} s; wrote {', '.join(written)}")
    return EXIT_OK

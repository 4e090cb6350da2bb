"""``collage replay``: reproduce an edit from its recipe."""
import math

from .common import CommandError, EXIT_MODEL, EXIT_OK, Formatter, gpu_id
from .support import Progress, check_outputs, load, read_json, read_photo, registry_entry
from .edit import fit_line


def add_replay_parser(sub, common, image):
    """Add ``collage replay`` to the subparsers ``sub``."""
    p = sub.add_parser("replay", prog="collage replay", parents=[common, image], formatter_class=Formatter,
                       help="replay a recipe",
                       description="Reproduce an edit from a recipe written by --save-recipe, or a painting from "
                       "a painter's recipe (PaintDocument.export_recipe, style painting included), bit for bit on "
                       "the CPU with the same model file.", epilog="""\
examples:
  collage replay edit.json --base dog.png -o again.png
  collage replay painting.json -o again.png [--model NAME|PATH] [--style-exemplar hatch=moved/hatch.png]
""")
    p.add_argument("recipe", metavar="RECIPE", help="recipe JSON")
    p.add_argument("--base", metavar="PHOTO", help="the photo the recipe was made on (required for an edit recipe "
                   "and a painting of a photo)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the edited photo")
    p.add_argument("--model", metavar="NAME|PATH",
                   help="model (default: the registered model the recipe names; a recipe made with a model "
                        "file needs --model, since a recipe never chooses a file to read)")
    p.add_argument("--arch", metavar="PRESET", help="architecture of an official file given by path")
    p.add_argument("--gpu", type=gpu_id, default=-1, metavar="ID",
                   help="CUDA device id, -1 for the CPU (default: %(default)s; bit-exact only on the CPU)")
    p.add_argument("--style-exemplar", action="append", default=[], metavar="NAME=PATH",
                   help="where a painting's style exemplar file NAME is now (its sha256 must be the recorded one; "
                        "default: the recorded path, which must be relative and inside the recipe's folder: a recipe "
                        "cannot choose a file elsewhere)")
    p.set_defaults(func=cmd_replay)


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
    entry = registry_entry(name)
    if entry is None:
        shown = name if len(name) <= 80 else name[:77] + "..."
        raise CommandError(f"{args.recipe}: the recipe names model {shown!r}, which is not a registered model; a "
                           f"recipe cannot choose a file to load: give --model NAME|PATH (the model it was made "
                           f"with)")
    return entry.name


def _style_paths(args):
    paths = {}
    for item in args.style_exemplar:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise CommandError(f"--style-exemplar takes NAME=PATH, got {item!r}")
        paths[name] = path
    return paths


def _replay_painting(args, recipe):
    """``collage replay`` of a painter's recipe (:func:`neuralcollage.painting.replay_recipe`)."""
    import os

    from neuralcollage import painting
    try:
        painting.check_recipe(recipe)
    except ValueError as exc:
        raise CommandError(f"{args.recipe}: {exc}") from None
    if "photo" in recipe and not args.base:
        raise CommandError(f"{args.recipe} is a painting of a photo: give --base PHOTO (the photo it was made on)")
    paths = _style_paths(args)
    name, sha = _recipe_model(recipe)
    if not isinstance(name, str) or not name:
        raise CommandError(f"{args.recipe}: the recipe names no model; give --model NAME|PATH")
    model = _replay_model(args, name)
    photo = read_photo(args.base, args) if args.base and "photo" in recipe else None
    bundle = load(model, args.arch, args.gpu)
    if isinstance(sha, str) and bundle.sha256.get("generator") not in (None, sha):
        raise CommandError(f"{args.recipe} was made with a generator of sha256 {sha[:16]}... but "
                           f"{bundle.files.get('generator')} has {bundle.sha256['generator'][:16]}...", EXIT_MODEL)
    from neuralcollage.io import write_image
    try:
        image = painting.replay_recipe(recipe, bundle.generator, photo=photo, exemplar_paths=paths,
                                       base_dir=os.path.dirname(os.path.abspath(args.recipe)))
    except ValueError as exc:
        raise CommandError(f"{args.recipe}: {exc}") from None
    write_image(args.output, image, overwrite_protect=[p for p in (args.recipe, args.base) if p])
    style = recipe.get("style")
    extra = f" (style: exemplar {style['exemplar']['name']!r})" if isinstance(style, dict) else ""
    print(f"replayed painting {args.recipe}{extra}; wrote {args.output}")
    return EXIT_OK


def cmd_replay(args):
    inputs = [p for p in (args.recipe, args.base) if p]
    check_outputs([(args.output, "image")], inputs)
    from neuralcollage.limits import RECIPE_MAX_BYTES, RECIPE_MAX_DEPTH
    recipe = read_json(args.recipe, limit=RECIPE_MAX_BYTES, max_depth=RECIPE_MAX_DEPTH)
    _check_recipe_numbers(recipe, args.recipe)
    from neuralcollage.painting import RECIPE_KIND
    if isinstance(recipe, dict) and recipe.get("kind") == RECIPE_KIND:
        return _replay_painting(args, recipe)
    if not args.base:
        raise CommandError(f"{args.recipe} is an edit recipe: give --base PHOTO (the photo it was made on)")
    if args.style_exemplar:
        raise CommandError("--style-exemplar is for painting recipes")
    from neuralcollage.collage import RecipeError, check_recipe
    try:
        fields = check_recipe(recipe)
    except RecipeError as exc:
        raise CommandError(f"{args.recipe}: {exc}") from None
    name, sha = fields["model_name"], fields["generator_sha256"]
    model = _replay_model(args, name)
    photo = read_photo(args.base, args)
    if tuple(photo.shape[:2]) != (fields["height"], fields["width"]):
        raise CommandError(f"{args.base} is {photo.shape[1]}x{photo.shape[0]} but the recipe was made for a "
                           f"{fields['width']}x{fields['height']} photo (WxH)")
    bundle = load(model, args.arch, args.gpu)
    if sha and bundle.sha256.get("generator") not in (None, sha):
        raise CommandError(f"{args.recipe} was made with a generator of sha256 {sha[:16]}... but "
                           f"{bundle.files.get('generator')} has {bundle.sha256['generator'][:16]}...", EXIT_MODEL)
    from neuralcollage.collage import replay
    from neuralcollage.io import read_image_info, write_image
    fit = (recipe.get("reconstruction") or {}).get("fit") if isinstance(recipe.get("reconstruction"), dict) else None
    steps = fit.get("steps", 0) if isinstance(fit, dict) and isinstance(fit.get("steps"), int) else 0
    fitting = Progress(steps=max(steps - 1, 0), desc="fit", enabled=not args.quiet and steps > 0)
    try:
        result = replay(recipe, photo, bundle, fit_progress=lambda step, loss: fitting(step - 1, loss, None))
    except RecipeError as exc:
        raise CommandError(f"{args.recipe}: {exc}") from None
    finally:
        fitting.close()
    write_image(args.output, result.image, overwrite_protect=inputs, metadata=read_image_info(args.base))
    print(f"replayed {args.recipe} on {args.base}{fit_line(result)}; wrote {args.output}")
    return EXIT_OK

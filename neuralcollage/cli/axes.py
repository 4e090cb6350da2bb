"""``collage axes`` (discover, evaluate): find a generator's latent attribute axes and save them beside it, or
measure them.

The commands parse, call :mod:`neuralcollage.analysis.axes` (discovery, evaluation, tables, figures) and
:mod:`neuralcollage.axes` (decorrelation, axes files), and save.
"""
import argparse
import math
import os
import time

from .common import (CommandError, EXIT_MODEL, EXIT_OK, Formatter, Parser, finite_float, gpu_id, positive_int, ranged,
                     say)
from .support import check_outputs, device_id

AXES_DESCRIPTION = """\
Latent attribute axes, which `collage attribute --axis NAME` moves a photo along: find them for a generator
(discover) or measure them (evaluate).
"""

DISCOVER_DESCRIPTION = """\
Find latent attribute axes of a generator and save them beside it (axes.json).

Samples latents, generates, predicts the attributes with the attribute regressor, fits one least-squares
axis per attribute (neuralcollage.analysis.axes.discover_axes) and decorrelates every axis from the others by
orthogonal projection (neuralcollage.axes.decorrelate_all).  The file holds the decorrelated axes under the
attribute names (what `--axis NAME` edits use) and the raw fits as NAME_raw, with the sha256 of the
generator they belong to (neuralcollage.axes.bundle_axes refuses them for another generator file).
"""

EVALUATE_DESCRIPTION = """\
Measure latent attribute axes (neuralcollage.analysis.axes.evaluate_axes) and write a table and a figure.

Per axis: the attribute's change per unit of movement and R^2 over the tested amounts (attribute measured
by the regressor), the share of edited samples the classifier still assigns to the conditioned class, the
change outside the region of a local edit (mean absolute difference in [0, 255] outside the dilated
region), and the entanglement between axes before (NAME_raw) and after (NAME) decorrelation.

Writes into --out: axes_eval.json (everything), axes_eval.md (tables), axes_eval.csv (per-axis rows) and
axes_eval.png (entanglement heatmaps and attribute-against-amount curves).
"""

EXIT_TEXT = """
Exit status: 0 success, 2 bad input (options, attributes, axes file), 3 model problem (a missing or unusable
generator, regressor or classifier).  Nothing is written on bad input.
"""

def _builtin(name):
    from neuralcollage.pretrained import builtin_dir
    return os.path.join(builtin_dir(), name)


def _beside(generator, name):
    """``name`` beside ``generator`` when it exists there, else the built-in model's."""
    path = os.path.join(os.path.dirname(os.path.abspath(generator)), name)
    return path if os.path.exists(path) else _builtin(name)


def _amounts(text):
    try:
        values = [float(a) for a in text.split(",")]
    except ValueError:
        values = []
    if not values or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
    return values


_radius = finite_float(lambda v: 0 < v <= 1, "a fraction of the resolution in (0, 1]")


def add_axes_parsers(sub, common):
    """Add ``collage axes`` and its discover and evaluate to the subparsers ``sub``."""
    p = sub.add_parser("axes", prog="collage axes", formatter_class=Formatter,
                       help="find or measure latent attribute axes (discover|evaluate)",
                       description=AXES_DESCRIPTION, epilog="""\
examples:
  collage axes discover                 # the built-in model: neuralcollage/data/pretrained/builtin64/axes.json
  collage axes evaluate --out out/axes  # the built-in model and its axes.json
""")
    asub = p.add_subparsers(dest="what", metavar="{discover,evaluate}", parser_class=Parser)
    asub.required = True

    q = asub.add_parser("discover", prog="collage axes discover", parents=[common], formatter_class=Formatter,
                        help="find the axes of a generator and save them", description=DISCOVER_DESCRIPTION,
                        epilog="""\
examples:
  collage axes discover                 # the built-in model: neuralcollage/data/pretrained/builtin64/axes.json
  collage axes discover --generator runs/builtin64/generator.npz --n-samples 4000 --classes all \\
      -o out/axes_per_class.json
""" + EXIT_TEXT)
    q.add_argument("--generator", metavar="NPZ",
                   help="generator snapshot (default: the built-in model's generator.npz)")
    q.add_argument("--regressor", metavar="NPZ",
                   help="attribute regressor snapshot (default: regressor.npz beside the generator, else the "
                        "built-in model's)")
    q.add_argument("-o", "--output", metavar="FILE",
                   help="axes file, .json or .npz (default: axes.json beside the generator)")
    q.add_argument("--n-samples", type=positive_int, default=3000, metavar="N",
                   help="latents per fit, per class with --classes (default: %(default)s)")
    q.add_argument("--classes", metavar="all|IDS",
                   help="per-class axes: 'all' or comma-separated class ids (default: global axes)")
    q.add_argument("--attributes", metavar="LIST",
                   help="comma-separated attributes to keep (default: every regressor output)")
    q.add_argument("--seed", type=ranged("seed"), default=0, help="seed of the latents and classes "
                                                                  "(default: %(default)s)")
    q.add_argument("--batch-size", type=positive_int, default=64, metavar="N",
                   help="images per forward pass (default: %(default)s)")
    q.add_argument("--no-raw", action="store_true", help="do not also save the raw (not decorrelated) axes")
    q.add_argument("--note", help="a remark stored in the file (e.g. which training iteration)")
    q.add_argument("--gpu", type=gpu_id, default=-1, metavar="ID",
                   help="CUDA device id, -1 for the CPU (default: %(default)s)")
    q.set_defaults(func=cmd_axes_discover)

    q = asub.add_parser("evaluate", prog="collage axes evaluate", parents=[common], formatter_class=Formatter,
                        help="measure axes: table and figure", description=EVALUATE_DESCRIPTION, epilog="""\
examples:
  collage axes evaluate --out out/axes  # the built-in model and its axes.json
  collage axes evaluate --generator runs/builtin64/generator.npz --axes out/axes.json \\
      --classifier runs/classifier/classifier.npz --amounts=-3,-1.5,0,1.5,3 --n 128 --out out/axes
""" + EXIT_TEXT)
    q.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    q.add_argument("--generator", metavar="NPZ",
                   help="generator snapshot (default: the built-in model's generator.npz)")
    q.add_argument("--axes", metavar="FILE", help="axes file (default: axes.json beside the generator)")
    q.add_argument("--regressor", metavar="NPZ",
                   help="attribute regressor (default: regressor.npz beside the generator, else the built-in "
                        "model's)")
    q.add_argument("--classifier", metavar="NPZ|none",
                   help="whole-image classifier, or 'none' (default: classifier.npz beside the generator, else "
                        "the built-in model's)")
    q.add_argument("--names", metavar="LIST",
                   help="comma-separated axes to measure (default: every decorrelated axis; their NAME_raw "
                        "partners are measured as 'before')")
    q.add_argument("--amounts", type=_amounts, default=_amounts("-2,-1,0,1,2"), metavar="LIST",
                   help="tested amounts, comma-separated, including 0 (default: -2,-1,0,1,2)")
    q.add_argument("--n", type=positive_int, default=64, help="latents per axis (default: %(default)s)")
    q.add_argument("--seed", type=ranged("seed"), default=1000,
                   help="seed of the latents; use another than discovery's (default: %(default)s)")
    q.add_argument("--layers", default="all", help="blend layers of the local edits (default: %(default)s)")
    q.add_argument("--radius", type=_radius, default=0.3, metavar="F",
                   help="radius of the local edits' disc, fraction of R (default: %(default)s)")
    q.add_argument("--dilate", type=ranged("dilate"), default=2, metavar="PX",
                   help="pixels the region grows by before measuring outside (default: %(default)s)")
    q.add_argument("--batch-size", type=positive_int, default=64, metavar="N",
                   help="images per forward pass (default: %(default)s)")
    q.add_argument("--gpu", type=gpu_id, default=-1, metavar="ID",
                   help="CUDA device id, -1 for the CPU (default: %(default)s)")
    q.set_defaults(func=cmd_axes_evaluate)


# ------------------------------------------------------------------------------------------------ commands

def _require_files(pairs):
    for path, what in pairs:
        if not os.path.isfile(path):
            raise CommandError(f"{what} {path}: no such file", EXIT_MODEL)


def _classes(text):
    from neuralcollage.io import InputError
    if text is None or text == "all":
        return text
    try:
        return [int(c) for c in text.split(",")]
    except ValueError:
        raise InputError(f"--classes: expected 'all' or comma-separated class ids, got {text!r}") from None


def cmd_axes_discover(args):
    import dataclasses

    import neuralcollage
    from neuralcollage import axes as ax
    from neuralcollage.analysis import axes as axa
    from neuralcollage.io import InputError
    start = time.perf_counter()
    generator = args.generator or _builtin("generator.npz")
    output = args.output or os.path.join(os.path.dirname(os.path.abspath(generator)), ax.AXES_FILE)
    regressor_path = args.regressor or _beside(generator, "regressor.npz")
    classes = _classes(args.classes)
    _require_files(((generator, "generator"), (regressor_path, "regressor")))
    check_outputs([(output, "json")], [generator, regressor_path])
    gen = neuralcollage.load_generator(generator, device=device_id(args.gpu))
    regressor = neuralcollage.load_model(regressor_path, kind="regressor", device=device_id(args.gpu))
    keep = [a.strip() for a in args.attributes.split(",")] if args.attributes else None
    unknown = sorted(set(keep or ()) - set(regressor.attributes))
    if unknown:
        raise InputError(f"unknown attributes {unknown}; the regressor predicts {list(regressor.attributes)}")
    say(f"discovering axes from {args.n_samples} latents", quiet=args.quiet)
    found = axa.discover_axes(gen, regressor, n_samples=args.n_samples, classes=classes, seed=args.seed,
                              batch_size=args.batch_size)
    if keep:
        found = [a for a in found if a.attribute in keep]
    decorrelated = ax.decorrelate_all(found)
    raw = [] if args.no_raw else [dataclasses.replace(a, name=a.name + "_raw") for a in found]
    folder = os.path.dirname(os.path.abspath(output))
    model = {"generator": os.path.relpath(os.path.abspath(generator), folder),
             "generator_sha256": ax.file_sha256(generator),
             "regressor": os.path.relpath(os.path.abspath(regressor_path), folder),
             "regressor_sha256": ax.file_sha256(regressor_path),
             "resolution": gen.resolution, "n_classes": gen.n_classes, "dim_z": gen.dim_z}
    notes = {"note": args.note, "n_samples": args.n_samples, "seed": args.seed, "classes": args.classes,
             "method": "least squares of each attribute on z with one intercept per class; unit slopes; "
                       "NAME = NAME_raw decorrelated from the other axes of its class (Gram-Schmidt)"}
    ax.save_axes(output, decorrelated + raw, model=model, notes=notes, overwrite_protect=(generator, regressor_path))
    if not args.quiet:
        for a, d in zip(found, decorrelated):
            print(f"{a.label:24s} fit R^2 {a.r2:.3f}  slope {a.slope:.4f}/unit  decorrelated slope "
                  f"{d.slope:.4f}/unit (cos to raw {float(a.direction @ d.direction):.3f})")
        print(f"{len(found)} axes from {args.n_samples} latents in {time.perf_counter() - start:.1f} s")
    print(output)
    return EXIT_OK


def split_axes(axes, names=None):
    """``(after, before)``: the chosen axes and, when every one has a ``NAME_raw`` partner, those partners."""
    from neuralcollage import axes as ax
    if names:
        after = [ax.get_axis(axes, n) for n in names]
    else:
        after = [a for a in axes if a.decorrelated_from] or [a for a in axes if not a.name.endswith("_raw")]
    partners = {(a.name, a.class_id): a for a in axes}
    before = [partners.get((a.name + "_raw", a.class_id)) for a in after]
    return after, (before if all(b is not None for b in before) else None)


def cmd_axes_evaluate(args):
    import json

    import neuralcollage
    from neuralcollage import axes as ax
    from neuralcollage.analysis import axes as axa
    from neuralcollage.io import InputError, atomic_write_text
    start = time.perf_counter()
    generator = args.generator or _builtin("generator.npz")
    axes_path = args.axes or os.path.join(os.path.dirname(os.path.abspath(generator)), ax.AXES_FILE)
    regressor_path = args.regressor or _beside(generator, "regressor.npz")
    classifier_path = args.classifier or _beside(generator, "classifier.npz")
    _require_files([(generator, "generator"), (regressor_path, "regressor")]
                   + ([] if classifier_path == "none" else [(classifier_path, "classifier")]))
    if not os.path.isfile(axes_path):
        raise InputError(f"axes file {axes_path}: no such file ({ax.DISCOVER_HINT})")
    paths = {k: os.path.join(args.out, f"axes_eval.{k}") for k in ("json", "md", "csv", "png")}
    inputs = [generator, axes_path, regressor_path, classifier_path]
    if os.path.isdir(args.out):
        check_outputs([(p, "json") for p in paths.values()], inputs)
    gen = neuralcollage.load_generator(generator, device=device_id(args.gpu))
    regressor = neuralcollage.load_model(regressor_path, kind="regressor", device=device_id(args.gpu))
    classifier = None if classifier_path == "none" else neuralcollage.load_model(
        classifier_path, kind="classifier", device=device_id(args.gpu))
    axes = ax.load_axes(axes_path, dim_z=gen.dim_z)
    after, before = split_axes(axes, args.names.split(",") if args.names else None)
    say(f"measuring {len(after)} axes x {len(args.amounts)} amounts x {args.n} latents", quiet=args.quiet)
    result = axa.evaluate_axes(gen, regressor, classifier, after, before=before, amounts=args.amounts, n=args.n,
                               seed=args.seed, mask=ax.disc_mask(gen.resolution, radius=args.radius),
                               layers=args.layers, dilate=args.dilate, batch_size=args.batch_size)
    result["inputs"] = {"generator": os.path.abspath(generator), "axes": os.path.abspath(axes_path),
                        "regressor": os.path.abspath(regressor_path),
                        "classifier": None if classifier is None else os.path.abspath(classifier_path)}
    os.makedirs(args.out, exist_ok=True)
    atomic_write_text(paths["json"], json.dumps(result, indent=1, allow_nan=True) + "\n")
    table = axa.evaluation_table(result)
    atomic_write_text(paths["md"], f"# Attribute axes of {generator}\n\n{table}\n")
    atomic_write_text(paths["csv"], axa.evaluation_table(result, fmt="csv"))
    axa.plot_evaluation(result, paths["png"])
    if not args.quiet:
        print(table)
        print(f"{len(after)} axes x {len(args.amounts)} amounts x {args.n} latents in "
              f"{time.perf_counter() - start:.1f} s")
    for p in paths.values():
        print(p)
    return EXIT_OK

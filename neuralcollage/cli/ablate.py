"""``collage ablate`` (scbn, blend): which layers a collage touches, measured (the paper's Figs. 9 and 10).

The command parses, calls :mod:`neuralcollage.analysis.ablation` (models, settings, the ablation, the report)
and prints the summary and the paths it wrote.
"""
import time

from .common import EXIT_OK, Formatter, Parser, finite_float, gpu_id, nonnegative_int, positive_int
from .support import SettingProgress, device_id

#: ``neuralcollage.analysis.ablation.CROP_MODES``, repeated so that ``--help`` does not import Chainer (a test
#: keeps them equal).
CROP_MODES = ("bbox", "square")

ABLATE_DESCRIPTION = """\
Measure which layers a collage edit touches: render one edit per latent and layer setting, and measure per
setting how well it works inside the region and how far the change spreads outside it (the paper's Fig. 9
for sCBN, Fig. 10 for feature blending).  Writes grids, CSVs, a trend plot and a Markdown summary into --out.
"""

SCBN_DESCRIPTION = """\
sCBN layer ablation (the paper's Fig. 9), measured.

Applies the collage "target class inside the region, source class outside" to different sets of class
layers (the paper's all / only the first / all but the first, plus per-block, early-only and late-only
sweeps), renders one image per latent and setting, and measures per setting: translation success inside
the region (classifier on the region crop), mean change outside the region, and how global the change
is (low-frequency share of its energy, share of its energy outside the region).

Writes into --out: scbn_grid.png (rows: latents, columns: settings), scbn_ablation.csv (one row per
setting), scbn_ablation_samples.csv (one row per setting and latent), scbn_summary.md (the trend with
measured values) and scbn_trend.png (metrics over layer depth).

Layer settings use the library's layer syntax (as `collage edit --layers`): "all", "3", "0-3", "4-", "0-2,5".
Class layer 2(b-2) is block{b}/b1 and 2(b-2)+1 is block{b}/b2; layer 0 is nearest the latent.
"""

BLEND_DESCRIPTION = """\
Feature-blending layer ablation (the paper's Fig. 10), measured.

Blends a donor latent's features into a region of a base latent's image at different blend layers and
donor weights (inside the region the target stream becomes (1 - w) * base + w * donor at the selected
layers; the base latent's features outside), renders one image per latent, setting and weight, and
measures per setting: transfer of the donor inside the region, mean change outside the region, and how
global the change is (low-frequency share of its energy, share of its energy outside the region).

Writes into --out: blend_grid_w<weight>.png (rows: latents, columns: unedited, donor and the settings),
blend_ablation.csv (one row per setting and weight), blend_ablation_samples.csv (per latent),
blend_summary.md (the trend with measured values) and blend_trend.png (metrics over layer depth).

Layer settings use the library's layer syntax over the blend layers: 0 is after the first linear layer
(4x4), layer b after residual block b+1; "all", "2", "0-1", "3-".  A selected blend layer replaces the
target stream, so a range renders like its last layer; single layers are the informative settings (the
default).
"""

EXIT_TEXT = """
Exit status: 0 success, 2 bad input (layer settings, seeds, region, classes, options), 3 model problem.
Nothing is written on bad input.
"""

_crop_margin = finite_float(lambda v: v >= 0, "a margin >= 0")
_sigma = finite_float(lambda v: v >= 0, "a sigma >= 0 (px)")
_radius = finite_float(lambda v: v > 0, "a radius > 0 (cycles per image)")
_weight = finite_float(lambda v: 0 < v <= 1, "donor weights in (0, 1]")


def add_ablate_parsers(sub, common):
    """Add ``collage ablate`` and its scbn and blend to the subparsers ``sub``."""
    p = sub.add_parser("ablate", prog="collage ablate", formatter_class=Formatter,
                       help="measure which layers a collage touches (scbn|blend)",
                       description=ABLATE_DESCRIPTION, epilog="""\
examples:
  collage ablate scbn --source cat --target fox --out docs/ablation/scbn
  collage ablate blend --cls cat --out docs/ablation/blend
""")
    asub = p.add_subparsers(dest="what", metavar="{scbn,blend}", parser_class=Parser)
    asub.required = True

    q = asub.add_parser("scbn", prog="collage ablate scbn", parents=[common], formatter_class=Formatter,
                        help="sCBN class layers (Fig. 9)", description=SCBN_DESCRIPTION, epilog="""\
examples:
  collage ablate scbn --out out/scbn
  collage ablate scbn --model runs/builtin64/generator.npz --source cat --target panda --region center \\
      --out out/scbn
  collage ablate scbn --settings all 0 1- 0-3 4- --seeds 0-15 --region mask.png --out out/scbn
""" + EXIT_TEXT)
    _model_and_region(q)
    q.add_argument("--source", default="0", help="class outside the region, name or index (default: %(default)s)")
    q.add_argument("--target", default="1", help="class inside the region, name or index (default: %(default)s)")
    q.add_argument("--settings", nargs="+", metavar="LAYERS",
                   help="class-layer settings (default: all, 0, 1- (Fig. 9), every block (0-1, 2-3, ...), "
                        "early-only prefixes (0-3, ...) and late-only suffixes (2-, 4-, ...))")
    q.add_argument("--seeds", default="0-15", help="latent seeds: integers and ranges, e.g. 0-7,12 "
                                                   "(default: %(default)s)")
    _measurement(q, map_name="class map")
    q.set_defaults(func=cmd_ablate_scbn)

    q = asub.add_parser("blend", prog="collage ablate blend", parents=[common], formatter_class=Formatter,
                        help="feature-blending layers (Fig. 10)", description=BLEND_DESCRIPTION, epilog="""\
examples:
  collage ablate blend --out out/blend
  collage ablate blend --model runs/builtin64/generator.npz --cls dog --region top-half --weights 0.5 1 \\
      --out out/blend
""" + EXIT_TEXT)
    _model_and_region(q)
    q.add_argument("--cls", default="0", help="class of the base and donor latents, name or index "
                                              "(default: %(default)s)")
    q.add_argument("--settings", nargs="+", metavar="LAYERS",
                   help="blend-layer settings (default: every single blend layer and all)")
    q.add_argument("--weights", nargs="+", type=_weight, default=[0.25, 0.5, 1.0], metavar="W",
                   help="donor weights inside the region, in (0, 1] (default: 0.25 0.5 1.0)")
    q.add_argument("--seeds", default="0-15", help="base latent seeds: integers and ranges, e.g. 0-7,12 "
                                                   "(default: %(default)s)")
    q.add_argument("--donor-seeds", metavar="SEEDS",
                   help="donor latent seeds, one per base seed (default: the base seeds + 1000)")
    _measurement(q, map_name="blend mask")
    q.set_defaults(func=cmd_ablate_blend)


def _model_and_region(q):
    q.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    q.add_argument("--model", default="builtin", metavar="NAME|PATH",
                   help="registered model name, or a generator .npz path (sibling classifier.npz / "
                        "discriminator.npz are used) (default: %(default)s)")
    q.add_argument("--region", default="center", metavar="NAME|MASK",
                   help="region: a name (left-half, right-half, top-half, bottom-half, center, ...; see "
                        "neuralcollage.analysis.ablation.REGIONS) or a mask image (white = region) "
                        "(default: %(default)s)")


def _measurement(q, *, map_name):
    """The measurement and output options of both ablations (``map_name``: what ``--feather`` softens)."""
    q.add_argument("--grid-rows", type=positive_int, default=8, metavar="N",
                   help="latents shown in the grids; all are measured (default: %(default)s)")
    q.add_argument("--classifier", default="auto", metavar="WHICH",
                   help="'auto' (the model's classifier, else its discriminator's class scores), 'none', "
                        "'discriminator', or a classifier / discriminator snapshot path; gives p(class) on the "
                        "region crop (default: %(default)s)")
    q.add_argument("--part-classifier", action="store_true",
                   help="with --classifier auto, use the model's part classifier on the region crop")
    q.add_argument("--classifier-size", type=positive_int, metavar="PX",
                   help="classifier input side (default: the classifier's own resolution)")
    q.add_argument("--crop", choices=CROP_MODES, default="bbox",
                   help="what the classifier sees: the region's bounding box stretched to its square input, or "
                        "a square box around the region (a half-image region then gives the whole image) "
                        "(default: %(default)s)")
    q.add_argument("--crop-margin", type=_crop_margin, default=0.0, metavar="F",
                   help="context around the region's crop, fraction of its longer side (default: %(default)s)")
    q.add_argument("--dilate", type=nonnegative_int, metavar="PX",
                   help="pixels the region grows by before measuring the change outside it (default: R/16)")
    q.add_argument("--radius", type=_radius, metavar="CYCLES",
                   help="low-frequency cut-off in cycles per image (default: R/8)")
    q.add_argument("--feather", type=_sigma, default=0.0, metavar="PX",
                   help=f"Gaussian sigma (px) of the {map_name}'s edge (default: %(default)s)")
    q.add_argument("--batch-size", type=positive_int, default=16, metavar="N",
                   help="latents per forward pass (default: %(default)s)")
    q.add_argument("--gpu", type=gpu_id, default=-1, metavar="ID",
                   help="CUDA device id, -1 for the CPU (default: %(default)s)")
    q.add_argument("--title", help="title of the figures and the summary")


# ------------------------------------------------------------------------------------------------ commands

def _run(args, measure, metrics_name):
    """Load the models, ``measure(ablation, models, seeds, progress)`` -> ``(rows, n_layers, meta)``, write the
    report, print the summary (unless --quiet) and the paths."""
    from neuralcollage.analysis import ablation
    start = time.perf_counter()
    seeds = ablation.parse_seeds(args.seeds)
    models = ablation.load_ablation_models(args.model, classifier=args.classifier,
                                           part_classifier=args.part_classifier,
                                           classifier_size=args.classifier_size, device=device_id(args.gpu))
    progress = SettingProgress(enabled=not args.quiet)
    try:
        rows, n_layers, meta = measure(ablation, models, seeds, progress)
    finally:
        progress.close()
    meta = dict(model=models.name, **meta, region=args.region, seeds=args.seeds,
                notes="; ".join(models.notes) or None)
    paths = ablation.write_report(rows, args.out, title=args.title, meta=meta, grid_rows=args.grid_rows)
    if not args.quiet:
        for line in ablation.summary_lines(rows, n_layers=n_layers, metrics=getattr(ablation, metrics_name)):
            print(line)
        print(f"{len(rows)} settings x {len(seeds)} latents in {time.perf_counter() - start:.1f} s")
    for key in ("summary", "csv", "samples_csv", "trend"):
        print(paths[key])
    for grid in paths["grids"]:
        print(grid)
    return EXIT_OK


def cmd_ablate_scbn(args):
    def measure(ablation, models, seeds, progress):
        gen, vocab = models.generator, models.vocabulary
        settings = args.settings or ablation.default_scbn_settings(gen.n_class_layers)
        ablation.check_settings(settings, gen.n_class_layers)
        source, target = vocab.index(args.source), vocab.index(args.target)
        rows = ablation.run_scbn_ablation(
            gen, settings=settings, z=ablation.latents_from_seeds(gen, seeds), source=source, target=target,
            mask=ablation.load_region(args.region, gen.resolution), classifier=models.classifier,
            crop=args.crop, crop_margin=args.crop_margin, dilate=args.dilate, radius=args.radius,
            feather=args.feather, batch_size=args.batch_size, seeds=seeds, progress=progress)
        return rows, gen.n_class_layers, dict(source=f"{source} ({vocab[source]})",
                                              target=f"{target} ({vocab[target]})")

    return _run(args, measure, "SCBN_METRICS")


def cmd_ablate_blend(args):
    def measure(ablation, models, seeds, progress):
        donor_seeds = ablation.parse_seeds(args.donor_seeds) if args.donor_seeds else [s + 1000 for s in seeds]
        if len(donor_seeds) != len(seeds):
            raise ValueError(f"{len(donor_seeds)} donor seeds for {len(seeds)} base seeds; give one per base "
                             f"seed")
        gen, vocab = models.generator, models.vocabulary
        settings = args.settings or ablation.default_blend_settings(gen.n_blend_layers)
        ablation.check_settings(settings, gen.n_blend_layers)
        cls = vocab.index(args.cls)
        rows = ablation.run_blend_ablation(
            gen, settings=settings, z=ablation.latents_from_seeds(gen, seeds),
            z_donor=ablation.latents_from_seeds(gen, donor_seeds), cls=cls,
            mask=ablation.load_region(args.region, gen.resolution), weights=args.weights,
            classifier=models.classifier, crop=args.crop, crop_margin=args.crop_margin, dilate=args.dilate,
            radius=args.radius, feather=args.feather, batch_size=args.batch_size, seeds=seeds,
            donor_seeds=donor_seeds, progress=progress)
        return rows, gen.n_blend_layers, dict(cls=f"{cls} ({vocab[cls]})",
                                              donor_seeds=args.donor_seeds or "seeds + 1000")

    return _run(args, measure, "BLEND_METRICS")

"""Command-line plumbing shared by ``scripts/ablate_scbn_layers.py`` and ``scripts/ablate_blend_layers.py``
(imported from this folder, not installed): the options both take, and the run / error / report printing around
:mod:`neuralcollage.analysis.ablation`."""
import argparse
import sys
import time

from neuralcollage.analysis import ablation
from neuralcollage.backend import DeviceError
from neuralcollage.snapshot import SnapshotError

__all__ = ["HelpFormatter", "make_parser", "add_shared_arguments", "run"]


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """The module docstring kept as written; defaults shown unless the help already names one."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def make_parser(prog, description):
    """An argument parser with ``--out`` and ``--model``; the script adds its own options, then calls
    :func:`add_shared_arguments`."""
    p = argparse.ArgumentParser(prog=prog, description=description, formatter_class=HelpFormatter)
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--model", default="builtin",
                   help="registered model name, or a generator .npz path (sibling classifier.npz / "
                        "discriminator.npz are used)")
    p.add_argument("--region", default="center",
                   help=f"region: one of {', '.join(ablation.REGIONS)}, or a mask image (white = region)")
    return p


def add_shared_arguments(p, *, map_name):
    """The measurement and output options of both ablations (``map_name``: what ``--feather`` softens)."""
    p.add_argument("--grid-rows", type=int, default=8, help="latents shown in the grids (all are measured)")
    p.add_argument("--classifier", default="auto",
                   help="'auto' (the model's classifier, else its discriminator's class scores), 'none', "
                        "'discriminator', or a classifier / discriminator snapshot path; gives p(class) "
                        "on the region crop")
    p.add_argument("--part-classifier", action="store_true",
                   help="with --classifier auto, use the model's part classifier on the region crop")
    p.add_argument("--classifier-size", type=int, default=None,
                   help="classifier input side (default: the classifier's own resolution)")
    p.add_argument("--crop", choices=ablation.CROP_MODES, default="bbox",
                   help="what the classifier sees: the region's bounding box stretched to its square input, "
                        "or a square box around the region (a half-image region then gives the whole image)")
    p.add_argument("--crop-margin", type=float, default=0.0,
                   help="context around the region's crop, fraction of its longer side")
    p.add_argument("--dilate", type=int, default=None,
                   help="pixels the region grows by before measuring the change outside it (default R/16)")
    p.add_argument("--radius", type=float, default=None,
                   help="low-frequency cut-off in cycles per image (default R/8)")
    p.add_argument("--feather", type=float, default=0.0, help=f"Gaussian sigma (px) of the {map_name}'s edge")
    p.add_argument("--batch-size", type=int, default=16, help="latents per forward pass")
    p.add_argument("--gpu", type=int, default=-1, help="GPU id, -1 for the CPU")
    p.add_argument("--title", default=None, help="title of the figures and the summary")
    p.add_argument("--quiet", action="store_true", help="print only the output paths")


def run(parser, argv, measure, *, metrics):
    """Parse ``argv``, load the models, call ``measure(args, models, seeds, progress)`` and report.

    ``measure`` returns ``(rows, n_layers, meta)``: the result of
    :func:`neuralcollage.analysis.ablation.run_scbn_ablation` /
    :func:`~neuralcollage.analysis.ablation.run_blend_ablation`,
    the number of selectable layers and the metadata for the report.  Bad input (``ValueError``,
    ``OSError``, model and device errors) is one line on stderr and exit status 2.

    Returns:
        the exit status.
    """
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        seeds = ablation.parse_seeds(args.seeds)
        if args.grid_rows < 1:
            raise ValueError(f"--grid-rows must be >= 1, got {args.grid_rows}")
        models = ablation.load_ablation_models(args.model, classifier=args.classifier,
                                               part_classifier=args.part_classifier,
                                               classifier_size=args.classifier_size, device=args.gpu)
        progress = None if args.quiet else (lambda i, n, s: print(f"[{i}/{n}] layers {s}", file=sys.stderr))
        rows, n_layers, meta = measure(args, models, seeds, progress)
        meta = dict(model=models.name, **meta, region=args.region, seeds=args.seeds,
                    notes="; ".join(models.notes) or None)
        paths = ablation.write_report(rows, args.out, title=args.title, meta=meta, grid_rows=args.grid_rows)
    except (ValueError, OSError, SnapshotError, DeviceError) as exc:
        print(f"{parser.prog}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    if not args.quiet:
        for line in ablation.summary_lines(rows, n_layers=n_layers, metrics=metrics):
            print(line)
        print(f"{len(rows)} settings x {len(seeds)} latents in {time.perf_counter() - start:.1f} s")
    for key in ("summary", "csv", "samples_csv", "trend"):
        print(paths[key])
    for g in paths["grids"]:
        print(g)
    return 0

#!/usr/bin/env python
"""sCBN layer ablation (the paper's Fig. 9), measured.

Applies the collage "target class inside the region, source class outside" to different sets of class
layers (the paper's all / only the first / all but the first, plus per-block, early-only and late-only
sweeps), renders one image per latent and setting, and measures per setting: translation success inside
the region (classifier on the region crop), mean change outside the region, and how global the change
is (low-frequency share of its energy, share of its energy outside the region).

Writes into --out: scbn_grid.png (rows: latents, columns: settings), scbn_ablation.csv (one row per
setting), scbn_ablation_samples.csv (one row per setting and latent), scbn_summary.md (the trend with
measured values) and scbn_trend.png (metrics over layer depth).

Layer settings use the library's layer syntax (as the CLI's --layers): "all", "3", "0-3", "4-", "0-2,5".
Class layer 2(b-2) is block{b}/b1 and 2(b-2)+1 is block{b}/b2; layer 0 is nearest the latent.

examples:
  python scripts/ablate_scbn_layers.py --out out/scbn
  python scripts/ablate_scbn_layers.py --model runs/builtin64/generator.npz --source cat --target panda \\
      --region center --out out/scbn
  python scripts/ablate_scbn_layers.py --settings all 0 1- 0-3 4- --seeds 0-15 --region mask.png --out out/scbn
"""
import argparse
import sys
import time

import neuralcollage  # noqa: F401  (before Chainer)
from neuralcollage import ablation
from neuralcollage.backend import DeviceError
from neuralcollage.snapshot import SnapshotError


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    def _get_help_string(self, action):
        if action.default is None or action.default is False or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def build_parser():
    p = argparse.ArgumentParser(prog="ablate_scbn_layers.py", description=__doc__, formatter_class=_Formatter)
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--model", default="builtin",
                   help="registered model name, or a generator .npz path (sibling classifier.npz / "
                        "discriminator.npz are used)")
    p.add_argument("--source", default="0", help="class outside the region (name or index)")
    p.add_argument("--target", default="1", help="class inside the region (name or index)")
    p.add_argument("--region", default="center",
                   help=f"region: one of {', '.join(ablation.REGIONS)}, or a mask image (white = region)")
    p.add_argument("--settings", nargs="+", metavar="LAYERS", default=None,
                   help="class-layer settings; default: all, 0, 1- (Fig. 9), every block (0-1, 2-3, ...), "
                        "early-only prefixes (0-3, ...) and late-only suffixes (2-, 4-, ...)")
    p.add_argument("--seeds", default="0-15", help="latent seeds: integers and ranges, e.g. 0-7,12")
    p.add_argument("--grid-rows", type=int, default=8, help="latents shown in the grid (all are measured)")
    p.add_argument("--classifier", default="auto",
                   help="'auto' (the model's classifier, else its discriminator's class scores), 'none', "
                        "'discriminator', or a classifier / discriminator snapshot path")
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
    p.add_argument("--feather", type=float, default=0.0, help="Gaussian sigma (px) of the class map's edge")
    p.add_argument("--batch-size", type=int, default=16, help="latents per forward pass")
    p.add_argument("--gpu", type=int, default=-1, help="GPU id, -1 for the CPU")
    p.add_argument("--title", default=None, help="title of the figures and the summary")
    p.add_argument("--quiet", action="store_true", help="print only the output paths")
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        seeds = ablation.parse_seeds(args.seeds)
        if args.grid_rows < 1:
            raise ValueError(f"--grid-rows must be >= 1, got {args.grid_rows}")
        models = ablation.load_ablation_models(args.model, classifier=args.classifier,
                                               part_classifier=args.part_classifier,
                                               classifier_size=args.classifier_size, device=args.gpu)
        gen, vocab = models.generator, models.vocabulary
        settings = args.settings or ablation.default_scbn_settings(gen.n_class_layers)
        ablation.check_settings(settings, gen.n_class_layers)
        source, target = vocab.index(args.source), vocab.index(args.target)
        mask = ablation.load_region(args.region, gen.resolution)
        log = None if args.quiet else (lambda i, n, s: print(f"[{i}/{n}] layers {s}", file=sys.stderr))
        result = ablation.run_scbn_ablation(
            gen, settings=settings, z=ablation.latents_from_seeds(gen, seeds), source=source, target=target,
            mask=mask, classifier=models.classifier, crop=args.crop, crop_margin=args.crop_margin, dilate=args.dilate,
            radius=args.radius, feather=args.feather, batch_size=args.batch_size, seeds=seeds, progress=log)
        meta = dict(model=models.name, source=f"{source} ({vocab[source]})", target=f"{target} ({vocab[target]})",
                    region=args.region, seeds=args.seeds,
                    notes="; ".join(models.notes) or None)
        paths = ablation.write_report(result, args.out, title=args.title, meta=meta, grid_rows=args.grid_rows)
    except (ValueError, OSError, SnapshotError, DeviceError) as exc:
        print(f"{parser.prog}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    if not args.quiet:
        for line in ablation.summary_lines(result, n_layers=gen.n_class_layers, metrics=ablation.SCBN_METRICS):
            print(line)
        print(f"{len(result)} settings x {len(seeds)} latents in {time.perf_counter() - start:.1f} s")
    for key in ("summary", "csv", "samples_csv", "trend"):
        print(paths[key])
    for g in paths["grids"]:
        print(g)
    return 0


if __name__ == "__main__":
    sys.exit(main())

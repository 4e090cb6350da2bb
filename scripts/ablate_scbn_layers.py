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
import sys

import neuralcollage  # noqa: F401  (before Chainer)
from ablation_cli import add_shared_arguments, make_parser, run
from neuralcollage.analysis import ablation


def build_parser():
    p = make_parser("ablate_scbn_layers.py", __doc__)
    p.add_argument("--source", default="0", help="class outside the region (name or index)")
    p.add_argument("--target", default="1", help="class inside the region (name or index)")
    p.add_argument("--settings", nargs="+", metavar="LAYERS", default=None,
                   help="class-layer settings; default: all, 0, 1- (Fig. 9), every block (0-1, 2-3, ...), "
                        "early-only prefixes (0-3, ...) and late-only suffixes (2-, 4-, ...)")
    p.add_argument("--seeds", default="0-15", help="latent seeds: integers and ranges, e.g. 0-7,12")
    add_shared_arguments(p, map_name="class map")
    return p


def measure(args, models, seeds, progress):
    gen, vocab = models.generator, models.vocabulary
    settings = args.settings or ablation.default_scbn_settings(gen.n_class_layers)
    ablation.check_settings(settings, gen.n_class_layers)
    source, target = vocab.index(args.source), vocab.index(args.target)
    rows = ablation.run_scbn_ablation(
        gen, settings=settings, z=ablation.latents_from_seeds(gen, seeds), source=source, target=target,
        mask=ablation.load_region(args.region, gen.resolution), classifier=models.classifier, crop=args.crop,
        crop_margin=args.crop_margin, dilate=args.dilate, radius=args.radius, feather=args.feather,
        batch_size=args.batch_size, seeds=seeds, progress=progress)
    return rows, gen.n_class_layers, dict(source=f"{source} ({vocab[source]})", target=f"{target} ({vocab[target]})")


def main(argv=None):
    return run(build_parser(), argv, measure, metrics=ablation.SCBN_METRICS)


if __name__ == "__main__":
    sys.exit(main())

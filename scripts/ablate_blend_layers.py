#!/usr/bin/env python
"""Feature-blending layer ablation (the paper's Fig. 10), measured.

Blends a donor latent's features into a region of a base latent's image at different blend layers and
donor weights (inside the region the target stream becomes (1 - w) * base + w * donor at the selected
layers; the base latent's features outside), renders one image per latent, setting and weight, and
measures per setting: transfer of the donor inside the region, mean change outside the region, and how
global the change is (low-frequency share of its energy, share of its energy outside the region).

Writes into --out: blend_grid_w<weight>.png (rows: latents, columns: unedited, donor and the settings),
blend_ablation.csv (one row per setting and weight), blend_ablation_samples.csv (per latent),
blend_summary.md (the trend with measured values) and blend_trend.png (metrics over layer depth).

Layer settings use the library's layer syntax (as the CLI's --layers) over the blend layers: 0 is after
the first linear layer (4x4), layer b after residual block b+1; "all", "2", "0-1", "3-".  A selected
blend layer replaces the target stream, so a range renders like its last layer; single layers are the
informative settings (the default).

examples:
  python scripts/ablate_blend_layers.py --out out/blend
  python scripts/ablate_blend_layers.py --model runs/builtin64/generator.npz --cls dog --region top-half \\
      --weights 0.5 1 --out out/blend
"""
import sys

import neuralcollage  # noqa: F401  (before Chainer)
from ablation_cli import add_shared_arguments, make_parser, run
from neuralcollage.analysis import ablation


def build_parser():
    p = make_parser("ablate_blend_layers.py", __doc__)
    p.add_argument("--cls", default="0", help="class of the base and donor latents (name or index)")
    p.add_argument("--settings", nargs="+", metavar="LAYERS", default=None,
                   help="blend-layer settings; default: every single blend layer and all")
    p.add_argument("--weights", nargs="+", type=float, default=[0.25, 0.5, 1.0],
                   help="donor weights inside the region, in (0, 1]")
    p.add_argument("--seeds", default="0-15", help="base latent seeds: integers and ranges, e.g. 0-7,12")
    p.add_argument("--donor-seeds", default=None,
                   help="donor latent seeds, one per base seed (default: the base seeds + 1000)")
    add_shared_arguments(p, map_name="blend mask")
    return p


def measure(args, models, seeds, progress):
    donor_seeds = ablation.parse_seeds(args.donor_seeds) if args.donor_seeds else [s + 1000 for s in seeds]
    if len(donor_seeds) != len(seeds):
        raise ValueError(f"{len(donor_seeds)} donor seeds for {len(seeds)} base seeds; give one per base seed")
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
    return rows, gen.n_blend_layers, dict(cls=f"{cls} ({vocab[cls]})", donor_seeds=args.donor_seeds or "seeds + 1000")


def main(argv=None):
    return run(build_parser(), argv, measure, metrics=ablation.BLEND_METRICS)


if __name__ == "__main__":
    sys.exit(main())

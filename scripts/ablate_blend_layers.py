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
    p = argparse.ArgumentParser(prog="ablate_blend_layers.py", description=__doc__, formatter_class=_Formatter)
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--model", default="builtin",
                   help="registered model name, or a generator .npz path (sibling classifier.npz / "
                        "discriminator.npz are used)")
    p.add_argument("--cls", default="0", help="class of the base and donor latents (name or index)")
    p.add_argument("--region", default="center",
                   help=f"region: one of {', '.join(ablation.REGIONS)}, or a mask image (white = region)")
    p.add_argument("--settings", nargs="+", metavar="LAYERS", default=None,
                   help="blend-layer settings; default: every single blend layer and all")
    p.add_argument("--weights", nargs="+", type=float, default=[0.25, 0.5, 1.0],
                   help="donor weights inside the region, in (0, 1]")
    p.add_argument("--seeds", default="0-15", help="base latent seeds: integers and ranges, e.g. 0-7,12")
    p.add_argument("--grid-rows", type=int, default=8, help="latents shown in the grids (all are measured)")
    p.add_argument("--donor-seeds", default=None,
                   help="donor latent seeds, one per base seed (default: the base seeds + 1000)")
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
    p.add_argument("--feather", type=float, default=0.0, help="Gaussian sigma (px) of the blend mask's edge")
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
        donor_seeds = ablation.parse_seeds(args.donor_seeds) if args.donor_seeds else [s + 1000 for s in seeds]
        if len(donor_seeds) != len(seeds):
            raise ValueError(f"{len(donor_seeds)} donor seeds for {len(seeds)} base seeds; give one per base seed")
        models = ablation.load_ablation_models(args.model, classifier=args.classifier,
                                               part_classifier=args.part_classifier,
                                               classifier_size=args.classifier_size, device=args.gpu)
        gen, vocab = models.generator, models.vocabulary
        settings = args.settings or ablation.default_blend_settings(gen.n_blend_layers)
        ablation.check_settings(settings, gen.n_blend_layers)
        cls = vocab.index(args.cls)
        mask = ablation.load_region(args.region, gen.resolution)
        log = None if args.quiet else (lambda i, n, s: print(f"[{i}/{n}] layers {s}", file=sys.stderr))
        result = ablation.run_blend_ablation(
            gen, settings=settings, z=ablation.latents_from_seeds(gen, seeds),
            z_donor=ablation.latents_from_seeds(gen, donor_seeds), cls=cls, mask=mask, weights=args.weights,
            classifier=models.classifier, crop=args.crop, crop_margin=args.crop_margin, dilate=args.dilate,
            radius=args.radius, feather=args.feather, batch_size=args.batch_size, seeds=seeds,
            donor_seeds=donor_seeds, progress=log)
        meta = dict(model=models.name, cls=f"{cls} ({vocab[cls]})", region=args.region, seeds=args.seeds,
                    donor_seeds=args.donor_seeds or "seeds + 1000", notes="; ".join(models.notes) or None)
        paths = ablation.write_report(result, args.out, title=args.title, meta=meta, grid_rows=args.grid_rows)
    except (ValueError, OSError, SnapshotError, DeviceError) as exc:
        print(f"{parser.prog}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    if not args.quiet:
        for line in ablation.summary_lines(result, n_layers=gen.n_blend_layers, metrics=ablation.BLEND_METRICS):
            print(line)
        print(f"{len(result)} settings x {len(seeds)} latents in {time.perf_counter() - start:.1f} s")
    for key in ("summary", "csv", "samples_csv", "trend"):
        print(paths[key])
    for g in paths["grids"]:
        print(g)
    return 0


if __name__ == "__main__":
    sys.exit(main())

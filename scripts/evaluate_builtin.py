"""Measure the built-in model against its targets (issue 4) and write them as JSON.

Examples::

    python scripts/evaluate_builtin.py                          # the built-in model, all metrics
    python scripts/evaluate_builtin.py --model runs/builtin64/generator.npz --metrics classifier_accuracy \\
        conditioned_class_accuracy diversity -o runs/eval.json
    python scripts/evaluate_builtin.py --quick                  # small counts, a smoke test

Each metric (see ``neuralcollage.analysis.evaluation``):

* classifier_accuracy: whole-image classifier on held-out rendered faces (target >= 0.98);
* part_classifier_accuracy: part classifier on held-out ears/eyes/muzzle crops;
* conditioned_class_accuracy: generated samples classified as their conditioned class (target >= 0.90);
* diversity: mean pairwise classifier-feature distance within a class, generated / real (target >= 0.70);
* projection_psnr: PSNR of projections of held-out generated images, encoder start vs random start;
* part_translation: held-out faces, one part translated to another class with sCBN and Poisson-blended;
  the part classifier names the target class (target >= 0.80); outside-mask pixels unchanged.
"""
import argparse
import os
import sys

import neuralcollage._compat  # noqa: F401  (NumPy aliases before Chainer)
from neuralcollage.analysis import evaluation
from neuralcollage.blending import BLEND_MODES, SEAMS, check_colour_reach, check_seam
from neuralcollage.options import UNSET


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="builtin",
                   help="registered model name or a generator .npz / folder with sibling files")
    p.add_argument("-o", "--output", default="evaluation.json", help="JSON file to write")
    p.add_argument("--metrics", nargs="+", default=list(evaluation.METRICS), choices=evaluation.METRICS)
    p.add_argument("--n-classifier", type=int, default=600, help="held-out faces for classifier accuracy")
    p.add_argument("--n-generated", type=int, default=600, help="generated samples for class accuracy")
    p.add_argument("--n-diversity", type=int, default=50, help="samples per class for diversity")
    p.add_argument("--n-projection", type=int, default=20, help="generated images to project")
    p.add_argument("--n-translation", type=int, default=100, help="held-out faces to edit")
    p.add_argument("--steps", type=int, default=200, help="projection steps")
    p.add_argument("--photo-size", type=int, default=128, help="size of the rendered 'photos' to edit")
    p.add_argument("--part-region-grow", type=float, default=evaluation.PART_REGION_GROW,
                   help="part translation: the part mask is grown by this fraction of the photo side before "
                        "editing (0: the exact part mask)")
    p.add_argument("--part-context", type=float, default=None,
                   help="part translation: how far the target class reaches beyond the region inside the "
                        "generator, a fraction of its resolution (default: edit_photo's)")
    p.add_argument("--part-blend-mode", default="normal", choices=BLEND_MODES,
                   help="part translation: Poisson mode, or none for feathered compositing")
    p.add_argument("--part-dilate", type=int, default=8,
                   help="part translation: pixels the region grows by for blending")
    p.add_argument("--part-seam", default="fixed", choices=SEAMS,
                   help="part translation: Poisson boundary, the grown region's border or the optimal seam")
    p.add_argument("--part-colour-reach", type=float, default=None, metavar="PX",
                   help="part translation: how far Poisson's colour correction reaches into the region, in photo "
                        "pixels; inf: throughout, classic Poisson (default: edit_photo's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gpu", type=int, default=None, help="GPU id (default: CPU)")
    p.add_argument("--quick", action="store_true", help="small counts (a smoke test, not a measurement)")
    args = p.parse_args(argv)
    try:
        check_seam(args.part_seam, args.part_blend_mode)
    except ValueError as exc:
        p.error(f"--part-seam / --part-blend-mode: {exc}")
    try:
        check_colour_reach(args.part_colour_reach)
    except ValueError as exc:
        p.error(f"--part-colour-reach: {exc}")
    if args.part_colour_reach is not None and args.part_blend_mode != "normal":
        p.error(f"--part-colour-reach needs --part-blend-mode normal, not {args.part_blend_mode}")
    if args.part_dilate < 0:
        p.error(f"--part-dilate must be >= 0, got {args.part_dilate}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.quick:
        args.n_classifier, args.n_generated, args.n_diversity = 60, 60, 5
        args.n_projection, args.n_translation, args.steps = 2, 3, 10
    from neuralcollage.pretrained import load_bundle
    from neuralcollage.snapshot import SnapshotError
    try:
        bundle = load_bundle(args.model, device=args.gpu)
    except (SnapshotError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def log(name, record):
        shown = record.get("skipped") or f"{record['value']:.4g} ({record.get('seconds', 0):.0f} s)"
        print(f"{name}: {shown}", file=sys.stderr, flush=True)

    from neuralcollage.cli import MetricProgress
    faces = MetricProgress(enabled=True)
    results = evaluation.evaluate(bundle, metrics=args.metrics, n_classifier=args.n_classifier,
                                  n_generated=args.n_generated, n_diversity=args.n_diversity,
                                  n_projection=args.n_projection, n_translation=args.n_translation,
                                  steps=args.steps, photo_size=args.photo_size,
                                  grow=args.part_region_grow, context=args.part_context,
                                  blend_mode=args.part_blend_mode, dilate=args.part_dilate, seam=args.part_seam,
                                  colour_reach=UNSET if args.part_colour_reach is None else args.part_colour_reach,
                                  seed=args.seed, log=log, progress=faces)
    faces.close()
    print(evaluation.format_table(results))
    from neuralcollage.io import atomic_write_json
    record = {"model": str(bundle.name), "sha256": dict(getattr(bundle, "sha256", {}) or {}),
              "settings": {k: v for k, v in vars(args).items() if k not in ("output",)}, "metrics": results}
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    atomic_write_json(args.output, record, allow_nan=True)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

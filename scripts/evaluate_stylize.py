"""Evaluate example-based stylisation on held-out built-in renders against the ground truth (issue 25).

Examples::

    python scripts/evaluate_stylize.py -o runs/stylize_eval.json               # 64 px, hatch, 50 faces
    python scripts/evaluate_stylize.py --sizes 64 128 --styles hatch watercolour --n 30
    python scripts/evaluate_stylize.py --landmarks neuralcollage/data/pretrained/builtin64/landmarks.npz   # predicted landmarks

For each held-out face: exemplar = the face stylised in its own pose, target = the face plain in another
pose, truth = the target stylised. Methods: styleblit (collage stylize's default), styleblit_source (the
exemplar's appearance guide from the plain render) and the baseline warp (the exemplar moved by the same
MLS similarity deformation). Metrics: see neuralcollage.stylize.evaluation.
"""
import argparse
import sys

from neuralcollage.io import InputError, atomic_write_json
import math

from neuralcollage.stylize.evaluation import METHODS, evaluate_stylize, format_stylize_table
from neuralcollage.stylize.styleblit import BLEND_RADIUS, THRESHOLD, VOTE_SIGMA


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("-o", "--output", default=None, help="JSON file to write (default: print only)")
    p.add_argument("--n", type=int, default=50, help="held-out faces per size and style")
    p.add_argument("--sizes", type=int, nargs="+", default=[64])
    p.add_argument("--styles", nargs="+", default=["hatch"], choices=["hatch", "watercolour"])
    p.add_argument("--threshold", type=float, default=THRESHOLD)
    p.add_argument("--vote-sigma", type=float, default=VOTE_SIGMA,
                   help="guide-error scale of the weighted voting (0: the plain mean)")
    p.add_argument("--blend-radius", type=int, default=BLEND_RADIUS)
    p.add_argument("--vote-stride", type=int, default=None,
                   help="spacing of the voting neighbours (default: by size, max(1, (side + 32) // 64))")
    p.add_argument("--texture-weight", type=float, default=0.0,
                   help="weight of the screen-anchored texture guide (0: off; docs/stylize.md)")
    p.add_argument("--lattice", choices=["none", "auto"], default="none",
                   help="snap to the exemplar texture's translation lattice (auto: found in the exemplar; "
                        "docs/stylize.md)")
    p.add_argument("--patch-iterations", type=int, default=0,
                   help="patch refinement passes after the vote (0: off; docs/stylize.md, \"Hatching in phase\")")
    p.add_argument("--guide-weights", type=float, nargs=3, default=None, metavar=("X", "Y", "APPEARANCE"))
    p.add_argument("--jitter-seed", type=int, default=0)
    p.add_argument("--seed", type=int, default=0, help="held-out face set")
    p.add_argument("--max-patches", type=int, default=1500, help="patches sampled per face for patch_match")
    p.add_argument("--patch-tolerance", type=float, default=24.0,
                   help="mean absolute difference (0-255) under which a patch has a close match")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--landmarks", default=None,
                   help="landmark regressor .npz: predict both images' landmarks instead of the renderer's")
    p.add_argument("--detect-parts", nargs="?", const="builtin", default=None, metavar="NPZ",
                   help="also score the parts detected on each output (part_iou_detected): landmarks found by this "
                        "regressor (default with the flag alone: the built-in landmark model), the exemplar's part "
                        "masks moved onto them")
    return p.parse_args(argv)


def _finite(value):
    """NaN (the truth's part IoU, which has no field) as null, for strict JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return None if isinstance(value, float) and math.isnan(value) else value


def main(argv=None):
    args = parse_args(argv)
    predictor = None
    if args.landmarks:
        from neuralcollage.train.landmarks import load_landmark_predictor
        predictor = load_landmark_predictor(args.landmarks)
    detector = None
    if args.detect_parts:
        import os

        from neuralcollage.pretrained import builtin_dir
        from neuralcollage.train.landmarks import load_landmark_predictor
        path = os.path.join(builtin_dir(), "landmarks.npz") if args.detect_parts == "builtin" else args.detect_parts
        detector = load_landmark_predictor(path)
    results = []
    for size in args.sizes:
        for style in args.styles:
            r = evaluate_stylize(n=args.n, size=size, style=style, seed=args.seed, threshold=args.threshold,
                                 vote_sigma=args.vote_sigma or None, blend_radius=args.blend_radius,
                                 vote_stride=args.vote_stride,
                                 jitter_seed=args.jitter_seed,
                                 guide_weights=args.guide_weights, landmark_predictor=predictor,
                                 max_patches=args.max_patches, patch_tolerance=args.patch_tolerance,
                                 methods=args.methods, part_detector=detector,
                                 texture_weight=args.texture_weight,
                                 lattice=None if args.lattice == "none" else args.lattice,
                                 patch_iterations=args.patch_iterations)
            r.update(threshold=args.threshold, vote_sigma=args.vote_sigma, patch_tolerance=args.patch_tolerance,
                     blend_radius=args.blend_radius, vote_stride=args.vote_stride, guide_weights=args.guide_weights,
                     landmarks=args.landmarks or "renderer", detect_parts=args.detect_parts, seed=args.seed,
                     jitter_seed=args.jitter_seed, texture_weight=args.texture_weight,
                     lattice=args.lattice, patch_iterations=args.patch_iterations)
            results.append(r)
            print(f"\n{size} px, {style}, n={args.n}, stylize {r['seconds'] * 1000:.0f} ms/face (table included)")
            print(format_stylize_table(r))
            sys.stdout.flush()
    if args.output:
        atomic_write_json(args.output, _finite(results))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)

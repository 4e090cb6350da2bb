"""Side studies of the stylisation defaults on held-out renders (issue 25, docs/stylize.md "Voting radius 2 and
the targets"); the main metric table is ``scripts/evaluate_stylize.py``'s.

    python scripts/stylize_studies.py paired --size 128 --n 30        # SSIM ours - warp per face (paired)
    python scripts/stylize_studies.py no-part-map --size 64 --n 20    # part IoU without a part map: other guides
    python scripts/stylize_studies.py guide --size 128 --n 10         # appearance-guide variants
    python scripts/stylize_studies.py coherence --size 128 --n 3      # hatch: patch match, 5x5 field coherence

All use the faces of ``neuralcollage.stylize.evaluation.stylize_cases`` (seeds 10**15 + i) and its metrics;
"ours" is the defaults with the part guide (the evaluation's ``styleblit_parts``) unless said otherwise.
"""
import argparse
import functools

import cv2
import numpy

from neuralcollage.stylize import core, evaluation as ev, guides, metrics
from neuralcollage.stylize.core import stylize_details


def _region(case):
    grown = (case["truth_masks"]["face"] | case["truth_masks"]["ears"]).astype(numpy.uint8)
    return cv2.dilate(grown, numpy.ones((5, 5), numpy.uint8)) > 0


def _ours(case, parts=True, **kw):
    extra = dict(labels=ev.part_labels(case["exemplar_masks"]), n_labels=5) if parts else {}
    return stylize_details(case["target"], case["exemplar"], target_landmarks=case["target_landmarks"],
                           exemplar_landmarks=case["exemplar_landmarks"], **extra, **kw)


def paired(args):
    for style in args.styles:
        rows = []
        for case in ev.stylize_cases(args.n, size=args.size, style=style, seed=args.seed):
            region = _region(case)
            warp, _ = metrics.warp_exemplar(case["exemplar"], case["target"].shape,
                                            target_landmarks=case["target_landmarks"],
                                            exemplar_landmarks=case["exemplar_landmarks"])
            rows.append((metrics.ssim(_ours(case).image, case["truth"], region=region),
                         metrics.ssim(warp, case["truth"], region=region)))
        d = numpy.array(rows)
        diff = d[:, 0] - d[:, 1]
        print(f"{args.size} px {style} n={args.n} seed={args.seed}: ours {d[:, 0].mean():.3f} warp "
              f"{d[:, 1].mean():.3f} diff {diff.mean():+.4f} se {diff.std(ddof=1) / numpy.sqrt(len(diff)):.4f} "
              f"ours higher on {int((diff > 0).sum())}/{len(diff)}", flush=True)


def _voronoi(landmarks, shape):
    h, w = shape[:2]
    yy, xx = numpy.mgrid[:h, :w]
    d = (xx[..., None] - landmarks[:, 0]) ** 2 + (yy[..., None] - landmarks[:, 1]) ** 2
    return d.argmin(-1).astype(numpy.int32) + 1, len(landmarks) + 1


NO_PART_MAP = {"default": {}, "guide weights 2,2,1": dict(guide_weights=(2, 2, 1)),
               "guide weights 4,4,1": dict(guide_weights=(4, 4, 1)), "landmark Voronoi labels": "voronoi",
               "table position weight 20": dict(position_weight=20.0)}


def no_part_map(args):
    for style in args.styles:
        acc = {k: [] for k in NO_PART_MAP}
        for case in ev.stylize_cases(args.n, size=args.size, style=style, seed=args.seed):
            region = _region(case)
            for name, kw in NO_PART_MAP.items():
                if kw == "voronoi":
                    labels, n_labels = _voronoi(case["exemplar_landmarks"], case["exemplar"].shape)
                    kw = dict(labels=labels, n_labels=n_labels)
                d = _ours(case, parts=False, **kw)
                acc[name].append(list(ev.score_output(d.image, d.synthesis.nnf, case, region, 400, 24.0).values()))
        for name in NO_PART_MAP:
            m = numpy.mean(acc[name], axis=0)
            print(f"{args.size} px {style} {name}: part IoU {m[0]:.3f} patch match {m[1]:.3f} SSIM {m[2]:.3f}",
                  flush=True)


def _guide_variant(name, side):
    original = guides.appearance_guide
    if name == "default":
        return original
    if name == "pyramid levels by size":
        return functools.partial(original, levels=3 + max(0, int(round(numpy.log2(side / 64)))))
    sigma = side / 64

    def blurred(image, *, levels=3, stretch=False):
        if stretch or name == "both blurred":
            image = cv2.GaussianBlur(image, (0, 0), sigma)
        return original(image, levels=levels, stretch=stretch)
    return blurred


def guide(args):
    names = ("default", "pyramid levels by size", "exemplar blurred", "both blurred")
    original = core.appearance_guide
    try:
        for style in args.styles:
            acc = {k: [] for k in names}
            for case in ev.stylize_cases(args.n, size=args.size, style=style, seed=args.seed):
                region = _region(case)
                for name in names:
                    core.appearance_guide = _guide_variant(name, args.size)
                    d = _ours(case)
                    acc[name].append(list(ev.score_output(d.image, d.synthesis.nnf, case, region, 400, 24.0).values())
                                     + [d.synthesis.fallback_fraction])
            for name in names:
                m = numpy.mean(acc[name], axis=0)
                print(f"{args.size} px {style} {name}: part IoU {m[0]:.3f} patch match {m[1]:.3f} SSIM {m[2]:.3f} "
                      f"per-pixel lookups {m[3]:.2f}", flush=True)
    finally:
        core.appearance_guide = original


COHERENCE = (("radius 0", dict(blend_radius=0)), ("radius 1", dict(blend_radius=1)), ("radius 2 (default)", {}),
             ("radius 0, threshold 24", dict(blend_radius=0, threshold=24)),
             ("radius 0, threshold 64", dict(blend_radius=0, threshold=64)),
             ("radius 2, threshold 64", dict(threshold=64)))


def coherence(args):
    for style in args.styles:
        rows = []
        for case in ev.stylize_cases(args.n, size=args.size, style=style, seed=args.seed):
            region = _region(case)
            row = []
            for _, kw in COHERENCE:
                d = _ours(case, **kw)
                nnf = d.synthesis.nnf.astype(numpy.int64)
                h, w = nnf.shape[:2]
                offset = nnf - numpy.stack(numpy.meshgrid(numpy.arange(w), numpy.arange(h)), -1)
                code = offset[..., 0] * 100000 + offset[..., 1]
                win = numpy.lib.stride_tricks.sliding_window_view(code, (5, 5))
                coherent = (win.max(axis=(2, 3)) == win.min(axis=(2, 3)))[region[2:-2, 2:-2]].mean()
                row.append((metrics.patch_match_fraction(d.image, case["exemplar"], region=region, max_patches=300,
                                                         tolerance=24),
                            metrics.ssim(d.image, case["truth"], region=region), coherent,
                            d.synthesis.fallback_fraction))
            rows.append(row)
        for (name, _), m in zip(COHERENCE, numpy.mean(rows, axis=0)):
            print(f"{args.size} px {style} {name}: patch match {m[0]:.3f} SSIM {m[1]:.3f} one-offset 5x5 windows "
                  f"{m[2]:.3f} per-pixel lookups {m[3]:.2f}", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("study", choices=("paired", "no-part-map", "guide", "coherence"))
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--seed", type=int, default=0, help="held-out face set")
    p.add_argument("--styles", nargs="+", default=["watercolour", "hatch"], choices=["hatch", "watercolour"])
    args = p.parse_args(argv)
    {"paired": paired, "no-part-map": no_part_map, "guide": guide, "coherence": coherence}[args.study](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

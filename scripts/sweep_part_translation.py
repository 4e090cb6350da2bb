"""Part translation success over the edit's ``context`` and blend mode, one projection per face.

Each held-out face of :func:`neuralcollage.evaluation.part_translation` (same seeds, parts and target
classes) is projected once with :func:`neuralcollage.collage.edit_photo`; the projected latent is then
edited with every ``--contexts`` value (:func:`neuralcollage.collage.class_region`) and blended back with
every ``--blend-modes`` value, and the part classifier reads the part's crop of each result.  Prints one
row per setting, then the mean PSNR of the projections per part (the projection's reconstruction against the
crop it was projected from), and writes them to JSON.

``--box mask`` (the default) crops as ``collage edit`` does, a square around the painted region; ``--box
photo`` edits the whole photo as the crop, the framing the built-in generator was trained on.

    python scripts/sweep_part_translation.py --n 100 --contexts 0 3 6 10 -o sweep.json
    python scripts/sweep_part_translation.py --box photo --contexts 0 10 -o sweep_photo.json
"""
import argparse
import os
import sys
import time

import numpy

from neuralcollage.blending import BLEND_MODES


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="builtin", help="registered model name or generator .npz / folder")
    p.add_argument("--n", type=int, default=100, help="held-out faces")
    p.add_argument("--contexts", type=int, nargs="+", default=[0, 3, 6, 10],
                   help="class-region growth in pixels at the generator's resolution")
    p.add_argument("--blend-modes", nargs="+", default=["normal", "none"], choices=BLEND_MODES)
    p.add_argument("--grow", type=float, default=None,
                   help="painted region = part mask grown by this fraction of the photo side (default: the "
                        "evaluation's)")
    p.add_argument("--box", choices=("mask", "photo"), default="mask",
                   help="crop: a square around the painted region (as `collage edit`) or the whole photo")
    p.add_argument("--photo-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=200, help="projection steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", default="part_translation_sweep.json")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from neuralcollage.io import InputError
    from neuralcollage.snapshot import SnapshotError
    try:
        return _sweep(args)
    except (InputError, SnapshotError, ValueError, OSError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


def _sweep(args):
    import tempfile
    from neuralcollage.io import InputError
    folder = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(folder, exist_ok=True)
    if os.path.isdir(args.output):
        raise InputError(f"cannot write {args.output}: it is a directory")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise InputError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    from neuralcollage import evaluation
    from neuralcollage.blending import poisson_blend
    from neuralcollage.collage import class_region, edit_photo, scbn_edit
    from neuralcollage.io import atomic_write_json, from_model
    from neuralcollage.models.classifier import part_crops
    from neuralcollage.pretrained import load_bundle
    from tqdm import tqdm

    bundle = load_bundle(args.model)
    gen, clf = bundle.generator, bundle.part_classifier
    if clf is None:
        raise InputError(f"model {bundle.name!r} has no part classifier to read the edited parts with")
    bad = [px for px in args.contexts if not 0 <= px <= gen.resolution]
    if bad:
        raise InputError(f"--contexts must be pixels in 0..{gen.resolution} (the generator's resolution), got {bad}")
    grow = evaluation.PART_REGION_GROW if args.grow is None else args.grow
    cases = evaluation.translation_cases(args.n, n_classes=gen.n_classes, seed=args.seed,
                                         photo_size=args.photo_size, grow=grow)
    box = (0, 0, args.photo_size) if args.box == "photo" else None
    hits, psnr = {}, {}
    started = time.time()
    for i, part, source, target, sample, mask, region in tqdm(cases, total=args.n, desc="faces", unit="face"):
        if region is None:
            continue
        region = region.astype(numpy.float32)
        result = edit_photo(bundle, sample.image, region, target, source_label=source, steps=args.steps,
                            seed=args.seed + i, context=0.0, box=box)
        psnr.setdefault(part, []).append(evaluation.psnr(result.crop, result.reconstruction))
        for px in args.contexts:
            grown = class_region(gen, result.mask_crop, px / gen.resolution)
            edited = from_model(scbn_edit(gen, result.z, source, target, grown))[0]
            for mode in args.blend_modes:
                image = poisson_blend(sample.image, edited, region, result.box, mode=mode)
                predicted = int(clf.predict(part_crops(image, mask, size=clf.resolution))[0])
                hits.setdefault((px, mode), []).append((part, predicted == target))
    rows = []
    for (px, mode), outcome in sorted(hits.items()):
        per_part = {p: float(numpy.mean([ok for q, ok in outcome if q == p])) for p in evaluation.PARTS
                    if any(q == p for q, _ in outcome)}
        rows.append({"context_px": px, "context": px / gen.resolution, "blend_mode": mode, "n": len(outcome),
                     "success_rate": float(numpy.mean([ok for _, ok in outcome])), "per_part": per_part})
        print(f"context {px:3d} px  {mode:6s}  {rows[-1]['success_rate']:.0%}  " +
              "  ".join(f"{p} {v:.0%}" for p, v in per_part.items()))
    projection_psnr = {p: float(numpy.mean(v)) for p, v in psnr.items()}
    print("projection PSNR (dB): " + "  ".join(f"{p} {v:.1f}" for p, v in projection_psnr.items()))
    record = {"model": str(bundle.name), "settings": vars(args),
              "grow_px": evaluation.grow_pixels(grow, args.photo_size), "projection_psnr_db": projection_psnr,
              "seconds": time.time() - started, "rows": rows}
    atomic_write_json(args.output, record)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Part translation into a class pack's species, with the edits kept for a look (docs/few_shot.md).

    python scripts/few_shot_translation.py --pack runs/few_shot_eval/koala_10_search_steps300_s0.npz --n 100 \
        --out-json runs/pt_koala.json --grid runs/pt_koala_failures.png

Runs :func:`neuralcollage.analysis.few_shot.part_translation_into` (the default edit, judged by the 8-species part
judge) and writes its record plus, per face, the part, source, the part judge's answer and whether it
succeeded.  ``--grid`` draws up to ``--show`` failures (and as many successes), one row per face: the photo's
crop the edit sent to the generator, its reconstruction, the generator's edited crop, the edited photo's
crop, and the part judge's crops of the part before and after (the judge's answer is in the JSON).
"""
import argparse
import functools
import json
import sys

import numpy

import neuralcollage  # noqa: F401


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="builtin")
    p.add_argument("--pack", required=True)
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-json", required=True)
    p.add_argument("--grid", help="PNG of failures and successes")
    p.add_argument("--show", type=int, default=8)
    args = p.parse_args(argv)

    from neuralcollage.blending import crop_and_resize, square_crop_box
    from neuralcollage.collage import edit_photo
    from neuralcollage.datasets import SPECIES
    from neuralcollage.analysis.few_shot import load_part_judge, part_translation_into
    from neuralcollage.io import atomic_write_text, write_image
    from neuralcollage.pretrained import load_bundle

    kept = []

    @functools.wraps(edit_photo)
    def edit(*a, **kw):
        result = edit_photo(*a, **kw)
        kept.append((a[1], a[2], result))
        return result

    bundle = load_bundle(args.model)
    judge = load_part_judge()
    record = part_translation_into(bundle, args.pack, part_judge=judge, n=args.n, seed=args.seed, edit=edit)
    from neuralcollage.analysis.evaluation import translation_cases
    from neuralcollage.classes import apply_packs, copy_bundle
    extended = apply_packs(copy_bundle(bundle), [args.pack])
    cases = [c for c in translation_cases(args.n, n_classes=extended.generator.n_classes, seed=args.seed,
                                          into=extended.vocabulary.index(record["species"]),
                                          exclude=tuple(extended.closeup_classes.values())) if c.region is not None]
    faces = []
    for case, (photo, region, result) in zip(cases, kept):
        crops = numpy.stack([crop_and_resize(im, square_crop_box(case.mask, margin=0.15), judge.resolution)
                             for im in (photo, result.image)])
        before, after = (SPECIES[int(v)] for v in judge.predict(crops))
        faces.append({"i": case.index, "part": case.part, "source": SPECIES[case.source], "before": before,
                      "after": after, "success": after == record["species"],
                      "reconstruction_psnr": round(float(result.reconstruction_psnr), 2)})
    record["faces"] = faces
    atomic_write_text(args.out_json, json.dumps(record, indent=1, default=float))
    print(json.dumps({k: record[k] for k in ("value", "per_part", "predicted_counts", "n", "seconds")}))
    if args.grid:
        r = bundle.generator.resolution
        fails = [i for i, f in enumerate(faces) if not f["success"]][:args.show]
        wins = [i for i, f in enumerate(faces) if f["success"]][:args.show]
        rows = []
        for i in fails + wins:
            case, (photo, region, result) = cases[i], kept[i]
            box = result.box
            row = [result.crop, result.reconstruction, result.edited_crop, crop_and_resize(result.image, box, r)]
            row += [crop_and_resize(im, square_crop_box(case.mask, margin=0.15), r) for im in (photo, result.image)]
            rows.append(numpy.concatenate(row, axis=1))
        write_image(args.grid, numpy.concatenate(rows, axis=0))
        print(f"grid: {args.grid} (rows 1-{len(fails)} failures, then successes)")


if __name__ == "__main__":
    sys.exit(main())

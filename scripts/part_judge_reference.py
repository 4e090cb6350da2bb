"""Calibrate the 8-species part judge on part translation among the built-in model's own classes: the same edits
(``neuralcollage.analysis.evaluation.part_translation``) judged by the shipped 6-class part classifier and by the part
judge (docs/few_shot.md, part translation into a new class).

    python scripts/part_judge_reference.py --n 60 --out runs/part_judge_reference.json
"""
import argparse
import json

import neuralcollage  # noqa: F401


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    from neuralcollage.collage import edit_photo
    from neuralcollage.analysis.evaluation import part_translation
    from neuralcollage.analysis.few_shot import load_part_judge
    from neuralcollage.pretrained import load_bundle
    bundle = load_bundle("builtin")
    done = {}

    def edit(bundle, photo, mask, target, **kwargs):  # the same edit for both judges
        key = (photo.tobytes(), mask.tobytes(), int(target), kwargs["seed"])
        if key not in done:
            done[key] = edit_photo(bundle, photo, mask, target, **kwargs)
        return done[key]

    shipped = part_translation(bundle, n=args.n, seed=args.seed, edit=edit)
    judge = part_translation(bundle, n=args.n, seed=args.seed, edit=edit, part_classifier=load_part_judge(),
                             classifier_ids=list(range(bundle.generator.n_classes)))
    report = {"n": args.n, "seed": args.seed, "shipped_part_classifier": shipped, "part_judge": judge}
    with open(args.out, "w") as fh:
        json.dump(report, fh, indent=1)
    print(json.dumps({k: {"value": r["value"], "per_part": r["per_part"], "source_accuracy": r["source_accuracy"],
                          "n": r["n"]} for k, r in (("shipped", shipped), ("part_judge", judge))}))


if __name__ == "__main__":
    main()

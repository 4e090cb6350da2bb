"""How stable the close-up check's verdict is, for several ways of fitting its probe (docs/few_shot.md, "A check
that decides").

For each 10-image pack with a close-up variant (as `collage eval --metrics few_shot --few-shot-closeup-variant 4
--few-shot-packs DIR` saves them), the check's part edits are drawn with several edit seeds, and for each probe
setting the probe is fitted with several probe seeds; every (edit seed, probe seed) pair gives one verdict, the
mean logit difference variant - rows.  A setting is stable when that difference keeps its sign over all pairs.

    python scripts/closeup_check_study.py --packs runs/fs_chk --out-json docs/few_shot/closeup_check_study.json
"""
import argparse
import json
import os
import sys
import time

import numpy

#: The probe settings compared: the first is the one tried first, the last the one shipped.
SETTINGS = {
    "l2 0.01, 24 close-ups per image, 120 samples": dict(positives_per_image=24, negative_samples=120, l2=0.01),
    "l2 1, 24 close-ups per image, 120 samples": dict(positives_per_image=24, negative_samples=120, l2=1.0),
    "l2 0.01, 64 close-ups per image, 400 samples": dict(positives_per_image=64, negative_samples=400, l2=0.01),
    "l2 0.1, 64 close-ups per image, 400 samples": dict(positives_per_image=64, negative_samples=400, l2=0.1),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packs", required=True,
                        help="folder of the packs (koala_10_search_steps300_s0_closeupvariant-4.npz, ...)")
    parser.add_argument("--species", nargs="+", default=["koala", "tiger"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1], help="the packs' training seeds")
    parser.add_argument("--edit-seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--probe-seeds", type=int, default=4, help="probe seeds 0..N-1 per edit seed")
    parser.add_argument("--n", type=int, default=30, help="part edits per edit seed")
    parser.add_argument("--out-json", required=True)
    args = parser.parse_args(argv)

    from neuralcollage.analysis.few_shot import training_images
    from neuralcollage.classes import load_pack
    from neuralcollage.collage.closeup_check import PROBE_SETTINGS, edited_regions, part_probe
    from neuralcollage.collage.preview import closeup_variant_preview
    from neuralcollage.pretrained import load_bundle
    bundle = load_bundle("builtin")
    started = time.perf_counter()
    rows = []
    for species in args.species:
        for seed in args.seeds:
            path = os.path.join(args.packs, f"{species}_10_search_steps300_s{seed}_closeupvariant-4.npz")
            pack = load_pack(path)
            images = list(training_images(species, 10, seed=seed, size=bundle.generator.resolution))
            regions = []
            for edit_seed in args.edit_seeds:
                edits = closeup_variant_preview(bundle, pack, n=args.n, seed=edit_seed)
                regions.append(edited_regions(edits, bundle.generator.resolution))
            for name, changes in SETTINGS.items():
                settings = {**PROBE_SETTINGS, **changes}
                differences = []
                for probe_seed in range(args.probe_seeds):
                    score, _ = part_probe(bundle, images, seed=probe_seed, settings=settings)
                    differences += [float((score(variant) - score(own)).mean()) for own, variant in regions]
                row = {"species": species, "seed": seed, "setting": name, "differences": differences,
                       "min": min(differences), "mean": float(numpy.mean(differences)), "max": max(differences)}
                rows.append(row)
                print(f"{species} seed {seed} | {name} | min {row['min']:+.2f} mean {row['mean']:+.2f} "
                      f"max {row['max']:+.2f}", file=sys.stderr, flush=True)
    report = {"n": args.n, "edit_seeds": args.edit_seeds, "probe_seeds": args.probe_seeds,
              "settings": {k: {**PROBE_SETTINGS, **v} for k, v in SETTINGS.items()}, "rows": rows,
              "seconds": round(time.perf_counter() - started, 1)}
    with open(args.out_json, "w") as f:
        json.dump(report, f, indent=1)
    print(f"wrote {args.out_json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Train and score class packs for the species the built-in model never saw (docs/few_shot.md).

Train packs (one per species x images x method; skipped when the pack exists):

    python scripts/few_shot_compare.py train --out runs/few_shot --species koala tiger --images 10 \
        --methods nearest rows recon combination --steps 300 --seed 0

Score them with the judge (a whole-image classifier over all eight species):

    python scripts/few_shot_compare.py score --out runs/few_shot --judge runs/judge8/classifier.npz

Method names: ``nearest``; ``recon`` = ``rows`` with reconstruction only (Batch Statistics Adaptation style,
the default of ``train_class``); ``rows`` and ``combination`` with the adversarial term at weight 0.1;
``freezed``: ``rows`` with the adversarial term at 0.1 and the discriminator's top block fine-tuned (FreezeD);
``closeups``/``closeupsN``: ``recon`` with N (default 2) close-ups of each training image added
(``train_class(closeups=N)``); ``freezed_closeups``/``freezed_closeupsN``: both; ``branch``: the rows plus a
per-class branch (``train_class(method="branch")``, reconstruction only); ``branch_closeups``/``branch_closeupsN``:
with N close-ups per image; ``two_stage``: ``train_class(method="two_stage")`` (the rows on the whole images, then
a branch on 4 close-ups per image with the whole faces anchored to the rows').
"""
import argparse
import glob
import json
import os
import sys

import neuralcollage  # noqa: F401


def _method_kwargs(method):
    if method == "recon":
        return {"method": "rows", "adversarial": 0.0}
    if method == "rows":
        return {"method": "rows", "adversarial": 0.1}
    if method == "combination":
        return {"method": "combination", "adversarial": 0.1}
    if method == "freezed":
        return {"method": "rows", "adversarial": 0.1, "tune_d_blocks": 1}
    if method.startswith("closeups"):  # closeups, closeupsN: N close-ups per image (default 2)
        return {"method": "rows", "adversarial": 0.0, "closeups": int(method[8:] or 2)}
    if method.startswith("branch_closeups"):
        return {"method": "branch", "adversarial": 0.0, "closeups": int(method[15:] or 2)}
    if method.startswith("freezed_closeups"):
        return {"method": "rows", "adversarial": 0.1, "tune_d_blocks": 1, "closeups": int(method[16:] or 2)}
    return {"method": method}


def _label(record):
    """The table's name of how a pack was trained (from its record)."""
    method = record["method"]
    if method == "nearest":
        return "nearest class (no training)"
    what = {"rows": "new rows", "combination": "combination + residual",
            "branch": "new rows + per-class branch",
            "two_stage": "two-stage (rows, then a branch on close-ups anchored to the rows' whole faces)"}.get(
        method, method)
    if record.get("closeups"):
        what += f" + {record['closeups']} close-ups per image"
    tuned = f", discriminator's top {record['tune_d_blocks']} block(s) tuned (FreezeD)" if record.get(
        "tune_d_blocks") else ""
    return what + (f" + adversarial ({record['adversarial']}{tuned})" if record.get("adversarial") else
                   " (reconstruction only)")


def train(args):
    from neuralcollage.classes import train_class
    from neuralcollage.analysis.few_shot import training_images
    from neuralcollage.pretrained import load_bundle
    bundle = load_bundle(args.model)
    os.makedirs(args.out, exist_ok=True)
    for method in args.methods:
        for n in args.images:
            for species in args.species:
                start = "" if args.start_from is None else f"_{args.start_from}"
                lr = "" if args.lr_rows is None else f"_lr{args.lr_rows:g}"
                path = os.path.join(args.out, f"{species}_{n}_{method}{start}{lr}_s{args.seed}.npz")
                if os.path.exists(path):
                    continue
                images = training_images(species, n, seed=args.seed, size=bundle.generator.resolution)
                start = {} if args.start_from is None else {"init_class": args.start_from}
                if args.lr_rows is not None:
                    start["lr_rows"] = args.lr_rows
                pack = train_class(bundle, list(images), species, steps=args.steps, seed=args.seed,
                                   **_method_kwargs(method), **start)
                pack.record["few_shot_method"] = method
                pack.save(path)
                print(json.dumps({"pack": path, "seconds": pack.record["seconds"],
                                  "init": pack.record["init_class"]}), flush=True)


def score(args):
    from neuralcollage.classes import load_pack
    from neuralcollage.analysis.few_shot import evaluate_pack, format_table
    from neuralcollage.loading import load_model
    from neuralcollage.pretrained import load_bundle
    bundle = load_bundle(args.model)
    judge = load_model(args.judge, kind="classifier")
    results = os.path.join(args.out, "scores.jsonl")
    done = {}
    if os.path.exists(results):
        for line in open(results):
            row = json.loads(line)
            done[row["pack"]] = row
    for path in sorted(glob.glob(os.path.join(args.out, "*.npz"))):
        if os.path.basename(path) in done:
            continue
        pack = load_pack(path)
        rec = pack.record
        res = evaluate_pack(bundle, pack, judge, pack.name, n=args.n, seed=args.eval_seed)
        row = {"pack": os.path.basename(path), "species": pack.name, "method": _label(rec),
               "n_images": rec["n_images"], "steps": rec["steps"], "seed": rec["seed"],
               "train_seconds": rec["seconds"], "nearest": rec["init_class"], "pack_bytes": os.path.getsize(path),
               **res}
        done[row["pack"]] = row
        with open(results, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)
    for row in done.values():  # names from the packs' records (older score lines used the script's names)
        row["method"] = _label(load_pack(os.path.join(args.out, row["pack"])).record)
    print(format_table(sorted(done.values(), key=lambda r: (r["species"], -r["n_images"], r["method"]))))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    t = sub.add_parser("train")
    t.add_argument("--model", default="builtin")
    t.add_argument("--out", required=True)
    t.add_argument("--species", nargs="+", default=["koala", "tiger"])
    t.add_argument("--images", nargs="+", type=int, default=[10])
    t.add_argument("--methods", nargs="+", default=["nearest", "rows"])
    t.add_argument("--steps", type=int, default=300)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--start-from", default=None,
                   help="train_class's init_class: search, nearest or a class name (default: the library's, search; "
                        "the packs of the first comparison, docs/few_shot.md, were trained when it was nearest)")
    t.add_argument("--lr-rows", type=float, default=None,
                   help="the rows' Adam step size (default: the library's, 0.03; the search's trials keep theirs)")
    s = sub.add_parser("score")
    s.add_argument("--model", default="builtin")
    s.add_argument("--out", required=True)
    s.add_argument("--judge", required=True)
    s.add_argument("--n", type=int, default=600)
    s.add_argument("--eval-seed", type=int, default=0)
    args = p.parse_args(argv)
    train(args) if args.what == "train" else score(args)


if __name__ == "__main__":
    sys.exit(main())

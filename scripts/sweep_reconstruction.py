"""Sweep the photo pipeline's reconstruction methods on the built-in model: fidelity, edits and time.

For each method (projection alone, the features fit, the pivotal fit and variants of them) on held-out rendered photos (seeds from
``neuralcollage.datasets.HELD_OUT_BASE``, which no training loop reads):

* reconstruction PSNR of whole 64 px faces and of the part close-ups an edit crops
  (:func:`neuralcollage.analysis.evaluation.reconstruction_psnr`);
* part translation success with the default edit settings and the share of edits that leave every pixel
  outside the dilated region unchanged (:func:`neuralcollage.analysis.evaluation.part_translation`);
* seconds per edit (projection + fit + edit + blending, 2-core CPU unless --gpu).

Writes a JSON record and a Markdown table (docs/reconstruction.md links it)::

    python scripts/sweep_reconstruction.py --n 24 --out docs/reconstruction_sweep.json
    python scripts/sweep_reconstruction.py --methods projection,features --n 4 --out /tmp/sweep.json
"""
import argparse
import functools
import json
import os
import sys
import time

import neuralcollage  # noqa: F401  (NumPy aliases before Chainer)

#: name -> (reconstruction, FitOptions overrides of that reconstruction's defaults, projection steps (None: --steps))
METHODS = {
    "features-fade0": ("features", {"fade_context": 0.0}, None),
    "features-fade0.5": ("features", {"fade_context": 0.5}, None),
    "projection": ("projection", {}, None),
    "features": ("features", {}, None),
    "features-proj50": ("features", {}, 50),
    "features-lr0.01": ("features", {"offset_lr": 0.01}, None),
    "features-lr0.03": ("features", {"offset_lr": 0.03}, None),
    "features-full-res": ("features", {"offset_layer": -1}, None),
    "features-lr0.01-full-res": ("features", {"offset_lr": 0.01, "offset_layer": -1}, None),
    "features-fit50": ("features", {"steps": 50}, None),
    "pivotal": ("pivotal", {}, None),
    "pivotal-no-offset": ("pivotal", {"offset_lr": 0.0}, None),
    "pivotal-no-locality": ("pivotal", {"locality": 0.0}, None),
    "pivotal-after-offset": ("pivotal", {"tune": "after-offset"}, None),
    "pivotal-fit200": ("pivotal", {"steps": 200}, None),
    "pivotal-fit50": ("pivotal", {"steps": 50}, None),
    "pivotal-proj50": ("pivotal", {}, 50),
    "pivotal-proj0": ("pivotal", {}, 0),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("::")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="projection,features,pivotal",
                        help=f"comma-separated, from {', '.join(METHODS)} (default: %(default)s)")
    parser.add_argument("--n", type=int, default=24, help="held-out faces per measure (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="held-out face set (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=200, help="projection steps (default: %(default)s)")
    parser.add_argument("--translation-methods", default="projection,features,pivotal",
                        help="the methods whose part translation is measured too (the slow part; '' for none) "
                             "(default: %(default)s)")
    parser.add_argument("--gpu", type=int, default=-1, help="CUDA device (default: the CPU)")
    parser.add_argument("--out", required=True, help="JSON record; the Markdown table goes beside it (.md)")
    parser.add_argument("--append", action="store_true", help="keep the rows already in --out (other methods)")
    args = parser.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or args.n < 1:
        parser.error(f"unknown methods {unknown}" if unknown else "--n must be >= 1")

    from tqdm.auto import tqdm

    import neuralcollage as nc
    from neuralcollage.collage import edit_photo
    from neuralcollage.analysis.evaluation import part_translation, reconstruction_psnr
    import dataclasses

    from neuralcollage.reconstruction import FitOptions, fit_options

    bundle = nc.load_bundle("builtin", device=None if args.gpu < 0 else args.gpu)
    rows = []
    if args.append and os.path.exists(args.out):
        with open(args.out, encoding="utf-8") as f:
            rows = [r for r in json.load(f)["rows"] if r["method"] not in methods]
    for name in methods:
        how, overrides, steps = METHODS[name]
        steps = args.steps if steps is None else steps
        fit = fit_options(how)
        fit = None if fit is None else dataclasses.replace(fit, **overrides)
        row = {"method": name, "reconstruction": how, "fit": None if fit is None else fit.to_json(),
               "projection_steps": steps}
        with tqdm(total=2 * args.n, desc=f"{name}: reconstruction", file=sys.stderr, leave=False) as bar:
            if fit is not None:
                rec = reconstruction_psnr(bundle, n=args.n, seed=args.seed, steps=steps, fit=fit,
                                          progress=lambda i, total: bar.update(i - bar.n))
                row["psnr_whole_face"] = rec["whole_face"]["fitted"]
                row["psnr_part_closeup"] = rec["part_closeup"]["fitted"]
            else:
                rec = reconstruction_psnr(bundle, n=args.n, seed=args.seed, steps=steps,
                                          fit=FitOptions(steps=0), progress=lambda i, total: bar.update(i - bar.n))
                row["psnr_whole_face"] = rec["whole_face"]["projection"]
                row["psnr_part_closeup"] = rec["part_closeup"]["projection"]
            row["reconstruction_record"] = rec
        if name in args.translation_methods.split(","):
            edit = functools.partial(edit_photo, reconstruction=how, fit=fit)
            with tqdm(total=args.n, desc=f"{name}: part translation", file=sys.stderr, leave=False) as bar:
                started = time.time()
                tr = part_translation(bundle, n=args.n, seed=args.seed, steps=steps, edit=edit,
                                      progress=lambda i, total: bar.update(i - bar.n))
            row["part_translation"] = tr["success_rate"]
            row["unchanged_outside"] = tr["unchanged_outside_mask"]
            row["seconds_per_edit"] = (time.time() - started) / max(tr["n"] + tr["n_empty_masks"], 1)
            row["translation_record"] = tr
        rows.append(row)
        print(_row_line(row), flush=True)
        _write(args, rows)
    return 0


def _row_line(row):
    tr = row.get("part_translation")
    more = "" if tr is None else (f"  part translation {tr:.1%}  unchanged outside {row['unchanged_outside']:.0%}  "
                                  f"{row['seconds_per_edit']:.1f} s/edit")
    return (f"{row['method']:<22} whole face {row['psnr_whole_face']:.2f} dB  close-ups "
            f"{row['psnr_part_closeup']:.2f} dB{more}")


def _write(args, rows):
    record = {"n": args.n, "seed": args.seed, "projection_steps": args.steps, "rows": rows}
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
    lines = ["| method | projection steps | PSNR whole face (dB) | PSNR part close-up (dB) | part translation | unchanged outside | "
             "s / edit |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        tr = r.get("part_translation")
        lines.append(f"| {r['method']} | {r.get('projection_steps', '-')} | {r['psnr_whole_face']:.2f} | {r['psnr_part_closeup']:.2f} | "
                     + ("- | - | - |" if tr is None else
                        f"{tr:.1%} | {r['unchanged_outside']:.0%} | {r['seconds_per_edit']:.1f} |"))
    with open(args.out.rsplit(".", 1)[0] + ".md", "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())

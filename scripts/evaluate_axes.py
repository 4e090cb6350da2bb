#!/usr/bin/env python
"""Measure latent attribute axes (neuralcollage.analysis.axes.evaluate_axes) and write a table and a figure.

Per axis: the attribute's change per unit of movement and R^2 over the tested amounts (attribute measured
by the regressor), the share of edited samples the classifier still assigns to the conditioned class, the
change outside the region of a local edit (mean absolute difference in [0, 255] outside the dilated
region), and the entanglement between axes before (NAME_raw) and after (NAME) decorrelation.

Writes into --out: axes_eval.json (everything), axes_eval.md (tables), axes_eval.csv (per-axis rows) and
axes_eval.png (entanglement heatmaps and attribute-against-amount curves).

examples:
  python scripts/evaluate_axes.py --out out/axes      # the built-in model and its axes.json
  python scripts/evaluate_axes.py --generator runs/builtin64/generator.npz --axes out/axes.json \\
      --classifier runs/classifier/classifier.npz --amounts=-3,-1.5,0,1.5,3 --n 128 --out out/axes
"""
import argparse
import json
import os
import sys
import time

import neuralcollage  # noqa: F401  (before Chainer)
from neuralcollage import axes as ax
from neuralcollage.analysis import axes as axa
from neuralcollage.backend import DeviceError
from neuralcollage.io import InputError, atomic_write_text
from neuralcollage.pretrained import builtin_dir
from neuralcollage.snapshot import SnapshotError


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    def _get_help_string(self, action):
        if action.default is None or action.default is False or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def build_parser():
    p = argparse.ArgumentParser(prog="evaluate_axes.py", description=__doc__, formatter_class=_Formatter)
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--generator", default=os.path.join(builtin_dir(), "generator.npz"),
                   help="generator snapshot (.npz; default: the built-in model's)")
    p.add_argument("--axes", default=None, help="axes file (default: axes.json beside the generator)")
    p.add_argument("--regressor", default=None,
                   help="attribute regressor (default: regressor.npz beside the generator, else "
                        "the built-in model's)")
    p.add_argument("--classifier", default=None,
                   help="whole-image classifier, or 'none' (default: classifier.npz beside the generator, else "
                        "the built-in model's)")
    p.add_argument("--names", default=None,
                   help="comma-separated axes to measure (default: every decorrelated axis; their NAME_raw "
                        "partners are measured as 'before')")
    p.add_argument("--amounts", default="-2,-1,0,1,2", help="tested amounts, comma-separated, including 0")
    p.add_argument("--n", type=int, default=64, help="latents per axis")
    p.add_argument("--seed", type=int, default=1000, help="seed of the latents (use another than discovery's)")
    p.add_argument("--layers", default="all", help="blend layers of the local edits")
    p.add_argument("--radius", type=float, default=0.3, help="radius of the local edits' disc, fraction of R")
    p.add_argument("--dilate", type=int, default=2, help="pixels the region grows by before measuring outside")
    p.add_argument("--batch-size", type=int, default=64, help="images per forward pass")
    p.add_argument("--gpu", type=int, default=-1, help="GPU id, -1 for the CPU")
    return p


def _beside(generator, name):
    path = os.path.join(os.path.dirname(os.path.abspath(generator)), name)
    return path if os.path.exists(path) else os.path.join(builtin_dir(), name)


def split_axes(axes, names=None):
    """``(after, before)``: the chosen axes and, when every one has a ``NAME_raw`` partner, those partners."""
    if names:
        after = [ax.get_axis(axes, n) for n in names]
    else:
        after = [a for a in axes if a.decorrelated_from] or [a for a in axes if not a.name.endswith("_raw")]
    partners = {(a.name, a.class_id): a for a in axes}
    before = [partners.get((a.name + "_raw", a.class_id)) for a in after]
    return after, (before if all(b is not None for b in before) else None)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    start = time.perf_counter()
    axes_path = args.axes or os.path.join(os.path.dirname(os.path.abspath(args.generator)), ax.AXES_FILE)
    regressor_path = args.regressor or _beside(args.generator, "regressor.npz")
    classifier_path = args.classifier or _beside(args.generator, "classifier.npz")
    try:
        amounts = [float(a) for a in args.amounts.split(",")]
        for path, what in ((args.generator, "generator"), (axes_path, "axes"), (regressor_path, "regressor")) + (
                () if classifier_path == "none" else ((classifier_path, "classifier"),)):
            if not os.path.exists(path):
                raise InputError(f"{what} {path}: no such file")
        gen = neuralcollage.load_generator(args.generator, device=args.gpu)
        regressor = neuralcollage.load_model(regressor_path, kind="regressor", device=args.gpu)
        classifier = None if classifier_path == "none" else neuralcollage.load_model(
            classifier_path, kind="classifier", device=args.gpu)
        axes = ax.load_axes(axes_path, dim_z=gen.dim_z)
        after, before = split_axes(axes, args.names.split(",") if args.names else None)
        result = axa.evaluate_axes(gen, regressor, classifier, after, before=before, amounts=amounts, n=args.n,
                                   seed=args.seed, mask=ax.disc_mask(gen.resolution, radius=args.radius),
                                   layers=args.layers, dilate=args.dilate, batch_size=args.batch_size)
        result["inputs"] = {"generator": os.path.abspath(args.generator), "axes": os.path.abspath(axes_path),
                            "regressor": os.path.abspath(regressor_path),
                            "classifier": None if classifier is None else os.path.abspath(classifier_path)}
        os.makedirs(args.out, exist_ok=True)
        paths = {k: os.path.join(args.out, f"axes_eval.{k}") for k in ("json", "md", "csv", "png")}
        atomic_write_text(paths["json"], json.dumps(result, indent=1, allow_nan=True) + "\n")
        table = axa.evaluation_table(result)
        atomic_write_text(paths["md"], f"# Attribute axes of {args.generator}\n\n{table}\n")
        atomic_write_text(paths["csv"], axa.evaluation_table(result, fmt="csv"))
        axa.plot_evaluation(result, paths["png"])
    except (ValueError, OSError, SnapshotError, DeviceError) as exc:
        print(f"{parser.prog}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    print(table)
    print(f"{len(after)} axes x {len(amounts)} amounts x {args.n} latents in {time.perf_counter() - start:.1f} s")
    for p in paths.values():
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())

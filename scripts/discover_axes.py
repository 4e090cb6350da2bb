#!/usr/bin/env python
"""Find latent attribute axes of a generator and save them beside it (axes.json).

Samples latents, generates, predicts the attributes with the attribute regressor, fits one least-squares
axis per attribute (neuralcollage.analysis.axes.discover_axes) and decorrelates every axis from the others by
orthogonal projection (neuralcollage.axes.decorrelate_all). The file holds the decorrelated axes under the
attribute names (what `--axis NAME` edits use) and the raw fits as NAME_raw, with the sha256 of the
generator they belong to (neuralcollage.axes.bundle_axes refuses them for another generator file).

examples:
  python scripts/discover_axes.py       # the built-in model: neuralcollage/data/pretrained/builtin64/axes.json
  python scripts/discover_axes.py --generator runs/builtin64/generator.npz --n-samples 4000 --classes all \\
      -o out/axes_per_class.json
"""
import argparse
import dataclasses
import os
import sys
import time

import neuralcollage  # noqa: F401  (before Chainer)
from neuralcollage import axes as ax
from neuralcollage.analysis import axes as axa
from neuralcollage.backend import DeviceError
from neuralcollage.io import InputError
from neuralcollage.pretrained import builtin_dir
from neuralcollage.snapshot import SnapshotError


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    def _get_help_string(self, action):
        if action.default is None or action.default is False or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def build_parser():
    p = argparse.ArgumentParser(prog="discover_axes.py", description=__doc__, formatter_class=_Formatter)
    p.add_argument("--generator", default=os.path.join(builtin_dir(), "generator.npz"),
                   help="generator snapshot (.npz; default: the built-in model's)")
    p.add_argument("--regressor", default=None,
                   help="attribute regressor snapshot (default: regressor.npz beside the generator, else "
                        "the built-in model's)")
    p.add_argument("-o", "--output", default=None,
                   help="axes file, .json or .npz (default: axes.json beside the generator)")
    p.add_argument("--n-samples", type=int, default=3000, help="latents per fit (per class with --classes)")
    p.add_argument("--classes", default=None,
                   help="per-class axes: 'all' or comma-separated class ids (default: global axes)")
    p.add_argument("--attributes", default=None,
                   help="comma-separated attributes to keep (default: every regressor output)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latents and classes")
    p.add_argument("--batch-size", type=int, default=64, help="images per forward pass")
    p.add_argument("--no-raw", action="store_true", help="do not also save the raw (not decorrelated) axes")
    p.add_argument("--note", default=None, help="a remark stored in the file (e.g. which training iteration)")
    p.add_argument("--gpu", type=int, default=-1, help="GPU id, -1 for the CPU")
    return p


def default_regressor(generator):
    beside = os.path.join(os.path.dirname(os.path.abspath(generator)), "regressor.npz")
    return beside if os.path.exists(beside) else os.path.join(builtin_dir(), "regressor.npz")


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    start = time.perf_counter()
    output = args.output or os.path.join(os.path.dirname(os.path.abspath(args.generator)), ax.AXES_FILE)
    regressor_path = args.regressor or default_regressor(args.generator)
    try:
        for path, what in ((args.generator, "generator"), (regressor_path, "regressor")):
            if not os.path.exists(path):
                raise InputError(f"{what} {path}: no such file")
        gen = neuralcollage.load_generator(args.generator, device=args.gpu)
        regressor = neuralcollage.load_model(regressor_path, kind="regressor", device=args.gpu)
        classes = None
        if args.classes is not None:
            classes = "all" if args.classes == "all" else [int(c) for c in args.classes.split(",")]
        found = axa.discover_axes(gen, regressor, n_samples=args.n_samples, classes=classes, seed=args.seed,
                                  batch_size=args.batch_size)
        if args.attributes:
            keep = [a.strip() for a in args.attributes.split(",")]
            unknown = sorted(set(keep) - {a.attribute for a in found})
            if unknown:
                raise InputError(f"unknown attributes {unknown}; the regressor predicts {list(regressor.attributes)}")
            found = [a for a in found if a.attribute in keep]
        decorrelated = ax.decorrelate_all(found)
        raw = [] if args.no_raw else [dataclasses.replace(a, name=a.name + "_raw") for a in found]
        folder = os.path.dirname(os.path.abspath(output))
        model = {"generator": os.path.relpath(os.path.abspath(args.generator), folder),
                 "generator_sha256": ax.file_sha256(args.generator),
                 "regressor": os.path.relpath(os.path.abspath(regressor_path), folder),
                 "regressor_sha256": ax.file_sha256(regressor_path),
                 "resolution": gen.resolution, "n_classes": gen.n_classes, "dim_z": gen.dim_z}
        notes = {"note": args.note, "n_samples": args.n_samples, "seed": args.seed, "classes": args.classes,
                 "method": "least squares of each attribute on z with one intercept per class; unit slopes; "
                           "NAME = NAME_raw decorrelated from the other axes of its class (Gram-Schmidt)"}
        ax.save_axes(output, decorrelated + raw, model=model, notes=notes,
                     overwrite_protect=(args.generator, regressor_path))
    except (ValueError, OSError, SnapshotError, DeviceError) as exc:
        print(f"{parser.prog}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    for a, d in zip(found, decorrelated):
        print(f"{a.label:24s} fit R^2 {a.r2:.3f}  slope {a.slope:.4f}/unit  decorrelated slope {d.slope:.4f}/unit "
              f"(cos to raw {float(a.direction @ d.direction):.3f})")
    print(f"{len(found)} axes from {args.n_samples} latents in {time.perf_counter() - start:.1f} s")
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

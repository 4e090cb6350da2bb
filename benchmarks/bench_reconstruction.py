"""Cost of the photo pipeline's reconstruction: a built-in edit from the command line with each
reconstruction, and the per-step cost of a ``collage256``-size model (random weights) with the edit time it
implies.

Measured in one run:

* ``collage edit`` on the bundled example (the 256 px cat, its ear mask, target ``fox``) with
  ``--reconstruction projection`` (the latent alone), ``features`` (the default: projection + feature fit) and
  ``pivotal`` (projection + weight tuning), each in a fresh process: wall-clock and CPU seconds (the child's
  user + system time; the steadier number when other processes compete for the cores), and their ratios;
* on a ``collage256``-size generator and discriminator with random weights (full size unless ``--ch``):
  seconds per projection step and per fit step of each fitting reconstruction (medians over ``--steps`` steps
  after two warm-up steps), and the edit time they imply with the defaults (the projection
  steps, :data:`~neuralcollage.reconstruction.PROJECTION_STEPS`, and
  :class:`~neuralcollage.reconstruction.FitOptions`' fit steps).

Targets (issue 22): a default built-in edit <= 15 s; a default 256 px edit <= 3 min, on 2 cores. Example::

    python benchmarks/bench_reconstruction.py
    python benchmarks/bench_reconstruction.py --ch 8 --steps 3       # a quick run
    python benchmarks/bench_reconstruction.py --gpu 0
"""
import argparse
import dataclasses
import os
import resource
import subprocess
import sys
import tempfile
import time

BUILTIN_TARGET_S, COLLAGE256_TARGET_S = 15.0, 180.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--steps", type=int, default=5, help="timed steps of each kind on the 256 px model")
    parser.add_argument("--ch", type=int, default=None, help="collage256 width override (default: 48)")
    parser.add_argument("--skip-cli", action="store_true", help="only the 256 px model")
    parser.add_argument("--gpu", type=int, default=-1, help="CUDA device id (-1: the CPU)")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be >= 1")
    return args


def cli_edit(extra, gpu):
    """Wall and CPU seconds of one ``collage edit`` of the bundled example in a fresh process."""
    import neuralcollage
    folder = os.path.join(os.path.dirname(os.path.abspath(neuralcollage.__file__)), "data", "examples")
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "neuralcollage.cli", "edit", "--base", os.path.join(folder, "cat.png"),
               "--mask", os.path.join(folder, "cat_ears_mask.png"), "--label", "fox", "--source-label", "cat",
               "-o", os.path.join(out, "out.png"), "-q", "--gpu", str(gpu)] + extra
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"collage edit failed ({done.returncode}): {done.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout.strip()


def step_times(args):
    """Median seconds per projection step and per fit step of each fitting reconstruction on a
    collage256-size model: ``(gen, projection, {method: fit step})``."""
    import numpy

    import neuralcollage as nc
    from neuralcollage.inversion import project
    from neuralcollage.reconstruction import FIT_METHODS, fit_generator, fit_options
    overrides = {} if args.ch is None else {"ch": args.ch}
    gen = nc.Generator.from_preset("collage256", **overrides)
    dis = nc.Discriminator.from_preset("collage256", **overrides)
    if args.gpu >= 0:
        gen.to_device(args.gpu)
        dis.to_device(args.gpu)
    rng = numpy.random.RandomState(0)
    crop = rng.randint(0, 256, (gen.resolution, gen.resolution, 3)).astype(numpy.uint8)
    stamps = []
    project(gen, dis, crop, 3, steps=args.steps + 2, seed=0,
            callback=lambda step, loss, restart: stamps.append(time.perf_counter()))
    projection = float(numpy.median(numpy.diff(stamps[2:])))
    z = numpy.asarray(rng.standard_normal((1, gen.dim_z)), numpy.float32)
    fits = {}
    for method in FIT_METHODS:
        stamps = []
        options = dataclasses.replace(fit_options(method), steps=args.steps + 2)
        fit_generator(gen, crop, z, 3, options=options, callback=lambda step, loss: stamps.append(time.perf_counter()))
        fits[method] = float(numpy.median(numpy.diff(stamps[2:])))
    return gen, projection, fits


def main(argv=None):
    args = parse_args(argv)
    from neuralcollage.reconstruction import DEFAULT_RECONSTRUCTION, PROJECTION_STEPS, FitOptions
    fit_steps = FitOptions().steps
    if not args.skip_cli:
        times = {method: cli_edit(["--reconstruction", method], args.gpu)
                 for method in ("projection", "features", "pivotal")}
        print("built-in model, `collage edit` of the bundled example (fresh process each):")
        for method, (wall, cpu, _) in times.items():
            target = f"  (target <= {BUILTIN_TARGET_S:g} s wall)" if method == DEFAULT_RECONSTRUCTION else ""
            print(f"  {method:<10}: {wall:6.1f} s wall, {cpu:6.1f} s CPU, ratio to projection "
                  f"{wall / times['projection'][0]:.2f} wall, {cpu / times['projection'][1]:.2f} CPU{target}")
        print(f"  {times[DEFAULT_RECONSTRUCTION][2]}")
    gen, projection, fits = step_times(args)
    print(f"{gen!r}, {'GPU ' + str(args.gpu) if args.gpu >= 0 else 'CPU'}:")
    print(f"  projection step {projection:.3f} s")
    for method, fit in fits.items():
        steps = PROJECTION_STEPS[method]
        total = steps * projection + fit_steps * fit
        target = f"; target <= {COLLAGE256_TARGET_S:g} s" if method == DEFAULT_RECONSTRUCTION else ""
        print(f"  {method} fit step {fit:.3f} s (ratio to a projection step {fit / projection:.2f}); implied edit "
              f"{steps} x {projection:.3f} + {fit_steps} x {fit:.3f} = {total:.0f} s{target}")
    steps = PROJECTION_STEPS["projection"]
    print(f"  projection alone: implied edit {steps} x {projection:.3f} = {steps * projection:.0f} s")
    print("  (rendering and blending add about one generation)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

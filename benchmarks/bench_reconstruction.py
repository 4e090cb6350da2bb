"""Cost of the photo pipeline's pivotal fit: a built-in edit from the command line with and without it,
and the per-step cost of a ``collage256``-size model (random weights) with the edit time it implies.

Measured in one run:

* ``collage edit`` on the bundled example (the 256 px cat, its ear mask, target ``fox``) with
  ``--reconstruction pivotal`` (projection + fit) and with ``--reconstruction projection`` (the default), each
  in a fresh process: wall-clock
  and CPU seconds (the child's user + system time; the steadier number when other processes compete for the
  cores), and their ratio;
* on a ``collage256``-size generator and discriminator with random weights (full size unless ``--ch``):
  seconds per projection step and per fit step (medians over ``--steps`` steps after two warm-up steps), and
  the edit time they imply for the defaults (200 projection steps, 100 fit steps).

Targets (issue 22): a built-in edit with the fit <= 15 s; 256 px edit <= 3 min, on 2 cores. Example::

    python benchmarks/bench_reconstruction.py
    python benchmarks/bench_reconstruction.py --ch 8 --steps 3       # a quick run
    python benchmarks/bench_reconstruction.py --gpu 0
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

BUILTIN_TARGET_S, COLLAGE256_TARGET_S = 15.0, 180.0
PROJECTION_STEPS, FIT_STEPS = 200, 100


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
    """Median seconds per projection step and per fit step on a collage256-size model."""
    import numpy

    import neuralcollage as nc
    from neuralcollage.inversion import project
    from neuralcollage.reconstruction import FitOptions, fit_generator
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
    stamps = []
    z = numpy.asarray(rng.standard_normal((1, gen.dim_z)), numpy.float32)
    fit_generator(gen, crop, z, 3, options=FitOptions(steps=args.steps + 2),
                  callback=lambda step, loss: stamps.append(time.perf_counter()))
    fit = float(numpy.median(numpy.diff(stamps[2:])))
    return gen, projection, fit


def main(argv=None):
    args = parse_args(argv)
    if not args.skip_cli:
        wall_p, cpu_p, _ = cli_edit(["--reconstruction", "projection"], args.gpu)
        wall_f, cpu_f, line = cli_edit(["--reconstruction", "pivotal"], args.gpu)
        print("built-in model, `collage edit` of the bundled example (fresh process each):")
        print(f"  projection only : {wall_p:6.1f} s wall, {cpu_p:6.1f} s CPU")
        print(f"  pivotal fit     : {wall_f:6.1f} s wall, {cpu_f:6.1f} s CPU  (target <= {BUILTIN_TARGET_S:g} s wall)")
        print(f"  ratio fit / projection: {wall_f / wall_p:.2f} wall, {cpu_f / cpu_p:.2f} CPU")
        print(f"  {line}")
    gen, projection, fit = step_times(args)
    total = PROJECTION_STEPS * projection + FIT_STEPS * fit
    print(f"{gen!r}, {'GPU ' + str(args.gpu) if args.gpu >= 0 else 'CPU'}:")
    print(f"  projection step {projection:.3f} s, fit step {fit:.3f} s (ratio {fit / projection:.2f})")
    print(f"  implied edit: {PROJECTION_STEPS} x {projection:.3f} + {FIT_STEPS} x {fit:.3f} = {total:.0f} s "
          f"(target <= {COLLAGE256_TARGET_S:g} s; rendering and blending add about one generation)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

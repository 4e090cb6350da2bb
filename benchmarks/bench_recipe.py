"""Training rates of the built-in model's recipe steps, alone and side by side, and the recipe time they imply.

Each step of ``scripts/train_builtin.sh`` (the GAN, the whole-image and part classifiers, the attribute
regressor, the encoder) runs with the recipe's settings in a fresh process, in a temporary folder, for
``--seconds`` after a short warm-up; its rate is the steady-state seconds per iteration between its log
records (held-out evaluations, checkpoints and sample grids are left out). For the GAN, whose time is the
recipe's critical path, the worker also times one export (``generator.npz`` with re-estimated BN statistics
and ``discriminator.npz``, written at every checkpoint) and one sample grid, and the projection adds them at
the recipe's cadence (every 100 and 250 iterations). Measured in one run, in this order:

* every step alone with one BLAS/kernel thread (``OMP_NUM_THREADS=1``);
* the GAN alone with two threads (does a second core speed it up?);
* the GAN and the part classifier side by side, one thread each (does the second core run the
  GAN-independent steps without slowing the GAN?).

It then prints the recipe time these rates imply for the iteration counts of ``scripts/train_builtin.sh``:
the steps one after another, and the GAN with the GAN-independent steps (classifiers, regressor) on the
other core, the encoder after both. Example::

    python benchmarks/bench_recipe.py
    python benchmarks/bench_recipe.py --seconds 120
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy

#: Iterations of each step in scripts/train_builtin.sh.
RECIPE_ITERATIONS = {"gan": 6000, "classifier": 1000, "part_classifier": 2500, "regressor": 3000, "encoder": 1500}
#: The steps that do not need the trained generator (they can run while the GAN trains).
GAN_INDEPENDENT = ("classifier", "part_classifier", "regressor")
RECIPE_TARGET_HOURS = 3.0
#: The GAN's checkpoint (and export) and sample-grid cadence in scripts/train_builtin.sh.
GAN_CHECKPOINT_EVERY, GAN_SAMPLE_EVERY = 100, 250
_NEVER = 10 ** 9


def _positive_seconds(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--seconds", type=_positive_seconds, default=60.0,
                        help="measured seconds per step and scenario")
    parser.add_argument("--generator", default=None,
                        help="generator .npz the encoder step trains against (default: the built-in one)")
    parser.add_argument("--worker", choices=sorted(RECIPE_ITERATIONS), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _run_step(step, out, seconds, generator):
    """Train ``step`` in ``out`` for a warm-up, then ``seconds`` more; returns steady-state s/iteration."""
    from neuralcollage.train.classifier import train_classifier
    from neuralcollage.train.encoder import train_encoder
    from neuralcollage.train.gan import train_gan
    from neuralcollage.train.regressor import train_regressor

    total = RECIPE_ITERATIONS[step]
    quiet = dict(progress=False, log_every=5, checkpoint_every=_NEVER)
    if step == "gan":
        def run(iterations, limit):
            return train_gan(out, iterations=iterations, batch_size=32, n_dis=2, seed=0, sample_every=_NEVER,
                             time_limit=limit, **quiet)
    elif step in ("classifier", "part_classifier"):
        kind = "whole" if step == "classifier" else "part"
        batch = 32 if kind == "whole" else 16

        def run(iterations, limit):
            return train_classifier(out, kind=kind, arch="builtin64", iterations=iterations, batch_size=batch,
                                    lr=1e-3, seed=0, part_swap=0.5, eval_every=_NEVER, n_eval=8,
                                    n_final_eval=0, time_limit=limit, **quiet)
    elif step == "regressor":
        def run(iterations, limit):
            return train_regressor(out, arch="builtin64", iterations=iterations, batch_size=32, lr=1e-3, seed=0,
                                   eval_every=_NEVER, n_eval=8, n_final_eval=0, time_limit=limit, **quiet)
    else:
        def run(iterations, limit):
            return train_encoder(out, generator_path=generator, iterations=iterations, batch_size=32, seed=0,
                                 sample_every=_NEVER, n_val=8, time_limit=limit, **quiet)
    run(2, None)
    run(total, seconds)
    overhead = _gan_overhead(out) if step == "gan" else 0.0
    records = [json.loads(line) for line in open(os.path.join(out, "log.jsonl"))]
    records = [r for r in records if r["iteration"] > 2]
    if len(records) < 2:
        raise RuntimeError(f"{step}: too few iterations in {seconds} s to measure a rate; raise --seconds")
    first, last = records[0], records[-1]
    rate = (last["seconds"] - first["seconds"]) / (last["iteration"] - first["iteration"])
    return rate, overhead


def _gan_overhead(out):
    """Seconds per GAN iteration spent on exports (every 100 iterations) and sample grids (every 250)."""
    import time
    from neuralcollage.models import Discriminator, Generator
    from neuralcollage.train import gan
    from neuralcollage.datasets import CLASS_NAMES
    generator = Generator.from_preset("builtin64", n_classes=len(CLASS_NAMES))
    discriminator = Discriminator.from_preset("builtin64", n_classes=len(CLASS_NAMES))
    start = time.perf_counter()
    gan.export(out, generator, discriminator, seed=0)
    export = time.perf_counter() - start
    z = generator.sample_z(4 * generator.n_classes, seed=0)
    y = numpy.repeat(numpy.arange(generator.n_classes), 4).astype(numpy.int32)
    start = time.perf_counter()
    gan.save_samples(generator, z, y, out, 0)
    samples = time.perf_counter() - start
    return export / GAN_CHECKPOINT_EVERY + samples / GAN_SAMPLE_EVERY


def _launch(step, threads, seconds, generator, folder):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    out = tempfile.mkdtemp(prefix=f"{step}_", dir=folder)
    with open(os.path.join(out, "stderr.txt"), "w") as errors:
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", step, "--out", out,
                                 "--seconds", str(seconds), "--generator", generator],
                                env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
    proc.step, proc.errors = step, errors.name
    return proc


def _collect(proc):
    """The worker's seconds per iteration (its overhead included); RuntimeError with its last error line."""
    stdout, _ = proc.communicate()
    if proc.returncode != 0:
        with open(proc.errors) as errors:
            last = [line for line in errors.read().splitlines() if line.strip()][-1:] or ["no message"]
        raise RuntimeError(f"the {proc.step} step failed (exit {proc.returncode}): {last[0].strip()}")
    record = json.loads(stdout.strip().splitlines()[-1])
    return record["s_per_it"] + record["overhead_s_per_it"]


def _hours(step, rate):
    return RECIPE_ITERATIONS[step] * rate / 3600.0


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        rate, overhead = _run_step(args.worker, args.out, args.seconds, args.generator)
        print(json.dumps({"step": args.worker, "s_per_it": rate, "overhead_s_per_it": overhead}))
        return 0
    generator = args.generator
    if generator is None:
        from neuralcollage.pretrained import builtin_dir
        generator = os.path.join(builtin_dir(), "generator.npz")
    try:
        _check_generator(generator)
    except (OSError, ValueError) as exc:
        print(f"bench_recipe: --generator: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    try:
        return _measure(args.seconds, generator)
    except RuntimeError as exc:
        print(f"bench_recipe: {exc}", file=sys.stderr)
        return 1


def _check_generator(path):
    """Load the generator the encoder step needs, so that a missing or unfit file fails before any timing."""
    from neuralcollage.loading import load_generator
    if not os.path.isfile(path):
        raise OSError(f"no generator file at {path}")
    load_generator(path)


def _measure(seconds, generator):
    alone = {}
    with tempfile.TemporaryDirectory(prefix="bench_recipe_") as folder:
        for step in RECIPE_ITERATIONS:
            alone[step] = _collect(_launch(step, 1, seconds, generator, folder))
            print(f"{step:16s} alone, 1 thread      {alone[step]:.3f} s/it", flush=True)
        gan_two_threads = _collect(_launch("gan", 2, seconds, generator, folder))
        print(f"{'gan':16s} alone, 2 threads     {gan_two_threads:.3f} s/it", flush=True)
        procs = {s: _launch(s, 1, seconds, generator, folder) for s in ("gan", "part_classifier")}
        together = {s: _collect(p) for s, p in procs.items()}
        for step, rate in together.items():
            print(f"{step:16s} side by side         {rate:.3f} s/it  ({rate / alone[step]:.2f}x alone)",
                  flush=True)

    slowdown = together["part_classifier"] / alone["part_classifier"]
    serial = sum(_hours(s, r) for s, r in alone.items())
    side = sum(_hours(s, alone[s]) for s in GAN_INDEPENDENT) * slowdown
    parallel = max(_hours("gan", together["gan"]), side) + _hours("encoder", alone["encoder"])
    print()
    print(f"GAN, 2 threads vs 1:                          {gan_two_threads / alone['gan']:.2f}x the time")
    print(f"GAN beside another step vs alone:             {together['gan'] / alone['gan']:.2f}x the time")
    print(f"recipe, steps one after another (1 thread):   {serial:.2f} h")
    gan_hours = _hours("gan", together["gan"])
    print(f"recipe, GAN-independent steps on the 2nd core: {parallel:.2f} h  (GAN {gan_hours:.2f} h"
          f" | classifiers + regressor {side:.2f} h, then encoder {_hours('encoder', alone['encoder']):.2f} h)")
    print(f"target: <= {RECIPE_TARGET_HOURS:.1f} h  -> {'met' if parallel <= RECIPE_TARGET_HOURS else 'missed'}"
          " (the GAN with its exports and sample grids; the other steps' held-out evaluations not included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

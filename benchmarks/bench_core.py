"""Core-engine benchmark: plain CBN generation, sCBN generation and feature blending on the CPU.

Builds a generator preset (default ``collage256`` at full size: ch=48, 143 classes) with random weights,
batch 1, test mode, no graph, and times in one run, interleaved so that changes of machine load hit all
cases alike:

* ``plain``: a CBN generation ``G(z, c)`` (class ids);
* ``scbn``: an sCBN generation with a 2-class spatial map at every class layer (class ``a`` on the left
  half, class ``b`` on the right half; the per-layer maps are built once, outside the timing);
* ``blend``: feature blending of 2 latents, the blend maps taking stream 0 on the left half and stream 1 on
  the right half at every blend layer (the target stream's own weight 0).

It prints median and minimum wall-clock seconds and median process CPU seconds (steadier on a loaded
machine; it sums all threads), then the ratios against the targets: sCBN <= 1.10x CBN, blending <= 2.2x a
plain generation, plain <= 0.9 s. ``--no-fast`` runs the standard Chainer functions instead of the CPU fast
path (``fastconv.ENABLED = False``: the "before"); ``--compare`` runs both in the same process and prints
the speed-ups. Examples::

    python benchmarks/bench_core.py
    python benchmarks/bench_core.py --compare --repeats 5
    python benchmarks/bench_core.py --arch tiny32 --repeats 3
"""
import argparse
import os
import statistics
import sys
import time

TARGETS = {"scbn": 1.10, "blend": 2.2, "plain_s": 0.9}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--arch", default="collage256", help="generator preset")
    parser.add_argument("--ch", type=int, default=None, help="base width override (default: the preset's)")
    parser.add_argument("--n-classes", type=int, default=None, help="class count override")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs of each case (median reported)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--no-fast", action="store_true", help="standard Chainer functions (fast path off)")
    group.add_argument("--compare", action="store_true", help="fast path and standard functions, one run")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads (sets OPENBLAS/OMP/MKL_NUM_THREADS; default: unchanged)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    return args


def build(arch, *, ch=None, n_classes=None, seed=0):
    import numpy
    from neuralcollage.models import Generator

    overrides = {k: v for k, v in (("ch", ch), ("n_classes", n_classes)) if v is not None}
    numpy.random.seed(seed)
    gen = Generator.from_preset(arch, **overrides)
    return gen


def cases(gen, seed):
    """The three timed callables (test mode, no graph) and their names."""
    import chainer
    import numpy

    k = gen.n_classes
    a, b = 0, k // 2
    z = gen.sample_z(1, seed=seed)
    zs = [gen.sample_z(1, seed=seed + 1), gen.sample_z(1, seed=seed + 2)]
    class_maps = []
    for r in gen.class_map_resolutions:
        m = numpy.zeros((1, k, r, r), numpy.float32)
        m[0, a, :, :r // 2] = 1
        m[0, b, :, r // 2:] = 1
        class_maps.append(m)
    blend_maps = []
    for r in gen.blend_resolutions:
        m = numpy.zeros((1, 3, r, r), numpy.float32)
        m[0, 0, :, :r // 2] = 1
        m[0, 1, :, r // 2:] = 1
        blend_maps.append(m)

    def run(fn):
        def timed():
            with chainer.using_config("train", False), chainer.no_backprop_mode():
                return fn().array
        return timed

    return {
        "plain": run(lambda: gen(z, a)),
        "scbn": run(lambda: gen(z, class_maps)),
        "blend": run(lambda: gen.blend(zs, a, blend_maps)),
    }


LABELS = {"plain": "plain CBN generation", "scbn": "sCBN, 2-class spatial map", "blend": "feature blending, 2 z"}


def measure(fns, repeats, modes):
    """``{(mode, case): [(wall, cpu), ...]}``: every (mode, case) once per round, ``repeats`` rounds after one
    untimed warm-up round."""
    from neuralcollage.links import fastconv

    results = {}
    for rnd in range(repeats + 1):
        for mode in modes:
            fastconv.ENABLED = mode == "fast"
            for name, fn in fns.items():
                w0, c0 = time.perf_counter(), time.process_time()
                fn()
                w1, c1 = time.perf_counter(), time.process_time()
                if rnd:
                    results.setdefault((mode, name), []).append((w1 - w0, c1 - c0))
    fastconv.ENABLED = True
    return results


def summary(results, mode, name):
    walls = [w for w, _ in results[(mode, name)]]
    return statistics.median(walls), min(walls), statistics.median([c for _, c in results[(mode, name)]])


def verdict(ok):
    return "ok" if ok else "MISSED"


def report(args, gen, results, modes):
    from neuralcollage.links import fastconv

    threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "default"
    print(f"bench_core: {args.arch} {gen.resolution}px ch={gen.ch} classes={gen.n_classes} dim_z={gen.dim_z}, "
          f"batch 1, CPU, BLAS threads {threads}, fast-path threads {fastconv.worker_count()}, "
          f"{args.repeats} repeats, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    for mode in modes:
        title = "fast path" if mode == "fast" else "standard Chainer functions (--no-fast)"
        print(f"\n{title}:")
        print(f"  {'case':28s} {'median s':>9s} {'min s':>8s} {'cpu s':>8s}")
        for name in ("plain", "scbn", "blend"):
            med, low, cpu = summary(results, mode, name)
            print(f"  {LABELS[name]:28s} {med:9.3f} {low:8.3f} {cpu:8.3f}")
        plain = summary(results, mode, "plain")
        scbn = summary(results, mode, "scbn")
        blend = summary(results, mode, "blend")
        r_scbn, r_blend = scbn[0] / plain[0], blend[0] / plain[0]
        c_scbn, c_blend = scbn[2] / plain[2], blend[2] / plain[2]
        print(f"  sCBN / CBN       = {r_scbn:.2f}x wall, {c_scbn:.2f}x cpu (target <= {TARGETS['scbn']:.2f}x)  "
              f"{verdict(r_scbn <= TARGETS['scbn'])}")
        print(f"  blending / plain = {r_blend:.2f}x wall, {c_blend:.2f}x cpu (target <= {TARGETS['blend']:.1f}x)  "
              f"{verdict(r_blend <= TARGETS['blend'])}")
        print(f"  plain generation = {plain[0]:.3f} s median (target <= {TARGETS['plain_s']:.1f} s)  "
              f"{verdict(plain[0] <= TARGETS['plain_s'])}")
    if len(modes) == 2:
        print("\nspeed-up of the fast path (standard / fast, medians):")
        for name in ("plain", "scbn", "blend"):
            fast, std = summary(results, "fast", name), summary(results, "std", name)
            print(f"  {LABELS[name]:28s} {std[0] / fast[0]:6.2f}x wall  {std[2] / fast[2]:6.2f}x cpu")


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(args.threads)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from neuralcollage import _compat  # noqa: F401  (before Chainer)

    gen = build(args.arch, ch=args.ch, n_classes=args.n_classes, seed=args.seed)
    modes = ["fast", "std"] if args.compare else ["std"] if args.no_fast else ["fast"]
    results = measure(cases(gen, args.seed), args.repeats, modes)
    report(args, gen, results, modes)
    return 0


if __name__ == "__main__":
    sys.exit(main())

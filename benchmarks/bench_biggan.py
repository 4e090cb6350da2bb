"""BigGAN-deep benchmark: plain generation, sCBN generation with a 2-class map and feature blending.

Builds BigGAN-deep 128 at full width from the published ``pytorch-pretrained-biggan`` ``config.json``
(``ch=128``, 1000 classes, ``dim_z=128``, attention before block 8) through
:func:`neuralcollage.convert.biggan_config`, with random weights (nothing is downloaded), batch 1, test
mode, no graph, truncation 0.4, and times in one run, interleaved so that changes of machine load hit all
cases alike:

* ``plain``: ``G(z=z, y=ids, truncation=t)``;
* ``scbn``: an sCBN generation ``G(z=z, y=layer_maps, truncation=t)`` with a 2-class map (class ``a`` on
  the left half, class ``b`` on the right half) at every class layer, the per-layer ``(1, K, h, w)`` maps
  built once outside the timing by :func:`neuralcollage.maps.layer_maps`, as the editor and the painter
  build them once per stroke;
* ``scbn_map``: the same collage given as one ``(1, K, R, R)`` map, area-resized inside the call;
* ``blend`` (``--no-blend`` skips it): feature blending of 2 latents, the blend maps taking stream 0 on
  the left half and stream 1 on the right half at every blend layer.

It prints median and minimum wall-clock seconds and median process CPU seconds (steadier on a loaded
machine; it sums all threads), then the ratios against the target: sCBN <= 1.15x a plain generation
(issue 8). Examples::

    python benchmarks/bench_biggan.py
    python benchmarks/bench_biggan.py --repeats 5 --threads 2
    python benchmarks/bench_biggan.py --arch tiny32 --repeats 1
    python benchmarks/bench_biggan.py --gpu 0
"""
import argparse
import contextlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

from bench_core import measure, summary, verdict  # noqa: E402

TARGETS = {"scbn": 1.15}

#: ``config.json`` of the published ``biggan-deep-128`` checkpoint (``pytorch-pretrained-biggan``).
BIGGAN_DEEP_128_CONFIG = {
    "output_dim": 128, "z_dim": 128, "class_embed_dim": 128, "channel_width": 128, "num_classes": 1000,
    "layers": [[False, 16, 16], [True, 16, 16], [False, 16, 16], [True, 16, 8], [False, 8, 8], [True, 8, 4],
               [False, 4, 4], [True, 4, 2], [False, 2, 2], [True, 2, 1]],
    "attention_layer_position": 8, "eps": 1e-4, "n_stats": 51,
}

LABELS = {"plain": "plain generation", "scbn": "sCBN, 2-class layer maps", "scbn_map": "sCBN, one 2-class map",
          "blend": "feature blending, 2 z"}


def parse_args(argv=None):
    from neuralcollage.models.biggan import BIGGAN_PRESETS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--arch", default="biggan-deep-128", choices=sorted(BIGGAN_PRESETS),
                        help="biggan-deep-128 is built from its published config.json, the others from "
                             "BIGGAN_PRESETS (tiny32: 32 px, for tests)")
    parser.add_argument("--ch", type=int, default=None, help="channel width override")
    parser.add_argument("--n-classes", type=int, default=None, help="class count override")
    parser.add_argument("--truncation", type=float, default=0.4)
    parser.add_argument("--repeats", type=int, default=7, help="timed runs of each case (median reported)")
    parser.add_argument("--no-fast", action="store_true", help="standard Chainer functions (fast path off)")
    parser.add_argument("--no-blend", action="store_true", help="skip the feature-blending case")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS and fast-path threads (threadpoolctl; default: unchanged)")
    parser.add_argument("--gpu", type=int, default=None, help="CUDA device id (default: CPU)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be >= 1")
    if not 0.0 < args.truncation <= 1.0:
        parser.error("--truncation must be in (0, 1]")
    return args


def build(arch, *, ch=None, n_classes=None, seed=0):
    """``BigGANDeep`` with Chainer's random initialisation from ``seed``; ``biggan-deep-128`` goes through
    the converter's reading of the published ``config.json``."""
    import numpy
    from neuralcollage.convert import biggan_config
    from neuralcollage.models.biggan import BigGANDeep

    numpy.random.seed(seed)
    if arch == "biggan-deep-128":
        raw = dict(BIGGAN_DEEP_128_CONFIG)
        if ch is not None:
            raw["channel_width"] = ch
        if n_classes is not None:
            raw["num_classes"] = n_classes
        config = biggan_config(raw, source="biggan-deep-128 config.json")
        if ch is None and n_classes is None and config["arch"] != "biggan-deep-128":
            raise RuntimeError(f"the published config was read as {config['arch']!r}")
        return BigGANDeep(**config)
    overrides = {k: v for k, v in (("ch", ch), ("n_classes", n_classes)) if v is not None}
    return BigGANDeep.from_preset(arch, **overrides)


def cases(gen, *, truncation, seed, blend=True):
    """The timed callables (test mode, no graph; each returns the images as NumPy, which waits for a GPU)."""
    import chainer
    import numpy
    from neuralcollage import maps
    from neuralcollage.backend import to_numpy

    k, res = gen.n_classes, gen.resolution
    a, b = 0, k // 2
    dev = gen.device
    ids = dev.send(numpy.array([a], numpy.int32))
    z = gen.sample_z(1, seed=seed, truncation=truncation)
    zs = [gen.sample_z(1, seed=seed + 1, truncation=truncation), gen.sample_z(1, seed=seed + 2,
                                                                               truncation=truncation)]
    collage = numpy.zeros((1, k, res, res), numpy.float32)
    collage[0, a, :, :res // 2] = 1
    collage[0, b, :, res // 2:] = 1
    class_maps = [dev.send(m) for m in maps.layer_maps(collage, gen.class_map_resolutions)]
    collage = dev.send(collage)
    blend_maps = []
    for r in gen.blend_resolutions:
        m = numpy.zeros((1, 3, r, r), numpy.float32)
        m[0, 0, :, :r // 2] = 1
        m[0, 1, :, r // 2:] = 1
        blend_maps.append(dev.send(m))

    def run(fn):
        def timed():
            with chainer.using_config("train", False), chainer.no_backprop_mode():
                return to_numpy(fn())
        return timed

    fns = {
        "plain": run(lambda: gen(z=z, y=ids, truncation=truncation)),
        "scbn": run(lambda: gen(z=z, y=class_maps, truncation=truncation)),
        "scbn_map": run(lambda: gen(z=z, y=collage, truncation=truncation)),
    }
    if blend:
        fns["blend"] = run(lambda: gen.blend(zs, ids, blend_maps, truncation=truncation))
    return fns


def check(fns):
    """Run every case once (the warm-up): finite images, and the halves of the collage differ from a
    plain generation only where their class differs."""
    import numpy

    out = {name: fn() for name, fn in fns.items()}
    for name, x in out.items():
        if not numpy.isfinite(x).all():
            raise RuntimeError(f"{name} gave non-finite images")
    if not numpy.array_equal(out["scbn"], out["scbn_map"]):
        diff = float(abs(out["scbn"] - out["scbn_map"]).max())
        if diff > 1e-4:
            raise RuntimeError(f"the layer maps and the single map disagree by {diff:g}")


def _blas_threads():
    try:
        import threadpoolctl
    except ImportError:
        return "unknown (no threadpoolctl)"
    counts = sorted({lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"})
    return ",".join(map(str, counts)) or "none"


def report(args, gen, results, mode, names, device):
    from neuralcollage.links import fastconv

    print(f"bench_biggan: {gen.arch or args.arch} {gen.resolution}px ch={gen.ch} classes={gen.n_classes} "
          f"dim_z={gen.dim_z}, batch 1, truncation {args.truncation}, {device}, BLAS threads {_blas_threads()}, "
          f"fast-path threads {fastconv.worker_count()}{' (off)' if mode == 'std' else ''}, {args.repeats} repeats, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"  {'case':28s} {'median s':>9s} {'min s':>8s} {'cpu s':>8s}")
    for name in names:
        med, low, cpu = summary(results, mode, name)
        print(f"  {LABELS[name]:28s} {med:9.3f} {low:8.3f} {cpu:8.3f}")
    plain = summary(results, mode, "plain")
    for name, label in (("scbn", "sCBN / plain      "), ("scbn_map", "sCBN map / plain  ")):
        s = summary(results, mode, name)
        r, c = s[0] / plain[0], s[2] / plain[2]
        print(f"  {label} = {r:.2f}x wall, {c:.2f}x cpu (target <= {TARGETS['scbn']:.2f}x)  "
              f"{verdict(r <= TARGETS['scbn'])}")
    if "blend" in names:
        s = summary(results, mode, "blend")
        print(f"  blending / plain   = {s[0] / plain[0]:.2f}x wall, {s[2] / plain[2]:.2f}x cpu (no target)")


def main(argv=None):
    from neuralcollage import _compat  # noqa: F401  (before Chainer)
    import numpy

    args = parse_args(argv)
    from neuralcollage.backend import DeviceError, get_device
    from neuralcollage.links import fastconv

    try:
        device = get_device(args.gpu)
    except DeviceError as exc:
        print(f"bench_biggan: error: {exc}", file=sys.stderr)
        return 2

    limits = contextlib.nullcontext()
    if args.threads:
        try:
            import threadpoolctl
        except ImportError:
            print("bench_biggan: error: --threads needs threadpoolctl (pip install threadpoolctl)", file=sys.stderr)
            return 2
        limits = threadpoolctl.threadpool_limits(limits=args.threads, user_api="blas")
    workers = fastconv.WORKERS
    try:
        with limits:
            if args.threads:
                fastconv.WORKERS = args.threads
            gen = build(args.arch, ch=args.ch, n_classes=args.n_classes, seed=args.seed)
            gen.to_device(device)
            device.use()
            fns = cases(gen, truncation=args.truncation, seed=args.seed, blend=not args.no_blend)
            mode = "std" if args.no_fast else "fast"
            fastconv.ENABLED = mode == "fast"
            check(fns)
            results = measure(fns, args.repeats, [mode])
            report(args, gen, results, mode, list(fns), "CPU" if device.xp is numpy else f"GPU {args.gpu}")
    finally:
        fastconv.WORKERS = workers
        fastconv.ENABLED = True
    return 0


if __name__ == "__main__":
    sys.exit(main())

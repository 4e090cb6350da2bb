"""Projection and photo-edit cost, as ratios to a plain generation of the same model in the same run.

Builds the generator and discriminator of a preset with random weights (default ``collage256`` at full size:
ch=48, 143 classes), batch 1, and measures in one run, interleaved so that load changes hit all alike:

* a plain generation ``G(z, c)`` (test mode, no graph) and a discriminator feature pass;
* one projection step of :func:`neuralcollage.project` (forward through G and D with a graph, the gradient
  with respect to z only, the Adam update): the time between the second and third progress callbacks (the
  first step of a run also fills the caches of derived weights);
* one full photo edit (:func:`neuralcollage.collage.edit_photo`, ``--edit-steps`` projection steps, source
  class given) on a synthetic photo, in total and per step;
* a breakdown of one step (G forward, D forward + loss, D backward, G backward) and, with
  ``--with-backward``, a step computing every parameter gradient as the original code did.

Wall-clock and process CPU time are both printed.  CPU time is steadier on a loaded machine with
``--threads 1``; with several BLAS threads it sums their time, including threads spinning while they wait.
Run ``python benchmarks/bench_projection.py --help`` for the options, e.g. ``--arch tiny32`` or ``--ch 8``
for a quick run.
"""
import argparse
import os
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--arch", default="collage256", help="generator/discriminator preset")
    parser.add_argument("--ch", type=int, default=None, help="base width override (default: the preset's)")
    parser.add_argument("--n-classes", type=int, default=None, help="class count override")
    parser.add_argument("--repeat", type=int, default=5, help="measurements per quantity (median reported)")
    parser.add_argument("--edit-steps", type=int, default=20, help="projection steps of the full edit (0: skip)")
    parser.add_argument("--with-backward", action="store_true",
                        help="also time a step that computes every parameter gradient (loss.backward())")
    parser.add_argument("--threads", type=int, default=None, help="BLAS/OpenMP threads (default: unchanged)")
    parser.add_argument("--gpu", type=int, default=None, help="GPU id (default: CPU)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


class Clock:
    """Wall-clock and CPU seconds since construction, with the device synchronised first."""

    def __init__(self, device):
        import time
        self._time, self._sync = time, getattr(device, "synchronize", None)
        self.reset()

    def now(self):
        if self._sync is not None:
            self._sync()
        return self._time.perf_counter(), self._time.process_time()

    def reset(self):
        self.start = self.now()

    def lap(self):
        wall, cpu = self.now()
        return wall - self.start[0], cpu - self.start[1]


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(args.threads)

    from neuralcollage import _compat  # noqa: F401  (before Chainer)

    import chainer
    import chainer.functions as F
    import numpy

    from neuralcollage.backend import get_device
    from neuralcollage.collage import edit_photo
    from neuralcollage.inversion import frozen_spectral_norm, project
    from neuralcollage.labels import numbered
    from neuralcollage.links.fastconv import constant_parameters
    from neuralcollage.models import Discriminator, Generator
    from neuralcollage.pretrained import ModelBundle

    overrides = {k: v for k, v in (("ch", args.ch), ("n_classes", args.n_classes)) if v is not None}
    numpy.random.seed(args.seed)
    device = get_device(args.gpu)
    gen = Generator.from_preset(args.arch, **overrides)
    dis = Discriminator.from_preset(args.arch, **{k: v for k, v in overrides.items() if k != "n_classes"},
                                    n_classes=gen.n_classes)
    gen.to_device(device)
    dis.to_device(device)
    r, label = gen.resolution, gen.n_classes // 2
    clock = Clock(device)
    times = {}

    def record(name, wall_cpu):
        times.setdefault(name, []).append(wall_cpu)

    z = gen.sample_z(1, seed=args.seed)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        target = gen(gen.sample_z(1, seed=args.seed + 1), label).array

    def generation():
        clock.reset()
        with chainer.using_config("train", False), chainer.no_backprop_mode():
            gen(z, label)
        record("generation", clock.lap())

    def feature_pass():
        clock.reset()
        with chainer.using_config("train", False), chainer.no_backprop_mode():
            dis.feature_vector(target)
        record("D feature pass", clock.lap())

    def projection_step():
        stamps = []
        project(gen, dis, target, label, steps=3, seed=args.seed,
                callback=lambda step, loss, restart: stamps.append(clock.now()))
        (w0, c0), (w1, c1) = stamps[1:3]
        record("projection step", (w1 - w0, c1 - c0))

    print(f"{args.arch} {r}px ch={gen.ch} classes={gen.n_classes} dim_z={gen.dim_z}, batch 1, "
          f"{'GPU ' + str(args.gpu) if args.gpu is not None else 'CPU'}, threads="
          f"{os.environ.get('OPENBLAS_NUM_THREADS') or os.environ.get('OMP_NUM_THREADS') or 'default'}",
          flush=True)
    generation()
    projection_step()
    times.clear()
    for _ in range(args.repeat):
        generation()
        feature_pass()
        projection_step()

    if args.edit_steps > 0:
        rng = numpy.random.RandomState(args.seed)
        height, width = 3 * r // 2 + 7, 2 * r + 11
        yy, xx = numpy.mgrid[0:height, 0:width]
        photo = numpy.stack([yy * 200.0 / height, xx * 200.0 / width, 100 + 50 * numpy.sin(xx / 9.0)], -1)
        photo = numpy.clip(photo + rng.normal(0, 12, photo.shape), 0, 255).astype(numpy.uint8)
        mask = ((yy - height / 2) ** 2 / (0.2 * height) ** 2 + (xx - width / 2) ** 2 / (0.15 * width) ** 2) < 1
        bundle = ModelBundle(name="random", generator=gen, discriminator=dis,
                             vocabulary=numbered(gen.n_classes))
        stamps = []
        generation()
        clock.reset()
        edit_photo(bundle, photo, mask, (label + 1) % gen.n_classes, source_label=label, steps=args.edit_steps,
                   progress=lambda step, loss, restart: stamps.append(clock.now()))
        total = clock.lap()
        record(f"full edit ({args.edit_steps} steps)", total)
        record("full edit, per step", (total[0] / args.edit_steps, total[1] / args.edit_steps))
        inner = [(w1 - w0, c1 - c0) for (w0, c0), (w1, c1) in zip(stamps[1:-2], stamps[2:-1])]
        for step in inner:
            record("projection step (in the edit)", step)
        generation()

    for _ in range(2):
        breakdown(gen, dis, z, target, label, clock, record, chainer, F, numpy, constant_parameters,
                  frozen_spectral_norm)
        generation()
        if args.with_backward:
            full_backward_step(gen, dis, z, target, label, clock, record, chainer, F)

    report(times)


def breakdown(gen, dis, z, target, label, clock, record, chainer, F, numpy, constant_parameters,
              frozen_spectral_norm):
    with chainer.using_config("train", False), frozen_spectral_norm(dis), constant_parameters():
        with chainer.no_backprop_mode():
            phi_t = dis.feature_vector(target).array
        zv = chainer.Variable(z.copy())
        x = gen.forward(zv, label)
        phi = dis.feature_vector(x)
        chainer.grad([F.sum(phi)], [zv])
        clock.reset()
        x = gen.forward(zv, label)
        record("  G forward (graph)", clock.lap())
        xv = chainer.Variable(x.array)
        clock.reset()
        phi = dis.feature_vector(xv)
        cos = F.sum(phi * phi_t, axis=1) / F.sqrt(F.batch_l2_norm_squared(phi) * float((phi_t ** 2).sum()))
        loss = F.sum(-cos + 0.2 * F.mean(F.squared_difference(xv, target)))
        loss.array.item()
        record("  D forward + loss (graph)", clock.lap())
        clock.reset()
        gx, = chainer.grad([loss], [xv])
        record("  D backward (to the image)", clock.lap())
        clock.reset()
        chainer.grad([x], [zv], grad_outputs=[gx])
        record("  G backward (to z)", clock.lap())


def full_backward_step(gen, dis, z, target, label, clock, record, chainer, F):
    """The original's step: the target's features recomputed, every parameter gradient computed."""
    zv = chainer.Variable(z.copy())
    gen.cleargrads()
    dis.cleargrads()
    with chainer.using_config("train", False):
        clock.reset()
        x = gen.forward(zv, label)
        phi, phi_t = dis.feature_vector(x), dis.feature_vector(target)
        cos = F.sum(F.normalize(phi) * F.normalize(phi_t), axis=1)
        loss = F.sum(-cos + 0.2 * F.mean(F.squared_difference(x, target)))
        loss.backward()
        record("step with all parameter gradients", clock.lap())
    gen.cleargrads()
    dis.cleargrads()


def report(times):
    import statistics
    base_wall = statistics.median(w for w, _ in times["generation"])
    base_cpu = statistics.median(c for _, c in times["generation"])
    print(f"{'quantity':40s} {'n':>3s} {'wall s':>8s} {'x gen':>7s} {'cpu s':>8s} {'x gen':>7s}")
    for name, values in times.items():
        wall = statistics.median(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        print(f"{name:40s} {len(values):3d} {wall:8.3f} {wall / base_wall:7.2f} {cpu:8.3f} {cpu / base_cpu:7.2f}")
    parts = [k for k in times if k.startswith("  ")]
    if parts:
        cpu = {k: statistics.median(c for _, c in times[k]) for k in parts}
        total = sum(cpu.values())
        shares = ", ".join(f"{k.strip()} {100 * v / total:.0f}%" for k, v in cpu.items())
        print(f"step breakdown (CPU time): {shares}.")
        print("Each backward pass costs about as much as its forward pass (the input gradient of a convolution "
              "has the forward's FLOPs), so a step is bounded below by about 2 x (G + D feature pass); "
              "parameter gradients and the target's features are not computed.")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

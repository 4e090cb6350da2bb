"""Example-based stylisation (neuralcollage.stylize) by image size: lookup-table build and synthesis.

For each side, renders a built-in face (seed ``--seed``) hatched in its own pose as the exemplar and plain in
another pose as the target (landmarks from the renderer), then times, interleaved round by round, the lookup
table build (:func:`neuralcollage.stylize.prepare_exemplar`, guide included) and the synthesis with the table
cached (:func:`neuralcollage.stylize.stylize` with the prepared exemplar: target guides, StyleBlit, voting),
and prints medians of wall-clock and process CPU seconds.  Targets (issue 25): synthesis <= 30 ms at 64 px,
<= 300 ms at 256 px, <= 1.2 s at 512 px; table build <= 5 s at 256 px.  Example::

    python benchmarks/bench_stylize.py
    python benchmarks/bench_stylize.py --sides 64 256 --repeats 5
    python benchmarks/bench_stylize.py --lattice auto      # with stylize(..., lattice="auto")
    python benchmarks/bench_stylize.py --hatching          # the hatching setting (docs/stylize.md, "Patch refinement")
"""
import argparse
import statistics
import time

import numpy

TARGETS = {"synthesis": {64: 0.030, 256: 0.300, 512: 1.2}, "table": {256: 5.0}}


def _case(side, seed):
    from neuralcollage.datasets import pose_of, render_landmarks, render_sample
    pose = pose_of(seed + 5000)
    ex_lm, t_lm = render_landmarks(seed, size=side), render_landmarks(seed, size=side, pose=pose)
    keep = ((ex_lm > -0.5) & (ex_lm < side - 0.5)).all(1) & ((t_lm > -0.5) & (t_lm < side - 0.5)).all(1)
    return (render_sample(seed, size=side, style="hatch").image, render_sample(seed, size=side, pose=pose).image,
            ex_lm[keep], t_lm[keep])


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--sides", type=int, nargs="+", default=[64, 128, 256, 512])
    p.add_argument("--repeats", type=int, default=7, help="timed rounds after one untimed warm-up")
    p.add_argument("--seed", type=int, default=3, help="render seed of the face")
    p.add_argument("--lattice", choices=("none", "auto"), default="none",
                   help="stylize's lattice option (auto: the hatching's lattice found and snapped to, timed in "
                        "the synthesis)")
    p.add_argument("--patch-iterations", type=int, default=0, help="stylize's patch refinement passes")
    p.add_argument("--hatching", action="store_true",
                   help="the hatching setting, stylize.HATCHING_OPTIONS (the lattice, blend radius 1, vote stride 1, "
                        "3 refinement passes)")
    args = p.parse_args(argv)
    options = {"lattice": None if args.lattice == "none" else args.lattice, "patch_iterations": args.patch_iterations}
    from neuralcollage import stylize as st
    if args.hatching:
        options = dict(st.HATCHING_OPTIONS)
    cases = {s: _case(s, args.seed) for s in args.sides}
    times = {(s, k): [] for s in args.sides for k in ("table", "synthesis")}
    fallback = {}
    for round_ in range(args.repeats + 1):
        for side in args.sides:
            exemplar, target, ex_lm, t_lm = cases[side]
            prepared, wall, cpu = _timed(lambda: st.prepare_exemplar(exemplar, landmarks=ex_lm))
            if round_:
                times[side, "table"].append((wall, cpu))
            details, wall, cpu = _timed(lambda: st.stylize_details(target, prepared, target_landmarks=t_lm,
                                                                          **options))
            if round_:
                times[side, "synthesis"].append((wall, cpu))
            fallback[side] = details.synthesis.fallback_fraction
    print(f"medians of {args.repeats} rounds (wall s / CPU s); stylize options {options}; numpy {numpy.__version__}")
    print("| side | table build | synthesis (table cached) | synthesis target | fallback pixels |")
    print("|---|---|---|---|---|")
    for side in args.sides:
        cells = []
        for kind in ("table", "synthesis"):
            wall = statistics.median(t[0] for t in times[side, kind])
            cpu = statistics.median(t[1] for t in times[side, kind])
            target = TARGETS[kind].get(side)
            mark = "" if target is None else (" ok" if wall <= target else f" OVER {target:g}")
            cells.append(f"{wall * 1000:.1f} ms / {cpu * 1000:.1f} ms{mark}")
        target = TARGETS["synthesis"].get(side)
        print(f"| {side} | {cells[0]} | {cells[1]} | {'-' if target is None else f'{target * 1000:.0f} ms'} | "
              f"{fallback[side]:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark of the notebook painter's update path: end of a stroke -> updated preview, and memory.

Strokes are sent through ipympl's own message handler (``canvas.manager.handle_json``), exactly as the
browser sends them; the preview is rendered by the painter's background thread; the figure is then drawn
the way the front end asks for it (``{"type": "draw"}``: Agg render + PNG diff).  Measured per stroke:

* ``release``: handling the mouse-up message (commit the stroke, update the overlay data, schedule);
* ``overlay_draw``: the paint panel's redraw the front end then asks for (Agg + PNG diff, main thread,
  concurrent with the worker's render);
* ``render``: the generator pass in the worker thread;
* ``show``: encoding the preview PNG and setting the preview widget;
* ``total``: from sending the mouse-up message to the preview widget holding the new image: the "end of
  stroke to updated preview" of the target (<= 150 ms at 64 px).

Style mode (``--style-strokes``, built-in model only): the painted region stylised from an exemplar (a hatched
and a watercolour render of the built-in faces, 64 px), landmarks of the painted image from the built-in
landmark model.  Reported apart: the first stroke (landmarks, lookup table, synthesis), the following strokes
(the stylisation cached: a generator pass and a blend), and strokes that each draw a new jitter seed (a
synthesis every stroke, the worst case).

Memory (a second run of ``--memory-strokes`` strokes through the same path): resident set size
(``/proc/self/statm``) and Python allocations (``tracemalloc``, with ``--tracemalloc``) after stroke 50 and
after the last; growth is relative to stroke 50 (target < 5 %).

Usage::

    python benchmarks/bench_widget.py                 # built-in model, or builtin64 with random weights
    python benchmarks/bench_widget.py --strokes 100 --memory-strokes 500 --tracemalloc --json out.json
    python benchmarks/bench_widget.py --memory-model tiny   # fast memory run on a busy machine
    python benchmarks/bench_widget.py --strokes 0 --memory-strokes 0 --style-strokes 40   # style mode only
"""
import argparse
import gc
import json
import os
import statistics
import sys
import time
import tracemalloc

import numpy

import neuralcollage  # noqa: F401  (NumPy aliases before Chainer)
from neuralcollage import widgets


def rss_bytes():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def load_model(name):
    if name == "random":
        return random_builtin64(), "builtin64 (random weights)"
    try:
        from neuralcollage.pretrained import load_bundle
        bundle = load_bundle(name)
        return bundle, f"{bundle.name} (trained)"
    except Exception as exc:
        print(f"note: {name!r} not available ({str(exc).splitlines()[0]}); using builtin64 with random weights")
        return random_builtin64(), "builtin64 (random weights)"


def random_builtin64():
    import types

    from neuralcollage.labels import from_names
    from neuralcollage.models import Generator
    from neuralcollage.datasets import CLASS_NAMES
    state = numpy.random.get_state()
    numpy.random.seed(0)
    gen = Generator.from_preset("builtin64")
    numpy.random.set_state(state)
    rng = numpy.random.RandomState(0)
    for path, param in gen.namedparams():
        if path.endswith("/gammas/W"):
            param.array[...] = 1 + 0.3 * rng.standard_normal(param.shape)
        elif path.endswith("/betas/W"):
            param.array[...] = 0.3 * rng.standard_normal(param.shape)
    return types.SimpleNamespace(name="builtin64-random", generator=gen, vocabulary=from_names(CLASS_NAMES),
                                 arch="builtin64", sha256={})


def send(painter, kind, x, y, buttons):
    disp_x, disp_y = painter._ax_paint.transData.transform((x, y))
    height = painter.canvas.get_renderer().height
    painter.canvas.manager.handle_json({"type": kind, "x": float(disp_x), "y": float(height - disp_y),
                                        "button": 0, "buttons": buttons, "modifiers": [], "guiEvent": None})


def one_stroke(painter, rng, mode):
    r = painter.resolution
    points = numpy.cumsum(rng.normal(0, r / 12, size=(8, 2)), axis=0) + rng.uniform(0, r, size=2)
    points = numpy.clip(points, 0, r - 1)
    if mode == "scbn":
        painter._palette.value = int(rng.randint(painter.generator.n_classes))
    send(painter, "button_press", *points[0], buttons=1)
    for p in points[1:-1]:
        send(painter, "motion_notify", *p, buttons=1)
    t0 = time.perf_counter()
    send(painter, "button_release", *points[-1], buttons=0)
    t1 = time.perf_counter()
    painter.canvas.manager.handle_json({"type": "draw"})
    t2 = time.perf_counter()
    painter.wait(timeout=60)
    if painter.last_error is not None:
        raise painter.last_error
    return {"release": t1 - t0, "overlay_draw": t2 - t1, "render": painter.timings["render_ms"] / 1e3,
            "show": painter.timings["show_ms"] / 1e3, "overlay_total": t2 - t0,
            "total": painter.preview_shown_at - t0}


def summary(values):
    ms = sorted(1e3 * v for v in values)
    return {"median": statistics.median(ms), "p90": ms[int(0.9 * (len(ms) - 1))], "max": ms[-1],
            "mean": statistics.fmean(ms)}


def make_painter(bundle, style=None):
    painter = widgets.Painter.from_bundle(bundle, seed=0, class_id=0, radius=4, hardness=0.7, threaded=True,
                                          style=style)
    painter.canvas.syncing_data_url = False
    painter.canvas.manager.handle_json({"type": "draw"})
    painter.canvas._handle_message(None, {"type": "initialized"}, None)
    return painter


def paint(painter, rng, n, blend_every, *, on_stroke=None):
    results = {"scbn": [], "blend": []}
    for i in range(1, n + 1):
        mode = "blend" if blend_every and i % blend_every == 0 else "scbn"
        if painter.mode != mode:
            painter.set_mode(mode)
        results[mode].append(one_stroke(painter, rng, mode))
        if on_stroke is not None:
            on_stroke(i)
    return results


def style_session():
    """Hatched and watercolour exemplars of a built-in face (64 px) with the built-in landmark model."""
    from neuralcollage.widgets.style_mode import builtin_style_session
    from neuralcollage.datasets import render_landmarks, render_sample
    lm = render_landmarks(3, size=64)
    keep = ((lm > -0.5) & (lm < 63.5)).all(axis=1)
    lm = lm[keep]
    session = builtin_style_session({s: {"image": render_sample(3, size=64, style=s).image, "landmarks": lm}
                                     for s in ("hatch", "watercolour")})
    return session, keep


def style_run(bundle, model, n, rng):
    """Stroke -> preview in style mode: the first stroke, cached strokes, a new jitter seed every stroke."""
    session, keep = style_session()
    predict = session.landmark_predictor
    session.landmark_predictor = lambda image: predict(image)[keep]
    painter = make_painter(bundle, style=session)
    painter.set_mode("style")
    first = one_stroke(painter, rng, "style")
    first_timings = dict(session.timings)
    cached = [one_stroke(painter, rng, "style") for _ in range(n)]
    boiling = []
    for i in range(n):
        session.seed = i + 1  # not through the widget, which would synthesise before the stroke
        boiling.append(one_stroke(painter, rng, "style"))
    painter.close()
    out = {"first": {k: 1e3 * v for k, v in first.items()}, "first_session_ms": first_timings,
           "cached": {k: summary([r[k] for r in cached]) for k in ("render", "total")},
           "new_seed": {k: summary([r[k] for r in boiling]) for k in ("render", "total")}}
    print(f"style mode: {model}, {painter.resolution} px, exemplars {session.names}")
    print(f"  first stroke: end of stroke -> preview {out['first']['total']:.1f} ms (generator + style "
          f"{out['first']['render']:.1f} ms: landmarks {first_timings['landmarks_ms']:.1f}, table "
          f"{first_timings['prepare_ms']:.1f}, synthesis {first_timings['synthesis_ms']:.1f} ms)")
    for key, label in (("cached", "stylisation cached"), ("new_seed", "new jitter seed each stroke")):
        t, r = out[key]["total"], out[key]["render"]
        print(f"  {label} ({n} strokes): median {t['median']:.1f} ms, p90 {t['p90']:.1f} ms, max {t['max']:.1f} ms "
              f"[generator + style median {r['median']:.1f} ms]")
    worst = max(out["cached"]["total"]["median"], out["new_seed"]["total"]["median"])
    print(f"  target <= 150 ms (style median, worst case): {'met' if worst <= 150 else 'MISSED'}")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="builtin", help="bundle name or path, or 'random' (default: builtin)")
    parser.add_argument("--strokes", type=int, default=100, help="strokes timed (default: 100)")
    parser.add_argument("--memory-strokes", type=int, default=500,
                        help="strokes of the memory run, 0 to skip it (default: 500)")
    parser.add_argument("--memory-model", default=None,
                        help="model of the memory run (default: --model; 'tiny' makes it fast on a busy machine)")
    parser.add_argument("--blend-every", type=int, default=5,
                        help="every n-th stroke is a blend stroke (0: never; default: 5)")
    parser.add_argument("--style-strokes", type=int, default=0,
                        help="strokes per style-mode run (cached, new seed), 0 to skip (default: 0)")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    parser.add_argument("--json", help="write the numbers to this JSON file")
    args = parser.parse_args(argv)
    if args.memory_strokes and args.memory_strokes < 60:
        parser.error("--memory-strokes must be 0 or at least 60 (memory is compared after stroke 50)")

    bundle, model = load_model(args.model)
    out = {"model": model, "cpu_count": os.cpu_count(), "python": sys.version.split()[0]}
    rng = numpy.random.RandomState(0)
    if args.strokes:
        painter = make_painter(bundle)
        paint(painter, rng, 3, 0)
        painter.clear()
        load = os.getloadavg()[0]
        results = paint(painter, rng, args.strokes, args.blend_every)
        load = max(load, os.getloadavg()[0])
        painter.close()
        out.update(resolution=painter.resolution, strokes=args.strokes, load_average=load)
        print(f"painter update path: {model}, {painter.resolution} px, {args.strokes} strokes "
              f"(load average up to {load:.1f} on {os.cpu_count()} CPUs)")
        for mode, rows in results.items():
            if not rows:
                continue
            keys = ("release", "overlay_draw", "render", "show", "total")
            out[mode] = {key: summary([r[key] for r in rows]) for key in keys}
            parts = ", ".join(f"{k} {v['median']:.1f}" for k, v in out[mode].items() if k != "total")
            t = out[mode]["total"]
            print(f"  {mode:5s} ({len(rows)} strokes): end of stroke -> updated preview median {t['median']:.1f} "
                  f"ms, p90 {t['p90']:.1f} ms, max {t['max']:.1f} ms  [median {parts} ms]")
        total = out["scbn"]["total"]["median"]
        print(f"  target <= 150 ms (sCBN median): {'met' if total <= 150 else 'MISSED'}")

    if args.style_strokes:
        out["style"] = style_run(bundle, model, args.style_strokes, rng)

    if args.memory_strokes:
        if args.memory_model and args.memory_model != args.model:
            mem_bundle, mem_model = (widgets.tiny_bundle(), "tiny32 (random weights)") \
                if args.memory_model == "tiny" else load_model(args.memory_model)
        else:
            mem_bundle, mem_model = bundle, model
        painter = make_painter(mem_bundle)
        paint(painter, rng, 3, 0)
        painter.clear()
        if args.tracemalloc:
            tracemalloc.start()
        memory = {}

        def sample(i):
            if i in (50, args.memory_strokes):
                gc.collect()
                memory[i] = {"rss": rss_bytes()}
                if args.tracemalloc:
                    memory[i]["traced"] = tracemalloc.get_traced_memory()[0]
        t0 = time.perf_counter()
        paint(painter, rng, args.memory_strokes, args.blend_every, on_stroke=sample)
        elapsed = time.perf_counter() - t0
        strokes = len(painter.class_canvas.strokes) + len(painter.stream_canvas.strokes)
        painter.close()
        first, last = memory[50], memory[args.memory_strokes]
        growth = (last["rss"] - first["rss"]) / first["rss"]
        out["memory"] = {"model": mem_model, "strokes": args.memory_strokes, "seconds": elapsed,
                         "samples": {str(k): v for k, v in memory.items()}, "rss_growth": growth}
        print(f"memory: {mem_model}, {args.memory_strokes} strokes through the same path ({elapsed:.0f} s; "
              f"{strokes} strokes kept for undo)")
        print(f"  RSS {first['rss'] / 2**20:.1f} MiB after 50 strokes, {last['rss'] / 2**20:.1f} MiB after "
              f"{args.memory_strokes}: {100 * growth:+.2f} % (target < 5 %: {'met' if growth < 0.05 else 'MISSED'})")
        if args.tracemalloc:
            traced = last["traced"] - first["traced"]
            out["memory"]["traced_growth_bytes"] = traced
            print(f"  Python allocations {first['traced'] / 2**20:.2f} MiB after 50, {last['traced'] / 2**20:.2f} "
                  f"MiB after {args.memory_strokes} ({traced / 1024:+.0f} KiB, "
                  f"{traced / max(1, args.memory_strokes - 50):.0f} B per stroke: the stroke history kept for "
                  f"undo and recipes)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Poisson blending with the fixed border, with the optimal seam and with a colour reach, by photo size.

For each photo side (a random smooth photo with texture, a disc-shaped mask of a quarter of the side, a square
crop box around it with the default margin, and an "edit" that is the crop brightened inside a larger disc and
off by a colour error elsewhere), times :func:`neuralcollage.blending.poisson_blend` with ``seam="fixed"`` and
``seam="optimal"`` at the same ``--dilate`` (as a fraction of the side, default 1/64, at least 8 px), and with
``colour_reach`` (the fixed border solved by :func:`neuralcollage.blending.screened_poisson`; a fraction of the
side, default 1/256, at least 2 px), the three interleaved round by round, and prints the median wall-clock
seconds of each, their ratios to the fixed border (``cv2.seamlessClone``), the band's pixel count (the minimum
cut's graph) and the screened solve's unknowns.  Example::

    python benchmarks/bench_blend.py
    python benchmarks/bench_blend.py --sides 256 1024 --repeats 3
"""
import argparse
import statistics
import time

import numpy


def _case(side, seed):
    from neuralcollage.blending import square_crop_box
    rs = numpy.random.RandomState(seed)
    yy, xx = numpy.mgrid[:side, :side].astype(numpy.float32) / side
    photo = numpy.stack([60 + 120 * xx, 50 + 100 * yy, 90 + 60 * (xx + yy) / 2], -1)
    photo = numpy.clip(photo + rs.normal(0, 4, photo.shape), 0, 255).astype(numpy.uint8)
    r = numpy.hypot(yy - 0.5, xx - 0.5)
    mask = r < 0.125
    box = square_crop_box(mask)
    top, left, size = box
    crop = photo[top:top + size, left:left + size].astype(numpy.float32)
    rc = r[top:top + size, left:left + size]
    crop += numpy.where(rc < 0.16, 60.0, 25.0 * numpy.sin(40 * rc))[..., None]
    return photo, numpy.clip(crop, 0, 255).astype(numpy.uint8), mask, box


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--sides", type=int, nargs="+", default=[256, 1024, 2048], help="photo sides in pixels")
    p.add_argument("--dilate-fraction", type=float, default=1 / 64, help="dilation as a fraction of the side")
    p.add_argument("--reach-fraction", type=float, default=1 / 256, help="colour reach as a fraction of the side")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds per case")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    from neuralcollage.blending import blend_region, poisson_blend, screened_unknowns
    print(f"{'side':>6} {'dilate':>6} {'reach':>6} {'band px':>9} {'unknowns':>9} {'fixed s':>9} {'optimal s':>10} "
          f"{'reach s':>9} {'optimal/fixed':>14} {'reach/fixed':>12}")
    for side in args.sides:
        photo, edited, mask, box = _case(side, args.seed)
        dilate = max(8, int(round(args.dilate_fraction * side)))
        reach = max(2, int(round(args.reach_fraction * side)))
        region = blend_region(mask, box, dilate=dilate)
        band = int((region & ~mask).sum())
        unknowns = int(screened_unknowns(region, mask, reach=reach).sum())
        variants = {"fixed": dict(seam="fixed"), "optimal": dict(seam="optimal"), "reach": dict(colour_reach=reach)}
        times = {name: [] for name in variants}
        for _ in range(args.repeats):
            for name, options in variants.items():
                t0 = time.perf_counter()
                poisson_blend(photo, edited, mask, box, dilate=dilate, **options)
                times[name].append(time.perf_counter() - t0)
        fixed, optimal, reached = (statistics.median(times[s]) for s in variants)
        print(f"{side:6d} {dilate:6d} {reach:6d} {band:9d} {unknowns:9d} {fixed:9.3f} {optimal:10.3f} {reached:9.3f} "
              f"{optimal / fixed:14.2f} {reached / fixed:12.2f}")


if __name__ == "__main__":
    main()

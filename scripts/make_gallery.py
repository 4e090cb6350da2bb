"""Render the README gallery from a model: class samples, spatial class translation (sCBN) and feature
blending, each a PNG in ``--out`` (default ``docs/gallery``).

    python scripts/make_gallery.py                       # the built-in model
    python scripts/make_gallery.py --model dogcat256 --out my_gallery
"""
import argparse
import os
import sys

import neuralcollage  # noqa: F401  (NumPy aliases before Chainer)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="builtin", help="registered name or generator path (default: %(default)s)")
    p.add_argument("--out", default="docs/gallery", help="output folder (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="latent seed (default: %(default)s)")
    p.add_argument("--samples", type=int, default=6, help="samples per class (default: %(default)s)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import chainer
    import numpy
    from neuralcollage import plotting
    from neuralcollage.collage import blend_edit, scbn_edit
    from neuralcollage.io import from_model
    from neuralcollage.pretrained import load_bundle

    bundle = load_bundle(args.model)
    gen, names = bundle.generator, bundle.vocabulary.names
    k, n, res = gen.n_classes, args.samples, gen.resolution
    os.makedirs(args.out, exist_ok=True)

    def save(fig, name):
        path = os.path.join(args.out, name)
        tmp = path + ".tmp.png"
        fig.savefig(tmp, dpi=100, bbox_inches="tight")
        os.replace(tmp, path)
        print(f"wrote {path}")

    with chainer.using_config("train", False), chainer.no_backprop_mode():
        z = gen.sample_z(n * k, seed=args.seed)
        ids = numpy.repeat(numpy.arange(k), n).astype(numpy.int32)
        samples = from_model(chainer.backend.CpuDevice().send(gen(z, ids).array))
        save(plotting.image_grid(list(samples), titles=[names[i] for i in ids], columns=n * 2, size=1.2),
             "samples.png")

        right = numpy.zeros((res, res), numpy.float32)
        right[:, res // 2:] = 1
        rows, titles = [], []
        for i in range(min(k, 6)):
            src, dst = i, (i + 2) % k
            zi = gen.sample_z(1, seed=args.seed + 100 + i)
            plain = from_model(chainer.backend.CpuDevice().send(gen(zi, src).array))[0]
            for layers in ("all", "0-3", "4-"):
                edited = from_model(numpy.asarray(scbn_edit(gen, zi, src, dst, right, layers=layers)))[0]
                rows.append(edited)
                titles.append(f"{names[src]}|{names[dst]} {layers}")
            rows.insert(len(rows) - 3, plain)
            titles.insert(len(titles) - 3, names[src])
        save(plotting.image_grid(rows, titles=titles, columns=8, size=1.4,
                                 suptitle="sCBN: right half translated, at all / early (0-3) / late (4-) layers"),
             "scbn_translation.png")

        centre = numpy.zeros((res, res), numpy.float32)
        centre[res // 4: 3 * res // 4, res // 4: 3 * res // 4] = 1
        panels, titles = [], []
        for i in range(4):
            za, zb = gen.sample_z(1, seed=args.seed + 200 + i), gen.sample_z(1, seed=args.seed + 300 + i)
            cls = i % k
            a = from_model(chainer.backend.CpuDevice().send(gen(za, cls).array))[0]
            b = from_model(chainer.backend.CpuDevice().send(gen(zb, cls).array))[0]
            mixed = from_model(numpy.asarray(blend_edit(gen, za, zb, cls, centre, layers="2", feather=4.0)))[0]
            panels += [a, b, mixed]
            titles += ["z_a", "z_b", "z_b in the centre"]
        suptitle = "feature blending at blend layer 2 (16x16): the centre comes from z_b (mask feathered, sigma 4 px)"
        save(plotting.image_grid(panels, titles=titles, columns=6, size=1.4, suptitle=suptitle),
             "feature_blending.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())

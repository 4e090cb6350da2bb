"""The two-stage prototype of docs/few_shot.md ("Two stages: rows on whole faces, then a close-up branch anchored
to them"): stage 2 on a stage-1 pack (``scripts/few_shot_compare.py train --methods recon``), its scoring, and
the gate diagnostic.

    python scripts/few_shot_two_stage.py train --stage1 runs/ts/koala_10_recon_s0.npz --out runs/ts/koala_ts_A.npz --anchor 1
    python scripts/few_shot_two_stage.py score runs/ts/koala_ts_A.npz --n 600 --translation 100 --out-json runs/ts/a.json
    python scripts/few_shot_two_stage.py gate runs/ts/koala_ts_H.npz

Without ``--gate`` and ``--lr-rows`` its stage 2 is ``train_class(method="two_stage")``'s (bit-identical on the
same stage-1 pack, ``neuralcollage.classes.two_stage.train_closeup_branch``); ``--lr-rows R > 0`` trains the rows
too (``train_rows=True``); ``--gate`` multiplies the branch by a learnt per-sample gate
``sigmoid(wg . mean_hw(h) + bg)``, saved beside the pack as ``PACK.gate.npz`` (the library has no gate; ``score``
and ``gate`` install it when that file exists).
"""
import argparse
import json
import os
import sys
import time

import numpy

import neuralcollage  # noqa: F401


def _gate_module():
    import chainer.functions as F
    from neuralcollage.models import generator as G
    _Base = G.ClassBranch

    class GatedBranch(_Base):
        def __init__(self, layer, w1, b1, w2, b2, wg=None, bg=None):
            super().__init__(layer, w1, b1, w2, b2)
            self.wg, self.bg = wg, bg

        def __call__(self, h):
            t = _Base.__call__(self, h)
            if self.wg is None:
                return t
            g = F.sigmoid(F.linear(F.mean(h, axis=(2, 3)), self.wg, self.bg))  # (N, 1)
            return t * F.broadcast_to(F.reshape(g, (-1, 1, 1, 1)), t.shape)

        def to_device(self, device):
            return GatedBranch(self.layer, *(device.send(a) for a in (self.w1, self.b1, self.w2, self.b2)),
                               *((device.send(self.wg), device.send(self.bg)) if self.wg is not None else (None, None)))

    def install(gate_path):
        """Make apply_packs build gated branches with the gate arrays in ``gate_path``."""
        d = numpy.load(gate_path)
        wg, bg = d["wg"], d["bg"]

        def factory(layer, w1, b1, w2, b2):
            return GatedBranch(layer, w1, b1, w2, b2, wg, bg)
        G.ClassBranch = factory
    return GatedBranch, install


def train(a):
    import chainer
    import chainer.functions as F
    from neuralcollage import classes as C
    from neuralcollage.analysis.few_shot import training_images
    from neuralcollage.backend import random_state, to_numpy
    from neuralcollage.io import to_model
    from neuralcollage.links import fastconv
    from neuralcollage.models.generator import ClassBranch
    from neuralcollage.pretrained import load_bundle
    GatedBranch, _ = _gate_module()
    bundle = load_bundle("builtin")
    gen, dis, enc = bundle.generator, bundle.discriminator, bundle.encoder
    pack1 = C.load_pack(a.stage1)
    images = list(training_images(a.species, 10, seed=a.seed, size=gen.resolution))
    crops = C.closeup_crops(images, gen.resolution, per_image=a.closeups, seed=a.seed)
    x = gen.device.send(to_model(crops))
    n = len(crops)
    init = bundle.vocabulary.index(pack1.record["init_class"])
    xp = gen.xp
    rng = random_state(a.seed + 17)
    layers = C.model.class_layers(gen)

    class S(chainer.Link):
        pass
    rows_link, z_link, br = S(), S(), S()
    with rows_link.init_scope():
        for i, (ln, _) in enumerate(layers):
            g, b = pack1.generator[ln]
            setattr(rows_link, f"g{i}", chainer.Parameter(xp.asarray(g.copy())))
            setattr(rows_link, f"b{i}", chainer.Parameter(xp.asarray(b.copy())))
    width, rank = gen.channels[a.layer] * gen.ch, a.rank
    w1 = numpy.random.default_rng([a.seed, 0xB4A]).standard_normal((rank, width, 3, 3)).astype(numpy.float32) * numpy.float32(numpy.sqrt(2.0 / (9 * width)))
    with br.init_scope():
        br.w1 = chainer.Parameter(xp.asarray(w1)); br.b1 = chainer.Parameter(xp.zeros(rank, numpy.float32))
        br.w2 = chainer.Parameter(xp.zeros((width, rank, 1, 1), numpy.float32)); br.b2 = chainer.Parameter(xp.zeros(width, numpy.float32))
    if a.gate:
        with br.init_scope():
            br.wg = chainer.Parameter(xp.zeros((1, width), numpy.float32)); br.bg = chainer.Parameter(xp.full((1,), a.gate_bias, numpy.float32))
        branch = GatedBranch(a.layer, br.w1, br.b1, br.w2, br.b2, br.wg, br.bg)
    else:
        branch = ClassBranch(a.layer, br.w1, br.b1, br.w2, br.b2)
    z0 = enc.encode(crops, numpy.full(n, init, numpy.int32))
    with z_link.init_scope():
        z_link.z = chainer.Parameter(gen.device.send(z0.astype(numpy.float32)))
    z_whole = None
    if a.anchor_whole:
        whole = C.prepare_images(images, gen.resolution)
        z_whole = gen.device.send(enc.encode(whole, numpy.full(len(whole), init, numpy.int32)).astype(numpy.float32))
    opts = []
    for link, lr in ((br, a.lr_branch), (z_link, 0.03)) + (((rows_link, a.lr_rows),) if a.lr_rows > 0 else ()):
        o = chainer.optimizers.Adam(alpha=lr, beta1=0.5, beta2=0.999); o.setup(link); opts.append(o)
    rows0 = [(xp.asarray(pack1.generator[ln][0]), xp.asarray(pack1.generator[ln][1])) for ln, _ in layers]
    def rows():
        return [(getattr(rows_link, f"g{i}"), getattr(rows_link, f"b{i}")) for i in range(len(layers))]

    def feats(zb, r, upto):
        h = gen._bottom(zb)
        for b, block in enumerate(gen.blocks[:upto]):
            (g1, b1), (g2, b2) = r[2 * b], r[2 * b + 1]
            t = fastconv.batch_norm_relu(h, g1, b1, block.b1.avg_mean, block.b1.avg_var, eps=block.b1.eps)
            t = block.c1(t, upsample=True)
            t = fastconv.batch_norm_relu(t, g2, b2, block.b2.avg_mean, block.b2.avg_var, eps=block.b2.eps)
            t = block.c2(t)
            h = t + block.c_sc(F.unpooling_2d(h, 2, 2, outsize=(h.shape[2]*2, h.shape[3]*2), cover_all=False)) if not fastconv.enabled_for(h) else fastconv.upsample_add(t, block.c_sc(h))
        return h

    losses = []
    t0 = time.perf_counter()
    with chainer.using_config("train", False), fastconv.constant_parameters():
        with chainer.no_backprop_mode():
            phi_real = dis.feature_vector(x).array
        for step in range(a.steps):
            for l in (br, z_link, rows_link):
                l.cleargrads()
            idx = gen.device.send(rng.choice(n, size=min(8, n), replace=False).astype(numpy.int32))
            r = rows()
            zb = F.get_item(z_link.z, idx)
            fake = C.model.forward_rows(gen, zb, r, branch)
            xb = x[idx]
            l1 = F.mean(F.absolute(fake - xb))
            phi = dis.feature_vector(fake); tgt = phi_real[idx]
            cos = F.sum(phi * tgt, axis=1) / (F.sqrt(F.sum(phi * phi, axis=1) + 1e-12) * xp.sqrt((tgt * tgt).sum(axis=1) + 1e-12))
            lp = F.mean(1.0 - cos)
            loss = l1 + lp + 0.01 * F.mean(zb * zb)
            zr = gen.device.send(rng.standard_normal((8, gen.dim_z)).astype(numpy.float32))
            if a.anchor_whole:  # the whole images' encoder latents join the anchor's
                zr = F.concat([zr, z_whole], axis=0).array
            if a.anchor > 0:
                if a.anchor_kind == "pixels":
                    with chainer.no_backprop_mode():
                        ref = C.model.forward_rows(gen, zr, rows0, None).array
                    out = C.model.forward_rows(gen, zr, r, branch)
                    la = F.mean(F.absolute(out - ref))
                else:  # features: the branch's output on whole-face features at its layer
                    with chainer.no_backprop_mode():
                        h = feats(zr, rows0, a.layer).array
                    la = F.mean(F.square(branch(h)))
                loss = loss + a.anchor * la
            else:
                la = loss * 0
            loss.backward()
            for o in opts:
                o.update()
            if step % 20 == 0 or step == a.steps - 1:
                losses.append({"step": step, "l1": round(float(l1.array), 5), "perc": round(float(lp.array), 5), "anchor": round(float(la.array), 5)})
                print(losses[-1], flush=True)
    sec = time.perf_counter() - t0
    final_rows = {ln: (to_numpy(getattr(rows_link, f"g{i}").array).astype(numpy.float32), to_numpy(getattr(rows_link, f"b{i}").array).astype(numpy.float32)) for i, (ln, _) in enumerate(layers)}
    pb = {"layer": a.layer, **{k: to_numpy(getattr(br, k).array).astype(numpy.float32) for k in ("w1", "b1", "w2", "b2")}}
    rec = dict(pack1.record); rec.update(method="two_stage_proto", stage2=vars(a), stage2_seconds=round(sec, 1), stage2_losses=losses)
    pack = C.ClassPack(name=pack1.name, synonyms=pack1.synonyms, base=pack1.base, generator=final_rows, discriminator=pack1.discriminator, encoder=pack1.encoder, record=rec, branch=pb)
    pack.save(a.out)
    if a.gate:
        numpy.savez(a.out.replace('.npz', '.gate'), wg=to_numpy(br.wg.array), bg=to_numpy(br.bg.array))
        print('gate', to_numpy(br.bg.array), float(numpy.abs(to_numpy(br.wg.array)).max()))
    print(json.dumps({"out": a.out, "seconds": sec}))


def score(a):
    from neuralcollage.analysis.few_shot import evaluate_pack, load_judge, part_translation_into
    from neuralcollage.classes import load_pack
    from neuralcollage.pretrained import load_bundle
    gate = a.pack.replace(".npz", ".gate.npz")
    if os.path.exists(gate):
        _gate_module()[1](gate)
    bundle = load_bundle("builtin")
    pack = load_pack(a.pack)
    t = time.perf_counter()
    res = {"pack": a.pack}
    if a.n:
        res["judged"] = evaluate_pack(bundle, pack, load_judge(), pack.name, n=a.n, seed=0, check_old=False)
        print(json.dumps(res["judged"], default=float), flush=True)
    if a.translation:
        r = part_translation_into(bundle, pack, n=a.translation, seed=0)
        res["translation"] = {k: r[k] for k in ("value", "per_part", "predicted_counts", "n", "seconds")}
        print(json.dumps(res["translation"], default=float), flush=True)
    res["seconds"] = time.perf_counter() - t
    with open(a.out_json, "w") as fh:
        json.dump(res, fh, default=float, indent=1)


def gate(a):
    """Gate values of the 16x16 features of random latents and of the encoder's latents of koala close-ups and
    whole images (the pack's rows, the panda class's encoder row as stage 1 starts from it)."""
    import chainer
    import chainer.functions as F
    from neuralcollage import classes as C
    from neuralcollage.analysis.few_shot import training_images
    from neuralcollage.links import fastconv
    from neuralcollage.pretrained import load_bundle
    bundle = load_bundle("builtin"); gen = bundle.generator
    pack = C.load_pack(a.pack); g = numpy.load(a.pack.replace(".npz", ".gate.npz"))
    rows = [tuple(gen.xp.asarray(a) for a in pack.generator[n]) for n, _ in C.model.class_layers(gen)]
    def feats(z):
        h = gen._bottom(z)
        for b, block in enumerate(gen.blocks[:2]):
            (g1, b1), (g2, b2) = rows[2*b], rows[2*b+1]
            t = fastconv.batch_norm_relu(h, g1, b1, block.b1.avg_mean, block.b1.avg_var, eps=block.b1.eps)
            t = block.c1(t, upsample=True)
            t = fastconv.batch_norm_relu(t, g2, b2, block.b2.avg_mean, block.b2.avg_var, eps=block.b2.eps)
            t = block.c2(t)
            h = fastconv.upsample_add(t, block.c_sc(h)) if fastconv.enabled_for(h) else t + block.c_sc(F.unpooling_2d(h, 2, 2, outsize=(h.shape[2]*2, h.shape[3]*2), cover_all=False))
        return h.array
    def gate(h):
        return 1 / (1 + numpy.exp(-(h.mean(axis=(2, 3)) @ g["wg"].T + g["bg"])))
    with chainer.using_config("train", False), chainer.no_backprop_mode(), fastconv.constant_parameters():
        zr = gen.sample_z(50, seed=123)
        print("random latents gate", numpy.percentile(gate(feats(zr)), [5, 50, 95]))
        images = list(training_images("koala", 10, seed=0, size=64))
        crops = C.closeup_crops(images, 64, per_image=4, seed=1)
        z = bundle.encoder.encode(crops, numpy.full(len(crops), 5, numpy.int32))
        print("encoder close-up latents gate", numpy.percentile(gate(feats(z)), [5, 50, 95]))
        whole = C.prepare_images(images, 64)
        z = bundle.encoder.encode(whole, numpy.full(len(whole), 5, numpy.int32))
        print("encoder whole latents gate", numpy.percentile(gate(feats(z)), [5, 50, 95]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    t = sub.add_parser("train")
    t.add_argument("--species", default="koala")
    t.add_argument("--stage1", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--closeups", type=int, default=4)
    t.add_argument("--steps", type=int, default=300)
    t.add_argument("--anchor", type=float, default=1.0)
    t.add_argument("--anchor-kind", default="pixels", choices=("pixels", "features"))
    t.add_argument("--lr-branch", type=float, default=0.002)
    t.add_argument("--lr-rows", type=float, default=0.0)
    t.add_argument("--rank", type=int, default=16)
    t.add_argument("--layer", type=int, default=2)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--gate", action="store_true")
    t.add_argument("--gate-bias", type=float, default=0.0)
    t.add_argument("--anchor-whole", action="store_true",
                   help="also anchor the encoder's latents of the whole images (not only random ones)")
    s = sub.add_parser("score")
    s.add_argument("pack")
    s.add_argument("--n", type=int, default=600)
    s.add_argument("--translation", type=int, default=100)
    s.add_argument("--out-json", required=True)
    g = sub.add_parser("gate")
    g.add_argument("pack")
    a = p.parse_args(argv)
    {"train": train, "score": score, "gate": gate}[a.what](a)


if __name__ == "__main__":
    sys.exit(main())

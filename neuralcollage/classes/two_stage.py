"""The second stage of ``train_class(method="two_stage")``: a per-class branch learnt on close-ups while the whole
faces of the new class are anchored to the first stage's.

Stage 1 is ``method="rows"`` on the whole images (the default pack).  Stage 2 (:func:`train_closeup_branch`)
adds a per-class branch (:class:`~neuralcollage.models.generator.ClassBranch`, output convolution starting at
zero) and trains it, with one latent per close-up, on close-ups of the training images (the framing an edit
of a part sends to the generator) with the same reconstruction loss as the rows, plus an **anchor**: on fresh
random latents every step, ``L1(G(z, new), G_stage1(z, new))``, so that what the class draws from ordinary
latents (whole faces) stays the first stage's while the branch changes what it draws for close-up latents.
"""
from neuralcollage import _compat  # noqa: F401

import dataclasses
import time

import numpy

from neuralcollage.classes.images import closeup_crops
from neuralcollage.classes.model import class_layers, forward_rows, new_branch_link, reconstruction_loss
from neuralcollage.classes.pack import BRANCH_ARRAYS

__all__ = ["TWO_STAGE_CLOSEUPS", "train_closeup_branch"]

#: Close-ups per training image of the second stage when ``train_class(closeups=0)``.
TWO_STAGE_CLOSEUPS = 4


def train_closeup_branch(bundle, pack, images, *, steps, seed, closeups, closeup_zoom, anchor, branch_layer,
                         branch_rank, lr_branch, lr_rows, lr_z, batch_size, perceptual, prior, train_rows=False,
                         callback=None):
    """Stage 2 of ``method="two_stage"`` on the stage-1 ``pack`` (rows only); returns a new
    :class:`~neuralcollage.classes.pack.ClassPack` with the branch (and, with ``train_rows``, the rows trained on
    at ``lr_rows``)
    and the record extended by ``stage2``.  ``bundle`` is the base model (not modified)."""
    import chainer
    import chainer.functions as F
    from neuralcollage.backend import random_state, to_numpy
    from neuralcollage.io import to_model
    from neuralcollage.links import fastconv
    from neuralcollage.models.generator import ClassBranch
    started = time.perf_counter()
    gen, dis, enc = bundle.generator, bundle.discriminator, bundle.encoder
    device = gen.device
    crops = closeup_crops(images, gen.resolution, per_image=int(closeups), zoom=closeup_zoom, seed=seed)
    x = device.send(to_model(crops))
    n = len(crops)
    init = bundle.vocabulary.index(pack.record["init_class"])
    names = [name for name, _ in class_layers(gen)]
    rows0 = [tuple(device.send(a) for a in pack.generator[name]) for name in names]
    rows_link, z_link = chainer.Link(), chainer.Link()
    with rows_link.init_scope():
        for i, (g, b) in enumerate(rows0):
            setattr(rows_link, f"g{i}", chainer.Parameter(g.copy()))
            setattr(rows_link, f"b{i}", chainer.Parameter(b.copy()))
    branch_link = new_branch_link(gen, branch_layer, branch_rank, seed, device)
    branch = ClassBranch(int(branch_layer), branch_link.w1, branch_link.b1, branch_link.w2, branch_link.b2)
    if enc is not None:
        z0 = enc.encode(crops, numpy.full(n, init, numpy.int32))
    else:
        z0 = random_state(seed).standard_normal((n, gen.dim_z)).astype(numpy.float32) * 0.5
    with z_link.init_scope():
        z_link.z = chainer.Parameter(device.send(z0.astype(numpy.float32)))
    trained = [(branch_link, lr_branch), (z_link, lr_z)] + ([(rows_link, lr_rows)] if train_rows else [])
    optimizers = []
    for link, lr in trained:
        opt = chainer.optimizers.Adam(alpha=lr, beta1=0.5, beta2=0.999)
        opt.setup(link)
        optimizers.append(opt)
    rng = random_state(int(seed) + 17)  # batches and anchor latents (not the first stage's stream)
    losses = []
    if dis is None:
        perceptual = 0.0

    def rows():
        return [(getattr(rows_link, f"g{i}"), getattr(rows_link, f"b{i}")) for i in range(len(rows0))]

    with chainer.using_config("train", False), fastconv.constant_parameters():
        phi_real = None
        if perceptual > 0:
            with chainer.no_backprop_mode():
                phi_real = dis.feature_vector(x).array
        for step in range(int(steps)):
            for link, _ in trained:
                link.cleargrads()
            idx = device.send(rng.choice(n, size=min(int(batch_size), n), replace=False).astype(numpy.int32))
            r = rows()
            zb = F.get_item(z_link.z, idx)
            fake = forward_rows(gen, zb, r, branch)
            loss, parts = reconstruction_loss(dis, fake, x[idx], None if phi_real is None else phi_real[idx],
                                              perceptual=perceptual)
            loss = loss + prior * F.mean(zb * zb)
            # drawn every step, so that anchor=0 keeps the same batches
            zr = device.send(rng.standard_normal((int(batch_size), gen.dim_z)).astype(numpy.float32))
            if anchor > 0:
                with chainer.no_backprop_mode():
                    reference = forward_rows(gen, zr, rows0).array
                loss_a = F.mean(F.absolute(forward_rows(gen, zr, r, branch) - reference))
                loss = loss + anchor * loss_a
                parts["anchor"] = float(loss_a.array)
            loss.backward()
            for opt in optimizers:
                opt.update()
            value = parts["l1"] + perceptual * parts.get("perceptual", 0.0)
            if step % 10 == 0 or step == int(steps) - 1:
                losses.append({"step": step, "reconstruction": round(value, 5),
                               **{k: round(v, 5) for k, v in parts.items()}})
            if callback is not None:
                callback(step, value)
    final = {name: (to_numpy(g.array).astype(numpy.float32), to_numpy(b.array).astype(numpy.float32))
             for name, (g, b) in zip(names, rows())}
    record = dict(pack.record)
    stage1 = {key: record.pop(key) for key in ("seconds", "total_seconds", "losses") if key in record}
    record.update(method="two_stage", stage1=stage1, branch_layer=int(branch_layer), branch_rank=int(branch_rank),
                  lr_branch=float(lr_branch), closeups=int(closeups), closeup_zoom=[float(v) for v in closeup_zoom],
                  anchor=float(anchor))
    record["stage2"] = {"steps": int(steps), "closeups": int(closeups), "closeup_zoom": [float(v) for v in closeup_zoom],
                        "anchor": float(anchor), "train_rows": bool(train_rows), "n_closeups": n, "losses": losses,
                        "seconds": round(time.perf_counter() - started, 2)}
    record["seconds"] = round(stage1.get("seconds", 0.0) + record["stage2"]["seconds"], 2)
    record["total_seconds"] = round(stage1.get("total_seconds", 0.0) + record["stage2"]["seconds"], 2)
    record["losses"] = stage1.get("losses", [])
    pack_branch = {"layer": int(branch_layer),
                   **{key: to_numpy(getattr(branch_link, key).array).astype(numpy.float32) for key in BRANCH_ARRAYS}}
    return dataclasses.replace(pack, generator=final, record=record, branch=pack_branch, path=None, sha256=None)

"""SNGAN-projection training of the built-in generator and discriminator (hinge loss)."""
from neuralcollage import _compat  # noqa: F401

import copy
import os
import time

import chainer
import chainer.functions as F
import numpy

from neuralcollage.backend import get_device, random_state
from neuralcollage.models import Discriminator, Generator
from neuralcollage.snapshot import save_snapshot
from neuralcollage.train.common import (
    Log, image_grid, load_checkpoint, plot_curves, real_batch, save_checkpoint, seeded_initialization)


def train_gan(out_dir, *, arch="builtin64", iterations=20000, batch_size=32, n_dis=2, lr=2e-4, beta1=0.0,
              beta2=0.9, ema_decay=0.999, seed=0, device=None, checkpoint_every=200, sample_every=500,
              log_every=20, progress=True, time_limit=None, distributed=False, communicator=None, closeups=0.0):
    """Train a generator/discriminator pair on the built-in rendered faces, resuming from ``out_dir``.

    Writes into ``out_dir``: ``checkpoint.npz`` (everything needed to resume), ``generator.npz`` (the EMA
    generator when ``ema_decay`` else the raw one, with BN statistics re-estimated), ``discriminator.npz``,
    ``log.jsonl``, ``losses.png`` and ``samples_<iteration>.png``.

    Args:
        iterations: generator updates in total (a resumed run continues up to this count).
        n_dis: discriminator updates per generator update.
        time_limit: stop (after checkpointing) once this many seconds have passed in this call.
        closeups: fraction of the real images that are part close-ups
            (:func:`neuralcollage.datasets.render_closeup`) instead of whole faces.
        distributed: data-parallel training over MPI processes with ChainerMN (run under ``mpiexec``); each
            process renders its own shard of the data; only rank 0 writes files.

    Returns:
        The final iteration reached.
    """
    from neuralcollage.train import distributed as dist
    from neuralcollage.datasets import CLASS_NAMES, check_closeups
    closeups = check_closeups(closeups)
    comm = communicator if communicator is not None else (
        dist.create_communicator("naive") if distributed else None)
    root = dist.is_root(comm)
    if root:
        os.makedirs(out_dir, exist_ok=True)
    dev = get_device(device)
    with seeded_initialization(seed):
        gen = Generator.from_preset(arch, n_classes=len(CLASS_NAMES))
        dis = Discriminator.from_preset(arch, n_classes=len(CLASS_NAMES))
    gen_ema = copy.deepcopy(gen)
    for m in (gen, dis, gen_ema):
        m.to_device(dev)
    opt_g = chainer.optimizers.Adam(alpha=lr, beta1=beta1, beta2=beta2)
    opt_d = chainer.optimizers.Adam(alpha=lr, beta1=beta1, beta2=beta2)
    if comm is None:
        opt_g.setup(gen)
        opt_d.setup(dis)
    else:
        opt_g = dist.multi_node_optimizer(opt_g, comm, gen)
        opt_d = dist.multi_node_optimizer(opt_d, comm, dis)
    ckpt = os.path.join(out_dir, "checkpoint.npz")
    log = Log(os.path.join(out_dir, "log.jsonl"))
    start = 0
    if os.path.exists(ckpt):
        state = load_checkpoint(ckpt, {"gen": gen, "dis": dis, "gen_ema": gen_ema}, {"g": opt_g, "d": opt_d})
        start = state["iteration"]
        log.truncate(start)
    xp = dev.xp
    fixed_z = gen.sample_z(4 * gen.n_classes, seed=seed + 12345)
    fixed_y = xp.asarray(numpy.repeat(numpy.arange(gen.n_classes), 4).astype(numpy.int32))
    bar = _progress(progress and root, iterations, start)
    t0 = time.time()
    it = start
    sums = {"loss_dis": 0.0, "loss_gen": 0.0, "d_real": 0.0, "d_fake": 0.0}
    count = 0
    data_step = start * n_dis
    rank = comm.rank if comm is not None else 0
    while it < iterations:
        rng = random_state([seed, it, rank])
        for _ in range(n_dis):
            x_real, y_real = real_batch(dist.shard_step(data_step, comm), batch_size, size=gen.resolution, seed=seed,
                                        closeups=closeups)
            data_step += 1
            x_real, y_real = dev.send(x_real), dev.send(y_real)
            z = gen.sample_z(batch_size, seed=rng)
            y_fake = xp.asarray(rng.randint(0, gen.n_classes, batch_size).astype(numpy.int32))
            with chainer.no_backprop_mode():
                x_fake = gen(z, y_fake).array
            d_real = dis(x_real, y_real)
            d_fake = dis(x_fake, y_fake)
            loss_dis = F.mean(F.relu(1.0 - d_real)) + F.mean(F.relu(1.0 + d_fake))
            dis.cleargrads()
            loss_dis.backward()
            opt_d.update()
        z = gen.sample_z(batch_size, seed=rng)
        y_fake = xp.asarray(rng.randint(0, gen.n_classes, batch_size).astype(numpy.int32))
        loss_gen = -F.mean(dis(gen(z, y_fake), y_fake))
        gen.cleargrads()
        loss_gen.backward()
        opt_g.update()
        it += 1
        _ema_update(gen_ema, gen, ema_decay, it)
        sums["loss_dis"] += float(loss_dis.array)
        sums["loss_gen"] += float(loss_gen.array)
        sums["d_real"] += float(d_real.array.mean())
        sums["d_fake"] += float(d_fake.array.mean())
        count += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss_dis=f"{float(loss_dis.array):.3f}", loss_gen=f"{float(loss_gen.array):.3f}")
        out_of_time = dist.agree(time_limit is not None and time.time() - t0 > time_limit, comm)
        if not root:
            if out_of_time:
                break
            continue
        if it % log_every == 0 or it == iterations or out_of_time:
            log.append({"iteration": it, **{k: v / count for k, v in sums.items()},
                        "seconds": time.time() - t0})
            sums = {k: 0.0 for k in sums}
            count = 0
        if it % sample_every == 0 or it == iterations or out_of_time:
            save_samples(gen_ema if ema_decay else gen, fixed_z, fixed_y, out_dir, it)
            plot_curves(log.records, ["loss_dis", "loss_gen", "d_real", "d_fake"],
                        os.path.join(out_dir, "losses.png"), title="SNGAN hinge losses")
        if it % checkpoint_every == 0 or it == iterations or out_of_time:
            save_checkpoint(ckpt, {"gen": gen, "dis": dis, "gen_ema": gen_ema}, {"g": opt_g, "d": opt_d},
                            {"iteration": it, "arch": arch, "seed": seed, "closeups": closeups})
            export(out_dir, gen_ema if ema_decay else gen, dis, seed=seed)
        if out_of_time:
            break
    if bar is not None:
        bar.close()
    return it


def export(out_dir, gen, dis, *, seed=0, n_batches=20, batch_size=64):
    """Write ``generator.npz`` (with BN statistics re-estimated for these weights) and ``discriminator.npz``."""
    gen = copy.deepcopy(gen)
    recompute_bn_statistics(gen, n_batches=n_batches, batch_size=batch_size, seed=seed)
    save_snapshot(gen, os.path.join(out_dir, "generator.npz"), kind="generator")
    save_snapshot(dis, os.path.join(out_dir, "discriminator.npz"), kind="discriminator")


def recompute_bn_statistics(gen, *, n_batches=20, batch_size=64, seed=0):
    """Re-estimate every BN's running mean/variance of ``gen`` as the average over ``n_batches`` batches."""
    rng = random_state(seed)
    links = [l for l in gen.links() if hasattr(l, "avg_mean") and hasattr(l, "avg_var")]
    for link in links:
        link.avg_mean[...] = 0
        link.avg_var[...] = 0
    sums = {id(l): [0, 0] for l in links}
    for i in range(n_batches):
        for link in links:
            link.decay = 0.0
        z = gen.sample_z(batch_size, seed=rng)
        y = gen.xp.asarray(rng.randint(0, gen.n_classes, batch_size).astype(numpy.int32))
        with chainer.using_config("train", True), chainer.no_backprop_mode():
            gen(z, y)
        for link in links:
            sums[id(link)][0] = sums[id(link)][0] + link.avg_mean.copy()
            sums[id(link)][1] = sums[id(link)][1] + link.avg_var.copy()
    for link in links:
        link.avg_mean[...] = sums[id(link)][0] / n_batches
        link.avg_var[...] = sums[id(link)][1] / n_batches
        link.decay = 0.9


def _ema_update(target, source, decay, iteration):
    """``target = d * target + (1 - d) * source`` with ``d = min(decay, (1 + it) / (10 + it))`` (warm-up)."""
    if not decay:
        return
    decay = min(decay, (1.0 + iteration) / (10.0 + iteration))
    for (name, p_t), (_, p_s) in zip(sorted(target.namedparams()), sorted(source.namedparams())):
        p_t.array *= decay
        p_t.array += (1 - decay) * p_s.array


def save_samples(gen, z, y, out_dir, it):
    """Sample grid in test mode, from a copy whose BN statistics are re-estimated (the EMA generator's own
    running averages are never updated during training)."""
    from neuralcollage.io import write_image
    gen = copy.deepcopy(gen)
    recompute_bn_statistics(gen, n_batches=5, batch_size=32, seed=it)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        x = chainer.backend.CpuDevice().send(gen(z, y).array)
    write_image(os.path.join(out_dir, f"samples_{it:06d}.png"), image_grid(x, ncols=gen.n_classes * 2))


def _progress(enabled, total, initial):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc="train gan", unit="it", dynamic_ncols=True)

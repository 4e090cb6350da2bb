"""Training of the projection encoder ``E(x, c) -> z`` on (image, z, class) triples from a trained generator."""
from neuralcollage import _compat  # noqa: F401

import json
import os
import time

import chainer
import chainer.functions as F
import numpy

from neuralcollage.backend import get_device, random_state
from neuralcollage.io import atomic_write_text
from neuralcollage.models.encoder import ENCODER_PRESETS, Encoder
from neuralcollage.snapshot import save_snapshot
from neuralcollage.train.common import seeded_initialization
from neuralcollage.train.common import Log, image_grid, load_checkpoint, plot_curves, save_checkpoint


def generated_batch(gen, batch_size, rng):
    """``(x (B, 3, R, R) float32 in [-1, 1], z (B, dim_z), y (B,) int32)`` from ``gen`` in test mode, on its
    device; ``z`` standard normal and ``y`` uniform, both drawn from ``rng``."""
    z = gen.sample_z(batch_size, seed=rng)
    y = gen.xp.asarray(rng.randint(0, gen.n_classes, batch_size).astype(numpy.int32))
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        x = gen(z, y).array
    return x, z, y


def train_encoder(out_dir, *, generator_path, arch=None, iterations=4000, batch_size=32, lr=2e-4,
                  pixel_weight=0.0, seed=0, device=None, checkpoint_every=200, log_every=20, sample_every=500,
                  n_val=32, progress=True, time_limit=None):
    """Train an encoder for the generator in ``generator_path``, resuming from ``out_dir``.

    Each step draws ``z ~ N(0, I)`` and classes, renders ``x = G(z, c)`` (test mode, BN running statistics)
    and minimises ``mean((E(x, c) - z) ** 2) + pixel_weight * mean((G(E(x, c), c) - x) ** 2)`` with Adam
    (beta1 0.5); the generator stays fixed. The pixel term back-propagates through ``G`` (a generator
    forward and backward per step: about 1 s at batch 32 for ``builtin64`` on 2 CPU cores, several times the
    cost of the latent term alone), so it is off by default.

    Writes into ``out_dir``: ``checkpoint.npz``, ``encoder.npz`` (every checkpoint and at the end),
    ``log.jsonl`` (``loss``, ``loss_z``, ``loss_pixel`` and, on ``n_val`` fixed validation samples,
    ``val_loss_z`` and ``val_psnr`` of ``G(E(x, c), c)`` against ``x``), ``losses.png``,
    ``reconstructions_<iteration>.png`` (validation images over their reconstructions) and, at the end,
    ``metrics.json``.

    Args:
        generator_path: a generator snapshot (this project's format; its sha256 is recorded, and a resumed run
            refuses a different file).
        arch: encoder preset (:data:`~neuralcollage.models.encoder.ENCODER_PRESETS`); default the
            generator's architecture name. ``dim_z``, ``n_classes`` and ``resolution`` follow the generator.
        iterations: updates in total (a resumed run continues up to this count).
        time_limit: stop (after checkpointing) once this many seconds have passed in this call.

    Returns:
        The final iteration reached.
    """
    from neuralcollage.loading import load_generator
    from neuralcollage.pretrained import file_sha256
    os.makedirs(out_dir, exist_ok=True)
    dev = get_device(device)
    gen = load_generator(generator_path, device=dev)
    arch = arch or gen.arch
    if arch not in ENCODER_PRESETS:
        raise ValueError(f"no encoder preset {arch!r} (generator architecture {gen.arch!r}); pass arch= one of "
                         f"{', '.join(ENCODER_PRESETS)}")
    with seeded_initialization(seed):
        enc = Encoder.from_preset(arch, dim_z=gen.dim_z, n_classes=gen.n_classes, resolution=gen.resolution)
    enc.to_device(dev)
    opt = chainer.optimizers.Adam(alpha=lr, beta1=0.5, beta2=0.999)
    opt.setup(enc)
    sha = file_sha256(generator_path)
    ckpt = os.path.join(out_dir, "checkpoint.npz")
    log = Log(os.path.join(out_dir, "log.jsonl"))
    start = 0
    if os.path.exists(ckpt):
        state = load_checkpoint(ckpt, {"encoder": enc}, {"opt": opt})
        if state.get("generator_sha256") != sha:
            raise ValueError(f"{ckpt} was trained against another generator (sha256 "
                             f"{str(state.get('generator_sha256'))[:12]}..., now {sha[:12]}...); use a new out_dir")
        start = state["iteration"]
        log.truncate(start)
    x_val, z_val, y_val = generated_batch(gen, n_val, random_state(2 ** 30 + seed))
    bar = _progress(progress, iterations, start)
    t0 = time.time()
    it = start
    sums = {"loss": 0.0, "loss_z": 0.0, "loss_pixel": 0.0}
    count = 0
    while it < iterations:
        rng = random_state(seed * 7919 + it)
        x, z, y = generated_batch(gen, batch_size, rng)
        z_hat = enc(x, y)
        loss_z = F.mean_squared_error(z_hat, z)
        loss = loss_z
        loss_pixel = None
        if pixel_weight:
            with chainer.using_config("train", False):
                loss_pixel = F.mean_squared_error(gen(z_hat, y), x)
            loss = loss + pixel_weight * loss_pixel
        enc.cleargrads()
        gen.cleargrads()
        loss.backward()
        opt.update()
        it += 1
        sums["loss"] += float(loss.array)
        sums["loss_z"] += float(loss_z.array)
        sums["loss_pixel"] += float(loss_pixel.array) if loss_pixel is not None else 0.0
        count += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss_z=f"{float(loss_z.array):.4f}")
        out_of_time = time_limit is not None and time.time() - t0 > time_limit
        if it % log_every == 0 or it == iterations or out_of_time:
            val = validate(gen, enc, x_val, z_val, y_val)
            log.append({"iteration": it, **{k: v / count for k, v in sums.items()}, **val,
                        "seconds": time.time() - t0})
            plot_curves(log.records, ["loss_z", "val_loss_z"], os.path.join(out_dir, "losses.png"),
                        title="encoder: latent MSE (train, validation)")
            sums = {k: 0.0 for k in sums}
            count = 0
        if it % sample_every == 0 or it == iterations or out_of_time:
            _save_reconstructions(gen, enc, x_val[:16], y_val[:16], out_dir, it)
        if it % checkpoint_every == 0 or it == iterations or out_of_time:
            save_checkpoint(ckpt, {"encoder": enc}, {"opt": opt},
                            {"iteration": it, "arch": arch, "seed": seed, "generator_sha256": sha,
                             "generator_path": os.path.abspath(generator_path)})
            save_snapshot(enc, os.path.join(out_dir, "encoder.npz"), kind="encoder")
        if out_of_time:
            break
    if bar is not None:
        bar.close()
    if it >= iterations:
        atomic_write_text(os.path.join(out_dir, "metrics.json"), json.dumps(
            {"iteration": it, **validate(gen, enc, x_val, z_val, y_val), "n_val": n_val,
             "generator_sha256": sha, "arch": arch}, indent=2) + "\n")
    return it


def validate(gen, enc, x, z, y):
    """``{"val_loss_z": latent MSE, "val_psnr": mean PSNR (dB, uint8) of G(E(x, y), y) against x}``."""
    from neuralcollage.analysis.evaluation import psnr
    from neuralcollage.io import from_model
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        z_hat = enc(x, y)
        rec = gen(z_hat, y).array
    cpu = chainer.backend.CpuDevice()
    return {"val_loss_z": float(F.mean_squared_error(z_hat, z).array),
            "val_psnr": float(numpy.mean(psnr(from_model(cpu.send(rec)), from_model(cpu.send(x)))))}


def _save_reconstructions(gen, enc, x, y, out_dir, it):
    from neuralcollage.io import write_image
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        rec = gen(enc(x, y), y).array
    cpu = chainer.backend.CpuDevice()
    both = numpy.concatenate([cpu.send(x), cpu.send(rec)])
    write_image(os.path.join(out_dir, f"reconstructions_{it:06d}.png"), image_grid(both, ncols=len(x)))


def _progress(enabled, total, initial):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc="train encoder", unit="it", dynamic_ncols=True)

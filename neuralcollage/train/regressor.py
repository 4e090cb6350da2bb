"""Training of the attribute regressor on the built-in rendered faces' continuous attributes."""
from neuralcollage import _compat  # noqa: F401

import json
import os
import time

import chainer
import chainer.functions as F
import cv2
import numpy

from neuralcollage.backend import get_device, random_state
from neuralcollage.io import atomic_write_text
from neuralcollage.models.regressor import AttributeRegressor
from neuralcollage.snapshot import save_snapshot
from neuralcollage.train.classifier import seeded_initialization
from neuralcollage.train.common import Log, load_checkpoint, plot_curves, save_checkpoint

__all__ = ["attribute_batch", "blur_augment", "train_regressor", "held_out_attribute_metrics"]


def attribute_batch(step, batch_size, *, size, seed, attributes=None):
    """Training faces for ``step``: ``(images (B, size, size, 3) uint8, attributes (B, A) float32 in [0, 1])``.

    Seeds ``seed * 10**9 + step * batch_size + i`` (as :func:`neuralcollage.train.common.real_batch`), every
    class; ``attributes`` (default :data:`~neuralcollage.datasets.ATTRIBUTE_NAMES`) picks the columns.
    """
    from neuralcollage.datasets import ATTRIBUTE_NAMES, render_batch
    seeds = [seed * 10 ** 9 + step * batch_size + i for i in range(batch_size)]
    images, _, attrs, _ = render_batch(seeds, size=size)
    names = ATTRIBUTE_NAMES if attributes is None else attributes
    return images, numpy.stack([attrs[a] for a in names], axis=1).astype(numpy.float32)


def blur_augment(images, rng, *, max_blur=1.2):
    """Gaussian blur with sigma uniform in ``[0, max_blur]`` px on half of the images (generated images are
    softer than the renders); colours are left alone, since they carry attributes. ``(N, H, W, 3)`` uint8 ->
    a new array."""
    out = numpy.array(images, copy=True)
    for i in range(len(out)):
        if rng.rand() < 0.5:
            sigma = rng.uniform(0.0, max_blur)
            if sigma > 0.2:
                out[i] = cv2.GaussianBlur(out[i], (0, 0), sigma)
    return out


def held_out_attribute_metrics(model, *, n=300, seed=0, batch_size=64):
    """Per-attribute R^2 and mean absolute error of ``model`` on ``n`` held-out faces
    (:func:`neuralcollage.datasets.held_out_seeds`, rendered at the model's resolution).

    Returns:
        dict: ``r2`` and ``mae`` ``{attribute: float}``, ``mean_r2``, ``n``.
    """
    from neuralcollage.datasets import held_out_seeds
    from neuralcollage.datasets import render_batch
    images, _, attrs, _ = render_batch(held_out_seeds(n, seed=seed), size=model.resolution)
    pred = model.predict(images, batch_size=batch_size)
    r2, mae = {}, {}
    for j, name in enumerate(model.attributes):
        truth = attrs[name].astype(numpy.float64)
        err = pred[:, j] - truth
        r2[name] = float(1.0 - (err ** 2).sum() / max(((truth - truth.mean()) ** 2).sum(), 1e-12))
        mae[name] = float(numpy.abs(err).mean())
    return {"r2": r2, "mae": mae, "mean_r2": float(numpy.mean(list(r2.values()))), "n": int(n)}


def train_regressor(out_dir, *, arch="builtin64", iterations=1000, batch_size=32, lr=1e-3, seed=0, device=None,
                    eval_every=100, n_eval=200, n_final_eval=1000, checkpoint_every=100, log_every=20,
                    augmentation=True, progress=True, time_limit=None):
    """Train the attribute regressor (MSE on every attribute of :data:`ATTRIBUTE_NAMES`), resuming from
    ``out_dir``.

    Data: faces of every class rendered on the fly (:func:`attribute_batch`), never the held-out seeds of
    :func:`neuralcollage.datasets.held_out_seeds`. Adam; the learning rate stays at ``lr`` for the first half
    and falls linearly to 0 over the second.

    Writes into ``out_dir``: ``checkpoint.npz``, ``regressor.npz`` (kind ``"regressor"``, every checkpoint and
    at the end), ``log.jsonl`` (``loss``, ``held_out_r2`` on ``n_eval`` held-out faces, refreshed every
    ``eval_every`` iterations), ``losses.png`` and, when ``iterations`` is reached, ``metrics.json``
    (:func:`held_out_attribute_metrics` on ``n_final_eval`` faces).

    Args:
        arch: preset of :class:`~neuralcollage.models.regressor.AttributeRegressor` (``"builtin64"``,
            ``"tiny32"``).
        iterations: updates in total (a resumed run continues up to this count).
        batch_size: faces per update.
        time_limit: stop (after checkpointing) once this many seconds have passed in this call.

    Returns:
        The final iteration reached.
    """
    os.makedirs(out_dir, exist_ok=True)
    dev = get_device(device)
    with seeded_initialization(seed):
        model = AttributeRegressor.from_preset(arch)
    model.to_device(dev)
    opt = chainer.optimizers.Adam(alpha=lr)
    opt.setup(model)
    ckpt = os.path.join(out_dir, "checkpoint.npz")
    log = Log(os.path.join(out_dir, "log.jsonl"))
    start = 0
    if os.path.exists(ckpt):
        with numpy.load(ckpt, allow_pickle=False) as f:
            state = json.loads(str(f["__state__"]))
        if (state.get("kind"), state.get("arch")) != ("regressor", arch):
            raise ValueError(f"{ckpt} holds a {state.get('kind')!r} {state.get('arch')!r} run, not a "
                             f"'regressor' {arch!r} one; use another out_dir")
        state = load_checkpoint(ckpt, {"model": model}, {"opt": opt})
        start = state["iteration"]
        log.truncate(start)
    bar = _progress(progress, iterations, start)
    t0 = time.time()
    it, loss_sum, count = start, 0.0, 0
    held_out = log.records[-1]["held_out_r2"] if log.records else None
    while it < iterations:
        images, target = attribute_batch(it, batch_size, size=model.resolution, seed=seed,
                                         attributes=model.attributes)
        if augmentation:
            images = blur_augment(images, random_state(seed * 7919 + it))
        x = dev.send(model.prepare(images))
        t = dev.send(target)
        opt.alpha = lr * min(1.0, 2.0 * (1.0 - it / iterations))
        loss = F.mean_squared_error(model(x), t)
        model.cleargrads()
        loss.backward()
        opt.update()
        it += 1
        loss_sum += float(loss.array)
        count += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss.array):.4f}",
                            held_out_r2=f"{held_out:.3f}" if held_out is not None else "-")
        out_of_time = time_limit is not None and time.time() - t0 > time_limit
        if it % log_every == 0 or it == iterations or out_of_time:
            if held_out is None or it % eval_every == 0 or it == iterations or out_of_time:
                held_out = held_out_attribute_metrics(model, n=n_eval)["mean_r2"]
            log.append({"iteration": it, "loss": loss_sum / count, "held_out_r2": held_out,
                        "lr": float(opt.alpha), "seconds": time.time() - t0})
            plot_curves(log.records, ["loss", "held_out_r2"], os.path.join(out_dir, "losses.png"),
                        title="attribute regressor training")
            loss_sum, count = 0.0, 0
        if it % checkpoint_every == 0 or it == iterations or out_of_time:
            save_checkpoint(ckpt, {"model": model}, {"opt": opt},
                            {"iteration": it, "kind": "regressor", "arch": arch, "seed": seed})
            save_snapshot(model, os.path.join(out_dir, "regressor.npz"), kind="regressor")
        if out_of_time:
            break
    if bar is not None:
        bar.close()
    if it >= iterations and n_final_eval:
        metrics = held_out_attribute_metrics(model, n=n_final_eval)
        atomic_write_text(os.path.join(out_dir, "metrics.json"), json.dumps(
            {"iteration": it, "arch": arch, **metrics}, indent=2) + "\n")
    return it


def _progress(enabled, total, initial):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc="train regressor", unit="it", dynamic_ncols=True)

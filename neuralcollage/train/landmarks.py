"""A landmark regressor for the built-in faces: :class:`~neuralcollage.models.regressor.AttributeRegressor`
with one output per landmark coordinate, trained on renders (plain and in every render style).

Outputs are ``(x + 0.5) / size`` and ``(y + 0.5) / size`` per landmark of
:data:`~neuralcollage.datasets.LANDMARK_NAMES` (the pixel-index coordinates of
:func:`~neuralcollage.datasets.render_landmarks`, normalised).
"""
from neuralcollage import _compat  # noqa: F401

import json
import os
import time

import chainer
import chainer.functions as F
import numpy

from neuralcollage.backend import get_device, random_state
from neuralcollage.io import atomic_write_text
from neuralcollage.models.regressor import AttributeRegressor
from neuralcollage.snapshot import save_snapshot
from neuralcollage.train.common import Log, load_checkpoint, save_checkpoint, seeded_initialization
from neuralcollage.datasets import LANDMARK_NAMES, RENDER_STYLES, render_landmarks, render_sample
from neuralcollage.train.regressor import blur_augment

__all__ = ["LANDMARK_OUTPUTS", "LANDMARK_CONFIG", "landmark_batch", "predict_landmarks", "held_out_landmark_error",
           "train_landmarks", "load_landmark_predictor"]

LANDMARK_OUTPUTS = tuple(f"{name}_{axis}" for name in LANDMARK_NAMES for axis in ("x", "y"))
LANDMARK_CONFIG = dict(channels=(1, 2, 4, 8), ch=12, hidden=128, attributes=LANDMARK_OUTPUTS, resolution=64,
                       arch="landmarks64")
_STYLES = (None,) + RENDER_STYLES


def landmark_batch(seeds, *, size):
    """Faces for ``seeds`` (the render style cycles with the seed: plain, then each of
    :data:`~neuralcollage.datasets.RENDER_STYLES`): ``(images (B, size, size, 3) uint8, targets (B, 2K)
    float32 normalised coordinates)``."""
    images = numpy.empty((len(seeds), size, size, 3), numpy.uint8)
    targets = numpy.empty((len(seeds), len(LANDMARK_OUTPUTS)), numpy.float32)
    for i, s in enumerate(seeds):
        images[i] = render_sample(s, size=size, style=_STYLES[s % len(_STYLES)]).image
        targets[i] = ((render_landmarks(s, size=size) + 0.5) / size).ravel()
    return images, targets


def predict_landmarks(model, images):
    """``(N, K, 2)`` float64 pixel-index ``(x, y)`` of HWC uint8 square images ``(N, H, H, 3)`` (or one
    ``(H, H, 3)`` image -> ``(K, 2)``)."""
    arr = numpy.asarray(images)
    single = arr.ndim == 3
    if single:
        arr = arr[None]
    pred = model.predict(arr).astype(numpy.float64).reshape(len(arr), -1, 2)
    out = pred * arr.shape[1] - 0.5
    return out[0] if single else out


def held_out_landmark_error(model, *, n=300, seed=0, size=64):
    """Mean and 95th-percentile Euclidean landmark error in pixels at ``size`` on ``n`` held-out faces
    (:func:`neuralcollage.datasets.held_out_seeds`), overall, per render style and per landmark; points
    outside the image do not count."""
    from neuralcollage.datasets import held_out_seeds
    seeds = held_out_seeds(n, seed=seed)
    images, targets = landmark_batch(seeds, size=size)
    truth = targets.reshape(len(seeds), -1, 2) * size - 0.5
    err = numpy.linalg.norm(predict_landmarks(model, images) - truth, axis=2)
    visible = ((truth > -0.5) & (truth < size - 0.5)).all(axis=2)
    styles = numpy.array([s % len(_STYLES) for s in seeds])
    return {"mean_px": float(err[visible].mean()), "p95_px": float(numpy.percentile(err[visible], 95)),
            "per_style": {str(_STYLES[k] or "plain"): float(err[(styles == k)[:, None] & visible].mean())
                          for k in range(len(_STYLES))},
            "per_landmark": {name: float(err[:, j][visible[:, j]].mean()) for j, name in enumerate(LANDMARK_NAMES)},
            "n": int(n), "size": int(size)}


def train_landmarks(out_dir, *, iterations=4000, batch_size=32, lr=1e-3, seed=0, device=None, eval_every=250,
                    checkpoint_every=100, n_eval=200, n_final_eval=600, time_limit=None, augmentation=True):
    """Train the landmark regressor (MSE on normalised coordinates), resuming from ``out_dir``.

    Writes ``checkpoint.npz``, ``landmarks.npz`` (kind ``"regressor"``), ``log.jsonl`` and, when ``iterations``
    is reached, ``metrics.json`` (:func:`held_out_landmark_error`).  Adam; the learning rate falls linearly to
    0 over the second half.  Returns the iteration reached.
    """
    os.makedirs(out_dir, exist_ok=True)
    dev = get_device(device)
    with seeded_initialization(seed):
        model = AttributeRegressor(**LANDMARK_CONFIG)
    model.to_device(dev)
    opt = chainer.optimizers.Adam(alpha=lr)
    opt.setup(model)
    ckpt = os.path.join(out_dir, "checkpoint.npz")
    log = Log(os.path.join(out_dir, "log.jsonl"))
    start = 0
    if os.path.exists(ckpt):
        start = load_checkpoint(ckpt, {"model": model}, {"opt": opt})["iteration"]
        log.truncate(start)
    t0 = time.time()
    it, loss_sum, count = start, 0.0, 0
    while it < iterations:
        seeds = [seed * 10 ** 9 + it * batch_size + i for i in range(batch_size)]
        images, target = landmark_batch(seeds, size=model.resolution)
        if augmentation:
            images = blur_augment(images, random_state(seed * 7919 + it))
        opt.alpha = lr * min(1.0, 2.0 * (1.0 - it / iterations))
        loss = F.mean_squared_error(model(dev.send(model.prepare(images))), dev.send(target))
        model.cleargrads()
        loss.backward()
        opt.update()
        it += 1
        loss_sum, count = loss_sum + float(loss.array), count + 1
        out_of_time = time_limit is not None and time.time() - t0 > time_limit
        if it % checkpoint_every == 0 or it == iterations or out_of_time:
            record = {"iteration": it, "loss": loss_sum / count, "seconds": time.time() - t0}
            if it % eval_every == 0 or it == iterations or out_of_time:
                record["held_out_mean_px"] = held_out_landmark_error(model, n=n_eval)["mean_px"]
            log.append(record)
            loss_sum, count = 0.0, 0
            save_checkpoint(ckpt, {"model": model}, {"opt": opt}, {"iteration": it, "kind": "landmarks"})
            save_snapshot(model, os.path.join(out_dir, "landmarks.npz"), kind="regressor")
        if out_of_time:
            break
    if it >= iterations and n_final_eval:
        metrics = held_out_landmark_error(model, n=n_final_eval)
        atomic_write_text(os.path.join(out_dir, "metrics.json"),
                          json.dumps({"iteration": it, **metrics}, indent=2) + "\n")
    return it


def load_landmark_predictor(path):
    """A callable ``image (H, H, 3) uint8 -> (K, 2) float64 (x, y)`` from a landmark regressor snapshot (kind
    ``"regressor"`` whose outputs are :data:`LANDMARK_OUTPUTS`).  The built-in model's ``landmarks.npz`` is
    first checked against the sha256 in ``manifest.json`` (:func:`neuralcollage.pretrained.verify_builtin_file`).

    Raises:
        SnapshotError: not such a snapshot.
        ChecksumError: the built-in file differs from its manifest entry.
    """
    from neuralcollage.loading import load_model
    from neuralcollage.pretrained import verify_builtin_file
    from neuralcollage.snapshot import SnapshotError
    verify_builtin_file(path)
    model = load_model(path, kind="regressor")
    if tuple(model.attributes) != LANDMARK_OUTPUTS:
        raise SnapshotError(f"{path} is an attribute regressor, not a landmark regressor")

    def predict(image):
        return predict_landmarks(model, image)

    return predict

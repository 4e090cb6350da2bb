"""Training of the evaluation classifiers on the built-in rendered faces: whole images and part crops."""
from neuralcollage import _compat  # noqa: F401

import json
import os
import time

import chainer
import chainer.functions as F
import cv2
import numpy

from neuralcollage.backend import get_device, random_state
from neuralcollage.analysis.evaluation import paste_part
from neuralcollage.io import atomic_write_text
from neuralcollage.models.classifier import Classifier, PartClassifier, part_crops
from neuralcollage.snapshot import save_snapshot
from neuralcollage.train import distributed as dist
from neuralcollage.train.common import Log, load_checkpoint, plot_curves, save_checkpoint, seeded_initialization

PARTS = ("ears", "eyes", "muzzle")
KINDS = {"whole": (Classifier, "classifier"), "part": (PartClassifier, "part_classifier")}


def whole_batch(step, batch_size, *, size, seed, n_classes=None, closeups=0.0):
    """Training images for ``step``: ``(images (B, size, size, 3) uint8, ids (B,) int32)``.

    Seeds ``seed * 10**9 + step * batch_size + i`` (as :func:`neuralcollage.train.common.real_batch`); with
    ``n_classes`` below the data set's, classes are drawn from the first ``n_classes`` only; a ``closeups``
    fraction are part close-ups (:func:`neuralcollage.datasets.render_batch`).
    """
    from neuralcollage.datasets import render_batch
    seeds = [seed * 10 ** 9 + step * batch_size + i for i in range(batch_size)]
    images, ids, _, _ = render_batch(seeds, size=size, class_ids=_class_ids(seeds, n_classes), closeups=closeups)
    return images, ids


def part_batch(step, batch_size, *, size, seed, render_sizes=(64, 96, 128), margin=0.15, n_classes=None,
               swap=0.5):
    """Part crops for ``step``: ears, eyes and muzzle of ``batch_size`` rendered faces, ``(crops (M, size,
    size, 3) uint8, ids (M,) int32, parts (M,) int32 index into PARTS)`` with ``M <= 3 * batch_size`` (empty
    masks are skipped).

    With probability ``swap`` a crop's part comes from another class (:func:`swap_part`: the same face
    rendered as a uniformly drawn other class, its part pasted in); the label is always the class of the
    part's pixels, so the classifier must judge the part, not the fur around it. Crops are cut around the
    face's own part mask (as the evaluation of part translation does). The render size of the step is
    ``render_sizes[step % len(render_sizes)]``.
    """
    from neuralcollage.datasets import CLASS_NAMES, render_sample
    seeds = [seed * 10 ** 9 + step * batch_size + i for i in range(batch_size)]
    render = render_sizes[step % len(render_sizes)]
    k = n_classes or len(CLASS_NAMES)
    class_ids = _class_ids(seeds, n_classes) or [None] * len(seeds)
    rng = numpy.random.RandomState((seed * 7919 + step * 31 + 17) % 2 ** 32)
    images, masks, labels, parts = [], [], [], []
    for s, c in zip(seeds, class_ids):
        sample = render_sample(s, class_id=c, size=render)
        donors = {}
        for p, part in enumerate(PARTS):
            mask = sample.masks[part]
            swapped = rng.rand() < swap
            donor = int((sample.class_id + 1 + rng.randint(k - 1)) % k)
            if not mask.any():
                continue
            if swapped:
                if donor not in donors:
                    donors[donor] = render_sample(s, class_id=donor, size=render)
                images.append(paste_part(sample, donors[donor], part))
                labels.append(donor)
            else:
                images.append(sample.image)
                labels.append(sample.class_id)
            masks.append(mask)
            parts.append(p)
    crops = part_crops(numpy.stack(images), numpy.stack(masks), size=size, margin=margin)
    return crops, numpy.array(labels, numpy.int32), numpy.array(parts, numpy.int32)


def _class_ids(seeds, n_classes):
    """Per-seed class ids drawn from the first ``n_classes`` of :data:`~neuralcollage.datasets.SPECIES`
    (None: the data set's own draw over its six classes); more than six takes in the species the built-in
    model never saw (the few-shot judge)."""
    from neuralcollage.datasets import CLASS_NAMES, SPECIES
    if n_classes is None or n_classes == len(CLASS_NAMES):
        return None
    if n_classes > len(SPECIES):
        raise ValueError(f"the data set renders {len(SPECIES)} species, not {n_classes}")
    return [int(numpy.random.default_rng(s + 1).integers(n_classes)) for s in seeds]


def augment(images, rng, *, max_blur=1.0):
    """Random Gaussian blur (sigma uniform in [0, ``max_blur``] px, on half of the images) and a small
    brightness/contrast jitter; ``(N, H, W, 3)`` uint8 -> a new array of the same shape."""
    out = numpy.empty_like(images)
    for i, image in enumerate(images):
        img = image
        if rng.rand() < 0.5 and max_blur > 0:
            sigma = rng.uniform(0.0, max_blur)
            if sigma > 0.2:
                img = cv2.GaussianBlur(img, (0, 0), sigma)
        gain, offset = rng.uniform(0.9, 1.1), rng.uniform(-12, 12)
        out[i] = numpy.clip(img.astype(numpy.float32) * gain + offset, 0, 255).astype(numpy.uint8)
    return out


def train_classifier(out_dir, *, kind="whole", arch="builtin64", iterations=1500, batch_size=32, lr=1e-3,
                     seed=0, device=None, n_classes=None, eval_every=100, n_eval=300, n_final_eval=1000,
                     checkpoint_every=100, log_every=20, augmentation=True, render_sizes=(64, 96, 128),
                     part_swap=0.5, closeups=0.0, progress=True, time_limit=None, distributed=False,
                     communicator=None):
    """Train the whole-image (``kind="whole"``) or part (``kind="part"``) classifier, resuming from
    ``out_dir``.

    Data: faces rendered on the fly (:mod:`neuralcollage.datasets`), never the held-out seeds of
    :func:`neuralcollage.datasets.held_out_seeds`. Part crops are ears, eyes and muzzle
    (:func:`part_batch`) labelled with the class of the part's pixels: with probability ``part_swap`` the
    part is pasted from the same face rendered as another class. Adam; the learning rate stays at ``lr`` for the
    first half and falls linearly to 0 over the second.

    Writes into ``out_dir``: ``checkpoint.npz``, ``classifier.npz`` or ``part_classifier.npz`` (every
    checkpoint and at the end), ``log.jsonl`` (``loss``, ``train_accuracy``, ``held_out_accuracy`` on
    ``n_eval`` held-out images, refreshed every ``eval_every`` iterations), ``losses.png`` and, at the
    end, ``metrics.json`` (held-out accuracy on ``n_final_eval`` images).

    Args:
        kind: ``"whole"`` or ``"part"``.
        arch: preset of :class:`Classifier` / :class:`PartClassifier` (``"builtin64"``, ``"tiny32"``).
        iterations: updates in total (a resumed run continues up to this count).
        batch_size: faces per update (a part update sees up to 3 crops per face) per process.
        n_classes: train on the first ``n_classes`` classes only (default: the preset's).
        closeups: ``"whole"`` only: fraction of the training images that are part close-ups
            (:func:`neuralcollage.datasets.render_closeup`), for a generator trained with them.
        time_limit: stop (after checkpointing) once this many seconds have passed in this call.
        distributed: data-parallel over MPI processes with ChainerMN (run under ``mpiexec``); each process
            reads its own shard of the data; only rank 0 writes. ``communicator``: an existing one.

    Returns:
        The final iteration reached.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    from neuralcollage.datasets import check_closeups
    if check_closeups(closeups) and kind != "whole":
        raise ValueError("closeups applies to the whole-image classifier only")
    cls, snapshot_kind = KINDS[kind]
    comm = communicator if communicator is not None else (
        dist.create_communicator("naive") if distributed else None)
    root = dist.is_root(comm)
    if root:
        os.makedirs(out_dir, exist_ok=True)
    dev = get_device(device)
    overrides = {} if n_classes is None else {"n_classes": n_classes}
    with seeded_initialization(seed):
        model = cls.from_preset(arch, **overrides)
    model.to_device(dev)
    opt = chainer.optimizers.Adam(alpha=lr)
    if comm is not None:
        opt = dist.multi_node_optimizer(opt, comm, model)
    else:
        opt.setup(model)
    ckpt = os.path.join(out_dir, "checkpoint.npz")
    log = Log(os.path.join(out_dir, "log.jsonl"))
    start = 0
    if os.path.exists(ckpt):
        state = load_checkpoint(ckpt, {"model": model}, {"opt": opt})
        if (state.get("kind"), state.get("arch")) != (kind, arch):
            raise ValueError(f"{ckpt} holds a {state.get('kind')!r} {state.get('arch')!r} classifier run, not "
                             f"{kind!r} {arch!r}; use another out_dir")
        start = state["iteration"]
        log.truncate(start)
    dist.barrier(comm)
    bar = _progress(progress and root, iterations, start, f"train {snapshot_kind}")
    t0 = time.time()
    it = start
    sums = {"loss": 0.0, "train_accuracy": 0.0}
    count = 0
    held_out = log.records[-1]["held_out_accuracy"] if log.records else None
    while it < iterations:
        step = dist.shard_step(it, comm)
        rng = random_state(seed * 7919 + step)
        if kind == "whole":
            images, ids = whole_batch(step, batch_size, size=model.resolution, seed=seed,
                                      n_classes=model.n_classes, closeups=closeups)
        else:
            images, ids, _ = part_batch(step, batch_size, size=model.resolution, seed=seed,
                                        render_sizes=render_sizes, n_classes=model.n_classes, swap=part_swap)
        if augmentation:
            images = augment(images, rng)
        x = dev.send(model.prepare(images))
        y = dev.send(ids)
        opt.alpha = lr * min(1.0, 2.0 * (1.0 - it / iterations))
        logits = model(x)
        loss = F.softmax_cross_entropy(logits, y)
        model.cleargrads()
        loss.backward()
        opt.update()
        it += 1
        sums["loss"] += float(loss.array)
        sums["train_accuracy"] += float(F.accuracy(logits, y).array)
        count += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss.array):.3f}",
                            held_out=f"{held_out:.3f}" if held_out is not None else "-")
        out_of_time = dist.agree(time_limit is not None and time.time() - t0 > time_limit, comm)
        if it % log_every == 0 or it == iterations or out_of_time:
            if root and (held_out is None or it % eval_every == 0 or it == iterations or out_of_time):
                held_out = held_out_accuracy(model, kind=kind, n=n_eval)
            if root:
                log.append({"iteration": it,
                            **{k: dist.mean_over_processes(v / count, comm) for k, v in sums.items()},
                            "held_out_accuracy": held_out, "lr": float(opt.alpha),
                            "seconds": time.time() - t0})
                plot_curves(log.records, ["loss", "train_accuracy", "held_out_accuracy"],
                            os.path.join(out_dir, "losses.png"), title=f"{snapshot_kind} training")
            else:
                for v in sums.values():
                    dist.mean_over_processes(v / count, comm)
            sums = {k: 0.0 for k in sums}
            count = 0
        if root and (it % checkpoint_every == 0 or it == iterations or out_of_time):
            save_checkpoint(ckpt, {"model": model}, {"opt": opt},
                            {"iteration": it, "kind": kind, "arch": arch, "seed": seed})
            save_snapshot(model, os.path.join(out_dir, f"{snapshot_kind}.npz"), kind=snapshot_kind)
        if out_of_time:
            break
    if bar is not None:
        bar.close()
    if root and it >= iterations and n_final_eval:
        acc = held_out_accuracy(model, kind=kind, n=n_final_eval)
        atomic_write_text(os.path.join(out_dir, "metrics.json"), json.dumps(
            {"iteration": it, "held_out_accuracy": acc, "n_held_out": n_final_eval, "kind": kind,
             "arch": arch}, indent=2) + "\n")
    dist.barrier(comm)
    return it


def held_out_accuracy(model, *, kind, n, seed=0):
    """Accuracy of ``model`` on ``n`` held-out faces (whole images, or their ears/eyes/muzzle crops)."""
    from neuralcollage.analysis import evaluation
    if kind == "whole":
        return evaluation.classifier_accuracy(model, n=n, seed=seed)["accuracy"]
    return evaluation.part_classifier_accuracy(model, n=n, seed=seed)["accuracy"]


def _progress(enabled, total, initial, desc):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=desc, unit="it", dynamic_ncols=True)

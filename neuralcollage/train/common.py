"""Shared pieces of the training loops: checkpoints, logs, plots, data batches."""
from neuralcollage import _compat  # noqa: F401

import contextlib
import json
import os
import time

import chainer
import numpy

from neuralcollage.io import atomic_save_npz, atomic_write_text


def real_batch(step, batch_size, *, size, seed, n_classes=None, closeups=0.0):
    """A batch of rendered faces for ``step``: ``(images (B, 3, size, size) float32 in [-1, 1], ids (B,))``.

    Seeds are ``seed * 10**9 + step * batch_size + i``, so a resumed run sees the same data; a ``closeups``
    fraction of them are part close-ups (:func:`neuralcollage.datasets.render_batch`).
    """
    from neuralcollage.datasets import render_batch
    seeds = [seed * 10 ** 9 + step * batch_size + i for i in range(batch_size)]
    images, ids, _, _ = render_batch(seeds, size=size, closeups=closeups)
    x = images.transpose(0, 3, 1, 2).astype(numpy.float32) / 127.5 - 1.0
    return x, ids.astype(numpy.int32)


def save_checkpoint(path, links, optimizers, state):
    """Write links, optimizer states and a JSON ``state`` into one npz, atomically."""
    arrays = {}
    for name, link in links.items():
        ser = chainer.serializers.DictionarySerializer()
        ser.save(link)
        arrays.update({f"{name}/{k}": v for k, v in ser.target.items()})
    for name, opt in optimizers.items():
        ser = chainer.serializers.DictionarySerializer()
        ser.save(opt)
        arrays.update({f"opt_{name}/{k}": v for k, v in ser.target.items()})
    arrays["__state__"] = numpy.array(json.dumps(state))
    atomic_save_npz(path, **arrays)


def load_checkpoint(path, links, optimizers):
    """Restore what :func:`save_checkpoint` wrote; returns the JSON state."""
    with numpy.load(path, allow_pickle=False) as f:
        for name, link in links.items():
            chainer.serializers.NpzDeserializer(f, path=f"{name}/").load(link)
        for name, opt in optimizers.items():
            chainer.serializers.NpzDeserializer(f, path=f"opt_{name}/").load(opt)
        return json.loads(str(f["__state__"]))


class Log:
    """A list of records appended per logging step, kept as JSON lines in ``path``."""

    def __init__(self, path):
        self.path = path
        self.records = []
        if os.path.exists(path):
            with open(path) as f:
                self.records = [json.loads(line) for line in f if line.strip()]
        self.start = time.time()

    def append(self, record):
        self.records.append(record)
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in self.records))

    def truncate(self, iteration):
        self.records = [r for r in self.records if r["iteration"] <= iteration]


def plot_curves(records, keys, path, *, title):
    """Save a PNG of ``keys`` against ``iteration`` (matplotlib, Agg)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    if not records:
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    it = [r["iteration"] for r in records]
    for key in keys:
        ax.plot(it, [r[key] for r in records], label=key)
    ax.set_xlabel("iteration")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, path)


def image_grid(images, ncols):
    """``(N, 3, H, W)`` in [-1, 1] -> one HWC uint8 grid image."""
    x = numpy.clip((numpy.asarray(images) + 1) * 127.5 + 0.5, 0, 255).astype(numpy.uint8)
    n, c, h, w = x.shape
    nrows = -(-n // ncols)
    grid = numpy.full((nrows * h, ncols * w, 3), 255, numpy.uint8)
    for i in range(n):
        r, col = divmod(i, ncols)
        grid[r * h:(r + 1) * h, col * w:(col + 1) * w] = x[i].transpose(1, 2, 0)
    return grid


@contextlib.contextmanager
def seeded_initialization(seed):
    """Within the block, Chainer's initialisers (which draw from ``numpy.random``) start from ``seed``; the
    global NumPy random state is restored afterwards."""
    state = numpy.random.get_state()
    numpy.random.seed(seed % 2 ** 32)
    try:
        yield
    finally:
        numpy.random.set_state(state)

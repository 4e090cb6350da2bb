"""Held-out faces: render seeds that no training loop reads, for every metric and evaluation.

The training loops draw their seeds as ``seed * 10**9 + ...`` for training seeds below 10**6, so the seeds from
:data:`HELD_OUT_BASE` upward are never trained on.  Classes are assigned round-robin so that every class
appears equally often.

Example
-------
>>> from neuralcollage.datasets import HELD_OUT_BASE, held_out_faces, held_out_seeds
>>> held_out_seeds(2, seed=1) == [HELD_OUT_BASE + 10 ** 7, HELD_OUT_BASE + 10 ** 7 + 1]
True
>>> images, ids, masks = held_out_faces(3, size=32, n_classes=2)
>>> images.shape, ids.tolist(), sorted(masks)
((3, 32, 32, 3), [0, 1, 0], ['ears', 'eyes', 'face', 'muzzle'])
"""
from neuralcollage.datasets.faces import render_batch

__all__ = ["HELD_OUT_BASE", "held_out_seeds", "held_out_faces"]

HELD_OUT_BASE = 10 ** 15


def held_out_seeds(n, *, seed=0):
    """``n`` render seeds no training loop uses: ``HELD_OUT_BASE + seed * 10**7 + i``."""
    return [HELD_OUT_BASE + int(seed) * 10 ** 7 + i for i in range(int(n))]


def held_out_faces(n, *, size, n_classes, seed=0):
    """``n`` held-out rendered faces, classes round-robin over the first ``n_classes``.

    Returns:
        ``(images (n, size, size, 3) uint8, ids (n,) int32, masks {part: (n, size, size) bool})``.
    """
    ids = [i % n_classes for i in range(n)]
    images, ids, _, masks = render_batch(held_out_seeds(n, seed=seed), size=size, class_ids=ids)
    return images, ids, masks

"""Helpers shared by the tests."""
import numpy as np


def random_class_tables(gen, *, seed=7):
    """Give every sCBN link of ``gen`` distinct per-class rows, in place; returns ``gen``.

    A freshly built generator has identical class tables (gammas 1, betas 0), so the class would have no
    effect; ``gamma ~ 1 + 0.5 N(0, 1)``, ``beta ~ 0.5 N(0, 1)`` drawn from ``RandomState(seed)``.
    """
    rng = np.random.RandomState(seed)
    for name, link in gen.namedlinks():
        if name.endswith(("/b1", "/b2")):
            link.gammas.W.array[...] = 1 + 0.5 * rng.standard_normal(link.gammas.W.shape)
            link.betas.W.array[...] = 0.5 * rng.standard_normal(link.betas.W.shape)
    return gen

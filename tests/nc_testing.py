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


def painting_generator():
    """The tiny32 generator of the painting tests: weights from NumPy's global seed 0 (the global state is
    restored), class tables ``gamma ~ 1 + 0.5 N(0, 1)``, ``beta ~ 0.5 N(0, 1)`` from ``RandomState(1)`` in
    ``namedparams`` order (tests/data/painting_recipes were made with it)."""
    from neuralcollage.models.generator import Generator
    state = np.random.get_state()
    np.random.seed(0)
    g = Generator.from_preset("tiny32")
    np.random.set_state(state)
    rng = np.random.RandomState(1)
    for path, param in g.namedparams():
        if path.endswith("/gammas/W"):
            param.array[...] = 1 + 0.5 * rng.standard_normal(param.shape)
        elif path.endswith("/betas/W"):
            param.array[...] = 0.5 * rng.standard_normal(param.shape)
    return g


def random_biggan(arch="tiny32", *, seed=0, **overrides):
    """BigGAN-deep preset ``arch`` with every weight and BN statistic drawn from ``RandomState(seed)`` and
    the attention's gamma at 0.7 (a fresh one has identical statistics and a silent attention)."""
    from neuralcollage.models.biggan import BigGANDeep
    G = BigGANDeep.from_preset(arch, **overrides)
    rs = np.random.RandomState(seed)
    for _, link in G.namedlinks():
        if hasattr(link, "running_means"):
            link.running_means[...] = 0.3 * rs.standard_normal(link.running_means.shape)
            link.running_vars[...] = 0.5 + 1.5 * rs.random_sample(link.running_vars.shape)
    for _, p in sorted(G.namedparams()):
        fan_in = int(np.prod(p.shape[1:])) if p.ndim > 1 else 1
        p.array[...] = rs.standard_normal(p.shape) * (0.5 / np.sqrt(fan_in) if p.ndim > 1 else 0.1)
    if G.attention_position is not None:
        G.attention.gamma.array[...] = 0.7
    return G

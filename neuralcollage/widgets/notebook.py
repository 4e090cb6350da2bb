"""What the notebooks share: the model they use (:func:`notebook_bundle`, :func:`tiny_bundle`) and whether
they script the strokes a person would paint (:func:`scripted`).  No widgets here.
"""
import os
import warnings

import numpy

__all__ = ["notebook_bundle", "tiny_bundle", "scripted", "SCRIPTED_ENV", "MODEL_ENV"]

SCRIPTED_ENV = "NEURALCOLLAGE_SCRIPTED"
MODEL_ENV = "NEURALCOLLAGE_NOTEBOOK_MODEL"


def scripted(environ=None):
    """True when ``$NEURALCOLLAGE_SCRIPTED`` asks notebooks to replace the human's strokes by scripted ones."""
    value = (os.environ if environ is None else environ).get(SCRIPTED_ENV, "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def tiny_bundle(*, seed=0):
    """A tiny randomly initialised model (``tiny32``: 32 px, 4 classes) for demos and tests.

    Returns a :class:`neuralcollage.pretrained.ModelBundle` named ``"tiny-random"`` with a generator and a
    discriminator (weights drawn from ``seed``; the images are noise-like, not meaningful).  The per-class
    BN tables are randomised too (``gamma ~ 1 + 0.5 N(0, 1)``, ``beta ~ 0.5 N(0, 1)``), so that painting
    a class visibly changes the image.
    """
    from neuralcollage.labels import from_names
    from neuralcollage.models import Discriminator, Generator
    from neuralcollage.datasets import CLASS_NAMES

    state = numpy.random.get_state()
    try:
        numpy.random.seed(seed)
        gen = Generator.from_preset("tiny32")
        dis = Discriminator.from_preset("tiny32")
        rng = numpy.random.RandomState(seed)
        for path, param in sorted(gen.namedparams()):
            if path.endswith("/gammas/W"):
                param.array[...] = 1.0 + 0.5 * rng.standard_normal(param.shape)
            elif path.endswith("/betas/W"):
                param.array[...] = 0.5 * rng.standard_normal(param.shape)
    finally:
        numpy.random.set_state(state)
    vocab = from_names(list(CLASS_NAMES[:gen.n_classes]), name="tiny")
    fields = dict(name="tiny-random", generator=gen, discriminator=dis, vocabulary=vocab, arch="tiny32")
    from neuralcollage.pretrained import ModelBundle
    return ModelBundle(**fields)


def notebook_bundle(name=None, *, environ=None):
    """The model a notebook should use.

    ``$NEURALCOLLAGE_NOTEBOOK_MODEL`` (or ``name``) chooses: ``"tiny"`` forces :func:`tiny_bundle`;
    unset or ``"builtin"`` loads the built-in model and falls back to the tiny random model with a
    visible warning when it is not installed; anything else is passed to
    :func:`neuralcollage.pretrained.load_bundle` (errors are raised).

    Returns
    -------
    ModelBundle
    """
    env = os.environ if environ is None else environ
    choice = (name or env.get(MODEL_ENV) or "builtin").strip()
    if choice.lower() == "tiny":
        return tiny_bundle()
    if choice.lower() != "builtin":
        from neuralcollage.pretrained import load_bundle
        return load_bundle(choice)
    try:
        from neuralcollage.pretrained import load_bundle
        return load_bundle("builtin")
    except Exception as exc:  # not installed or not trained yet
        message = (f"the built-in model could not be loaded ({str(exc).splitlines()[0] if str(exc) else exc!r}); "
                   "using a tiny RANDOM model instead: images are noise, only the mechanics are shown")
        warnings.warn(message, stacklevel=2)
        try:
            from IPython import get_ipython
            from IPython.display import HTML, display
            if getattr(get_ipython(), "kernel", None) is not None:
                display(HTML(f"<div style='background:#fff3cd;border:1px solid #e0b000;padding:6px'>"
                             f"<b>Warning:</b> {message}</div>"))
        except Exception:
            pass
        return tiny_bundle()

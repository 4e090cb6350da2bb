"""neuralcollage: spatial semantic collage editing with class-conditional GANs.

The public surface is re-exported here lazily (importing the package does not import Chainer until a
model-related name is used, so ``collage --help`` stays fast).
"""
import importlib

from neuralcollage import _compat  # noqa: F401  (Chainer on NumPy 2 / Python 3.12+: see _neuralcollage_chainer)

__version__ = "0.1.0"

_EXPORTS = {
    "load_generator": "neuralcollage.loading",
    "load_discriminator": "neuralcollage.loading",
    "load_model": "neuralcollage.loading",
    "Generator": "neuralcollage.models",
    "Discriminator": "neuralcollage.models",
    "GENERATOR_PRESETS": "neuralcollage.models",
    "DISCRIMINATOR_PRESETS": "neuralcollage.models",
    "SnapshotError": "neuralcollage.snapshot",
    "save_snapshot": "neuralcollage.snapshot",
    "project": "neuralcollage.inversion",
    "edit_photo": "neuralcollage.collage",
    "scbn_edit": "neuralcollage.collage",
    "blend_edit": "neuralcollage.collage",
    "replay": "neuralcollage.collage",
    "load_bundle": "neuralcollage.pretrained",
    "poisson_blend": "neuralcollage.blending",
    "convert_biggan": "neuralcollage.convert",
    "add_class": "neuralcollage.collage",
    "load_pack": "neuralcollage.classes",
    "ClassPack": "neuralcollage.classes",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'neuralcollage' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)

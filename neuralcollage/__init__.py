"""neuralcollage: spatial semantic collage editing with class-conditional GANs.

Public surface (re-exported here): models and presets, loading, and the collage operations.
"""
from neuralcollage import _compat  # noqa: F401

from neuralcollage.loading import load_discriminator, load_generator, load_model  # noqa: F401
from neuralcollage.models import (  # noqa: F401
    DISCRIMINATOR_PRESETS, GENERATOR_PRESETS, Discriminator, Generator)
from neuralcollage.snapshot import SnapshotError, save_snapshot  # noqa: F401

__version__ = "0.1.0"

"""Models: generator, discriminator, encoder and their presets."""
from neuralcollage.models.generator import Generator  # noqa: F401
from neuralcollage.models.discriminator import Discriminator  # noqa: F401
from neuralcollage.models.presets import GENERATOR_PRESETS, DISCRIMINATOR_PRESETS  # noqa: F401

"""Models: generator, discriminator, encoder and their presets."""
from neuralcollage.models.generator import Generator  # noqa: F401
from neuralcollage.models.discriminator import Discriminator  # noqa: F401
from neuralcollage.models.presets import GENERATOR_PRESETS, DISCRIMINATOR_PRESETS  # noqa: F401


def extra_kinds():
    """``{kind: (model class, presets)}`` for :func:`neuralcollage.load_model` beyond generator/discriminator."""
    from neuralcollage.models.classifier import (
        CLASSIFIER_PRESETS, PART_CLASSIFIER_PRESETS, Classifier, PartClassifier)
    from neuralcollage.models.encoder import ENCODER_PRESETS, Encoder
    from neuralcollage.models.biggan import BIGGAN_PRESETS, BigGANDeep
    from neuralcollage.models.regressor import REGRESSOR_PRESETS, AttributeRegressor
    return {"encoder": (Encoder, ENCODER_PRESETS), "classifier": (Classifier, CLASSIFIER_PRESETS),
            "part_classifier": (PartClassifier, PART_CLASSIFIER_PRESETS),
            "biggan_generator": (BigGANDeep, BIGGAN_PRESETS),
            "regressor": (AttributeRegressor, REGRESSOR_PRESETS)}

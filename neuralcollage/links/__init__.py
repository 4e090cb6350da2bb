"""Links: sCBN and the residual blocks of generators and discriminators."""
from neuralcollage.links.scbn import SpatialConditionalBatchNormalization  # noqa: F401
from neuralcollage.links.blocks import (  # noqa: F401
    GeneratorBlock, DiscriminatorBlock, OptimizedDiscriminatorBlock, spectral_norm, upsample_nearest)

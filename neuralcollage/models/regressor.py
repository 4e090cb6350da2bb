"""Attribute regressor: the continuous attributes of a face image (fur hue and brightness, eye size, ...).

Trained on the built-in data set's attributes (:data:`neuralcollage.datasets.ATTRIBUTE_NAMES`, each in
``[0, 1]``) by :func:`neuralcollage.train.regressor.train_regressor`; used by :mod:`neuralcollage.axes` to find
and measure latent attribute axes.
"""
from neuralcollage import _compat  # noqa: F401

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
from chainer import initializers

from neuralcollage.datasets import ATTRIBUTE_NAMES as _ATTRIBUTES
from neuralcollage.models.encoder import ResNetBody, resolve_preset

REGRESSOR_PRESETS = {
    "builtin64": dict(channels=(1, 2, 4, 8), ch=12, hidden=128, attributes=_ATTRIBUTES, resolution=64),
    "tiny32": dict(channels=(1, 2, 4), ch=4, hidden=16, attributes=_ATTRIBUTES, resolution=32),
}

_OVERRIDABLE = ("ch", "hidden", "resolution")


class AttributeRegressor(chainer.Chain):
    """``R(x) -> (N, A)``: a residual body (no spectral norm), its flattened last feature map, a hidden layer.

    ``R(x) = l_out(relu(l_hidden(flatten(body(x)))))``; the flattened map keeps where things are (eye and muzzle
    size, ear angle), which global pooling loses. The outputs are the attributes on their data-set scale
    (``[0, 1]`` for the built-in faces), unclipped, so that edits past the training range stay measurable.

    Args:
        channels: channel multipliers of ``ch`` per residual block (all but the last halve the resolution).
        ch: base width. hidden: width of the hidden layer. attributes: the attribute names, one output each.
        resolution: input side ``R`` (:meth:`predict` resizes to it).
        arch: the preset name this was built from (metadata only).
    """

    kind = "regressor"

    def __init__(self, *, channels, ch, hidden, attributes, resolution, arch=None):
        super().__init__()
        self.channels = tuple(int(c) for c in channels)
        self.attributes = tuple(str(a) for a in attributes)
        if not self.attributes or len(set(self.attributes)) != len(self.attributes):
            raise ValueError(f"attributes must be distinct names, got {list(self.attributes)}")
        self.ch, self.hidden, self.resolution, self.arch = int(ch), int(hidden), int(resolution), arch
        with self.init_scope():
            self.body = ResNetBody(self.channels, self.ch)
            side = self.body.output_size(self.resolution)
            if side < 1:
                raise ValueError(f"{len(self.channels)} blocks do not fit a {self.resolution} px input")
            self.l_hidden = L.Linear(self.body.out_channels * side * side, self.hidden,
                                     initialW=initializers.GlorotUniform())
            self.l_out = L.Linear(self.hidden, len(self.attributes), initialW=initializers.GlorotUniform())

    @classmethod
    def from_preset(cls, arch, **overrides):
        """Build preset ``arch`` of :data:`REGRESSOR_PRESETS`; overrides ``ch``, ``hidden``, ``resolution``."""
        return cls(arch=arch, **resolve_preset(REGRESSOR_PRESETS, arch, overrides, kind="regressor",
                                               allowed=_OVERRIDABLE))

    @property
    def config(self):
        """Constructor kwargs (JSON-serialisable)."""
        return dict(channels=list(self.channels), ch=self.ch, hidden=self.hidden, attributes=list(self.attributes),
                    resolution=self.resolution, arch=self.arch)

    @property
    def n_attributes(self):
        return len(self.attributes)

    def __repr__(self):
        return (f"{type(self).__name__}(arch={self.arch!r}, resolution={self.resolution}, ch={self.ch}, "
                f"attributes={list(self.attributes)})")

    def forward(self, x):
        """Attributes ``(N, A)`` Variable of ``(N, 3, R, R)`` float32 images in ``[-1, 1]``."""
        if len(x.shape) != 4 or x.shape[1] != 3:
            raise ValueError(f"regressor expects (N, 3, H, W) input, got {tuple(x.shape)}")
        if x.shape[2:] != (self.resolution, self.resolution):
            raise ValueError(f"regressor expects {self.resolution}x{self.resolution} input, got {tuple(x.shape)}")
        return self.l_out(F.relu(self.l_hidden(self.body(x))))

    def predict_model(self, x, *, batch_size=64):
        """Test-mode attributes ``(N, A)`` float32 NumPy of ``(N, 3, H, H)`` float32 images in ``[-1, 1]``
        (NumPy or CuPy; another size is bilinearly resized to ``R``)."""
        out = []
        with chainer.using_config("train", False), chainer.no_backprop_mode():
            for i in range(0, x.shape[0], batch_size):
                xb = self.device.send(x[i:i + batch_size]).astype(numpy.float32, copy=False)
                if xb.shape[2:] != (self.resolution, self.resolution):
                    xb = F.resize_images(xb, (self.resolution, self.resolution)).array
                out.append(chainer.backend.CpuDevice().send(self.forward(xb).array))
        return numpy.concatenate(out) if out else numpy.zeros((0, self.n_attributes), numpy.float32)

    def prepare(self, images):
        """HWC uint8 images ``(N, H, H, 3)`` (any square size; area/bicubic resized) -> NCHW float32
        ``(N, 3, R, R)`` in ``[-1, 1]`` (NumPy)."""
        from neuralcollage.blending import crop_and_resize
        from neuralcollage.io import to_model
        arr = numpy.asarray(images)
        if arr.ndim == 3:
            arr = arr[None]
        if arr.dtype != numpy.uint8 or arr.ndim != 4 or arr.shape[3] != 3 or arr.shape[1] != arr.shape[2]:
            raise ValueError(f"images must be (N, H, H, 3) uint8, got {arr.dtype} {arr.shape}")
        if arr.shape[1] != self.resolution:
            arr = numpy.stack([crop_and_resize(a, (0, 0, a.shape[0]), self.resolution) for a in arr]) \
                if len(arr) else numpy.zeros((0, self.resolution, self.resolution, 3), numpy.uint8)
        return to_model(arr)

    def predict(self, images, *, batch_size=64):
        """Attributes ``(N, A)`` float32 of HWC uint8 images ``(N, H, H, 3)`` (one image gives ``(1, A)``)."""
        return self.predict_model(self.prepare(images), batch_size=batch_size)

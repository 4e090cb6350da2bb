"""Image classifiers for evaluation: whole images, and part crops (ears, eyes, muzzle) of a face."""
from neuralcollage import _compat  # noqa: F401

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
from chainer import initializers

from neuralcollage.models.encoder import ResNetBody, resolve_preset

CLASSIFIER_PRESETS = {
    "builtin64": dict(channels=(1, 2, 4, 8), ch=16, n_classes=6, resolution=64),
    "tiny32": dict(channels=(1, 2, 4), ch=4, n_classes=4, resolution=32),
}

PART_CLASSIFIER_PRESETS = {
    "builtin64": dict(channels=(1, 2, 4, 8), ch=16, n_classes=6, resolution=32),
    "tiny32": dict(channels=(1, 2, 4), ch=4, n_classes=4, resolution=16),
}

_OVERRIDABLE = ("ch", "n_classes", "resolution")


class Classifier(chainer.Chain):
    """``C(x) -> logits (N, K)``: a residual body (no spectral norm), global average pooling, a linear layer.

    Args:
        channels: channel multipliers of ``ch`` per residual block (all but the last halve the resolution).
        ch: base width. n_classes: K. resolution: input side ``R`` (:meth:`predict` resizes to it).
        arch: the preset name this was built from (metadata only).
    """

    presets = CLASSIFIER_PRESETS
    kind = "classifier"

    def __init__(self, *, channels, ch, n_classes, resolution, arch=None):
        super().__init__()
        self.channels = tuple(int(c) for c in channels)
        self.ch, self.n_classes, self.resolution, self.arch = int(ch), int(n_classes), int(resolution), arch
        with self.init_scope():
            self.body = ResNetBody(self.channels, self.ch)
            self.l_out = L.Linear(self.body.out_channels, self.n_classes, initialW=initializers.GlorotUniform())

    @classmethod
    def from_preset(cls, arch, **overrides):
        """Build preset ``arch`` of :attr:`presets`; overrides ``ch``, ``n_classes``, ``resolution``."""
        return cls(arch=arch, **resolve_preset(cls.presets, arch, overrides, kind=cls.kind,
                                               allowed=_OVERRIDABLE))

    @property
    def config(self):
        """Constructor kwargs (JSON-serialisable)."""
        return dict(channels=list(self.channels), ch=self.ch, n_classes=self.n_classes,
                    resolution=self.resolution, arch=self.arch)

    @property
    def n_features(self):
        return self.body.out_channels

    def __repr__(self):
        return (f"{type(self).__name__}(arch={self.arch!r}, resolution={self.resolution}, ch={self.ch}, "
                f"n_classes={self.n_classes})")

    def features(self, x):
        """``(N, 3, R, R)`` float32 in [-1, 1] -> ``(N, F)`` Variable: the last feature map after ReLU,
        averaged over space."""
        if len(x.shape) != 4 or x.shape[1] != 3:
            raise ValueError(f"{self.kind} expects (N, 3, H, W) input, got {tuple(x.shape)}")
        return F.mean(self.body(x), axis=(2, 3))

    def forward(self, x):
        """Logits ``(N, K)`` of ``(N, 3, R, R)`` float32 images in [-1, 1]."""
        return self.l_out(self.features(x))

    def prepare(self, images):
        """HWC uint8 images ``(N, H, H, 3)`` (any square size; area/bicubic resized) -> NCHW float32
        ``(N, 3, R, R)`` in [-1, 1] (NumPy)."""
        from neuralcollage.blending import crop_and_resize
        from neuralcollage.io import to_model
        arr = numpy.asarray(images)
        if arr.dtype != numpy.uint8 or arr.ndim != 4 or arr.shape[3] != 3 or arr.shape[1] != arr.shape[2]:
            raise ValueError(f"images must be (N, H, H, 3) uint8, got {arr.dtype} {arr.shape}")
        if arr.shape[1] != self.resolution:
            arr = numpy.stack([crop_and_resize(a, (0, 0, a.shape[0]), self.resolution) for a in arr]) \
                if len(arr) else numpy.zeros((0, self.resolution, self.resolution, 3), numpy.uint8)
        return to_model(arr)

    def _batched(self, x, fn, batch_size):
        out = []
        with chainer.using_config("train", False), chainer.no_backprop_mode():
            for i in range(0, x.shape[0], batch_size):
                out.append(chainer.backend.CpuDevice().send(fn(self.device.send(x[i:i + batch_size])).array))
        return out

    def logits(self, images, *, batch_size=64):
        """Test-mode logits ``(N, K)`` float32 (NumPy) of HWC uint8 images ``(N, H, H, 3)``."""
        x = self.prepare(images)
        out = self._batched(x, self.forward, batch_size)
        return numpy.concatenate(out) if out else numpy.zeros((0, self.n_classes), numpy.float32)

    def embed(self, images, *, batch_size=64):
        """Test-mode :meth:`features` ``(N, F)`` float32 (NumPy) of HWC uint8 images ``(N, H, H, 3)``."""
        x = self.prepare(images)
        out = self._batched(x, self.features, batch_size)
        return numpy.concatenate(out) if out else numpy.zeros((0, self.n_features), numpy.float32)

    def predict_proba(self, images, *, batch_size=64):
        """Class probabilities ``(N, K)`` float32 of HWC uint8 images."""
        logits = self.logits(images, batch_size=batch_size)
        logits = logits - logits.max(axis=1, keepdims=True)
        p = numpy.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, images, *, batch_size=64):
        """Class ids ``(N,)`` int32 of HWC uint8 images ``(N, H, H, 3)``; one image ``(H, H, 3)`` gives
        ``(1,)``."""
        arr = numpy.asarray(images)
        if arr.ndim == 3:
            arr = arr[None]
        return self.logits(arr, batch_size=batch_size).argmax(axis=1).astype(numpy.int32)


class PartClassifier(Classifier):
    """A :class:`Classifier` of part crops (:func:`part_crops`): the class a face's part belongs to."""

    presets = PART_CLASSIFIER_PRESETS
    kind = "part_classifier"

    def predict_parts(self, images, masks, *, margin=0.15, batch_size=64):
        """Class ids ``(N,)`` of the part selected by ``masks`` ``(N, H, W)`` bool in each image
        ``(N, H, W, 3)`` uint8."""
        return self.predict(part_crops(images, masks, size=self.resolution, margin=margin),
                            batch_size=batch_size)


def part_crops(images, masks, *, size=32, margin=0.15):
    """Square crops around each image's part mask, resized to ``size``.

    The crop is :func:`neuralcollage.blending.square_crop_box` of the mask (its bounding box made square,
    grown by ``margin`` times its side on every side, shifted inside the image).

    Args:
        images: ``(N, H, W, 3)`` uint8 (or one ``(H, W, 3)`` image with one ``(H, W)`` mask).
        masks: ``(N, H, W)`` bool (pixels > 0 belong to the part).
        size: output side. margin: context around the part, as a fraction of its bounding box side.

    Returns:
        ``(N, size, size, 3)`` uint8.

    Raises:
        ValueError: mismatched shapes, or an empty mask (the message gives its index).
    """
    from neuralcollage.blending import crop_and_resize, square_crop_box
    images, masks = numpy.asarray(images), numpy.asarray(masks)
    if images.ndim == 3 and masks.ndim == 2:
        images, masks = images[None], masks[None]
    if images.dtype != numpy.uint8 or images.ndim != 4 or images.shape[3] != 3:
        raise ValueError(f"images must be (N, H, W, 3) uint8, got {images.dtype} {images.shape}")
    if masks.shape != images.shape[:3]:
        raise ValueError(f"masks {masks.shape} do not match images {images.shape[:3]}")
    out = numpy.empty((len(images), size, size, 3), numpy.uint8)
    for i, (image, mask) in enumerate(zip(images, masks)):
        if not mask.any():
            raise ValueError(f"part mask {i} is empty")
        out[i] = crop_and_resize(image, square_crop_box(mask, margin=margin), size)
    return out

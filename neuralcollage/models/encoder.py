"""Class-conditional encoder ``E(x, y) -> z``: the initial latent for manifold projection (DESIGN §1)."""
from neuralcollage import _compat  # noqa: F401

import copy

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
from chainer import initializers

from neuralcollage.links.blocks import DiscriminatorBlock, OptimizedDiscriminatorBlock

ENCODER_PRESETS = {
    "builtin64": dict(channels=(1, 2, 4, 8, 8), ch=16, dim_z=64, n_classes=6, resolution=64, hidden=256),
    "tiny32": dict(channels=(1, 2, 4), ch=4, dim_z=16, n_classes=4, resolution=32, hidden=32),
}

_OVERRIDABLE = ("ch", "n_classes", "dim_z", "hidden", "resolution")


def resolve_preset(presets, arch, overrides, *, kind, allowed):
    """Constructor kwargs of preset ``arch`` with integer ``overrides`` from ``allowed`` applied.

    Raises:
        ValueError: unknown preset or an override this model does not take.
    """
    if arch not in presets:
        raise ValueError(f"unknown {kind} architecture {arch!r}; choose one of: {', '.join(presets)}")
    kwargs = copy.deepcopy(presets[arch])
    for key, value in overrides.items():
        if key not in kwargs or key not in allowed:
            raise ValueError(f"{kind} preset {arch!r} takes overrides {[k for k in allowed if k in kwargs]}, "
                             f"not {key!r}")
        kwargs[key] = int(value)
    return kwargs


class ResNetBody(chainer.Chain):
    """Discriminator-style residual body without spectral norm: ``block1`` (optimised), ``block2..``.

    Every block but the last halves the resolution; the output is the last feature map after ReLU,
    ``(N, channels[-1] * ch, R / 2 ** (len(channels) - 1), ...)``.
    """

    def __init__(self, channels, ch):
        super().__init__()
        widths = [int(c) * ch for c in channels]
        self.n_blocks = len(widths)
        self.out_channels = widths[-1]
        with self.init_scope():
            self.block1 = OptimizedDiscriminatorBlock(3, widths[0], sn=False)
            for b in range(1, self.n_blocks):
                setattr(self, f"block{b + 1}", DiscriminatorBlock(
                    widths[b - 1], widths[b], downsample=b < self.n_blocks - 1, sn=False))

    def output_size(self, resolution):
        return resolution // 2 ** (self.n_blocks - 1)

    def forward(self, x):
        h = x
        for b in range(self.n_blocks):
            h = getattr(self, f"block{b + 1}")(h)
        return F.relu(h)


def as_ids(y, n, device):
    """Class ids ``y`` (int or ``(N,)``) as an int32 ``(n,)`` array on ``device``."""
    if isinstance(y, chainer.Variable):
        y = y.array
    if numpy.isscalar(y) or getattr(y, "ndim", 1) == 0:
        y = numpy.full((n,), int(y), numpy.int32)
    y = device.send(y if hasattr(y, "dtype") else numpy.asarray(y))
    if y.shape != (n,):
        raise ValueError(f"expected {n} class ids, got shape {tuple(y.shape)}")
    return y.astype(numpy.int32, copy=False)


class Encoder(chainer.Chain):
    """``E(x, y) -> z``: a residual body, the flattened last feature map, a class-conditional hidden layer.

    ``h = relu(l_hidden(flatten(body(x))) + l_y[y])``, ``z = l_out(h)``.

    Args:
        channels: channel multipliers of ``ch`` per residual block. ch: base width. dim_z: latent size.
        n_classes: number of classes. resolution: input side ``R``. hidden: width of the hidden layer.
        arch: the preset name this was built from (metadata only).
    """

    def __init__(self, *, channels, ch, dim_z, n_classes, resolution, hidden=256, arch=None):
        super().__init__()
        self.channels = tuple(int(c) for c in channels)
        self.ch, self.dim_z, self.n_classes = int(ch), int(dim_z), int(n_classes)
        self.resolution, self.hidden, self.arch = int(resolution), int(hidden), arch
        with self.init_scope():
            self.body = ResNetBody(self.channels, self.ch)
            side = self.body.output_size(self.resolution)
            if side < 1:
                raise ValueError(f"{len(self.channels)} blocks do not fit a {self.resolution} px input")
            self.l_hidden = L.Linear(self.body.out_channels * side * side, self.hidden,
                                     initialW=initializers.GlorotUniform())
            self.l_y = L.EmbedID(self.n_classes, self.hidden, initialW=initializers.Zero())
            self.l_out = L.Linear(self.hidden, self.dim_z, initialW=initializers.GlorotUniform())

    @classmethod
    def from_preset(cls, arch, **overrides):
        """Build preset ``arch`` (:data:`ENCODER_PRESETS`); overrides ``ch``, ``n_classes``, ``dim_z``,
        ``hidden``, ``resolution``."""
        return cls(arch=arch, **resolve_preset(ENCODER_PRESETS, arch, overrides, kind="encoder",
                                               allowed=_OVERRIDABLE))

    @property
    def config(self):
        """Constructor kwargs (JSON-serialisable)."""
        return dict(channels=list(self.channels), ch=self.ch, dim_z=self.dim_z, n_classes=self.n_classes,
                    resolution=self.resolution, hidden=self.hidden, arch=self.arch)

    def __repr__(self):
        return (f"Encoder(arch={self.arch!r}, resolution={self.resolution}, ch={self.ch}, dim_z={self.dim_z}, "
                f"n_classes={self.n_classes})")

    def forward(self, x, y):
        """``x`` ``(N, 3, R, R)`` float32 in [-1, 1] (array or Variable), ``y`` class ids ``(N,)`` or an int
        -> ``z`` Variable ``(N, dim_z)`` float32."""
        shape = tuple(x.shape)
        if len(shape) != 4 or shape[1:] != (3, self.resolution, self.resolution):
            raise ValueError(f"encoder expects (N, 3, {self.resolution}, {self.resolution}) input, got {shape}")
        y = as_ids(y, shape[0], self.device)
        h = self.body(x)
        h = F.relu(self.l_hidden(F.reshape(h, (shape[0], -1))) + self.l_y(y))
        return self.l_out(h)

    def encode(self, images, y, *, batch_size=64):
        """Test-mode latents of HWC uint8 ``images`` ``(N, R, R, 3)`` (or NCHW float32 in [-1, 1]) with class
        ids ``y`` -> NumPy ``(N, dim_z)`` float32."""
        from neuralcollage.io import to_model
        images = images if hasattr(images, "dtype") else numpy.asarray(images)
        x = to_model(images) if images.dtype == numpy.uint8 else images
        y = as_ids(y, x.shape[0], chainer.get_device("@numpy"))
        out = []
        with chainer.using_config("train", False), chainer.no_backprop_mode():
            for i in range(0, x.shape[0], batch_size):
                z = self.forward(self.device.send(x[i:i + batch_size]), y[i:i + batch_size])
                out.append(chainer.backend.CpuDevice().send(z.array))
        return numpy.concatenate(out) if out else numpy.zeros((0, self.dim_z), numpy.float32)

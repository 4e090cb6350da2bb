"""Residual blocks of the SNGAN-projection family (generator and discriminator)."""
from neuralcollage import _compat  # noqa: F401

import contextlib
import math

import chainer
import chainer.link_hooks
import chainer.functions as F
import chainer.links as L  # noqa: F401
from chainer import initializers

from neuralcollage.links import fastconv
from neuralcollage.links.fastconv import Convolution2D

from neuralcollage.links.scbn import SpatialConditionalBatchNormalization

SN_EPS = 1e-12


def spectral_norm(link):
    """Attach Chainer's spectral-norm hook (one power iteration, eps 1e-12; ``u`` frozen in test mode).

    The hook keeps its vector as the persistent ``W_u`` of shape ``(out,)``; the official snapshots call it
    ``u`` with shape ``(1, out)`` (:mod:`neuralcollage.snapshot` maps the two).
    """
    link.add_hook(chainer.link_hooks.SpectralNormalization(eps=SN_EPS))
    return link


def _identity(link):
    return link


upsample_nearest = fastconv.upsample_nearest


class GeneratorBlock(chainer.Chain):
    """Upsampling residual block: ``c2(relu(b2(c1(up(relu(b1(x))))))) + c_sc(up(x))``.

    ``b1`` runs at the input resolution, ``b2`` at the output (2x) resolution; each takes its own class
    condition (see :class:`SpatialConditionalBatchNormalization`).
    """

    def __init__(self, in_channels, out_channels, n_classes):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        w = initializers.GlorotUniform(math.sqrt(2))
        w_sc = initializers.GlorotUniform()
        with self.init_scope():
            self.b1 = SpatialConditionalBatchNormalization(in_channels, n_classes)
            self.c1 = Convolution2D(in_channels, out_channels, 3, pad=1, initialW=w)
            self.b2 = SpatialConditionalBatchNormalization(out_channels, n_classes)
            self.c2 = Convolution2D(out_channels, out_channels, 3, pad=1, initialW=w)
            self.c_sc = Convolution2D(in_channels, out_channels, 1, initialW=w_sc)

    def __repr__(self):
        return f"{type(self).__name__}({self.in_channels} -> {self.out_channels}, up x2)"

    def forward(self, x, condition1, condition2):
        if not fastconv.enabled_for(x):
            h = self.b1(x, condition1, relu=True)
            h = self.c2(self.b2(self.c1(h, upsample=True), condition2, relu=True))
            return h + self.c_sc(upsample_nearest(x))
        with fastconv.single_threaded_blas():
            h = self.b1(x, condition1, relu=True)
            h = self.c2(self.b2(self.c1(h, upsample=True), condition2, relu=True))
            return fastconv.upsample_add(h, self.c_sc(x))


class DiscriminatorBlock(chainer.Chain):
    """SN residual block: ``c2(relu(c1(relu(x))))`` (then avgpool2) plus a shortcut.

    The shortcut is ``c_sc`` (then avgpool2) when the channels change or the block downsamples, else the
    identity. ``sn=False`` builds plain convolutions (for encoders and classifiers).
    """

    def __init__(self, in_channels, out_channels, *, hidden_channels=None, downsample=True, sn=True):
        super().__init__()
        hidden = out_channels if hidden_channels is None else hidden_channels
        self.in_channels, self.out_channels, self.hidden_channels = in_channels, out_channels, hidden
        self.downsample = downsample
        self.learnable_sc = in_channels != out_channels or downsample
        w = initializers.GlorotUniform(math.sqrt(2))
        norm = spectral_norm if sn else _identity
        with self.init_scope():
            self.c1 = norm(Convolution2D(in_channels, hidden, 3, pad=1, initialW=w))
            self.c2 = norm(Convolution2D(hidden, out_channels, 3, pad=1, initialW=w))
            if self.learnable_sc:
                self.c_sc = norm(Convolution2D(in_channels, out_channels, 1,
                                               initialW=initializers.GlorotUniform()))

    def __repr__(self):
        return (f"{type(self).__name__}({self.in_channels} -> {self.hidden_channels} -> "
                f"{self.out_channels}, down={self.downsample})")

    def forward(self, x):
        with fastconv.single_threaded_blas() if fastconv.enabled_for(x) else contextlib.nullcontext():
            h = F.relu(self.c1(F.relu(x)))
            if not self.downsample:
                return self.c2(h) + (self.c_sc(x) if self.learnable_sc else x)
            h = self.c2(h, pool=True)
            if fastconv.enabled_for(x):
                s = fastconv.average_pooling_2x2(x)
                return h + (self.c_sc(s) if self.learnable_sc else s)
            s = self.c_sc(x) if self.learnable_sc else x
            return h + F.average_pooling_2d(s, 2)


class OptimizedDiscriminatorBlock(chainer.Chain):
    """First discriminator block: ``avgpool2(c2(relu(c1(x)))) + c_sc(avgpool2(x))`` (``sn=False``: plain
    convolutions)."""

    def __init__(self, in_channels, out_channels, *, sn=True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        w = initializers.GlorotUniform(math.sqrt(2))
        norm = spectral_norm if sn else _identity
        with self.init_scope():
            self.c1 = norm(Convolution2D(in_channels, out_channels, 3, pad=1, initialW=w))
            self.c2 = norm(Convolution2D(out_channels, out_channels, 3, pad=1, initialW=w))
            self.c_sc = norm(Convolution2D(in_channels, out_channels, 1,
                                           initialW=initializers.GlorotUniform()))

    def __repr__(self):
        return f"{type(self).__name__}({self.in_channels} -> {self.out_channels}, down=True)"

    def forward(self, x):
        with fastconv.single_threaded_blas() if fastconv.enabled_for(x) else contextlib.nullcontext():
            h = self.c2(F.relu(self.c1(x)), pool=True)
            return h + self.c_sc(fastconv.average_pooling_2x2(x))

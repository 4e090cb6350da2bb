"""Spectral-norm ResNet projection discriminator."""
from neuralcollage import _compat  # noqa: F401

import chainer
import chainer.functions as F
import chainer.links as L  # noqa: F401
import numpy
from chainer import initializers

from neuralcollage.links.blocks import DiscriminatorBlock, OptimizedDiscriminatorBlock, spectral_norm
from neuralcollage.models.presets import DISCRIMINATOR_PRESETS, resolve


class Discriminator(chainer.Chain):
    """SNGAN-projection discriminator: ``block1`` (optimised), ``block2..``, linear ``l{n+1}``, embed ``l_y``.

    Every block but the last halves the resolution. ``hidden="out"`` (the 256 px collage model) or ``"in"``
    (the 128 px models) chooses the hidden width of blocks 2 and up. Inputs are ``(N, 3, R, R)`` float32 in
    ``[-1, 1]``.
    """

    def __init__(self, *, channels, ch, n_classes, hidden="out", arch=None):
        super().__init__()
        if hidden not in ("in", "out"):
            raise ValueError(f"hidden must be 'in' or 'out', got {hidden!r}")
        self.channels = tuple(int(c) for c in channels)
        self.ch, self.n_classes, self.hidden, self.arch = ch, n_classes, hidden, arch
        self.n_blocks = len(self.channels)
        widths = [c * ch for c in self.channels]
        self.linear_name = f"l{self.n_blocks + 1}"
        with self.init_scope():
            self.block1 = OptimizedDiscriminatorBlock(3, widths[0])
            for b in range(1, self.n_blocks):
                hid = widths[b - 1] if hidden == "in" else widths[b]
                setattr(self, f"block{b + 1}", DiscriminatorBlock(
                    widths[b - 1], widths[b], hidden_channels=hid, downsample=b < self.n_blocks - 1))
            setattr(self, self.linear_name,
                    spectral_norm(L.Linear(widths[-1], 1, initialW=initializers.GlorotUniform())))
            self.l_y = spectral_norm(L.EmbedID(n_classes, widths[-1], initialW=initializers.GlorotUniform()))
        #: Projection rows of classes added by class packs (:mod:`neuralcollage.classes`), ``(E, C)``, used as
        #: they are (already normalised), after the ``n_classes - E`` spectrally normalised rows of ``l_y``.
        self.extra_l_y = None

    @classmethod
    def from_preset(cls, arch, **overrides):
        """Build preset ``arch`` (see :data:`DISCRIMINATOR_PRESETS`) with keyword overrides."""
        return cls(arch=arch, **resolve(DISCRIMINATOR_PRESETS, arch, overrides, kind="discriminator"))

    @property
    def config(self):
        return dict(channels=list(self.channels), ch=self.ch, n_classes=self.n_classes, hidden=self.hidden,
                    arch=self.arch)

    def __repr__(self):
        return f"Discriminator(arch={self.arch!r}, ch={self.ch}, n_classes={self.n_classes})"

    @property
    def blocks(self):
        return [getattr(self, f"block{b + 1}") for b in range(self.n_blocks)]

    @property
    def n_extra_classes(self):
        """Classes added by class packs (their rows are :attr:`extra_l_y`)."""
        return 0 if self.extra_l_y is None else int(self.extra_l_y.shape[0])

    def add_class_row(self, row):
        """Append a class whose projection row is ``row (C,)`` (already normalised; old rows unchanged)."""
        row = self.xp.asarray(row, dtype=numpy.float32).reshape(1, -1)
        if row.shape[1] != self.l_y.W.shape[1]:
            raise ValueError(f"projection row has {row.shape[1]} channels; this discriminator has "
                             f"{self.l_y.W.shape[1]}")
        self.extra_l_y = row if self.extra_l_y is None else self.xp.concatenate([self.extra_l_y, row])
        self.n_classes += 1

    def features(self, x):
        """Last feature map after ReLU, ``(N, C, h, w)``."""
        h = x
        for block in self.blocks:
            h = block(h)
        return F.relu(h)

    def feature_vector(self, x):
        """``phi(x)``: the last feature map after ReLU flattened in (C, H, W) order, ``(N, C * h * w)``."""
        h = self.features(x)
        return F.reshape(h, (h.shape[0], -1))

    def forward(self, x, y=None):
        """Scores ``(N,)``: ``l(f) + <l_y[y], f>`` with ``f = sum_hw relu(h)``; ``y`` are class ids ``(N,)``
        (no projection term when None)."""
        f = F.sum(self.features(x), axis=(2, 3))
        out = getattr(self, self.linear_name)(f)
        if y is not None:
            y = self.device.send(numpy.asarray(y, dtype=numpy.int32) if not hasattr(y, "dtype") else y)
            y = y.astype(numpy.int32)
            k = self.n_classes - self.n_extra_classes
            if self.extra_l_y is None or not bool((y >= k).any()):
                out = out + F.sum(self.l_y(y) * f, axis=1, keepdims=True)
            else:
                old = F.sum(self.l_y(self.xp.minimum(y, k - 1)) * f, axis=1, keepdims=True)
                new = F.sum(F.embed_id(self.xp.maximum(y - k, 0), self.extra_l_y) * f, axis=1, keepdims=True)
                out = out + F.where((y >= k)[:, None], new, old)
        return F.reshape(out, (-1,))

    def class_scores(self, x):
        """Projection score of every class, ``(N, n_classes)``: ``l(f) + f @ l_y^T`` (for ranking classes)."""
        f = F.sum(self.features(x), axis=(2, 3))
        base = getattr(self, self.linear_name)(f)
        emb = self.l_y.W
        if self.l_y.local_link_hooks:
            hook = self.l_y.local_link_hooks["SpectralNormalization"]
            emb = hook.normalize_weight(self.l_y)
        proj = F.matmul(f, emb, transb=True)
        if self.extra_l_y is not None:  # old columns computed as without packs
            proj = F.concat([proj, F.matmul(f, self.extra_l_y, transb=True)], axis=1)
        return F.broadcast_to(base, (f.shape[0], self.n_classes)) + proj

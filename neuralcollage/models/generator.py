"""Class-conditional ResNet generator with per-layer class maps (sCBN) and feature blending."""
from neuralcollage import _compat  # noqa: F401

import chainer
import chainer.functions as F
import chainer.links as L  # noqa: F401
import numpy
from chainer import initializers

from neuralcollage.links import fastconv
from neuralcollage.links.fastconv import Convolution2D

from neuralcollage.links.blocks import GeneratorBlock
from neuralcollage.links.scbn import EPS
from neuralcollage.models.conditioning import ClassConditionalGenerator
from neuralcollage.models.presets import GENERATOR_PRESETS, resolve


class ClassBranch:
    """A class pack's small per-class branch (:attr:`Generator.class_branches`): the residual
    ``conv1x1(relu(conv3x3(h)))`` (``C -> rank -> C`` channels) of the features ``h (N, C, h, w)`` after blend
    layer ``layer``.

    Attributes:
        layer: the blend layer (1 .. ``n_blocks``).
        w1 ``(rank, C, 3, 3)``, b1 ``(rank,)``, w2 ``(C, rank, 1, 1)``, b2 ``(C,)``: float32 arrays (or Variables
            while training).
    """

    def __init__(self, layer, w1, b1, w2, b2):
        self.layer, self.w1, self.b1, self.w2, self.b2 = int(layer), w1, b1, w2, b2

    def __call__(self, h):
        t = F.relu(F.convolution_2d(h, self.w1, self.b1, pad=1))
        return F.convolution_2d(t, self.w2, self.b2)

    def to_device(self, device):
        """This branch with its arrays on ``device`` (a :class:`chainer.backend.Device`)."""
        return ClassBranch(self.layer, *(device.send(a) for a in (self.w1, self.b1, self.w2, self.b2)))


class Generator(ClassConditionalGenerator, chainer.Chain):
    """SNGAN-projection style generator (``l1``, ``block2..``, tail BN + conv + tanh).

    Args:
        channels: channel multipliers of ``ch``: ``channels[0]`` after ``l1``, ``channels[b]`` after block
            ``b + 1`` (so ``len(channels) - 1`` upsampling blocks).
        ch: base width. dim_z: latent size. n_classes: number of classes K. bottom_width: ``l1``'s grid.
        arch: the preset name this was built from (metadata only).

    Layer indexing (shared by every API of the package):

    * **class layers** ``0 .. 2 * n_blocks - 1``: ``2 (b - 2)`` is ``block{b}/b1`` at the block's input
      resolution, ``2 (b - 2) + 1`` is ``block{b}/b2`` at its output resolution
      (:attr:`class_map_resolutions`);
    * **blend layers** ``0 .. n_blocks``: after ``l1`` and after each block (:attr:`blend_resolutions`).

    Images come out as ``(N, 3, R, R)`` float32 in ``[-1, 1]``.

    :attr:`feature_offset` is per-photo state that only a fitted copy carries
    (:func:`neuralcollage.reconstruction.fit_generator`): None, or ``(layer, offset)`` with ``offset`` a
    ``(1, C, h, w)`` (or ``(N, C, h, w)``) array or Variable added to the features after blend layer ``layer``
    (in :meth:`blend`, to the target stream after that layer's mix).  It is not a parameter and never saved.

    :attr:`class_branches` holds the per-class branches of class packs (:mod:`neuralcollage.classes`):
    ``{class_id: ClassBranch}``; a branch adds a small residual to the features after its blend layer, weighted
    per pixel by that class's share of the class condition there (class layer ``2 (layer - 1) + 1``), so it acts
    only where the condition asks for its class and leaves every other output bit-identical.  Not saved with
    the model (the pack holds it).
    """

    feature_offset = None
    class_branches = None

    def __init__(self, *, channels, ch, dim_z, n_classes, bottom_width=4, arch=None):
        super().__init__()
        self.channels = tuple(int(c) for c in channels)
        self.ch, self.dim_z, self.n_classes, self.bottom_width = ch, dim_z, n_classes, bottom_width
        self.arch = arch
        self.n_blocks = len(self.channels) - 1
        widths = [c * ch for c in self.channels]
        tail = self.n_blocks + 2
        self.tail_bn_name, self.tail_conv_name = f"b{tail}", f"l{tail}"
        with self.init_scope():
            self.l1 = L.Linear(dim_z, widths[0] * bottom_width ** 2, initialW=initializers.GlorotUniform())
            for b in range(self.n_blocks):
                setattr(self, f"block{b + 2}", GeneratorBlock(widths[b], widths[b + 1], n_classes))
            setattr(self, self.tail_bn_name, L.BatchNormalization(widths[-1], eps=EPS))
            setattr(self, self.tail_conv_name,
                    Convolution2D(widths[-1], 3, 3, pad=1, initialW=initializers.GlorotUniform()))

    @classmethod
    def from_preset(cls, arch, **overrides):
        """Build preset ``arch`` (see :data:`GENERATOR_PRESETS`) with keyword overrides."""
        return cls(arch=arch, **resolve(GENERATOR_PRESETS, arch, overrides, kind="generator"))

    @property
    def config(self):
        """Constructor kwargs (JSON-serialisable); ``Generator(**config)`` rebuilds the architecture."""
        return dict(channels=list(self.channels), ch=self.ch, dim_z=self.dim_z, n_classes=self.n_classes,
                    bottom_width=self.bottom_width, arch=self.arch)

    def __repr__(self):
        return (f"Generator(arch={self.arch!r}, resolution={self.resolution}, ch={self.ch}, "
                f"dim_z={self.dim_z}, n_classes={self.n_classes})")

    @property
    def resolution(self):
        return self.bottom_width * 2 ** self.n_blocks

    @property
    def blocks(self):
        return [getattr(self, f"block{b + 2}") for b in range(self.n_blocks)]

    @property
    def class_map_resolutions(self):
        """Resolution of each class layer's map, e.g. ``[4, 8, 8, 16, ...]``."""
        res = []
        for b in range(self.n_blocks):
            res += [self.bottom_width * 2 ** b, self.bottom_width * 2 ** (b + 1)]
        return res

    @property
    def blend_resolutions(self):
        """Resolution of each blend layer's map, e.g. ``[4, 8, 16, ...]``."""
        return [self.bottom_width * 2 ** i for i in range(self.n_blocks + 1)]

    @property
    def n_class_layers(self):
        return 2 * self.n_blocks

    @property
    def n_blend_layers(self):
        return self.n_blocks + 1

    def sample_z(self, n, *, seed=None):
        """``(n, dim_z)`` float32 standard-normal latents from ``seed`` (int or RandomState), on this device."""
        from neuralcollage.backend import random_state
        z = random_state(seed).standard_normal((n, self.dim_z)).astype(numpy.float32)
        return self.device.send(z)

    # ------------------------------------------------------------------ forward passes
    def forward(self, z, y):
        """Generate ``(N, 3, R, R)`` images in ``[-1, 1]`` from ``z (N, dim_z)`` and class condition ``y``
        (see :meth:`class_conditions`)."""
        z = self._latent(z)
        conds = self.class_conditions(y, z.shape[0])
        return self._forward_from(self._features(z, conds, self.n_blocks), conds, self.n_blocks)

    def features(self, z, y, layer):
        """The features after blend layer ``layer`` (its offset included): ``(N, C, h, w)`` Variable;
        :meth:`forward_from` goes on from them, so that ``forward_from(features(z, y, l), y, l)`` is
        ``forward(z, y)``."""
        z = self._latent(z)
        return self._features(z, self.class_conditions(y, z.shape[0]), layer)

    def forward_from(self, h, y, layer):
        """Images ``(N, 3, R, R)`` from the features ``h`` after blend layer ``layer`` (:meth:`features`),
        with the class condition ``y`` of the later class layers; blend layer ``layer``'s offset is not
        added again."""
        return self._forward_from(h, self.class_conditions(y, h.shape[0]), layer)

    def _features(self, z, conds, layer):
        h = self._offset(self._bottom(z), 0)
        for b, block in enumerate(self.blocks[:layer]):
            h = self._offset(self._branches(block(h, conds[2 * b], conds[2 * b + 1]), conds[2 * b + 1], b + 1),
                             b + 1)
        return h

    def _forward_from(self, h, conds, layer):
        for b in range(layer, self.n_blocks):
            h = self._offset(self._branches(self.blocks[b](h, conds[2 * b], conds[2 * b + 1]), conds[2 * b + 1],
                                            b + 1), b + 1)
        return self._tail(h)

    def _branches(self, h, cond, layer):
        """``h`` plus every class branch of blend layer ``layer``, weighted by its class's share of ``cond``
        (the class condition of class layer ``2 (layer - 1) + 1``: ids ``(N,)``, vectors ``(N, K)`` or maps
        ``(N, K, h, w)``); ``h`` itself where no branch's class has any weight."""
        if not self.class_branches:
            return h
        xp = self.xp
        for class_id, branch in sorted(self.class_branches.items()):
            if branch.layer != layer:
                continue
            if cond.ndim == 1:
                w = (cond == class_id).astype(numpy.float32)[:, None, None, None]
            elif cond.ndim == 2:
                w = cond[:, class_id][:, None, None, None]
            else:
                w = cond[:, class_id][:, None]
            if not bool(xp.any(w != 0)):
                continue
            h = h + F.broadcast_to(xp.asarray(w, numpy.float32), h.shape) * branch(h)
        return h

    def _offset(self, h, layer):
        if self.feature_offset is None or self.feature_offset[0] != layer:
            return h
        offset = self.feature_offset[1]
        if offset.shape[1:] != h.shape[1:] or offset.shape[0] not in (1, h.shape[0]):
            raise ValueError(f"feature offset of shape {tuple(offset.shape)} does not fit blend layer {layer}'s "
                             f"features {tuple(h.shape)}")
        if offset.shape[0] != h.shape[0]:
            offset = F.broadcast_to(offset, h.shape)
        return h + offset

    def blend(self, zs, y, blend_maps):
        """Feature blending of several latents.

        Args:
            zs: ``(S, N, dim_z)`` array or a list of ``S`` arrays ``(N, dim_z)``: the latent streams.
            y: class condition shared by all streams (see :meth:`class_conditions`).
            blend_maps: one map per blend layer, ``(N, S + 1, h, w)`` at that layer's resolution; channel
                ``i < S`` weights latent stream ``i`` and channel ``S`` the target stream itself. After ``l1``
                and after every block the target stream becomes ``sum_i M[:, i] * h_i``; the latent streams go
                on unchanged. At layer 0 the target is zero, so its weight there has no effect.

        Returns:
            ``(N, 3, R, R)`` Variable: the tail applied to the target stream.

        The S + 1 streams run as one batch. A latent stream is dropped as soon as no later blend layer
        gives it weight.
        """
        xp = self.xp
        zs, maps, last_use, active = self._blend_plan(zs, blend_maps)
        s, n = len(zs), zs[0].shape[0]
        conds = self.class_conditions(y, n)

        h = self._bottom(F.concat([zs[i] for i in active], axis=0))
        streams = dict(zip(active, F.split_axis(h, len(active), axis=0)))
        target = self._offset(self._mix(streams, None, maps[0], s), 0)
        for b, block in enumerate(self.blocks):
            layer = b + 1
            streams = {i: v for i, v in streams.items() if last_use[i] >= layer}
            # the target's own block output only matters where blend layer `layer` gives it weight
            keep_target = not streams or bool(xp.any(maps[layer][:, s] != 0))
            batch = [streams[i] for i in streams] + ([target] if keep_target else [])
            reps = len(batch)
            out = block(F.concat(batch, axis=0), self._tile(conds[2 * b], reps),
                        self._tile(conds[2 * b + 1], reps))
            out = self._branches(out, self._tile(conds[2 * b + 1], reps), layer)
            parts = F.split_axis(out, reps, axis=0) if reps > 1 else [out]
            streams = dict(zip(list(streams), parts[:len(streams)]))
            target = self._offset(self._mix(streams, parts[-1] if keep_target else None, maps[layer], s), layer)
        return self._tail(target)

    def _tile(self, c, reps):
        if reps == 1:
            return c
        return self.xp.concatenate([c] * reps, axis=0)

    def _bottom(self, z):
        h = F.linear(z, fastconv.param(self.l1.W), fastconv.param(self.l1.b))
        return F.reshape(h, (z.shape[0], -1, self.bottom_width, self.bottom_width))

    def _tail(self, h):
        bn = getattr(self, self.tail_bn_name)
        if chainer.config.train or not fastconv.enabled_for(h):
            h = F.relu(bn(h))
        else:
            h = fastconv.batch_norm_relu(h, fastconv.param(bn.gamma), fastconv.param(bn.beta), bn.avg_mean,
                                         bn.avg_var, eps=bn.eps)
        return F.tanh(getattr(self, self.tail_conv_name)(h))

    # ------------------------------------------------------------------ the original calling convention
    def __call__(self, *args, **kwargs):
        """``G(z=z, y=y)`` as in the original code (``batchsize`` and random ``z``/``y`` when missing), or
        ``G(z, y)`` positionally."""
        if args:
            return self.forward(*args, **kwargs)
        batchsize = kwargs.pop("batchsize", None)
        z, y = kwargs.pop("z", None), kwargs.pop("y", None)
        if kwargs:
            raise TypeError(f"unexpected arguments {sorted(kwargs)}")
        if z is None:
            z = self.sample_z(batchsize or (len(y) if y is not None else 64))
        if y is None:
            y = self.xp.random.randint(0, self.n_classes, size=len(z)).astype(numpy.int32)
        return self.forward(z, y)

    def spatial_interpolation(self, z=None, weights=None, zs=None, blends=None):
        """The original code's entry point, with its array layouts.

        Args:
            z: ``(N, dim_z)`` latents (sCBN only).
            weights: list of ``(N, H, W, K)`` class-weight maps, one per class layer in the order
                ``block2/b1, block2/b2, block3/b1, ...``.
            zs: list of ``S`` latent arrays ``(N, dim_z)`` for feature blending.
            blends: list of ``(N, H, W, S + 1)`` blend maps, one per blend layer, target stream last.

        Returns:
            ``(N, 3, R, R)`` Variable in ``[-1, 1]``.
        """
        xp = self.xp
        if weights is None:
            raise ValueError("spatial_interpolation needs weights (one (N, H, W, K) map per class layer)")
        conds = [self.device.send(w.array if isinstance(w, chainer.Variable) else w) for w in weights]
        conds = [xp.ascontiguousarray(c.transpose(0, 3, 1, 2)) if c.ndim == 4 else c for c in conds]
        if zs is None:
            if z is None:
                raise ValueError("spatial_interpolation needs z (or zs and blends)")
            return self.forward(z, conds)
        if blends is None:
            raise ValueError("feature blending needs blends (one (N, H, W, S + 1) map per blend layer)")
        bl = [self.device.send(b.array if isinstance(b, chainer.Variable) else b) for b in blends]
        bl = [xp.ascontiguousarray(b.transpose(0, 3, 1, 2)) for b in bl]
        return self.blend(zs, conds, bl)

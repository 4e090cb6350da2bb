"""BigGAN-deep generator (inference) with per-pixel class maps (sCBN) and feature blending.

The forward pass follows the reference implementation ``pytorch_pretrained_biggan/model.py``:

* class embedding ``e = E y`` (a linear map of a class vector, so soft vectors mix classes);
* condition ``c = [z, e]``; ``gen_z`` maps ``c`` to a ``16 ch x 4 x 4`` grid;
* blocks ``bn_0 relu conv_0(1x1) bn_1 relu [up] conv_1(3x3) bn_2 relu conv_2(3x3) bn_3 relu conv_3(1x1)``
  plus the shortcut (first half of the channels when they halve, then ``up``); ``up`` is nearest 2x;
* conditional BN ``(x - mean_t) / sqrt(var_t + eps) * (1 + W_s c) + W_o c`` with the batch-norm statistics
  stored for ``n_stats`` truncation values and interpolated by the truncation ``t`` exactly as the
  reference does (including its weighting: ``coef * stats[i] + (1 - coef) * stats[i + 1]`` with
  ``coef, i = modf(t / step)``);
* self-attention before block ``attention_position``; tail BN (unconditional, same statistics scheme), ReLU,
  ``conv_to_rgb`` (its first 3 output channels), tanh.

Spectral normalisation is already applied to the stored weights (``weight_orig / sigma``, see
:func:`neuralcollage.convert.convert_biggan`). The model is inference-only: parameters receive no gradients,
latents do (for projection).

Spatial conditions. Every layer that sees the class is a *class layer*: layer 0 is ``gen_z`` (4x4: pixel
``(h, w)`` of its output grid takes the condition of pixel ``(h, w)`` of the map), then ``bn_0 .. bn_3`` of
each block. A class map ``(N, K, H, W)`` gives every pixel its own class vector, hence its own embedding,
its own condition ``[z, E m(h, w)]`` (``z`` broadcast) and its own BN scale and offset. Since everything is
linear in the condition, this is computed as ``1 + W_s[:, :dz] z + (W_s[:, dz:] E_present) m_present``.

Feature blending runs the latent streams and the target stream as one batch. BigGAN's BN depends on ``z``,
so the target stream (a per-pixel mixture of features) uses the same per-pixel mixture of the streams'
latents in its condition: after blend layer ``l`` its latent weights become
``M_l[:, :S] + M_l[:, S] * previous`` (nearest-upsampled inside a block). Blend maps that put all weight on
stream ``i`` at every layer therefore reproduce ``G(z_i)``.
"""
from neuralcollage import _compat  # noqa: F401

import copy
import math

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
from chainer import function_node

from neuralcollage.links import fastconv
from neuralcollage.links.blocks import upsample_nearest
from neuralcollage.links.fastconv import Convolution2D, convolution_2d
from neuralcollage.models.conditioning import ClassConditionalGenerator

BOTTOM_WIDTH = 4
BOTTOM_MULTIPLIER = 16

_LAYERS_128 = [(False, 16, 16), (True, 16, 16), (False, 16, 16), (True, 16, 8), (False, 8, 8), (True, 8, 4),
               (False, 4, 4), (True, 4, 2), (False, 2, 2), (True, 2, 1)]
_LAYERS_256 = [(False, 16, 16), (True, 16, 16), (False, 16, 16), (True, 16, 8), (False, 8, 8), (True, 8, 8),
               (False, 8, 8), (True, 8, 4), (False, 4, 4), (True, 4, 2), (False, 2, 2), (True, 2, 1)]
_LAYERS_512 = _LAYERS_256 + [(False, 1, 1), (True, 1, 1)]

BIGGAN_PRESETS = {
    "biggan-deep-128": dict(layers=_LAYERS_128, ch=128, dim_z=128, n_classes=1000, attention_position=8),
    "biggan-deep-256": dict(layers=_LAYERS_256, ch=128, dim_z=128, n_classes=1000, attention_position=8),
    "biggan-deep-512": dict(layers=_LAYERS_512, ch=128, dim_z=128, n_classes=1000, attention_position=8),
    "tiny32": dict(layers=[(False, 16, 16), (True, 16, 8), (False, 8, 4), (True, 4, 2), (True, 2, 1)], ch=4,
                   dim_z=8, n_classes=5, attention_position=3),
}
_OVERRIDABLE = ("ch", "dim_z", "n_classes", "attention_position", "n_stats")


def validate_layers(layers, *, attention_position=None):
    """Check a BigGAN-deep block list and return it as a list of ``(bool, int, int)``.

    ``layers`` holds ``(upsample, in multiple, out multiple)`` per block. The first block takes the
    ``16 ch`` channels of ``gen_z``, each block takes the previous block's output, the last gives ``ch``, and
    a block keeps its channels or halves them (the shortcut keeps the first half).

    Raises:
        ValueError: with the offending block named.
    """
    try:
        out = [(bool(u), int(i), int(o)) for u, i, o in layers]
    except (TypeError, ValueError):
        raise ValueError(f"layers must be a list of (upsample, in, out) triples, got {layers!r}") from None
    if not out:
        raise ValueError("layers is empty")
    prev = BOTTOM_MULTIPLIER
    for b, (_, i, o) in enumerate(out):
        if i != prev:
            raise ValueError(f"block {b} takes {i} x ch channels but receives {prev} x ch")
        if o != i and 2 * o != i:
            raise ValueError(f"block {b} goes from {i} to {o} x ch; BigGAN-deep blocks keep or halve channels")
        prev = o
    if prev != 1:
        raise ValueError(f"the last block gives {prev} x ch channels; the tail takes 1 x ch")
    if attention_position is not None and not 0 <= attention_position < len(out):
        raise ValueError(f"attention_position {attention_position} is not a block index 0..{len(out) - 1}")
    return out


def truncation_weights(truncation, n_stats):
    """``(coef, index)``: the statistics used at ``truncation`` are ``coef * s[index] + (1 - coef) *
    s[index + 1]`` (``s[index]`` alone when ``coef == 0``), computed as the reference does.

    Raises:
        ValueError: ``truncation`` not in ``(0, 1]``.
    """
    t = float(truncation)
    if not 0.0 < t <= 1.0:
        raise ValueError(f"truncation must be in (0, 1], got {truncation}")
    coef, index = math.modf(t / (1.0 / (n_stats - 1)))
    if index >= n_stats - 1:
        return 0.0, n_stats - 1
    return coef, int(index)


def _interpolate(stats, coef, index):
    if coef != 0.0:
        return stats[index] * stats.dtype.type(coef) + stats[index + 1] * stats.dtype.type(1 - coef)
    return stats[index]


def _arr(x):
    return x.array if isinstance(x, chainer.Variable) else x


def _upsample_array(m, size):
    h = m.shape[2]
    if h == size:
        return m
    f = size // h
    return m.repeat(f, axis=2).repeat(f, axis=3)


def _linear(z, w):
    """``z w^T`` for ``z (B, dz)`` and a column block ``w (C, dz)`` of a weight (``F.linear``, by NumPy's
    ``dot``, is about 30x slower on such a non-contiguous ``w``)."""
    return F.matmul(z, w, transb=True)


class _Latents:
    """Per-sample latents ``(B, dz)`` of a batch (array or Variable)."""

    def __init__(self, z):
        self.z = z

    def project(self, w, shape):
        return _linear(self.z, w)


class _BlendLatents:
    """Latents of a blending batch: the remaining latent streams, then the target stream, whose latent is a
    (per-pixel) mixture ``weights (n, S, h, w)`` of all ``S`` stream latents ``zs``."""

    def __init__(self, stream_zs, zs, weights, xp):
        self.stream_z = F.concat(stream_zs, axis=0) if stream_zs else None
        self.all_z = F.concat(zs, axis=0)
        self.s, self.n = len(zs), zs[0].shape[0]
        self.weights = weights
        self.uniform = bool(xp.all(weights == weights[:, :, :1, :1]))

    def project(self, w, shape):
        c = w.shape[0]
        per = F.reshape(_linear(self.all_z, w), (self.s, self.n, c))
        if self.uniform:
            wt = self.weights[:, :, 0, 0]
            target = None
            for i in range(self.s):
                if not bool((wt[:, i] != 0).any()):
                    continue
                term = F.broadcast_to(wt[:, i:i + 1], (self.n, c)) * per[i]
                target = term if target is None else target + term
            if target is None:
                target = chainer.Variable(per.xp.zeros((self.n, c), dtype=numpy.float32))
        else:
            h, w_ = shape[2:]
            m = _upsample_array(self.weights, h).reshape(self.n, self.s, h * w_)
            target = F.reshape(F.matmul(F.transpose(per, (1, 2, 0)), m), (self.n, c, h, w_))
        if self.stream_z is None:
            return target
        streams = _linear(self.stream_z, w)
        if target.ndim == 4:
            streams = F.broadcast_to(streams[:, :, None, None], (streams.shape[0], c) + tuple(shape[2:]))
        return F.concat([streams, target], axis=0)


class _ClassVectors:
    """Per-sample class embeddings ``(n, dz)``, tiled ``reps`` times along the batch."""

    def __init__(self, embed, reps=1):
        self.embed, self.reps = embed, reps

    def tiled(self, reps):
        return _ClassVectors(self.embed, reps)

    def rows(self, w):
        """``(reps n, C)``: ``w e`` per sample, ``w (C, dz)``."""
        xp = chainer.backend.get_array_module(self.embed)
        out = xp.matmul(self.embed, w.T)
        return xp.concatenate([out] * self.reps) if self.reps > 1 else out

    def project(self, ws, wo, shape):
        return self.rows(ws), self.rows(wo)


class _ClassMap:
    """A per-pixel class map restricted to its present classes: ``maps (n, P, H, W)``, embeddings
    ``emb (dz, P)``."""

    def __init__(self, maps, emb, reps=1):
        self.maps, self.emb, self.reps = maps, emb, reps

    def tiled(self, reps):
        return _ClassMap(self.maps, self.emb, reps)

    def pixel_rows(self, w):
        """``(n, C, H, W)``: ``(w E_present) m`` at every pixel, ``w (C, dz)``."""
        xp = chainer.backend.get_array_module(self.maps)
        n, p, h, w_ = self.maps.shape
        rows = xp.matmul(w, self.emb)
        return xp.matmul(rows, self.maps.reshape(n, p, h * w_)).reshape(n, w.shape[0], h, w_)

    def check(self, shape):
        if tuple(self.maps.shape[2:]) != tuple(shape[2:]):
            raise ValueError(f"class map is {self.maps.shape[2]}x{self.maps.shape[3]} but this layer runs at "
                             f"{shape[2]}x{shape[3]}")

    def class_rows(self, w):
        """``(C, P)``: ``w E_present``, ``w (C, dz)``."""
        return chainer.backend.get_array_module(self.maps).matmul(w, self.emb)

    def project(self, ws, wo, shape):
        xp = chainer.backend.get_array_module(self.maps)
        self.check(shape)
        c = ws.shape[0]
        both = self.pixel_rows(xp.concatenate([ws, wo], axis=0))
        cs, co = both[:, :c], both[:, c:]
        if self.reps > 1:
            cs, co = xp.concatenate([cs] * self.reps), xp.concatenate([co] * self.reps)
        return cs, co


#: Elements (channels x pixels) of one piece of :class:`_PixelConditionalBN`'s work (its buffers stay in cache).
PIXEL_CBN_CHUNK = 1 << 15


class _PixelConditionalBN(function_node.FunctionNode):
    """Test-mode BigGAN CBN with a per-pixel class map on NumPy arrays: ``y = x a + b`` with
    ``a = inv (1 + zs) + (inv R_s) m`` and ``b = zo - mean inv (1 + zs) + (R_o - mean inv R_s) m``, where
    ``inv = 1 / sqrt(var + eps)``, ``R_s = W_s[:, dz:] E_present``, ``R_o`` alike, ``m`` the map's present
    classes at the pixel. Scale and offset are mixed from the ``P`` present classes' rows by one small
    matrix product per piece of channels, fused with the normalisation, in cache, on the fast-path threads.

    ``x (B, C, H, W)``; ``zs``, ``zo`` ``(B, C)`` (the latent terms ``W_s[:, :dz] z``, ``W_o[:, :dz] z``);
    ``mean``, ``inv`` ``(C,)``; ``rows_s``, ``rows_o`` ``(C, P)``; ``maps (n, P, H, W)``, sample ``i`` of the
    batch taking ``maps[i % n]``. Gradients reach ``x``, ``zs`` and ``zo``.
    """

    def __init__(self, mean, inv, rows_s, rows_o, maps):
        self.mean, self.inv = mean, inv
        self.ca = inv[:, None] * rows_s
        self.cb = rows_o - mean[:, None] * self.ca
        n, p, h, w = maps.shape
        self.m1 = numpy.concatenate([numpy.ones((n, 1, h * w), dtype=maps.dtype), maps.reshape(n, p, h * w)],
                                    axis=1)

    def _coefficients(self, zs, zo=None):
        """``(B, C, 1 + P)`` matrices that map ``[1, m]`` to ``a`` (and to ``b`` when ``zo`` is given)."""
        b, c = zs.shape
        a0 = self.inv * (zs.dtype.type(1) + zs)
        ca = numpy.concatenate([a0[:, :, None], numpy.broadcast_to(self.ca, (b,) + self.ca.shape)], axis=2)
        if zo is None:
            return ca
        b0 = zo - self.mean * a0
        return ca, numpy.concatenate([b0[:, :, None], numpy.broadcast_to(self.cb, (b,) + self.cb.shape)], axis=2)

    def forward(self, inputs):
        self.retain_inputs((0, 1))
        x, zs, zo = inputs
        b, c, h, w = x.shape
        hw = h * w
        ca, cb = self._coefficients(zs, zo)
        y = numpy.empty_like(x)
        xf, yf = x.reshape(b, c, hw), y.reshape(b, c, hw)
        n = self.m1.shape[0]
        rows = max(1, PIXEL_CBN_CHUNK // hw)
        items = [(i, slice(s, min(c, s + rows))) for i in range(b) for s in range(0, c, rows)]

        def fill(item, buf):
            i, cs = item
            m = self.m1[i % n]
            t = buf[:(cs.stop - cs.start) * hw].reshape(-1, hw)
            numpy.matmul(ca[i, cs], m, out=t)
            out = numpy.multiply(xf[i, cs], t, out=yf[i, cs])
            numpy.matmul(cb[i, cs], m, out=t)
            out += t

        def scratch():
            return numpy.empty(rows * hw, dtype=x.dtype)

        if x.size < fastconv.PARALLEL_MIN_SIZE or len(items) < 2:
            with fastconv.single_threaded_blas():
                buf = scratch()
                for item in items:
                    fill(item, buf)
        else:
            fastconv.parallel_for(fill, items, scratch)
        return y,

    def backward(self, indexes, grad_outputs):
        x, zs = (v.array for v in self.get_retained_inputs())
        gy = grad_outputs[0].array
        b, c = gy.shape[:2]
        gyf, xf = gy.reshape(b, c, -1), x.reshape(b, c, -1)
        gx = gzs = gzo = None
        if 0 in indexes:
            m = self.m1[numpy.arange(b) % self.m1.shape[0]]
            gx = (gyf * numpy.matmul(self._coefficients(zs), m)).reshape(x.shape)
        sum_gy = gyf.sum(axis=2)
        if 1 in indexes:
            gzs = self.inv * ((gyf * xf).sum(axis=2) - self.mean * sum_gy)
        if 2 in indexes:
            gzo = sum_gy
        return tuple(None if g is None else chainer.Variable(g) for g in (gx, gzs, gzo))


class _TruncationStatistics(chainer.Chain):
    """BN statistics stored per truncation value: ``running_means``, ``running_vars`` ``(n_stats, C)``."""

    def __init__(self, size, *, n_stats=51, eps=1e-4):
        super().__init__()
        self.size, self.n_stats, self.eps = size, n_stats, eps
        self.running_means = numpy.zeros((n_stats, size), dtype=numpy.float32)
        self.running_vars = numpy.ones((n_stats, size), dtype=numpy.float32)
        self.register_persistent("running_means")
        self.register_persistent("running_vars")

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size}, n_stats={self.n_stats})"

    def statistics(self, weights):
        """``(mean, var)`` at the truncation given by ``weights`` (:func:`truncation_weights`)."""
        return _interpolate(self.running_means, *weights), _interpolate(self.running_vars, *weights)


class TruncationBatchNormalization(_TruncationStatistics):
    """BigGAN's unconditional tail BN: ``gamma, beta (C,)`` and per-truncation statistics."""

    def __init__(self, size, *, n_stats=51, eps=1e-4):
        super().__init__(size, n_stats=n_stats, eps=eps)
        with self.init_scope():
            self.gamma = chainer.Parameter(numpy.ones(size, dtype=numpy.float32))
            self.beta = chainer.Parameter(numpy.zeros(size, dtype=numpy.float32))

    def forward(self, x, weights):
        mean, var = self.statistics(weights)
        a = self.gamma.array / self.xp.sqrt(var + self.xp.float32(self.eps))
        b = self.beta.array - mean * a
        return x * F.broadcast_to(a[None, :, None, None], x.shape) + F.broadcast_to(b[None, :, None, None],
                                                                                      x.shape)


class BigGANConditionalBatchNormalization(_TruncationStatistics):
    """Conditional BN of BigGAN-deep: ``scale = 1 + W_s c``, ``offset = W_o c`` with ``c = [z, e]``.

    ``scale/W`` and ``offset/W`` are ``(C, 2 dz)`` (first ``dz`` columns act on ``z``); per-truncation
    statistics as in :class:`TruncationBatchNormalization`.
    """

    def __init__(self, size, cond_size, *, n_stats=51, eps=1e-4):
        super().__init__(size, n_stats=n_stats, eps=eps)
        with self.init_scope():
            self.scale = L.Linear(cond_size, size, nobias=True)
            self.offset = L.Linear(cond_size, size, nobias=True)

    def forward(self, x, latents, classes, weights):
        if not fastconv.enabled_for(x):
            return self._forward(x, latents, classes, weights)
        with fastconv.single_threaded_blas():
            return self._forward(x, latents, classes, weights)

    def _forward(self, x, latents, classes, weights):
        """The small products with the condition run on one BLAS thread (several threads cost far more than
        they save on them, most of all on a loaded machine); the per-pixel path splits its own work."""
        xp = self.xp
        mean, var = self.statistics(weights)
        inv = 1 / xp.sqrt(var + xp.float32(self.eps))
        ws, wo = self.scale.W.array, self.offset.W.array
        dz = ws.shape[1] // 2
        zs, zo = latents.project(ws[:, :dz], x.shape), latents.project(wo[:, :dz], x.shape)
        if isinstance(classes, _ClassMap) and zs.ndim == 2 and fastconv.enabled_for(x):
            classes.check(x.shape)
            rows_s, rows_o = classes.class_rows(ws[:, dz:]), classes.class_rows(wo[:, dz:])
            return _PixelConditionalBN(mean, inv, rows_s, rows_o, classes.maps).apply((x, zs, zo))[0]
        cs, co = classes.project(ws[:, dz:], wo[:, dz:], x.shape)
        if zs.ndim == 2 and cs.ndim == 2:
            a = (zs + (cs + 1)) * F.broadcast_to(inv[None], zs.shape)
            b = zo + co - a * F.broadcast_to(mean[None], zs.shape)
            return x * F.broadcast_to(a[:, :, None, None], x.shape) + F.broadcast_to(b[:, :, None, None],
                                                                                     x.shape)
        shape = x.shape
        if zs.ndim == 2:
            zs = F.broadcast_to(zs[:, :, None, None], shape)
            zo = F.broadcast_to(zo[:, :, None, None], shape)
        if cs.ndim == 2:
            cs, co = cs[:, :, None, None], co[:, :, None, None]
        scale = zs + xp.broadcast_to(cs + 1, shape)
        offset = zo + xp.broadcast_to(co, shape)
        xhat = x * xp.broadcast_to(inv[None, :, None, None], shape) + xp.broadcast_to(
            (-mean * inv)[None, :, None, None], shape)
        return xhat * scale + offset


class DeepBlock(chainer.Chain):
    """BigGAN-deep residual block (bottleneck ``in / 4``; see the module docstring)."""

    def __init__(self, in_channels, out_channels, cond_size, *, upsample, n_stats=51, eps=1e-4):
        super().__init__()
        self.in_channels, self.out_channels, self.upsample = in_channels, out_channels, upsample
        middle = in_channels // 4
        kw = dict(n_stats=n_stats, eps=eps)
        with self.init_scope():
            self.bn_0 = BigGANConditionalBatchNormalization(in_channels, cond_size, **kw)
            self.conv_0 = Convolution2D(in_channels, middle, 1)
            self.bn_1 = BigGANConditionalBatchNormalization(middle, cond_size, **kw)
            self.conv_1 = Convolution2D(middle, middle, 3, pad=1)
            self.bn_2 = BigGANConditionalBatchNormalization(middle, cond_size, **kw)
            self.conv_2 = Convolution2D(middle, middle, 3, pad=1)
            self.bn_3 = BigGANConditionalBatchNormalization(middle, cond_size, **kw)
            self.conv_3 = Convolution2D(middle, out_channels, 1)

    def __repr__(self):
        return (f"{type(self).__name__}({self.in_channels} -> {self.in_channels // 4} -> {self.out_channels}"
                f"{', up x2' if self.upsample else ''})")

    @staticmethod
    def _conv(link, x):
        return convolution_2d(x, link.W.array, link.b.array, pad=link.pad[0])

    def forward(self, x, latents, classes, weights):
        """``classes``: the four class specs of ``bn_0 .. bn_3``."""
        h = self._conv(self.conv_0, F.relu(self.bn_0(x, latents, classes[0], weights)))
        h = F.relu(self.bn_1(h, latents, classes[1], weights))
        if self.upsample:
            h = upsample_nearest(h)
        h = self._conv(self.conv_1, h)
        h = self._conv(self.conv_2, F.relu(self.bn_2(h, latents, classes[2], weights)))
        h = self._conv(self.conv_3, F.relu(self.bn_3(h, latents, classes[3], weights)))
        x0 = x[:, :self.out_channels] if self.out_channels != self.in_channels else x
        if self.upsample:
            x0 = upsample_nearest(x0)
        return h + x0


class SelfAttention(chainer.Chain):
    """SAGAN attention: ``x + gamma * o_conv(g_pooled attn)`` with ``theta``/``phi`` at ``C / 8`` and ``g``
    at ``C / 2`` channels (1x1 convolutions without bias), ``phi``/``g`` max-pooled 2x2."""

    def __init__(self, channels):
        super().__init__()
        self.channels = channels
        with self.init_scope():
            self.theta = Convolution2D(channels, channels // 8, 1, nobias=True)
            self.phi = Convolution2D(channels, channels // 8, 1, nobias=True)
            self.g = Convolution2D(channels, channels // 2, 1, nobias=True)
            self.o_conv = Convolution2D(channels // 2, channels, 1, nobias=True)
            self.gamma = chainer.Parameter(numpy.zeros((1,), dtype=numpy.float32))

    def __repr__(self):
        return f"{type(self).__name__}({self.channels})"

    def forward(self, x):
        n, c, h, w = x.shape
        theta = F.reshape(convolution_2d(x, self.theta.W.array), (n, c // 8, h * w))
        phi = F.max_pooling_2d(convolution_2d(x, self.phi.W.array), 2, stride=2, cover_all=False)
        phi = F.reshape(phi, (n, c // 8, h * w // 4))
        attn = F.softmax(F.matmul(theta, phi, transa=True), axis=2)
        g = F.max_pooling_2d(convolution_2d(x, self.g.W.array), 2, stride=2, cover_all=False)
        g = F.reshape(g, (n, c // 2, h * w // 4))
        attn_g = F.reshape(F.matmul(g, attn, transb=True), (n, c // 2, h, w))
        o = convolution_2d(attn_g, self.o_conv.W.array)
        return x + F.broadcast_to(self.gamma.array[None, :, None, None], o.shape) * o


class BigGANDeep(ClassConditionalGenerator, chainer.Chain):
    """BigGAN-deep generator (converted ``pytorch-pretrained-biggan`` checkpoints; see the module docstring).

    Args:
        layers: blocks as ``(upsample, in multiple, out multiple)`` of ``ch`` (see :func:`validate_layers`).
        ch: channel width. dim_z: latent size (also the class-embedding size). n_classes: K.
        attention_position: self-attention before this block (None: no attention).
        eps: BN epsilon. n_stats: number of stored per-truncation BN statistics.
        truncation: default truncation of calls that do not give one (attribute, may be changed).
        arch: preset name (metadata only).

    Layers (shared with :class:`neuralcollage.models.Generator`'s APIs):

    * **class layers** ``0 .. 4 n_blocks``: ``0`` is ``gen_z`` (4x4), ``1 + 4 b + k`` is ``block{b}/bn_k``
      (``bn_0``, ``bn_1`` at the block's input resolution, ``bn_2``, ``bn_3`` at its output resolution);
      :attr:`class_map_resolutions`, :attr:`class_layer_names`;
    * **blend layers** ``0 .. n_blocks``: after ``gen_z`` and after each block (:attr:`blend_resolutions`).

    Images come out as ``(N, 3, R, R)`` float32 in ``[-1, 1]``. The BN always uses the stored statistics
    (``chainer.config.train`` has no effect).
    """

    def __init__(self, *, layers, ch, dim_z, n_classes, attention_position=None, eps=1e-4, n_stats=51,
                 truncation=1.0, arch=None):
        super().__init__()
        self.layers = validate_layers(layers, attention_position=attention_position)
        self.ch, self.dim_z, self.n_classes = int(ch), int(dim_z), int(n_classes)
        self.attention_position = None if attention_position is None else int(attention_position)
        self.eps, self.n_stats, self.arch = float(eps), int(n_stats), arch
        if self.n_stats < 2:
            raise ValueError(f"n_stats must be at least 2, got {n_stats}")
        truncation_weights(truncation, self.n_stats)
        self.truncation = float(truncation)
        self.n_blocks = len(self.layers)
        cond = 2 * self.dim_z
        kw = dict(n_stats=self.n_stats, eps=self.eps)
        with self.init_scope():
            self.embeddings = L.Linear(self.n_classes, self.dim_z, nobias=True)
            self.gen_z = L.Linear(cond, BOTTOM_MULTIPLIER * self.ch * BOTTOM_WIDTH ** 2)
            for b, (up, i, o) in enumerate(self.layers):
                setattr(self, f"block{b}", DeepBlock(i * self.ch, o * self.ch, cond, upsample=up, **kw))
            if self.attention_position is not None:
                self.attention = SelfAttention(self.layers[self.attention_position][1] * self.ch)
            self.bn = TruncationBatchNormalization(self.ch, **kw)
            self.conv_to_rgb = Convolution2D(self.ch, 3, 3, pad=1)

    @classmethod
    def from_preset(cls, arch, **overrides):
        """Build preset ``arch`` (:data:`BIGGAN_PRESETS`; random weights) with overrides from ``ch``,
        ``dim_z``, ``n_classes``, ``attention_position``, ``n_stats``."""
        if arch not in BIGGAN_PRESETS:
            raise ValueError(f"unknown BigGAN-deep architecture {arch!r}; choose one of: "
                             f"{', '.join(BIGGAN_PRESETS)}")
        kwargs = copy.deepcopy(BIGGAN_PRESETS[arch])
        for key, value in overrides.items():
            if key not in _OVERRIDABLE:
                raise ValueError(f"BigGAN-deep preset {arch!r} takes overrides {list(_OVERRIDABLE)}, not {key!r}")
            kwargs[key] = value
        return cls(arch=arch, **kwargs)

    @property
    def config(self):
        """Constructor kwargs (JSON-serialisable); ``BigGANDeep(**config)`` rebuilds the architecture."""
        return dict(layers=[list(layer) for layer in self.layers], ch=self.ch, dim_z=self.dim_z,
                    n_classes=self.n_classes, attention_position=self.attention_position, eps=self.eps,
                    n_stats=self.n_stats, truncation=self.truncation, arch=self.arch)

    def __repr__(self):
        return (f"BigGANDeep(arch={self.arch!r}, resolution={self.resolution}, ch={self.ch}, "
                f"dim_z={self.dim_z}, n_classes={self.n_classes}, blocks={self.n_blocks}, "
                f"attention={self.attention_position}, truncation={self.truncation})")

    # ------------------------------------------------------------------ geometry
    @property
    def resolution(self):
        return BOTTOM_WIDTH * 2 ** sum(up for up, _, _ in self.layers)

    @property
    def blocks(self):
        return [getattr(self, f"block{b}") for b in range(self.n_blocks)]

    @property
    def blend_resolutions(self):
        """Resolution after ``gen_z`` and after each block, e.g. ``[4, 4, 8, 8, 16, ...]``."""
        res = [BOTTOM_WIDTH]
        for up, _, _ in self.layers:
            res.append(res[-1] * (2 if up else 1))
        return res

    @property
    def class_map_resolutions(self):
        """Resolution of each class layer's map: ``gen_z``, then ``bn_0 .. bn_3`` of every block."""
        res = [BOTTOM_WIDTH]
        for (up, _, _), r in zip(self.layers, self.blend_resolutions):
            r2 = r * (2 if up else 1)
            res += [r, r, r2, r2]
        return res

    @property
    def class_layer_names(self):
        """``["gen_z", "block0/bn_0", ...]``: the link each class layer conditions."""
        return ["gen_z"] + [f"block{b}/bn_{k}" for b in range(self.n_blocks) for k in range(4)]

    @property
    def n_class_layers(self):
        return 1 + 4 * self.n_blocks

    @property
    def n_blend_layers(self):
        return self.n_blocks + 1

    def sample_z(self, n, *, seed=None, truncation=None):
        """``(n, dim_z)`` float32 latents: standard normal truncated to ``[-2, 2]`` (redrawn until inside),
        times ``truncation`` (default :attr:`truncation`), from ``seed`` (int or RandomState), on this
        device. (The reference's ``truncated_noise_sample`` draws the same distribution with SciPy.)"""
        from neuralcollage.backend import random_state
        t = self.truncation if truncation is None else float(truncation)
        truncation_weights(t, self.n_stats)
        rs = random_state(seed)
        z = rs.standard_normal((n, self.dim_z))
        bad = numpy.abs(z) > 2
        while bad.any():
            z[bad] = rs.standard_normal(int(bad.sum()))
            bad = numpy.abs(z) > 2
        return self.device.send((z * t).astype(numpy.float32))

    # ------------------------------------------------------------------ conditions
    def class_embedding(self, y):
        """``(N, dim_z)`` embedding ``E y`` of class ids ``(N,)`` or class vectors ``(N, K)`` (array)."""
        y = self._condition(y, len(y), None)
        return self._class_spec(y).embed

    def _class_spec(self, c):
        xp = self.xp
        table = self.embeddings.W.array
        if c.ndim == 4:
            n, k = c.shape[:2]
            present = xp.nonzero(c.reshape(n, k, -1).any(axis=2).any(axis=0))[0]
            sub = xp.ascontiguousarray(c[:, present])
            if not bool(xp.all(sub == sub[:, :, :1, :1])):
                return _ClassMap(sub, table[:, present])
            c = xp.zeros((n, k), dtype=numpy.float32)
            c[:, present] = sub[:, :, 0, 0]
        if c.ndim == 2 and bool(xp.all((c == 0) | (c == 1))) and bool(xp.all(c.sum(axis=1) == 1)):
            c = c.argmax(axis=1).astype(numpy.int32)
        if c.ndim == 1:
            return _ClassVectors(table.T[c])
        return _ClassVectors(xp.matmul(c, table.T))

    def _class_specs(self, y, n):
        """One class spec per class layer. A single map is cut to its present classes before it is
        area-resized (once per resolution), which gives the same values as resizing all ``K`` channels."""
        xp = self.xp
        if isinstance(y, (list, tuple)) or not hasattr(y, "ndim") or _arr(y).ndim != 4:
            memo, specs = {}, []
            for c in self.class_conditions(y, n):
                if id(c) not in memo:
                    memo[id(c)] = self._class_spec(c)
                specs.append(memo[id(c)])
            return specs
        full = self._condition(y, n, _arr(y).shape[2])
        present = xp.nonzero(full.reshape(n, self.n_classes, -1).any(axis=2).any(axis=0))[0]
        sub = xp.ascontiguousarray(full[:, present])
        by_res = {}
        for res in self.class_map_resolutions:
            if res in by_res:
                continue
            if sub.shape[2:] != (res, res):
                from neuralcollage.maps import resize_map
                m = self.device.send(resize_map(chainer.backend.CpuDevice().send(sub), (res, res)))
            else:
                m = sub
            if bool(xp.all(m == m[:, :, :1, :1])):
                vec = xp.zeros((n, self.n_classes), dtype=numpy.float32)
                vec[:, present] = m[:, :, 0, 0]
                by_res[res] = self._class_spec(vec)
            else:
                by_res[res] = _ClassMap(m, self.embeddings.W.array[:, present])
        return [by_res[res] for res in self.class_map_resolutions]

    def _weights(self, truncation):
        return truncation_weights(self.truncation if truncation is None else truncation, self.n_stats)

    # ------------------------------------------------------------------ forward passes
    def forward(self, z, y, *, truncation=None):
        """Generate ``(N, 3, R, R)`` images in ``[-1, 1]``.

        Args:
            z: ``(N, dim_z)`` latents (array, or a Variable that requires grad for projection).
            y: class ids ``(N,)`` or an int, class vectors ``(N, K)``, one class map ``(N, K, H, W)``
                (area-resized to every class layer) or a list with one entry per class layer.
            truncation: in ``(0, 1]``, selects the BN statistics (default :attr:`truncation`). It does not
                truncate ``z`` (see :meth:`sample_z`).
        """
        weights = self._weights(truncation)
        z = self._latent(z)
        specs = self._class_specs(y, z.shape[0])
        latents = _Latents(z)
        h = self._bottom(latents, specs[0])
        for b, block in enumerate(self.blocks):
            if b == self.attention_position:
                h = self.attention(h)
            h = block(h, latents, specs[1 + 4 * b:5 + 4 * b], weights)
        return self._tail(h, weights)

    def blend(self, zs, y, blend_maps, *, truncation=None):
        """Feature blending of several latents; same arguments and semantics as
        :meth:`neuralcollage.models.Generator.blend` (``blend_maps``: one ``(N, S + 1, h, w)`` map per blend
        layer, target stream last), plus ``truncation``. The target stream's BN condition uses the
        per-pixel mixture of the stream latents given by the blend maps (module docstring).
        """
        xp = self.xp
        weights = self._weights(truncation)
        zs, maps, last_use, active = self._blend_plan(zs, blend_maps)
        s, n = len(zs), zs[0].shape[0]
        specs = self._class_specs(y, n)

        if not active:
            return self._tail(self._run_target_only(maps, specs, zs, weights), weights)
        h = self._bottom(_Latents(F.concat([zs[i] for i in active], axis=0)), specs[0].tiled(len(active)))
        streams = dict(zip(active, F.split_axis(h, len(active), axis=0))) if len(active) > 1 else {active[0]: h}
        target = self._mix(streams, None, maps[0], s)
        mix = maps[0][:, :s]
        for b, block in enumerate(self.blocks):
            layer = b + 1
            streams = {i: v for i, v in streams.items() if last_use[i] >= layer}
            order = list(streams)
            reps = len(order) + 1
            batch = F.concat([streams[i] for i in order] + [target], axis=0)
            latents = _BlendLatents([zs[i] for i in order], zs, mix, xp)
            if b == self.attention_position:
                batch = self.attention(batch)
            out = block(batch, latents, [c.tiled(reps) for c in specs[1 + 4 * b:5 + 4 * b]], weights)
            parts = F.split_axis(out, reps, axis=0) if reps > 1 else [out]
            streams = dict(zip(order, parts[:-1]))
            m = maps[layer]
            target = self._mix(streams, parts[-1], m, s)
            mix = m[:, :s] + m[:, s:] * _upsample_array(mix, m.shape[2])
        return self._tail(target, weights)

    def _run_target_only(self, maps, specs, zs, weights):
        target = chainer.Variable(self.xp.zeros((zs[0].shape[0], BOTTOM_MULTIPLIER * self.ch, BOTTOM_WIDTH,
                                                 BOTTOM_WIDTH), dtype=numpy.float32))
        mix = maps[0][:, :len(zs)]
        for b, block in enumerate(self.blocks):
            if b == self.attention_position:
                target = self.attention(target)
            target = block(target, _BlendLatents([], zs, mix, self.xp), specs[1 + 4 * b:5 + 4 * b], weights)
            m = maps[b + 1]
            target = self._mix({}, target, m, len(zs))
            mix = m[:, :len(zs)] + m[:, len(zs):] * _upsample_array(mix, m.shape[2])
        return target

    def _bottom(self, latents, classes):
        """``gen_z``: ``(B, 16 ch, 4, 4)``; a class map gives each of the 4x4 positions its own condition."""
        wg, bg = self.gen_z.W.array, self.gen_z.b.array
        dz = self.dim_z
        c = BOTTOM_MULTIPLIER * self.ch
        hz = latents.project(wg[:, :dz], None)
        if isinstance(classes, _ClassVectors):
            h = hz + (classes.rows(wg[:, dz:]) + bg)
            return F.reshape(h, (h.shape[0], c, BOTTOM_WIDTH, BOTTOM_WIDTH))
        xp = self.xp
        maps = classes.maps
        if maps.shape[2:] != (BOTTOM_WIDTH, BOTTOM_WIDTH):
            raise ValueError(f"class map of gen_z is {maps.shape[2]}x{maps.shape[3]}, expected "
                             f"{BOTTOM_WIDTH}x{BOTTOM_WIDTH}")
        rows = xp.matmul(wg[:, dz:], classes.emb).reshape(c, BOTTOM_WIDTH, BOTTOM_WIDTH, -1)
        cls = xp.einsum("chwp,nphw->nchw", rows, maps) + bg.reshape(c, BOTTOM_WIDTH, BOTTOM_WIDTH)
        if classes.reps > 1:
            cls = xp.concatenate([cls] * classes.reps)
        hz = F.reshape(hz, (hz.shape[0], c, BOTTOM_WIDTH, BOTTOM_WIDTH))
        return hz + cls.astype(numpy.float32, copy=False)

    def _tail(self, h, weights):
        h = F.relu(self.bn(h, weights))
        w, b = self.conv_to_rgb.W.array, self.conv_to_rgb.b.array
        return F.tanh(convolution_2d(h, w, b, pad=1))

    # ------------------------------------------------------------------ the reference calling convention
    def __call__(self, *args, **kwargs):
        """``G(z=z, y=y, truncation=t)`` (``batchsize`` and random ``z``/``y`` when missing, as
        :class:`Generator`), or ``G(z, y, truncation=t)``."""
        if args:
            return self.forward(*args, **kwargs)
        batchsize = kwargs.pop("batchsize", None)
        z, y = kwargs.pop("z", None), kwargs.pop("y", None)
        truncation = kwargs.pop("truncation", None)
        if kwargs:
            raise TypeError(f"unexpected arguments {sorted(kwargs)}")
        if z is None:
            z = self.sample_z(batchsize or (len(y) if y is not None else 64), truncation=truncation)
        if y is None:
            y = self.xp.random.randint(0, self.n_classes, size=len(z)).astype(numpy.int32)
        return self.forward(z, y, truncation=truncation)

"""Spatial conditional batch normalisation (sCBN)."""
from neuralcollage import _compat  # noqa: F401

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
from chainer import initializers

from neuralcollage.links import fastconv

EPS = 2e-5


class SpatialConditionalBatchNormalization(chainer.Chain):
    """Conditional batch norm whose class condition may vary per pixel.

    ``y = gamma(c) * xhat + beta(c)`` with ``gamma(c) = c @ Gamma`` and ``beta(c) = c @ B``, where the
    class tables ``Gamma``, ``B`` have shape ``(n_classes, size)`` and are stored, as in the official
    snapshots, as the ``W`` of the children ``gammas`` and ``betas``.

    The condition passed to :meth:`forward` is one of

    * class ids, int array ``(N,)``: plain CBN (row lookup);
    * class vectors, float array ``(N, K)``: a per-sample mixture (BigGAN-style soft classes);
    * class-weight maps, float array ``(N, K, H, W)`` at the input's resolution: sCBN, a per-pixel
      mixture. Maps are used as given (the link does not normalise them; :mod:`neuralcollage.maps`
      does). A spatially uniform map takes the cheap per-channel path, and a one-hot condition of any
      kind takes the row-lookup path, so one-hot input is bit-identical to CBN.

    In training mode (``chainer.config.train``) batch statistics are used and the running averages
    ``avg_mean``/``avg_var`` are updated with ``decay``; in test mode the running averages are used:
    ``xhat = (x - avg_mean) / sqrt(avg_var + eps)``.
    """

    def __init__(self, size, n_classes, *, decay=0.9, eps=EPS):
        super().__init__()
        self.size = size
        self.n_classes = n_classes
        self.decay = decay
        self.eps = eps
        self.avg_mean = numpy.zeros(size, dtype=numpy.float32)
        self.avg_var = numpy.ones(size, dtype=numpy.float32)
        self.N = 0
        self.register_persistent("avg_mean")
        self.register_persistent("avg_var")
        self.register_persistent("N")
        with self.init_scope():
            self.gammas = L.EmbedID(n_classes, size, initialW=initializers.One())
            self.betas = L.EmbedID(n_classes, size, initialW=initializers.Zero())

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size}, n_classes={self.n_classes})"

    def normalize(self, x):
        """``xhat``: batch statistics in training mode, running averages in test mode."""
        xp = self.xp
        ones = xp.ones(self.size, dtype=x.dtype)
        zeros = xp.zeros(self.size, dtype=x.dtype)
        if chainer.config.train:
            arr = x.array if isinstance(x, chainer.Variable) else x
            mean = arr.mean(axis=(0, 2, 3))
            var = arr.var(axis=(0, 2, 3))
            m = arr.size // self.size
            adjust = m / max(m - 1.0, 1.0)
            self.avg_mean *= self.decay
            self.avg_mean += (1 - self.decay) * mean
            self.avg_var *= self.decay
            self.avg_var += (1 - self.decay) * adjust * var
            self.N = int(self.N) + 1
            return F.batch_normalization(x, ones, zeros, eps=self.eps)
        return F.fixed_batch_normalization(x, ones, zeros, self.avg_mean, self.avg_var, eps=self.eps)

    def forward(self, x, condition, *, relu=False):
        """Normalise ``x (N, C, H, W)`` and apply the class-conditioned affine transform (then ReLU if
        ``relu``; in test mode on the CPU one fused function, :func:`fastconv.batch_norm_relu`)."""
        if relu and not chainer.config.train and fastconv.enabled_for(x):
            gamma, beta = self.affine(condition, x.shape)
            return fastconv.batch_norm_relu(x, gamma, beta, self.avg_mean, self.avg_var, eps=self.eps)
        xhat = self.normalize(x)
        gamma, beta = self.affine(condition, x.shape)
        if gamma.ndim == 2:
            gamma = F.expand_dims(F.expand_dims(gamma, 2), 3)
            beta = F.expand_dims(F.expand_dims(beta, 2), 3)
        h = F.broadcast_to(gamma, xhat.shape) * xhat + F.broadcast_to(beta, xhat.shape)
        return F.relu(h) if relu else h

    def affine(self, condition, x_shape):
        """``(gamma, beta)``: ``(N, C)`` for ids, vectors and uniform maps, else ``(N, C, H, W)``."""
        xp = self.xp
        cond = condition.array if isinstance(condition, chainer.Variable) else condition
        n = x_shape[0]
        gammas, betas = fastconv.param(self.gammas.W), fastconv.param(self.betas.W)
        if cond.ndim == 1:
            ids = cond.astype(numpy.int32, copy=False)
            return F.embed_id(ids, gammas), F.embed_id(ids, betas)
        if cond.shape[0] != n or cond.shape[1] != self.n_classes:
            raise ValueError(
                f"class condition has shape {tuple(cond.shape)}; expected ({n}, {self.n_classes}, ...)")
        if cond.ndim == 4:
            if cond.shape[2:] != tuple(x_shape[2:]):
                raise ValueError(f"class map is {cond.shape[2]}x{cond.shape[3]} but this layer runs at "
                                 f"{x_shape[2]}x{x_shape[3]}")
            if bool(xp.all(cond == cond[:, :, :1, :1])):
                cond = cond[:, :, 0, 0]
            else:
                return self._spatial_affine(cond)
        if cond.ndim != 2:
            raise ValueError(f"class condition must be (N,), (N, K) or (N, K, H, W); got {cond.shape}")
        if _is_one_hot(xp, cond):
            ids = cond.argmax(axis=1).astype(numpy.int32)
            return F.embed_id(ids, gammas), F.embed_id(ids, betas)
        cond = cond.astype(self.gammas.W.dtype, copy=False)
        return F.matmul(cond, gammas), F.matmul(cond, betas)

    def _spatial_affine(self, maps):
        xp = self.xp
        present = xp.nonzero(xp.any(maps != 0, axis=(0, 2, 3)))[0]
        maps = maps[:, present].astype(self.gammas.W.dtype, copy=False)
        n, k, h, w = maps.shape
        flat = maps.reshape(n, k, h * w)

        def per_pixel(table):
            rows = F.get_item(table, present)
            return F.reshape(F.matmul(rows, flat, transa=True), (n, self.size, h, w))

        return per_pixel(fastconv.param(self.gammas.W)), per_pixel(fastconv.param(self.betas.W))


def _is_one_hot(xp, cond):
    return bool(xp.all((cond == 0) | (cond == 1))) and bool(xp.all(cond.sum(axis=1) == 1))

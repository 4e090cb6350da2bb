"""What every class-conditional generator kind shares: class conditions per class layer and blend plans.

:class:`ClassConditionalGenerator` is a base of :class:`neuralcollage.models.generator.Generator` and
:class:`neuralcollage.models.biggan.BigGANDeep`.  It checks and expands the class conditions (ids, vectors,
class maps, or one map per class layer) and the latents and blend maps of :meth:`blend`, so that both kinds
accept the same inputs and refuse bad ones with the same messages.  A subclass provides ``xp``, ``device``,
``n_classes``, ``dim_z``, ``n_class_layers``, ``class_map_resolutions``, ``n_blend_layers`` and
``blend_resolutions``.
"""
from neuralcollage import _compat  # noqa: F401

import chainer
import chainer.functions as F
import numpy


class ClassConditionalGenerator:
    """Base of the generator kinds: the checks and expansions of class conditions, latents and blend maps."""

    def class_conditions(self, y, n):
        """Expand a class condition into one entry per class layer.

        ``y`` may be an int (one class for all samples), class ids ``(N,)``, class vectors ``(N, K)``, one
        class map ``(N, K, H, W)`` (area-resized to every layer), or a list with one such entry per class
        layer (each layer's map at that layer's resolution).
        """
        xp = self.xp
        if isinstance(y, (list, tuple)):
            if len(y) != self.n_class_layers:
                raise ValueError(f"got {len(y)} per-layer class conditions; this generator has "
                                 f"{self.n_class_layers} class layers")
            return [self._condition(c, n, res) for c, res in zip(y, self.class_map_resolutions)]
        if isinstance(y, (int, numpy.integer)):
            y = xp.full((n,), int(y), dtype=numpy.int32)
        return [self._condition(y, n, res) for res in self.class_map_resolutions]

    def _condition(self, c, n, res):
        xp = self.xp
        if isinstance(c, (int, numpy.integer)):
            c = xp.full((n,), int(c), dtype=numpy.int32)
        c = self.device.send(c.array if isinstance(c, chainer.Variable) else c)
        if c.shape[0] != n:
            raise ValueError(f"class condition has batch size {c.shape[0]}, latents have {n}")
        if c.ndim == 1:
            if c.dtype.kind not in "iu":
                raise ValueError(f"class ids must be integers, got {c.dtype}")
            if int(c.min()) < 0 or int(c.max()) >= self.n_classes:
                raise ValueError(f"class ids must be in 0..{self.n_classes - 1}, got {int(c.min())}.."
                                 f"{int(c.max())}")
            return c.astype(numpy.int32, copy=False)
        if c.shape[1] != self.n_classes:
            raise ValueError(f"class condition has {c.shape[1]} classes; this generator has {self.n_classes}")
        if not bool(xp.all(xp.isfinite(c))):
            raise ValueError("class condition contains NaN or inf")
        c = c.astype(numpy.float32, copy=False)
        if c.ndim == 4 and c.shape[2:] != (res, res):
            from neuralcollage.maps import resize_map
            c = self.device.send(resize_map(chainer.backend.CpuDevice().send(c), (res, res)))
        return c

    def _blend_plan(self, zs, blend_maps):
        """Validate :meth:`blend`'s inputs on this device: ``(zs, maps, last_use, active)``, where
        ``last_use[i]`` is the last blend layer giving latent stream ``i`` any weight (-1: none) and
        ``active`` the streams used at all."""
        xp = self.xp
        zs = [self._latent(z) for z in zs]
        s, n = len(zs), zs[0].shape[0]
        if any(z.shape[0] != n for z in zs):
            raise ValueError("all latent streams must have the same batch size")
        if len(blend_maps) != self.n_blend_layers:
            raise ValueError(f"got {len(blend_maps)} blend maps; this generator has {self.n_blend_layers} "
                             f"blend layers (after the first layer and after each block)")
        maps = []
        for layer, (m, res) in enumerate(zip(blend_maps, self.blend_resolutions)):
            m = self.device.send(m.array if isinstance(m, chainer.Variable) else m).astype(numpy.float32)
            if m.shape != (n, s + 1, res, res):
                raise ValueError(f"blend map {layer} has shape {tuple(m.shape)}; expected "
                                 f"({n}, {s + 1}, {res}, {res})")
            if not bool(xp.all(xp.isfinite(m))):
                raise ValueError(f"blend map {layer} contains NaN or inf")
            maps.append(m)
        used = [[bool(xp.any(m[:, i] != 0)) for i in range(s)] for m in maps]
        last_use = [max([l for l in range(len(maps)) if used[l][i]], default=-1) for i in range(s)]
        return zs, maps, last_use, [i for i in range(s) if last_use[i] >= 0]

    def _mix(self, streams, target, m, s):
        shape = next(iter(streams.values())).shape if streams else target.shape
        out = None
        for i in range(s + 1):
            w = m[:, i]
            if not bool(self.xp.any(w != 0)):
                continue
            h = target if i == s else streams[i]
            if h is None:
                continue
            term = F.broadcast_to(w[:, None], shape) * h
            out = term if out is None else out + term
        if out is None:
            out = chainer.Variable(self.xp.zeros(shape, dtype=numpy.float32))
        return out

    def _latent(self, z):
        z = z.array if isinstance(z, chainer.Variable) and not z.requires_grad else z
        if isinstance(z, chainer.Variable):
            if z.shape[-1] != self.dim_z:
                raise ValueError(f"latents have size {z.shape[-1]}; this generator takes dim_z={self.dim_z}")
            return z
        z = self.device.send(z)
        if z.ndim != 2 or z.shape[1] != self.dim_z:
            raise ValueError(f"latents must be (N, {self.dim_z}); got {tuple(z.shape)}")
        if not bool(self.xp.all(self.xp.isfinite(z))):
            raise ValueError("latents contain NaN or inf")
        return z.astype(numpy.float32, copy=False)

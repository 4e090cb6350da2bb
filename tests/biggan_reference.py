"""Test helpers around the reference BigGAN-deep (``pytorch-pretrained-biggan``, PyTorch CPU).

* :func:`make_checkpoint` writes a small random checkpoint folder in the reference's own format, with every
  parameter and statistic randomised (attention gamma non-zero, per-truncation statistics all different, and
  the spectral-norm vectors advanced by the reference's own power iteration).
* :func:`spatial_forward` and :func:`blend_forward` are independent PyTorch implementations of sCBN and feature
  blending on the reference modules, written the direct way: every pixel gets its own condition vector
  ``[z(h, w), E m(h, w)]`` and the reference's own ``scale``/``offset`` linears are applied to it.
"""
import json
import math
import os

import numpy

TINY_CONFIG = dict(output_dim=32, z_dim=8, class_embed_dim=8, channel_width=4, num_classes=5,
                   layers=[[False, 16, 16], [True, 16, 8], [False, 8, 4], [True, 4, 2], [True, 2, 1]],
                   attention_layer_position=3, eps=1e-4, n_stats=51)


def make_checkpoint(folder, *, seed=0, **overrides):
    """Build a random reference ``BigGAN`` (eval mode) and save ``pytorch_model.bin`` + ``config.json`` in
    ``folder``; returns the model."""
    import torch
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig
    from pytorch_pretrained_biggan.model import BigGANBatchNorm, SelfAttn
    torch.set_num_threads(1)  # tiny tensors: threads only add contention on the 2-core test machines
    cfg = BigGANConfig.from_dict({**TINY_CONFIG, **overrides})
    torch.manual_seed(seed)
    model = BigGAN(cfg)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, BigGANBatchNorm):
                mod.running_means.copy_(0.3 * torch.randn(mod.running_means.shape, generator=g))
                mod.running_vars.copy_(0.5 + 1.5 * torch.rand(mod.running_vars.shape, generator=g))
                if not mod.conditional:
                    mod.weight.copy_(1 + 0.2 * torch.randn(mod.weight.shape, generator=g))
                    mod.bias.copy_(0.2 * torch.randn(mod.bias.shape, generator=g))
            if isinstance(mod, SelfAttn):
                mod.gamma.fill_(0.7)
        model.train()
        for _ in range(3):
            model(torch.randn(2, cfg.z_dim, generator=g), torch.eye(cfg.num_classes)[:2], 1.0)
    model.eval()
    os.makedirs(folder, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(folder, "pytorch_model.bin"))
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg.to_dict(), f)
    return model


def reference_images(model, z, y, truncation):
    """The reference's own forward: ``z (N, dz)``, ``y`` ids ``(N,)`` or class vectors ``(N, K)``."""
    import torch
    y = numpy.asarray(y)
    if y.ndim == 1:
        y = numpy.eye(model.config.num_classes, dtype=numpy.float32)[y]
    with torch.no_grad():
        return model(torch.from_numpy(numpy.asarray(z, numpy.float32)),
                     torch.from_numpy(y.astype(numpy.float32)), truncation).numpy()


def _pixel_condition(model, zmap, cmap):
    """``(N, H, W, 2 dz)`` from latents ``zmap (N, dz, H, W)`` and class map ``cmap (N, K, H, W)``."""
    import torch
    e = model.embeddings(torch.from_numpy(numpy.ascontiguousarray(cmap.transpose(0, 2, 3, 1))))
    return torch.cat([zmap.permute(0, 2, 3, 1), e], dim=-1)


def _bn(mod, x, cond, truncation):
    import torch
    xhat = mod(x, truncation, torch.zeros(x.shape[0], cond.shape[-1]))
    return xhat * (1 + mod.scale(cond).permute(0, 3, 1, 2)) + mod.offset(cond).permute(0, 3, 1, 2)


def _block(blk, x, conds, truncation):
    import torch.nn.functional as F
    h = blk.conv_0(F.relu(_bn(blk.bn_0, x, conds[0], truncation)))
    h = F.relu(_bn(blk.bn_1, h, conds[1], truncation))
    if blk.up_sample:
        h = F.interpolate(h, scale_factor=2, mode="nearest")
    h = blk.conv_1(h)
    h = blk.conv_2(F.relu(_bn(blk.bn_2, h, conds[2], truncation)))
    h = blk.conv_3(F.relu(_bn(blk.bn_3, h, conds[3], truncation)))
    x0 = x[:, :x.shape[1] // 2] if blk.drop_channels else x
    if blk.up_sample:
        x0 = F.interpolate(x0, scale_factor=2, mode="nearest")
    return h + x0


def _bottom(model, z, cmap):
    import torch
    n, c = z.shape[0], 16 * model.config.channel_width
    cond = _pixel_condition(model, z[:, :, None, None].expand(-1, -1, 4, 4), cmap)
    full = model.generator.gen_z(cond).view(n, 4, 4, 4, 4, c)
    h = torch.stack([torch.stack([full[:, i, j, i, j] for j in range(4)], dim=-1) for i in range(4)], dim=-2)
    return h


def _tail(model, h, truncation):
    import torch
    gen = model.generator
    return torch.tanh(gen.conv_to_rgb(torch.relu(gen.bn(h, truncation)))[:, :3])


def _resolution_z(zmap, size):
    import torch.nn.functional as F
    return zmap if zmap.shape[-1] == size else F.interpolate(zmap, size=(size, size), mode="nearest")


def _steps(model):
    """``[(attention or None, block)]`` in the reference's layer order."""
    from pytorch_pretrained_biggan.model import GenBlock
    steps, attn = [], None
    for layer in model.generator.layers:
        if isinstance(layer, GenBlock):
            steps.append((attn, layer))
            attn = None
        else:
            attn = layer
    return steps


def spatial_forward(model, z, layer_maps, truncation):
    """Per-pixel conditioning: ``layer_maps`` one ``(N, K, H, W)`` float32 map per class layer (``gen_z``,
    then ``bn_0..bn_3`` of each block)."""
    import torch
    with torch.no_grad():
        z = torch.from_numpy(numpy.asarray(z, numpy.float32))
        h = _bottom(model, z, layer_maps[0])
        for b, (attn, blk) in enumerate(_steps(model)):
            if attn is not None:
                h = attn(h)
            maps = layer_maps[1 + 4 * b:5 + 4 * b]
            conds = [_pixel_condition(model, z[:, :, None, None].expand(-1, -1, m.shape[2], m.shape[3]), m)
                     for m in maps]
            h = _block(blk, h, conds, truncation)
        return _tail(model, h, truncation).numpy()


def blend_forward(model, zs, layer_maps, blend_maps, truncation):
    """Feature blending, one stream at a time, with the target's latent the per-pixel mixture of the stream
    latents given by the blend maps (``neuralcollage.models.biggan`` semantics)."""
    import torch
    with torch.no_grad():
        zs = [torch.from_numpy(numpy.asarray(z, numpy.float32)) for z in zs]
        s = len(zs)
        bm = [torch.from_numpy(numpy.asarray(m, numpy.float32)) for m in blend_maps]
        hs = [_bottom(model, z, layer_maps[0]) for z in zs]
        target = sum(bm[0][:, i:i + 1] * hs[i] for i in range(s))
        mix = bm[0][:, :s]
        zstack = torch.stack(zs)
        for b, (attn, blk) in enumerate(_steps(model)):
            maps = layer_maps[1 + 4 * b:5 + 4 * b]
            if attn is not None:
                hs = [attn(h) for h in hs]
                target = attn(target)
            hs = [_block(blk, h, [_pixel_condition(model, z[:, :, None, None].expand(
                -1, -1, m.shape[2], m.shape[3]), m) for m in maps], truncation) for h, z in zip(hs, zs)]
            conds = []
            for m in maps:
                w = _resolution_z(mix, m.shape[2])
                zmap = torch.einsum("nshw,snd->ndhw", w, zstack)
                conds.append(_pixel_condition(model, zmap, m))
            t_out = _block(blk, target, conds, truncation)
            m = bm[b + 1]
            target = sum(m[:, i:i + 1] * hs[i] for i in range(s)) + m[:, s:] * t_out
            mix = m[:, :s] + m[:, s:] * _resolution_z(mix, m.shape[2])
        return _tail(model, target, truncation).numpy()


def reference_weights(truncation, n_stats=51):
    """The reference's ``(coef, index)`` (``BigGANBatchNorm.forward``), for cross-checking."""
    coef, index = math.modf(truncation / (1.0 / (n_stats - 1)))
    return coef, int(index)

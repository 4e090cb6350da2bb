"""Class packs on a model: model specs (``builtin+rex.npz``), applying packs to a bundle (:func:`apply_packs`),
the vocabulary with packs, and samples of a pack's class."""
from neuralcollage import _compat  # noqa: F401

import dataclasses
import os

import numpy

from neuralcollage.classes.pack import BRANCH_ARRAYS, ClassPack, ClassPackError, closeup_name, load_pack

__all__ = ["split_model_spec", "base_record", "base_name", "check_takes_classes", "class_layers", "apply_packs",
           "vocabulary_with_packs", "closeup_class", "is_known_name", "effective_l_y", "forward_rows",
           "new_branch_link",
           "reconstruction_loss", "copy_bundle", "pack_samples"]


def split_model_spec(spec):
    """``"builtin+rex.npz+tom.npz"`` -> ``("builtin", ["rex.npz", "tom.npz"])``; anything without a ``+`` that
    names packs (or an existing path) -> ``(spec, [])``."""
    if not isinstance(spec, str) or "+" not in spec or os.path.exists(os.path.expanduser(spec)):
        return spec, []
    parts = spec.split("+")
    for i in range(1, len(parts)):
        base, packs = "+".join(parts[:i]), parts[i:]
        if base and all(p.lower().endswith(".npz") for p in packs):
            return base, packs
    return spec, []


def base_record(bundle):
    """What a pack records of the model it is trained on (its own classes only, not earlier packs)."""
    gen = bundle.generator
    extra = len(getattr(bundle, "class_packs", ()) or ()) + len(getattr(bundle, "closeup_classes", None) or {})
    return {"name": base_name(bundle), "arch": getattr(gen, "arch", None),
            "generator_sha256": (bundle.sha256 or {}).get("generator"),
            "n_classes": int(gen.n_classes) - extra, "resolution": int(gen.resolution), "dim_z": int(gen.dim_z)}


def base_name(bundle):
    name = str(bundle.name)
    packs = getattr(bundle, "class_packs", ()) or ()
    return name.split("+")[0] if packs else name


def check_takes_classes(bundle):
    gen = bundle.generator
    if hasattr(gen, "truncation") or not hasattr(gen, "blocks"):
        raise ClassPackError(
            f"model {bundle.name} cannot take new classes: its batch norms are conditioned through one linear "
            f"map of a shared class embedding (BigGAN-deep), not per-class rows, so a class pack has nothing to "
            f"add; use a CBN model (builtin, dogcat256, dogcat128, imagenet128, cub128)")


def class_layers(gen):
    """``[(name, scbn link)]`` in class-layer order."""
    out = []
    for b, block in enumerate(gen.blocks):
        out += [(f"block{b + 2}/b1", block.b1), (f"block{b + 2}/b2", block.b2)]
    return out


def _check_fits(bundle, pack):
    """The pack must be for this base model (same generator file) and fit its layers."""
    base = pack.base
    have = (bundle.sha256 or {}).get("generator")
    want = base.get("generator_sha256")
    where = pack.path or f"class pack {pack.name!r}"
    if want != have:
        raise ClassPackError(f"{where} was trained for base generator sha256 {want} ({base.get('name')}); "
                             f"the loaded generator {base_name(bundle)} has sha256 {have}")
    parts = [("its", pack.generator, pack.branch)]
    if pack.closeup is not None:
        parts.append(("its close-up variant's", pack.closeup.get("generator") or {}, pack.closeup.get("branch")))
    gen = bundle.generator
    layers = class_layers(gen)
    for what, rows, branch in parts:
        if [n for n, _ in layers] != list(rows):
            raise ClassPackError(f"{where}: {what} layers do not match the generator's class layers")
        for name, link in layers:
            gamma, beta = rows[name]
            if gamma.shape != (link.size,) or beta.shape != (link.size,):
                raise ClassPackError(f"{where}: {what} layer {name} has {gamma.shape[0] if gamma.ndim else 0} "
                                     f"channels; the generator has {link.size}")
        if branch is not None:
            layer = branch["layer"]
            channels = gen.channels[layer] * gen.ch if 1 <= layer <= gen.n_blocks else None
            w1, w2 = branch["w1"], branch["w2"]
            rank = w1.shape[0] if w1.ndim == 4 else None
            if channels is None or w1.shape != (rank, channels, 3, 3) or w2.shape != (channels, rank, 1, 1) \
                    or branch["b1"].shape != (rank,) or branch["b2"].shape != (channels,):
                raise ClassPackError(f"{where}: {what} branch does not fit the generator's blend layer {layer}")


def apply_packs(bundle, packs):
    """Append one class per pack to ``bundle`` (in place): generator CBN rows, discriminator projection row,
    encoder class row and the vocabulary.  Old rows are not touched.

    Args:
        bundle: a :class:`~neuralcollage.pretrained.ModelBundle` (its ``sha256["generator"]`` must be known).
        packs: :class:`ClassPack` objects or paths of pack files.

    Returns:
        ``bundle``, with ``class_packs`` (the packs, in order), ``sha256["class:<name>"]`` per pack, its
        ``name`` extended with ``+<pack path>`` and ``notes`` saying what was added.

    Raises:
        ClassPackError: a pack for another base model, a model that takes no classes, a class name that
            already exists.
    """
    packs = [p if isinstance(p, ClassPack) else load_pack(p) for p in packs]
    if not packs:
        return bundle
    check_takes_classes(bundle)
    vocab = bundle.vocabulary
    for pack in packs:
        _check_fits(bundle, pack)
        vocab = _extend_vocabulary(vocab, pack)
        gen, dis, enc = bundle.generator, bundle.discriminator, bundle.encoder
        d_row = None if dis is None else (
            pack.discriminator if pack.discriminator is not None else effective_l_y(dis).mean(axis=0))
        e_row = None if enc is None else (
            pack.encoder if pack.encoder is not None else numpy.zeros(enc.hidden, numpy.float32))
        _append_class(bundle, pack.generator, pack.branch, d_row, e_row)
        added = f"added class {pack.name!r} as index {gen.n_classes - 1}"
        if pack.closeup is not None:
            _append_class(bundle, pack.closeup["generator"], pack.closeup.get("branch"), d_row, e_row)
            bundle.closeup_classes = {**(getattr(bundle, "closeup_classes", None) or {}),
                                      gen.n_classes - 2: gen.n_classes - 1}
            added += f" and its close-up variant {closeup_name(pack.name)!r} as index {gen.n_classes - 1}"
        bundle.sha256[f"class:{pack.name}"] = pack.sha256
        if pack.path:
            bundle.files[f"class:{pack.name}"] = pack.path
        bundle.notes.append(f"class pack {os.path.basename(pack.path or pack.name)}: {added}")
        existing = list(getattr(bundle, "class_packs", ()) or ())
        bundle.class_packs = existing + [pack]
        bundle.name = f"{bundle.name}+{pack.path or pack.name}"
    bundle.vocabulary = vocab
    return bundle


def _append_class(bundle, rows, branch, d_row, e_row):
    """One more class on ``bundle``'s generator (``rows``: layer -> (gamma, beta); ``branch``: a pack's branch
    dict or None), discriminator (projection row ``d_row``) and encoder (class row ``e_row``)."""
    gen = bundle.generator
    for name, link in class_layers(gen):
        gamma, beta = rows[name]
        _append_row(link.gammas.W, gamma)
        _append_row(link.betas.W, beta)
        link.n_classes += 1
    gen.n_classes += 1
    if branch is not None:
        from neuralcollage.models.generator import ClassBranch
        made = ClassBranch(branch["layer"], *(branch[key] for key in BRANCH_ARRAYS))
        gen.class_branches = {**(gen.class_branches or {}), gen.n_classes - 1: made.to_device(gen.device)}
    if bundle.discriminator is not None:
        bundle.discriminator.add_class_row(d_row)
    enc = bundle.encoder
    if enc is not None:
        _append_row(enc.l_y.W, e_row)
        enc.n_classes += 1


def closeup_class(bundle, class_id):
    """The class id of ``class_id``'s close-up variant on ``bundle`` (a class pack's, see
    :attr:`~neuralcollage.classes.ClassPack.closeup`), or None when it has none."""
    return (getattr(bundle, "closeup_classes", None) or {}).get(int(class_id))


def _extend_vocabulary(vocab, pack):
    """``vocab`` with the pack's class appended (its name and synonyms must be new), and its close-up variant's
    (:func:`~neuralcollage.classes.pack.closeup_name`) when it has one."""
    from neuralcollage.labels import Vocabulary
    variant = (closeup_name(pack.name),) if pack.closeup is not None else ()
    for s in (pack.name,) + tuple(pack.synonyms) + variant:
        if is_known_name(vocab, s):
            raise ClassPackError(f"class pack {pack.path or pack.name}: the model already has a class named {s!r}")
    names = [vocab.synonyms(i) for i in range(len(vocab))] + [(pack.name,) + tuple(pack.synonyms)]
    names += [variant] if variant else []
    ids = None if vocab.ids is None else (list(vocab.ids) + [f"pack:{pack.name}"]
                                          + ([f"pack:{pack.name}:closeup"] if variant else []))
    return Vocabulary(f"{vocab.name}+{pack.name}", names, ids=ids)


def vocabulary_with_packs(vocab, packs):
    """The vocabulary of a model with class packs loaded, without loading the model (the packs' base sha256 is
    checked when the model itself is loaded)."""
    for pack in packs:
        vocab = _extend_vocabulary(vocab, pack if isinstance(pack, ClassPack) else load_pack(pack))
    return vocab


def is_known_name(vocab, name):
    """Whether ``name`` already names a class of ``vocab`` (digit strings count as indices, so they are taken)."""
    return name.strip().isdigit() or name in vocab


def _append_row(param, row):
    xp = param.xp if hasattr(param, "xp") else numpy
    row = xp.asarray(row, dtype=param.array.dtype).reshape(1, -1)
    param.array = xp.concatenate([param.array, row], axis=0)
    param.grad = None


def effective_l_y(dis):
    """The discriminator's projection table as used (spectrally normalised), NumPy ``(K, C)``."""
    from neuralcollage.backend import to_numpy
    import chainer
    link = dis.l_y
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        hooks = link.local_link_hooks
        w = hooks["SpectralNormalization"].normalize_weight(link) if "SpectralNormalization" in hooks else link.W
    return to_numpy(w.array if hasattr(w, "array") else w)[:dis.n_classes - dis.n_extra_classes]


def forward_rows(gen, z, rows, branch=None):
    """The generator's test-mode forward pass with the given CBN rows: ``rows[l] = (gamma, beta)`` for class
    layer ``l``, each ``(C,)`` (or ``(N, C)``) Variable.  Equal to ``gen.forward(z, c)`` when the rows are
    class ``c``'s; gradients reach the rows and ``z`` only when called inside
    :func:`neuralcollage.links.fastconv.constant_parameters`.  ``branch``: a
    :class:`~neuralcollage.models.generator.ClassBranch` (of Variables while training) added, everywhere, after
    its blend layer."""
    from neuralcollage.links import fastconv
    from neuralcollage.links.blocks import upsample_nearest
    h = gen._bottom(z)
    for b, block in enumerate(gen.blocks):
        (g1, b1), (g2, b2) = rows[2 * b], rows[2 * b + 1]
        t = fastconv.batch_norm_relu(h, g1, b1, block.b1.avg_mean, block.b1.avg_var, eps=block.b1.eps)
        t = block.c1(t, upsample=True)
        t = fastconv.batch_norm_relu(t, g2, b2, block.b2.avg_mean, block.b2.avg_var, eps=block.b2.eps)
        t = block.c2(t)
        if fastconv.enabled_for(h):
            h = fastconv.upsample_add(t, block.c_sc(h))
        else:
            h = t + block.c_sc(upsample_nearest(h))
        if branch is not None and branch.layer == b + 1:
            h = h + branch(h)
    return gen._tail(h)


def new_branch_link(gen, layer, rank, seed, device):
    """A Chainer link with a fresh per-class branch's parameters ``w1, b1, w2, b2`` after block ``layer``
    (``w1`` He-initialised from ``default_rng([seed, 0xB4A])``, the rest zero: the branch starts as nothing)."""
    import chainer
    width = gen.channels[int(layer)] * gen.ch
    rank = int(rank)
    w1 = numpy.random.default_rng([int(seed), 0xB4A]).standard_normal((rank, width, 3, 3)).astype(numpy.float32)
    w1 *= numpy.float32(numpy.sqrt(2.0 / (9 * width)))
    link = chainer.Link()
    with link.init_scope():
        link.w1 = chainer.Parameter(device.send(w1))
        link.b1 = chainer.Parameter(device.xp.zeros(rank, numpy.float32))
        link.w2 = chainer.Parameter(device.xp.zeros((width, rank, 1, 1), numpy.float32))
        link.b2 = chainer.Parameter(device.xp.zeros(width, numpy.float32))
    return link


def reconstruction_loss(dis, fake, x, phi_x, *, perceptual):
    """The few-shot reconstruction loss of generated ``fake`` against training crops ``x`` (both ``(N, 3, R, R)``
    in [-1, 1]): L1 plus ``perceptual`` times ``1 - cos`` of the discriminator's last feature maps (``phi_x``:
    those of ``x``; unused when ``perceptual`` is 0).  Returns ``(loss, parts)``, ``parts`` the terms as floats
    (``"l1"``, ``"perceptual"``)."""
    import chainer
    import chainer.functions as F
    loss = F.mean(F.absolute(fake - x))
    parts = {"l1": float(loss.array)}
    if perceptual > 0:
        xp = chainer.backend.get_array_module(phi_x)
        phi = dis.feature_vector(fake)
        cos = F.sum(phi * phi_x, axis=1) / (
            F.sqrt(F.sum(phi * phi, axis=1) + 1e-12) * xp.sqrt((phi_x * phi_x).sum(axis=1) + 1e-12))
        loss_p = F.mean(1.0 - cos)
        loss = loss + perceptual * loss_p
        parts["perceptual"] = float(loss_p.array)
    return loss, parts


def copy_bundle(bundle):
    """A copy of ``bundle`` whose generator, discriminator and encoder are deep copies (packs can then be
    applied to it without touching ``bundle``)."""
    import copy
    return dataclasses.replace(
        bundle, generator=copy.deepcopy(bundle.generator), discriminator=copy.deepcopy(bundle.discriminator),
        encoder=copy.deepcopy(bundle.encoder), sha256=dict(bundle.sha256), files=dict(bundle.files),
        notes=list(bundle.notes), class_packs=list(getattr(bundle, "class_packs", ()) or ()),
        closeup_classes=dict(getattr(bundle, "closeup_classes", None) or {}))


def pack_samples(bundle, pack, *, n=16, seed=0):
    """``n`` samples of the pack's class from the base model ``bundle`` (not modified; the pack is applied to a
    copy): ``(n, R, R, 3)`` uint8, as ``collage generate`` makes them (latents ``gen.sample_z(n, seed=seed)``)."""
    import chainer
    from neuralcollage.backend import to_numpy
    from neuralcollage.io import from_model
    from neuralcollage.links import fastconv
    extended = apply_packs(copy_bundle(bundle), [pack])
    gen = extended.generator
    with chainer.using_config("train", False), chainer.no_backprop_mode(), fastconv.constant_parameters():
        out = gen.forward(gen.sample_z(n, seed=seed), extended.vocabulary.index(extended.class_packs[-1].name))
    return from_model(to_numpy(out.array))

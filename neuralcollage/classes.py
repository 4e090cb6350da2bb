"""Few-shot class addition: teach a trained model a new class from a handful of images (DESIGN §6).

A class of a CBN generator is its row in every per-layer ``gammas``/``betas`` table (and its row of the
projection discriminator's ``l_y``, and of the encoder's ``l_y``).  :func:`add_class` learns those rows for a
new class while every convolution, every running statistic and every old row stays frozen, and returns a
:class:`ClassPack`: a small ``.npz`` holding the new rows, the class name and synonyms, the sha256 of the
base generator and a training record.  Loading packs on top of their base model (:func:`apply_packs`, or
``load_bundle("builtin", classes=["rex.npz"])``, or ``--model builtin+rex.npz`` on the command line)
appends one class per pack to the generator, discriminator and encoder tables and to the vocabulary; the old
classes' rows are untouched, so their outputs are bit-identical with and without packs.

Training methods (``method=``):

* ``"nearest"``: no training; the rows of the existing class the images resemble most (the discriminator's
  class scores) are copied.  A baseline.
* ``"rows"`` (default): the new rows start as an existing class's (by default the one a short trial from
  every class reconstructs best, ``init_class="search"``) and are trained together with one latent
  per training image (initialised by the encoder) on a reconstruction loss (L1 on pixels plus the cosine of
  the discriminator's last feature maps, as in projection) with a prior on the latents, as in Batch
  Statistics Adaptation; with ``adversarial > 0`` (default 0: it measured worse, docs/few_shot.md) plus a
  hinge adversarial loss against the frozen discriminator whose only trainable part is the new class's
  projection row.
* ``"combination"``: as ``"rows"``, but each layer's row is a learnt combination of the old classes' rows
  (L1-penalised weights, initialised at the nearest class) plus a residual, as in cGANTransfer.
* ``"branch"``: as ``"rows"``, plus a small per-class branch (a residual ``conv1x1(relu(conv3x3(h)))`` of the
  features after one block, :class:`neuralcollage.models.generator.ClassBranch`) trained with the rows while
  the shared convolutions stay frozen, as in Zhuang and Yang's per-group branch; the pack carries it and the
  generator adds it only where the class condition asks for the new class (so old classes and sCBN maps of
  other classes are unchanged).

Example
-------
>>> bundle = load_bundle("builtin")                                   # doctest: +SKIP
>>> pack = add_class(bundle, images, "koala", steps=300, seed=0)      # doctest: +SKIP
>>> pack.save("koala.npz")                                            # doctest: +SKIP
>>> bundle = load_bundle("builtin", classes=["koala.npz"])           # doctest: +SKIP
>>> bundle.vocabulary.index("koala")                                  # doctest: +SKIP
6
"""
from neuralcollage import _compat  # noqa: F401

import dataclasses
import hashlib
import io as _io
import json
import os
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy

from neuralcollage.io import InputError
from neuralcollage.snapshot import SnapshotError

__all__ = ["ClassPack", "ClassPackError", "METHODS", "MIN_IMAGES", "START_MODES", "PACK_FORMAT", "add_class",
           "load_pack", "apply_packs", "copy_bundle", "vocabulary_with_packs", "split_model_spec", "prepare_images",
           "nearest_class", "class_ranking", "closeup_crops", "pack_samples", "base_record"]

PACK_FORMAT = "neuralcollage-class-pack"
_BRANCH_ARRAYS = ("w1", "b1", "w2", "b2")
PACK_VERSION = 1
#: Fewest training images :func:`add_class` accepts.
MIN_IMAGES = 3
METHODS = ("nearest", "rows", "combination", "branch")
#: Defaults of :func:`add_class` (also shown by ``collage add-class --help``).
DEFAULTS = dict(steps=300, method="rows", batch_size=8, lr_rows=0.01, lr_z=0.03, lr_head=0.002,
                adversarial=0.0, tune_d_blocks=0, perceptual=1.0, prior=0.01, sparsity=0.001, encoder_steps=100,
                search_steps=30, closeups=0, closeup_zoom=(1.3, 2.4), branch_layer=2, branch_rank=16,
                lr_branch=0.002,
                init_class="search", search_candidates=6)
#: The ``init_class`` values that are not a class: the discriminator's choice, and the trial from every class.
START_MODES = ("nearest", "search")


class ClassPackError(SnapshotError):
    """A class pack that cannot be used with this model (another base model, unreadable, a name clash)."""


# ------------------------------------------------------------------------------------------------ the pack

@dataclasses.dataclass
class ClassPack:
    """One new class for one base model.

    Attributes:
        name: the class's display name. synonyms: further names (display name not included).
        base: what the pack was trained on: ``name``, ``arch``, ``generator_sha256``, ``n_classes``,
            ``resolution``, ``dim_z``.
        generator: class-layer name (``"block2/b1"``, ...) -> ``(gamma, beta)`` float32 rows, in class-layer
            order.
        discriminator: the discriminator's projection row (already spectrally normalised: it is used as it is,
            beside the old classes' normalised rows), or None.
        encoder: the encoder's class row (``l_y``), or None.
        branch: the per-class branch (``method="branch"``): ``{"layer": blend layer, "w1", "b1", "w2", "b2":
            float32 arrays}`` (:class:`~neuralcollage.models.generator.ClassBranch`), or None.
        record: how it was trained (method, steps, seed, losses, seconds, ...).
        path, sha256: the file it was saved to or loaded from, and that file's sha256 (None before saving).
    """

    name: str
    synonyms: Tuple[str, ...]
    base: Dict[str, Any]
    generator: Dict[str, Tuple[numpy.ndarray, numpy.ndarray]]
    discriminator: Optional[numpy.ndarray] = None
    encoder: Optional[numpy.ndarray] = None
    record: Dict[str, Any] = dataclasses.field(default_factory=dict)
    branch: Optional[Dict[str, Any]] = None
    path: Optional[str] = None
    sha256: Optional[str] = None

    def __repr__(self):
        return (f"ClassPack({self.name!r}, base={self.base.get('name')!r} "
                f"{str(self.base.get('generator_sha256'))[:12]}..., {len(self.generator)} layers)")

    def arrays(self):
        """The pack's ``.npz`` content: name -> array (strings as 0-d unicode arrays)."""
        meta = {"format": PACK_FORMAT, "version": PACK_VERSION, "name": self.name,
                "synonyms": list(self.synonyms), "base": self.base, "layers": list(self.generator),
                "record": self.record}
        if self.branch is not None:
            meta["branch_layer"] = int(self.branch["layer"])
        out = {"meta": numpy.array(json.dumps(meta, allow_nan=False))}
        for layer, (gamma, beta) in self.generator.items():
            out[f"generator/{layer}/gamma"] = numpy.asarray(gamma, numpy.float32)
            out[f"generator/{layer}/beta"] = numpy.asarray(beta, numpy.float32)
        if self.discriminator is not None:
            out["discriminator/l_y"] = numpy.asarray(self.discriminator, numpy.float32)
        if self.encoder is not None:
            out["encoder/l_y"] = numpy.asarray(self.encoder, numpy.float32)
        if self.branch is not None:
            for key in _BRANCH_ARRAYS:
                out[f"branch/{key}"] = numpy.asarray(self.branch[key], numpy.float32)
        return out

    def save(self, path, *, overwrite_protect=()):
        """Write the pack to ``path`` atomically (an uncompressed ``.npz``, no pickles); sets and returns
        :attr:`sha256`."""
        from neuralcollage.io import atomic_write_bytes
        buffer = _io.BytesIO()
        numpy.savez(buffer, **self.arrays())
        data = buffer.getvalue()
        atomic_write_bytes(path, data, overwrite_protect=overwrite_protect)
        self.path, self.sha256 = os.path.abspath(path), hashlib.sha256(data).hexdigest()
        return self.sha256


def load_pack(path):
    """Read a class pack written by :meth:`ClassPack.save`.

    Raises:
        ClassPackError: missing, unreadable or not a class pack.
    """
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if not os.path.isfile(path):
        raise ClassPackError(f"class pack {path} does not exist")
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        with numpy.load(_io.BytesIO(data), allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        meta = json.loads(str(arrays.pop("meta")))
    except Exception as exc:  # noqa: BLE001: any decoding failure is one message
        raise ClassPackError(f"{path} is not a readable class pack: {type(exc).__name__}: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != PACK_FORMAT:
        raise ClassPackError(f"{path} is not a class pack (made by `collage add-class`)")
    if meta.get("version") != PACK_VERSION:
        raise ClassPackError(f"{path} is a version {meta.get('version')} class pack; this version reads "
                             f"version {PACK_VERSION}")
    try:
        generator = {layer: (arrays[f"generator/{layer}/gamma"].astype(numpy.float32),
                             arrays[f"generator/{layer}/beta"].astype(numpy.float32)) for layer in meta["layers"]}
        branch = None
        if "branch_layer" in meta:
            branch = {"layer": int(meta["branch_layer"]),
                      **{key: arrays[f"branch/{key}"].astype(numpy.float32) for key in _BRANCH_ARRAYS}}
        return ClassPack(name=str(meta["name"]), synonyms=tuple(str(s) for s in meta.get("synonyms", ())),
                         base=dict(meta["base"]), generator=generator,
                         discriminator=arrays.get("discriminator/l_y"), encoder=arrays.get("encoder/l_y"),
                         record=dict(meta.get("record") or {}), path=path,
                         sha256=hashlib.sha256(data).hexdigest(), branch=branch)
    except (KeyError, TypeError, ValueError) as exc:
        raise ClassPackError(f"class pack {path} is incomplete: {type(exc).__name__}: {exc}") from None


# ------------------------------------------------------------------------------------------------ model specs

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
    extra = len(getattr(bundle, "class_packs", ()) or ())
    return {"name": _base_name(bundle), "arch": getattr(gen, "arch", None),
            "generator_sha256": (bundle.sha256 or {}).get("generator"),
            "n_classes": int(gen.n_classes) - extra, "resolution": int(gen.resolution), "dim_z": int(gen.dim_z)}


def _base_name(bundle):
    name = str(bundle.name)
    packs = getattr(bundle, "class_packs", ()) or ()
    return name.split("+")[0] if packs else name


def _check_takes_classes(bundle):
    gen = bundle.generator
    if hasattr(gen, "truncation") or not hasattr(gen, "blocks"):
        raise ClassPackError(
            f"model {bundle.name} cannot take new classes: its batch norms are conditioned through one linear "
            f"map of a shared class embedding (BigGAN-deep), not per-class rows, so a class pack has nothing to "
            f"add; use a CBN model (builtin, dogcat256, dogcat128, imagenet128, cub128)")


def _class_layers(gen):
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
                             f"the loaded generator {_base_name(bundle)} has sha256 {have}")
    layers = _class_layers(bundle.generator)
    if [n for n, _ in layers] != list(pack.generator):
        raise ClassPackError(f"{where}: its layers do not match the generator's class layers")
    for name, link in layers:
        gamma, beta = pack.generator[name]
        if gamma.shape != (link.size,) or beta.shape != (link.size,):
            raise ClassPackError(f"{where}: layer {name} has {gamma.shape[0]} channels; the generator has "
                                 f"{link.size}")
    if pack.branch is not None:
        layer, gen = pack.branch["layer"], bundle.generator
        channels = gen.channels[layer] * gen.ch if 1 <= layer <= gen.n_blocks else None
        w1, w2 = pack.branch["w1"], pack.branch["w2"]
        rank = w1.shape[0] if w1.ndim == 4 else None
        if channels is None or w1.shape != (rank, channels, 3, 3) or w2.shape != (channels, rank, 1, 1) \
                or pack.branch["b1"].shape != (rank,) or pack.branch["b2"].shape != (channels,):
            raise ClassPackError(f"{where}: its branch does not fit the generator's blend layer {layer}")


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
    _check_takes_classes(bundle)
    vocab = bundle.vocabulary
    for pack in packs:
        _check_fits(bundle, pack)
        vocab = _extend_vocabulary(vocab, pack)
        gen = bundle.generator
        for name, link in _class_layers(gen):
            gamma, beta = pack.generator[name]
            _append_row(link.gammas.W, gamma)
            _append_row(link.betas.W, beta)
            link.n_classes += 1
        gen.n_classes += 1
        if pack.branch is not None:
            from neuralcollage.models.generator import ClassBranch
            branch = ClassBranch(pack.branch["layer"], *(pack.branch[key] for key in _BRANCH_ARRAYS))
            gen.class_branches = {**(gen.class_branches or {}), gen.n_classes - 1: branch.to_device(gen.device)}
        dis = bundle.discriminator
        if dis is not None:
            row = pack.discriminator if pack.discriminator is not None else _effective_l_y(dis).mean(axis=0)
            dis.add_class_row(row)
        enc = bundle.encoder
        if enc is not None:
            row = pack.encoder if pack.encoder is not None else numpy.zeros(enc.hidden, numpy.float32)
            _append_row(enc.l_y.W, row)
            enc.n_classes += 1
        bundle.sha256[f"class:{pack.name}"] = pack.sha256
        if pack.path:
            bundle.files[f"class:{pack.name}"] = pack.path
        bundle.notes.append(f"class pack {os.path.basename(pack.path or pack.name)}: added class {pack.name!r} "
                            f"as index {gen.n_classes - 1}")
        existing = list(getattr(bundle, "class_packs", ()) or ())
        bundle.class_packs = existing + [pack]
        bundle.name = f"{bundle.name}+{pack.path or pack.name}"
    bundle.vocabulary = vocab
    return bundle


def _extend_vocabulary(vocab, pack):
    """``vocab`` with the pack's class appended (its name and synonyms must be new)."""
    from neuralcollage.labels import Vocabulary
    for s in (pack.name,) + tuple(pack.synonyms):
        if _known(vocab, s):
            raise ClassPackError(f"class pack {pack.path or pack.name}: the model already has a class named {s!r}")
    names = [vocab.synonyms(i) for i in range(len(vocab))] + [(pack.name,) + tuple(pack.synonyms)]
    ids = None if vocab.ids is None else list(vocab.ids) + [f"pack:{pack.name}"]
    return Vocabulary(f"{vocab.name}+{pack.name}", names, ids=ids)


def vocabulary_with_packs(vocab, packs):
    """The vocabulary of a model with class packs loaded, without loading the model (the packs' base sha256 is
    checked when the model itself is loaded)."""
    for pack in packs:
        vocab = _extend_vocabulary(vocab, pack if isinstance(pack, ClassPack) else load_pack(pack))
    return vocab


def _known(vocab, name):
    """Whether ``name`` already names a class of ``vocab`` (digit strings count as indices, so they are taken)."""
    return name.strip().isdigit() or name in vocab


def _append_row(param, row):
    xp = param.xp if hasattr(param, "xp") else numpy
    row = xp.asarray(row, dtype=param.array.dtype).reshape(1, -1)
    param.array = xp.concatenate([param.array, row], axis=0)
    param.grad = None


def _effective_l_y(dis):
    """The discriminator's projection table as used (spectrally normalised), NumPy ``(K, C)``."""
    from neuralcollage.backend import to_numpy
    import chainer
    link = dis.l_y
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        hooks = link.local_link_hooks
        w = hooks["SpectralNormalization"].normalize_weight(link) if "SpectralNormalization" in hooks else link.W
    return to_numpy(w.array if hasattr(w, "array") else w)[:dis.n_classes - dis.n_extra_classes]


# ------------------------------------------------------------------------------------------------ images

def prepare_images(images, resolution):
    """Training images as the generator sees them: each HWC uint8 RGB image (any size) is cut to its centred
    largest square and resized to ``resolution`` (area when shrinking, bicubic when enlarging), as edits crop.

    Returns:
        ``(N, resolution, resolution, 3)`` uint8.

    Raises:
        InputError: not a list of HWC uint8 RGB images.
    """
    from neuralcollage.blending import crop_and_resize
    out = []
    for i, image in enumerate(images):
        arr = numpy.asarray(image)
        if arr.dtype != numpy.uint8 or arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 1:
            raise InputError(f"training image {i} must be an (H, W, 3) uint8 RGB array; got {arr.dtype} "
                             f"{arr.shape}")
        h, w = arr.shape[:2]
        side = min(h, w)
        out.append(crop_and_resize(arr, ((h - side) // 2, (w - side) // 2, side), resolution))
    return numpy.stack(out) if out else numpy.zeros((0, resolution, resolution, 3), numpy.uint8)


def closeup_crops(images, resolution, *, per_image, zoom=DEFAULTS["closeup_zoom"], seed=0):
    """Close-ups of the training images, the framing an edit of a part sends to the generator: for each image
    (its centred largest square, as :func:`prepare_images` cuts it) ``per_image`` square windows of side
    ``side / zoom`` (``zoom`` uniform in ``zoom = (low, high)``) at uniformly random positions inside it,
    resized to ``resolution``; drawn from ``numpy.random.default_rng([seed, 0xC105E])``.

    Returns:
        ``(len(images) * per_image, resolution, resolution, 3)`` uint8, image by image.

    Raises:
        InputError: ``zoom`` not ``1 <= low <= high`` or ``per_image < 0``.
    """
    from neuralcollage.blending import crop_and_resize
    low, high = (float(v) for v in zoom)
    if not 1.0 <= low <= high or int(per_image) < 0:
        raise InputError(f"close-ups need 1 <= zoom low <= high and per_image >= 0; got {zoom}, {per_image}")
    rng = numpy.random.default_rng([int(seed), 0xC105E])
    out = []
    for image in images:
        arr = numpy.asarray(image)
        h, w = arr.shape[:2]
        side = min(h, w)
        top0, left0 = (h - side) // 2, (w - side) // 2
        for _ in range(int(per_image)):
            size = max(1, int(round(side / rng.uniform(low, high))))
            top, left = (int(rng.integers(0, side - size + 1)) for _ in range(2))
            out.append(crop_and_resize(arr, (top0 + top, left0 + left, size), resolution))
    return numpy.stack(out) if out else numpy.zeros((0, resolution, resolution, 3), numpy.uint8)


def nearest_class(bundle, x, *, by="scores"):
    """The existing class the images ``x`` (NCHW float32 in [-1, 1]) resemble most.

    ``by="scores"`` (what :func:`add_class` uses): the highest mean discriminator class score (old classes
    only); without a discriminator, the class whose generated samples' mean colour is closest.
    ``by="reconstruction"`` (needs an encoder): the class ``c`` whose encoder-initialised reconstructions
    ``G(E(x, c), c)`` are closest to ``x`` (mean L1 plus ``1 - cos`` of the discriminator's features when
    there is one); on the built-in model it picks cat for both koala and tiger renders."""
    import chainer
    from neuralcollage.backend import to_numpy
    from neuralcollage.links import fastconv
    gen, dis, enc = bundle.generator, bundle.discriminator, bundle.encoder
    k = base_record(bundle)["n_classes"]
    with chainer.using_config("train", False), chainer.no_backprop_mode(), fastconv.constant_parameters():
        if by == "reconstruction" and enc is not None:
            xd = gen.device.send(x)
            phi_x = to_numpy(dis.feature_vector(xd).array) if dis is not None else None
            costs = []
            for c in range(k):
                z = enc.forward(enc.device.send(x), c).array
                img = gen.forward(gen.device.send(z), c).array
                cost = float(numpy.abs(to_numpy(img) - x).mean())
                if phi_x is not None:
                    phi = to_numpy(dis.feature_vector(img).array)
                    cos = (phi * phi_x).sum(1) / (numpy.linalg.norm(phi, axis=1) * numpy.linalg.norm(phi_x, axis=1)
                                                  + 1e-12)
                    cost += float((1.0 - cos).mean())
                costs.append(cost)
            return int(numpy.argmin(costs))
    return int(class_ranking(bundle, x)[0])


def class_ranking(bundle, x):
    """The base model's classes ordered from the one the images ``x`` (NCHW float32 in [-1, 1]) resemble most,
    by :func:`nearest_class`'s ``by="scores"`` criterion: ``(K,)`` int array."""
    import chainer
    from neuralcollage.backend import to_numpy
    from neuralcollage.links import fastconv
    gen, dis = bundle.generator, bundle.discriminator
    k = base_record(bundle)["n_classes"]
    with chainer.using_config("train", False), chainer.no_backprop_mode(), fastconv.constant_parameters():
        if dis is not None:
            scores = to_numpy(dis.class_scores(dis.device.send(x)).array)[:, :k]
            return numpy.argsort(-scores.mean(axis=0), kind="stable")
        target = x.mean(axis=(0, 2, 3))
        dists = []
        for c in range(k):
            img = to_numpy(gen.forward(gen.sample_z(8, seed=c), c).array)
            dists.append(float(((img.mean(axis=(0, 2, 3)) - target) ** 2).sum()))
    return numpy.argsort(numpy.asarray(dists), kind="stable")


# ------------------------------------------------------------------------------------------------ training

def _forward_rows(gen, z, rows, branch=None):
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


def _tables(gen, k):
    """Old classes' rows per class layer: ``[(Gamma (k, C), B (k, C))]`` arrays on the generator's device."""
    return [(link.gammas.W.array[:k], link.betas.W.array[:k]) for _, link in _class_layers(gen)]


def _head(dis):
    """The discriminator's unconditional linear layer as constant arrays ``(w (C,), b ())``."""
    import chainer
    link = getattr(dis, dis.linear_name)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        hooks = link.local_link_hooks
        w = hooks["SpectralNormalization"].normalize_weight(link) if "SpectralNormalization" in hooks else link.W
    w = w.array if hasattr(w, "array") else w
    b = link.b.array if link.b is not None else dis.xp.zeros((1,), numpy.float32)
    return w.reshape(-1), b.reshape(())


def add_class(bundle, images, name, *, steps=DEFAULTS["steps"], seed=0, synonyms=(), method=DEFAULTS["method"],
              batch_size=DEFAULTS["batch_size"], lr_rows=DEFAULTS["lr_rows"], lr_z=DEFAULTS["lr_z"],
              lr_head=DEFAULTS["lr_head"], adversarial=DEFAULTS["adversarial"],
              tune_d_blocks=DEFAULTS["tune_d_blocks"],
              perceptual=DEFAULTS["perceptual"], prior=DEFAULTS["prior"], sparsity=DEFAULTS["sparsity"],
              encoder_steps=DEFAULTS["encoder_steps"], init_class=DEFAULTS["init_class"],
              search_steps=DEFAULTS["search_steps"], search_candidates=DEFAULTS["search_candidates"],
              closeups=DEFAULTS["closeups"], closeup_zoom=DEFAULTS["closeup_zoom"],
              branch_layer=DEFAULTS["branch_layer"], branch_rank=DEFAULTS["branch_rank"],
              lr_branch=DEFAULTS["lr_branch"], callback=None):
    """Learn a new class from a few images; returns a :class:`ClassPack` (not saved: call ``pack.save``).

    Args:
        bundle: the base model (:func:`neuralcollage.pretrained.load_bundle`); not modified.  Packs already
            loaded on it are ignored (the new pack is for the base model alone).
        images: at least :data:`MIN_IMAGES` HWC uint8 RGB images of any size (see :func:`prepare_images`).
        name: the new class's name; must not name an existing class.
        steps: training steps (ignored by ``method="nearest"``).
        seed: the seed of every random choice (latent draws, batches, flips).
        synonyms: further names of the class.
        method: one of :data:`METHODS` (see the module documentation).
        batch_size: images per step (reconstruction) and generated samples per step (adversarial).
        lr_rows, lr_z, lr_head: Adam step sizes of the CBN rows (and combination weights), the per-image
            latents and the discriminator's projection row.
        adversarial: weight of the generator's adversarial loss (0: reconstruction only; needs a
            discriminator).
        tune_d_blocks: with ``adversarial > 0``, fine-tune a copy of the discriminator's top ``tune_d_blocks``
            blocks (its lower blocks and linear layer stay frozen, as in FreezeD) together with the new
            projection row; 0: only the projection row.  The copy is used in training only: the pack's
            projection row is then the start class's (the trained one belongs to the tuned copy).
        perceptual: weight of ``1 - cos`` of the discriminator's last feature maps (needs a discriminator).
        prior: weight of the latents' prior ``mean(z ** 2)``.
        sparsity: L1 weight on the combination weights (``method="combination"``).
        encoder_steps: Adam steps fitting the encoder's class row to the trained latents (when the model has
            an encoder).
        init_class: the existing class (index or name) the rows start from; ``"nearest"`` (or None):
            :func:`nearest_class` (the discriminator's class scores); ``"search"`` (default): train
            ``search_steps`` steps from every old class (reconstruction only, the same batches) and start from
            the one with the lowest final reconstruction loss (the main training is then the same as with that
            class given; it costs about ``search_steps * K / steps`` more time). The default is the search
            because it measured better (docs/few_shot.md: koala 94.2% judged from the searched start, 64.5%
            from the nearest class).
        search_steps: steps per class of ``init_class="search"``.
        search_candidates: the search tries only this many classes, those the discriminator scores highest
            (:func:`class_ranking`; all six of the built-in model, 6 of the 143 of ``dogcat256``).
        closeups: close-ups per training image added to the training set (:func:`closeup_crops`: a random
            square window of the image, enlarged ``closeup_zoom`` times, the framing an edit of a part sends to
            the generator); each gets its own latent and is reconstructed like the images.  0: whole images only.
            The search (``init_class="search"``) uses the whole images only.
        closeup_zoom: ``(low, high)`` enlargement of the close-ups (uniform), each >= 1.
        branch_layer, branch_rank, lr_branch: ``method="branch"``: the blend layer after which the branch
            acts (1 .. ``n_blocks``; 2 is the 16x16 features of the built-in model), its hidden channels and its
            Adam step size.  Its output convolution starts at zero, so training starts from the rows alone.
        callback: ``callback(step, loss)`` after every step (e.g. a progress bar); ``loss`` is the
            reconstruction loss (L1 plus the weighted perceptual term).

    Raises:
        InputError: too few or malformed images, an empty name or one the model already has, bad options.
        ClassPackError: a model that cannot take classes (BigGAN-deep).
    """
    import chainer
    import chainer.functions as F
    from neuralcollage.backend import random_state, to_numpy
    from neuralcollage.io import to_model
    from neuralcollage.links import fastconv

    _check_takes_classes(bundle)
    name = str(name).strip()
    synonyms = tuple(str(s).strip() for s in synonyms if str(s).strip())
    if not name:
        raise InputError("the new class needs a name")
    for s in (name,) + synonyms:
        if _known(bundle.vocabulary, s):
            raise InputError(f"model {_base_name(bundle)} already has a class named {s!r}; choose another name")
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    images = list(images)
    if len(images) < MIN_IMAGES:
        raise InputError(f"{len(images)} training image{'s' if len(images) != 1 else ''} given; adding a class "
                         f"needs at least {MIN_IMAGES} (10 or more work better)")
    if int(steps) < 0 or int(batch_size) < 1:
        raise InputError("steps must be >= 0 and batch_size >= 1")
    gen, dis, enc = bundle.generator, bundle.discriminator, bundle.encoder
    if method == "branch" and not (1 <= int(branch_layer) <= gen.n_blocks and int(branch_rank) >= 1):
        raise InputError(f"branch_layer must be between 1 and the generator's {gen.n_blocks} blocks and "
                         f"branch_rank >= 1")
    base = base_record(bundle)
    k = base["n_classes"]
    if adversarial > 0 and dis is None:
        adversarial = 0.0
    if perceptual > 0 and dis is None:
        perceptual = 0.0
    tuned = None
    if int(tune_d_blocks) and adversarial > 0:
        if not 0 < int(tune_d_blocks) <= len(dis.blocks):
            raise InputError(f"tune_d_blocks must be between 0 and the discriminator's {len(dis.blocks)} blocks")
        tuned = _TunedTop(dis, int(tune_d_blocks))
    crops = prepare_images(images, gen.resolution)
    whole = crops
    if int(closeups) > 0:
        crops = numpy.concatenate([crops, closeup_crops(images, gen.resolution, per_image=int(closeups),
                                                        zoom=closeup_zoom, seed=seed)])
    x_np = to_model(crops)
    n = x_np.shape[0]
    search = None
    search_started = time.perf_counter()
    if method == "nearest" and init_class == "search":
        init_class = "nearest"  # no training: the baseline copies the discriminator's choice
    if init_class == "search":
        if int(search_candidates) < 1:
            raise InputError("search_candidates must be >= 1")
        candidates = sorted(int(c) for c in class_ranking(bundle, x_np)[:int(search_candidates)])
        search = _search_init(bundle, images, name, candidates, seed=seed, steps=int(search_steps),
                              batch_size=batch_size, lr_rows=lr_rows, lr_z=lr_z, perceptual=perceptual, prior=prior)
        init = min(search, key=search.get)
    elif init_class is None or init_class == "nearest":
        init = nearest_class(bundle, x_np)
    elif isinstance(init_class, str):
        init = bundle.vocabulary.index(init_class)
    else:
        init = int(init_class)
    if not 0 <= init < k:
        raise InputError(f"init_class must be one of the base model's {k} classes")
    rng = random_state(seed)
    layers = _class_layers(gen)
    tables = _tables(gen, k)
    device = gen.device
    xp = gen.xp
    x = device.send(x_np)
    search_seconds = time.perf_counter() - search_started
    started = time.perf_counter()
    record = {"method": method, "steps": int(steps) if method != "nearest" else 0, "seed": int(seed),
              "n_images": n, "init_class": bundle.vocabulary.names[init], "batch_size": int(batch_size),
              "lr_rows": lr_rows, "lr_z": lr_z, "lr_head": lr_head, "adversarial": float(adversarial),
              "perceptual": float(perceptual), "prior": float(prior),
              **({"tune_d_blocks": int(tune_d_blocks)} if tuned is not None else {}),
              "images_sha256": [hashlib.sha256(c.tobytes()).hexdigest() for c in whole], "losses": []}
    record.update(n_images=len(whole), closeups=int(closeups))
    if int(closeups) > 0:
        record["closeup_zoom"] = [float(v) for v in closeup_zoom]
    if method == "combination":
        record["sparsity"] = float(sparsity)
    if method == "branch":
        record.update(branch_layer=int(branch_layer), branch_rank=int(branch_rank), lr_branch=float(lr_branch))
    if search is not None:
        record["init_search"] = {"steps": int(search_steps), "seconds": round(search_seconds, 2),
                                 "losses": {bundle.vocabulary.names[c]: round(v, 5) for c, v in search.items()}}

    # trainable state
    class _State(chainer.Link):
        pass

    rows_link, z_link, head_link, branch_link = _State(), _State(), _State(), _State()
    branch = None
    if method == "branch":
        from neuralcollage.models.generator import ClassBranch
        width, rank = gen.channels[int(branch_layer)] * gen.ch, int(branch_rank)
        w1 = numpy.random.default_rng([int(seed), 0xB4A]).standard_normal((rank, width, 3, 3)).astype(
            numpy.float32) * numpy.float32(
            numpy.sqrt(2.0 / (9 * width)))
        with branch_link.init_scope():
            branch_link.w1 = chainer.Parameter(device.send(w1))
            branch_link.b1 = chainer.Parameter(xp.zeros(rank, numpy.float32))
            branch_link.w2 = chainer.Parameter(xp.zeros((width, rank, 1, 1), numpy.float32))
            branch_link.b2 = chainer.Parameter(xp.zeros(width, numpy.float32))
        branch = ClassBranch(int(branch_layer), branch_link.w1, branch_link.b1, branch_link.w2, branch_link.b2)
    with rows_link.init_scope():
        if method == "combination":
            weights = numpy.zeros(k, numpy.float32)
            weights[init] = 1.0
            rows_link.mix = chainer.Parameter(xp.asarray(numpy.tile(weights, (len(layers), 1))))
            for i, (g, bt) in enumerate(tables):
                setattr(rows_link, f"dg{i}", chainer.Parameter(xp.zeros(g.shape[1], numpy.float32)))
                setattr(rows_link, f"db{i}", chainer.Parameter(xp.zeros(bt.shape[1], numpy.float32)))
        else:
            for i, (g, bt) in enumerate(tables):
                setattr(rows_link, f"g{i}", chainer.Parameter(g[init].copy()))
                setattr(rows_link, f"b{i}", chainer.Parameter(bt[init].copy()))
    if enc is not None:
        z0 = enc.encode(crops, numpy.full(n, init, numpy.int32))
    else:
        z0 = rng.standard_normal((n, gen.dim_z)).astype(numpy.float32) * 0.5
    with z_link.init_scope():
        z_link.z = chainer.Parameter(device.send(z0.astype(numpy.float32)))
    d_row0 = None
    if dis is not None:
        d_row0 = _effective_l_y(dis)[init].astype(numpy.float32)
        with head_link.init_scope():
            head_link.r = chainer.Parameter(dis.device.send(d_row0.copy()))

    def rows():
        if method == "combination":
            out = []
            for i, (g, bt) in enumerate(tables):
                w = F.reshape(rows_link.mix[i], (1, k))
                out.append((F.reshape(F.matmul(w, g), (-1,)) + getattr(rows_link, f"dg{i}"),
                            F.reshape(F.matmul(w, bt), (-1,)) + getattr(rows_link, f"db{i}")))
            return out
        return [(getattr(rows_link, f"g{i}"), getattr(rows_link, f"b{i}")) for i in range(len(tables))]

    optimizers = []
    for link, lr in ((rows_link, lr_rows), (z_link, lr_z), (head_link, lr_head), (branch_link, lr_branch)):
        if any(True for _ in link.params()):
            opt = chainer.optimizers.Adam(alpha=lr, beta1=0.5, beta2=0.999)
            opt.setup(link)
            optimizers.append(opt)
    if tuned is not None:
        opt = chainer.optimizers.Adam(alpha=lr_head, beta1=0.5, beta2=0.999)
        opt.setup(tuned.top)
        optimizers.append(opt)

    train_steps = 0 if method == "nearest" else int(steps)
    with chainer.using_config("train", False), fastconv.constant_parameters():
        phi_real = f_real = f_real_flip = None
        if dis is not None:
            with chainer.no_backprop_mode():
                phi_real = dis.feature_vector(x).array
                if adversarial > 0:
                    f_real = F.sum(dis.features(x), axis=(2, 3)).array
                    f_real_flip = F.sum(dis.features(x[:, :, :, ::-1]), axis=(2, 3)).array
                if tuned is not None:
                    h_real, h_real_flip = tuned.low(x).array, tuned.low(x[:, :, :, ::-1]).array
            w_lin, b_lin = _head(dis)
        for step in range(train_steps):
            for link in (rows_link, z_link, head_link, branch_link):
                link.cleargrads()
            idx = rng.choice(n, size=min(int(batch_size), n), replace=False)
            idx_dev = device.send(idx.astype(numpy.int32))
            r = rows()
            zb = F.get_item(z_link.z, idx_dev)
            fake = _forward_rows(gen, zb, r, branch)
            xb = x[idx_dev]
            loss_rec = F.mean(F.absolute(fake - xb))
            parts = {"l1": float(loss_rec.array)}
            loss = loss_rec
            if perceptual > 0:
                phi = dis.feature_vector(fake)
                target = phi_real[idx_dev]
                cos = F.sum(phi * target, axis=1) / (
                    F.sqrt(F.sum(phi * phi, axis=1) + 1e-12) * xp.sqrt((target * target).sum(axis=1) + 1e-12))
                loss_p = F.mean(1.0 - cos)
                loss = loss + perceptual * loss_p
                parts["perceptual"] = float(loss_p.array)
            if prior > 0:
                loss = loss + prior * F.mean(zb * zb)
            if method == "combination" and sparsity > 0:
                loss = loss + sparsity * F.sum(F.absolute(rows_link.mix))
            late = None
            if tuned is not None:
                zr = device.send(rng.standard_normal((int(batch_size), gen.dim_z)).astype(numpy.float32))
                h_fake = tuned.low(_forward_rows(gen, zr, r, branch))
                f_fake = tuned.head(h_fake)
                rv = head_link.r
                w_col = xp.asarray(w_lin)[:, None]
                loss_g = -F.mean(F.matmul(f_fake, w_col)[:, 0] + b_lin + F.matmul(f_fake, rv.array[:, None])[:, 0])
                loss = loss + adversarial * loss_g
                parts["adv_g"] = float(loss_g.array)
                flips = device.send(rng.randint(0, 2, size=len(idx)).astype(bool))

                def late():
                    tuned.top.cleargrads()
                    head_link.cleargrads()
                    hr = xp.where(flips[:, None, None, None], h_real_flip[idx_dev], h_real[idx_dev])
                    fr, ff = tuned.head(hr), tuned.head(h_fake.array)
                    col = F.reshape(head_link.r, (-1, 1))
                    score_real = F.matmul(fr, w_col)[:, 0] + b_lin + F.matmul(fr, col)[:, 0]
                    score_fake = F.matmul(ff, w_col)[:, 0] + b_lin + F.matmul(ff, col)[:, 0]
                    loss_d = F.mean(F.relu(1.0 - score_real)) + F.mean(F.relu(1.0 + score_fake))
                    loss_d.backward()
                    parts["adv_d"] = float(loss_d.array)
            elif adversarial > 0:
                zr = device.send(rng.standard_normal((int(batch_size), gen.dim_z)).astype(numpy.float32))
                gen_fake = _forward_rows(gen, zr, r, branch)
                f_fake = F.sum(dis.features(gen_fake), axis=(2, 3))
                rv = head_link.r
                score_g = F.matmul(f_fake, xp.asarray(w_lin)[:, None])[:, 0] + b_lin + F.matmul(f_fake, rv.array[:, None])[:, 0]
                loss_g = -F.mean(score_g)
                flips = rng.randint(0, 2, size=len(idx)).astype(bool)
                fr = xp.where(device.send(flips)[:, None], f_real_flip[idx_dev], f_real[idx_dev])
                score_real = fr @ w_lin + b_lin + F.matmul(fr, F.reshape(rv, (-1, 1)))[:, 0]
                ff = f_fake.array
                score_fake = ff @ w_lin + b_lin + F.matmul(ff, F.reshape(rv, (-1, 1)))[:, 0]
                loss_d = F.mean(F.relu(1.0 - score_real)) + F.mean(F.relu(1.0 + score_fake))
                loss = loss + adversarial * loss_g + loss_d
                parts["adv_g"], parts["adv_d"] = float(loss_g.array), float(loss_d.array)
            loss.backward()
            if late is not None:  # the tuned discriminator learns from its own loss only
                late()
            for opt in optimizers:
                opt.update()
            value = parts["l1"] + perceptual * parts.get("perceptual", 0.0)
            if step % 10 == 0 or step == train_steps - 1:
                record["losses"].append({"step": step, "reconstruction": round(value, 5),
                                         **{k2: round(v, 5) for k2, v in parts.items()}})
            if callback is not None:
                callback(step, value)

        with chainer.no_backprop_mode():
            final = [(to_numpy(g.array).astype(numpy.float32), to_numpy(bt.array).astype(numpy.float32))
                     for g, bt in rows()]
    generator_rows = {lname: final[i] for i, (lname, _) in enumerate(layers)}
    if method == "combination":
        record["combination"] = to_numpy(rows_link.mix.array).round(4).tolist()
    d_row = None
    if dis is not None:
        trained_row = train_steps and adversarial > 0 and tuned is None
        d_row = to_numpy(head_link.r.array).astype(numpy.float32) if trained_row else d_row0
    e_row = None
    if enc is not None:
        e_row = _fit_encoder_row(enc, crops, to_numpy(z_link.z.array), init, k,
                                 steps=int(encoder_steps) if train_steps else 0, seed=seed)
    record["seconds"] = round(time.perf_counter() - started, 2)  # training; the search's are in init_search
    record["total_seconds"] = round(time.perf_counter() - search_started, 2)
    pack_branch = None
    if branch is not None:
        pack_branch = {"layer": int(branch_layer), **{key: to_numpy(getattr(branch_link, key).array).astype(
            numpy.float32) for key in _BRANCH_ARRAYS}}
    return ClassPack(name=name, synonyms=synonyms, base=base, generator=generator_rows, discriminator=d_row,
                     encoder=e_row, record=record, branch=pack_branch)


class _TunedTop:
    """FreezeD: the discriminator's lower blocks (frozen, shared) and a trainable copy of its top blocks."""

    def __init__(self, dis, n_top):
        import copy
        import chainer
        blocks = dis.blocks
        self.lower = blocks[:len(blocks) - n_top]
        self.top = chainer.ChainList(*[copy.deepcopy(b) for b in blocks[len(blocks) - n_top:]])
        self.top.cleargrads()  # a copy may carry the loaded parameters' uninitialised gradient arrays

    def low(self, x):
        h = x
        for block in self.lower:
            h = block(h)
        return h

    def head(self, h):
        """``sum_hw relu(top(h))``, ``(N, C)``, with gradients reaching the copied blocks' parameters."""
        import chainer.functions as F
        from neuralcollage.links import fastconv
        with fastconv.constant_parameters(False):
            for block in self.top:
                h = block(h)
            return F.sum(F.relu(h), axis=(2, 3))


def _search_init(bundle, images, name, candidates, *, seed, steps, **kwargs):
    """Final reconstruction loss of a short reconstruction-only run from each candidate class: {class: loss}
    (in ``candidates``' order; the first lowest wins)."""
    out = {}
    for c in candidates:
        pack = add_class(bundle, images, name, steps=max(int(steps), 1), seed=seed, method="rows", adversarial=0.0,
                         encoder_steps=0, init_class=c, **kwargs)
        out[c] = float(pack.record["losses"][-1]["reconstruction"])
    return out


def _fit_encoder_row(enc, crops, z_target, init, k, *, steps, seed):
    """The encoder's class row for the new class: the nearest class's, then ``steps`` Adam steps so that
    ``E(x_i, new) ≈ z_i`` (the trained latents)."""
    import chainer
    import chainer.functions as F
    from neuralcollage.backend import to_numpy
    from neuralcollage.io import to_model
    row0 = to_numpy(enc.l_y.W.array[init]).astype(numpy.float32)
    if steps <= 0:
        return row0
    x = enc.device.send(to_model(crops))
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        a = enc.l_hidden(F.reshape(enc.body(x), (x.shape[0], -1))).array
    holder = chainer.Link()
    with holder.init_scope():
        holder.e = chainer.Parameter(enc.device.send(row0.copy()))
    opt = chainer.optimizers.Adam(alpha=0.01)
    opt.setup(holder)
    target = enc.device.send(z_target)
    w_out, b_out = enc.l_out.W.array, enc.l_out.b.array
    for _ in range(steps):
        holder.cleargrads()
        h = F.relu(a + F.broadcast_to(holder.e, a.shape))
        z = F.linear(h, w_out, b_out)
        loss = F.mean_squared_error(z, target)
        loss.backward()
        opt.update()
    return to_numpy(holder.e.array).astype(numpy.float32)


# ------------------------------------------------------------------------------------------------ samples

def copy_bundle(bundle):
    """A copy of ``bundle`` whose generator, discriminator and encoder are deep copies (packs can then be
    applied to it without touching ``bundle``)."""
    import copy
    return dataclasses.replace(
        bundle, generator=copy.deepcopy(bundle.generator), discriminator=copy.deepcopy(bundle.discriminator),
        encoder=copy.deepcopy(bundle.encoder), sha256=dict(bundle.sha256), files=dict(bundle.files),
        notes=list(bundle.notes), class_packs=list(getattr(bundle, "class_packs", ()) or ()))


def pack_samples(bundle, pack, *, n=16, seed=0):
    """``n`` samples of the pack's class from the base model ``bundle`` (not modified; the pack is applied to a
    copy): ``(n, R, R, 3)`` uint8, as ``collage generate`` makes them (latents ``gen.sample_z(n, seed=seed)``)."""
    import copy
    import chainer
    from neuralcollage.backend import to_numpy
    from neuralcollage.io import from_model
    from neuralcollage.links import fastconv
    extended = apply_packs(copy_bundle(bundle), [pack])
    gen = extended.generator
    with chainer.using_config("train", False), chainer.no_backprop_mode(), fastconv.constant_parameters():
        out = gen.forward(gen.sample_z(n, seed=seed), gen.n_classes - 1)
    return from_model(to_numpy(out.array))

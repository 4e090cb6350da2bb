"""Class packs: the file a new class is saved in (:class:`ClassPack`, :func:`load_pack`).

See :mod:`neuralcollage.classes` for what a pack holds and how it is learnt."""
from neuralcollage import _compat  # noqa: F401

import dataclasses
import hashlib
import io as _io
import json
import os
from typing import Any, Dict, Optional, Tuple

import numpy

from neuralcollage.snapshot import SnapshotError

__all__ = ["ClassPack", "ClassPackError", "PACK_FORMAT", "PACK_VERSION", "BRANCH_ARRAYS", "CLOSEUP_SUFFIX",
           "closeup_name", "load_pack"]

PACK_FORMAT = "neuralcollage-class-pack"
#: The arrays of a per-class branch (``branch/<name>`` in the file).
BRANCH_ARRAYS = ("w1", "b1", "w2", "b2")
PACK_VERSION = 1
#: What a close-up variant's class name adds to the pack's (``"koala (close-up)"``).
CLOSEUP_SUFFIX = " (close-up)"


def closeup_name(name):
    """The vocabulary name of the close-up variant of class ``name``."""
    return f"{name}{CLOSEUP_SUFFIX}"


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
        closeup: the class's **close-up variant**, or None: ``{"generator": rows as above, "branch": a branch
            as above or None, "record": how it was trained}``, learnt on close-ups of the images (the framing an
            edit of a part sends to the generator).  Loaded, it is a class of its own
            (:func:`closeup_name`), and :func:`neuralcollage.collage.edit_photo` draws the class with it when the
            crop is a part of the photo.
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
    closeup: Optional[Dict[str, Any]] = None
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
        out = _rows_arrays("", self.generator)
        if self.discriminator is not None:
            out["discriminator/l_y"] = numpy.asarray(self.discriminator, numpy.float32)
        if self.encoder is not None:
            out["encoder/l_y"] = numpy.asarray(self.encoder, numpy.float32)
        out.update(_branch_arrays("", self.branch))
        if self.closeup is not None:
            variant = self.closeup
            if list(variant["generator"]) != list(self.generator):
                raise ValueError("the close-up variant's layers must be the class's")
            meta["closeup"] = {"record": variant.get("record") or {}}
            if variant.get("branch") is not None:
                meta["closeup"]["branch_layer"] = int(variant["branch"]["layer"])
            out.update(_rows_arrays("closeup/", variant["generator"]))
            out.update(_branch_arrays("closeup/", variant.get("branch")))
        return {"meta": numpy.array(json.dumps(meta, allow_nan=False)), **out}

    def without_closeup(self, **record):
        """A copy without the close-up variant (not saved: ``path`` and ``sha256`` None), its record updated with
        ``record``; arrays are shared."""
        return dataclasses.replace(self, closeup=None, record={**self.record, **record}, path=None, sha256=None)

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


def _rows_arrays(prefix, generator):
    out = {}
    for layer, (gamma, beta) in generator.items():
        out[f"{prefix}generator/{layer}/gamma"] = numpy.asarray(gamma, numpy.float32)
        out[f"{prefix}generator/{layer}/beta"] = numpy.asarray(beta, numpy.float32)
    return out


def _branch_arrays(prefix, branch):
    if branch is None:
        return {}
    return {f"{prefix}branch/{key}": numpy.asarray(branch[key], numpy.float32) for key in BRANCH_ARRAYS}


def _get_rows(arrays, prefix, layers, branch_layer):
    generator = {layer: (arrays[f"{prefix}generator/{layer}/gamma"].astype(numpy.float32),
                         arrays[f"{prefix}generator/{layer}/beta"].astype(numpy.float32)) for layer in layers}
    branch = None
    if branch_layer is not None:
        branch = {"layer": int(branch_layer),
                  **{key: arrays[f"{prefix}branch/{key}"].astype(numpy.float32) for key in BRANCH_ARRAYS}}
    return generator, branch


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
        generator, branch = _get_rows(arrays, "", meta["layers"], meta.get("branch_layer"))
        closeup = None
        if meta.get("closeup") is not None:
            variant = dict(meta["closeup"])
            rows, variant_branch = _get_rows(arrays, "closeup/", meta["layers"], variant.get("branch_layer"))
            closeup = {"generator": rows, "branch": variant_branch, "record": dict(variant.get("record") or {})}
        return ClassPack(name=str(meta["name"]), synonyms=tuple(str(s) for s in meta.get("synonyms", ())),
                         base=dict(meta["base"]), generator=generator,
                         discriminator=arrays.get("discriminator/l_y"), encoder=arrays.get("encoder/l_y"),
                         record=dict(meta.get("record") or {}), path=path,
                         sha256=hashlib.sha256(data).hexdigest(), branch=branch, closeup=closeup)
    except (KeyError, TypeError, ValueError) as exc:
        raise ClassPackError(f"class pack {path} is incomplete: {type(exc).__name__}: {exc}") from None


"""Loading a model bundle (:func:`load_bundle`): a registered name or a path to the generator, its sibling
files, checksums and vocabulary, class packs.
"""
from neuralcollage import _compat  # noqa: F401

import dataclasses
import os
from typing import Any, Dict, List, Optional

from neuralcollage.pretrained.hashes import (file_sha256, manifest_sha256, read_manifest, recorded_hashes,
                                             store_hash, verify_sha256)
from neuralcollage.pretrained.registry import (BUNDLE_KINDS, entry_files, find_file, find_generator, hashes_path,
                                               install_instructions, manifest_path, not_installed_error,
                                               resolve_model)
from neuralcollage.pretrained.vocabulary import check_vocabulary, named_vocabulary, path_vocabulary, peek_config
from neuralcollage.snapshot import SnapshotError

__all__ = ["ModelBundle", "load_bundle"]


@dataclasses.dataclass
class ModelBundle:
    """Everything one model offers, loaded.

    Attributes:
        name: registry name, or the absolute path of the generator file for models loaded by path.
        generator: :class:`neuralcollage.models.Generator`.
        discriminator, encoder, classifier, part_classifier: the links, or None when absent.
        vocabulary: :class:`neuralcollage.labels.Vocabulary` (one class per generator class).
        sha256: kind -> sha256 hex digest of every loaded file.
        files: kind -> absolute path of every loaded file.
        arch: the generator preset name when known, else None.
        notes: one-line remarks about the load (files present but skipped, checksums recorded, ...).
    """

    name: str
    generator: Any
    discriminator: Any = None
    encoder: Any = None
    classifier: Any = None
    part_classifier: Any = None
    vocabulary: Any = None
    sha256: Dict[str, str] = dataclasses.field(default_factory=dict)
    files: Dict[str, str] = dataclasses.field(default_factory=dict)
    arch: Optional[str] = None
    notes: List[str] = dataclasses.field(default_factory=list)
    #: :class:`neuralcollage.classes.ClassPack` objects loaded on top of the model, one new class each.
    class_packs: List[Any] = dataclasses.field(default_factory=list)
    #: class id -> the class id of its close-up variant (class packs that have one,
    #: :func:`neuralcollage.classes.closeup_class`).
    closeup_classes: Dict[int, int] = dataclasses.field(default_factory=dict)

    def __repr__(self):
        have = [k for k in BUNDLE_KINDS if getattr(self, k) is not None]
        classes = "?" if self.vocabulary is None else len(self.vocabulary)
        return f"ModelBundle(name={self.name!r}, arch={self.arch!r}, {classes} classes, {'+'.join(have)})"


def _kind_overrides(kind, overrides):
    from neuralcollage.models.presets import DISCRIMINATOR_PRESETS, GENERATOR_PRESETS, OVERRIDABLE
    table = GENERATOR_PRESETS if kind == "generator" else DISCRIMINATOR_PRESETS
    keys = {k for preset in table.values() for k in preset} & set(OVERRIDABLE)
    return {k: v for k, v in overrides.items() if k in keys}


def _load_part(kind, path, *, arch, device, overrides):
    """Load one file of a bundle; returns (link or None, note or None)."""
    from neuralcollage.loading import load_discriminator, load_generator, load_model
    if kind == "generator":
        return load_generator(path, arch=arch, device=device, **_kind_overrides(kind, overrides)), None
    if kind == "discriminator":
        return load_discriminator(path, arch=arch, device=device, **_kind_overrides(kind, overrides)), None
    if peek_config(path) is None:
        return None, (f"{os.path.basename(path)}: official {kind} files cannot be loaded yet (their "
                      f"architecture is not supported); skipped")
    try:
        from neuralcollage.models import extra_kinds  # noqa: F401
    except ImportError:
        return None, f"{os.path.basename(path)}: this installation cannot load {kind} files yet; skipped"
    return load_model(path, kind=kind, device=device), None


def _check_parts(bundle):
    """The parts of a bundle must fit its generator (classes, latent size, resolution)."""
    g = bundle.generator
    for kind in ("discriminator", "encoder", "classifier", "part_classifier"):
        link = getattr(bundle, kind)
        if link is None:
            continue
        where = f"{bundle.files[kind]}: the {kind.replace('_', ' ')}"
        k = getattr(link, "n_classes", None)
        if k is not None and k != g.n_classes:
            raise SnapshotError(f"{where} has {k} classes but the generator {bundle.files['generator']} has "
                                f"{g.n_classes}")
        if kind == "encoder":
            dim_z, res = getattr(link, "dim_z", g.dim_z), getattr(link, "resolution", g.resolution)
            if dim_z != g.dim_z or res != g.resolution:
                raise SnapshotError(f"{where} maps {res} px images to dim_z={dim_z} but the generator makes "
                                    f"{g.resolution} px images from dim_z={g.dim_z}")


def load_bundle(name_or_path, *, arch=None, device=None, vocabulary=None, classes=None, **overrides):
    """Load a model by registered name or by path.

    Args:
        name_or_path: a name of :data:`REGISTRY` (``"builtin"``, ``"dogcat256"``, ...), a generator ``.npz``
            (files named ``discriminator.npz``, ``encoder.npz``, ``classifier.npz``, ``part_classifier.npz``
            or official ``SNResNetProjectionDiscriminator_<it>.npz`` in the same folder are loaded too; a
            ``labels.txt`` there, one class per line with comma-separated synonyms, names the classes), or
            a folder holding them.
        arch: preset of official files loaded by path (``"collage256"``, ``"collage128"``, ``"sngan128"``);
            project snapshots describe themselves.
        device: None or -1 for the CPU, or a GPU id.
        vocabulary: a :class:`~neuralcollage.labels.Vocabulary` or vocabulary name for models loaded by
            path (default: ``labels.txt``, else guessed from the preset, else numbered classes).
        classes: class packs (paths or :class:`neuralcollage.classes.ClassPack`) to add on top of the model,
            one class each (:func:`neuralcollage.classes.apply_packs`); ``"builtin+rex.npz"`` as
            ``name_or_path`` is the same as ``"builtin", classes=["rex.npz"]``.
        **overrides: preset overrides for official files by path (``ch``, ``n_classes``, ``dim_z``).

    Returns:
        :class:`ModelBundle`.

    Raises:
        ModelNotInstalledError: a registered model whose files are missing (the message says where to get
            them and where to put them).
        ChecksumError: a file differs from its recorded sha256.
        SnapshotError: unknown name, missing, corrupt or unfitting files.
        neuralcollage.backend.DeviceError: the GPU cannot be used.
    """
    from neuralcollage.classes import apply_packs, split_model_spec
    name_or_path, packs = split_model_spec(name_or_path)
    packs = packs + list(classes or ())
    entry = resolve_model(name_or_path)
    if entry is not None:
        if arch is not None and arch != entry.arch:
            raise SnapshotError(f"model {entry.name!r} is a {entry.arch!r} model, not {arch!r}")
        bundle = _load_registered(entry, device=device)
    else:
        bundle = _load_path(name_or_path, arch=arch, device=device, vocabulary=vocabulary, overrides=overrides)
    return apply_packs(bundle, packs) if packs else bundle


def _load_registered(entry, *, device):
    files = entry_files(entry)
    if "generator" not in files:
        raise not_installed_error(entry)
    bundle = ModelBundle(name=entry.name, generator=None, arch=entry.arch)
    manifest = read_manifest() if entry.kind == "built-in" else None
    recorded = recorded_hashes().get(entry.name, {}) if entry.kind != "built-in" else {}
    if entry.kind == "built-in" and manifest is None:
        bundle.notes.append(f"no {manifest_path()}: the built-in files' sha256 are not verified")
    to_record = []
    for kind in BUNDLE_KINDS:
        path = files.get(kind)
        if path is None:
            continue
        if kind in entry.unsupported:
            bundle.notes.append(f"{os.path.basename(path)}: loading the official {kind} is not supported yet; "
                                f"skipped")
            continue
        if entry.kind == "built-in":
            expected = manifest_sha256(manifest, path)
            sha = verify_sha256(path, expected, origin=manifest_path(),
                          remedy="the file is damaged or was replaced; restore it from the repository")
            if expected is None and manifest is not None:
                bundle.notes.append(f"{os.path.basename(path)} is not listed in {manifest_path()}; "
                                    f"sha256 not verified")
        else:
            expected = (recorded.get(kind) or {}).get("sha256")
            sha = verify_sha256(path, expected, origin=f"the record made when it was first loaded ({hashes_path()})",
                          remedy=(f"if you replaced it on purpose, run `collage models --forget {entry.name}`"))
            if expected is None:
                to_record.append((kind, path, sha))
        if entry.convert is not None and kind == "generator":
            _check_converted(entry, path)
        arch = None if entry.kind == "built-in" else entry.arch
        link, note = _load_part(kind, path, arch=arch, device=device, overrides=dict(entry.overrides))
        if note:
            bundle.notes.append(note)
        if link is None:
            continue
        setattr(bundle, kind, link)
        bundle.files[kind] = os.path.abspath(path)
        bundle.sha256[kind] = sha
    bundle.vocabulary = check_vocabulary(named_vocabulary(entry.vocabulary, manifest),
                                          bundle.generator.n_classes, f"model {entry.name!r}")
    _check_parts(bundle)
    if entry.kind == "built-in" and bundle.generator.arch not in (None, entry.arch):
        bundle.arch = bundle.generator.arch
    for kind, path, sha in to_record:
        bundle.notes.append(store_hash(entry.name, kind, path, sha))
    return bundle


_CONVERTED_KINDS = {"biggan": "biggan_generator"}


def _check_converted(entry, path):
    """A registered converted model's generator must be a file written by its converter."""
    record = peek_config(path)
    want = _CONVERTED_KINDS[entry.convert]
    if record is None or record.get("kind") != want:
        what = "an official snapshot" if record is None else f"a {record.get('kind')} snapshot"
        raise SnapshotError(f"{path} is {what}, not a converted {entry.arch} ({want}); "
                            f"{install_instructions(entry)}")


def _load_path(path, *, arch, device, vocabulary, overrides):
    generator_path = find_generator(path)
    folder = os.path.dirname(generator_path)
    generator, _ = _load_part("generator", generator_path, arch=arch, device=device, overrides=overrides)
    bundle = ModelBundle(name=generator_path, generator=generator, arch=generator.arch or arch)
    bundle.files["generator"] = generator_path
    bundle.sha256["generator"] = file_sha256(generator_path)
    for kind in list(BUNDLE_KINDS)[1:]:
        sibling = find_file(folder, kind, like=generator_path)
        if sibling is None or os.path.abspath(sibling) == generator_path:
            continue
        part_arch = arch if kind == "discriminator" else None
        if kind == "discriminator" and peek_config(sibling) is None and part_arch is None:
            part_arch = bundle.arch
        link, note = _load_part(kind, sibling, arch=part_arch, device=device, overrides=overrides)
        if note:
            bundle.notes.append(note)
        if link is None:
            continue
        setattr(bundle, kind, link)
        bundle.files[kind] = os.path.abspath(sibling)
        bundle.sha256[kind] = file_sha256(sibling)
    if vocabulary is not None:
        vocab = named_vocabulary(vocabulary) if isinstance(vocabulary, str) else vocabulary
    else:
        vocab = path_vocabulary(folder, bundle.arch, generator.n_classes)
    bundle.vocabulary = check_vocabulary(vocab, generator.n_classes, f"model {generator_path}")
    _check_parts(bundle)
    return bundle

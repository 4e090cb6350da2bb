"""The model registry: the built-in model and the official Neural Collage / SNGAN-projection snapshots.

A model is chosen by a registered name (:data:`REGISTRY`) or by a path.  Nothing here touches the network:

* ``"builtin"`` ships inside the package, ``neuralcollage/data/pretrained/builtin64/*.npz``, with
  ``neuralcollage/data/pretrained/manifest.json`` holding each file's sha256 (see the ``README.md`` there);
  :func:`pretrained_dir` says where, and ``$NEURALCOLLAGE_PRETRAINED`` points it elsewhere.
* The official models are published in Google Drive folders linked from the READMEs of the official
  repositories; the user puts the files in ``$NEURALCOLLAGE_HOME/<name>/`` (default
  ``~/.cache/neuralcollage/<name>/``), as ``generator.npz`` / ``discriminator.npz`` or under their original
  names (``ResNetGenerator_<iteration>.npz``, ``SNResNetProjectionDiscriminator_<iteration>.npz``).  Their
  sha256 is not published: it is recorded in ``$NEURALCOLLAGE_HOME/hashes.json`` the first time a file loads
  strictly, and every later load is verified against it.
* The BigGAN-deep models are converted from the checkpoints of the ``pytorch-pretrained-biggan`` package
  (``collage convert biggan FOLDER $NEURALCOLLAGE_HOME/<name>/generator.npz``); the converted file's sha256 is
  recorded in ``hashes.json`` when it is written there, and verified on every load.

Example
-------
>>> bundle = load_bundle("builtin")
>>> bundle.generator.resolution, bundle.vocabulary.names
(64, ('cat', 'dog', 'fox', 'rabbit', 'bear', 'panda'))

An official snapshot downloaded by hand (not shipped, so this line is not run):

>>> bundle = load_bundle("/data/ResNetGenerator_450000.npz", arch="collage256")  # doctest: +SKIP
"""
from neuralcollage import _compat  # noqa: F401

import dataclasses
import datetime
import glob
import hashlib
import json
import os
import re
from types import MappingProxyType
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy

from neuralcollage.snapshot import CONFIG_KEY, SnapshotError

__all__ = ["ModelBundle", "ModelEntry", "ModelInfo", "REGISTRY", "BUNDLE_KINDS", "ModelNotInstalledError",
           "ChecksumError", "load_bundle", "list_models", "model_vocabulary", "home_dir", "pretrained_dir",
           "builtin_dir", "file_sha256", "forget_hashes", "write_manifest", "install_instructions",
           "registered_file", "record_sha256", "verify_builtin_file"]

#: The files a bundle may hold, in load order, with their canonical file names.
BUNDLE_KINDS = MappingProxyType({
    "generator": "generator.npz",
    "discriminator": "discriminator.npz",
    "encoder": "encoder.npz",
    "classifier": "classifier.npz",
    "part_classifier": "part_classifier.npz",
})

#: Original file names of the official releases (glob patterns), per kind.
OFFICIAL_PATTERNS = MappingProxyType({
    "generator": "ResNetGenerator*.npz",
    "discriminator": "SNResNetProjectionDiscriminator*.npz",
    "encoder": "ResNetEncoder*.npz",
})

_NEURAL_COLLAGE = "https://github.com/quolc/neural-collage"
_SNGAN_PROJECTION = "https://github.com/pfnet-research/sngan_projection"
_PYTORCH_BIGGAN = "https://github.com/huggingface/pytorch-pretrained-BigGAN"
BUILTIN_NOT_TRAINED = ("the built-in model is not trained yet; run `collage train gan runs/builtin64` and copy "
                       "its generator.npz and discriminator.npz into {dir} "
                       "(see neuralcollage/data/pretrained/README.md)")


#: Said when a label is not one of the built-in model's few classes (a breed, most often).
BUILTIN_LABELS_HINT = ("dog and cat breeds (pug, tabby, ...) are classes of the dogcat256 model: add --model dogcat256 "
                       "(`collage models` says how to install it) and see `collage labels --model dogcat256`")


class ModelNotInstalledError(SnapshotError):
    """A registered model whose files are not on this machine; the message says how to get them."""


class ChecksumError(SnapshotError):
    """A model file whose sha256 differs from the one recorded for it."""


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """One registered model.

    Attributes:
        name: registry key (``"builtin"``, ``"dogcat256"``, ...).
        kind: ``"built-in"``, ``"official"`` (official snapshot files, used as they are) or ``"converted"``
            (made from another framework's checkpoint with ``collage convert <convert>``).
        title: one-line description.
        arch: generator/discriminator preset (:mod:`neuralcollage.models.presets`; for ``convert="biggan"``
            a :data:`neuralcollage.models.biggan.BIGGAN_PRESETS` name).
        overrides: preset overrides (e.g. ``{"n_classes": 200}``).
        vocabulary: ``"builtin"`` or a name for :func:`neuralcollage.labels.get_vocabulary`.
        files: the kinds this model has, in :data:`BUNDLE_KINDS` order.
        unsupported: kinds that are published but cannot be loaded yet (listed, never loaded).
        source: where to get the files.
        convert: the ``collage convert`` subcommand that makes the generator file, or None.
    """

    name: str
    kind: str
    title: str
    arch: str
    vocabulary: str
    files: Tuple[str, ...]
    source: str
    overrides: Mapping[str, int] = dataclasses.field(default_factory=dict)
    unsupported: Tuple[str, ...] = ()
    convert: Optional[str] = None


def _biggan_entry(resolution):
    name = f"biggan-deep-{resolution}"
    return ModelEntry(
        name=name, kind="converted", arch=name, vocabulary="imagenet1k", files=("generator",), convert="biggan",
        title=(f"BigGAN-deep {resolution} px (1000 ImageNet classes; no discriminator: photos are projected "
               f"with multi-scale pixel statistics and need their class given)"),
        source=(f"the published checkpoint of the pytorch-pretrained-biggan package (v0.1.1, {_PYTORCH_BIGGAN}): "
                f"the URLs of {name!r} in PRETRAINED_MODEL_ARCHIVE_MAP (weights) and "
                f"PRETRAINED_CONFIG_ARCHIVE_MAP (config) in its pytorch_pretrained_biggan/model.py"))


REGISTRY = {e.name: e for e in (
    ModelEntry(
        name="builtin", kind="built-in", arch="builtin64", vocabulary="builtin",
        title="built-in 64 px cartoon animal faces (cat, dog, fox, rabbit, bear, panda), trained by this project",
        files=tuple(BUNDLE_KINDS), source="shipped inside the package, neuralcollage/data/pretrained/builtin64/"),
    ModelEntry(
        name="dogcat256", kind="official", arch="collage256", vocabulary="dogs_and_cats",
        title="Neural Collage dog-and-cat 256 px (143 ImageNet dog and cat classes)",
        files=("generator", "discriminator", "encoder"), unsupported=("encoder",),
        source=(f"the Google Drive folders 'Generator and Discriminator' and 'Encoder and Auxiliary Network' "
                f"linked from the 'Pre-trained models' section of the README of {_NEURAL_COLLAGE}")),
    ModelEntry(
        name="dogcat128", kind="official", arch="collage128", vocabulary="dogs_and_cats",
        title="SNGAN-projection dog-and-cat 128 px 'small' (143 ImageNet dog and cat classes)",
        files=("generator", "discriminator", "encoder"), unsupported=("encoder",),
        source=(f"the 'Pretrained models' Google Drive folder linked from the README of {_SNGAN_PROJECTION} "
                f"(generator, discriminator); the encoder is trained with {_NEURAL_COLLAGE}'s train_enc.py")),
    ModelEntry(
        name="imagenet128", kind="official", arch="sngan128", vocabulary="imagenet1k",
        title="SNGAN-projection ImageNet 128 px (1000 classes)",
        files=("generator", "discriminator"),
        source=f"the 'Pretrained models' Google Drive folder linked from the README of {_SNGAN_PROJECTION}"),
    ModelEntry(
        name="cub128", kind="official", arch="collage128", vocabulary="numbered:200",
        overrides=MappingProxyType({"n_classes": 200}),
        title="Neural Collage CUB-200 birds 128 px (200 classes, numbered 'class 0'..'class 199')",
        files=("generator", "discriminator"),
        # read as "get the files from <source>", like every entry's
        source=(f"your own training run of configs/sn_projection_cub.yml of {_NEURAL_COLLAGE} (no published "
                "files are linked from the official READMEs; its authors may share theirs)")),
    *(_biggan_entry(resolution) for resolution in (128, 256, 512)),
)}


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

    def __repr__(self):
        have = [k for k in BUNDLE_KINDS if getattr(self, k) is not None]
        classes = "?" if self.vocabulary is None else len(self.vocabulary)
        return f"ModelBundle(name={self.name!r}, arch={self.arch!r}, {classes} classes, {'+'.join(have)})"


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """A row of :func:`list_models`."""

    name: str
    kind: str
    installed: bool
    path: str
    notes: str


# ------------------------------------------------------------------------------------------------ places

def home_dir():
    """Where official models and the recorded hashes live: ``$NEURALCOLLAGE_HOME``, else
    ``$XDG_CACHE_HOME/neuralcollage``, else ``~/.cache/neuralcollage`` (not created here)."""
    home = os.environ.get("NEURALCOLLAGE_HOME")
    if home:
        return os.path.abspath(os.path.expanduser(home))
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(os.path.abspath(cache), "neuralcollage")


def pretrained_dir():
    """The folder of the built-in model and its ``manifest.json``.

    ``neuralcollage/data/pretrained`` inside the package, so a wheel install (``pip install .``) has it as much
    as a checkout; ``$NEURALCOLLAGE_PRETRAINED`` points it at another folder of the same layout
    (``manifest.json`` and ``builtin64/``), e.g. to try a retrained built-in model without touching the package.
    """
    root = os.environ.get("NEURALCOLLAGE_PRETRAINED")
    if root:
        return os.path.abspath(os.path.expanduser(root))
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "pretrained")


def builtin_dir():
    """``<pretrained_dir()>/builtin64``: the built-in model's files."""
    return os.path.join(pretrained_dir(), "builtin64")


def _entry_dir(entry):
    return builtin_dir() if entry.kind == "built-in" else os.path.join(home_dir(), entry.name)


def _hashes_path():
    return os.path.join(home_dir(), "hashes.json")


def _manifest_path():
    return os.path.join(pretrained_dir(), "manifest.json")


# ------------------------------------------------------------------------------------------------ hashing

def file_sha256(path, *, chunk=1 << 20):
    """The sha256 hex digest of a file's bytes."""
    from neuralcollage.io import InputError, open_regular
    digest = hashlib.sha256()
    try:
        fh = open_regular(path, what="model file")
    except InputError as exc:
        raise SnapshotError(f"cannot read model file {exc}") from None
    try:
        with fh:
            for block in iter(lambda: fh.read(chunk), b""):
                digest.update(block)
    except OSError as exc:
        raise SnapshotError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()


def _read_json(path, what):
    from neuralcollage.io import InputError, read_json_limited
    from neuralcollage.limits import JSON_MAX_BYTES
    if not os.path.lexists(path):
        return None
    try:
        data = read_json_limited(path, limit=JSON_MAX_BYTES, what=what, max_depth=16)
    except InputError as exc:
        raise SnapshotError(f"{what} {exc}") from None
    if not isinstance(data, dict):
        raise SnapshotError(f"{what} {path} must hold a JSON object")
    return data


def _manifest():
    return _read_json(_manifest_path(), "manifest")


def _manifest_sha256(manifest, path):
    """The sha256 the manifest gives for ``path`` (keyed relative to pretrained_dir() or by base name, in its
    ``files`` or ``extra_files``), or None."""
    rel = os.path.relpath(path, pretrained_dir()).replace(os.sep, "/")
    for section in ("files", "extra_files"):
        files = (manifest or {}).get(section) or {}
        for key in (rel, os.path.basename(path)):
            info = files.get(key) if isinstance(files, dict) else None
            if isinstance(info, str):
                return info.lower()
            if isinstance(info, dict) and info.get("sha256"):
                return str(info["sha256"]).lower()
    return None


def verify_builtin_file(path):
    """Check a file shipped with the built-in model (``regressor.npz``, ``landmarks.npz``, ...) against the
    sha256 that ``manifest.json`` lists for it, before it is loaded.

    Returns the file's sha256, or None when ``path`` is not inside :func:`pretrained_dir` (a file of the
    user's; nothing to check).  Raises :class:`ChecksumError` when it differs, SnapshotError when the manifest
    is missing or does not list the file (a shipped file is always listed)."""
    path = os.path.abspath(path)
    root = os.path.realpath(pretrained_dir())
    if os.path.commonpath([os.path.realpath(path), root]) != root:
        return None
    manifest = _manifest()
    expected = _manifest_sha256(manifest, path)
    if expected is None:
        raise SnapshotError(f"{path} is not listed in {_manifest_path()}: its sha256 cannot be verified; add it "
                            f"(pretrained.write_manifest or by hand)")
    return _verify(path, expected, origin=_manifest_path(),
                   remedy="the file is damaged or was replaced; restore it from the repository")


def _recorded_hashes():
    data = _read_json(_hashes_path(), "hash record")
    if data is None:
        return {}
    for name, kinds in data.items():
        if not isinstance(kinds, dict) or not all(
                isinstance(info, dict) and isinstance(info.get("sha256"), str)
                and re.fullmatch(r"[0-9a-fA-F]{64}", info["sha256"]) for info in kinds.values()):
            raise SnapshotError(f"hash record {_hashes_path()} is damaged: the entry of {name[:60]!r} must map each "
                                f"file kind to an object with a 64-digit hex 'sha256'; fix or delete the file (or "
                                f"run `collage models --forget {name[:60]}`)")
    return data


def _record_hash(name, kind, path, sha):
    """Remember ``sha`` for ``name``/``kind``; returns a note, or a warning when the record cannot be written."""
    from neuralcollage.io import InputError, atomic_write_text
    data = _recorded_hashes()
    data.setdefault(name, {})[kind] = {
        "file": os.path.basename(path), "sha256": sha, "bytes": os.path.getsize(path),
        "recorded": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    target = _hashes_path()
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        atomic_write_text(target, json.dumps(data, indent=2, sort_keys=True) + "\n")
    except (OSError, InputError) as exc:
        return f"could not record the sha256 of {path} in {target}: {exc}"
    return f"recorded the sha256 of {os.path.basename(path)} ({sha[:12]}...) in {target}"


def forget_hashes(name):
    """Drop the recorded sha256 of registered model ``name`` (after replacing its files on purpose).

    Returns:
        True when something was recorded for it.
    """
    from neuralcollage.io import atomic_write_text
    data = _read_json(_hashes_path(), "hash record") or {}
    if name not in data:
        return False
    del data[name]
    atomic_write_text(_hashes_path(), json.dumps(data, indent=2, sort_keys=True) + "\n")
    return True


def record_sha256(name, kind, path, sha256=None):
    """Record the sha256 of registered model ``name``'s ``kind`` file ``path`` in ``hashes.json`` (replacing a
    previous record); later loads are verified against it.  ``sha256`` is computed when not given.

    Returns:
        A one-line note saying what was recorded, or why the record could not be written.
    """
    return _record_hash(name, kind, path, sha256 or file_sha256(path))


def _real(path):
    return os.path.normcase(os.path.realpath(os.path.abspath(os.path.expanduser(os.fspath(path)))))


def registered_file(path):
    """``(entry, kind)`` when ``path`` is where a registered model's canonical file lives
    (``$NEURALCOLLAGE_HOME/<name>/<kind>.npz``, or the built-in ``builtin_dir()/<kind>.npz``), else
    None.  The file need not exist."""
    target = _real(path)
    for entry in REGISTRY.values():
        folder = _entry_dir(entry)
        for kind in entry.files:
            if _real(os.path.join(folder, BUNDLE_KINDS[kind])) == target:
                return entry, kind
    return None


def _verify(path, expected, *, origin, remedy):
    sha = file_sha256(path)
    if expected is not None and sha != expected.lower():
        raise ChecksumError(f"model file {path} has sha256 {sha[:16]}... but {origin} expects "
                            f"{expected[:16]}...; {remedy}")
    return sha


# ------------------------------------------------------------------------------------------------ files

def _official_match(folder, kind, like=None):
    """The one file in ``folder`` with the official name pattern of ``kind`` (preferring the iteration
    number of ``like``), or None.  Several candidates -> SnapshotError."""
    pattern = OFFICIAL_PATTERNS.get(kind)
    if pattern is None:
        return None
    found = sorted(glob.glob(os.path.join(glob.escape(folder), pattern)))
    if like is not None:
        m = re.search(r"_(\d+)\.npz$", os.path.basename(like))
        if m:
            same = [f for f in found if f.endswith(f"_{m.group(1)}.npz")]
            if len(same) == 1:
                return same[0]
    if len(found) > 1:
        names = ", ".join(os.path.basename(f) for f in found)
        raise SnapshotError(f"{folder} holds several {kind} files ({names}); rename the one to use to "
                            f"{BUNDLE_KINDS[kind]}")
    return found[0] if found else None


def _find(folder, kind, like=None):
    canonical = os.path.join(folder, BUNDLE_KINDS[kind])
    if os.path.isfile(canonical):
        return canonical
    return _official_match(folder, kind, like) if os.path.isdir(folder) else None


def _entry_files(entry):
    """kind -> path of the files of ``entry`` present on this machine."""
    folder = _entry_dir(entry)
    found = {}
    for kind in entry.files:
        path = _find(folder, kind) if entry.kind == "official" else os.path.join(folder, BUNDLE_KINDS[kind])
        if path is not None and os.path.isfile(path):
            found[kind] = path
    return found


def _lookup(name):
    if isinstance(name, str):
        return REGISTRY.get(name.strip().lower())
    return None


def install_instructions(entry):
    """One line: how to install registered model ``entry`` (a :class:`ModelEntry` or its name)."""
    entry = REGISTRY[entry] if isinstance(entry, str) else entry
    folder = _entry_dir(entry)
    if entry.kind == "built-in":
        return BUILTIN_NOT_TRAINED.format(dir=folder + os.sep)
    if entry.convert == "biggan":
        target = os.path.join(folder, BUNDLE_KINDS["generator"])
        return (f"download the two files of {entry.source}; rename them to pytorch_model.bin and config.json in "
                f"one folder; then run `collage convert biggan FOLDER {target}` (the converter needs PyTorch: "
                f"pip install 'neuralcollage[convert]')")
    return (f"put its generator ({OFFICIAL_PATTERNS['generator']} or generator.npz) and discriminator files in "
            f"{folder}{os.sep}; get them from {entry.source}")


def _not_installed(entry):
    folder = _entry_dir(entry)
    if entry.kind == "built-in":
        return ModelNotInstalledError(BUILTIN_NOT_TRAINED.format(dir=folder + os.sep))
    if entry.convert is not None:
        return ModelNotInstalledError(f"model {entry.name!r} is not installed: {install_instructions(entry)}")
    return ModelNotInstalledError(
        f"model {entry.name!r} is not installed: put its generator ({OFFICIAL_PATTERNS['generator']} or "
        f"generator.npz) and discriminator files in {folder}{os.sep}; get them from {entry.source}")


# ------------------------------------------------------------------------------------------------ vocabulary

def _builtin_vocabulary(manifest=None):
    from neuralcollage.labels import from_names
    labels = (manifest or {}).get("labels")
    if not labels:
        from neuralcollage.datasets import CLASS_NAMES
        labels = CLASS_NAMES
    return from_names(labels, name="builtin", unknown_hint=BUILTIN_LABELS_HINT)


def _named_vocabulary(name, manifest=None):
    if name == "builtin":
        return _builtin_vocabulary(manifest)
    from neuralcollage.labels import get_vocabulary
    return get_vocabulary(name)


_ARCH_VOCABULARIES = {"collage256": (143, "dogs_and_cats"), "collage128": (143, "dogs_and_cats"),
                      "sngan128": (1000, "imagenet1k"), "sngan64": (1000, "imagenet1k"),
                      "biggan-deep-128": (1000, "imagenet1k"), "biggan-deep-256": (1000, "imagenet1k"),
                      "biggan-deep-512": (1000, "imagenet1k")}
_GENERATOR_KINDS = ("generator", "biggan_generator")


def _read_labels_file(path):
    from neuralcollage.labels import from_names
    from neuralcollage.io import read_bytes_limited
    from neuralcollage.limits import JSON_MAX_BYTES
    try:
        text = read_bytes_limited(path, limit=JSON_MAX_BYTES, what="labels file").decode("utf-8")
        rows = [[s.strip() for s in line.split(",") if s.strip()] for line in text.splitlines() if line.strip()]
        return from_names(rows, name=os.path.basename(os.path.dirname(os.path.abspath(path))) or "custom")
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"labels file {path} is unusable: {exc}") from None


def _path_vocabulary(folder, arch, n_classes):
    """Vocabulary of a model loaded by path: ``labels.txt`` beside it, else guessed from arch and size."""
    from neuralcollage.labels import numbered
    labels_file = os.path.join(folder, "labels.txt")
    if os.path.isfile(labels_file):
        return _read_labels_file(labels_file)
    if arch == "builtin64":
        vocab = _builtin_vocabulary()
        if len(vocab) == n_classes:
            return vocab
    if arch in _ARCH_VOCABULARIES and _ARCH_VOCABULARIES[arch][0] == n_classes:
        return _named_vocabulary(_ARCH_VOCABULARIES[arch][1])
    return numbered(n_classes)


def _peek_config(path):
    """The ``{"kind", "config"}`` record of a project snapshot without reading its arrays, or None."""
    from neuralcollage.snapshot import SnapshotFile, check_config_values
    snap = SnapshotFile(path)
    if snap.record is not None:
        check_config_values(snap.record["config"], source=snap.source)
    return snap.record


def _check_vocabulary(vocab, n_classes, where):
    if len(vocab) != n_classes:
        raise SnapshotError(f"{where}: the generator has {n_classes} classes but its vocabulary "
                            f"{vocab.name!r} has {len(vocab)}")
    return vocab


def model_vocabulary(name_or_path, *, arch=None, **overrides):
    """The class vocabulary of a model without loading its weights.

    Works for registered models that are not installed (their vocabulary is part of the registry).

    Raises:
        SnapshotError: unknown name, missing or unreadable file, or an official file without ``arch``.
    """
    from neuralcollage.classes import split_model_spec, vocabulary_with_packs
    name_or_path, packs = split_model_spec(name_or_path)
    if packs:
        return vocabulary_with_packs(model_vocabulary(name_or_path, arch=arch, **overrides), packs)
    entry = _resolve(name_or_path)
    if entry is not None:
        return _named_vocabulary(entry.vocabulary, _manifest() if entry.kind == "built-in" else None)
    generator_path = _generator_path(name_or_path)
    record = _peek_config(generator_path)
    if record is not None:
        if record.get("kind") not in _GENERATOR_KINDS:
            raise SnapshotError(f"snapshot {generator_path!r} holds a {record.get('kind')}, not a generator")
        config = record.get("config", {})
        n_classes, arch = config.get("n_classes"), config.get("arch") or arch
    else:
        if arch is None:
            raise SnapshotError(f"snapshot {generator_path!r} is an official snapshot without architecture "
                                f"metadata; pass --arch (arch=)")
        from neuralcollage.models.presets import GENERATOR_PRESETS, resolve
        try:
            n_classes = resolve(GENERATOR_PRESETS, arch, overrides, kind="generator")["n_classes"]
        except ValueError as exc:
            raise SnapshotError(str(exc)) from None
    return _path_vocabulary(os.path.dirname(generator_path), arch, n_classes)


# ------------------------------------------------------------------------------------------------ loading

def _generator_path(path):
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if os.path.isdir(path):
        found = _find(path, "generator")
        if found is None:
            raise SnapshotError(f"model folder {path} has no generator.npz (nor {OFFICIAL_PATTERNS['generator']})")
        return found
    if not os.path.exists(path):
        raise SnapshotError(f"model file {path} does not exist")
    return path


def _unknown_model(name):
    known = ", ".join(REGISTRY)
    return SnapshotError(f"unknown model {name!r}: not a registered name ({known}) nor an existing file or "
                         f"folder")


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
    if _peek_config(path) is None:
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
    entry = _resolve(name_or_path)
    if entry is not None:
        if arch is not None and arch != entry.arch:
            raise SnapshotError(f"model {entry.name!r} is a {entry.arch!r} model, not {arch!r}")
        bundle = _load_registered(entry, device=device)
    else:
        bundle = _load_path(name_or_path, arch=arch, device=device, vocabulary=vocabulary, overrides=overrides)
    return apply_packs(bundle, packs) if packs else bundle


def _resolve(name_or_path):
    """The registry entry of a name, or None for a path; a bare word that is neither -> SnapshotError."""
    entry = _lookup(name_or_path)
    if entry is not None:
        return entry
    if isinstance(name_or_path, str) and not os.path.exists(os.path.expanduser(name_or_path)) \
            and os.sep not in name_or_path and "/" not in name_or_path and not name_or_path.endswith(".npz"):
        raise _unknown_model(name_or_path)
    return None


def _load_registered(entry, *, device):
    files = _entry_files(entry)
    if "generator" not in files:
        raise _not_installed(entry)
    bundle = ModelBundle(name=entry.name, generator=None, arch=entry.arch)
    manifest = _manifest() if entry.kind == "built-in" else None
    recorded = _recorded_hashes().get(entry.name, {}) if entry.kind != "built-in" else {}
    if entry.kind == "built-in" and manifest is None:
        bundle.notes.append(f"no {_manifest_path()}: the built-in files' sha256 are not verified")
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
            expected = _manifest_sha256(manifest, path)
            sha = _verify(path, expected, origin=_manifest_path(),
                          remedy="the file is damaged or was replaced; restore it from the repository")
            if expected is None and manifest is not None:
                bundle.notes.append(f"{os.path.basename(path)} is not listed in {_manifest_path()}; "
                                    f"sha256 not verified")
        else:
            expected = (recorded.get(kind) or {}).get("sha256")
            sha = _verify(path, expected, origin=f"the record made when it was first loaded ({_hashes_path()})",
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
    bundle.vocabulary = _check_vocabulary(_named_vocabulary(entry.vocabulary, manifest),
                                          bundle.generator.n_classes, f"model {entry.name!r}")
    _check_parts(bundle)
    if entry.kind == "built-in" and bundle.generator.arch not in (None, entry.arch):
        bundle.arch = bundle.generator.arch
    for kind, path, sha in to_record:
        bundle.notes.append(_record_hash(entry.name, kind, path, sha))
    return bundle


_CONVERTED_KINDS = {"biggan": "biggan_generator"}


def _check_converted(entry, path):
    """A registered converted model's generator must be a file written by its converter."""
    record = _peek_config(path)
    want = _CONVERTED_KINDS[entry.convert]
    if record is None or record.get("kind") != want:
        what = "an official snapshot" if record is None else f"a {record.get('kind')} snapshot"
        raise SnapshotError(f"{path} is {what}, not a converted {entry.arch} ({want}); "
                            f"{install_instructions(entry)}")


def _load_path(path, *, arch, device, vocabulary, overrides):
    generator_path = _generator_path(path)
    folder = os.path.dirname(generator_path)
    generator, _ = _load_part("generator", generator_path, arch=arch, device=device, overrides=overrides)
    bundle = ModelBundle(name=generator_path, generator=generator, arch=generator.arch or arch)
    bundle.files["generator"] = generator_path
    bundle.sha256["generator"] = file_sha256(generator_path)
    for kind in list(BUNDLE_KINDS)[1:]:
        sibling = _find(folder, kind, like=generator_path)
        if sibling is None or os.path.abspath(sibling) == generator_path:
            continue
        part_arch = arch if kind == "discriminator" else None
        if kind == "discriminator" and _peek_config(sibling) is None and part_arch is None:
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
        vocab = _named_vocabulary(vocabulary) if isinstance(vocabulary, str) else vocabulary
    else:
        vocab = _path_vocabulary(folder, bundle.arch, generator.n_classes)
    bundle.vocabulary = _check_vocabulary(vocab, generator.n_classes, f"model {generator_path}")
    _check_parts(bundle)
    return bundle


# ------------------------------------------------------------------------------------------------ listing

def list_models():
    """One :class:`ModelInfo` per registered model: installed or not, where, and what to know.

    Raises:
        SnapshotError: an official folder holds several candidate files of one kind.
    """
    rows = []
    for entry in REGISTRY.values():
        folder = _entry_dir(entry)
        try:
            files = _entry_files(entry)
        except SnapshotError as exc:
            rows.append(ModelInfo(entry.name, entry.kind, False, folder, str(exc)))
            continue
        installed = "generator" in files
        notes = [entry.title + f"; preset {entry.arch}"
                 + "".join(f", {k}={v}" for k, v in entry.overrides.items())]
        if installed:
            notes.append("files: " + ", ".join(os.path.basename(p) for p in files.values()))
            missing = [k for k in entry.files if k not in files and k not in entry.unsupported]
            if missing:
                notes.append("missing: " + ", ".join(missing))
        elif entry.kind == "built-in":
            notes.append("not trained yet: run `collage train gan ...` (see "
                         f"{os.path.join(pretrained_dir(), 'README.md')})")
        elif entry.convert is not None:
            notes.append(f"not installed; {install_instructions(entry)}")
        else:
            notes.append(f"not installed; get the files from {entry.source}")
        for kind in entry.unsupported:
            notes.append(f"the official {kind} is listed but loading it is not supported yet")
        rows.append(ModelInfo(entry.name, entry.kind, installed, folder, "; ".join(notes)))
    return rows


def write_manifest(*, root=None, commands=None, metrics=None, **fields):
    """Write ``<pretrained_dir()>/manifest.json`` for the built-in files present, keeping what it already says.

    Every file of :data:`BUNDLE_KINDS` in ``<root>/builtin64/`` gets ``{"kind", "sha256", "bytes", "config"}``
    (config read from the snapshot) plus its ``command`` from ``commands`` (kind -> str) when given; the
    ``extra_files`` entries (``regressor.npz``, ``landmarks.npz``, ...) get their files' current sha256 and size.

    Args:
        root: the folder holding ``manifest.json`` and ``builtin64/`` (default :func:`pretrained_dir`).
        commands: kind -> the exact command that trained the file.
        metrics: measured metrics (a JSON-able dict), stored under ``"metrics"``.
        **fields: other top-level entries (e.g. ``labels``).

    Returns:
        The manifest dict written.
    """
    from neuralcollage.io import atomic_write_text
    root = os.path.abspath(root or pretrained_dir())
    path = os.path.join(root, "manifest.json")
    manifest = _read_json(path, "manifest") or {}
    manifest.setdefault("name", "builtin")
    manifest.setdefault("arch", REGISTRY["builtin"].arch)
    manifest.setdefault("labels", list(_builtin_vocabulary().names))
    manifest.update(fields)
    if metrics is not None:
        manifest["metrics"] = metrics
    files = manifest.setdefault("files", {})
    for kind, filename in BUNDLE_KINDS.items():
        file_path = os.path.join(root, "builtin64", filename)
        key = f"builtin64/{filename}"
        if not os.path.isfile(file_path):
            files.pop(key, None)
            continue
        info = dict(files.get(key) or {})
        record = _peek_config(file_path) or {}
        info.update(kind=kind, sha256=file_sha256(file_path), bytes=os.path.getsize(file_path),
                    config=record.get("config"))
        if commands and kind in commands:
            info["command"] = commands[kind]
        files[key] = info
    for key, info in (manifest.get("extra_files") or {}).items():
        file_path = os.path.join(root, *key.split("/"))
        if isinstance(info, dict) and os.path.isfile(file_path):
            info.update(sha256=file_sha256(file_path), bytes=os.path.getsize(file_path))
    atomic_write_text(path, json.dumps(manifest, indent=2) + "\n")
    return manifest

"""The registry of models: their entries (:data:`REGISTRY`), where their files live, which files a folder holds,
and what is installed (:func:`list_models`).  Nothing here reads a model or touches the network.
"""
from neuralcollage import _compat  # noqa: F401

import dataclasses
import glob
import os
import re
from types import MappingProxyType
from typing import Mapping, Optional, Tuple

from neuralcollage.snapshot import SnapshotError

__all__ = ["BUNDLE_KINDS", "OFFICIAL_PATTERNS", "BUILTIN_NOT_TRAINED", "BUILTIN_LABELS_HINT", "ModelNotInstalledError",
           "ChecksumError", "ModelEntry", "REGISTRY", "ModelInfo", "home_dir", "pretrained_dir", "builtin_dir",
           "entry_dir", "hashes_path", "manifest_path", "find_file", "entry_files", "lookup_entry",
           "install_instructions", "not_installed_error", "find_generator", "unknown_model_error", "resolve_model",
           "list_models"]


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


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """A row of :func:`list_models`."""

    name: str
    kind: str
    installed: bool
    path: str
    notes: str


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
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "pretrained")


def builtin_dir():
    """``<pretrained_dir()>/builtin64``: the built-in model's files."""
    return os.path.join(pretrained_dir(), "builtin64")


def entry_dir(entry):
    return builtin_dir() if entry.kind == "built-in" else os.path.join(home_dir(), entry.name)


def hashes_path():
    return os.path.join(home_dir(), "hashes.json")


def manifest_path():
    return os.path.join(pretrained_dir(), "manifest.json")


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


def find_file(folder, kind, like=None):
    canonical = os.path.join(folder, BUNDLE_KINDS[kind])
    if os.path.isfile(canonical):
        return canonical
    return _official_match(folder, kind, like) if os.path.isdir(folder) else None


def entry_files(entry):
    """kind -> path of the files of ``entry`` present on this machine."""
    folder = entry_dir(entry)
    found = {}
    for kind in entry.files:
        path = find_file(folder, kind) if entry.kind == "official" else os.path.join(folder, BUNDLE_KINDS[kind])
        if path is not None and os.path.isfile(path):
            found[kind] = path
    return found


def lookup_entry(name):
    if isinstance(name, str):
        return REGISTRY.get(name.strip().lower())
    return None


def install_instructions(entry):
    """One line: how to install registered model ``entry`` (a :class:`ModelEntry` or its name)."""
    entry = REGISTRY[entry] if isinstance(entry, str) else entry
    folder = entry_dir(entry)
    if entry.kind == "built-in":
        return BUILTIN_NOT_TRAINED.format(dir=folder + os.sep)
    if entry.convert == "biggan":
        target = os.path.join(folder, BUNDLE_KINDS["generator"])
        return (f"download the two files of {entry.source}; rename them to pytorch_model.bin and config.json in "
                f"one folder; then run `collage convert biggan FOLDER {target}` (the converter needs PyTorch: "
                f"pip install 'neuralcollage[convert]')")
    return (f"put its generator ({OFFICIAL_PATTERNS['generator']} or generator.npz) and discriminator files in "
            f"{folder}{os.sep}; get them from {entry.source}")


def not_installed_error(entry):
    folder = entry_dir(entry)
    if entry.kind == "built-in":
        return ModelNotInstalledError(BUILTIN_NOT_TRAINED.format(dir=folder + os.sep))
    if entry.convert is not None:
        return ModelNotInstalledError(f"model {entry.name!r} is not installed: {install_instructions(entry)}")
    return ModelNotInstalledError(
        f"model {entry.name!r} is not installed: put its generator ({OFFICIAL_PATTERNS['generator']} or "
        f"generator.npz) and discriminator files in {folder}{os.sep}; get them from {entry.source}")


def find_generator(path):
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if os.path.isdir(path):
        found = find_file(path, "generator")
        if found is None:
            raise SnapshotError(f"model folder {path} has no generator.npz (nor {OFFICIAL_PATTERNS['generator']})")
        return found
    if not os.path.exists(path):
        raise SnapshotError(f"model file {path} does not exist")
    return path


def unknown_model_error(name):
    known = ", ".join(REGISTRY)
    return SnapshotError(f"unknown model {name!r}: not a registered name ({known}) nor an existing file or "
                         f"folder")


def resolve_model(name_or_path):
    """The registry entry of a name, or None for a path; a bare word that is neither -> SnapshotError."""
    entry = lookup_entry(name_or_path)
    if entry is not None:
        return entry
    if isinstance(name_or_path, str) and not os.path.exists(os.path.expanduser(name_or_path)) \
            and os.sep not in name_or_path and "/" not in name_or_path and not name_or_path.endswith(".npz"):
        raise unknown_model_error(name_or_path)
    return None


def list_models():
    """One :class:`ModelInfo` per registered model: installed or not, where, and what to know.

    Raises:
        SnapshotError: an official folder holds several candidate files of one kind.
    """
    rows = []
    for entry in REGISTRY.values():
        folder = entry_dir(entry)
        try:
            files = entry_files(entry)
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

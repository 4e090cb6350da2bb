"""The class vocabulary of a model: the built-in one from the manifest, a registered model's named vocabulary,
or a ``labels.txt`` / numbered names next to a snapshot given by path.
"""
import os

from neuralcollage.pretrained.hashes import read_manifest
from neuralcollage.pretrained.registry import BUILTIN_LABELS_HINT, find_generator, resolve_model
from neuralcollage.snapshot import SnapshotError

__all__ = ["builtin_vocabulary", "named_vocabulary", "path_vocabulary", "peek_config", "check_vocabulary",
           "model_vocabulary"]


def builtin_vocabulary(manifest=None):
    from neuralcollage.labels import from_names
    labels = (manifest or {}).get("labels")
    if not labels:
        from neuralcollage.datasets import CLASS_NAMES
        labels = CLASS_NAMES
    return from_names(labels, name="builtin", unknown_hint=BUILTIN_LABELS_HINT)


def named_vocabulary(name, manifest=None):
    if name == "builtin":
        return builtin_vocabulary(manifest)
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


def path_vocabulary(folder, arch, n_classes):
    """Vocabulary of a model loaded by path: ``labels.txt`` beside it, else guessed from arch and size."""
    from neuralcollage.labels import numbered
    labels_file = os.path.join(folder, "labels.txt")
    if os.path.isfile(labels_file):
        return _read_labels_file(labels_file)
    if arch == "builtin64":
        vocab = builtin_vocabulary()
        if len(vocab) == n_classes:
            return vocab
    if arch in _ARCH_VOCABULARIES and _ARCH_VOCABULARIES[arch][0] == n_classes:
        return named_vocabulary(_ARCH_VOCABULARIES[arch][1])
    return numbered(n_classes)


def peek_config(path):
    """The ``{"kind", "config"}`` record of a project snapshot without reading its arrays, or None."""
    from neuralcollage.snapshot import SnapshotFile, check_config_values
    snap = SnapshotFile(path)
    if snap.record is not None:
        check_config_values(snap.record["config"], source=snap.source)
    return snap.record


def check_vocabulary(vocab, n_classes, where):
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
    entry = resolve_model(name_or_path)
    if entry is not None:
        return named_vocabulary(entry.vocabulary, read_manifest() if entry.kind == "built-in" else None)
    generator_path = find_generator(name_or_path)
    record = peek_config(generator_path)
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
    return path_vocabulary(os.path.dirname(generator_path), arch, n_classes)

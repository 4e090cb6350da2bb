"""Writing the built-in model's manifest (``<pretrained_dir()>/manifest.json``: each file's sha256 and size,
the vocabulary, how the model was made).
"""
import json
import os

from neuralcollage.pretrained.hashes import file_sha256, read_json
from neuralcollage.pretrained.registry import BUNDLE_KINDS, REGISTRY, pretrained_dir
from neuralcollage.pretrained.vocabulary import builtin_vocabulary, peek_config

__all__ = ["write_manifest"]


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
    manifest = read_json(path, "manifest") or {}
    manifest.setdefault("name", "builtin")
    manifest.setdefault("arch", REGISTRY["builtin"].arch)
    manifest.setdefault("labels", list(builtin_vocabulary().names))
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
        record = peek_config(file_path) or {}
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

"""sha256 checks of model files: the shipped manifest's for the built-in files, and the hashes recorded in
``$NEURALCOLLAGE_HOME/hashes.json`` the first time an official or converted file loads.
"""
import datetime
import json
import os
import re

from neuralcollage.pretrained.registry import (BUNDLE_KINDS, REGISTRY, ChecksumError, entry_dir, hashes_path,
                                               manifest_path, pretrained_dir)
from neuralcollage.snapshot import SnapshotError

__all__ = ["file_sha256", "read_json", "read_manifest", "manifest_sha256", "verify_builtin_file", "recorded_hashes",
           "store_hash", "forget_hashes", "record_sha256", "registered_file", "verify_sha256"]


def file_sha256(path, *, chunk=1 << 20):
    """The sha256 hex digest of a model file's bytes (:func:`neuralcollage.io.file_sha256`, its errors as
    :class:`~neuralcollage.snapshot.SnapshotError`)."""
    from neuralcollage import io
    try:
        return io.file_sha256(path, what="model file", chunk=chunk)
    except io.InputError as exc:
        raise SnapshotError(f"cannot read model file {exc}") from None


def read_json(path, what):
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


def read_manifest():
    return read_json(manifest_path(), "manifest")


def manifest_sha256(manifest, path):
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
    manifest = read_manifest()
    expected = manifest_sha256(manifest, path)
    if expected is None:
        raise SnapshotError(f"{path} is not listed in {manifest_path()}: its sha256 cannot be verified; add it "
                            f"(pretrained.write_manifest or by hand)")
    return verify_sha256(path, expected, origin=manifest_path(),
                   remedy="the file is damaged or was replaced; restore it from the repository")


def recorded_hashes():
    data = read_json(hashes_path(), "hash record")
    if data is None:
        return {}
    for name, kinds in data.items():
        if not isinstance(kinds, dict) or not all(
                isinstance(info, dict) and isinstance(info.get("sha256"), str)
                and re.fullmatch(r"[0-9a-fA-F]{64}", info["sha256"]) for info in kinds.values()):
            raise SnapshotError(f"hash record {hashes_path()} is damaged: the entry of {name[:60]!r} must map each "
                                f"file kind to an object with a 64-digit hex 'sha256'; fix or delete the file (or "
                                f"run `collage models --forget {name[:60]}`)")
    return data


def store_hash(name, kind, path, sha):
    """Remember ``sha`` for ``name``/``kind``; returns a note, or a warning when the record cannot be written."""
    from neuralcollage.io import InputError, atomic_write_text
    data = recorded_hashes()
    data.setdefault(name, {})[kind] = {
        "file": os.path.basename(path), "sha256": sha, "bytes": os.path.getsize(path),
        "recorded": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    target = hashes_path()
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
    data = read_json(hashes_path(), "hash record") or {}
    if name not in data:
        return False
    del data[name]
    atomic_write_text(hashes_path(), json.dumps(data, indent=2, sort_keys=True) + "\n")
    return True


def record_sha256(name, kind, path, sha256=None):
    """Record the sha256 of registered model ``name``'s ``kind`` file ``path`` in ``hashes.json`` (replacing a
    previous record); later loads are verified against it.  ``sha256`` is computed when not given.

    Returns:
        A one-line note saying what was recorded, or why the record could not be written.
    """
    return store_hash(name, kind, path, sha256 or file_sha256(path))


def _real(path):
    return os.path.normcase(os.path.realpath(os.path.abspath(os.path.expanduser(os.fspath(path)))))


def registered_file(path):
    """``(entry, kind)`` when ``path`` is where a registered model's canonical file lives
    (``$NEURALCOLLAGE_HOME/<name>/<kind>.npz``, or the built-in ``builtin_dir()/<kind>.npz``), else
    None.  The file need not exist."""
    target = _real(path)
    for entry in REGISTRY.values():
        folder = entry_dir(entry)
        for kind in entry.files:
            if _real(os.path.join(folder, BUNDLE_KINDS[kind])) == target:
                return entry, kind
    return None


def verify_sha256(path, expected, *, origin, remedy):
    sha = file_sha256(path)
    if expected is not None and sha != expected.lower():
        raise ChecksumError(f"model file {path} has sha256 {sha[:16]}... but {origin} expects "
                            f"{expected[:16]}...; {remedy}")
    return sha

"""Reading and writing model snapshots in the official Chainer ``save_npz`` layout, strictly.

Official keys are link paths without a leading slash (``block2/b1/gammas/W``); spectral-norm vectors are
``.../u`` of shape ``(1, out)`` and BN counters ``N`` are 0-d int64. Snapshots written by this project use
the same keys plus ``__neuralcollage__``: a JSON string with the model's kind and constructor kwargs, so
they load without naming an architecture.
"""
from neuralcollage import _compat  # noqa: F401

import json
import os
import zipfile

import chainer
import numpy

CONFIG_KEY = "__neuralcollage__"


class SnapshotError(ValueError):
    """A snapshot file cannot be read or does not fit the requested architecture."""


def _sn_hook(link):
    return link.local_link_hooks.get("SpectralNormalization") if hasattr(link, "local_link_hooks") else None


def state_entries(model):
    """``{official_key: (get, set, shape)}`` for every parameter and persistent value of ``model``."""
    entries = {}
    for path, link in model.namedlinks():
        prefix = path.lstrip("/")
        prefix = prefix + "/" if prefix else ""
        for name, param in link.namedparams(include_uninit=False):
            if "/" in name.lstrip("/"):
                continue
            key = prefix + name.lstrip("/")
            entries[key] = _param_entry(param)
        for name in sorted(link._persistent):
            if name.endswith("_u") and _sn_hook(link) is not None:
                entries[prefix + "u"] = _sn_entry(link, name)
            else:
                entries[prefix + name] = _persistent_entry(link, name)
    return entries


def _param_entry(param):
    def get():
        return chainer.backend.CpuDevice().send(param.array)

    def set_(value):
        param.array[...] = param.device.send(value.astype(param.dtype, copy=False))

    return get, set_, tuple(param.shape)


def _sn_entry(link, name):
    def get():
        return chainer.backend.CpuDevice().send(getattr(link, name))[None, :]

    def set_(value):
        getattr(link, name)[...] = link.device.send(value.reshape(-1).astype(numpy.float32))

    return get, set_, (1,) + tuple(getattr(link, name).shape)


def _persistent_entry(link, name):
    value = getattr(link, name)

    if isinstance(value, (int, numpy.integer)) or numpy.ndim(value) == 0:
        def get():
            return numpy.asarray(getattr(link, name), dtype=numpy.int64)

        def set_(v):
            setattr(link, name, int(v))

        return get, set_, ()

    def get():
        return chainer.backend.CpuDevice().send(getattr(link, name))

    def set_(v):
        getattr(link, name)[...] = link.device.send(v.astype(getattr(link, name).dtype, copy=False))

    return get, set_, tuple(value.shape)


def read_npz(path):
    """All arrays of an ``.npz`` file as a dict of NumPy arrays; a clear :class:`SnapshotError` if the file is
    missing, not an npz, corrupt or truncated."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise SnapshotError(f"snapshot {path!r} does not exist")
    if os.path.isdir(path):
        raise SnapshotError(f"snapshot {path!r} is a directory, not an .npz file")
    try:
        with numpy.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, RuntimeError) as exc:
        raise SnapshotError(f"snapshot {path!r} is not a readable .npz file (corrupt or truncated?): "
                            f"{type(exc).__name__}: {exc}") from None


def read_config(arrays):
    """The ``{"kind": ..., "config": {...}}`` record of a project snapshot, or None for an official file."""
    if CONFIG_KEY not in arrays:
        return None
    try:
        return json.loads(str(arrays[CONFIG_KEY]))
    except ValueError as exc:
        raise SnapshotError(f"snapshot metadata is not valid JSON: {exc}") from None


def load_state(model, arrays, *, source="snapshot", hint=None):
    """Copy ``arrays`` into ``model`` strictly.

    Raises:
        SnapshotError: a missing or unexpected key, or a shape mismatch; the message names the keys and
            ends with ``hint`` (a suggestion of the architecture that would fit) when given.
    """
    entries = state_entries(model)
    arrays = {k: v for k, v in arrays.items() if k != CONFIG_KEY}
    problems = state_problems({k: e[2] for k, e in entries.items()}, {k: v.shape for k, v in arrays.items()},
                              mismatch=lambda got, want: f"{got} vs model {want}")
    if problems:
        msg = f"{source} does not fit {model!r}: " + "; ".join(problems)
        raise SnapshotError(msg + (f". {hint}" if hint else ""))
    for key, (_, set_, _) in entries.items():
        value = arrays[key]
        if value.dtype.kind == "f" and not numpy.all(numpy.isfinite(value)):
            raise SnapshotError(f"{source}: {key} contains NaN or inf")
        set_(value)


def state_problems(expected, found, *, mismatch, few=None):
    """What keeps ``found`` arrays from fitting ``expected`` ones, as phrases for an error message.

    Args:
        expected, found: ``{key: shape}``.
        mismatch: ``mismatch(found_shape, expected_shape) -> str``, how a shape mismatch is described
            (after the key).
        few: ``few(sorted_strings) -> str`` shortening long lists (default: the first four, bracketed).

    Returns:
        list of str: ``"missing keys ..."``, ``"unexpected keys ..."``, ``"shape mismatches ..."`` (those
        that apply; empty when everything fits).
    """
    few = few or _few
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    mismatched = [f"{k} {mismatch(tuple(found[k]), tuple(expected[k]))}"
                  for k in sorted(set(expected) & set(found)) if tuple(found[k]) != tuple(expected[k])]
    return [f"{what} {few(keys)}" for what, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                                                      ("shape mismatches", mismatched)) if keys]


def _few(items, n=4):
    shown = ", ".join(items[:n])
    return f"[{shown}{', ...' if len(items) > n else ''}] ({len(items)} in all)"


def save_snapshot(model, path, *, kind):
    """Write ``model`` in the official key layout plus its config, atomically."""
    from neuralcollage.io import atomic_save_npz
    arrays = {key: get() for key, (get, _, _) in state_entries(model).items()}
    arrays[CONFIG_KEY] = numpy.array(json.dumps({"kind": kind, "config": model.config}))
    atomic_save_npz(path, **arrays)

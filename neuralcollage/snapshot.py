"""Reading and writing model snapshots in the official Chainer ``save_npz`` layout, strictly.

Official keys are link paths without a leading slash (``block2/b1/gammas/W``); spectral-norm vectors are
``.../u`` of shape ``(1, out)`` and BN counters ``N`` are 0-d int64. Snapshots written by this project use
the same keys plus ``__neuralcollage__``: a JSON string with the model's kind and constructor kwargs, so
they load without naming an architecture.
"""
from neuralcollage import _compat  # noqa: F401

import collections
import json
import math
import os
import zipfile
import zlib

import chainer
import numpy

from neuralcollage import limits

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


ArrayHeader = collections.namedtuple("ArrayHeader", "shape dtype nbytes")
ArrayHeader.__doc__ = """What a model file declares about one array, read without its data: ``shape`` (tuple), ``dtype``
(:class:`numpy.dtype`) and ``nbytes`` (the member's uncompressed size in the zip directory)."""

_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_MAX_NPY_HEADER = 65536


class SnapshotFile:
    """A model file opened strictly: its arrays' headers and its metadata, checked against
    :mod:`neuralcollage.limits` before any array is decompressed.

    Attributes:
        path: the file.
        headers: ``{key: ArrayHeader}`` (the metadata key excluded).
        record: the ``{"kind", "config"}`` record of a project snapshot (checked to be a JSON object with a
            string ``kind`` and an object ``config``), or None for an official file.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self.source = f"snapshot {self.path!r}"
        self.headers, raw_config = _read_headers(self.path, self.source)
        self.record = None if raw_config is None else _parse_record(raw_config, self.source)

    def arrays(self):
        """All arrays (the metadata key excluded) as NumPy arrays; every member was bounded by
        :func:`_read_headers`, so no member decompresses to more than its declared size."""
        out = {}
        with _open_zip(self.path, self.source) as zf:
            try:
                for key in self.headers:
                    with zf.open(key + ".npy") as member:
                        out[key] = numpy.lib.format.read_array(member, allow_pickle=False)
            except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, RuntimeError, zlib.error) as exc:
                raise SnapshotError(f"{self.source} is not a readable .npz file (corrupt or truncated?): "
                                    f"{type(exc).__name__}: {_one_line(exc)}") from None
        for key, array in out.items():
            if tuple(array.shape) != self.headers[key].shape:
                raise SnapshotError(f"{self.source}: array {key} does not match its header")
        return out

    def check_dtypes(self, keys=None):
        """Weights must be floating point (float16, float32, float64; converted when loaded), 0-d counters
        integers or floats: anything else (int, bool, complex, strings) is refused naming the file and key."""
        for key in (self.headers if keys is None else keys):
            header = self.headers[key]
            kind, size = header.dtype.kind, header.dtype.itemsize
            if kind == "f" and size in (2, 4, 8):
                continue
            if header.shape == () and kind in "iu":
                continue
            raise SnapshotError(f"{self.source}: array {key} has dtype {header.dtype}; weights must be floating "
                                f"point (float16, float32 or float64)")


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def _open_zip(path, source):
    from neuralcollage.io import InputError, open_regular
    if not os.path.lexists(path):
        raise SnapshotError(f"{source} does not exist")
    try:
        fh = open_regular(path, what=".npz file", limit=None)
    except InputError as exc:
        raise SnapshotError(f"{source}: {str(exc).split(': ', 1)[-1]}") from None
    try:
        return zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, RuntimeError, zlib.error) as exc:
        fh.close()
        raise SnapshotError(f"{source} is not a readable .npz file (corrupt or truncated?): "
                            f"{type(exc).__name__}: {_one_line(exc)}") from None


def _read_headers(path, source):
    """``({key: ArrayHeader}, metadata text or None)`` from the zip directory and the ``.npy`` headers only."""
    headers, total, config = {}, 0, None
    with _open_zip(path, source) as zf:
        infos = zf.infolist()
        if len(infos) > limits.SNAPSHOT_MAX_MEMBERS:
            raise SnapshotError(f"{source} holds {len(infos)} arrays, over the limit of "
                                f"{limits.SNAPSHOT_MAX_MEMBERS}")
        try:
            for info in infos:
                key = _member_key(info, source)
                if key in headers or (key == CONFIG_KEY and config is not None):
                    raise SnapshotError(f"{source} holds array {key} twice")
                cap = limits.SNAPSHOT_CONFIG_MAX_BYTES if key == CONFIG_KEY else limits.SNAPSHOT_MAX_ARRAY_BYTES
                if info.file_size > cap:
                    raise SnapshotError(f"{source}: array {key} declares {info.file_size} bytes, over the limit of "
                                        f"{cap}")
                total += info.file_size
                if total > limits.SNAPSHOT_MAX_BYTES:
                    raise SnapshotError(f"{source}: its arrays declare more than {limits.SNAPSHOT_MAX_BYTES} "
                                        f"bytes in all, over the limit")
                with zf.open(info) as member:
                    header = _npy_header(member, info, key, source)
                    if key == CONFIG_KEY:
                        if header.dtype.kind not in "US" or header.shape != ():
                            raise SnapshotError(f"{source}: metadata {CONFIG_KEY} must be one string, got "
                                                f"{header.dtype} {header.shape}")
                        with zf.open(info) as again:
                            config = str(numpy.lib.format.read_array(again, allow_pickle=False))
                    else:
                        headers[key] = header
        except SnapshotError:
            raise
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, RuntimeError, zlib.error) as exc:
            raise SnapshotError(f"{source} is not a readable .npz file (corrupt or truncated?): "
                                f"{type(exc).__name__}: {_one_line(exc)}") from None
    return headers, config


def _member_key(info, source):
    name = info.filename
    if not name.endswith(".npy") or info.is_dir():
        raise SnapshotError(f"{source} is not a NumPy .npz file: member {name[:80]!r} is not an .npy array")
    if info.compress_type not in _ZIP_METHODS:
        raise SnapshotError(f"{source}: array {name[:-4]} uses zip compression method {info.compress_type} "
                            f"(only stored and deflated arrays are read)")
    return name[:-4]


def _npy_header(member, info, key, source):
    """The checked :class:`ArrayHeader` of one member (reads its first bytes only)."""
    try:
        version = numpy.lib.format.read_magic(member)
        read = {(1, 0): numpy.lib.format.read_array_header_1_0,
                (2, 0): numpy.lib.format.read_array_header_2_0}.get(version)
        if read is None:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, fortran, dtype = read(member, max_header_size=_MAX_NPY_HEADER)
    except (ValueError, SyntaxError, TypeError, EOFError, OSError, zlib.error) as exc:
        raise SnapshotError(f"{source}: array {key} has an unreadable .npy header: {_one_line(exc)}") from None
    if dtype.hasobject:
        raise SnapshotError(f"{source}: array {key} holds Python objects (pickles are never loaded)")
    if len(shape) > limits.SNAPSHOT_MAX_NDIM or any(not isinstance(d, int) or d < 0 for d in shape):
        raise SnapshotError(f"{source}: array {key} has an impossible shape {shape}")
    count = 1
    for d in shape:
        count *= d
    data_bytes = count * dtype.itemsize
    if not 0 < info.file_size - data_bytes <= _MAX_NPY_HEADER + 16:
        raise SnapshotError(f"{source}: array {key} declares shape {shape} ({data_bytes} bytes of {dtype}) but its "
                            f"zip member holds {info.file_size} bytes")
    return ArrayHeader(tuple(shape), dtype, info.file_size)


def _parse_record(text, source):
    try:
        record = json.loads(text)
    except RecursionError:
        raise SnapshotError(f"{source}: metadata nests too deeply") from None
    except ValueError as exc:
        raise SnapshotError(f"snapshot metadata is not valid JSON: {exc}") from None
    if not isinstance(record, dict) or not isinstance(record.get("kind"), str) \
            or not isinstance(record.get("config"), dict):
        raise SnapshotError(f"{source}: metadata must be a JSON object with a string 'kind' and an object "
                            f"'config', got {_short(record)}")
    return record


def _short(value, n=60):
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= n else text[:n - 3] + "..."


def check_config(config, cls, *, kind, source):
    """The metadata ``config`` of a project snapshot checked against ``cls``'s constructor and
    :data:`neuralcollage.limits.CONFIG_INT_RANGES` before anything is built.

    Raises:
        SnapshotError: an unknown key, a value of the wrong type, a number out of range; one line naming the
            file and key.
    """
    import inspect
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        params = {}
    open_kwargs = any(p.kind == p.VAR_KEYWORD for p in params.values())
    known = {name for name, p in params.items() if name != "self" and p.kind in (p.KEYWORD_ONLY,
                                                                                 p.POSITIONAL_OR_KEYWORD)}
    for key in config:
        if not open_kwargs and key not in known:
            raise SnapshotError(f"{source}: metadata has an unknown key {key!r} for a {kind} "
                                f"(known: {', '.join(sorted(known))})")
    check_config_values(config, source=source)


def check_config_values(config, *, source):
    """The types and ranges of ``config``'s values (:func:`check_config` without the constructor)."""
    for key, value in config.items():
        _check_config_value(key, value, f"{source}: metadata {key}")


def _check_config_value(key, value, where):
    if value is None or isinstance(value, (bool, str)):
        if isinstance(value, str) and len(value) > 256:
            raise SnapshotError(f"{where} is a string of {len(value)} characters (at most 256)")
        if key in limits.CONFIG_INT_RANGES and value is not None:
            raise SnapshotError(f"{where} must be an integer, got {_short(value)}")
        return
    if isinstance(value, int):
        low, high = limits.CONFIG_INT_RANGES.get(key, (0, limits.CONFIG_MAX_INT))
        if not low <= value <= high:
            raise SnapshotError(f"{where} = {_short(value)} is out of range [{low}, {high}]")
        return
    if isinstance(value, float):
        if key in limits.CONFIG_INT_RANGES:
            raise SnapshotError(f"{where} must be an integer, got {_short(value)}")
        if not math.isfinite(value) or abs(value) > limits.CONFIG_MAX_INT:
            raise SnapshotError(f"{where} = {_short(value)} is not a finite number in range")
        return
    if isinstance(value, list):
        if len(value) > 64:
            raise SnapshotError(f"{where} is a list of {len(value)} items (at most 64)")
        for item in value:
            if isinstance(item, list):
                for sub in item:
                    _check_list_item(sub, where)
                if len(item) > 64:
                    raise SnapshotError(f"{where} holds a list of {len(item)} items (at most 64)")
            else:
                _check_list_item(item, where)
        return
    raise SnapshotError(f"{where} has an unsupported value {_short(value)}")


def _check_list_item(item, where):
    if isinstance(item, bool) or item is None or (isinstance(item, str) and len(item) <= 256):
        return
    if isinstance(item, int) and 0 <= item <= 1024:
        return
    if isinstance(item, float) and math.isfinite(item) and abs(item) <= 1024:
        return
    raise SnapshotError(f"{where} holds {_short(item)}; list items must be numbers in [0, 1024], strings or "
                        f"booleans")


def read_npz(path):
    """All arrays of an ``.npz`` file as a dict of NumPy arrays (the metadata included as a 0-d string array);
    a clear :class:`SnapshotError` if the file is missing, not a regular file, not an npz, corrupt,
    truncated or over the limits of :mod:`neuralcollage.limits` (checked on the zip directory and the array
    headers before anything is decompressed)."""
    snap = SnapshotFile(path)
    arrays = snap.arrays()
    if snap.record is not None:
        arrays[CONFIG_KEY] = numpy.array(json.dumps(snap.record))
    return arrays


def read_config(arrays):
    """The ``{"kind": ..., "config": {...}}`` record of a project snapshot, or None for an official file."""
    if CONFIG_KEY not in arrays:
        return None
    try:
        record = json.loads(str(arrays[CONFIG_KEY]))
    except RecursionError:
        raise SnapshotError("snapshot metadata nests too deeply") from None
    except ValueError as exc:
        raise SnapshotError(f"snapshot metadata is not valid JSON: {exc}") from None
    return _parse_record(json.dumps(record), "snapshot")


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

"""``load_generator`` / ``load_discriminator``: official snapshot files and this project's own."""
from neuralcollage import _compat  # noqa: F401

import contextlib
import os
import re

from neuralcollage.models.discriminator import Discriminator
from neuralcollage.models.generator import Generator
from neuralcollage.models.presets import DISCRIMINATOR_PRESETS, GENERATOR_PRESETS
from neuralcollage.snapshot import (SnapshotError, SnapshotFile, check_config, load_state, state_entries,
                                    state_problems)

_KINDS = {"generator": (Generator, GENERATOR_PRESETS), "discriminator": (Discriminator, DISCRIMINATOR_PRESETS)}


def load_generator(path, *, arch=None, device=None, **overrides):
    """Load a generator snapshot strictly.

    Args:
        path: ``.npz`` file: an official Neural Collage / SNGAN-projection generator (give ``arch``) or a
            snapshot written by this project (architecture read from the file).
        arch: preset name (``"collage256"``, ``"collage128"``, ``"sngan128"``, ``"sngan64"``, ...).
        device: ``None``/-1 for the CPU or a GPU id (see :func:`neuralcollage.backend.get_device`).
        **overrides: ``ch``, ``n_classes``, ``dim_z``, ``bottom_width``.

    Raises:
        SnapshotError: unreadable file, or keys/shapes that do not fit (the message names them and suggests
            the preset and overrides that would).
    """
    return _load(path, "generator", arch, device, overrides)


def load_discriminator(path, *, arch=None, device=None, **overrides):
    """Load a discriminator snapshot strictly (see :func:`load_generator`; overrides ``ch``, ``n_classes``)."""
    return _load(path, "discriminator", arch, device, overrides)


def load_model(path, *, kind, arch=None, device=None, **overrides):
    """Load a ``kind`` (``"generator"``, ``"discriminator"``, ``"encoder"``, ``"classifier"``) snapshot."""
    if kind in _KINDS:
        return _load(path, kind, arch, device, overrides)
    from neuralcollage.models import extra_kinds
    return _load(path, kind, arch, device, overrides, table=extra_kinds())


def _load(path, kind, arch, device, overrides, table=None):
    """Check the file (zip directory, array headers, metadata) against the architecture and the limits of
    :mod:`neuralcollage.limits` before building the model or decompressing any array."""
    from neuralcollage.backend import get_device
    table = table or _KINDS
    cls, presets = table[kind]
    snap = SnapshotFile(path)
    record, headers = snap.record, snap.headers
    source = snap.source
    if kind == "generator" and record is not None and record.get("kind") == "biggan_generator":
        from neuralcollage.models import extra_kinds
        kind = "biggan_generator"
        cls, presets = extra_kinds()[kind]
    if record is not None:
        if record.get("kind") != kind:
            raise SnapshotError(f"{source} holds a {_short(record.get('kind'))}, not a {kind}")
        config = dict(record["config"])
        check_config(config, cls, kind=kind, source=source)
        if arch is not None and config.get("arch") not in (None, arch):
            raise SnapshotError(f"{source} is a {config.get('arch')!r} {kind}, not {arch!r}")
        for key, value in overrides.items():
            if key in config and config[key] != value:
                raise SnapshotError(f"{source} has {key}={config[key]}, which conflicts with {key}={value}")
        build = lambda: cls(**config)  # noqa: E731
    else:
        if arch is None:
            raise SnapshotError(f"{source} is an official snapshot without architecture metadata; pass arch= "
                                f"({_guess(kind, headers) or 'one of ' + ', '.join(presets)})")
        build = lambda: cls.from_preset(arch, **overrides)  # noqa: E731
    hint = _guess(kind, headers)
    hint = f"The file looks like {hint}" if hint else None
    expected = expected_shapes(build, source=source)
    problems = state_problems(expected, {k: h.shape for k, h in headers.items()},
                              mismatch=lambda got, want: f"{got} vs model {want}")
    if problems:
        raise SnapshotError(f"{source} does not fit the {kind} it describes: " + "; ".join(problems)
                            + (f". {hint}" if hint else ""))
    snap.check_dtypes()
    try:
        model = build()
    except ValueError as exc:
        raise SnapshotError(str(exc)) from None
    load_state(model, snap.arrays(), source=source, hint=hint)
    model.snapshot_path = os.path.abspath(os.fspath(path))
    model.to_device(get_device(device))
    return model


def _short(value):
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def expected_shapes(build, *, source="snapshot"):
    """``{key: shape}`` of every array the model ``build()`` makes would hold, found without allocating its
    weights: while it is built, Chainer's parameter initialisation (and the gradient it makes with
    ``numpy.full_like``) hands out one shared value per parameter (a zero-stride view) instead of memory, and
    the shapes are read off the result.  Not thread-safe while it runs (both functions are patched for the
    duration of the build).

    Raises:
        SnapshotError: ``build()`` fails (metadata or preset overrides that describe no model).
    """
    try:
        with _shapes_only():
            model = build()
            return {key: shape for key, (_, _, shape) in state_entries(model).items()}
    except SnapshotError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError, AttributeError, OverflowError,
            MemoryError, AssertionError) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise SnapshotError(f"{source}: its architecture cannot be built: {text}") from None


@contextlib.contextmanager
def _shapes_only():
    import chainer
    import chainer.initializers as initializers
    import numpy
    original = initializers.generate_array

    def shared_zero(initializer, shape, xp, dtype=None, device=None):
        dtype = chainer.get_dtype(dtype if dtype is not None else getattr(initializer, "dtype", None))
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        return numpy.lib.stride_tricks.as_strided(numpy.zeros(1, dtype), shape=shape, strides=(0,) * len(shape))

    full_like = numpy.full_like

    def shared_full_like(a, fill_value, *args, **kwargs):  # Parameter makes its gradient with full_like
        if isinstance(a, numpy.ndarray) and a.ndim and not any(a.strides) and not args and not kwargs:
            return numpy.lib.stride_tricks.as_strided(numpy.full(1, fill_value, a.dtype), shape=a.shape,
                                                      strides=(0,) * a.ndim)
        return full_like(a, fill_value, *args, **kwargs)

    initializers.generate_array = shared_zero
    numpy.full_like = shared_full_like
    try:
        yield
    finally:
        initializers.generate_array = original
        numpy.full_like = full_like


def _blocks(arrays, pattern):
    found = sorted({int(m.group(1)) for k in arrays for m in [re.match(pattern, k)] if m})
    return found


def _guess(kind, arrays):
    """A human suggestion ``arch='collage128', ch=64, n_classes=143`` for official ``arrays``, or None."""
    try:
        if kind == "generator":
            blocks = _blocks(arrays, r"block(\d+)/c2/W$")
            widths = [arrays["block2/c1/W"].shape[1]] + [arrays[f"block{b}/c2/W"].shape[0] for b in blocks]
            ch = widths[-1]
            mult = tuple(w // ch for w in widths)
            kw = dict(ch=ch, n_classes=arrays["block2/b1/gammas/W"].shape[0], dim_z=arrays["l1/W"].shape[1])
        elif kind == "discriminator":
            blocks = _blocks(arrays, r"block(\d+)/c2/W$")
            widths = [arrays[f"block{b}/c2/W"].shape[0] for b in blocks]
            ch = widths[0]
            mult = tuple(w // ch for w in widths)
            kw = dict(ch=ch, n_classes=arrays["l_y/W"].shape[0])
        else:
            return None
    except (KeyError, IndexError, ZeroDivisionError):
        return None
    presets = _KINDS[kind][1]
    names = [name for name, p in presets.items() if tuple(p["channels"]) == mult]
    args = ", ".join(f"{k}={v}" for k, v in kw.items())
    if names:
        return f"arch={names[0]!r}, {args}"
    return f"a {kind} with channel multipliers {mult} and {args} (no preset has these channels)"

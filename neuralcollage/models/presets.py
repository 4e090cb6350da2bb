"""Architecture presets: the official configurations and this project's own.

A preset is a plain dict of constructor keyword arguments; ``ch``, ``n_classes``, ``dim_z`` and
``bottom_width`` can be overridden by the caller.  ``channels`` are multiples of ``ch``.
"""
import copy

GENERATOR_PRESETS = {
    "collage256": dict(channels=(16, 16, 8, 8, 4, 2, 1), ch=48, dim_z=128, n_classes=143, bottom_width=4),
    "collage128": dict(channels=(8, 8, 4, 4, 2, 1), ch=64, dim_z=128, n_classes=143, bottom_width=4),
    "sngan128": dict(channels=(16, 16, 8, 4, 2, 1), ch=64, dim_z=128, n_classes=1000, bottom_width=4),
    "sngan64": dict(channels=(16, 8, 4, 2, 1), ch=64, dim_z=128, n_classes=1000, bottom_width=4),
    "builtin64": dict(channels=(8, 8, 4, 2, 1), ch=16, dim_z=64, n_classes=6, bottom_width=4),
    "tiny32": dict(channels=(4, 4, 2, 1), ch=4, dim_z=16, n_classes=4, bottom_width=4),
}

DISCRIMINATOR_PRESETS = {
    "collage256": dict(channels=(1, 2, 4, 8, 8, 16, 16), ch=48, n_classes=143, hidden="out"),
    "collage128": dict(channels=(1, 2, 4, 4, 8, 8), ch=64, n_classes=143, hidden="in"),
    "sngan128": dict(channels=(1, 2, 4, 8, 16, 16), ch=64, n_classes=1000, hidden="in"),
    "builtin64": dict(channels=(1, 2, 4, 8, 8), ch=16, n_classes=6, hidden="out"),
    "tiny32": dict(channels=(1, 2, 4, 4), ch=4, n_classes=4, hidden="out"),
}

OVERRIDABLE = ("ch", "n_classes", "dim_z", "bottom_width")


def resolve(presets, arch, overrides, *, kind):
    """Constructor kwargs for preset ``arch`` with ``overrides`` applied.

    Raises:
        ValueError: unknown preset or an override this kind of model does not take.
    """
    if arch not in presets:
        raise ValueError(f"unknown {kind} architecture {arch!r}; choose one of: {', '.join(presets)}")
    kwargs = copy.deepcopy(presets[arch])
    for key, value in overrides.items():
        if key not in kwargs or key not in OVERRIDABLE:
            allowed = [k for k in OVERRIDABLE if k in kwargs]
            raise ValueError(f"{kind} preset {arch!r} takes overrides {allowed}, not {key!r}")
        kwargs[key] = int(value)
    return kwargs

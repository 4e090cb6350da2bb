"""The limits on what untrusted input may ask for: numeric options and the sizes of files and their parts.

Recipes are shared and model files are downloaded, so every number in them (and on the command line) is
checked against a range here before any work, and every file is checked against a size before it is read.
Each refusal is one line that names the option, key or file.  The CLI builds its argument types from
:data:`OPTION_RANGES`, so the library, the recipes and the command line share one definition.

This module imports nothing heavy (no NumPy, no Chainer): ``collage --help`` uses it.
"""
import math

__all__ = ["OPTION_RANGES", "check_option", "option_range_text", "RECIPE_MAX_BYTES", "RECIPE_MAX_DEPTH",
           "JSON_MAX_BYTES", "MASK_MAX_PIXELS", "SNAPSHOT_MAX_BYTES", "SNAPSHOT_MAX_MEMBERS",
           "SNAPSHOT_MAX_ARRAY_BYTES", "SNAPSHOT_CONFIG_MAX_BYTES", "SNAPSHOT_MAX_NDIM", "CONFIG_INT_RANGES",
           "CONFIG_MAX_INT", "LATENT_MAX_DIM"]

#: Largest recipe file read (bytes): a recipe holds a PNG- or zlib-compressed mask and two latents.
RECIPE_MAX_BYTES = 16 * 2 ** 20
#: Deepest nesting of JSON arrays and objects accepted in a recipe (a recipe needs 4).
RECIPE_MAX_DEPTH = 32
#: Largest other JSON file read (``hashes.json``, the manifest, axes files): bytes.
JSON_MAX_BYTES = 64 * 2 ** 20
#: Most pixels of a mask decoded from a recipe (the same as the default ``--max-pixels`` of photos).
MASK_MAX_PIXELS = 64_000_000
#: Largest latent (``dim_z``) of a model or a recipe.
LATENT_MAX_DIM = 4096

#: Largest sum of the arrays of a model file, as declared in its zip directory (bytes; BigGAN-deep 512 px
#: needs about 0.3 GB).
SNAPSHOT_MAX_BYTES = 4 * 2 ** 30
#: Largest single array of a model file (bytes).
SNAPSHOT_MAX_ARRAY_BYTES = 2 * 2 ** 30
#: Most arrays in a model file.
SNAPSHOT_MAX_MEMBERS = 20_000
#: Most dimensions of one array.
SNAPSHOT_MAX_NDIM = 8
#: Largest metadata record (``__neuralcollage__``) of a project snapshot (bytes).
SNAPSHOT_CONFIG_MAX_BYTES = 1 * 2 ** 20
#: Ranges (inclusive) of the integer metadata of a project snapshot; other integers must lie in
#: ``0..CONFIG_MAX_INT``.
CONFIG_INT_RANGES = {
    "ch": (1, 4096),
    "n_classes": (1, 100_000),
    "dim_z": (1, LATENT_MAX_DIM),
    "bottom_width": (1, 64),
    "resolution": (1, 4096),
}
CONFIG_MAX_INT = 1_000_000

_INF = math.inf

#: name -> (kind, low, high, what); kind "int" or "float"; ``inf_ok``: infinity is a value of its own
#: (the colour reach's classic Poisson).  Ranges are inclusive.
OPTION_RANGES = {
    "dilate": ("int", 0, 512, "pixels the mask grows by before blending"),
    "colour_reach": ("float", 1e-3, 100_000.0, "pixels (or inf)"),
    "feather": ("float", 0.0, 64.0, "pixels (Gaussian sigma)"),
    "margin": ("float", 0.0, 16.0, "a fraction of the mask's side"),
    "context": ("float", 0.0, 1.0, "a fraction of the generator's resolution"),
    "steps": ("int", 0, 100_000, "steps"),
    "restarts": ("int", 1, 100, "projection runs"),
    "candidates": ("int", 1, 100_000, "classes"),
    "guess_steps": ("int", 0, 100_000, "steps"),
    "seed": ("int", 0, 2 ** 32 - 1, "a seed"),
    "count": ("int", 1, 10_000, "images"),
    "amount": ("float", -1000.0, 1000.0, "latent standard deviations"),
    "truncation": ("float", 1e-6, 1.0, "a truncation"),
    "patch_iterations": ("int", 0, 10, "passes of the stylisation's patch refinement (3 meets the hatch target)"),
}
_INF_OK = ("colour_reach",)


def option_range_text(name):
    """``"an integer in [0, 512]"``-style wording of option ``name``'s range."""
    kind, low, high, _ = OPTION_RANGES[name]
    what = "an integer" if kind == "int" else "a finite number"
    extra = " or inf" if name in _INF_OK else ""
    return f"{what} in [{low:g}, {high:g}]{extra}"


def check_option(name, value, *, label=None):
    """``value`` of option ``name`` (:data:`OPTION_RANGES`) converted and checked; ``label`` names it in the
    error (default ``name``).

    Returns:
        int or float (``math.inf`` for an infinite colour reach; ``None`` passes through for options whose
        default is None).

    Raises:
        ValueError: not a number, NaN, infinite (except the colour reach), or outside the range; one line
            naming the option.
    """
    label = label or name
    kind, low, high, _ = OPTION_RANGES[name]
    if value is None and name in _INF_OK:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not _is_numpy_number(value):
        raise ValueError(f"{label} must be {option_range_text(name)}, got {value!r}")
    try:
        number = float(value)
    except (OverflowError, TypeError, ValueError):
        number = math.inf
    if name in _INF_OK and number == _INF:
        return _INF
    if not math.isfinite(number) or not low <= number <= high:
        raise ValueError(f"{label} must be {option_range_text(name)}, got {_show(value)}")
    if kind == "int":
        if number != int(number):
            raise ValueError(f"{label} must be {option_range_text(name)}, got {_show(value)}")
        return int(number)
    return number


def _show(value):
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_numpy_number(value):
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    return kind in ("i", "u", "f") and getattr(value, "ndim", 1) == 0

"""The style painting of a painting recipe: what it records, how it is checked and how it is replayed.

A painting recipe (:mod:`neuralcollage.painting`, version 3) with style strokes has a ``style`` entry:

``order``
    ``"after_paintings"``: the style painting stylises the generator's image of the class, blend and attribute
    paintings (the painter's preview), whatever the order the strokes were painted in.
``canvas``
    The style canvas (two labels, 0 unchanged, 1 stylised) as strokes, exactly as the other canvases.
``exemplar``
    ``name``; ``source``: ``"builtin"`` (``builtin``, ``size``, ``parts``: rebuilt from the name), ``"file"``
    (``path``, ``sha256`` of the file's bytes, optionally ``parts_path`` / ``parts_sha256``) or ``"memory"``
    (given in code: the replay needs it again); ``image_sha256`` (of the pixels, :func:`pixels_sha256`),
    ``shape``, ``landmarks`` (exact), ``n_labels``, ``labels_sha256``, ``appearance_source_sha256`` and the
    lookup-table parameters ``table``.
``target_landmarks``
    The painted image's landmarks the stylisation used (exact; the replay predicts nothing).
``seed``, ``threshold``, ``blend_radius``, ``vote_sigma``, ``vote_stride``, ``guide_weights``, ``levels``, ``lattice``
    The synthesis knobs (:func:`~neuralcollage.stylize.stylize`; ``vote_stride`` as used, never null;
    ``lattice`` null (no snapping), ``"auto"`` or a basis ``[[a, b], [c, d]]`` of integers in
    [-:data:`LATTICE_MAX`, :data:`LATTICE_MAX`] with ``ad - bc != 0``, columns the vectors ``(x, y)``; optional:
    a recipe written before it has none and replays as made, i.e. null).
``patch_iterations``
    Passes of patch refinement after the vote (:func:`~neuralcollage.stylize.stylize`), an integer in
    [0, :data:`~neuralcollage.stylize.styleblit.PATCH_ITERATIONS_MAX`]; optional: a recipe written before it has
    none and replays as made, i.e. 0.

The replay rebuilds the exemplar, checks every digest and composites the synthesis through the canvas's painted
alpha exactly as :meth:`StyleBrush.preview <neuralcollage.stylize.StyleBrush.preview>` did: bit for bit.  A file
is hashed before it is decoded; a missing or changed file is a :class:`StyleRecipeError` (one line).
"""
import inspect
import math
import os

import numpy

from neuralcollage.stylize.exemplars import (BUILTIN_EXEMPLARS, builtin_exemplar, pixels_sha256)

__all__ = ["STYLE_ORDER", "StyleRecipeError", "exemplar_entry", "style_entry", "check_style_entry",
           "resolve_exemplar", "apply_style_entry", "paths_relative_to", "TABLE_OPTIONS", "EXEMPLAR_MAX_BYTES",
           "LATTICE_MAX"]

STYLE_ORDER = "after_paintings"
#: The lookup-table options of :func:`~neuralcollage.stylize.prepare_exemplar` a recipe records.
TABLE_OPTIONS = ("position_bins", "appearance_bins", "position_weight", "appearance_weight")
_SOURCES = ("builtin", "file", "memory")
#: The largest ``|v|`` of a recorded lattice basis entry (px).
LATTICE_MAX = 4096


class StyleRecipeError(ValueError):
    """A style entry that is malformed or whose exemplar cannot be found again as it was (one line)."""


def _table_defaults():
    from neuralcollage.stylize.core import prepare_exemplar
    params = inspect.signature(prepare_exemplar).parameters
    return {k: params[k].default for k in TABLE_OPTIONS}


def exemplar_entry(name, spec, prepared):
    """What a recipe records of exemplar ``name``: ``spec`` as given to the style session (a dict, possibly with
    ``source``, or an :class:`~neuralcollage.stylize.Exemplar`) and ``prepared`` the Exemplar it made."""
    from neuralcollage.stylize.core import Exemplar
    entry = {"name": str(name)}
    source = spec.get("source") if isinstance(spec, dict) else None
    if isinstance(source, dict) and "builtin" in source:
        entry.update(source="builtin", builtin=str(source["builtin"]), size=int(source["size"]),
                     parts=bool(source.get("parts", False)))
    elif isinstance(source, dict) and "path" in source:
        entry.update(source="file", path=str(source["path"]), sha256=str(source["sha256"]))
        if source.get("parts_path"):
            entry.update(parts_path=str(source["parts_path"]), parts_sha256=str(source["parts_sha256"]))
    else:
        entry["source"] = "memory"
    labels = None
    if prepared.n_labels > 1:
        labels = spec["labels"] if isinstance(spec, dict) else None
    appearance = spec.get("appearance_source") if isinstance(spec, dict) else None
    entry.update(image_sha256=pixels_sha256(prepared.image), shape=list(prepared.image.shape[:2]),
                 landmarks=[[float(x), float(y)] for x, y in prepared.landmarks], n_labels=int(prepared.n_labels),
                 labels_sha256=None if labels is None else pixels_sha256(numpy.asarray(labels, numpy.int32)),
                 appearance_source_sha256=None if appearance is None else pixels_sha256(numpy.asarray(appearance)))
    if isinstance(spec, Exemplar):
        entry["table"] = None
    else:
        entry["table"] = _table_defaults()
    return entry


def style_entry(*, exemplar, canvas, target_landmarks, seed, threshold, blend_radius, vote_sigma,
                guide_weights=None, levels=None, vote_stride=None, lattice=None, patch_iterations=0):
    """A recipe's ``style`` entry (see the module docstring); ``exemplar`` from :func:`exemplar_entry`,
    ``canvas`` the style :class:`~neuralcollage.painting.LabelPainter`."""
    from neuralcollage.stylize.styleblit import LEVELS, vote_stride_for
    stride = vote_stride_for(canvas.size) if vote_stride is None else int(vote_stride)
    return {"order": STYLE_ORDER, "canvas": canvas.to_dict(), "exemplar": dict(exemplar),
            "target_landmarks": [[float(x), float(y)] for x, y in numpy.asarray(target_landmarks, numpy.float64)],
            "seed": int(seed), "threshold": float(threshold), "blend_radius": int(blend_radius),
            "vote_sigma": None if vote_sigma is None else float(vote_sigma), "vote_stride": stride,
            "guide_weights": None if guide_weights is None else [float(w) for w in guide_weights],
            "levels": [int(v) for v in (LEVELS if levels is None else levels)],
            "lattice": _lattice_entry(lattice), "patch_iterations": int(patch_iterations)}


def _lattice_entry(lattice):
    """What a recipe records of a ``lattice`` option: None, ``"auto"`` or ``[[a, b], [c, d]]`` ints."""
    if lattice is None or isinstance(lattice, str):
        return lattice
    return [[int(v) for v in row] for row in numpy.asarray(lattice)]


# ------------------------------------------------------------------------------------------------ checks

def _fail(message):
    raise StyleRecipeError(f"recipe style {message}")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _points(value, where):
    if not isinstance(value, list) or not 2 <= len(value) <= 1000 or not all(
            isinstance(p, list) and len(p) == 2 and all(_is_number(v) for v in p) for p in value):
        _fail(f"{where} must be a list of 2-1000 [x, y] pairs of finite numbers")
    return numpy.asarray(value, numpy.float64)


def _sha(entry, key, where, optional=False):
    value = entry.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        _fail(f"{where}.{key} must be 64 lowercase hex digits")
    return value


def _check_lattice(lattice):
    if lattice is None or (isinstance(lattice, str) and lattice == "auto"):
        return
    if not (isinstance(lattice, list) and len(lattice) == 2 and all(
            isinstance(row, list) and len(row) == 2 and all(_is_int(v) and abs(v) <= LATTICE_MAX for v in row)
            for row in lattice)):
        _fail(f"lattice must be null, \"auto\" or [[a, b], [c, d]] integers in [-{LATTICE_MAX}, {LATTICE_MAX}], "
              f"got {_short(lattice)}")
    (a, b), (c, d) = lattice
    if a * d - b * c == 0:
        _fail(f"lattice {lattice} is singular (determinant 0): its columns must be two independent translations")


def _check_patch_iterations(value):
    from neuralcollage.stylize.styleblit import PATCH_ITERATIONS_MAX, check_patch_iterations
    try:
        check_patch_iterations(value)
    except ValueError:
        _fail(f"patch_iterations must be an integer in [0, {PATCH_ITERATIONS_MAX}], got {_short(value)}")


def _short(value, limit=80):
    text = repr(value).replace("\n", " ").replace("\r", " ")
    return text if len(text) <= limit else text[:limit - 3] + "..."


def check_style_entry(entry, *, size=None):
    """Check a recipe's ``style`` entry (types and ranges; ``size`` ``(H, W)`` the canvas must have); returns it.
    Raises :class:`StyleRecipeError`, one line naming the field."""
    if not isinstance(entry, dict):
        _fail("must be a JSON object")
    if entry.get("order") != STYLE_ORDER:
        _fail(f"order must be {STYLE_ORDER!r} (the stylisation of the painted image), got {entry.get('order')!r}")
    for key in ("canvas", "exemplar", "target_landmarks", "seed", "threshold", "blend_radius", "vote_stride",
                "levels"):
        if key not in entry:
            _fail(f"is missing {key!r}")
    canvas = entry["canvas"]
    if not isinstance(canvas, dict) or canvas.get("n_labels") != 2:
        _fail("canvas must have 2 labels (unchanged, stylised)")
    if size is not None and tuple(canvas.get("size", ())) != tuple(size):
        _fail(f"canvas is {canvas.get('size')} but the painting is {list(size)}")
    if not _is_int(entry["seed"]) or not 0 <= entry["seed"] < 2 ** 32:
        _fail(f"seed must be an integer in [0, 2**32), got {entry['seed']!r}")
    if not _is_number(entry["threshold"]) or entry["threshold"] < 0:
        _fail(f"threshold must be a finite number >= 0, got {entry['threshold']!r}")
    if not _is_int(entry["blend_radius"]) or not 0 <= entry["blend_radius"] <= 16:
        _fail(f"blend_radius must be an integer in [0, 16], got {entry['blend_radius']!r}")
    if not _is_int(entry["vote_stride"]) or not 1 <= entry["vote_stride"] <= 64:
        _fail(f"vote_stride must be an integer in [1, 64], got {entry['vote_stride']!r}")
    _check_lattice(entry.get("lattice"))
    _check_patch_iterations(entry.get("patch_iterations", 0))
    sigma = entry.get("vote_sigma")
    if sigma is not None and (not _is_number(sigma) or sigma <= 0):
        _fail(f"vote_sigma must be null or a finite number > 0, got {sigma!r}")
    weights = entry.get("guide_weights")
    if weights is not None and (not isinstance(weights, list) or not 3 <= len(weights) <= 4
                                or not all(_is_number(w) and w >= 0 for w in weights)):
        _fail("guide_weights must be null or 3-4 finite numbers >= 0")
    levels = entry["levels"]
    if not isinstance(levels, list) or not 1 <= len(levels) <= 16 or not all(
            _is_int(v) and 1 <= v <= 4096 for v in levels):
        _fail("levels must be a list of 1-16 integers in [1, 4096]")
    target_lm = _points(entry["target_landmarks"], "target_landmarks")
    ex = entry["exemplar"]
    if not isinstance(ex, dict):
        _fail("exemplar must be a JSON object")
    name = ex.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        _fail("exemplar.name must be a non-empty string of at most 200 characters")
    if ex.get("source") not in _SOURCES:
        _fail(f"exemplar.source must be one of {list(_SOURCES)}, got {ex.get('source')!r}")
    _sha(ex, "image_sha256", "exemplar")
    _sha(ex, "labels_sha256", "exemplar", optional=True)
    _sha(ex, "appearance_source_sha256", "exemplar", optional=True)
    shape = ex.get("shape")
    if not isinstance(shape, list) or len(shape) != 2 or not all(_is_int(v) and 2 <= v <= 65536 for v in shape):
        _fail("exemplar.shape must be [height, width]")
    if len(_points(ex.get("landmarks"), "exemplar.landmarks")) != len(target_lm):
        _fail("exemplar.landmarks and target_landmarks differ in length")
    if not _is_int(ex.get("n_labels")) or not 1 <= ex["n_labels"] <= 16:
        _fail("exemplar.n_labels must be an integer in [1, 16]")
    table = ex.get("table")
    if table is not None and (not isinstance(table, dict) or set(table) != set(TABLE_OPTIONS)
                              or not all(_is_number(v) for v in table.values())):
        _fail(f"exemplar.table must be null or {{{', '.join(TABLE_OPTIONS)}}} numbers")
    if ex["source"] == "builtin":
        if ex.get("builtin") not in BUILTIN_EXEMPLARS:
            _fail(f"exemplar.builtin must be one of {list(BUILTIN_EXEMPLARS)}, got {ex.get('builtin')!r}")
        if not _is_int(ex.get("size")) or not isinstance(ex.get("parts"), bool):
            _fail("a built-in exemplar needs an integer size and a boolean parts")
    elif ex["source"] == "file":
        for key in ("path",) + (("parts_path",) if "parts_path" in ex else ()):
            if not isinstance(ex.get(key), str) or not ex[key] or len(ex[key]) > 4096 or "\0" in ex[key]:
                _fail(f"exemplar.{key} must be a file path")
        _sha(ex, "sha256", "exemplar")
        if "parts_path" in ex:
            _sha(ex, "parts_sha256", "exemplar")
    return entry


def paths_relative_to(entry, folder):
    """A copy of a recipe's ``style`` entry whose exemplar file paths are relative to ``folder`` (where the recipe
    is written) when the files lie inside it, so that the recipe replays from its folder wherever that is moved;
    a file elsewhere keeps its recorded path, and its replay needs it given (``exemplar_paths``)."""
    if not entry or entry.get("exemplar", {}).get("source") != "file":
        return entry
    folder = os.path.abspath(os.fspath(folder))
    ex = dict(entry["exemplar"])
    for key in ("path", "parts_path"):
        if key in ex:
            relative = os.path.relpath(os.path.abspath(ex[key]), folder)
            if not relative.startswith(os.pardir) and not os.path.isabs(relative):
                ex[key] = relative.replace(os.sep, "/")
    return {**entry, "exemplar": ex}


# ------------------------------------------------------------------------------------------------ replay

#: The largest exemplar or part-map file a replay hashes and reads (bytes).
EXEMPLAR_MAX_BYTES = 256 * 2 ** 20


def _recorded_path(name, path, base_dir, what):
    """A path a recipe recorded, confined to the recipe's folder (``base_dir``, default: the working
    directory): a recipe cannot choose a file elsewhere (docs/untrusted_files.md).  The file system is not
    consulted for a refused path."""
    path = os.fspath(path)
    parts = path.replace("\\", "/").split("/")
    if not path or os.path.isabs(path) or path.startswith("~") or ".." in parts or ":" in parts[0]:
        raise StyleRecipeError(f"style exemplar {name!r}: the recipe names the {what} {path!r}, outside the recipe's "
                               f"folder; a recipe cannot choose a file: give it yourself (--style-exemplar "
                               f"{name}=PATH, or exemplar_paths= in code)")
    return path if base_dir is None else os.path.join(os.fspath(base_dir), path)


def _file(name, path, sha, what):
    from neuralcollage.io import InputError, file_sha256
    path = os.fspath(path)
    try:
        found = file_sha256(path, what=what, limit=EXEMPLAR_MAX_BYTES)
    except InputError as exc:
        raise StyleRecipeError(f"style exemplar {name!r}: {exc}") from None
    if found != sha:
        raise StyleRecipeError(f"style exemplar {name!r}: {what} {path} has sha256 {found[:16]}... but the recipe "
                               f"was made with {sha[:16]}... (a changed file)")
    return path


def _spec_from_file(ex, given, base_dir):
    from neuralcollage.io import InputError, read_image
    from neuralcollage.stylize.parts import part_labels_from_image
    name = ex["name"]
    path = _recorded_path(name, ex["path"], base_dir, "file") if given is None else os.fspath(given)
    path = _file(name, path, ex["sha256"], "file")
    try:
        spec = {"image": read_image(path)}
        if "parts_path" in ex:
            parts = _file(name, _recorded_path(name, ex["parts_path"], base_dir, "part map"), ex["parts_sha256"],
                          "part map")
            labels, colours = part_labels_from_image(read_image(parts))
            spec.update(labels=labels, n_labels=len(colours))
    except (InputError, ValueError) as exc:
        raise StyleRecipeError(f"style exemplar {name!r}: {exc}") from None
    return spec


def resolve_exemplar(ex, *, exemplars=None, exemplar_paths=None, base_dir=None):
    """The prepared :class:`~neuralcollage.stylize.Exemplar` of a checked recipe exemplar entry ``ex``.

    Parameters
    ----------
    ex : dict
        ``style["exemplar"]`` of a recipe (:func:`check_style_entry`).
    exemplars : mapping of str to spec or Exemplar, keyword-only, optional
        Exemplars by name that replace the recipe's source (needed for ``"memory"`` exemplars); their pixels,
        landmarks and labels must be the recorded ones.
    exemplar_paths : mapping of str to path, keyword-only, optional
        Where a ``"file"`` exemplar is now (its sha256 must still match).
    base_dir : str, keyword-only, optional
        Folder that recorded paths are relative to (default: the working directory).  A recorded path must
        stay inside it (relative, no ``..``): a recipe cannot choose a file elsewhere; such a file is given
        with ``exemplar_paths``.

    Raises
    ------
    StyleRecipeError
        Missing file, not a regular file, over :data:`EXEMPLAR_MAX_BYTES`, a recorded path outside ``base_dir``,
        other sha256, other pixels, an exemplar given in memory and not passed again.
    """
    from neuralcollage.stylize.core import Exemplar, prepare_exemplar
    name = ex["name"]
    given = (exemplars or {}).get(name)
    if given is not None:
        spec = given
    elif ex["source"] == "builtin":
        spec = builtin_exemplar(ex["builtin"], size=ex["size"], parts=ex["parts"])
    elif ex["source"] == "file":
        spec = _spec_from_file(ex, (exemplar_paths or {}).get(name), base_dir)
    else:
        raise StyleRecipeError(f"style exemplar {name!r} was given in code when the recipe was made; pass it to the "
                               f"replay again (exemplars={{{name!r}: ...}})")
    image = spec.image if isinstance(spec, Exemplar) else numpy.asarray(spec["image"])
    if pixels_sha256(image) != ex["image_sha256"]:
        raise StyleRecipeError(f"style exemplar {name!r}: its pixels differ from the recipe's (sha256 "
                               f"{pixels_sha256(image)[:16]}... against {ex['image_sha256'][:16]}...)")
    landmarks = numpy.asarray(ex["landmarks"], numpy.float64)
    if isinstance(spec, Exemplar):
        if spec.n_labels != ex["n_labels"] or not numpy.array_equal(spec.landmarks, landmarks):
            raise StyleRecipeError(f"style exemplar {name!r}: its landmarks or part labels differ from the recipe's")
        return spec
    labels = spec.get("labels")
    n_labels = int(spec.get("n_labels", 1))
    labels_sha = None if labels is None or n_labels == 1 else pixels_sha256(numpy.asarray(labels, numpy.int32))
    if n_labels != ex["n_labels"] or labels_sha != ex.get("labels_sha256"):
        raise StyleRecipeError(f"style exemplar {name!r}: its part labels differ from the recipe's")
    appearance = spec.get("appearance_source")
    if (None if appearance is None else pixels_sha256(numpy.asarray(appearance))) != \
            ex.get("appearance_source_sha256"):
        raise StyleRecipeError(f"style exemplar {name!r}: its appearance source differs from the recipe's"
                               + (" (pass it again: exemplars=...)" if appearance is None else ""))
    options = dict(ex.get("table") or {})
    for key in ("position_bins", "appearance_bins"):
        if key in options:
            options[key] = int(options[key])
    try:
        return prepare_exemplar(image, landmarks=landmarks, labels=labels if n_labels > 1 else None,
                                n_labels=n_labels, appearance_source=appearance, **options)
    except ValueError as exc:
        raise StyleRecipeError(f"style exemplar {name!r}: {exc}") from None


def _lattice_option(lattice):
    return numpy.asarray(lattice, numpy.int64) if isinstance(lattice, list) else lattice


def apply_style_entry(image, entry, alpha, *, exemplars=None, exemplar_paths=None, base_dir=None):
    """``image`` (``(R, R, 3)`` uint8, the generator's image of the other paintings) stylised where ``alpha``
    (``(R, R)`` float32 in [0, 1], the painted alpha of the entry's canvas) is painted, following a recipe's
    ``style`` entry, bit for bit as the painter's preview: ``(R, R, 3)`` uint8.  See :func:`resolve_exemplar` for
    the options; :class:`StyleRecipeError` on a problem."""
    from neuralcollage.stylize.brush import StyleBrush
    entry = check_style_entry(entry, size=numpy.shape(image)[:2])
    if not numpy.any(alpha):
        return numpy.asarray(image)
    prepared = resolve_exemplar(entry["exemplar"], exemplars=exemplars, exemplar_paths=exemplar_paths,
                                base_dir=base_dir)
    try:
        brush = StyleBrush(image, prepared, photo_landmarks=entry["target_landmarks"], seed=entry["seed"],
                           threshold=entry["threshold"], blend_radius=entry["blend_radius"],
                           vote_sigma=entry["vote_sigma"], guide_weights=entry.get("guide_weights"),
                           levels=tuple(entry["levels"]), vote_stride=entry["vote_stride"],
                           lattice=_lattice_option(entry.get("lattice")),
                           patch_iterations=entry.get("patch_iterations", 0))
        return brush.preview(alpha)
    except ValueError as exc:
        raise StyleRecipeError(f"recipe style: {exc}") from None

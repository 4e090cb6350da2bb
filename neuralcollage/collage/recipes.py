"""Edit recipes: a JSON-able description of an edit (:func:`make_recipe`) from which
:func:`neuralcollage.collage.replay` rebuilds the same output bit for bit on the CPU without projecting again;
:func:`check_recipe` checks every field before a model is loaded, :func:`save_recipe` / :func:`load_recipe`
write and read the files.

The format (``format`` :data:`RECIPE_FORMAT`, ``version`` :data:`RECIPE_VERSION`) records the model (name,
sha256 of its files and class packs), the photo (size and a sha256 of its pixels), the mask (exactly, see
:func:`encode_mask`), the crop box, the edit's method, layers and options (their compact JSON form,
:meth:`neuralcollage.options.Options.to_json`), the latents and how the photo was reconstructed.
"""
import base64
import hashlib
import json
import math
import re
import struct
import zlib

import cv2
import numpy

from neuralcollage import limits
from neuralcollage.collage.inputs import as_photo, check_method, class_name, layers_string
from neuralcollage.io import InputError, as_mask, atomic_write_text, read_json_limited
from neuralcollage.options import UNSET, BlendOptions, EditOptions

__all__ = ["RECIPE_FORMAT", "RECIPE_VERSION", "RecipeError", "make_recipe", "check_recipe", "recipe_model",
           "save_recipe", "load_recipe", "encode_mask", "decode_mask", "photo_sha256", "generator_sha256",
           "check_class_packs"]

RECIPE_FORMAT = "neuralcollage-recipe"
RECIPE_VERSION = 1


class RecipeError(InputError):
    """A recipe that cannot be replayed here: malformed, another format version, another model or photo."""


def photo_sha256(photo):
    """The sha256 (64 hex digits) a recipe records of a photo: of its shape and its ``(H, W, 3)`` uint8 pixels."""
    digest = hashlib.sha256(f"{photo.shape[0]}x{photo.shape[1]}x{photo.shape[2]}:".encode())
    digest.update(numpy.ascontiguousarray(photo).tobytes())
    return digest.hexdigest()


def encode_mask(mask):
    """Exact, compact encoding of an ``(H, W)`` float32 mask in ``[0, 1]``: ``(encoding, base64 text)``, the
    encoding ``"png8"`` / ``"png16"`` when its values are multiples of 1/255 / 1/65535, else ``"f32-zlib"``
    (zlib-compressed little-endian float32)."""
    for encoding, dtype, top in (("png8", numpy.uint8, 255.0), ("png16", numpy.uint16, 65535.0)):
        q = numpy.rint(mask * top).astype(dtype)
        if numpy.array_equal(_dequantise(q, top), mask):
            ok, buf = cv2.imencode(".png", q, [cv2.IMWRITE_PNG_COMPRESSION, 9])
            if ok:
                return encoding, base64.b64encode(buf.tobytes()).decode("ascii")
    data = zlib.compress(numpy.ascontiguousarray(mask, dtype="<f4").tobytes(), 9)
    return "f32-zlib", base64.b64encode(data).decode("ascii")


def _dequantise(q, top):
    return (q / top).astype(numpy.float32)


def decode_mask(entry):
    """The recipe's mask entry (``encoding``, ``height``, ``width``, ``data``) decoded: ``(H, W)`` float32 in
    ``[0, 1]``.  Its declared size was checked by :func:`check_recipe`, and nothing decodes to more than that
    size (the PNG header is read before decoding, zlib output is capped).

    Raises:
        RecipeError: an unreadable entry.
    """
    try:
        encoding, height, width = entry["encoding"], entry["height"], entry["width"]
        raw = base64.b64decode(entry["data"], validate=True)
        if encoding in ("png8", "png16"):
            _check_png_header(raw, height, width, 8 if encoding == "png8" else 16)
            q = cv2.imdecode(numpy.frombuffer(raw, numpy.uint8), cv2.IMREAD_UNCHANGED)
            want = numpy.uint8 if encoding == "png8" else numpy.uint16
            if q is None or q.dtype != want or q.shape != (height, width):
                raise ValueError("PNG does not decode to the recorded size and depth")
            mask = _dequantise(q, 255.0 if encoding == "png8" else 65535.0)
        elif encoding == "f32-zlib":
            size = height * width * 4
            inflate = zlib.decompressobj()
            data = inflate.decompress(raw, size + 1)
            if len(data) != size or inflate.unconsumed_tail or not inflate.eof:
                raise ValueError(f"zlib data does not hold exactly {height}x{width} float32 values")
            mask = numpy.frombuffer(data, dtype="<f4").astype(numpy.float32).reshape(height, width)
        else:
            raise ValueError(f"unknown mask encoding {encoding!r}")
    except (KeyError, TypeError, ValueError, zlib.error, cv2.error, struct.error) as exc:
        raise RecipeError(f"recipe mask is unreadable: {exc}") from None
    return as_mask(mask, name="in the recipe")


def _check_png_header(raw, height, width, depth):
    """A PNG's IHDR must declare the recorded size, the bit depth and one grey channel (before decoding)."""
    if len(raw) < 33 or raw[:8] != b"\x89PNG\r\n\x1a\n" or raw[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    w, h, bits, colour = struct.unpack(">IIBB", raw[16:26])
    if (h, w) != (height, width) or bits != depth or colour != 0:
        raise ValueError(f"the PNG declares {w}x{h} pixels of {bits} bits (colour type {colour}), not the "
                         f"recorded {width}x{height} grey pixels of {depth} bits")


def _floats(z):
    return [float(v) for v in numpy.asarray(z, dtype=numpy.float32).reshape(-1)]


def _recipe_model_name(bundle):
    """The name a recipe records: the registered name when the generator is a registered model's file (so that
    the recipe replays without ``--model``; see :func:`check_recipe`), else the bundle's name."""
    files = getattr(bundle, "files", None) or {}
    if files.get("generator"):
        from neuralcollage.pretrained import registered_file
        found = registered_file(files["generator"])
        if found is not None and found[1] == "generator":
            return found[0].name
    return str(bundle.name)


def generator_sha256(bundle):
    """The sha256 of ``bundle``'s generator file (``bundle.sha256["generator"]``), or None when it is unknown."""
    return (getattr(bundle, "sha256", None) or {}).get("generator")


def make_recipe(bundle, photo, mask, *, box, z, source_class, target_class, layers="all", method="scbn",
                z_target=None, blend_options=None, edit_options=None, steps=None, restarts=None, seed=None,
                loss=None, source_guessed=False, fit=None, reconstruction_psnr=None, projection_psnr=None,
                feature_similarity=None, feather=UNSET, blend_mode=UNSET, dilate=UNSET, context=UNSET,
                seam=UNSET, colour_reach=UNSET):
    """A JSON-able description of an edit from which :func:`~neuralcollage.collage.replay` rebuilds it bit for bit.

    Args:
        bundle: the model (its ``name``, ``sha256`` and ``vocabulary`` are recorded).
        photo: ``(H, W, 3)`` uint8, the photo (only its size and a sha256 of its pixels are stored).
        mask: ``(H, W)`` mask at the photo's resolution (stored exactly: 8-/16-bit PNG when its values are
            multiples of 1/255 or 1/65535, else zlib-compressed float32).
        box: ``(top, left, size)`` crop box.
        z: ``(1, dim_z)`` float32 projected latent (stored as JSON numbers, which round-trip float32).
        z_target: ``(1, dim_z)`` blend latent (``"blend"`` only).
        source_class, target_class: class ids.
        layers, method, blend_options, edit_options: the edit settings (see
            :func:`~neuralcollage.collage.edit_photo`; the options default as there).  The options are recorded
            in the ``edit`` entry in their compact JSON form (:meth:`neuralcollage.options.Options.to_json`): an
            option at the value it had before it existed (``seam`` ``"fixed"``, ``colour_reach`` classic) is left
            out, so that older versions replay such edits, and a recipe without it replays as before.
        feather, blend_mode, dilate, context, seam, colour_reach: shorthands for the options' fields.
        steps, restarts, seed, loss, source_guessed: how the projection was made (informational).
        fit: the :class:`~neuralcollage.reconstruction.PhotoFit` of a fitted photo (its options are recorded
            and :func:`~neuralcollage.collage.replay` fits again with them; None: projection only, no
            ``reconstruction`` entry).
        reconstruction_psnr, projection_psnr, feature_similarity: the reconstruction's PSNR, the projection's
            alone and its feature similarity (informational).

    Returns:
        dict with ``format``, ``version``, ``model``, ``photo``, ``mask``, ``box``, ``edit``, ``z``,
        ``z_target``, ``projection`` and ``reconstruction`` (``method``, ``fit`` options, ``psnr``).
    """
    check_method(method)
    blend = BlendOptions.build(blend_options, blend_mode=blend_mode, dilate=dilate, seam=seam,
                               colour_reach=colour_reach)
    shape = EditOptions.build(edit_options, feather=feather, context=context)
    gen = bundle.generator
    photo = as_photo(photo)
    mask = as_mask(mask)
    if mask.shape != photo.shape[:2]:
        raise InputError(f"mask is {mask.shape[1]}x{mask.shape[0]} but the photo is "
                         f"{photo.shape[1]}x{photo.shape[0]} (WxH)")
    if method == "blend" and z_target is None:
        raise ValueError("method 'blend' needs z_target")
    encoding, data = encode_mask(mask)
    vocabulary = bundle.vocabulary
    from neuralcollage import __version__
    recipe = {
        "format": RECIPE_FORMAT,
        "version": RECIPE_VERSION,
        "package_version": __version__,
        "model": {"name": _recipe_model_name(bundle), "arch": gen.arch, "resolution": gen.resolution,
                  "n_classes": gen.n_classes, "dim_z": gen.dim_z,
                  "generator_sha256": generator_sha256(bundle),
                  "sha256": dict(getattr(bundle, "sha256", None) or {})},
        "photo": {"height": int(photo.shape[0]), "width": int(photo.shape[1]), "sha256": photo_sha256(photo)},
        "mask": {"encoding": encoding, "height": int(mask.shape[0]), "width": int(mask.shape[1]), "data": data},
        "box": [int(v) for v in box],
        "edit": {"method": method, "layers": layers_string(gen, method, layers),
                 **shape.to_json(compact=True), **blend.to_json(compact=True),
                 "source_class": {"id": int(source_class), "name": class_name(vocabulary, int(source_class)),
                                  "guessed": bool(source_guessed)},
                 "target_class": {"id": int(target_class), "name": class_name(vocabulary, int(target_class))}},
        "z": _floats(z),
        "z_target": None if z_target is None else _floats(z_target),
        "projection": {"steps": steps, "restarts": restarts, "seed": seed,
                       "loss": None if loss is None else float(loss),
                       "encoder": getattr(bundle, "encoder", None) is not None},
    }
    recipe["reconstruction"] = {
        "method": "projection" if fit is None else fit.options.method,
        "fit": None if fit is None else fit.options.to_json(),
        "psnr": None if reconstruction_psnr is None else round(float(reconstruction_psnr), 4),
        "projection_psnr": None if projection_psnr is None else round(float(projection_psnr), 4),
        "feature_similarity": None if feature_similarity is None else round(float(feature_similarity), 4)}
    return recipe






_SHA256 = re.compile(r"[0-9a-f]{64}")


def _field(container, key, where, types, *, optional=False):
    if not isinstance(container, dict):
        raise RecipeError(f"recipe {where or 'top level'} must be a JSON object")
    if key not in container:
        if optional:
            return None
        raise RecipeError(f"recipe has no {_join(where, key)}")
    value = container[key]
    if optional and value is None:
        return None
    if isinstance(value, bool) and bool not in types or not isinstance(value, types):
        names = " or ".join({dict: "an object", list: "a list", str: "a string", int: "an integer",
                             float: "a number", bool: "true or false"}[t] for t in types)
        raise RecipeError(f"recipe {_join(where, key)} must be {names}, got {_brief(value)}")
    return value


def _join(where, key):
    return f"{where}.{key}" if where else str(key)


def _brief(value):
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _int_field(container, key, where, low, high, *, optional=False):
    value = _field(container, key, where, (int,), optional=optional)
    if value is not None and not low <= value <= high:
        raise RecipeError(f"recipe {_join(where, key)} must be an integer in [{low}, {high}], got {_brief(value)}")
    return value


def _sha256_field(container, key, where):
    value = _field(container, key, where, (str,), optional=True)
    if value is not None and not _SHA256.fullmatch(value.lower()):
        raise RecipeError(f"recipe {_join(where, key)} must be a sha256 (64 hex digits), got {_brief(value)}")
    return None if value is None else value.lower()


def _latent_field(recipe, key, dim_z, *, optional=False):
    values = _field(recipe, key, "", (list,), optional=optional)
    if values is None:
        return None
    if len(values) != dim_z:
        raise RecipeError(f"recipe {key} must hold {dim_z} numbers (the model's dim_z), got {len(values)}")
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise RecipeError(f"recipe {key}[{i}] must be a number, got {_brief(v)}")
        if isinstance(v, int) and abs(v) > 1e6 or isinstance(v, float) and not (math.isfinite(v) and abs(v) <= 1e6):
            raise RecipeError(f"recipe {key}[{i}] must be a finite number in [-1e6, 1e6], got {_brief(v)}")
    return numpy.asarray(values, dtype=numpy.float64).astype(numpy.float32)[None]


def recipe_model(recipe):
    """``(name, generator sha256 or None)`` of the model a recipe names, checked: the name is a string (a
    registered model's name, or a path recorded for information; :func:`check_recipe` does not open it),
    the sha256 64 hex digits.

    Raises:
        RecipeError: a missing or malformed ``model`` entry.
    """
    model = _field(recipe, "model", "", (dict,))
    name = _field(model, "name", "model", (str,))
    if not name.strip() or len(name) > 4096:
        raise RecipeError(f"recipe model.name must be a model's name, got {_brief(name)}")
    sha = _sha256_field(model, "generator_sha256", "model")
    hashes = _field(model, "sha256", "model", (dict,), optional=True) or {}
    for kind in hashes:
        _sha256_field(hashes, kind, "model.sha256")
    if sha is None and hashes.get("generator"):
        sha = hashes["generator"].lower()
    return name, sha


def check_recipe(recipe):
    """Every field of a recipe checked for type and range, before a model is loaded or a mask decoded.

    Returns:
        dict: ``model_name``, ``generator_sha256``, ``resolution``, ``n_classes``, ``dim_z``, ``height``,
        ``width``, ``photo_sha256``, ``box``, ``method``, ``layers``, ``blend`` (:class:`BlendOptions`),
        ``edit`` (:class:`EditOptions`; ``margin`` is the default, the box records the crop), ``source_class``,
        ``target_class``, ``z``, ``z_target`` (None unless ``method == "blend"``) and ``mask`` (the entry,
        still encoded).

    Raises:
        RecipeError: the first problem, in one line naming the field.
    """
    if not isinstance(recipe, dict) or recipe.get("format") != RECIPE_FORMAT:
        raise RecipeError(f"not a {RECIPE_FORMAT} (no 'format': {RECIPE_FORMAT!r} entry)")
    if recipe.get("version") != RECIPE_VERSION or isinstance(recipe.get("version"), bool):
        raise RecipeError(f"recipe format version {_brief(recipe.get('version'))} is not supported (this version "
                          f"reads {RECIPE_VERSION})")
    out = {}
    out["model_name"], out["generator_sha256"] = recipe_model(recipe)
    model = recipe["model"]
    out["resolution"] = _int_field(model, "resolution", "model", 1, 4096)
    out["n_classes"] = _int_field(model, "n_classes", "model", 1, limits.CONFIG_INT_RANGES["n_classes"][1])
    out["dim_z"] = _int_field(model, "dim_z", "model", 1, limits.LATENT_MAX_DIM)
    photo = _field(recipe, "photo", "", (dict,))
    out["height"] = _int_field(photo, "height", "photo", 1, limits.MASK_MAX_PIXELS)
    out["width"] = _int_field(photo, "width", "photo", 1, limits.MASK_MAX_PIXELS)
    if out["height"] * out["width"] > limits.MASK_MAX_PIXELS:
        raise RecipeError(f"recipe photo is {out['width']}x{out['height']}, over the limit of "
                          f"{limits.MASK_MAX_PIXELS} pixels")
    out["photo_sha256"] = _field(photo, "sha256", "photo", (str,), optional=True)
    mask = _field(recipe, "mask", "", (dict,))
    _field(mask, "encoding", "mask", (str,))
    _field(mask, "data", "mask", (str,))
    if (_int_field(mask, "height", "mask", 1, out["height"]), _int_field(mask, "width", "mask", 1, out["width"])) \
            != (out["height"], out["width"]):
        raise RecipeError(f"recipe mask is {mask['width']}x{mask['height']}, not the photo's size")
    out["mask"] = mask
    box = _field(recipe, "box", "", (list,))
    if len(box) != 3 or any(isinstance(v, bool) or not isinstance(v, int) for v in box):
        raise RecipeError(f"recipe box must be three integers (top, left, side), got {_brief(box)}")
    out["box"] = tuple(box)
    edit = _field(recipe, "edit", "", (dict,))
    out["method"] = _field(edit, "method", "edit", (str,))
    out["layers"] = _field(edit, "layers", "edit", (str,))
    for key in ("source_class", "target_class"):
        entry = _field(edit, key, "edit", (dict,))
        out[key] = _int_field(entry, "id", f"edit.{key}", 0, out["n_classes"] - 1)
    try:
        check_method(out["method"])
        out["edit"] = EditOptions.from_json(edit, legacy=True, where="recipe edit.")
        out["blend"] = BlendOptions.from_json(edit, legacy=True, where="recipe edit.")
    except ValueError as exc:
        raise RecipeError(str(exc) if str(exc).startswith("recipe") else f"recipe edit settings: {exc}") from None
    out["z"] = _latent_field(recipe, "z", out["dim_z"])
    out["z_target"] = _latent_field(recipe, "z_target", out["dim_z"], optional=out["method"] != "blend")
    if out["method"] != "blend":
        out["z_target"] = None
    return out




def check_class_packs(model, bundle):
    """The class packs a recipe recorded (``sha256["class:<name>"]``) must be the ones loaded, in that order."""
    recorded = model.get("sha256") if isinstance(model.get("sha256"), dict) else {}
    want = [(k, v) for k, v in recorded.items() if str(k).startswith("class:")]
    have = [(k, v) for k, v in (getattr(bundle, "sha256", None) or {}).items() if str(k).startswith("class:")]
    if want != have:
        def words(packs):
            return ", ".join(f"{k[6:]} ({str(v)[:12]}...)" for k, v in packs) or "none"
        raise RecipeError(f"recipe was made with class packs {words(want)} but the model has {words(have)} "
                          f"loaded")


def save_recipe(path, recipe, *, overwrite_protect=()):
    """Write a recipe as JSON, atomically (``overwrite_protect``: input paths it must not replace)."""
    atomic_write_text(path, json.dumps(recipe, indent=1, allow_nan=False) + "\n",
                      overwrite_protect=overwrite_protect)


def load_recipe(path):
    """Read a recipe written by :func:`save_recipe`: a regular file of at most
    :data:`neuralcollage.limits.RECIPE_MAX_BYTES` bytes, nested at most
    :data:`neuralcollage.limits.RECIPE_MAX_DEPTH` deep (its fields are checked by :func:`check_recipe`).

    Raises:
        RecipeError: unreadable file, a FIFO or device, too large, not JSON, or not a recipe.
    """
    try:
        recipe = read_json_limited(path, limit=limits.RECIPE_MAX_BYTES, what="recipe",
                                   max_depth=limits.RECIPE_MAX_DEPTH)
    except RecipeError:
        raise
    except InputError as exc:
        raise RecipeError(str(exc)) from None
    if not isinstance(recipe, dict) or recipe.get("format") != RECIPE_FORMAT:
        raise RecipeError(f"{path} is not a {RECIPE_FORMAT} file")
    return recipe

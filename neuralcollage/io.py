"""Image and mask reading, validation and atomic writing; the one place that converts layouts.

Images cross public boundaries in two layouts only:

* files, CLI and widgets: ``(H, W, 3)`` ``uint8`` RGB (:func:`read_image`, :func:`write_image`);
* models: ``(N, 3, H, W)`` ``float32`` in ``[-1, 1]`` (:func:`to_model`, :func:`from_model`).

Masks are ``(H, W)`` ``float32`` in ``[0, 1]`` (:func:`read_mask`, :func:`fit_mask`,
:func:`as_mask`).  Every problem with what a user supplied raises :class:`InputError` with a
one-line message that names the file; the CLI turns it into exit status 2.  Writes go to a
temporary file in the destination directory that then replaces the destination, so a failed or
interrupted write never leaves a partial file behind.
"""
import hashlib
import json
import os
import secrets
import stat
import struct
import warnings
from io import BytesIO

import cv2
import numpy
from PIL import Image, ImageOps

from neuralcollage import _signals

__all__ = ["InputError", "MaskResizedWarning", "check_regular_file", "open_regular", "read_bytes_limited",
           "read_json_limited", "json_depth", "read_image", "read_image_info", "read_mask", "fit_mask", "as_mask",
           "write_image", "atomic_write", "atomic_write_bytes", "atomic_write_text", "atomic_write_json", "atomic_save_npz",
           "to_model", "from_model", "file_sha256", "IMAGE_SUFFIXES"]

#: Output formats by file suffix (lower case) with the Pillow format name and save options.
IMAGE_SUFFIXES = {
    ".png": ("PNG", {}),
    ".jpg": ("JPEG", {"quality": 95}),
    ".jpeg": ("JPEG", {"quality": 95}),
    ".webp": ("WEBP", {"quality": 95}),
    ".bmp": ("BMP", {}),
    ".tif": ("TIFF", {"compression": "tiff_lzw"}),
    ".tiff": ("TIFF", {"compression": "tiff_lzw"}),
}

_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_ASPECT_TOLERANCE = 0.01


class InputError(ValueError):
    """A user-supplied file or value cannot be used; the message is one line and names the file."""


class MaskResizedWarning(UserWarning):
    """:func:`read_mask` resized a mask to the photo's size (same aspect ratio, other size)."""


# ----------------------------------------------------------------------------------------------
# reading

def check_regular_file(path, *, what="file"):
    """``os.stat(path)`` of a regular file (symbolic links followed); anything else is refused at once.

    Raises:
        InputError: missing, a directory, a FIFO, a device or a socket (never read, so never waited on),
            or not accessible; one line naming ``path``.
    """
    path = os.fspath(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or _one_line(exc)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{path}: is a directory, not {_article(what)}")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: not a regular file (a FIFO, device or socket is never read as {_article(what)})")
    return info


def _article(what):
    return ("an " if what[:1] in "aeiou" else "a ") + what


def open_regular(path, *, what="file", limit=None):
    """Open a regular file for binary reading, never blocking on a FIFO that replaced it after the check.

    The file is opened with ``O_NONBLOCK`` and checked again on the open descriptor (``fstat``), so a path
    swapped for a FIFO or device between the check and the open is refused too.  ``limit``: refuse a file
    of more bytes.

    Returns:
        A binary file object (close it).

    Raises:
        InputError: see :func:`check_regular_file`; a file over ``limit`` bytes.
    """
    path = os.fspath(path)
    check_regular_file(path, what=what)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or _one_line(exc)}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{path}: not a regular file (a FIFO, device or socket is never read as "
                             f"{_article(what)})")
        if limit is not None and info.st_size > limit:
            raise InputError(f"{path}: {what} is {info.st_size} bytes, over the limit of {limit}")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_sha256(path, *, what="file", limit=None, chunk=1 << 20):
    """Hex SHA-256 of a regular file's bytes (what ``sha256sum`` prints), read in ``chunk``-byte blocks.

    Raises:
        InputError: see :func:`open_regular` (missing, not a regular file, over ``limit`` bytes, unreadable).
    """
    path = os.fspath(path)
    digest = hashlib.sha256()
    with open_regular(path, what=what, limit=limit) as fh:
        try:
            for block in iter(lambda: fh.read(chunk), b""):
                digest.update(block)
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or _one_line(exc)}") from None
    return digest.hexdigest()


def read_bytes_limited(path, *, limit, what="file"):
    """The bytes of regular file ``path``, refused when over ``limit`` bytes (checked before reading and
    while reading, so a file that grows is refused too); see :func:`open_regular`."""
    path = os.fspath(path)
    with open_regular(path, what=what, limit=limit) as fh:
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or _one_line(exc)}") from None
    if len(data) > limit:
        raise InputError(f"{path}: {what} is over the limit of {limit} bytes")
    return data


def read_json_limited(path, *, limit, what="JSON file", max_depth=None):
    """Parse a JSON file of at most ``limit`` bytes whose arrays and objects nest at most ``max_depth`` deep.

    Raises:
        InputError: see :func:`read_bytes_limited`; not UTF-8, not JSON, numbers beyond what Python converts,
            nested too deeply; one line naming ``path``.
    """
    path = os.fspath(path)
    data = read_bytes_limited(path, limit=limit, what=what)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path}: {what} is not UTF-8 text") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise InputError(f"{path}: {what} nests arrays or objects too deeply") from None
    except ValueError as exc:
        raise InputError(f"{path}: {what} is not valid JSON ({_one_line(exc)})") from None
    if max_depth is not None and json_depth(value) > max_depth:
        raise InputError(f"{path}: {what} nests arrays or objects more than {max_depth} deep")
    return value


def json_depth(value):
    """How deep the arrays and objects of a parsed JSON value nest (0 for a scalar); no recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        elif not isinstance(item, list):
            continue
        deepest = max(deepest, depth)
        stack.extend((v, depth + 1) for v in item if isinstance(v, (dict, list)))
    return deepest


def _open(path, max_pixels):
    """Open, fully decode and orient ``path``; return a loaded Pillow image."""
    path = os.fspath(path)
    fh = open_regular(path, what="image file")
    try:
        with warnings.catch_warnings(), fh:
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(fh) as img:
                width, height = img.size
                if width <= 0 or height <= 0:
                    raise InputError(f"{path}: image has zero size ({width}x{height})")
                if max_pixels is not None and width * height > max_pixels:
                    raise InputError(
                        f"{path}: image is too large ({width}x{height} = {width * height} pixels, "
                        f"limit {max_pixels})")
                img.load()
                try:
                    oriented = ImageOps.exif_transpose(img)
                except Exception:
                    oriented = img
                if oriented is img:
                    oriented = img.copy()
    except InputError:
        raise
    except Image.DecompressionBombError as exc:
        raise InputError(f"{path}: image is too large ({_one_line(exc)})") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except Image.UnidentifiedImageError:
        raise InputError(f"{path}: cannot identify the image (not an image, a format Pillow "
                         "cannot read, or a corrupt or zero-size header)") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError,
            struct.error) as exc:
        raise InputError(f"{path}: cannot read image (corrupt or truncated?): "
                         f"{_one_line(exc)}") from None
    return oriented


def _one_line(exc):
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


_HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def _unit_samples(img):
    """A single-channel 16-bit, 32-bit integer or float image -> float64 (H, W) in [0, 1].

    ``I;16*`` is divided by 65535.  ``I`` and ``F`` have no standard range: ``F`` within [0, 1] is
    taken as is, otherwise values up to 255 are taken as 8-bit and larger ones as 16-bit samples;
    values outside the range are clipped.
    """
    values = numpy.asarray(img).astype(numpy.float64)
    if img.mode.startswith("I;16"):
        return values / 65535.0
    if not numpy.isfinite(values).all():
        raise ValueError("image contains NaN or infinite values")
    peak = values.max()
    top = 1.0 if (img.mode == "F" and peak <= 1.0) else (255.0 if peak <= 255.0 else 65535.0)
    return numpy.clip(values / top, 0.0, 1.0)


def _composite_on_white(rgb, alpha):
    """uint8 ``rgb`` (..., C) with uint8 ``alpha`` (...) over white; exact at alpha 0 and 255."""
    a = alpha.astype(numpy.uint32)[..., None]
    out = (rgb.astype(numpy.uint32) * a + 255 * (255 - a) + 127) // 255
    return out.astype(numpy.uint8)


def _has_alpha(img):
    return img.mode in _ALPHA_MODES or (img.mode in ("P", "L", "RGB", "1")
                                         and "transparency" in img.info)


def _alpha_channel(img):
    """uint8 alpha (H, W) of a Pillow image, or None if it has no transparency."""
    if img.mode in _ALPHA_MODES:
        return numpy.asarray(img.getchannel("A"))
    if _has_alpha(img):
        return numpy.asarray(img.convert("RGBA").getchannel("A"))
    return None


def _to_rgb(img, path):
    """Loaded Pillow image in any mode -> (H, W, 3) uint8 RGB, transparency on white."""
    mode = img.mode
    try:
        if mode in _HIGH_DEPTH_MODES:
            grey = numpy.rint(_unit_samples(img) * 255.0).astype(numpy.uint8)
            return numpy.repeat(grey[:, :, None], 3, axis=2)
        if mode in ("CMYK", "LAB"):
            img = _colour_managed_rgb(img)
        elif _has_alpha(img):
            rgba = numpy.asarray(img.convert("RGBA"))
            return _composite_on_white(rgba[..., :3], rgba[..., 3])
        elif mode != "RGB":
            img = img.convert("RGB")
    except (ValueError, OSError) as exc:
        raise InputError(f"{path}: cannot convert a {mode} image to RGB: "
                         f"{_one_line(exc)}") from None
    return numpy.array(img, dtype=numpy.uint8)


def _colour_managed_rgb(img):
    """CMYK (through its embedded ICC profile when there is one) or CIELAB -> RGB; else None."""
    from PIL import ImageCms
    if img.mode == "LAB":
        return ImageCms.profileToProfile(img, ImageCms.createProfile("LAB"),
                                         ImageCms.createProfile("sRGB"), outputMode="RGB")
    if img.mode == "CMYK":
        profile = img.info.get("icc_profile")
        if profile:
            try:
                src = ImageCms.ImageCmsProfile(BytesIO(profile))
                return ImageCms.profileToProfile(img, src, ImageCms.createProfile("sRGB"),
                                                 outputMode="RGB")
            except Exception:
                pass
        return img.convert("RGB")
    return None


def read_image(path, *, max_pixels=64_000_000):
    """Read an image file as RGB.

    Parameters
    ----------
    path : str or os.PathLike
        Any format Pillow reads (PNG, JPEG, WebP, BMP, TIFF, GIF, ...).  Multi-frame files give
        their first frame.  The file is never modified.
    max_pixels : int or None, keyword-only
        Refuse images with more than this many pixels (``None``: no limit of ours; Pillow's own
        decompression-bomb limit, ``PIL.Image.MAX_IMAGE_PIXELS`` x 2, still applies).

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` ``uint8`` RGB, C-contiguous, after applying the EXIF orientation.

    Notes
    -----
    * Transparency (RGBA, LA, palette or a transparent colour) is composited on white.
    * Greyscale (``L``, ``1``) is repeated into three channels.  16-bit greyscale (``I;16``) is
      scaled with ``round(v * 255 / 65535)`` (its transparency, if any, is ignored); 16-bit colour
      PNGs are reduced to 8 bit by Pillow (high byte).
    * 32-bit integer (``I``) and float (``F``) images have no standard range: ``F`` images whose
      values all lie in ``[0, 1]`` are read as ``[0, 1]``; otherwise values up to 255 are read as
      8-bit and larger ones as 16-bit samples; values outside the range are clipped.
    * CMYK is converted through its embedded ICC profile when there is one (else Pillow's formula),
      CIELAB through LittleCMS to sRGB.
    * No other colour management: RGB samples are returned as stored.

    Raises
    ------
    InputError
        Missing file, a directory, an unreadable, corrupt or truncated file, a zero-size image, an
        image over ``max_pixels``, or a mode that cannot be converted to RGB.

    Examples
    --------
    >>> import os, neuralcollage
    >>> photo = read_image(os.path.join(os.path.dirname(neuralcollage.__file__), "data", "examples", "cat.png"))
    >>> photo.shape, photo.dtype
    ((256, 256, 3), dtype('uint8'))
    """
    img = _open(path, max_pixels)
    try:
        return _to_rgb(img, os.fspath(path))
    except ValueError as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{os.fspath(path)}: {_one_line(exc)}") from None


def read_image_info(path):
    """The metadata of an image file worth keeping in an edit of it: ``{"icc_profile": bytes}`` when it has
    an RGB ICC colour profile (so a wide-gamut photo keeps its colours), ``{"dpi": (x, y)}`` when it states
    a resolution; an empty dict otherwise (also for files :func:`read_image` would refuse: it reads only
    the header).  Other metadata (EXIF with its thumbnail, GPS position, comments) is not carried over."""
    info = {}
    try:
        with open_regular(path, what="image file") as fh, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(fh) as img:
                profile = img.info.get("icc_profile")
                if isinstance(profile, bytes) and len(profile) >= 20 and profile[16:20] == b"RGB ":
                    info["icc_profile"] = profile
                dpi = img.info.get("dpi")
                if (isinstance(dpi, tuple) and len(dpi) == 2
                        and all(isinstance(v, (int, float)) and 0 < v < 1e6 for v in dpi)):
                    info["dpi"] = tuple(float(v) for v in dpi)
    except Exception:  # noqa: BLE001: metadata is optional; the image itself is read and checked elsewhere
        return {}
    return info


def _mask_from_image(img, path):
    """Loaded Pillow image -> (H, W) float32 in [0, 1]: varying alpha, else luminance."""
    try:
        alpha = _alpha_channel(img)
    except ValueError:
        alpha = None
    if alpha is not None and alpha.min() != alpha.max():
        return alpha.astype(numpy.float32) / numpy.float32(255)
    mode = img.mode
    if mode == "1":
        return numpy.asarray(img, dtype=numpy.float32)
    if mode in _HIGH_DEPTH_MODES:
        try:
            return _unit_samples(img).astype(numpy.float32)
        except ValueError:
            raise InputError(f"{path}: mask contains NaN or infinite values") from None
    try:
        if mode in ("CMYK", "LAB"):
            img = _colour_managed_rgb(img)
        grey = img.getchannel("L") if img.mode in ("LA", "La") else img.convert("L")
    except (ValueError, OSError) as exc:
        raise InputError(f"{path}: cannot read a {mode} image as a mask: "
                         f"{_one_line(exc)}") from None
    return numpy.asarray(grey).astype(numpy.float32) / numpy.float32(255)


def read_mask(path, *, size=None, max_pixels=64_000_000):
    """Read a mask from an image file.

    The mask is the image's alpha channel when it has transparency that varies across the image
    (a stroke painted on a transparent layer), otherwise its luminance (white = selected).
    Soft (non-binary) masks stay soft: grey levels become fractional weights.

    Parameters
    ----------
    path : str or os.PathLike
        Any image file :func:`read_image` accepts.
    size : tuple of int (H, W) or None, keyword-only
        The photo's size.  A mask of another size but the same aspect ratio (within 1 %) is resized
        to it (see :func:`fit_mask`) and a :class:`MaskResizedWarning` says so; call
        :func:`fit_mask` yourself to get that note as a string instead.
    max_pixels : int or None, keyword-only
        As in :func:`read_image`.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` ``float32`` in ``[0, 1]``, EXIF orientation applied.

    Raises
    ------
    InputError
        Any error of :func:`read_image`, a mask that is all zero ("empty"), NaN values, or (with
        ``size``) an aspect ratio different from the photo's.
    """
    name = os.fspath(path)
    img = _open(path, max_pixels)
    mask = _mask_from_image(img, name)
    mask = as_mask(mask, name=name)
    if size is not None:
        mask, note = fit_mask(mask, size, name=name)
        if note is not None:
            warnings.warn(note, MaskResizedWarning, stacklevel=2)
    return mask


def _mask_label(name):
    return f"mask {name}" if name else "mask"


def as_mask(mask, *, name=None):
    """Validate an in-memory mask and return it as ``(H, W)`` ``float32`` in ``[0, 1]``.

    Parameters
    ----------
    mask : array_like, shape (H, W)
        ``bool``; ``uint8`` (0..255) or ``uint16`` (0..65535); other integer types holding only
        0 and 1; or floating point in ``[0, 1]``.
    name : str, optional, keyword-only
        A file name for error messages.

    Returns
    -------
    numpy.ndarray
        A new ``(H, W)`` ``float32`` array in ``[0, 1]``.

    Raises
    ------
    InputError
        Wrong number of dimensions, NaN or infinite values, values outside the range, an
        unsupported dtype, or an all-zero ("empty") mask.
    """
    label = _mask_label(name)
    arr = numpy.asarray(mask)
    if arr.ndim != 2:
        raise InputError(f"{label} must be 2-D (H, W), got shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{label} has zero size {arr.shape}")
    kind = arr.dtype.kind
    if kind == "b":
        out = arr.astype(numpy.float32)
    elif arr.dtype in (numpy.uint8, numpy.uint16):
        out = (arr / float(numpy.iinfo(arr.dtype).max)).astype(numpy.float32)
    elif kind in "iu":
        if arr.min() < 0 or arr.max() > 1:
            raise InputError(f"{label} of type {arr.dtype} must hold only 0 and 1 (use uint8 "
                             f"0..255 or float 0..1 for soft masks)")
        out = arr.astype(numpy.float32)
    elif kind == "f":
        if not numpy.isfinite(arr).all():
            raise InputError(f"{label} contains NaN or infinite values")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:
            raise InputError(f"{label} has values in [{lo:g}, {hi:g}], expected [0, 1]")
        out = arr.astype(numpy.float32, copy=True)
    else:
        raise InputError(f"{label} has unsupported dtype {arr.dtype}")
    if not out.any():
        raise InputError(f"{label} is empty (all zero)")
    return out


def fit_mask(mask, size, *, name=None):
    """Resize a mask to the photo's size when only the resolution differs.

    Parameters
    ----------
    mask : array_like, shape (h, w)
        Anything :func:`as_mask` accepts.
    size : tuple of int (H, W)
        The photo's height and width.
    name : str, optional, keyword-only
        A file name for messages.

    Returns
    -------
    mask : numpy.ndarray
        ``(H, W)`` ``float32`` in ``[0, 1]`` (a new array).  Shrinking uses area averaging,
        enlarging bilinear interpolation, so edges of binary masks become slightly soft.
    note : str or None
        A one-line note when the mask was resized, else None.

    Raises
    ------
    InputError
        The aspect ratios differ by more than 1 % (the message gives both sizes), or the mask is
        invalid or empty (before or after resizing).
    """
    mask = as_mask(mask, name=name)
    height, width = (int(s) for s in size)
    if height <= 0 or width <= 0:
        raise ValueError(f"size must be positive (H, W), got {size}")
    h, w = mask.shape
    if (h, w) == (height, width):
        return mask, None
    label = _mask_label(name)
    ratio, target = w / h, width / height
    if abs(ratio - target) > _ASPECT_TOLERANCE * target:
        raise InputError(
            f"{label} is {w}x{h} (WxH) but the photo is {width}x{height}: the aspect ratios "
            f"differ ({ratio:.4g} vs {target:.4g}); make the mask the same size as the photo")
    shrink = width * height < w * h
    resized = cv2.resize(mask, (width, height),
                         interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    resized = numpy.clip(resized, 0.0, 1.0).astype(numpy.float32, copy=False)
    if not resized.any():
        raise InputError(f"{label} is empty after resizing to {width}x{height}")
    note = f"{label} resized from {w}x{h} to the photo's {width}x{height} (WxH)"
    return resized, note


# ----------------------------------------------------------------------------------------------
# writing

def _check_not_input(path, overwrite_protect):
    if not os.path.exists(path):
        return
    for other in overwrite_protect:
        try:
            same = os.path.samefile(path, other)
        except OSError:
            continue
        if same:
            raise InputError(f"refusing to overwrite input file {os.fspath(other)} "
                             f"(output {path} is the same file)")


def atomic_write(path, write, *, overwrite_protect=()):
    """Call ``write(fileobj)`` on a binary temporary file next to ``path``, then replace ``path`` with it
    (``os.replace``); the other ``atomic_*`` writers are built on it.  Errors as :func:`atomic_write_bytes`."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        raise InputError(f"cannot write {path}: it is a directory")
    if not os.path.isdir(directory):
        raise InputError(f"cannot write {path}: directory {directory} does not exist")
    _check_not_input(path, overwrite_protect)
    with _signals.raising():
        _write_and_replace(path, directory, write)


def _write_and_replace(path, directory, write):
    """The temporary file is removed on any exception, SIGTERM and SIGHUP included (:mod:`._signals`)."""
    base = os.path.basename(path)
    while True:
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o666)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror or _one_line(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        except OSError:
            pass
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise InputError(f"cannot write {path}: {exc.strerror or _one_line(exc)}") from None
        raise


def atomic_write_bytes(path, data, *, overwrite_protect=()):
    """Write ``data`` (bytes-like) to ``path`` atomically.

    The data go to a temporary file in the same directory, which then replaces ``path``
    (``os.replace``); an existing file keeps its permission bits.

    Parameters
    ----------
    path : str or os.PathLike
    data : bytes or bytearray or memoryview
    overwrite_protect : iterable of path, keyword-only
        Input files that ``path`` must not be (compared with ``os.path.samefile``).

    Raises
    ------
    InputError
        Missing or unwritable directory, ``path`` is a directory or one of ``overwrite_protect``.
        No partial or temporary file is left behind.
    """
    atomic_write(path, lambda fh: fh.write(data), overwrite_protect=overwrite_protect)


def atomic_write_text(path, text, *, encoding="utf-8", overwrite_protect=()):
    """Write ``text`` (str) to ``path`` atomically; see :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode(encoding), overwrite_protect=overwrite_protect)


def atomic_write_json(path, data, *, indent=2, allow_nan=False, overwrite_protect=()):
    """Write ``data`` as JSON (``indent``, a final newline) to ``path`` atomically; see
    :func:`atomic_write_bytes`.  ``allow_nan=False`` refuses NaN and infinities (strict JSON)."""
    atomic_write_text(path, json.dumps(data, indent=indent, allow_nan=allow_nan) + "\n",
                      overwrite_protect=overwrite_protect)


def atomic_save_npz(path, /, **arrays):
    """``numpy.savez`` (uncompressed) to exactly ``path`` (no ``.npz`` is appended), atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Positional-only, so any key (e.g. ``"path"``) may be used for an array.
    **arrays : array_like
        Keys may contain ``/`` (Chainer link paths): pass them with ``**{"l1/W": w}``.

    Raises
    ------
    InputError
        As :func:`atomic_write_bytes`.
    ValueError
        An array has dtype ``object`` (it would be pickled; snapshots never hold pickles).
    """
    arrays = {key: numpy.asarray(value) for key, value in arrays.items()}
    for key, value in arrays.items():
        if value.dtype.hasobject:
            raise ValueError(f"array {key!r} has dtype object and would be pickled")
    atomic_write(path, lambda fh: numpy.savez(fh, **arrays))


def _check_image_array(image):
    arr = numpy.asarray(image)
    if arr.dtype != numpy.uint8:
        raise ValueError(f"image must be uint8, got {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ValueError(f"image must be (H, W, 3) RGB, (H, W, 4) RGBA or (H, W) grey, "
                         f"got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"image has zero size {arr.shape}")
    return numpy.ascontiguousarray(arr)


def write_image(path, image, *, overwrite_protect=(), metadata=None):
    """Write an image file atomically, the format chosen by the suffix.

    Parameters
    ----------
    path : str or os.PathLike
        Suffix (any case) ``.png``, ``.jpg``/``.jpeg`` (quality 95), ``.webp`` (quality 95),
        ``.bmp`` or ``.tif``/``.tiff`` (LZW).
    image : numpy.ndarray
        ``(H, W, 3)`` ``uint8`` RGB; ``(H, W)`` grey and ``(H, W, 4)`` RGBA are also accepted
        (RGBA is composited on white for JPEG and BMP, which have no alpha).
    overwrite_protect : iterable of path, keyword-only
        The input files of the run: refuse to write over any of them.
    metadata : dict, optional, keyword-only
        From :func:`read_image_info` of the input photo: its ICC profile (PNG, JPEG, WebP, TIFF) and
        resolution are written with the image.

    Raises
    ------
    InputError
        Unknown suffix, missing or unwritable directory, or ``path`` is one of
        ``overwrite_protect``.  Nothing is left behind on failure.
    ValueError
        ``image`` is not a uint8 image array (a programming error, not a user error).
    """
    name = os.fspath(path)
    suffix = os.path.splitext(name)[1].lower()
    if suffix not in IMAGE_SUFFIXES:
        known = ", ".join(IMAGE_SUFFIXES)
        raise InputError(f"cannot write {name}: unknown image format {suffix or '(no suffix)'!r} "
                         f"(use one of {known})")
    fmt, options = IMAGE_SUFFIXES[suffix]
    arr = _check_image_array(image)
    if arr.ndim == 3 and arr.shape[2] == 4 and fmt in ("JPEG", "BMP"):
        arr = _composite_on_white(arr[..., :3], arr[..., 3])
    options = dict(options)
    metadata = metadata or {}
    if metadata.get("icc_profile") and fmt in ("PNG", "JPEG", "WEBP", "TIFF") and arr.ndim == 3:
        options["icc_profile"] = metadata["icc_profile"]
    if metadata.get("dpi") and fmt in ("PNG", "JPEG", "TIFF", "BMP"):
        options["dpi"] = metadata["dpi"]
    buffer = BytesIO()
    Image.fromarray(arr).save(buffer, format=fmt, **options)
    atomic_write_bytes(name, buffer.getbuffer(), overwrite_protect=overwrite_protect)


# ----------------------------------------------------------------------------------------------
# model layout

def to_model(images):
    """Images in file layout -> model layout.

    Parameters
    ----------
    images : numpy.ndarray
        ``(H, W, C)`` or ``(N, H, W, C)`` ``uint8`` (C = 3 for RGB).

    Returns
    -------
    numpy.ndarray
        ``(N, C, H, W)`` ``float32`` in ``[-1, 1]`` (``x / 127.5 - 1``; N = 1 for a single image).
        :func:`from_model` inverts it exactly.
    """
    arr = numpy.asarray(images)
    if arr.dtype != numpy.uint8:
        raise ValueError(f"images must be uint8, got {arr.dtype}")
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4:
        raise ValueError(f"images must be (H, W, C) or (N, H, W, C), got shape {arr.shape}")
    x = arr.transpose(0, 3, 1, 2).astype(numpy.float32)
    x /= numpy.float32(127.5)
    x -= numpy.float32(1.0)
    return x


def from_model(x):
    """Model output -> images in file layout.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, C, H, W)`` floating point, nominally in ``[-1, 1]`` (NumPy; move CuPy arrays first).

    Returns
    -------
    numpy.ndarray
        ``(N, H, W, C)`` ``uint8``: ``round((x + 1) * 127.5)`` clipped to ``[0, 255]``.

    Raises
    ------
    ValueError
        ``x`` contains NaN (a model problem) or is not 4-D.
    """
    arr = numpy.asarray(x)
    if arr.ndim != 4:
        raise ValueError(f"model output must be (N, C, H, W), got shape {arr.shape}")
    if arr.dtype.kind != "f":
        raise ValueError(f"model output must be floating point, got {arr.dtype}")
    if numpy.isnan(arr).any():
        raise ValueError("model output contains NaN")
    y = (arr.astype(numpy.float32) + numpy.float32(1.0)) * numpy.float32(127.5)
    y = numpy.rint(numpy.clip(y, 0.0, 255.0))
    return numpy.ascontiguousarray(y.transpose(0, 2, 3, 1)).astype(numpy.uint8)

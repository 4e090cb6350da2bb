"""Style exemplars that know where they come from, so that a painting recipe can name them.

An exemplar spec (what :class:`~neuralcollage.stylize.StyleSession` takes) is a dict with ``image`` and
``landmarks`` and optionally ``labels`` / ``n_labels`` / ``appearance_source``; the specs made here add
``source``, which a recipe records instead of the pixels:

* a built-in exemplar (:func:`builtin_exemplar`): a procedural face of :mod:`neuralcollage.datasets` drawn in a
  style (``{"builtin": name, "size": side, "parts": bool}``), rebuilt from its name;
* a file (:func:`exemplar_from_file`): ``{"path": absolute path, "sha256": of the file's bytes}`` (and the part
  map's path and sha256), read again and checked on replay.

A spec without ``source`` (pixels given in code) is recorded by its digests only; its replay needs the pixels
again (``exemplars=`` of :func:`neuralcollage.painting.replay_recipe`).
"""
import hashlib
import os

import numpy

from neuralcollage.io import file_sha256

__all__ = ["BUILTIN_EXEMPLARS", "BUILTIN_FACE", "builtin_exemplar", "exemplar_from_file", "file_sha256",
           "pixels_sha256"]

#: Names of the built-in exemplars: the styles of :func:`neuralcollage.datasets.render_sample`.
BUILTIN_EXEMPLARS = ("hatch", "watercolour")
#: The face (render seed) the built-in exemplars draw, in its own pose (all 10 landmarks inside from 32 px up).
BUILTIN_FACE = 3
_BUILTIN_PARTS = ("face", "ears", "eyes", "muzzle")


def pixels_sha256(array):
    """Hex SHA-256 of an array's dtype, shape and bytes (what recipes record of pixels and label maps)."""
    arr = numpy.ascontiguousarray(array)
    return hashlib.sha256(f"{arr.dtype.str}{arr.shape}".encode() + arr.tobytes()).hexdigest()


def builtin_exemplar(name, *, size=64, parts=False):
    """A built-in exemplar: face :data:`BUILTIN_FACE` drawn in style ``name`` (:data:`BUILTIN_EXEMPLARS`).

    Parameters
    ----------
    name : str
    size : int, keyword-only
        Side in pixels (choose the painted image's; 16-1024).
    parts : bool, keyword-only
        Add its part masks (face, ears, eyes, muzzle) as the segmentation guide.

    Returns
    -------
    dict
        ``image`` ``(size, size, 3)`` uint8, ``landmarks`` ``(10, 2)`` float64, [``labels`` ``(size, size)``
        int32, ``n_labels`` 5], ``source``.
    """
    from neuralcollage.datasets import render_landmarks, render_sample
    if name not in BUILTIN_EXEMPLARS:
        raise ValueError(f"no built-in exemplar {name!r}; the built-in exemplars are {list(BUILTIN_EXEMPLARS)}")
    if isinstance(size, bool) or not isinstance(size, (int, numpy.integer)) or not 16 <= size <= 1024:
        raise ValueError(f"built-in exemplar size must be an integer in [16, 1024], got {size!r}")
    size = int(size)
    sample = render_sample(BUILTIN_FACE, size=size, style=name)
    spec = {"image": sample.image, "landmarks": render_landmarks(BUILTIN_FACE, size=size),
            "source": {"builtin": name, "size": size, "parts": bool(parts)}}
    if parts:
        labels = numpy.zeros((size, size), numpy.int32)
        for k, part in enumerate(_BUILTIN_PARTS, start=1):
            labels[sample.masks[part]] = k
        spec.update(labels=labels, n_labels=len(_BUILTIN_PARTS) + 1)
    return spec


def exemplar_from_file(path, *, landmarks, parts=None):
    """An exemplar read from an image file, remembering the file (absolute path, sha256) for recipes.

    Parameters
    ----------
    path : str or os.PathLike
        Any image :func:`neuralcollage.io.read_image` reads.
    landmarks : array_like or str or os.PathLike, keyword-only
        ``(K, 2)`` ``(x, y)``, or a landmark JSON file (:func:`~neuralcollage.stylize.read_landmarks_json`).
    parts : str or os.PathLike, keyword-only, optional
        A part map image (flat colours, :func:`~neuralcollage.stylize.part_labels_from_image`) of the same size:
        the segmentation guide.

    Returns
    -------
    dict
        A :class:`~neuralcollage.stylize.StyleSession` exemplar spec with ``source``.
    """
    from neuralcollage.io import read_image
    from neuralcollage.stylize.core import check_landmarks
    from neuralcollage.stylize.landmark_editor import read_landmarks_json
    from neuralcollage.stylize.parts import part_labels_from_image
    path = os.path.abspath(os.fspath(path))
    sha = file_sha256(path)
    image = read_image(path)
    if isinstance(landmarks, (str, os.PathLike)):
        landmarks = read_landmarks_json(landmarks)
    spec = {"image": image, "landmarks": check_landmarks(landmarks, image.shape, name=f"{path} landmarks"),
            "source": {"path": path, "sha256": sha}}
    if parts is not None:
        parts = os.path.abspath(os.fspath(parts))
        parts_sha = file_sha256(parts)
        part_image = read_image(parts)
        if part_image.shape != image.shape:
            raise ValueError(f"{parts}: the part map is {part_image.shape[1]}x{part_image.shape[0]}, the exemplar "
                             f"{image.shape[1]}x{image.shape[0]}")
        labels, colours = part_labels_from_image(part_image)
        spec.update(labels=labels, n_labels=len(colours))
        spec["source"].update(parts_path=parts, parts_sha256=parts_sha)
    return spec

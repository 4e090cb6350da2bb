"""The built-in data set: cartoon animal faces rendered procedurally, with part masks, continuous attributes,
landmarks and stylised versions (NumPy and OpenCV only, no Chainer).

Modules: :mod:`~neuralcollage.datasets.faces` (class, part and attribute names, scenes drawn from a seed,
``render_sample``, landmarks, close-ups, batches, :class:`ProceduralFaces`),
:mod:`~neuralcollage.datasets.drawing` (the faces' shapes, species by species) and
:mod:`~neuralcollage.datasets.styles` (the hand-drawn render modes) and :mod:`~neuralcollage.datasets.held_out`
(the render seeds no training loop reads, for metrics).  Everything public is importable from
here.

Example
-------
>>> from neuralcollage.datasets import CLASS_NAMES, render_batch
>>> images, ids, attributes, masks = render_batch([0, 1, 2], size=32)
>>> images.shape, images.dtype, ids.tolist() == [render_sample(s).class_id for s in (0, 1, 2)]
((3, 32, 32, 3), dtype('uint8'), True)
"""
from neuralcollage.datasets.faces import (ATTRIBUTE_NAMES, CLASS_NAMES, CLOSEUP_PARTS, CLOSEUP_ZOOM, LANDMARK_NAMES,
                                          NEW_SPECIES, PART_NAMES, RENDER_STYLES, SPECIES, ProceduralFaces, Sample,
                                          check_closeups, is_closeup, pose_of, render_batch, render_closeup,
                                          render_landmarks, render_sample)
from neuralcollage.datasets.held_out import HELD_OUT_BASE, held_out_faces, held_out_seeds
from neuralcollage.datasets.styles import stylise_render

__all__ = ["CLASS_NAMES", "NEW_SPECIES", "SPECIES", "PART_NAMES", "ATTRIBUTE_NAMES", "CLOSEUP_PARTS", "CLOSEUP_ZOOM",
           "LANDMARK_NAMES", "RENDER_STYLES", "Sample", "render_sample", "render_landmarks", "pose_of",
           "render_closeup", "check_closeups", "is_closeup", "render_batch", "ProceduralFaces", "stylise_render",
           "HELD_OUT_BASE", "held_out_seeds", "held_out_faces"]

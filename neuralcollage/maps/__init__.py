"""Class-weight maps and blend maps for sCBN and feature blending.

Conventions
-----------
* A **class map** is a float32 array ``(N, K, H, W)``: for every sample and pixel, non-negative weights over
  the ``K`` classes of the model that sum to 1.  The sCBN generator mixes its per-class BN parameters with
  these weights *as given*; it does not normalise them.  The functions of this module that build maps
  return normalised maps; :func:`normalize_map` normalises a hand-made one.
* A **blend map** is a float32 array ``(N, S + 1, h, w)`` for feature blending with ``S`` latent streams:
  channels ``0 .. S-1`` weight the latent streams and the last channel (``-1``) weights the target stream
  itself.  There is one blend map per blending point: after the first linear layer and after every residual
  block (``1 + n_blocks`` maps; resolutions ``[4, 8, 16, 32, 64]`` for a 64 px generator).
* The generator takes one class map per conditional BN, at that BN's resolution (``[4, 8, 8, 16, 16, 32, 32,
  64]`` for a 64 px generator: ``block{b}/b1`` then ``block{b}/b2``).  :func:`layer_maps` turns one
  full-resolution map into that list; :func:`parse_layers` is the layer-selection syntax shared by the CLI,
  the widgets and the scripts (``"all"``, ``"0-3"``, ``"4-"``, ``"0-2,5,7-"``).
* Sizes are ``int`` (square) or ``(height, width)``; messages write them as ``HxW``.
* The builders from label images and masks are NumPy-only; move their result with
  :func:`neuralcollage.backend.to_device`.  :func:`normalize_map`, :func:`resize_map`, :func:`layer_maps`,
  :func:`validate_map`, :func:`is_spatially_uniform` and the layout helpers work on NumPy and CuPy arrays.
* :func:`to_original_layout` / :func:`from_original_layout` convert to and from the original code's
  ``(N, H, W, K)`` layout.

Modules: :mod:`~neuralcollage.maps.class_maps` (class maps and the per-layer maps),
:mod:`~neuralcollage.maps.blend_maps` (blend maps from masks), :mod:`~neuralcollage.maps.layers` (layer
selection) and :mod:`~neuralcollage.maps.arrays` (checks, normalising, resizing and feathering that both kinds
of map share).  Everything public is importable from here.

Example
-------
>>> label_image = numpy.full((64, 64), -1)
>>> label_image[16:48, 16:48] = 3                     # class 3 in a square, class 0 elsewhere
>>> class_map = class_map_from_label_image(label_image, n_classes=6, default_class=0, feather=2.0)
>>> maps = layer_maps(class_map, [4, 8, 8, 16, 16, 32, 32, 64], layers="0-3", base=0)
>>> [m.shape[2] for m in maps]
[4, 8, 8, 16, 16, 32, 32, 64]
"""
import numpy  # noqa: F401  (the example above)

from neuralcollage.maps.arrays import (as_size, class_index, from_original_layout, gaussian_blur, is_int,
                                       is_spatially_uniform, normalize_map, positive_int, resize_map, resize_mask,
                                       to_original_layout, validate_map)
from neuralcollage.maps.blend_maps import blend_maps_from_mask, blend_maps_from_masks
from neuralcollage.maps.class_maps import (class_map_from_label_image, class_map_from_masks, layer_maps,
                                           one_hot_map, uniform_map)
from neuralcollage.maps.layers import format_layers, parse_layers

__all__ = ["parse_layers", "format_layers", "one_hot_map", "uniform_map", "class_map_from_label_image",
           "class_map_from_masks", "normalize_map", "resize_map", "resize_mask", "layer_maps",
           "is_spatially_uniform", "blend_maps_from_mask", "blend_maps_from_masks", "validate_map",
           "to_original_layout", "from_original_layout", "gaussian_blur", "is_int", "positive_int", "class_index",
           "as_size"]

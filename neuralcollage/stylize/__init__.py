"""Example-based stylisation of a region: StyleBlit (Sýkora et al. 2019) with FaceBlit guides (Texler et al.
2021).

NumPy and OpenCV only (no Chainer).  :func:`stylize` is the entry point; :func:`prepare_exemplar` builds an
exemplar's guide and lookup table once for many targets.
"""
from neuralcollage.stylize.brush import StyleBrush
from neuralcollage.stylize.core import (HATCHING_OPTIONS, MAX_SIZE_RATIO, Exemplar, Stylized, check_landmarks,
                                        exemplar_lattice,
                                        prepare_exemplar, stylize, stylize_details, target_guide, texture_guides,
                                        warped_labels)
from neuralcollage.stylize.guides import (appearance_guide, match_histogram, mls_similarity, position_guide,
                                          position_ramp, ramp_scale, segmentation_guide, texture_lattice)
from neuralcollage.stylize.landmark_editor import BUILTIN_LANDMARK_NAMES, LandmarkEditor, read_landmarks_json
from neuralcollage.stylize.exemplars import BUILTIN_EXEMPLARS, builtin_exemplar, exemplar_from_file
from neuralcollage.stylize.parts import MAX_PARTS, part_labels_from_image
from neuralcollage.stylize.recipe import StyleRecipeError
from neuralcollage.stylize.session import StyleSession
from neuralcollage.stylize.lookup import LookupTable, build_lookup_table, load_lookup_table
from neuralcollage.stylize.styleblit import (BLEND_RADIUS, LEVELS, THRESHOLD, VOTE_SIGMA, StyleBlitResult,
                                             check_patch_iterations, nearest_field, refine_field, refine_patches,
                                             snap_to_lattice, styleblit, vote, vote_stride_for)

__all__ = ["stylize", "stylize_details", "StyleBrush", "StyleSession", "LandmarkEditor", "part_labels_from_image",
           "MAX_PARTS", "BUILTIN_LANDMARK_NAMES", "read_landmarks_json", "warped_labels", "prepare_exemplar",
           "target_guide", "check_landmarks", "Exemplar", "Stylized", "MAX_SIZE_RATIO", "mls_similarity",
           "position_ramp", "position_guide", "appearance_guide", "match_histogram", "segmentation_guide",
           "ramp_scale", "LookupTable", "build_lookup_table", "load_lookup_table", "BLEND_RADIUS", "LEVELS",
           "THRESHOLD", "VOTE_SIGMA", "StyleBlitResult", "nearest_field", "styleblit", "vote", "BUILTIN_EXEMPLARS",
           "builtin_exemplar", "exemplar_from_file", "StyleRecipeError", "vote_stride_for", "texture_lattice",
           "exemplar_lattice", "snap_to_lattice", "refine_field", "texture_guides", "refine_patches",
           "HATCHING_OPTIONS", "check_patch_iterations"]

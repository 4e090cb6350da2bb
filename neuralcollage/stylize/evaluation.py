"""Held-out evaluation of stylisation on the built-in renders, where the ground truth is known.

A case is one held-out face: exemplar = the face in its own pose, drawn in a render style; target = the
same face (same background and lighting) plain, in the pose of another seed; truth = the target drawn in
the style.  Landmarks come from the renderer (or a landmark predictor).  Each method's output is scored
against the truth and the exemplar:

- ``part_iou``: mean over the parts (face, ears, eyes, muzzle) of the IoU between the truth's part masks and
  the exemplar's part masks carried to the target by the method's correspondence field (the exemplar pixel
  each output pixel copies, or samples for the warp); there is no part segmenter to run on the output.
- ``part_iou_detected`` (with ``part_detector``, e.g. the built-in landmark regressor): the parts as detected
  on the output itself: the landmarks the detector finds on the output, and the exemplar's part masks moved
  onto them by the MLS similarity deformation from the exemplar's landmarks; mean IoU with the truth's part
  masks over the same parts.  The truth is scored too: its value is the ceiling the detector and the mask
  transfer leave to any output.
- ``patch_match``: fraction of the output's 5x5 patches centred on the face (truth's face and ears, grown 2 px)
  with a close match (mean absolute difference <= ``patch_tolerance``, 24 in 0-255 by default) anywhere in the
  exemplar.  The truth itself is scored too (method ``truth``): the hatching is laid out in screen space and the
  face moves under it, so even the truth has patches the exemplar lacks (at 64 px about 8% of its patches match
  at tolerance 8, 40% at 16, 78% at 24).
- ``ssim``: SSIM (grey, Gaussian window 1.5 px) to the truth, averaged over the same face region.

Methods: ``styleblit`` (:func:`neuralcollage.stylize.stylize`, the exemplar's own appearance guide),
``styleblit_source`` (the appearance guide of the plain exemplar render, the picture the style was drawn
over), ``styleblit_parts`` (plus a segmentation guide: the exemplar's part masks, which its painter knows, and on the
target the same masks moved by the landmarks' MLS deformation), ``warp`` (the baseline: the exemplar warped by
the same MLS similarity deformation).
"""
import time

import cv2
import numpy

from neuralcollage.datasets.held_out import HELD_OUT_BASE
from neuralcollage.stylize import metrics
from neuralcollage.stylize.core import stylize_details
from neuralcollage.stylize.styleblit import BLEND_RADIUS, THRESHOLD, VOTE_SIGMA

__all__ = ["HELD_OUT_BASE", "METHODS", "stylize_cases", "evaluate_stylize", "format_stylize_table", "score_output",
           "detected_part_iou"]

#: The target pose of held-out face ``seed`` (from :data:`neuralcollage.datasets.HELD_OUT_BASE`, the first seed
#: no training loop reads) is that of seed ``+ POSE_OFFSET``.
POSE_OFFSET = 5 * 10 ** 6
METHODS = ("styleblit", "styleblit_source", "styleblit_parts", "warp", "truth")
_PARTS = ("face", "ears", "eyes", "muzzle")


def stylize_cases(n, *, size=64, style="hatch", seed=0):
    """Yield ``n`` cases: dicts with ``exemplar``, ``exemplar_plain``, ``target``, ``truth`` (uint8 images),
    ``exemplar_masks``, ``truth_masks`` (part -> bool) and ``exemplar_landmarks``, ``target_landmarks``
    (``(K, 2)``; points outside either image dropped from both)."""
    from neuralcollage.datasets import pose_of, render_landmarks, render_sample
    for i in range(int(n)):
        face = HELD_OUT_BASE + int(seed) * 10 ** 7 + i
        pose = pose_of(face + POSE_OFFSET)
        exemplar = render_sample(face, size=size, style=style)
        truth = render_sample(face, size=size, style=style, pose=pose)
        ex_lm = render_landmarks(face, size=size)
        t_lm = render_landmarks(face, size=size, pose=pose)
        keep = _inside(ex_lm, size) & _inside(t_lm, size)
        yield dict(seed=face, keep=keep, exemplar=exemplar.image, exemplar_plain=render_sample(face, size=size).image,
                   target=render_sample(face, size=size, pose=pose).image, truth=truth.image,
                   exemplar_masks=exemplar.masks, truth_masks=truth.masks, exemplar_landmarks=ex_lm[keep],
                   target_landmarks=t_lm[keep])


def part_labels(masks):
    """``(H, W)`` int32 label map of the built-in part masks: 0 background, 1 face, 2 ears, 3 eyes, 4 muzzle
    (eyes and muzzle over the face)."""
    labels = numpy.zeros(masks["face"].shape, numpy.int32)
    for k, name in enumerate(_PARTS, start=1):
        labels[masks[name]] = k
    return labels


def _inside(points, size):
    return ((points > -0.5) & (points < size - 0.5)).all(axis=1)


def score_output(output, field, case, region, max_patches=1500, tolerance=24.0):
    """``{"part_iou", "patch_match", "ssim"}`` of one output of a case (:func:`stylize_cases`): ``field`` the
    ``(H, W, 2)`` exemplar ``(x, y)`` each output pixel takes (None: part IoU NaN), ``region`` the face region the
    patches and SSIM are taken over."""
    ious = [metrics.mask_iou(metrics.transfer_labels(case["exemplar_masks"][p], field), case["truth_masks"][p])
            for p in _PARTS] if field is not None else [float("nan")]
    return {"part_iou": float(numpy.mean(ious)),
            "patch_match": metrics.patch_match_fraction(output, case["exemplar"], region=region,
                                                        max_patches=max_patches, tolerance=tolerance),
            "ssim": metrics.ssim(output, case["truth"], region=region)}


def detected_part_iou(output, case, part_detector):
    """Mean part IoU of the parts detected on ``output``: ``part_detector(output)`` -> ``(K, 2)`` landmarks (all
    K of the renderer's; those the case drops are dropped), the exemplar's part masks moved onto them by the MLS
    similarity deformation from the exemplar's landmarks, against the truth's masks."""
    from neuralcollage.stylize.guides import mls_similarity
    found = numpy.asarray(part_detector(output), numpy.float64)[case["keep"]]
    h, w = output.shape[:2]
    grid = numpy.stack(numpy.meshgrid(numpy.arange(w), numpy.arange(h)), axis=-1).astype(numpy.float64)
    field = mls_similarity(grid, found, case["exemplar_landmarks"])
    return float(numpy.mean([metrics.mask_iou(metrics.transfer_labels(case["exemplar_masks"][p], field),
                                              case["truth_masks"][p]) for p in _PARTS]))


def evaluate_stylize(*, n=50, size=64, style="hatch", seed=0, threshold=THRESHOLD, blend_radius=BLEND_RADIUS,
                     jitter_seed=0,
                     vote_sigma=VOTE_SIGMA, vote_stride=None, guide_weights=None, landmark_predictor=None,
                     max_patches=1500, patch_tolerance=24.0, methods=METHODS, part_detector=None, texture_weight=0.0,
                     lattice=None, patch_iterations=0):
    """Score the methods on ``n`` held-out cases.

    Args:
        vote_stride: spacing of the voting neighbours (None: the default by size,
            :func:`~neuralcollage.stylize.styleblit.vote_stride_for`).
        landmark_predictor: optional callable, uint8 image -> ``(K, 2)`` landmarks, used for the exemplar and
            the target instead of the renderer's (the truth's masks stay the renderer's).
        part_detector: optional callable, uint8 image -> ``(K, 2)`` landmarks (the renderer's K points):
            adds ``part_iou_detected`` (:func:`detected_part_iou`) for every method.
        texture_weight: the stylisation's screen-anchored texture guide weight
            (:func:`~neuralcollage.stylize.core.texture_guides`; 0: off).
        lattice: the stylisation's texture lattice (None: off, ``"auto"``:
            :func:`~neuralcollage.stylize.core.exemplar_lattice`).
        patch_iterations: the stylisation's patch refinement passes
            (:func:`~neuralcollage.stylize.styleblit.refine_patches`; 0: off).

    Returns:
        dict: ``{method: {metric: mean}}``, plus ``"seconds"`` (mean stylisation time per case, table included),
        ``"n"``, ``"size"``, ``"style"``.
    """
    keys = ("part_iou", "patch_match", "ssim") + (("part_iou_detected",) if part_detector is not None else ())
    totals = {m: {k: [] for k in keys} for m in methods}
    seconds = []
    for case in stylize_cases(n, size=size, style=style, seed=seed):
        ex_lm, t_lm = case["exemplar_landmarks"], case["target_landmarks"]
        if landmark_predictor is not None:
            ex_lm, t_lm = landmark_predictor(case["exemplar"]), landmark_predictor(case["target"])
            keep = _inside(ex_lm, size) & _inside(t_lm, size)
            ex_lm, t_lm = ex_lm[keep], t_lm[keep]
        grown = cv2.dilate((case["truth_masks"]["face"] | case["truth_masks"]["ears"]).astype(numpy.uint8),
                           numpy.ones((5, 5), numpy.uint8)) > 0
        for method in methods:
            if method == "truth":
                output, field = case["truth"], None
            elif method == "warp":
                output, field = metrics.warp_exemplar(case["exemplar"], case["target"].shape,
                                                      target_landmarks=t_lm, exemplar_landmarks=ex_lm)
            else:
                source = case["exemplar_plain"] if method == "styleblit_source" else None
                extra = {}
                if method == "styleblit_parts":
                    extra = dict(labels=part_labels(case["exemplar_masks"]), n_labels=len(_PARTS) + 1)
                t0 = time.perf_counter()
                details = stylize_details(case["target"], case["exemplar"], target_landmarks=t_lm,
                                          exemplar_landmarks=ex_lm, threshold=threshold, blend_radius=blend_radius,
                                          vote_sigma=vote_sigma, vote_stride=vote_stride,
                                          seed=jitter_seed, guide_weights=guide_weights, appearance_source=source,
                                          texture_weight=texture_weight, lattice=lattice,
                                          patch_iterations=patch_iterations, **extra)
                seconds.append(time.perf_counter() - t0)
                output, field = details.image, details.synthesis.nnf
            for key, value in score_output(output, field, case, grown, max_patches, patch_tolerance).items():
                totals[method][key].append(value)
            if part_detector is not None:
                totals[method]["part_iou_detected"].append(detected_part_iou(output, case, part_detector))
    results = {m: {k: float(numpy.mean(v)) for k, v in scores.items()} for m, scores in totals.items()}
    results.update(seconds=float(numpy.mean(seconds)) if seconds else float("nan"), n=int(n), size=int(size),
                   style=style)
    return results


def format_stylize_table(results):
    """Markdown table of :func:`evaluate_stylize`'s results."""
    detected = any("part_iou_detected" in results[m] for m in METHODS if m in results)
    lines = ["| method | part IoU | 5x5 patches matched in exemplar | SSIM to truth (face) |"
             + (" part IoU, detected on the output |" if detected else ""),
             "|---|---|---|---|" + ("---|" if detected else "")]
    for method in METHODS:
        if method in results:
            r = results[method]
            iou = "-" if numpy.isnan(r["part_iou"]) else f"{r['part_iou']:.3f}"
            line = f"| {method} | {iou} | {r['patch_match']:.3f} | {r['ssim']:.3f} |"
            if detected:
                line += f" {r['part_iou_detected']:.3f} |"
            lines.append(line)
    return "\n".join(lines)

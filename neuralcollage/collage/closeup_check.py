"""Whether a new class's close-up variant draws parts better than the class's own rows, judged from its images.

A class pack's close-up variant (``train_class(closeup_variant=N)``) helps some classes and hurts others: on two
sets of renders each it lifts the koala's part translations from 36% and 54% to 80% and 88% and drops the
tiger's from 89% and 95% to 43% and 56% (docs/few_shot.md, "Which classes need the variant").
:func:`closeup_variant_check` decides for one pack without any judge of its own, from the user's training images
and the base model alone:

1. a **part probe**: a logistic regression on the discriminator's pooled last features
   (:meth:`~neuralcollage.models.Discriminator.features` summed over space), trained to tell close-ups of the
   training images (positives; cut from the images as the generator sees them, resized to its resolution, so
   that they are as sharp as the edits' regions) from close-ups of the base model's samples of its own classes
   (negatives), both enlarged :data:`PROBE_ZOOM` times, the scale of a part edit's region;
2. the part edits of :func:`~neuralcollage.collage.preview.closeup_variant_preview` (a muzzle, an eye, an ear of
   the base model's samples, each drawn with the class's rows and with its variant);
3. the probe's logit of each edited region, and the verdict: keep the variant when its mean logit is above the
   rows' (``difference > 0``).
"""
import dataclasses
from typing import Any, Dict, Optional

import numpy

__all__ = ["CHECK_EDITS", "PROBE_SETTINGS", "PROBE_ZOOM", "CloseupCheck", "closeup_variant_check", "edited_regions",
           "part_probe"]

#: Part edits :func:`closeup_variant_check` scores by default (each drawn twice).
CHECK_EDITS = 30
#: ``(low, high)`` enlargement of the close-ups the probe learns from: a region of radius ``0.15 R`` with the
#: crop margin around it is about a third of a face's side.
PROBE_ZOOM = (2.0, 4.0)
#: How the probe is fitted: close-ups per training image (positives), samples of the base model's classes and
#: close-ups of each (negatives), the L2 weight on standardised features, and plain gradient steps and rate.
#: Chosen in docs/few_shot.md ("A check that decides"): a weaker L2 or fewer close-ups let the verdict on the
#: koala flip with the probe's seed.
PROBE_SETTINGS = {"positives_per_image": 64, "negative_samples": 400, "negatives_per_sample": 2, "l2": 0.1,
                  "steps": 2000, "rate": 0.1}


@dataclasses.dataclass
class CloseupCheck:
    """The verdict of :func:`closeup_variant_check`.

    Attributes:
        keep: whether the variant's edits score higher than the rows' (``difference > 0``).
        rows, variant: the probe's mean logit of the edited regions drawn with the class's rows / its variant.
        difference: ``variant - rows`` (the mean of the per-edit differences); standard_error: its standard error.
        n: part edits scored. seed: the check's seed. probe_accuracy: the probe's accuracy on the close-ups it
            was fitted to.
        edits: ``(n, 3, 2R, 2R, 3)`` uint8: per edit the photo, the edit with the rows, the edit with the variant.
    """
    keep: bool
    rows: float
    variant: float
    difference: float
    standard_error: float
    n: int
    seed: int
    probe_accuracy: float
    edits: Optional[numpy.ndarray] = dataclasses.field(default=None, repr=False)

    def record(self) -> Dict[str, Any]:
        """The verdict as JSON-able numbers (without the edits), as a pack's record keeps it."""
        return {"keep": bool(self.keep), "rows": round(self.rows, 4), "variant": round(self.variant, 4),
                "difference": round(self.difference, 4), "standard_error": round(self.standard_error, 4),
                "n": int(self.n), "seed": int(self.seed), "probe_accuracy": round(self.probe_accuracy, 4),
                "probe": dict(PROBE_SETTINGS)}

    def describe(self) -> str:
        """One sentence for a user."""
        verdict = ("the variant draws parts closer to the images: kept" if self.keep else
                   "the class's own rows draw parts closer to the images: variant dropped")
        return (f"close-up check ({self.n} part edits scored by a probe fitted to the images' close-ups): variant "
                f"{self.difference:+.2f} +- {self.standard_error:.2f} against the rows; {verdict}")


def _pooled_features(dis, images, batch_size=50):
    import chainer
    import chainer.functions as F
    from neuralcollage.backend import to_numpy
    from neuralcollage.io import to_model
    from neuralcollage.links import fastconv
    x = to_model(numpy.asarray(images))
    out = []
    with chainer.using_config("train", False), chainer.no_backprop_mode(), fastconv.constant_parameters():
        for i in range(0, len(x), batch_size):
            h = dis.features(dis.device.send(x[i:i + batch_size]))
            out.append(to_numpy(F.sum(h, axis=(2, 3)).array))
    return numpy.concatenate(out).astype(numpy.float64)


def _base_samples(gen, k, n, *, seed, batch_size=20):
    import chainer
    from neuralcollage.backend import to_numpy
    from neuralcollage.io import from_model
    from neuralcollage.links import fastconv
    z = gen.sample_z(n, seed=seed)
    labels = (numpy.arange(n) % k).astype(numpy.int32)
    out = []
    with chainer.using_config("train", False), chainer.no_backprop_mode(), fastconv.constant_parameters():
        for i in range(0, n, batch_size):
            out.append(from_model(to_numpy(gen.forward(z[i:i + batch_size], labels[i:i + batch_size]).array)))
    return numpy.concatenate(out)


def part_probe(bundle, images, *, seed=0, settings=None):
    """A probe telling close-ups of ``images`` from close-ups of the base model's own classes.

    Args:
        bundle: a model with a discriminator (the class packs it carries are ignored: negatives are samples
            of its first ``base_record(bundle)["n_classes"]`` classes).
        images: the new class's training images, HWC uint8 RGB of any size (cut and resized to the model's
            resolution first: :func:`~neuralcollage.classes.prepare_images`).
        seed: seed of the close-ups' windows and the negatives' latents.
        settings: :data:`PROBE_SETTINGS` (None) or a dict with the same keys.

    Returns:
        ``(score, accuracy)``: ``score(crops)`` maps ``(N, R, R, 3)`` uint8 crops to ``(N,)`` float64 logits
        (> 0: like the images' close-ups); ``accuracy`` is the probe's on the close-ups it was fitted to.

    Raises:
        InputError: the model has no discriminator.
    """
    from neuralcollage.classes import base_record, closeup_crops, prepare_images
    from neuralcollage.io import InputError
    dis, gen = bundle.discriminator, bundle.generator
    if dis is None:
        raise InputError(f"model {bundle.name!r} has no discriminator to score part edits with")
    k = base_record(bundle)["n_classes"]
    settings = PROBE_SETTINGS if settings is None else settings
    small = prepare_images(images, gen.resolution)
    positives = closeup_crops(list(small), gen.resolution, per_image=settings["positives_per_image"],
                              zoom=PROBE_ZOOM, seed=seed)
    samples = _base_samples(gen, k, settings["negative_samples"], seed=[int(seed), 0x9B0BE])
    negatives = closeup_crops(list(samples), gen.resolution, per_image=settings["negatives_per_sample"],
                              zoom=PROBE_ZOOM, seed=int(seed) + 1)
    features = numpy.concatenate([_pooled_features(dis, positives), _pooled_features(dis, negatives)])
    labels = numpy.r_[numpy.ones(len(positives)), numpy.zeros(len(negatives))]
    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    x = (features - mean) / scale
    weights = numpy.where(labels == 1, len(negatives) / len(positives), 1.0)
    w, b = numpy.zeros(x.shape[1]), 0.0
    rate = settings["rate"]
    for _ in range(settings["steps"]):
        p = 1.0 / (1.0 + numpy.exp(-(x @ w + b)))
        g = weights * (p - labels)
        w -= rate * (x.T @ g / len(labels) + settings["l2"] * w)
        b -= rate * g.mean()
    accuracy = float(((x @ w + b > 0) == (labels == 1)).mean())

    def score(crops):
        return (_pooled_features(dis, crops) - mean) / scale @ w + b

    return score, accuracy


def edited_regions(edits, resolution, radius=None):
    """The regions :func:`closeup_variant_check` scores: for each edit of
    :func:`~neuralcollage.collage.preview.closeup_variant_preview` (``(n, 3, 2R, 2R, 3)`` uint8), the square around
    its disc (:func:`~neuralcollage.blending.square_crop_box`, margin 0.25) resized to ``resolution``.

    Returns:
        ``(rows, variant)``: two ``(n, R, R, 3)`` uint8 arrays, the edits drawn with the class's rows and with its
        variant.
    """
    from neuralcollage.blending import crop_and_resize, square_crop_box
    from neuralcollage.collage.preview import PREVIEW_RADIUS, preview_masks
    masks = preview_masks(resolution, len(edits), PREVIEW_RADIUS if radius is None else radius)
    boxes = [square_crop_box(mask, margin=0.25) for mask in masks]
    return tuple(numpy.stack([crop_and_resize(edit[column], box, resolution) for edit, box in zip(edits, boxes)])
                 for column in (1, 2))


def closeup_variant_check(bundle, pack, images, *, n=CHECK_EDITS, seed=0, callback=None, **edit_options):
    """Whether ``pack``'s close-up variant draws parts of ``images``' class better than the class's rows.

    Args:
        bundle: the base model (with a discriminator; not modified).
        pack: a :class:`~neuralcollage.classes.ClassPack` with a close-up variant.
        images: the images the pack was learnt from, HWC uint8 RGB of any size.
        n: part edits (:func:`~neuralcollage.collage.preview.closeup_variant_preview` with ``n`` and ``seed``:
            its first three are the preview's).
        seed: seed of the probe and of the edits.
        callback: called as ``callback(i, n)`` after each edit, or None.
        edit_options: further keywords of :func:`~neuralcollage.collage.edit_photo`.

    Returns:
        :class:`CloseupCheck`.

    Raises:
        InputError: no discriminator, a pack without a variant, or ``n < 2``.
    """
    from neuralcollage.collage.preview import closeup_variant_preview
    from neuralcollage.io import InputError
    if int(n) < 2:
        raise InputError(f"a close-up check needs at least 2 part edits; got {n}")
    if pack.closeup is None:
        raise InputError(f"pack {pack.name!r} has no close-up variant to check (train it with closeup_variant=N)")
    score, accuracy = part_probe(bundle, images, seed=seed)
    edits = closeup_variant_preview(bundle, pack, n=int(n), seed=seed, callback=callback, **edit_options)
    logits = [score(regions) for regions in edited_regions(edits, bundle.generator.resolution)]
    difference = logits[1] - logits[0]
    return CloseupCheck(keep=bool(difference.mean() > 0), rows=float(logits[0].mean()),
                        variant=float(logits[1].mean()), difference=float(difference.mean()),
                        standard_error=float(difference.std(ddof=1) / numpy.sqrt(len(difference))), n=int(n),
                        seed=int(seed), probe_accuracy=accuracy, edits=edits)

"""Metrics of the built-in model and its edits (the targets of the built-in model, issue 4).

Each metric is a plain function of models, a sample count ``n`` and a ``seed``, returning a JSON-able dict
whose ``"value"`` is the headline number (and ``"target"``, ``"passed"`` where the project has a target):

* :func:`classifier_accuracy`: whole-image classifier accuracy on held-out rendered faces (target 0.98);
* :func:`part_classifier_accuracy`: part classifier accuracy on held-out ears/eyes/muzzle crops, and on
  crops whose part was pasted from another class (the ideal part translation);
* :func:`conditioned_class_accuracy`: share of generated samples classified as the class they were
  conditioned on (target 0.90);
* :func:`diversity`: mean pairwise distance of classifier features within a class, generated vs real, and
  their ratio (target 0.70);
* :func:`projection_psnr`: PSNR of projections of held-out generated images, encoder start vs random start;
* :func:`part_translation`: project held-out rendered faces, translate one part to another class with sCBN,
  Poisson-blend; the part classifier must name the target class (target 0.80), and every pixel outside the
  dilated mask must come back unchanged.
* :func:`reconstruction_psnr`: how faithfully the photo pipeline reproduces held-out rendered photos before
  editing them (projection alone and with the pivotal fit), on whole faces and on the part close-ups that an
  edit crops (targets 30 and 26 dB).

Held-out faces (:mod:`neuralcollage.datasets.held_out`) use seeds from
:data:`~neuralcollage.datasets.HELD_OUT_BASE` upward, which the training loops never read (their seeds are
``seed * 10**9 + ...`` for training seeds below 10**6), with classes assigned round-robin so that every class
appears equally often.
"""
from neuralcollage import _compat  # noqa: F401

import collections
import functools
import math
import time

import chainer
import numpy

from neuralcollage.datasets.held_out import HELD_OUT_BASE, held_out_faces, held_out_seeds  # noqa: F401
from neuralcollage.options import UNSET, BlendOptions, EditOptions

PARTS = ("ears", "eyes", "muzzle")
PART_REGION_GROW = 0.08
TARGETS = {"classifier_accuracy": 0.98, "conditioned_class_accuracy": 0.90, "diversity": 0.70,
           "part_translation": 0.80, "reconstruction_psnr": 30.0, "reconstruction_psnr_part": 26.0}


def _passed(name, value):
    target = TARGETS.get(name)
    return {"target": target, "passed": None if target is None else bool(value >= target)}


def classifier_accuracy(classifier, *, n=600, seed=0, size=None, batch_size=64):
    """Whole-image classifier accuracy on ``n`` held-out faces rendered at ``size`` (default: the
    classifier's resolution).

    Returns:
        ``{"value", "accuracy", "n", "per_class" (list of accuracies), "target", "passed"}``.
    """
    images, ids, _ = held_out_faces(n, size=size or classifier.resolution, n_classes=classifier.n_classes,
                                    seed=seed)
    pred = classifier.predict(images, batch_size=batch_size)
    return _accuracy_record("classifier_accuracy", pred, ids, classifier.n_classes)


def _accuracy_record(name, pred, ids, n_classes):
    correct = pred == ids
    acc = float(correct.mean()) if len(ids) else float("nan")
    per_class = [float(correct[ids == k].mean()) if (ids == k).any() else None for k in range(n_classes)]
    return {"value": acc, "accuracy": acc, "n": int(len(ids)), "per_class": per_class, **_passed(name, acc)}


def paste_part(sample, donor, part, *, dilate=0.015):
    """``sample.image`` with the pixels of ``part`` (the union of both faces' part masks, dilated by
    ``dilate`` times the image side) taken from ``donor``, the same face rendered as another class:
    ``(H, W, 3)`` uint8, a new array."""
    from neuralcollage.blending import dilate_mask
    size = sample.image.shape[0]
    region = dilate_mask(sample.masks[part] | donor.masks[part], radius=max(1, int(round(dilate * size))))
    out = sample.image.copy()
    out[region] = donor.image[region]
    return out


def part_classifier_accuracy(part_classifier, *, n=300, seed=0, size=64, margin=0.15, parts=PARTS):
    """Part classifier accuracy on held-out faces rendered at ``size``.

    * plain: the ``parts`` crops of ``n`` faces, each labelled with its face's class (empty masks skipped);
    * swapped: for face ``i``, part ``parts[i % len(parts)]`` pasted from the same face rendered as another
      class (:func:`paste_part`, donor class uniform among the others), the
      crop cut around the face's own part mask, labelled with the donor class: the ideal part translation,
      so this is the success rate a perfect edit would get in :func:`part_translation`.

    Returns:
        ``{"value" (plain accuracy), "accuracy", "n" (crops), "per_part" {part: accuracy}, "swap_accuracy",
        "swap_per_part", "n_swap"}``.
    """
    from neuralcollage.models.classifier import part_crops
    from neuralcollage.datasets import render_sample
    k = part_classifier.n_classes
    images, ids, masks = held_out_faces(n, size=size, n_classes=k, seed=seed)
    correct, per_part = [], {}
    for part in parts:
        keep = masks[part].any(axis=(1, 2))
        crops = part_crops(images[keep], masks[part][keep], size=part_classifier.resolution, margin=margin)
        ok = part_classifier.predict(crops) == ids[keep]
        per_part[part] = float(ok.mean()) if ok.size else None
        correct.append(ok)
    correct = numpy.concatenate(correct)
    acc = float(correct.mean()) if correct.size else float("nan")
    rng = numpy.random.RandomState(seed)
    swapped, swapped_masks, donors, swap_parts = [], [], [], []
    for i, s in enumerate(held_out_seeds(n, seed=seed)):
        part = parts[i % len(parts)]
        donor = int((ids[i] + 1 + rng.randint(k - 1)) % k)
        if not masks[part][i].any():
            continue
        sample = render_sample(s, class_id=int(ids[i]), size=size)
        swapped.append(paste_part(sample, render_sample(s, class_id=donor, size=size), part))
        swapped_masks.append(sample.masks[part])
        donors.append(donor)
        swap_parts.append(part)
    swap_ok = numpy.zeros(0, bool)
    if swapped:
        crops = part_crops(numpy.stack(swapped), numpy.stack(swapped_masks), size=part_classifier.resolution,
                           margin=margin)
        swap_ok = part_classifier.predict(crops) == numpy.array(donors)
    swap_parts = numpy.array(swap_parts)
    return {"value": acc, "accuracy": acc, "n": int(correct.size), "per_part": per_part,
            "swap_accuracy": float(swap_ok.mean()) if swap_ok.size else float("nan"),
            "swap_per_part": {p: float(swap_ok[swap_parts == p].mean()) if (swap_parts == p).any() else None
                              for p in parts},
            "n_swap": int(swap_ok.size)}


def generated_samples(generator, n, *, seed=0, batch_size=32):
    """``n`` test-mode samples, classes round-robin: ``(images (n, R, R, 3) uint8, ids (n,) int32)``.

    Latents are drawn from ``numpy.random.RandomState(2**31 + seed)``, a stream no training loop uses.
    """
    from neuralcollage.backend import random_state
    from neuralcollage.io import from_model
    rng = random_state(2 ** 31 + int(seed))
    ids = (numpy.arange(n) % generator.n_classes).astype(numpy.int32)
    z = rng.standard_normal((n, generator.dim_z)).astype(numpy.float32)
    out = []
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        for i in range(0, n, batch_size):
            x = generator(generator.device.send(z[i:i + batch_size]), generator.device.send(ids[i:i + batch_size]))
            out.append(from_model(chainer.backend.CpuDevice().send(x.array)))
    images = numpy.concatenate(out) if out else numpy.zeros((0, generator.resolution, generator.resolution, 3),
                                                               numpy.uint8)
    return images, ids


def conditioned_class_accuracy(generator, classifier, *, n=600, seed=0, batch_size=32):
    """Share of ``n`` generated samples (classes round-robin) that ``classifier`` assigns to the class they
    were conditioned on.

    Returns:
        ``{"value", "accuracy", "n", "per_class", "target", "passed"}``.
    """
    images, ids = generated_samples(generator, n, seed=seed, batch_size=batch_size)
    pred = classifier.predict(images)
    return _accuracy_record("conditioned_class_accuracy", pred, ids, generator.n_classes)


def mean_pairwise_distance(features):
    """Mean Euclidean distance over all pairs of rows of ``features`` ``(m, d)`` (``m >= 2``)."""
    f = numpy.asarray(features, numpy.float64)
    sq = (f * f).sum(axis=1)
    d2 = numpy.maximum(sq[:, None] + sq[None, :] - 2.0 * f @ f.T, 0.0)
    iu = numpy.triu_indices(len(f), k=1)
    return float(numpy.sqrt(d2[iu]).mean())


def diversity(generator, classifier, *, n_per_class=50, seed=0):
    """Within-class diversity: mean pairwise distance of ``classifier.features`` over ``n_per_class``
    generated samples of each class, and over as many held-out real faces of that class.

    Returns:
        ``{"value" (mean over classes of generated / real), "generated", "real" (means over classes),
        "per_class" [{"generated", "real", "ratio"}], "n_per_class", "target", "passed"}``.
    """
    if n_per_class < 2:
        raise ValueError(f"n_per_class must be >= 2, got {n_per_class}")
    k = generator.n_classes
    fake, fake_ids = generated_samples(generator, n_per_class * k, seed=seed)
    real, real_ids, _ = held_out_faces(n_per_class * k, size=generator.resolution, n_classes=k, seed=seed + 1)
    f_fake, f_real = classifier.embed(fake), classifier.embed(real)
    per_class = []
    for c in range(k):
        g = mean_pairwise_distance(f_fake[fake_ids == c])
        r = mean_pairwise_distance(f_real[real_ids == c])
        per_class.append({"generated": g, "real": r, "ratio": g / r if r > 0 else float("nan")})
    ratio = float(numpy.mean([p["ratio"] for p in per_class]))
    return {"value": ratio, "ratio": ratio, "generated": float(numpy.mean([p["generated"] for p in per_class])),
            "real": float(numpy.mean([p["real"] for p in per_class])), "per_class": per_class,
            "n_per_class": int(n_per_class), **_passed("diversity", ratio)}


def psnr(a, b):
    """PSNR in dB between uint8 images of the same shape (per image when 4-D: returns ``(N,)``)."""
    a, b = numpy.asarray(a, numpy.float64), numpy.asarray(b, numpy.float64)
    axes = tuple(range(1, a.ndim)) if a.ndim == 4 else None
    mse = numpy.mean((a - b) ** 2, axis=axes)
    return 10.0 * numpy.log10(255.0 ** 2 / numpy.maximum(mse, 1e-10))


def projection_psnr(generator, discriminator, encoder, *, n=20, steps=200, seed=0, lr=0.075, mse_weight=0.2):
    """PSNR of projections (:func:`neuralcollage.inversion.project`, ``steps`` Adam steps, one restart) of
    ``n`` held-out generated images, started from the encoder and from a random latent; also the PSNR of
    the encoder alone (``G(E(x, c), c)``, no optimisation). The class is the one the image was generated
    with.

    Returns:
        ``{"value" (encoder start), "psnr_encoder", "psnr_random", "psnr_encoder_only", "per_image": {...},
        "n", "steps", "seconds"}`` (PSNR in dB on uint8 images, means over images).
    """
    from neuralcollage.inversion import project
    from neuralcollage.io import from_model
    images, ids = generated_samples(generator, n, seed=seed + 1000)
    result = {"n": int(n), "steps": int(steps)}
    t0 = time.time()
    per_image = {}
    if encoder is not None:
        z = encoder.encode(images, ids)
        with chainer.using_config("train", False), chainer.no_backprop_mode():
            rec = generator(generator.device.send(z), generator.device.send(ids))
        per_image["encoder_only"] = psnr(from_model(chainer.backend.CpuDevice().send(rec.array)), images)
        per_image["encoder"] = psnr(from_model(project(generator, discriminator, images, ids, steps=steps, lr=lr,
                                                       mse_weight=mse_weight, encoder=encoder,
                                                       seed=seed).image), images)
    per_image["random"] = psnr(from_model(project(generator, discriminator, images, ids, steps=steps, lr=lr,
                                                  mse_weight=mse_weight, encoder=None, seed=seed).image), images)
    for key, values in per_image.items():
        result[f"psnr_{key}"] = float(numpy.mean(values))
    result["value"] = result.get("psnr_encoder", result["psnr_random"])
    result["per_image"] = {k: [float(v) for v in values] for k, values in per_image.items()}
    result["seconds"] = time.time() - t0
    return result


TranslationCase = collections.namedtuple("TranslationCase", "index part source target sample mask region")


def grow_pixels(grow, photo_size):
    """``grow`` (a fraction of the photo side in ``[0, 0.5)``) in pixels."""
    if not 0 <= grow < 0.5:
        raise ValueError(f"grow must be in [0, 0.5), got {grow}")
    return int(round(grow * photo_size))


def translation_cases(n, *, n_classes, seed=0, photo_size=128, grow=PART_REGION_GROW, parts=PARTS, into=None,
                      exclude=()):
    """The held-out edits of :func:`part_translation`, one :class:`TranslationCase` per face.

    Face ``i`` is rendered as class ``source = i % n_classes`` (``photo_size`` px); its part
    ``parts[i % len(parts)]`` is to become ``target``, drawn uniformly among the other classes
    (``RandomState(seed)``).  With ``into`` (a class id), every target is ``into`` and the sources go round the
    other classes (``source = others[i % (n_classes - 1)]``; e.g. translation into a class added by a pack).
    ``mask``: the part's ``(H, W)`` bool mask; ``region``: the mask grown by :func:`grow_pixels` (a disc), or
    None when the part is not visible.  ``exclude``: class ids that are never a source (with ``into``), e.g.
    the close-up variants of class packs (``bundle.closeup_classes``), which draw no species of their own.
    """
    from neuralcollage.backend import random_state
    from neuralcollage.blending import dilate_mask
    from neuralcollage.datasets import render_sample
    grow_px = grow_pixels(grow, photo_size)
    rng = random_state(seed)
    others = None if into is None else [c for c in range(n_classes) if c != int(into) and c not in set(exclude)]
    if others is not None and (not others or int(into) not in range(n_classes)):
        raise ValueError(f"into must be one of {n_classes} classes (and not the only one), got {into}")
    for i, s in enumerate(held_out_seeds(n, seed=seed + 2)):
        if others is None:
            source = i % n_classes
            target = int((source + 1 + rng.randint(n_classes - 1)) % n_classes)
        else:
            source, target = others[i % len(others)], int(into)
        part = parts[i % len(parts)]
        sample = render_sample(s, class_id=source, size=photo_size)
        mask = sample.masks[part]
        region = dilate_mask(mask, radius=grow_px) if mask.any() else None
        yield TranslationCase(i, part, source, target, sample, mask, region)


def part_translation(bundle, *, n=100, seed=0, photo_size=128, steps=None, restarts=1, parts=PARTS,
                     layers="all", blend_options=None, margin=0.15, grow=PART_REGION_GROW, context=None,
                     progress=None, edit=None, into=None, part_classifier=None, classifier_ids=None,
                     blend_mode=UNSET, dilate=UNSET, seam=UNSET, colour_reach=UNSET):
    """Part translation success on ``n`` held-out rendered faces (``photo_size`` px "photos").

    Face ``i`` (class ``i % K``) gets part ``parts[i % len(parts)]`` translated to a target class drawn
    uniformly among the other classes (``RandomState(seed)``) with
    :func:`neuralcollage.collage.edit_photo` (``method="scbn"``, the true source class, projection of the
    crop with ``steps`` Adam steps from the encoder (None: the edit's default, e.g. 50 before the default
    features fit), the edit's reconstruction, Poisson blending).  The edited region is the part's
    mask grown by ``round(grow * photo_size)`` px (a disc; ``grow=0``: the exact mask), the loose region a
    user paints around a part: the target class's part has another shape (a rabbit's ears are long, a cat's
    pointed) and a 64 px generator needs a few pixels of room to draw it.  Success: the part classifier, on
    the part's crop of the edited photo (:func:`~neuralcollage.models.classifier.part_crops` of the
    original, ungrown mask), names the target class.  Preservation: every pixel outside the edited region
    dilated by ``blend_options.dilate`` px equals the input photo.  ``context`` is passed to ``edit`` (how far
    the target class reaches beyond the region inside the generator; None: the edit function's default,
    :attr:`neuralcollage.options.EditOptions.context`); ``blend_options`` (a
    :class:`neuralcollage.options.BlendOptions`, None: its defaults) is passed to ``edit`` as it is;
    ``blend_mode``, ``dilate``, ``seam`` and ``colour_reach`` are shorthands for its fields (as for
    :func:`neuralcollage.collage.edit_photo`: ``colour_reach`` None or ``math.inf`` is classic Poisson).

    Args:
        bundle: an object with ``generator``, ``discriminator``, ``encoder`` (or None) and
            ``part_classifier`` (e.g. :class:`neuralcollage.pretrained.ModelBundle`).
        progress: optional ``progress(i, n)`` callback after each face (edited or skipped).
        edit: the edit function, default :func:`neuralcollage.collage.edit_photo` (same signature, with
            ``blend_options``; its result needs an ``image`` field).
        into: translate every part into this class (see :func:`translation_cases`; None: random targets).
        part_classifier: the judge of the edited parts (None: ``bundle.part_classifier``).
        classifier_ids: the part classifier's class id of each generator class (None: the same ids), e.g.
            for a judge over more species than the model has classes.

    Returns:
        ``{"value", "success_rate", "unchanged_outside_mask" (share of faces whose outside pixels are all
        unchanged), "max_changed_outside" (largest count of changed outside pixels), "per_part",
        "source_accuracy" (part classifier on the unedited part), "n" (faces edited), "n_empty_masks" (faces
        skipped: the part is not visible), "grow_px", "context" (None: unknown), "blend_mode", "seam",
        "colour_reach" (None: classic Poisson or another blend mode), "target",
        "passed",
        "seconds"}``.
    """
    from neuralcollage.blending import dilate_mask
    from neuralcollage.models.classifier import part_crops
    if edit is None:
        from neuralcollage.collage import edit_photo as edit
    gen = bundle.generator
    clf = bundle.part_classifier if part_classifier is None else part_classifier
    judged = (lambda c: c) if classifier_ids is None else (lambda c: int(classifier_ids[c]))
    if clf is None:
        raise ValueError("part translation needs a part classifier in the bundle")
    blend = BlendOptions.build(blend_options, blend_mode=blend_mode, dilate=dilate, seam=seam,
                               colour_reach=colour_reach)
    options = {} if context is None else {"context": context}
    t0 = time.time()
    rows = []
    variants = tuple((getattr(bundle, "closeup_classes", None) or {}).values())
    for case in translation_cases(n, n_classes=gen.n_classes, seed=seed, photo_size=photo_size, grow=grow,
                                  parts=parts, into=into, exclude=variants):
        i, part, source, target, sample, mask, region = case
        if region is None:
            rows.append({"part": part, "skipped": True})
            if progress is not None:
                progress(i + 1, n)
            continue
        edited = edit(bundle, sample.image, region.astype(numpy.float32), target, source_label=source,
                      layers=layers, method="scbn", steps=steps, restarts=restarts, seed=seed + i,
                      blend_options=blend, **options).image
        crops = part_crops(numpy.stack([sample.image, edited]), numpy.stack([mask, mask]),
                           size=clf.resolution, margin=margin)
        before, after = (int(v) for v in clf.predict(crops))
        outside = ~dilate_mask(region, radius=blend.dilate)
        changed = int((edited != sample.image).any(axis=2)[outside].sum())
        rows.append({"part": part, "source": source, "target": target, "predicted": after,
                     "predicted_before": before, "success": after == judged(target),
                     "source_ok": before == judged(source), "changed_outside": changed})
        if progress is not None:
            progress(i + 1, n)
    done = [r for r in rows if not r.get("skipped")]
    rate = float(numpy.mean([r["success"] for r in done])) if done else float("nan")
    per_part = {}
    for part in parts:
        sel = [r["success"] for r in done if r["part"] == part]
        per_part[part] = float(numpy.mean(sel)) if sel else None
    return {"value": rate, "success_rate": rate,
            "unchanged_outside_mask": float(numpy.mean([r["changed_outside"] == 0 for r in done])) if done
            else float("nan"),
            "max_changed_outside": max([r["changed_outside"] for r in done], default=0),
            "source_accuracy": float(numpy.mean([r["source_ok"] for r in done])) if done
            else float("nan"),
            "per_part": per_part, "predicted_counts": _counts(r["predicted"] for r in done),
            "n": len(done), "n_empty_masks": len(rows) - len(done), "photo_size": photo_size,
            "grow_px": grow_pixels(grow, photo_size),
            "context": _edit_context(edit) if context is None else context,
            "blend_mode": blend.blend_mode, "seam": blend.seam,
            "colour_reach": None if blend.classic else blend.colour_reach,
            "reconstruction": _default_of(edit, "reconstruction"),
            "steps": _edit_steps(edit, steps), "dilate": blend.dilate, "into": into, "seconds": time.time() - t0,
            **_passed("part_translation", rate)}


def _counts(values):
    """``{str(value): count}`` in value order (JSON keys)."""
    return {str(k): v for k, v in sorted(collections.Counter(values).items())}


def _edit_context(edit):
    """The context an edit function uses by default (None: unknown)."""
    context = _default_of(edit, "context")
    return EditOptions().context if context is UNSET else context


def _edit_steps(edit, steps):
    """The projection steps an edit function runs with ``steps`` (None: its reconstruction's default)."""
    from neuralcollage.reconstruction import PROJECTION_STEPS, projection_steps
    reconstruction = _default_of(edit, "reconstruction")
    return steps if reconstruction not in PROJECTION_STEPS else projection_steps(reconstruction, steps)


def _default_of(function, name):
    """The default value of ``function``'s keyword ``name`` (None when it has none)."""
    import inspect
    parameter = inspect.signature(function).parameters.get(name)
    return None if parameter is None or parameter.default is inspect.Parameter.empty else parameter.default


def reconstruction_crops(n, *, resolution, n_classes, seed=0, photo_size=128, margin=0.25,
                         grow=PART_REGION_GROW, parts=PARTS):
    """The held-out photos of :func:`reconstruction_psnr`, at the generator's resolution.

    Returns:
        ``{"whole_face": (images (n, R, R, 3) uint8, ids (n,)), "part_closeup": (images (m, R, R, 3) uint8,
        ids (m,))}``: ``n`` whole faces (:func:`held_out_faces`, ``seed``) and the crops an edit of
        :func:`part_translation`'s faces takes (the part's region grown by ``grow``, its square crop box with
        ``margin`` as :func:`neuralcollage.collage.edit_photo` makes it, resized to ``R``; ``m <= n``: parts
        that are not visible are left out).
    """
    from neuralcollage.blending import crop_and_resize, square_crop_box
    faces, ids, _ = held_out_faces(n, size=resolution, n_classes=n_classes, seed=seed)
    crops, crop_ids = [], []
    for case in translation_cases(n, n_classes=n_classes, seed=seed, photo_size=photo_size, grow=grow,
                                  parts=parts):
        if case.region is None:
            continue
        box = square_crop_box(case.region.astype(numpy.float32), image_size=(photo_size, photo_size),
                              margin=margin, min_size=resolution)
        crops.append(crop_and_resize(case.sample.image, box, resolution))
        crop_ids.append(case.source)
    return {"whole_face": (faces, numpy.asarray(ids, numpy.int32)),
            "part_closeup": (numpy.stack(crops) if crops else numpy.zeros((0, resolution, resolution, 3),
                                                                          numpy.uint8),
                             numpy.asarray(crop_ids, numpy.int32))}


def reconstruction_psnr(bundle, *, n=12, seed=0, steps=None, fit=None, photo_size=128, kinds=None,
                        progress=None):
    """PSNR of the photo pipeline's reconstructions of held-out rendered photos, before any edit.

    Each photo (:func:`reconstruction_crops`: whole faces and part close-ups, their true class) is projected
    (:func:`neuralcollage.project`, ``steps`` Adam steps from the encoder when the bundle has one) and then
    fitted (:func:`neuralcollage.reconstruction.fit_generator` with ``fit``); both reconstructions are compared
    with the photo as uint8 images.

    Args:
        bundle: ``generator``, ``discriminator`` and optional ``encoder``.
        n: held-out faces per kind. seed: which faces (and the fit's noise seed unless ``fit`` sets one).
        steps: projection steps (None: the fit's default, :data:`neuralcollage.reconstruction.PROJECTION_STEPS`).
        fit: :class:`~neuralcollage.reconstruction.FitOptions` (None: the default reconstruction's).
        kinds: ``("whole_face", "part_closeup")`` or a subset.
        progress: ``progress(i, total)`` after each photo.

    Returns:
        ``{"value" (whole faces, fitted), "whole_face": {"projection", "fitted", "per_image": {...}, "n",
        "seconds_per_photo"}, "part_closeup": {...}, "fit" (the options), "target", "passed",
        "target_part", "passed_part"}`` (dB, means over photos).
    """
    from neuralcollage.inversion import project
    from neuralcollage.reconstruction import FitOptions, fit_generator, model_psnr, projection_steps
    from neuralcollage.io import to_model
    gen, dis, enc = bundle.generator, bundle.discriminator, getattr(bundle, "encoder", None)
    fit = FitOptions() if fit is None else fit
    steps = projection_steps(fit.method, steps)
    kinds = ("whole_face", "part_closeup") if kinds is None else tuple(kinds)
    data = reconstruction_crops(n, resolution=gen.resolution, n_classes=gen.n_classes, seed=seed,
                                photo_size=photo_size)
    unknown = sorted(set(kinds) - set(data))
    if unknown:
        raise ValueError(f"unknown reconstruction kinds {unknown}; choose from {sorted(data)}")
    total, done = sum(len(data[k][0]) for k in kinds), 0
    result = {"fit": fit.to_json(), "steps": int(steps)}
    for kind in kinds:
        images, ids = data[kind]
        rows = {"projection": [], "fitted": []}
        t0 = time.time()
        for image, label in zip(images, ids):
            proj = project(gen, dis, image, int(label), steps=steps, encoder=enc, seed=seed)
            rows["projection"].append(model_psnr(proj.image, to_model(image[None])))
            rows["fitted"].append(fit_generator(gen, image, proj.z, int(label), options=fit).psnr)
            done += 1
            if progress is not None:
                progress(done, total)
        count = len(images)
        result[kind] = {"projection": float(numpy.mean(rows["projection"])) if count else float("nan"),
                        "fitted": float(numpy.mean(rows["fitted"])) if count else float("nan"),
                        "per_image": {k: [round(float(v), 3) for v in vals] for k, vals in rows.items()},
                        "n": count, "seconds_per_photo": (time.time() - t0) / max(count, 1)}
    whole = result.get("whole_face", {}).get("fitted", float("nan"))
    part = result.get("part_closeup", {}).get("fitted", float("nan"))
    result.update(value=whole, n=n, **_passed("reconstruction_psnr", whole))
    result.update(target_part=TARGETS["reconstruction_psnr_part"],
                  passed_part=bool(part >= TARGETS["reconstruction_psnr_part"]))
    return result


METRICS = ("classifier_accuracy", "part_classifier_accuracy", "conditioned_class_accuracy", "diversity",
           "projection_psnr", "part_translation", "reconstruction_psnr")


def evaluate(bundle, *, metrics=METRICS, n_classifier=600, n_generated=600, n_diversity=50, n_projection=20,
             n_translation=100, steps=None, photo_size=128, grow=PART_REGION_GROW, context=None,
             blend_options=None, seed=0, log=None, progress=None, n_reconstruction=12, blend_mode=UNSET,
             dilate=UNSET, seam=UNSET, colour_reach=UNSET):
    """Run ``metrics`` on ``bundle`` (fields ``generator``, ``discriminator``, ``encoder``, ``classifier``,
    ``part_classifier``; a missing model skips the metrics that need it, recorded as
    ``{"skipped": reason}``). ``grow``, ``context`` and ``blend_options`` (with its shorthands ``blend_mode``,
    ``dilate``, ``seam`` and ``colour_reach``) go to :func:`part_translation`.
    ``log(name, record)`` is called after each metric; ``progress(name, i, n)`` after each of the ``n`` faces
    of part translation (the one slow metric: minutes on a CPU).

    Returns:
        ``{metric name: record}`` (see the metric functions).
    """
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {list(METRICS)}")
    blend = BlendOptions.build(blend_options, blend_mode=blend_mode, dilate=dilate, seam=seam,
                               colour_reach=colour_reach)
    gen, dis = bundle.generator, getattr(bundle, "discriminator", None)
    faces = None if progress is None else functools.partial(progress, "part_translation")
    fits = None if progress is None else functools.partial(progress, "reconstruction_psnr")
    enc, clf, part = (getattr(bundle, a, None) for a in ("encoder", "classifier", "part_classifier"))
    plan = {
        "classifier_accuracy": ((clf,), lambda: classifier_accuracy(clf, n=n_classifier, seed=seed)),
        "part_classifier_accuracy": ((part,), lambda: part_classifier_accuracy(part, n=n_classifier // 2,
                                                                               seed=seed)),
        "conditioned_class_accuracy": ((gen, clf), lambda: conditioned_class_accuracy(gen, clf, n=n_generated,
                                                                                      seed=seed)),
        "diversity": ((gen, clf), lambda: diversity(gen, clf, n_per_class=n_diversity, seed=seed)),
        "projection_psnr": ((gen, dis), lambda: projection_psnr(gen, dis, enc, n=n_projection,
                                                                steps=200 if steps is None else steps,
                                                                seed=seed)),
        "part_translation": ((gen, dis, part), lambda: part_translation(bundle, n=n_translation, seed=seed,
                                                                        steps=steps, photo_size=photo_size,
                                                                        grow=grow, context=context,
                                                                        blend_options=blend, progress=faces)),
        "reconstruction_psnr": ((gen, dis), lambda: reconstruction_psnr(bundle, n=n_reconstruction, seed=seed,
                                                                        steps=steps, photo_size=photo_size,
                                                                        progress=fits)),
    }
    results = {}
    for name in metrics:
        needs, run = plan[name]
        if any(m is None for m in needs):
            results[name] = {"skipped": "a model it needs is missing from the bundle"}
        else:
            t0 = time.time()
            results[name] = run()
            results[name].setdefault("seconds", time.time() - t0)
        if log is not None:
            log(name, results[name])
    return results


_HOW = {
    "classifier_accuracy": "whole-image classifier on held-out rendered faces",
    "part_classifier_accuracy": "part classifier on held-out ears/eyes/muzzle crops",
    "conditioned_class_accuracy": "generated samples classified as their conditioned class",
    "diversity": "within-class feature distance, generated / real",
    "projection_psnr": "projection PSNR dB of held-out generated images (encoder start; random start)",
    "part_translation": "part translated to target class (part classifier)",
    "reconstruction_psnr": "PSNR dB of held-out rendered photos fitted before editing (whole faces; close-ups)",
    "few_shot": "class packs of unseen species: least share judged as the species (neuralcollage.analysis.few_shot)",
}


def format_table(results):
    """A plain-text table: metric, value, target, pass/fail, n, how it is measured."""
    rows = [("metric", "value", "target", "ok", "n", "measured as")]
    for name, r in results.items():
        if "skipped" in r:
            rows.append((name, "-", "-", "skip", "-", r["skipped"]))
            continue
        value = r["value"]
        if name == "reconstruction_psnr":
            shown = f"{r['whole_face']['fitted']:.2f}; {r['part_closeup']['fitted']:.2f}" if (
                "whole_face" in r and "part_closeup" in r) else f"{value:.2f}"
        elif name == "projection_psnr":
            shown = (f"{r['psnr_encoder']:.2f}; {r['psnr_random']:.2f}" if "psnr_encoder" in r
                     else f"-; {r['psnr_random']:.2f}")
        else:
            shown = f"{value:.3f}" if isinstance(value, float) and not math.isnan(value) else str(value)
        target = r.get("target")
        ok = "-" if r.get("passed") is None else ("yes" if r["passed"] else "NO")
        n = r.get("n", r.get("n_per_class", "-"))
        how = _HOW.get(name, "")
        if name == "part_classifier_accuracy" and "swap_accuracy" in r:
            how += f"; part pasted from another class: {r['swap_accuracy']:.1%}"
        if name == "part_translation":
            how += f"; outside-mask unchanged in {r['unchanged_outside_mask']:.0%}"
        if name == "reconstruction_psnr" and "whole_face" in r:
            how += f"; projection alone {r['whole_face']['projection']:.2f}"
        rows.append((name, shown, "-" if target is None else f">= {target:g}", ok, str(n), how))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)

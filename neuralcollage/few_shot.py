"""Evaluation of few-shot class addition (:mod:`neuralcollage.classes`) with species the model never saw.

The renderer draws two species the built-in model was not trained on
(:data:`neuralcollage.train.datasets.NEW_SPECIES`: koala, tiger).  A pack is trained on ``n`` renders of one
of them from a seed range reserved for it (:func:`training_images`), and judged by an independent classifier
trained on renders of all eight species (the judge; evaluation only, never used in training):

* ``judged``: the share of generated samples of the new class that the judge assigns to the new species;
* ``judged_as``: the judge's distribution over all species for those samples;
* ``diversity``: mean pairwise distance of the judge's features over generated samples of the new class,
  divided by the same over held-out real renders of the species (the measure of
  :func:`neuralcollage.evaluation.diversity`);
* ``old_classes_identical``: whether the old classes' samples are bit-identical with the pack loaded.
"""
from neuralcollage import _compat  # noqa: F401

import time

import numpy

__all__ = ["FEW_SHOT_BASE", "JUDGE_SHA256", "judge_path", "load_judge", "training_images", "held_out_species", "evaluate_pack", "format_table"]

#: First render seed of few-shot training images: ``FEW_SHOT_BASE + species * 10**6 + seed * 10**4 + i``
#: (no GAN, classifier or held-out seed is in this range).
FEW_SHOT_BASE = 3 * 10 ** 14


#: sha256 of the shipped judge, ``neuralcollage/data/pretrained/few_shot/judge8.npz`` (see its README there).
JUDGE_SHA256 = "176f1fb91f654e28d3313e81ad98c9e14fa4d28183efedd985407a60619fa15c"


def judge_path():
    """Where the shipped judge lives: ``<pretrained>/few_shot/judge8.npz``."""
    import os
    from neuralcollage.pretrained import pretrained_dir
    return os.path.join(pretrained_dir(), "few_shot", "judge8.npz")


def load_judge(path=None, *, device=None):
    """The judge (a :class:`~neuralcollage.models.classifier.Classifier` over all eight species); the shipped
    file is verified against :data:`JUDGE_SHA256`.

    Raises:
        neuralcollage.snapshot.SnapshotError: missing, damaged or not a classifier.
    """
    from neuralcollage.loading import load_model
    from neuralcollage.pretrained import ChecksumError, file_sha256
    from neuralcollage.snapshot import SnapshotError
    from neuralcollage.train.datasets import SPECIES
    import os
    shipped = path is None
    path = judge_path() if shipped else path
    if not os.path.isfile(path):
        raise SnapshotError(f"few-shot judge {path} does not exist")
    if shipped and file_sha256(path) != JUDGE_SHA256:
        raise ChecksumError(f"few-shot judge {path} does not have sha256 {JUDGE_SHA256[:16]}...; restore it")
    judge = load_model(path, kind="classifier", device=device)
    if judge.n_classes != len(SPECIES):
        raise SnapshotError(f"{path} has {judge.n_classes} classes; the judge needs {len(SPECIES)} (all species)")
    return judge


def training_images(species, n, *, seed=0, size=64):
    """``n`` renders of ``species`` (name or id in :data:`~neuralcollage.train.datasets.SPECIES`) for
    training a pack: ``(n, size, size, 3)`` uint8."""
    from neuralcollage.train.datasets import SPECIES, render_sample
    sid = SPECIES.index(species) if isinstance(species, str) else int(species)
    return numpy.stack([render_sample(FEW_SHOT_BASE + sid * 10 ** 6 + int(seed) * 10 ** 4 + i, class_id=sid,
                                      size=size).image for i in range(int(n))])


def held_out_species(species, n, *, size=64, seed=0):
    """``n`` held-out renders of one species (:func:`neuralcollage.evaluation.held_out_seeds`)."""
    from neuralcollage.evaluation import held_out_seeds
    from neuralcollage.train.datasets import SPECIES, render_sample
    sid = SPECIES.index(species) if isinstance(species, str) else int(species)
    return numpy.stack([render_sample(s, class_id=sid, size=size).image
                        for s in held_out_seeds(n, seed=seed)])


def _samples(gen, class_id, n, *, seed, batch_size=50):
    import chainer
    from neuralcollage.backend import random_state, to_numpy
    from neuralcollage.io import from_model
    rng = random_state(2 ** 31 + int(seed))
    z = rng.standard_normal((n, gen.dim_z)).astype(numpy.float32)
    out = []
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        for i in range(0, n, batch_size):
            x = gen.forward(gen.device.send(z[i:i + batch_size]), int(class_id))
            out.append(from_model(to_numpy(x.array)))
    return numpy.concatenate(out)


def evaluate_pack(bundle, pack, judge, species, *, n=600, n_diversity=50, seed=0, check_old=True):
    """Score ``pack`` (trained on renders of ``species``) on the base model ``bundle`` with ``judge``.

    Returns:
        dict with ``judged``, ``judged_as`` (species name -> share), ``diversity``, ``generated_spread``,
        ``real_spread``, ``old_classes_identical`` (None unless ``check_old``), ``n``, ``seconds``.
    """
    from neuralcollage.classes import apply_packs, copy_bundle
    from neuralcollage.evaluation import mean_pairwise_distance
    from neuralcollage.train.datasets import SPECIES
    started = time.perf_counter()
    sid = SPECIES.index(species) if isinstance(species, str) else int(species)
    extended = apply_packs(copy_bundle(bundle), [pack])
    new = extended.generator.n_classes - 1
    fake = _samples(extended.generator, new, n, seed=seed)
    pred = judge.predict(fake)
    counts = numpy.bincount(pred, minlength=judge.n_classes)
    judged_as = {SPECIES[i]: round(float(c) / n, 4) for i, c in enumerate(counts) if c}
    real = held_out_species(sid, n_diversity, size=extended.generator.resolution, seed=seed + 1)
    g = mean_pairwise_distance(judge.embed(fake[:n_diversity]))
    r = mean_pairwise_distance(judge.embed(real))
    identical = None
    if check_old:
        k = bundle.generator.n_classes
        identical = all(bool(numpy.array_equal(_samples(bundle.generator, c, 8, seed=seed),
                                               _samples(extended.generator, c, 8, seed=seed))) for c in range(k))
    return {"judged": float((pred == sid).mean()), "judged_as": judged_as, "diversity": g / r,
            "generated_spread": g, "real_spread": r, "old_classes_identical": identical, "n": int(n),
            "seconds": round(time.perf_counter() - started, 2)}


def format_table(rows):
    """Markdown table of ``rows`` (dicts with ``species``, ``method``, ``n_images``, ``steps``, ``judged``,
    ``diversity``, ``train_seconds``, ``nearest``)."""
    lines = ["| species | method | images | steps | judged as the species | diversity vs real | "
             "train time | started from |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['species']} | {r['method']} | {r['n_images']} | {r['steps']} | "
                     f"{100 * r['judged']:.1f}% | {r['diversity']:.2f} | {r['train_seconds']:.0f} s | "
                     f"{r['nearest']} |")
    return "\n".join(lines)

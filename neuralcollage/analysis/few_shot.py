"""Evaluation of few-shot class addition (:mod:`neuralcollage.classes`) with species the model never saw.

The renderer draws two species the built-in model was not trained on
(:data:`neuralcollage.datasets.NEW_SPECIES`: koala, tiger).  A pack is trained on ``n`` renders of one
of them from a seed range reserved for it (:func:`training_images`), and judged by an independent classifier
trained on renders of all eight species (the judge; evaluation only, never used in training):

* ``judged``: the share of generated samples of the new class that the judge assigns to the new species;
* ``judged_as``: the judge's distribution over all species for those samples;
* ``diversity``: mean pairwise distance of the judge's features over generated samples of the new class,
  divided by the same over held-out real renders of the species (the measure of
  :func:`neuralcollage.analysis.evaluation.diversity`);
* ``old_classes_identical``: whether the old classes' samples are bit-identical with the pack loaded.
"""
from neuralcollage import _compat  # noqa: F401

import time

import numpy

__all__ = ["FEW_SHOT_BASE", "JUDGE_SHA256", "PART_JUDGE_SHA256", "TARGETS", "judge_path", "load_judge",
           "load_part_judge", "training_images", "held_out_species", "evaluate_pack", "evaluate_few_shot",
           "part_translation_into", "format_table", "format_few_shot"]

#: First render seed of few-shot training images: ``FEW_SHOT_BASE + species * 10**6 + seed * 10**4 + i``
#: (no GAN, classifier or held-out seed is in this range).
FEW_SHOT_BASE = 3 * 10 ** 14


#: Issue 24's targets on the built-in model: image count -> least judged share; diversity at 10 images.
TARGETS = {"judged": {10: 0.90, 5: 0.75}, "diversity": {10: 0.6}}
#: What :func:`evaluate_few_shot` measures by default.
DEFAULT_SPECIES = ("koala", "tiger")
DEFAULT_COUNTS = (5, 10, 25)


#: sha256 of the shipped judge, ``neuralcollage/data/pretrained/few_shot/judge8.npz`` (see its README there).
JUDGE_SHA256 = "176f1fb91f654e28d3313e81ad98c9e14fa4d28183efedd985407a60619fa15c"


#: sha256 of the shipped part judge, ``neuralcollage/data/pretrained/few_shot/part_judge8.npz``.
PART_JUDGE_SHA256 = "2592de95d6be8af1a320b0cdd010e1d8d01ef2a548a98c4908c8bb9d75d47e91"


def judge_path(kind="classifier"):
    """Where a shipped judge lives: ``<pretrained>/few_shot/judge8.npz`` (``kind="classifier"``) or
    ``part_judge8.npz`` (``kind="part_classifier"``)."""
    import os
    from neuralcollage.pretrained import pretrained_dir
    return os.path.join(pretrained_dir(), "few_shot", "judge8.npz" if kind == "classifier" else "part_judge8.npz")


def _load_judge(path, kind, sha256, device):
    from neuralcollage.loading import load_model
    from neuralcollage.pretrained import ChecksumError, file_sha256
    from neuralcollage.snapshot import SnapshotError
    from neuralcollage.datasets import SPECIES
    import os
    shipped = path is None
    path = judge_path(kind) if shipped else path
    if not os.path.isfile(path):
        raise SnapshotError(f"few-shot judge {path} does not exist")
    if shipped and file_sha256(path) != sha256:
        raise ChecksumError(f"few-shot judge {path} does not have sha256 {sha256[:16]}...; restore it")
    judge = load_model(path, kind=kind, device=device)
    if judge.n_classes != len(SPECIES):
        raise SnapshotError(f"{path} has {judge.n_classes} classes; the judge needs {len(SPECIES)} (all species)")
    return judge


def load_judge(path=None, *, device=None):
    """The judge (a :class:`~neuralcollage.models.classifier.Classifier` over all eight species); the shipped
    file is verified against :data:`JUDGE_SHA256`.

    Raises:
        neuralcollage.snapshot.SnapshotError: missing, damaged or not a classifier.
    """
    return _load_judge(path, "classifier", JUDGE_SHA256, device)


def load_part_judge(path=None, *, device=None):
    """The part judge (a :class:`~neuralcollage.models.classifier.PartClassifier` of ears, eyes and muzzle
    crops over all eight species, evaluation only); the shipped file is verified against
    :data:`PART_JUDGE_SHA256`."""
    return _load_judge(path, "part_classifier", PART_JUDGE_SHA256, device)


def training_images(species, n, *, seed=0, size=64):
    """``n`` renders of ``species`` (name or id in :data:`~neuralcollage.datasets.SPECIES`) for
    training a pack: ``(n, size, size, 3)`` uint8."""
    from neuralcollage.datasets import SPECIES, render_sample
    sid = SPECIES.index(species) if isinstance(species, str) else int(species)
    return numpy.stack([render_sample(FEW_SHOT_BASE + sid * 10 ** 6 + int(seed) * 10 ** 4 + i, class_id=sid,
                                      size=size).image for i in range(int(n))])


def held_out_species(species, n, *, size=64, seed=0):
    """``n`` held-out renders of one species (:func:`neuralcollage.datasets.held_out_seeds`)."""
    from neuralcollage.datasets import held_out_seeds
    from neuralcollage.datasets import SPECIES, render_sample
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
    from neuralcollage.analysis.evaluation import mean_pairwise_distance
    from neuralcollage.datasets import SPECIES
    started = time.perf_counter()
    sid = SPECIES.index(species) if isinstance(species, str) else int(species)
    extended = apply_packs(copy_bundle(bundle), [pack])
    new = extended.vocabulary.index(extended.class_packs[-1].name)
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


def _species_id(species, bundle):
    from neuralcollage.io import InputError
    from neuralcollage.datasets import SPECIES
    name = SPECIES[int(species)] if not isinstance(species, str) and 0 <= int(species) < len(SPECIES) else species
    if name not in SPECIES:
        raise InputError(f"unknown species {species!r}; the renderer draws {', '.join(SPECIES)}")
    if name in bundle.vocabulary.names:
        raise InputError(f"{name} is already a class of {bundle.name}; few-shot evaluation needs a species the "
                         f"model never saw (e.g. {', '.join(s for s in SPECIES if s not in bundle.vocabulary.names)})")
    return SPECIES.index(name), name


def _old_class_ids(bundle, judge_classes):
    """The judge's class id of each old class of ``bundle`` (the model's classes must be species the judge
    knows, as the built-in model's are)."""
    from neuralcollage.io import InputError
    from neuralcollage.datasets import SPECIES
    names = list(bundle.vocabulary.names)[:bundle.generator.n_classes]
    unknown = [n for n in names if n not in SPECIES[:judge_classes]]
    if unknown:
        raise InputError(f"few-shot evaluation needs a model whose classes the judge knows ({', '.join(SPECIES)}, "
                         f"e.g. builtin); {bundle.name} has {', '.join(map(str, unknown[:3]))}")
    return [SPECIES.index(n) for n in names]


def _old_class_check(base_gen, gen, judge_ids, judge, *, n, seed):
    """Judged accuracy of ``n`` samples per old class on ``gen`` and whether they equal ``base_gen``'s."""
    hits, identical = [], True
    for c, sid in enumerate(judge_ids):
        fake = _samples(gen, c, n, seed=seed)
        if base_gen is not None:
            identical = identical and bool(numpy.array_equal(fake, _samples(base_gen, c, n, seed=seed)))
        hits.append(judge.predict(fake) == sid)
    return float(numpy.concatenate(hits).mean()), identical


def _pack_file(pack_dir, name, count, start, steps, seed, options=None):
    """The pack's file in ``pack_dir``; ``options`` (:func:`~neuralcollage.collage.add_class` keywords other than
    its defaults) add a tag, e.g. ``_method-branch_closeups-2``."""
    import os
    from neuralcollage.collage.new_class import DEFAULTS
    tag = "".join(f"_{k.replace('_', '')}-{v}" for k, v in sorted((options or {}).items()) if DEFAULTS.get(k) != v)
    return os.path.join(pack_dir, f"{name}_{count}_{start}_steps{steps}_s{seed}{tag}.npz")


def _checked(bundle, pack, images, *, seed, path):
    """``(pack, verdict)``: ``pack`` after its close-up check (without the variant when it lost) and the check's
    record, computed once and kept in the pack file at ``path`` (None: not saved)."""
    from neuralcollage.collage.closeup_check import CHECK_EDITS, PROBE_SETTINGS, closeup_variant_check
    done = pack.record.get("closeup_check")
    wanted = (CHECK_EDITS, int(seed), PROBE_SETTINGS)
    if done is None or (done.get("n"), done.get("seed"), done.get("probe")) != wanted:
        done = closeup_variant_check(bundle, pack, list(images), n=CHECK_EDITS, seed=seed).record()
        pack.record["closeup_check"] = done
        if path is not None:
            pack.save(path)
    return (pack if done["keep"] else pack.without_closeup()), done


def _reusable(path, images, bundle, steps, seed, options):
    """The pack at ``path`` when it was trained on ``images`` with ``steps``, ``seed`` and the
    :func:`~neuralcollage.classes.train_class` ``options`` for ``bundle``'s generator, else None."""
    import hashlib
    import os
    from neuralcollage.classes import DEFAULTS, base_record, load_pack, prepare_images
    if not os.path.isfile(path):
        return None
    pack = load_pack(path)
    rec = pack.record
    crops = prepare_images(images, bundle.generator.resolution)
    wanted = {**{k: DEFAULTS[k] for k in _TRAINING_KEYS if k in rec}, **options}
    same = (rec.get("images_sha256") == [hashlib.sha256(c.tobytes()).hexdigest() for c in crops]
            and rec.get("steps") == int(steps) and rec.get("seed") == int(seed)
            and all(_same(rec.get(k, DEFAULTS.get(k)), v) for k, v in wanted.items())
            and rec.get("closeup_variant", 0) == options.get("closeup_variant", DEFAULTS["closeup_variant"])
            and (pack.closeup is None or pack.closeup["record"].get("method")
                 == options.get("closeup_method", DEFAULTS["closeup_method"]))
            and pack.base.get("generator_sha256") == base_record(bundle)["generator_sha256"])
    return pack if same else None


#: Training options a pack records that decide its rows: a pack trained with another value (e.g. before a
#: default changed) is not reused.
_TRAINING_KEYS = ("method", "batch_size", "lr_rows", "lr_z", "lr_head", "adversarial", "perceptual", "prior",
                  "closeups", "tune_d_blocks")


def _same(recorded, value):
    """Whether a pack record's option equals ``value`` (tuples are recorded as lists)."""
    return list(value) == recorded if isinstance(value, tuple) else recorded == value


def evaluate_few_shot(bundle, *, species=DEFAULT_SPECIES, counts=DEFAULT_COUNTS, steps=None, seed=0, n=600,
                      n_diversity=50, n_old=100, init_class=None, judge=None, pack_dir=None, log=None,
                      n_translation=0, translation_steps=None, part_judge=None, closeup_check=True,
                      **add_class_options):
    """Few-shot class addition measured end to end (``collage eval --metrics few_shot``).

    For each species (one the model never saw) and each image count ``c``, a pack is made as
    :func:`neuralcollage.collage.add_class` makes it (:func:`~neuralcollage.classes.train_class`, then the close-up
    check, each kept in the pack's file when ``pack_dir`` is given) on ``c`` renders of the species
    (:func:`training_images`, ``seed``) and scored with :func:`evaluate_pack` (``n`` samples judged, diversity
    over ``n_diversity``).  The old classes are checked on every pack: ``n_old`` samples per old class with the
    pack loaded must be bit-identical to the base model's, and their judged accuracy is reported beside the base
    model's.

    Args:
        bundle: the base model; its classes must be species the judge knows (the built-in model).
        species: names (or ids) in :data:`~neuralcollage.datasets.SPECIES` that are not classes of
            ``bundle``.  counts: training-image counts (each at least
            :data:`~neuralcollage.classes.MIN_IMAGES`).
        steps, init_class, add_class_options: keywords of :func:`~neuralcollage.collage.add_class` (None or
            absent: its defaults, with a close-up variant of 4 close-ups per image).
        seed: the training renders, the training and the evaluation samples.
        judge: the judge (default: :func:`load_judge`, the shipped one).
        pack_dir: a folder to save the packs in; a pack already there that was trained on the same renders
            with the same steps and seed for this generator is reused instead of retrained.
        log: ``log(record)`` after each pack.
        n_translation: when > 0, also :func:`part_translation_into` each pack trained on the headline count
            (10 images when measured) with this many held-out faces (``translation_steps`` projection steps,
            None: the edit's default; ``part_judge``: default the shipped part judge); recorded as the pack's
            ``part_translation``.
        closeup_check: keep each pack's close-up variant only when
            :func:`~neuralcollage.collage.closeup_check.closeup_variant_check` (seed ``seed``) says so, as
            :func:`~neuralcollage.collage.add_class` does; the verdict is recorded in the pack's file (and reused
            from it) and in the row (``closeup_check``).  False: keep every variant.

    Returns:
        ``{"value" (the least judged share among the packs at the headline count: 10 images when measured,
        else the largest count), "target", "passed" (every pack with a target meets it; None when none has
        one), "packs": [per pack: species, n_images, steps, init_class, train_seconds, pack_bytes (None when
        not saved), judged, judged_as, diversity, generated_spread, real_spread, old_classes_identical,
        old_class_judged, target_judged, target_diversity, passed], "old_classes": {"judged_base",
        "judged_with_packs" (the lowest), "identical", "unchanged"}, "n", "n_diversity", "n_old", "seed",
        "seconds"}``; with ``n_translation``, ``"part_translation"``: the least success rate among the
        headline packs.

    Raises:
        InputError: an unknown species or one the model has, a count below the minimum, a model whose classes
            the judge does not know.
    """
    import os
    import time as _time
    from neuralcollage.classes import DEFAULTS, MIN_IMAGES, apply_packs, copy_bundle, train_class
    from neuralcollage.collage.new_class import closeup_variant_count
    from neuralcollage.io import InputError
    started = _time.perf_counter()
    counts = [int(c) for c in counts]
    if not counts or min(counts) < MIN_IMAGES:
        raise InputError(f"few-shot image counts must each be at least {MIN_IMAGES}; got {counts}")
    if not species:
        raise InputError("few-shot evaluation needs at least one species")
    targets = [_species_id(s, bundle) for s in species]
    if int(n) < 1 or int(n_diversity) < 2 or int(n_old) < 1:
        raise InputError("few-shot evaluation needs n >= 1, n_diversity >= 2 and n_old >= 1")
    judge = load_judge() if judge is None else judge
    old_ids = _old_class_ids(bundle, judge.n_classes)
    steps = DEFAULTS["steps"] if steps is None else int(steps)
    init_class = DEFAULTS["init_class"] if init_class is None else init_class
    add_class_options["closeup_variant"] = closeup_variant_count(add_class_options.get("method", DEFAULTS["method"]),
                                                                 add_class_options.get("closeup_variant"))
    base_judged, _ = _old_class_check(None, bundle.generator, old_ids, judge, n=n_old, seed=seed)
    if pack_dir is not None:
        os.makedirs(pack_dir, exist_ok=True)
    rows = []
    headline = 10 if 10 in counts else max(counts)
    for sid, name in targets:
        for count in counts:
            images = training_images(sid, count, seed=seed, size=bundle.generator.resolution)
            path = None if pack_dir is None else _pack_file(pack_dir, name, count, init_class, steps, seed,
                                                            add_class_options)
            pack = None if path is None else _reusable(path, images, bundle, steps, seed, add_class_options)
            if pack is None:
                pack = train_class(bundle, list(images), name, steps=steps, seed=seed, init_class=init_class,
                                   **add_class_options)
                if path is not None:
                    pack.save(path)
            checked = None
            if closeup_check and pack.closeup is not None:
                pack, checked = _checked(bundle, pack, images, seed=seed, path=path)
            score = evaluate_pack(bundle, pack, judge, sid, n=n, n_diversity=n_diversity, seed=seed,
                                  check_old=False)
            extended = apply_packs(copy_bundle(bundle), [pack])
            old_judged, identical = _old_class_check(bundle.generator, extended.generator, old_ids, judge,
                                                     n=n_old, seed=seed)
            t_judged = TARGETS["judged"].get(count)
            t_div = TARGETS["diversity"].get(count)
            checks = [score["judged"] >= t_judged] if t_judged is not None else []
            checks += [score["diversity"] >= t_div] if t_div is not None else []
            row = {"species": name, "n_images": count, "steps": pack.record["steps"],
                   "init_class": pack.record["init_class"], "train_seconds": pack.record["seconds"],
                   "total_seconds": pack.record.get("total_seconds"),
                   "pack_bytes": os.path.getsize(path) if path is not None else None,
                   "pack": path, **{k: v for k, v in score.items() if k not in ("old_classes_identical", "n")},
                   "old_classes_identical": identical, "old_class_judged": old_judged,
                   "target_judged": t_judged, "target_diversity": t_div,
                   "passed": bool(all(checks)) if checks else None}
            if "init_search" in pack.record:
                row["init_search"] = pack.record["init_search"]["losses"]
            if checked is not None:
                row["closeup_check"] = checked
            if n_translation > 0 and count == headline:
                part_judge = load_part_judge() if part_judge is None else part_judge
                row["part_translation"] = part_translation_into(bundle, pack, part_judge=part_judge,
                                                                n=int(n_translation), seed=seed,
                                                                steps=translation_steps)
            rows.append(row)
            if log is not None:
                log(row)
    value = min(r["judged"] for r in rows if r["n_images"] == headline)
    verdicts = [r["passed"] for r in rows if r["passed"] is not None]
    with_packs = min(r["old_class_judged"] for r in rows)
    identical = all(r["old_classes_identical"] for r in rows)
    translated = [r["part_translation"]["value"] for r in rows if "part_translation" in r]
    extra = {"part_translation": min(translated)} if translated else {}
    return {"value": value, "headline_images": headline, **extra, "target": TARGETS["judged"].get(headline),
            "passed": bool(all(verdicts)) if verdicts else None, "packs": rows,
            "old_classes": {"judged_base": base_judged, "judged_with_packs": with_packs, "identical": identical,
                            "unchanged": bool(identical and with_packs == base_judged)},
            "n": int(n), "n_diversity": int(n_diversity), "n_old": int(n_old), "seed": int(seed),
            "steps": steps, "init_class_requested": init_class,
            "seconds": round(_time.perf_counter() - started, 2)}


def _translation_cell(t, check=None):
    if t is None:
        return "-"
    other = ", ".join(f"{k} {v}" for k, v in sorted(t["predicted_counts"].items(), key=lambda kv: -kv[1])
                      if k != t["species"])
    notes = [f"otherwise {other}"] if other else []
    if check is not None:
        notes.append(f"close-up variant {'kept' if check['keep'] else 'dropped'} ({check['difference']:+.2f})")
    return f"{100 * t['value']:.1f}% of {t['n']}" + (f" ({'; '.join(notes)})" if notes else "")


def format_few_shot(result):
    """Markdown table of :func:`evaluate_few_shot`'s packs."""
    lines = ["| species | images | steps | started from | judged as the species | judged otherwise | "
             "diversity vs real | old classes | train time | part translation into it |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["packs"]:
        other = ", ".join(f"{k} {100 * v:.1f}%" for k, v in sorted(r["judged_as"].items(), key=lambda kv: -kv[1])
                          if k != r["species"]) or "-"
        old = f"{'identical' if r['old_classes_identical'] else 'CHANGED'}, {100 * r['old_class_judged']:.1f}%"
        lines.append(f"| {r['species']} | {r['n_images']} | {r['steps']} | {r['init_class']} | "
                     f"{100 * r['judged']:.1f}% | {other} | {r['diversity']:.2f} | {old} | "
                     f"{r['train_seconds']:.0f} s | "
                     f"{_translation_cell(r.get('part_translation'), r.get('closeup_check'))} |")
    return "\n".join(lines)


def part_translation_into(bundle, pack, *, part_judge=None, n=100, seed=0, steps=None, **options):
    """Part translation into the class ``pack`` adds: :func:`neuralcollage.analysis.evaluation.part_translation` on
    ``bundle`` with the pack loaded, every face's part (held-out renders of the old classes, round-robin)
    translated into the new class, and success judged by the part judge (:func:`load_part_judge`: it must name
    the pack's species on the edited part's crop).

    Args:
        bundle: the base model (not modified); its classes must be species the judge knows.
        pack: a :class:`~neuralcollage.classes.ClassPack` (or path) whose name is a species of
            :data:`~neuralcollage.datasets.SPECIES`.
        part_judge: default the shipped part judge.
        n, seed, steps, options: passed to :func:`~neuralcollage.analysis.evaluation.part_translation` (``steps``
            None: the edit's default projection steps, e.g. 50 before the default features fit).

    Returns:
        :func:`~neuralcollage.analysis.evaluation.part_translation`'s record (its ``predicted_counts`` keyed by the
        judge's species names) plus ``species`` and ``init_class``.
    """
    from neuralcollage.classes import apply_packs, copy_bundle, load_pack
    from neuralcollage.analysis.evaluation import part_translation
    from neuralcollage.io import InputError
    from neuralcollage.datasets import SPECIES
    pack = load_pack(pack) if isinstance(pack, str) else pack
    if pack.name not in SPECIES:
        raise InputError(f"pack {pack.name!r} is not a rendered species ({', '.join(SPECIES)}); the part judge "
                         f"cannot score it")
    part_judge = load_part_judge() if part_judge is None else part_judge
    variants = 1 + (pack.closeup is not None)
    ids = _old_class_ids(bundle, part_judge.n_classes) + [SPECIES.index(pack.name)] * variants
    extended = apply_packs(copy_bundle(bundle), [pack])
    result = part_translation(extended, n=n, seed=seed, steps=steps, into=extended.vocabulary.index(pack.name),
                              part_classifier=part_judge, classifier_ids=ids, **options)
    result["predicted_counts"] = {SPECIES[int(k)]: v for k, v in result["predicted_counts"].items()}
    result.update(species=pack.name, init_class=pack.record.get("init_class"))
    return result

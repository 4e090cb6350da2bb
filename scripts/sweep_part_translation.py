"""Part translation success over the edit's ``context`` and blend mode, one projection per face.

Each held-out face of :func:`neuralcollage.analysis.evaluation.part_translation` (same seeds, parts and target
classes) is projected once with :func:`neuralcollage.collage.edit_photo` (``reconstruction="projection"``:
the sweep measures the paper's pipeline, without the default features fit); the projected latent is then
edited with every ``--contexts`` value (:func:`neuralcollage.collage.class_region`) and blended back with
every ``--blend-modes`` value (Poisson modes with every ``--seams`` boundary, every mode with every
``--dilates`` extent, and the ``"normal"`` mode also with every ``--colour-reaches`` value besides classic
Poisson), and the part classifier reads the part's crop of each result.  Prints one
row per setting, then the mean PSNR of the projections per part (the projection's reconstruction against the
crop it was projected from), and writes them to JSON.

``--box mask`` (the default) crops as ``collage edit`` does, a square around the painted region; ``--box
photo`` edits the whole photo as the crop, the framing the built-in generator was trained on.

Two experiments against a poor projection, neither of which helps on the built-in model
(docs/builtin_model.md): ``--transfers residual`` blends :func:`residual_crop`, the photo plus the edit's change to
the reconstruction, instead of the edited crop; ``--tune-steps N`` edits with a copy of the generator
fine-tuned on the crop from the projected latent (:func:`tune_generator`, pivotal tuning) and also prints
the reconstruction PSNR after tuning and the tuning's seconds per photo.

    python scripts/sweep_part_translation.py --n 100 --contexts 0 3 6 10 -o sweep.json
    python scripts/sweep_part_translation.py --box photo --contexts 0 10 -o sweep_photo.json
    python scripts/sweep_part_translation.py --contexts 10 --transfers edit residual --tune-steps 30 -o tuned.json
    python scripts/sweep_part_translation.py --contexts 10 --seams fixed optimal --dilates 8 12 16 24 -o seam.json
    python scripts/sweep_part_translation.py --contexts 10 --colour-reaches 2 4 8 16 --dilates 8 16 -o reach.json
"""
import argparse
import os
import sys
import time

import numpy

from neuralcollage.blending import BLEND_MODES, SEAMS

TRANSFERS = ("edit", "residual")


def residual_crop(photo, box, edited, reconstruction):
    """The photo's box plus what the edit changed: ``photo[box] + resize(edited - reconstruction)``.

    Args:
        photo: ``(H, W, 3)`` uint8 RGB.
        box: ``(top, left, side)`` inside the photo.
        edited, reconstruction: ``(1, 3, R, R)`` float32 in ``[-1, 1]``, the edit and the unedited image of
            the same latent and generator.

    Returns:
        ``(side, side, 3)`` uint8: the difference (in 0..255 units) resized to the box (area when
        shrinking, bicubic when enlarging), added to the photo's box, rounded and clipped to ``[0, 255]``;
        equal to the photo's box where the edit changed nothing.
    """
    from neuralcollage.blending import check_box, resize_to_box
    edited, reconstruction = (numpy.asarray(a, numpy.float32) for a in (edited, reconstruction))
    if edited.shape != reconstruction.shape or edited.ndim != 4 or edited.shape[:2] != (1, 3):
        raise ValueError(f"edited and reconstruction must both be (1, 3, R, R); got {edited.shape} and "
                         f"{reconstruction.shape}")
    top, left, side = check_box(box, numpy.shape(photo))
    delta = resize_to_box(((edited[0] - reconstruction[0]) * 127.5).transpose(1, 2, 0), box)
    base = numpy.asarray(photo, numpy.float32)[top:top + side, left:left + side]
    return numpy.clip(numpy.rint(base + delta), 0, 255).astype(numpy.uint8)


def tune_generator(gen, dis, crop, label, z, *, steps, lr, mse_weight=0.2):
    """A copy of ``gen`` fine-tuned to reconstruct one crop from a fixed latent (pivotal tuning).

    ``steps`` Adam steps (``alpha=lr``) on the projection loss of
    :func:`neuralcollage.inversion.project` (``-cos`` of the discriminator's features ``+ mse_weight *``
    pixel MSE) of ``G(z, label)`` against ``crop``, in test mode (running batch-norm statistics, which are
    not updated); every parameter changes except the class embeddings of the sCBN layers (``gammas/W``,
    ``betas/W``), so the classes keep the generator's own conditioning.  ``gen`` itself is not modified.

    Args:
        gen, dis: the generator and its discriminator.
        crop: ``(R, R, 3)`` uint8 RGB at the generator's resolution.
        label: the class id ``z`` was projected with.
        z: ``(1, dim_z)`` float32, the projected latent.

    Returns:
        the tuned copy of ``gen``.
    """
    import chainer
    import chainer.functions as F
    from neuralcollage import inversion
    tuned = gen.copy(mode="copy")
    target = inversion._model_images(crop, device=tuned.device, resolution=tuned.resolution)
    ids = tuned.device.send(numpy.full((1,), int(label), numpy.int32))
    z = tuned.device.send(numpy.asarray(z, numpy.float32))
    optimizer = chainer.optimizers.Adam(alpha=lr)
    optimizer.setup(tuned)
    for name, param in tuned.namedparams():
        if name.endswith(("/gammas/W", "/betas/W")):
            param.update_rule.enabled = False
    dis = inversion.feature_network(dis)
    with chainer.using_config("train", False), inversion.frozen_spectral_norm(dis):
        target_unit = inversion._target_features(dis, target)
        for _ in range(int(steps)):
            loss, _ = inversion._sample_losses(tuned, dis, z, ids, target, target_unit, mse_weight)
            tuned.cleargrads()
            F.sum(loss).backward()
            optimizer.update()
    return tuned


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="builtin", help="registered model name or generator .npz / folder")
    p.add_argument("--n", type=int, default=100, help="held-out faces")
    p.add_argument("--contexts", type=int, nargs="+", default=[0, 3, 6, 10],
                   help="class-region growth in pixels at the generator's resolution")
    p.add_argument("--blend-modes", nargs="+", default=["normal", "none"], choices=BLEND_MODES)
    p.add_argument("--seams", nargs="+", default=["fixed"], choices=SEAMS,
                   help="Poisson boundaries (poisson_blend's seam; feathered compositing has none)")
    p.add_argument("--dilates", type=int, nargs="+", default=[8], help="blend region growth in photo pixels")
    p.add_argument("--colour-reaches", type=float, nargs="+", default=[], metavar="PX",
                   help="also blend with the 'normal' mode's colour correction reaching this far into the region "
                        "(poisson_blend's colour_reach; classic Poisson is always measured)")
    p.add_argument("--transfers", nargs="+", default=["edit"], choices=TRANSFERS,
                   help="what is blended into the photo: the edited crop, or the photo plus the edit's change "
                        "to the reconstruction (residual_crop in this script)")
    p.add_argument("--grow", type=float, default=None,
                   help="painted region = part mask grown by this fraction of the photo side (default: the "
                        "evaluation's)")
    p.add_argument("--box", choices=("mask", "photo"), default="mask",
                   help="crop: a square around the painted region (as `collage edit`) or the whole photo")
    p.add_argument("--photo-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=200, help="projection steps")
    p.add_argument("--tune-steps", type=int, default=0,
                   help="after projecting, fine-tune a copy of the generator on the crop for this many Adam "
                        "steps (tune_generator; 0: no tuning) and edit with it")
    p.add_argument("--tune-lr", type=float, default=1e-4, help="Adam step size of the tuning")
    p.add_argument("--tune-mse-weight", type=float, default=0.2, help="pixel MSE weight of the tuning loss")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", default="part_translation_sweep.json")
    return p.parse_args(argv)


def _blends(args):
    """(mode, seam, dilate, colour reach) of every blend to measure; an optimal seam only with a Poisson mode,
    a colour reach (None: classic Poisson) only with ``"normal"``."""
    return [(mode, seam, dilate, reach) for mode in args.blend_modes
            for seam in (["fixed"] if mode == "none" else args.seams) for dilate in args.dilates
            for reach in ([None, *args.colour_reaches] if mode == "normal" else [None])]


def _row_order(item):
    """Rows sorted by setting, classic Poisson (colour reach None) before the reaches."""
    (transfer, px, mode, seam, dilate, reach), _ = item
    return transfer, px, mode, seam, dilate, -1.0 if reach is None else reach


def main(argv=None):
    args = parse_args(argv)
    from neuralcollage.io import InputError
    from neuralcollage.snapshot import SnapshotError
    try:
        return _sweep(args)
    except (InputError, SnapshotError, ValueError, OSError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


def _sweep(args):
    import tempfile
    from neuralcollage.io import InputError
    if min(args.dilates) < 0:
        raise InputError(f"--dilates must be >= 0, got {args.dilates}")
    if any(not 0 < reach < float("inf") for reach in args.colour_reaches):
        raise InputError(f"--colour-reaches must be pixels > 0, got {args.colour_reaches}")
    if args.tune_steps < 0 or not args.tune_lr > 0:
        raise InputError(f"--tune-steps must be >= 0 and --tune-lr > 0, got {args.tune_steps} and {args.tune_lr}")
    folder = os.path.dirname(os.path.abspath(args.output))
    if os.path.isdir(args.output):
        raise InputError(f"cannot write {args.output}: it is a directory")
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise InputError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    from neuralcollage.analysis import evaluation
    from neuralcollage.blending import poisson_blend
    from neuralcollage.collage import class_region, edit_photo, render, scbn_edit
    from neuralcollage.io import atomic_write_json, from_model
    from neuralcollage.models.classifier import part_crops
    from neuralcollage.pretrained import load_bundle
    from tqdm import tqdm

    bundle = load_bundle(args.model)
    gen, clf = bundle.generator, bundle.part_classifier
    if clf is None:
        raise InputError(f"model {bundle.name!r} has no part classifier to read the edited parts with")
    bad = [px for px in args.contexts if not 0 <= px <= gen.resolution]
    if bad:
        raise InputError(f"--contexts must be pixels in 0..{gen.resolution} (the generator's resolution), got {bad}")
    grow = evaluation.PART_REGION_GROW if args.grow is None else args.grow
    cases = evaluation.translation_cases(args.n, n_classes=gen.n_classes, seed=args.seed,
                                         photo_size=args.photo_size, grow=grow)
    box = (0, 0, args.photo_size) if args.box == "photo" else None
    hits, psnr, tuned_psnr, tune_seconds = {}, {}, {}, []
    started = time.time()
    for i, part, source, target, sample, mask, region in tqdm(cases, total=args.n, desc="faces", unit="face"):
        if region is None:
            continue
        region = region.astype(numpy.float32)
        result = edit_photo(bundle, sample.image, region, target, source_label=source, steps=args.steps,
                            seed=args.seed + i, context=0.0, box=box, reconstruction="projection")
        psnr.setdefault(part, []).append(evaluation.psnr(result.crop, result.reconstruction))
        editor = gen
        if args.tune_steps:
            t0 = time.time()
            editor = tune_generator(gen, bundle.discriminator, result.crop, source, result.z,
                                    steps=args.tune_steps, lr=args.tune_lr, mse_weight=args.tune_mse_weight)
            tune_seconds.append(time.time() - t0)
        if args.tune_steps or "residual" in args.transfers:
            reconstruction = render(editor, result.z, source)
        if args.tune_steps:
            tuned_psnr.setdefault(part, []).append(evaluation.psnr(result.crop, from_model(reconstruction)[0]))
        for px in args.contexts:
            grown = class_region(gen, result.mask_crop, px / gen.resolution)
            edited = scbn_edit(editor, result.z, source, target, grown)
            pasted = {t: from_model(edited)[0] if t == "edit" else
                      residual_crop(sample.image, result.box, edited, reconstruction) for t in args.transfers}
            for transfer in args.transfers:
                for mode, seam, dilate, reach in _blends(args):
                    image = poisson_blend(sample.image, pasted[transfer], region, result.box, blend_mode=mode,
                                          dilate=dilate, seam=seam, colour_reach=reach)
                    predicted = int(clf.predict(part_crops(image, mask, size=clf.resolution))[0])
                    hits.setdefault((transfer, px, mode, seam, dilate, reach), []).append(
                        (part, predicted == target))
    rows = []
    for (transfer, px, mode, seam, dilate, reach), outcome in sorted(hits.items(), key=_row_order):
        per_part = {p: float(numpy.mean([ok for q, ok in outcome if q == p])) for p in evaluation.PARTS
                    if any(q == p for q, _ in outcome)}
        rows.append({"transfer": transfer, "context_px": px, "context": px / gen.resolution, "blend_mode": mode,
                     "seam": seam, "dilate": dilate, "colour_reach": reach, "n": len(outcome),
                     "success_rate": float(numpy.mean([ok for _, ok in outcome])), "per_part": per_part})
        reach_text = "" if mode != "normal" else "  reach  all" if reach is None else f"  reach {reach:4g}"
        print(f"{transfer:8s}  context {px:3d} px  {mode:6s}  seam {seam:7s}  dilate {dilate:3d} px{reach_text}  "
              f"{rows[-1]['success_rate']:.0%}  " +
              "  ".join(f"{p} {v:.0%}" for p, v in per_part.items()))
    projection_psnr = {p: float(numpy.mean(v)) for p, v in psnr.items()}
    print("projection PSNR (dB): " + "  ".join(f"{p} {v:.1f}" for p, v in projection_psnr.items()))
    record = {"model": str(bundle.name), "settings": vars(args),
              "grow_px": evaluation.grow_pixels(grow, args.photo_size), "projection_psnr_db": projection_psnr}
    if args.tune_steps:
        record["tuned_psnr_db"] = {p: float(numpy.mean(v)) for p, v in tuned_psnr.items()}
        record["tune_seconds_per_photo"] = float(numpy.mean(tune_seconds)) if tune_seconds else None
        print("after tuning (dB): " + "  ".join(f"{p} {v:.1f}" for p, v in record["tuned_psnr_db"].items()) +
              f"; {record['tune_seconds_per_photo']:.2f} s per photo")
    faces = sum(len(v) for v in psnr.values())
    elapsed = time.time() - started
    record.update({"seconds": elapsed, "seconds_per_photo": elapsed / max(faces, 1), "rows": rows})
    atomic_write_json(args.output, record)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

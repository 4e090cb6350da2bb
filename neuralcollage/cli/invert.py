"""``collage invert``: project a photo onto the generator's manifold."""
import os

from .common import EXIT_OK, Formatter, note, projection_options, say
from .support import Progress, check_outputs, load, read_mask_for, read_photo, require_photo_class, stem, vocabulary
from .edit import fit_settings


def add_invert_parser(sub, common, model, image):
    """Add ``collage invert`` to the subparsers ``sub``."""
    p = sub.add_parser("invert", prog="collage invert", parents=[common, model, image],
                       formatter_class=Formatter,
                       help="project a photo onto the manifold", description="Project a photo (or the square "
                       "around a mask) onto the generator's manifold.", epilog="""\
The photo is cropped to a square (around --mask when given, else the largest centred square) and resized to
the model's resolution.  Writes the latent z (.npz with z, class_id, label, model, sha256, box, loss) and the
reconstruction G(z, class).  A model without a discriminator (BigGAN-deep) needs --label and projects with
multi-scale pixel statistics (neuralcollage.inversion.PyramidFeatures) instead of the discriminator's features.

examples:
  collage invert --base dog.png --label dog -o recon.png --z-out dog_z.npz
  collage invert --base photo.jpg --mask face.png --steps 400 --restarts 3
""")
    p.add_argument("--base", required=True, metavar="PHOTO", help="the photo")
    p.add_argument("--label", metavar="L",
                   help="the photo's class (default: guessed; required without a discriminator)")
    p.add_argument("--mask", metavar="MASK", help="crop the square around this mask")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="reconstruction image (default: PHOTO-STEM_reconstruction.png)")
    p.add_argument("--z-out", metavar="NPZ", help="latent file (default: PHOTO-STEM_z.npz)")
    projection_options(p)
    p.set_defaults(func=cmd_invert)


# ------------------------------------------------------------------------------------------------ invert

def cmd_invert(args):
    import numpy
    from neuralcollage.blending import centre_box, crop_and_resize, square_crop_box
    from neuralcollage.inversion import guess_source_class, project
    from neuralcollage.io import atomic_save_npz, from_model, to_model, write_image
    from neuralcollage.reconstruction import feature_similarity, fit_warning, model_psnr
    output = args.output or f"{stem(args.base)}_reconstruction.png"
    z_out = args.z_out or f"{stem(args.base)}_z.npz"
    inputs = [p for p in (args.base, args.mask, args.model) if p is not None and os.path.exists(p)]
    check_outputs([(output, "image"), (z_out, "npz")], inputs)
    require_photo_class(args.model, args.label, "--label")
    photo = read_photo(args.base, args)
    mask = read_mask_for(args.mask, photo, args) if args.mask else None
    vocab = vocabulary(args.model, args.arch)
    label = None if args.label is None else vocab.index(args.label)
    bundle = load(args.model, args.arch, args.gpu)
    require_photo_class(args.model, args.label, "--label", bundle)
    gen, dis = bundle.generator, bundle.discriminator
    if dis is None:
        from neuralcollage.inversion import describe_loss
        note(f"model {bundle.name} has no discriminator: projecting with {describe_loss(None)}")
    box = square_crop_box(mask, min_size=gen.resolution) if mask is not None else centre_box(photo.shape)
    crop = crop_and_resize(photo, box, gen.resolution)
    if label is None:
        say("guessing the photo's class ...", quiet=args.quiet)
        guess = guess_source_class(gen, dis, crop, seed=args.seed, encoder=bundle.encoder)
        label = guess.class_id
        note(f"source class: {vocab[label]} (candidates "
             + ", ".join(f"{vocab[c]} {guess.losses[c]:.4f}" for c in guess.candidates) + ")")
    progress = Progress(steps=args.steps, enabled=not args.quiet)
    try:
        result = project(gen, dis, crop, label, steps=args.steps, encoder=bundle.encoder,
                         restarts=args.restarts, seed=args.seed, callback=progress)
    finally:
        progress.close()
    image, fitted = _fit_inversion(bundle, crop, result, label, args)
    target = to_model(crop[None])
    psnr, projected = model_psnr(image, target), model_psnr(result.image[:1], target)
    similarity = None if dis is None else feature_similarity(result.sample_losses[0], result.image[:1], target)
    reconstruction = from_model(image)[0]
    write_image(output, reconstruction, overwrite_protect=inputs)
    atomic_save_npz(z_out, z=result.z.astype(numpy.float32), class_id=numpy.int64(label),
                    label=numpy.array(vocab[label]), model=numpy.array(bundle.name),
                    sha256=numpy.array(bundle.sha256.get("generator", "")), box=numpy.array(box, numpy.int64),
                    loss=numpy.float64(result.loss), losses=numpy.asarray(result.losses, numpy.float64),
                    reconstruction=numpy.array(args.reconstruction if fitted else "projection"),
                    psnr=numpy.float64(psnr))
    how = f", {args.reconstruction} fit {args.fit_steps} steps" if fitted else ""
    alone = f" (projection alone {projected:.1f} dB)" if fitted else ""
    print(f"projected {args.base} as {vocab[label]} ({args.steps} steps{how}, loss {result.loss:.4f}); "
          f"reconstruction {psnr:.1f} dB{alone}; wrote {output}, {z_out}")
    warning = fit_warning(projected, similarity, model_name=bundle.name)
    if warning:
        note(warning)
    return EXIT_OK


def _fit_inversion(bundle, crop, projection, label, args):
    """The reconstruction `collage invert` writes: ``(image (1, 3, R, R) float32, fitted)``; the fit
    unless ``--reconstruction projection`` or the model cannot be fitted."""
    from neuralcollage.models.generator import Generator
    from neuralcollage.reconstruction import fit_generator
    settings = fit_settings(args)
    if settings is None or not isinstance(bundle.generator, Generator):
        if settings is not None:
            note(f"model {bundle.name} ({type(bundle.generator).__name__}) cannot be fitted: projection only")
        return projection.image, False
    fitting = Progress(steps=max(args.fit_steps - 1, 0), desc="fit", enabled=not args.quiet and args.fit_steps > 0)
    try:
        fit = fit_generator(bundle.generator, crop, projection.z, label,
                            options=settings,
                            callback=lambda step, loss: fitting(step - 1, loss, None))
    finally:
        fitting.close()
    return fit.image, True

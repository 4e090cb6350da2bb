"""``collage generate`` (images from random or saved latents) and ``collage blend`` (Poisson blending of an
edit into a photo).
"""
import argparse
import math
import os

from .common import (BLEND_MODES, BlendOptions, CommandError, DeprecatedFlag, EXIT_OK, Formatter, add_options,
                     box_spec, check_poisson, note, one_line, options_from_args, ranged)

#: ``collage blend``'s defaults: classic Poisson editing (``cv2.seamlessClone``), as
#: :func:`neuralcollage.blending.poisson_blend`, for an edit made elsewhere; the photo pipeline's colour reach
#: is tuned for its own edits.
BLEND_COMMAND_DEFAULTS = BlendOptions(colour_reach=math.inf)
from .support import check_outputs, is_biggan, label_name, load, read_mask_for, read_photo, vocabulary


def add_generate_parser(sub, common, model):
    """Add ``collage generate`` to the subparsers ``sub``."""
    p = sub.add_parser("generate", prog="collage generate", parents=[common, model], formatter_class=Formatter,
                       help="generate images", description="Generate images of a class.", epilog="""\
examples:
  collage generate --label fox -n 8 -o foxes.png
  collage generate --z z.npz -o again.png               # class from the z file (written by `collage invert`)
  collage generate --label cat --seed 3 --save-z cat3.npz -o cat3.png
  collage generate --model biggan-deep-256 --label "golden retriever" --truncation 0.4 -n 4 -o dogs.png

--truncation (BigGAN models only) draws the random latents from a normal distribution truncated to [-2, 2]
and scaled by T, and selects the batch-norm statistics stored for T; latents from --z are used as they are
(with the truncation stored beside them, unless --truncation is given).
""")
    p.add_argument("--label", metavar="L", help="class to generate (default: the class stored in --z)")
    p.add_argument("-n", "--count", type=ranged("count"), default=1, metavar="N",
                   help="number of images, written as one grid (default: %(default)s)")
    p.add_argument("--seed", type=ranged("seed"), default=0, help="seed of the random latents (default: %(default)s)")
    p.add_argument("--z", metavar="NPZ", help="latents from a .npz with an array 'z' (N, dim_z) instead of random")
    p.add_argument("--save-z", metavar="NPZ", help="also write the latents used")
    p.add_argument("--truncation", type=ranged("truncation"), metavar="T",
                   help="BigGAN truncation in (0, 1] (default: the model's own, 1.0 for converted checkpoints)")
    p.add_argument("-o", "--output", default="generated.png", metavar="OUT", help="image (default: %(default)s)")
    p.set_defaults(func=cmd_generate)


def add_blend_parser(sub, common, image):
    """Add ``collage blend`` to the subparsers ``sub``."""
    p = sub.add_parser("blend", prog="collage blend", parents=[common, image], formatter_class=Formatter,
                       help="Poisson-blend an edit into a photo", description="Blend an edited image into a "
                       "photo inside a mask; pixels outside the dilated mask stay unchanged.", epilog="""\
--source is either an image of the photo's size (resized when only the resolution differs) or, with --box, a
square crop that is resized to the box.

examples:
  collage blend --base photo.png --source edited.png --mask mask.png -o out.png
  collage blend --base photo.png --source crop64.png --box 120,80,200 --mask mask.png --blend-mode mixed -o out.png
""")
    p.add_argument("--base", required=True, metavar="PHOTO", help="the photo")
    p.add_argument("--source", required=True, metavar="EDITED", help="the edited image")
    p.add_argument("--mask", required=True, metavar="MASK", help="the region to blend")
    p.add_argument("--box", type=box_spec, metavar="TOP,LEFT,SIDE", help="where a square --source crop belongs")
    add_options(p, BlendOptions, base=BLEND_COMMAND_DEFAULTS)
    p.add_argument("--mode", choices=BLEND_MODES, dest="blend_mode", action=DeprecatedFlag, new="--blend-mode",
                   help=argparse.SUPPRESS)
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the blended photo")
    p.set_defaults(func=cmd_blend)


# ------------------------------------------------------------------------------------------------ generate

def _read_z(path, dim_z):
    """z ``(N, dim_z)`` float32, the stored class id and the stored BigGAN truncation (each None when absent)
    from a .npz written by `collage invert` or `collage generate --save-z`."""
    import zipfile

    import numpy
    from neuralcollage.io import InputError, check_regular_file
    check_regular_file(path, what="latent file")
    _check_z_headers(path, dim_z)
    try:
        with numpy.load(path, allow_pickle=False) as f:
            if "z" not in f.files:
                raise InputError(f"{path}: no array named 'z' (has: {', '.join(f.files) or 'nothing'})")
            z = numpy.asarray(f["z"])
            class_id = f["class_id"] if "class_id" in f.files else None
            truncation = f["truncation"] if "truncation" in f.files else None
    except InputError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise InputError(f"{path}: not a readable .npz file (corrupt or truncated?): {one_line(exc)}") from None
    if z.dtype.kind not in "fiu":
        raise InputError(f"{path}: z must be numeric, got {z.dtype}")
    if z.ndim == 1:
        z = z[None]
    if z.ndim != 2 or z.shape[1] != dim_z or z.shape[0] == 0:
        raise InputError(f"{path}: z has shape {z.shape}, the model needs (N, {dim_z})")
    if not numpy.isfinite(z).all():
        raise InputError(f"{path}: z contains NaN or infinite values")
    if class_id is not None:
        class_id = numpy.asarray(class_id).reshape(-1)
        class_id = int(class_id[0]) if class_id.size else None
    if truncation is not None:
        truncation = numpy.asarray(truncation, numpy.float64).reshape(-1)
        truncation = float(truncation[0]) if truncation.size else None
        if truncation is not None and not (numpy.isfinite(truncation) and 0 < truncation <= 1):
            raise InputError(f"{path}: stored truncation {truncation} is not in (0, 1]")
    return z.astype(numpy.float32), class_id, truncation


#: Largest latent file read by ``--z`` (bytes declared in its zip directory, all arrays together).
Z_FILE_MAX_BYTES = 64 * 2 ** 20


def _check_z_headers(path, dim_z):
    """Refuse a latent file whose declared arrays are too large or of the wrong shape, before decompressing
    any of them (:class:`neuralcollage.snapshot.SnapshotFile` reads only the zip directory and .npy headers)."""
    from neuralcollage.io import InputError
    from neuralcollage.limits import OPTION_RANGES
    from neuralcollage.snapshot import SnapshotError, SnapshotFile
    try:
        headers = SnapshotFile(path).headers
    except SnapshotError as exc:
        raise InputError(f"{path}: not a usable latent file: {one_line(exc)}") from None
    total = sum(h.nbytes for h in headers.values())
    if total > Z_FILE_MAX_BYTES:
        raise InputError(f"{path}: declares {total:,} bytes of arrays; a latent file may hold at most "
                         f"{Z_FILE_MAX_BYTES:,}")
    z = headers.get("z")
    most = OPTION_RANGES["count"][2]
    if z is not None and (len(z.shape) not in (1, 2) or z.shape[-1] != dim_z
                          or (len(z.shape) == 2 and not 1 <= z.shape[0] <= most)):
        raise InputError(f"{path}: z has shape {z.shape}, the model needs (N, {dim_z}) with 1 <= N <= {most}")


def cmd_generate(args):
    import chainer
    import numpy
    from neuralcollage.backend import to_numpy
    from neuralcollage.io import atomic_save_npz, from_model, write_image
    inputs = [p for p in (args.z, args.model) if p is not None and os.path.exists(p)]
    check_outputs([(args.output, "image"), (args.save_z, "npz")], inputs)
    vocab = vocabulary(args.model, args.arch)
    label = None if args.label is None else vocab.index(args.label)
    bundle = load(args.model, args.arch, args.gpu)
    gen = bundle.generator
    biggan = is_biggan(gen)
    if args.truncation is not None and not biggan:
        raise CommandError(f"--truncation applies to BigGAN models only; {bundle.name} is not one")
    truncation = args.truncation
    if args.z is not None:
        z, stored, stored_truncation = _read_z(args.z, gen.dim_z)
        if label is None:
            label = stored
        if truncation is None and biggan:
            truncation = stored_truncation
    elif biggan:
        truncation = gen.truncation if truncation is None else truncation
        z = to_numpy(gen.sample_z(args.count, seed=args.seed, truncation=truncation))
    else:
        z = to_numpy(gen.sample_z(args.count, seed=args.seed))
    if biggan and truncation is None:
        truncation = gen.truncation
    if label is None:
        raise CommandError("give --label (the z file stores no class)")
    if not 0 <= label < gen.n_classes:
        raise CommandError(f"class {label} is out of range for a {gen.n_classes}-class model")
    ids = numpy.full((z.shape[0],), label, numpy.int32)
    extra = {"truncation": truncation} if biggan else {}
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        x = gen(gen.device.send(z), gen.device.send(ids), **extra)
    from neuralcollage.collage import check_model_output
    images = from_model(check_model_output(gen, to_numpy(x.array)))
    image = images[0] if len(images) == 1 else _grid(images)
    write_image(args.output, image, overwrite_protect=inputs)
    written = [args.output]
    if args.save_z:
        extra_arrays = {"truncation": numpy.float64(truncation)} if biggan else {}
        atomic_save_npz(args.save_z, z=z, class_id=numpy.int64(label), label=numpy.array(vocab[label]),
                        model=numpy.array(bundle.name), sha256=numpy.array(bundle.sha256.get("generator", "")),
                        **extra_arrays)
        written.append(args.save_z)
    how = f" (truncation {truncation:g})" if biggan else ""
    print(f"generated {len(images)} x {label_name(vocab, label)} with {bundle.name}{how}; wrote "
          f"{', '.join(written)}")
    return EXIT_OK


def _grid(images, *, pad=2):
    import numpy
    n, h, w, _ = images.shape
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    grid = numpy.full((rows * h + (rows - 1) * pad, cols * w + (cols - 1) * pad, 3), 255, numpy.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = img
    return grid


# ------------------------------------------------------------------------------------------------ blend

def cmd_blend(args):
    from neuralcollage.blending import blend_back, crop_and_resize, square_crop_box
    from neuralcollage.io import InputError, read_image, write_image
    inputs = [args.base, args.source, args.mask]
    check_poisson(args.seam, args.colour_reach, args.blend_mode, "--blend-mode")
    blend = options_from_args(BlendOptions, args, base=BLEND_COMMAND_DEFAULTS)
    check_outputs([(args.output, "image")], inputs)
    photo = read_photo(args.base, args)
    mask = read_mask_for(args.mask, photo, args)
    source = read_image(args.source, max_pixels=args.max_pixels)
    if args.box is not None:
        top, left, side = args.box
        if top + side > photo.shape[0] or left + side > photo.shape[1]:
            raise InputError(f"box {top},{left},{side} does not fit in the {photo.shape[1]}x{photo.shape[0]} "
                             f"photo")
        if source.shape[0] != source.shape[1]:
            raise InputError(f"{args.source}: with --box the source must be square, got "
                             f"{source.shape[1]}x{source.shape[0]}")
        box, crop = args.box, source
    else:
        if source.shape[:2] != photo.shape[:2]:
            source = _fit_source(source, photo.shape[:2], args.source)
        box = square_crop_box(mask)
        crop = crop_and_resize(source, box, box[2])
    out = blend_back(photo, crop, mask, box, blend)
    from neuralcollage.io import read_image_info
    write_image(args.output, out, overwrite_protect=inputs, metadata=read_image_info(args.base))
    how = blend.blend_mode + (", optimal seam" if blend.seam == "optimal" else "")
    how += "" if blend.classic else f", colour reach {blend.colour_reach:g} px"
    print(f"blended {args.source} into {args.base} ({how}); wrote {args.output}")
    return EXIT_OK


def _fit_source(source, size, name):
    """Resize an edited image to the photo's size when only the resolution differs (else InputError)."""
    import cv2
    from neuralcollage.io import InputError
    (h, w), (height, width) = source.shape[:2], size
    if abs(w / h - width / height) > 0.01 * (width / height):
        raise InputError(f"{name} is {w}x{h} (WxH) but the photo is {width}x{height}: the aspect ratios differ; "
                         f"give an image of the photo's size, or a square crop with --box")
    shrink = w * h > width * height
    note(f"{name} resized from {w}x{h} to the photo's {width}x{height} (WxH)")
    return cv2.resize(source, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)

"""``collage stylize``: example-based stylisation (StyleBlit with FaceBlit guides)."""
import os

from neuralcollage.limits import OPTION_RANGES

from .common import ranged, say
from .support import check_outputs

# ------------------------------------------------------------------------------------------------ stylize

STYLIZE_EPILOG = """\
The exemplar (--style) is a stylised picture of the same kind of face; its texture is copied onto the base
photo in coherent chunks (StyleBlit), placed by the two faces' landmarks (FaceBlit's guides: a coordinate ramp
of the exemplar moved by moving-least-squares similarity deformation, plus an appearance guide).  Exemplar and
base should be of similar size (within 4x per side).

Landmarks: a JSON file of (x, y) pixel coordinates, [[x, y], ...] or {"landmarks": [[x, y], ...]}, the same
points in the same order for both images (at least 2; the built-in faces use 10: left eye, right eye, nose,
mouth, left ear, right ear, left cheek, right cheek, chin, crown).  The centre of the top-left pixel is (0, 0).
Without a file, the built-in landmark model (neuralcollage/data/pretrained/builtin64/landmarks.npz, for the built-in kind of
cartoon faces, square images) predicts them when it is installed.

examples:
  collage stylize --base face.png --style hatched.png --style-landmarks hatched.json \\
      --base-landmarks face.json -o out.png
  collage stylize --base face.png --style hatched.png --mask region.png --seed 3 -o out.png --figure fig.png
  collage stylize --base face.png --style hatched.png --style-parts hatched_parts.png -o out.png
  collage stylize --base face.png --style hatched.png --style-parts hatched_parts.png -o out.png \\
      --lattice auto --blend-radius 1 --vote-stride 1 --patch-iterations 3    # hatching: in phase, refined

Parts (--style-parts): a map of the exemplar's parts, one flat colour per part (black or any colour for the
background; at most 16 colours, no antialiasing), e.g. exported from a paint program.  It adds a segmentation
guide that keeps each part's texture inside that part on the photo; the photo's parts are the exemplar's moved
by the landmarks' deformation unless --base-parts gives them (same colours).

Exit status: 0 success, 2 bad input (missing or unreadable files, landmarks outside the image, very different
sizes, no landmarks available), 3 model problem (the landmark model).
"""


def add_stylize_parser(sub, common, formatter):
    """Register ``stylize`` on the ``collage`` subparsers ``sub``."""
    p = sub.add_parser("stylize", prog="collage stylize", parents=[common], formatter_class=formatter,
                       help="stylise a photo or a region from one exemplar (StyleBlit)",
                       description="Stylise a photo, or the region of --mask, with the hand-made texture of an "
                                   "exemplar, placed by the faces' landmarks.", epilog=STYLIZE_EPILOG)
    p.add_argument("--base", required=True, metavar="PHOTO", help="the photo to stylise")
    p.add_argument("--style", required=True, metavar="EXEMPLAR", help="the stylised exemplar")
    p.add_argument("--style-landmarks", metavar="JSON", help="the exemplar's landmarks (default: predicted)")
    p.add_argument("--base-landmarks", metavar="JSON", help="the photo's landmarks (default: predicted)")
    p.add_argument("--mask", metavar="MASK", help="stylise only the white area (default: the whole photo)")
    p.add_argument("--style-parts", metavar="PARTS", help="the exemplar's part map, one flat colour per part "
                                                          "(default: no segmentation guide)")
    p.add_argument("--base-parts", metavar="PARTS",
                   help="the photo's part map in the same colours (default: the exemplar's moved by the landmarks)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the stylised photo")
    p.add_argument("--threshold", type=float, default=8.0,
                   help="guide error below which chunks grow, 0-255 units (0-64 useful; lower: smaller "
                        "chunks; the reference's is 24) (default: %(default)s)")
    p.add_argument("--blend-radius", type=int, default=2,
                   help="voting radius: (2r + 1)^2 neighbours, --vote-stride apart (default: %(default)s)")
    p.add_argument("--vote-sigma", type=float, default=48.0,
                   help="guide-error scale of the weighted voting: a neighbour's vote counts exp(-error / sigma); "
                        "0: the plain mean of the reference (default: %(default)s)")
    p.add_argument("--vote-stride", type=int, default=None, metavar="PX",
                   help="spacing of the voting neighbours in pixels, 1-64 (default: by the photo's size, "
                        "max(1, (side + 32) // 64): 1 up to 95 px, 2 at 128, 4 at 256, 8 at 512)")
    p.add_argument("--lattice", choices=("none", "auto"), default="none",
                   help="auto: keep a hatching drawn at a fixed angle and spacing in phase, snapping every copied "
                        "offset to the translations under which the exemplar's texture repeats (found in the "
                        "exemplar; nothing changes for a texture without a period) (default: %(default)s)")
    p.add_argument("--patch-iterations", type=ranged("patch_iterations"), default=0, metavar="K",
                   help=f"passes of patch refinement after the vote, 0-{OPTION_RANGES['patch_iterations'][2]}: each "
                        "pixel takes the exemplar position whose 5x5 patch best fits the result, then the vote "
                        "again; 3 with --lattice auto --blend-radius 1 --vote-stride 1 is the hatching setting "
                        "(slower) (default: %(default)s, off)")
    p.add_argument("--seed", type=int, default=0,
                   help="jitter seed; the same seed gives the same output (default: %(default)s)")
    p.add_argument("--feather", type=float, default=2.0,
                   help="softening of the --mask edge, in pixels (default: %(default)s)")
    p.add_argument("--figure", metavar="FIG", help="also write a figure: exemplar, photo, guides, result")
    p.set_defaults(func=cmd_stylize)
    return p


def read_landmarks(path):
    """``(K, 2)`` float64 from a landmark JSON file; InputError (one line) when it is missing or malformed."""
    from neuralcollage.io import InputError
    from neuralcollage.stylize.landmark_editor import read_landmarks_json
    try:
        return read_landmarks_json(path)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _landmarks(path, image, what, predictor):
    from neuralcollage.io import InputError
    if path:
        return read_landmarks(path)
    if predictor[0] is None:
        from neuralcollage.pretrained import builtin_dir
        model = os.path.join(builtin_dir(), "landmarks.npz")
        if not os.path.exists(model):
            raise InputError(f"no landmarks for the {what}: give --{'style' if what == 'exemplar' else 'base'}"
                             f"-landmarks JSON (the built-in landmark model is not installed)")
        from neuralcollage.train.landmarks import load_landmark_predictor
        predictor[0] = load_landmark_predictor(model)
    if image.shape[0] != image.shape[1]:
        raise InputError(f"the built-in landmark model needs a square {what}, got {image.shape[1]}x"
                         f"{image.shape[0]}; give its landmarks as JSON")
    return predictor[0](image)


def guide_figure(exemplar, target, guide, result):
    """``(H, 4W + 3 gaps, 3)`` uint8: exemplar, photo, guide (R = x, G = y, B = appearance), result (each
    resized to the photo's height)."""
    import cv2
    import numpy
    h = target.shape[0]

    def fit(image):
        if image.shape[0] == h:
            return image
        return cv2.resize(image, (max(1, round(image.shape[1] * h / image.shape[0])), h),
                          interpolation=cv2.INTER_AREA)

    g = numpy.clip(guide[..., :3], 0, 255).astype(numpy.uint8)
    gap = numpy.full((h, 4, 3), 255, numpy.uint8)
    panels = [fit(exemplar), gap, target, gap, g, gap, result]
    return numpy.concatenate(panels, axis=1)


def _stylize_parts(args, exemplar_shape, base_shape):
    """The segmentation-guide options of :func:`neuralcollage.stylize.stylize` from --style-parts /
    --base-parts (InputError, one line, for a bad map)."""
    from neuralcollage.io import InputError, read_image
    from neuralcollage.stylize import part_labels_from_image
    if args.base_parts and not args.style_parts:
        raise InputError("--base-parts needs --style-parts (the exemplar's parts in the same colours)")
    if not args.style_parts:
        return {}
    out = {}
    for path, shape, key in ((args.style_parts, exemplar_shape, "labels"),
                             (args.base_parts, base_shape, "target_labels")):
        if not path:
            continue
        image = read_image(path)
        if image.shape[:2] != shape[:2]:
            raise InputError(f"{path}: the part map is {image.shape[1]}x{image.shape[0]}, its image "
                             f"{shape[1]}x{shape[0]}")
        try:
            labels, colours = part_labels_from_image(image, colours=out.get("colours"))
        except ValueError as exc:
            raise InputError(f"{path}: {exc}") from None
        out[key], out["colours"] = labels, colours
    colours = out.pop("colours")
    return dict(out, n_labels=len(colours))


def cmd_stylize(args):
    from neuralcollage.io import InputError, read_image, read_mask, write_image
    from neuralcollage import stylize as st
    check_outputs([(args.output, "image"), (args.figure, "image")],
                  [p for p in (args.base, args.style, args.mask, args.style_landmarks, args.base_landmarks,
                               args.style_parts, args.base_parts) if p])
    if args.blend_radius < 0:
        raise InputError(f"--blend-radius must be >= 0, got {args.blend_radius}")
    if not args.threshold >= 0:
        raise InputError(f"--threshold must be >= 0, got {args.threshold}")
    if not args.vote_sigma >= 0 or args.vote_sigma == float("inf"):
        raise InputError(f"--vote-sigma must be a finite number >= 0, got {args.vote_sigma}")
    if args.vote_stride is not None and not 1 <= args.vote_stride <= 64:
        raise InputError(f"--vote-stride must be an integer in [1, 64], got {args.vote_stride}")
    base = read_image(args.base)
    exemplar = read_image(args.style)
    mask = read_mask(args.mask, size=base.shape[:2]) if args.mask else None
    ratio = max(exemplar.shape[0] / base.shape[0], base.shape[0] / exemplar.shape[0],
                exemplar.shape[1] / base.shape[1], base.shape[1] / exemplar.shape[1])
    if ratio > st.MAX_SIZE_RATIO:
        raise InputError(f"the exemplar ({exemplar.shape[1]}x{exemplar.shape[0]}) and the photo "
                         f"({base.shape[1]}x{base.shape[0]}) differ in size by more than "
                         f"{st.MAX_SIZE_RATIO:g}x; resize one of them")
    predictor = [None]
    ex_lm = _landmarks(args.style_landmarks, exemplar, "exemplar", predictor)
    base_lm = _landmarks(args.base_landmarks, base, "photo", predictor)
    label = {"exemplar": args.style_landmarks or "predicted", "photo": args.base_landmarks or "predicted"}
    try:
        ex_lm = st.check_landmarks(ex_lm, exemplar.shape, name=f"exemplar landmarks ({label['exemplar']})")
        base_lm = st.check_landmarks(base_lm, base.shape, name=f"photo landmarks ({label['photo']})",
                                     count=len(ex_lm))
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if mask is not None and not (mask > 0).any():
        raise InputError(f"{args.mask}: the mask is empty")
    parts = _stylize_parts(args, exemplar.shape, base.shape)
    details = st.stylize_details(base, exemplar, target_landmarks=base_lm, exemplar_landmarks=ex_lm,
                                 mask=mask, threshold=args.threshold, blend_radius=args.blend_radius,
                                 seed=args.seed, feather=args.feather, vote_sigma=args.vote_sigma or None,
                                 vote_stride=args.vote_stride, lattice=None if args.lattice == "none" else args.lattice,
                                 patch_iterations=args.patch_iterations, **parts)
    inputs = [p for p in (args.base, args.style, args.mask) if p]
    write_image(args.output, details.image, overwrite_protect=inputs)
    say(f"wrote {args.output} ({details.synthesis.fallback_fraction:.0%} of the pixels outside chunks)",
        quiet=args.quiet)
    if args.figure:
        write_image(args.figure, guide_figure(exemplar, base, details.target_guide, details.image),
                    overwrite_protect=inputs)
        say(f"wrote {args.figure}", quiet=args.quiet)

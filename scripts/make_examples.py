"""Render the bundled demo inputs of `collage demo` into neuralcollage/data/examples/.

The "photo" is one face of the built-in data set rendered at 256 px (four times the built-in model's
resolution), the mask is its ears region: the union of the source animal's ears and the target animal's
ears in the same pose (same seed), dilated a little, so that the target's ears have room to appear.

    python scripts/make_examples.py                 # writes cat.png, cat_ears_mask.png, example.json
"""
import argparse
import json
import os
import sys

import neuralcollage  # noqa: F401  (NumPy aliases before anything imports Chainer)

import cv2
import numpy

from neuralcollage.io import atomic_write_text, write_image
from neuralcollage.datasets import CLASS_NAMES, PART_NAMES, render_sample

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "neuralcollage", "data",
                           "examples")


def make_example(*, seed, size, source, target, part, dilate):
    """The photo ``(size, size, 3)`` uint8 and the mask ``(size, size)`` uint8 (0 or 255)."""
    photo = render_sample(seed, class_id=source, size=size)
    other = render_sample(seed, class_id=target, size=size)
    region = photo.masks[part] | other.masks[part]
    if dilate > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1))
        region = cv2.dilate(region.astype(numpy.uint8), kernel) > 0
    return photo.image, region.astype(numpy.uint8) * 255


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="data set seed of the face (default: %(default)s)")
    parser.add_argument("--size", type=int, default=256, help="photo size in pixels (default: %(default)s)")
    parser.add_argument("--source", default="cat", choices=CLASS_NAMES, help="(default: %(default)s)")
    parser.add_argument("--target", default="fox", choices=CLASS_NAMES, help="(default: %(default)s)")
    parser.add_argument("--part", default="ears", choices=PART_NAMES, help="(default: %(default)s)")
    parser.add_argument("--dilate", type=int, default=6, help="mask dilation in pixels (default: %(default)s)")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    photo, mask = make_example(seed=args.seed, size=args.size, source=args.source, target=args.target,
                               part=args.part, dilate=args.dilate)
    photo_name, mask_name = f"{args.source}.png", f"{args.source}_{args.part}_mask.png"
    write_image(os.path.join(args.out, photo_name), photo)
    write_image(os.path.join(args.out, mask_name), mask)
    spec = {"photo": photo_name, "mask": mask_name, "source_label": args.source, "target_label": args.target,
            "part": args.part, "layers": "all", "blend_mode": "normal",
            "rendered": {"seed": args.seed, "size": args.size, "dilate": args.dilate},
            "made_by": "python scripts/make_examples.py"
                       + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))}
    atomic_write_text(os.path.join(args.out, "example.json"), json.dumps(spec, indent=2) + "\n")
    print(f"wrote {photo_name}, {mask_name} and example.json into {args.out}")


if __name__ == "__main__":
    main()

"""A figure of the part translations the part classifier rejects (docs/reconstruction.md).

Runs the default photo edit (``neuralcollage.edit_photo``) on the held-out cases of
``collage eval --metrics part_translation`` and writes, for each edit whose part the classifier does not
name as the target class, one row: the photo, the edited photo, the edit's crop of it, the generator's
edited crop (before Poisson blending) and a render of the target class.

    python scripts/part_translation_failures.py -o docs/gallery/part_translation_failures.jpg --rows 6
"""
import argparse
import sys

import numpy

import neuralcollage  # noqa: F401  (before Chainer)
from neuralcollage import blending, io
from neuralcollage.analysis.evaluation import translation_cases
from neuralcollage.collage import edit_photo
from neuralcollage.datasets import render_sample
from neuralcollage.models.classifier import part_crops
from neuralcollage.pretrained import load_bundle


def failure_rows(bundle, *, n, seed, photo_size, rows):
    """Up to ``rows`` ``(photo_size, 5 * photo_size, 3)`` uint8 rows, one per rejected translation."""
    clf = bundle.part_classifier
    out = []
    for i, part, source, target, sample, mask, region in translation_cases(
            n, n_classes=bundle.generator.n_classes, seed=seed, photo_size=photo_size):
        if region is None:
            continue
        r = edit_photo(bundle, sample.image, region.astype(numpy.float32), target, source_label=source,
                       seed=seed + i)
        crops = part_crops(r.image[None], mask[None], size=clf.resolution, margin=0.15)
        if int(clf.predict(crops)[0]) == target:
            continue
        size = (photo_size, photo_size)
        tiles = [sample.image, r.image, blending.crop_and_resize(r.image, r.box, photo_size),
                 blending.crop_and_resize(r.edited_crop, (0, 0, r.edited_crop.shape[0]), photo_size),
                 render_sample(0, class_id=target, size=photo_size).image]
        out.append(numpy.concatenate([numpy.ascontiguousarray(t[:size[0], :size[1]]) for t in tiles], axis=1))
        print(f"face {i}: {part} {bundle.vocabulary[source]} -> {bundle.vocabulary[target]} rejected",
              file=sys.stderr)
        if len(out) == rows:
            break
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", required=True, help="image to write (.png or .jpg)")
    p.add_argument("--n", type=int, default=100, help="held-out faces to try (default: 100)")
    p.add_argument("--seed", type=int, default=0, help="held-out set (default: 0)")
    p.add_argument("--rows", type=int, default=6, help="rejected edits to show (default: 6)")
    p.add_argument("--photo-size", type=int, default=128, help="photo side in pixels (default: 128)")
    args = p.parse_args(argv)
    rows = failure_rows(load_bundle("builtin"), n=args.n, seed=args.seed, photo_size=args.photo_size,
                        rows=args.rows)
    if not rows:
        print("no rejected translation among these faces", file=sys.stderr)
        return 1
    io.write_image(args.output, numpy.concatenate(rows, axis=0))
    print(f"wrote {args.output} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Part edits into a class pack's class, with and without its close-up variant, side by side.

Whether a new class needs its close-up variant for edits of parts depends on the class (docs/few_shot.md, "Which
classes need the variant": on two sets of renders each it lifts the koala's part translations from 36% and 54% to
80% and 88% and drops the tiger's from 89% and 95% to 43% and 56%), and nothing measured tells in advance which.  :func:`closeup_variant_preview` makes the comparison a user
would make by hand (one edit with ``--closeup-variant off``, one with ``auto``) on the model's own samples, so
that ``collage add-class --closeup-variant N`` can write it beside the pack.
"""
import numpy

#: Where the preview paints, as ``(row, column)`` fractions of the image, on a face centred in it and filling
#: about two thirds of it (the built-in model's framing): the muzzle, the left eye, the left ear.
PREVIEW_SPOTS = ((0.59, 0.5), (0.45, 0.36), (0.28, 0.32))


def closeup_variant_preview(bundle, pack, *, n=3, seed=0, radius=0.15, **edit_options):
    """``n`` part edits of samples of the base model's classes into ``pack``'s class, drawn with the class's own
    rows and with its close-up variant.

    Sample ``i`` (latent ``gen.sample_z(n, seed=seed)[i]``, class ``i % K`` of the ``K`` classes the base model
    has of its own) is resized to a ``2R`` px photo, and a disc of radius ``radius * R`` at
    :data:`PREVIEW_SPOTS` ``[i % 3]`` is edited into the new class with :func:`neuralcollage.collage.edit_photo`
    (source label: the sample's class, ``seed=seed + i``), once with ``closeup_variant="off"`` and once with
    ``"auto"`` (the crop around the disc is a part of the photo, so the variant draws it).

    Args:
        bundle: the base model (not modified; the pack is applied to a copy).
        pack: a :class:`~neuralcollage.classes.ClassPack` with a close-up variant.
        edit_options: further keywords of :func:`~neuralcollage.collage.edit_photo` (e.g. ``steps``).

    Returns:
        ``(n, 3, 2R, 2R, 3)`` uint8: per edit the photo, the edit with the class's rows, the edit with its
        variant.

    Raises:
        InputError: a pack without a close-up variant, ``n < 1`` or ``radius`` outside ``(0, 0.5]``.
    """
    import chainer
    from neuralcollage.backend import to_numpy
    from neuralcollage.blending import crop_and_resize
    from neuralcollage.classes import apply_packs, base_record, copy_bundle
    from neuralcollage.collage.photo import edit_photo
    from neuralcollage.io import InputError, from_model
    from neuralcollage.links import fastconv
    if pack.closeup is None:
        raise InputError(f"pack {pack.name!r} has no close-up variant to compare (train it with closeup_variant=N)")
    if int(n) < 1 or not 0 < float(radius) <= 0.5:
        raise InputError(f"a close-up variant preview needs n >= 1 and 0 < radius <= 0.5; got {n}, {radius}")
    extended = apply_packs(copy_bundle(bundle), [pack])
    gen = extended.generator
    k = base_record(bundle)["n_classes"]
    side = 2 * gen.resolution
    z = gen.sample_z(int(n), seed=seed)
    sources = [i % k for i in range(int(n))]
    with chainer.using_config("train", False), chainer.no_backprop_mode(), fastconv.constant_parameters():
        faces = from_model(to_numpy(gen.forward(z, numpy.asarray(sources, numpy.int32)).array))
    rows, cols = numpy.mgrid[:side, :side]
    out = []
    for i, (face, source) in enumerate(zip(faces, sources)):
        photo = crop_and_resize(face, (0, 0, gen.resolution), side)
        fy, fx = PREVIEW_SPOTS[i % len(PREVIEW_SPOTS)]
        mask = (((rows - fy * side) ** 2 + (cols - fx * side) ** 2) <= (radius * gen.resolution) ** 2)
        mask = mask.astype(numpy.float32)
        edits = [edit_photo(extended, photo, mask, pack.name, source_label=source, closeup_variant=variant,
                            seed=seed + i, **edit_options).image for variant in ("off", "auto")]
        out.append(numpy.stack([photo] + edits))
    return numpy.stack(out)

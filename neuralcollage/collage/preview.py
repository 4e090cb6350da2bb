"""Part edits into a class pack's class, with and without its close-up variant, side by side.

Whether a new class needs its close-up variant for edits of parts depends on the class (docs/few_shot.md, "Which
classes need the variant": on two sets of renders each it lifts the koala's part translations from 36% and 54% to
80% and 88% and drops the tiger's from 89% and 95% to 43% and 56%).  :func:`closeup_variant_preview` makes the
comparison a user would make by hand (one edit with ``--closeup-variant off``, one with ``auto``) on the model's
own samples; :func:`neuralcollage.collage.closeup_check.closeup_variant_check` scores its edits to decide, and
``collage add-class --closeup-variant N`` writes three of them beside the pack.
"""
import numpy

#: Where the preview paints, as ``(row, column)`` fractions of the image, on a face centred in it and filling
#: about two thirds of it (the built-in model's framing): the muzzle, the left eye, the left ear.
PREVIEW_SPOTS = ((0.59, 0.5), (0.45, 0.36), (0.28, 0.32))
#: The painted disc's radius, a fraction of the model's resolution ``R`` (on a ``2R`` px photo).
PREVIEW_RADIUS = 0.15


def preview_masks(resolution, n, radius=PREVIEW_RADIUS):
    """The ``n`` masks :func:`closeup_variant_preview` edits: ``(2R, 2R)`` float32 discs of radius
    ``radius * R`` (``R = resolution``) at :data:`PREVIEW_SPOTS` ``[i % 3]``, 1 inside and 0 outside."""
    side = 2 * int(resolution)
    rows, cols = numpy.mgrid[:side, :side]
    masks = []
    for i in range(int(n)):
        fy, fx = PREVIEW_SPOTS[i % len(PREVIEW_SPOTS)]
        inside = ((rows - fy * side) ** 2 + (cols - fx * side) ** 2) <= (radius * resolution) ** 2
        masks.append(inside.astype(numpy.float32))
    return masks


def closeup_variant_preview(bundle, pack, *, n=3, seed=0, radius=PREVIEW_RADIUS, callback=None, **edit_options):
    """``n`` part edits of samples of the base model's classes into ``pack``'s class, drawn with the class's own
    rows and with its close-up variant.

    Sample ``i`` (latent ``gen.sample_z(n, seed=seed)[i]``, class ``i % K`` of the ``K`` classes the base model
    has of its own) is resized to a ``2R`` px photo, and a disc of radius ``radius * R`` at
    :data:`PREVIEW_SPOTS` ``[i % 3]`` is edited into the new class with :func:`neuralcollage.collage.edit_photo`
    (source label: the sample's class, ``seed=seed + i``), once with ``closeup_variant="off"`` and once with
    ``"auto"`` (the crop around the disc is a part of the photo, so the variant draws it); the masks are
    :func:`preview_masks`.  The first ``m`` edits of ``n`` are those of ``n=m``.

    Args:
        bundle: the base model (not modified; the pack is applied to a copy).
        pack: a :class:`~neuralcollage.classes.ClassPack` with a close-up variant.
        callback: called as ``callback(i, n)`` after edit ``i``, or None.
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
    out = []
    for i, (face, source, mask) in enumerate(zip(faces, sources, preview_masks(gen.resolution, n, radius))):
        photo = crop_and_resize(face, (0, 0, gen.resolution), side)
        edits = [edit_photo(extended, photo, mask, pack.name, source_label=source, closeup_variant=variant,
                            seed=seed + i, **edit_options).image for variant in ("off", "auto")]
        out.append(numpy.stack([photo] + edits))
        if callback is not None:
            callback(i, int(n))
    return numpy.stack(out)

"""The training images of a new class: the crops the generator sees, close-ups, and the existing class they
resemble most."""
from neuralcollage import _compat  # noqa: F401

import numpy

from neuralcollage.classes.model import base_record
from neuralcollage.io import InputError

__all__ = ["CLOSEUP_ZOOM", "prepare_images", "closeup_crops", "nearest_class", "class_ranking"]

#: Default ``(low, high)`` enlargement of :func:`closeup_crops`.
CLOSEUP_ZOOM = (1.3, 2.4)


def prepare_images(images, resolution):
    """Training images as the generator sees them: each HWC uint8 RGB image (any size) is cut to its centred
    largest square and resized to ``resolution`` (area when shrinking, bicubic when enlarging), as edits crop.

    Returns:
        ``(N, resolution, resolution, 3)`` uint8.

    Raises:
        InputError: not a list of HWC uint8 RGB images.
    """
    from neuralcollage.blending import centre_box, crop_and_resize
    out = []
    for i, image in enumerate(images):
        arr = numpy.asarray(image)
        if arr.dtype != numpy.uint8 or arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 1:
            raise InputError(f"training image {i} must be an (H, W, 3) uint8 RGB array; got {arr.dtype} "
                             f"{arr.shape}")
        out.append(crop_and_resize(arr, centre_box(arr.shape), resolution))
    return numpy.stack(out) if out else numpy.zeros((0, resolution, resolution, 3), numpy.uint8)


def closeup_crops(images, resolution, *, per_image, zoom=CLOSEUP_ZOOM, seed=0):
    """Close-ups of the training images, the framing an edit of a part sends to the generator: for each image
    (its centred largest square, as :func:`prepare_images` cuts it) ``per_image`` square windows of side
    ``side / zoom`` (``zoom`` uniform in ``zoom = (low, high)``) at uniformly random positions inside it,
    resized to ``resolution``; drawn from ``numpy.random.default_rng([seed, 0xC105E])``.

    Returns:
        ``(len(images) * per_image, resolution, resolution, 3)`` uint8, image by image.

    Raises:
        InputError: ``zoom`` not ``1 <= low <= high`` or ``per_image < 0``.
    """
    from neuralcollage.blending import centre_box, crop_and_resize
    low, high = (float(v) for v in zoom)
    if not 1.0 <= low <= high or int(per_image) < 0:
        raise InputError(f"close-ups need 1 <= zoom low <= high and per_image >= 0; got {zoom}, {per_image}")
    rng = numpy.random.default_rng([int(seed), 0xC105E])
    out = []
    for image in images:
        arr = numpy.asarray(image)
        top0, left0, side = centre_box(arr.shape)
        for _ in range(int(per_image)):
            size = max(1, int(round(side / rng.uniform(low, high))))
            top, left = (int(rng.integers(0, side - size + 1)) for _ in range(2))
            out.append(crop_and_resize(arr, (top0 + top, left0 + left, size), resolution))
    return numpy.stack(out) if out else numpy.zeros((0, resolution, resolution, 3), numpy.uint8)


def nearest_class(bundle, x, *, by="scores"):
    """The existing class the images ``x`` (NCHW float32 in [-1, 1]) resemble most.

    ``by="scores"`` (what :func:`train_class` uses): the highest mean discriminator class score (old classes
    only); without a discriminator, the class whose generated samples' mean colour is closest.
    ``by="reconstruction"`` (needs an encoder): the class ``c`` whose encoder-initialised reconstructions
    ``G(E(x, c), c)`` are closest to ``x`` (mean L1 plus ``1 - cos`` of the discriminator's features when
    there is one); on the built-in model it picks cat for both koala and tiger renders."""
    import chainer
    from neuralcollage.backend import to_numpy
    from neuralcollage.links import fastconv
    gen, dis, enc = bundle.generator, bundle.discriminator, bundle.encoder
    k = base_record(bundle)["n_classes"]
    with chainer.using_config("train", False), chainer.no_backprop_mode(), fastconv.constant_parameters():
        if by == "reconstruction" and enc is not None:
            xd = gen.device.send(x)
            phi_x = to_numpy(dis.feature_vector(xd).array) if dis is not None else None
            costs = []
            for c in range(k):
                z = enc.forward(enc.device.send(x), c).array
                img = gen.forward(gen.device.send(z), c).array
                cost = float(numpy.abs(to_numpy(img) - x).mean())
                if phi_x is not None:
                    phi = to_numpy(dis.feature_vector(img).array)
                    cos = (phi * phi_x).sum(1) / (numpy.linalg.norm(phi, axis=1) * numpy.linalg.norm(phi_x, axis=1)
                                                  + 1e-12)
                    cost += float((1.0 - cos).mean())
                costs.append(cost)
            return int(numpy.argmin(costs))
    return int(class_ranking(bundle, x)[0])


def class_ranking(bundle, x):
    """The base model's classes ordered from the one the images ``x`` (NCHW float32 in [-1, 1]) resemble most,
    by :func:`nearest_class`'s ``by="scores"`` criterion: ``(K,)`` int array."""
    import chainer
    from neuralcollage.backend import to_numpy
    from neuralcollage.links import fastconv
    gen, dis = bundle.generator, bundle.discriminator
    k = base_record(bundle)["n_classes"]
    with chainer.using_config("train", False), chainer.no_backprop_mode(), fastconv.constant_parameters():
        if dis is not None:
            scores = to_numpy(dis.class_scores(dis.device.send(x)).array)[:, :k]
            return numpy.argsort(-scores.mean(axis=0), kind="stable")
        target = x.mean(axis=(0, 2, 3))
        dists = []
        for c in range(k):
            img = to_numpy(gen.forward(gen.sample_z(8, seed=c), c).array)
            dists.append(float(((img.mean(axis=(0, 2, 3)) - target) ** 2).sum()))
    return numpy.argsort(numpy.asarray(dists), kind="stable")


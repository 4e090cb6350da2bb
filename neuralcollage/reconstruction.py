"""Fitting the generator to one photo before editing it: a feature offset, optionally with pivotal tuning.

Projection (:func:`neuralcollage.project`) finds the latent ``z`` whose image is closest to the photo, but a
photo is rarely on the generator's manifold: on the built-in model held-out rendered faces come back at about
17 dB. :func:`fit_generator` closes the gap for one photo by optimising intermediate features (DESIGN.md §7),
optionally with pivotal tuning of the weights (Roich et al., "Pivotal Tuning for Latent-based Editing of Real
Images", 2021):

* a feature offset ``delta`` (``(1, C, h, w)``, added to the features after blend layer
  ``options.offset_layer``) is optimised so that ``G(z, source)`` with the offset reproduces the photo; the
  fitted generator carries it (:attr:`neuralcollage.models.Generator.feature_offset`) and an edit fades it out
  where the class changes (:func:`edit_generator`), so the new part is drawn by the generator as trained;
* ``tune="none"`` (the ``"features"`` reconstruction, the default) leaves every weight as trained: the
  fitted generator shares them, the layers before the offset run once, and an sCBN edit draws exactly what
  the trained generator draws for the target class, in the photo's context;
* ``tune="all"`` (``"pivotal"``) also tunes a per-photo copy of every weight except the class tables (the
  rows of the conditional batch norms' ``gammas``/``betas``), with a locality regulariser that keeps the copy
  equal to the original generator on ``G'(z, c)`` for the other classes ``c`` and ``G'(z + noise * n,
  source)`` for latents near the pivot (:data:`ANCHOR_PAIRS` such pairs, drawn once and cycled through).  It
  draws the photo's own parts too well: on the built-in model 8 of 12 held-out part translations succeed
  with it, 12 of 12 with ``"features"`` (docs/reconstruction.md).

The loss of one step is ``mean((G'(z, source; delta) - x) ** 2)``, plus ``locality * mean((G'(a) - G(a)) **
2)`` over two anchors ``a`` when weights are tuned; Adam on the weights (``lr``) and on the offset
(``offset_lr``), test-mode batch norm. Everything is seeded (``options.seed`` draws the anchors' noise), so a
fit is repeatable: on the CPU the same inputs give the same bits, which is what lets recipes replay a fitted
edit.

The fit is per-photo state and is never written to the shipped model files: an offset (for ``collage256``
128 x 128 x 96 float32, 6 MB) and, with tuned weights, one more set of weights (about 0.2 GB for
``collage256`` in float32, plus Adam's two moments during the fit).
"""
from neuralcollage import _compat  # noqa: F401

import dataclasses
import math
import time

import chainer
import chainer.functions as F
import numpy

from neuralcollage import backend
from neuralcollage.io import from_model, to_model

__all__ = ["RECONSTRUCTIONS", "FIT_METHODS", "DEFAULT_RECONSTRUCTION", "PROJECTION_STEPS", "projection_steps",
           "fit_options", "WARN_PROJECTION_PSNR", "WARN_FEATURE_SIMILARITY",
           "FitOptions", "PhotoFit", "fit_generator", "model_psnr", "feature_similarity", "fit_warning",
           "edit_generator", "fade_offset"]

#: ``"projection"``: the latent alone (the paper's pipeline); ``"features"``: projection, then
#: :func:`fit_generator` with the generator frozen (only a feature offset is fitted, ``tune="none"``);
#: ``"pivotal"``: projection, then the fit tunes the generator's weights too (``tune="all"``).
RECONSTRUCTIONS = ("projection", "features", "pivotal")
#: The reconstructions that fit the photo (:func:`fit_generator`).
FIT_METHODS = ("features", "pivotal")
#: ``"features"``: on the built-in model it reproduces held-out faces at 39 dB and part close-ups at 34 dB
#: (17 and 13 dB with the projection alone) and, since the generator's weights stay as trained, keeps part
#: translation at 12/12; the weight tuning of ``"pivotal"`` drops it to 8/12 (docs/reconstruction.md).
DEFAULT_RECONSTRUCTION = "features"

#: Adam steps of the projection before each reconstruction (the ``steps=None`` of the photo pipeline).  A fit
#: makes the projection's length matter little: with 50 steps the features fit reaches 38.5 / 33.2 dB
#: (whole faces / close-ups; 39.3 / 34.1 with 200) and the pivotal one 33.9 / 29.4 (33.1 / 29.4), at a
#: quarter of the projection's time (docs/reconstruction.md).
PROJECTION_STEPS = {"projection": 200, "features": 50, "pivotal": 50}


def projection_steps(reconstruction, steps=None):
    """``steps``, or the default projection steps of ``reconstruction`` (:data:`PROJECTION_STEPS`) when None."""
    if steps is not None:
        return steps
    if reconstruction not in PROJECTION_STEPS:
        raise ValueError(f"reconstruction must be one of {', '.join(RECONSTRUCTIONS)}; got {reconstruction!r}")
    return PROJECTION_STEPS[reconstruction]

#: The photo is "far from what the model can draw" when the projection alone (before any fit: the fit
#: reproduces almost any picture, a real photo on the cartoon model included) reaches less than this PSNR (dB)
#: or less than this cosine similarity of the discriminator's features (:func:`feature_similarity`).  Chosen
#: on the built-in model (docs/reconstruction.md): held-out rendered whole faces project at 13.7-22.2 dB and
#: similarity 0.91-0.96 (4 checked; none warned); the two real photos of tests/data at 15.8 dB / 0.73 and 12.2 dB / 0.83
#: (both warned); part close-ups, at the edge of what the 64 px model draws, are warned about a third of the
#: time.
WARN_PROJECTION_PSNR = 13.0
WARN_FEATURE_SIMILARITY = 0.8

#: When an edit crops a part of the photo (a close-up), the crop is outside the framing the model was trained
#: on whatever the photo, so the projection alone says little: on the built-in model half of the held-out
#: renders' close-ups project below the thresholds above, as do two thirds of real photos' close-ups.  The
#: photo is then judged as a whole instead: far when the discriminator's score of its centred square, at the
#: model's resolution and for the source class, is below this (:func:`photo_score`; 0 is the boundary a
#: hinge-loss discriminator is trained to put between real and generated pictures).  On the built-in model it
#: is below 0 for 12 of 200 held-out render photos and for 7 of the 8 real photos tried (docs/reconstruction.md).
WARN_PHOTO_SCORE = 0.0

#: :attr:`FitOptions.tune`'s values.
TUNE_CHOICES = ("none", "after-offset", "all")


def fit_options(reconstruction, fit=None):
    """The :class:`FitOptions` a reconstruction fits with, or None for ``"projection"``.

    Args:
        reconstruction: one of :data:`RECONSTRUCTIONS`.
        fit: :class:`FitOptions` (None: the method's defaults); its ``tune`` must agree with the method
            (``"none"`` for ``"features"``, another value for ``"pivotal"``).

    Raises:
        ValueError: an unknown method, options of another type, or options of the other method.
    """
    if reconstruction not in RECONSTRUCTIONS:
        raise ValueError(f"reconstruction must be one of {', '.join(RECONSTRUCTIONS)}; got {reconstruction!r}")
    if fit is not None and not isinstance(fit, FitOptions):
        raise ValueError(f"fit must be a neuralcollage.reconstruction.FitOptions, got {type(fit).__name__}")
    if reconstruction == "projection":
        return None
    if fit is None:
        return FitOptions() if reconstruction == "features" else FitOptions.pivotal()
    if fit.method != reconstruction:
        raise ValueError(f"fit options with tune={fit.tune!r} are the {fit.method!r} reconstruction, not "
                         f"{reconstruction!r}")
    return fit


def _number(name, value, low, high, *, integer=False, low_open=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, numpy.integer, numpy.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if integer and float(value) != int(value):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    v = int(value) if integer else float(value)
    if not math.isfinite(v) or v < low or v > high or (low_open and v == low):
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be in {bracket}{low}, {high}], got {value!r}")
    return v


@dataclasses.dataclass(frozen=True)
class FitOptions:
    """Settings of :func:`fit_generator` (defaults measured in docs/reconstruction.md).

    The defaults are the ``"features"`` reconstruction (the generator frozen, a feature offset fitted);
    :meth:`pivotal` gives the ``"pivotal"`` one (every weight but the class tables tuned too).

    Attributes:
        steps: Adam steps, 0..5000 (0: no fitting; the copy is the original generator).
        tune: which of the generator's weights the fit tunes: ``"none"`` (the generator stays as trained),
            ``"after-offset"`` (the blocks after the offset's layer and the output layers) or ``"all"``
            (every weight but the class tables).
        lr: Adam step size of the generator's tuned weights, (0, 0.1].
        offset_lr: Adam step size of the feature offset, [0, 10] (0: no offset).
        offset_layer: the blend layer whose output gets the offset, counted from the end when negative
            (-2: the features at half the output resolution; 0 is after the first linear layer).
        locality: weight of the locality regulariser, [0, 1000].
        noise: standard deviation of the latent noise of the "near the pivot" anchor, [0, 10].
        seed: seed of the anchors' noise (int >= 0).
        fade_context: at edit time, how much of the edit's context ring (the class region beyond the mask)
            the offset is faded out over, [0, 1]: 1 the whole class region, 0 the mask only, so that around
            the part the generator's edit keeps matching the photo (on the built-in model the edited crop
            then differs from the photo by 22 instead of 52 grey levels in the ring that Poisson blending
            spans, but part translation drops from 88% to 84% of 100 held-out edits; docs/reconstruction.md).
    """
    steps: int = 100
    lr: float = 3e-4
    offset_lr: float = 0.1
    offset_layer: int = -2
    locality: float = 0.3
    noise: float = 0.5
    seed: int = 0
    tune: str = "none"
    fade_context: float = 1.0

    def __post_init__(self):
        if self.tune not in TUNE_CHOICES:
            raise ValueError(f"fit tune must be one of {', '.join(TUNE_CHOICES)}, got {self.tune!r}")
        object.__setattr__(self, "steps", _number("fit steps", self.steps, 0, 5000, integer=True))
        object.__setattr__(self, "lr", _number("fit lr", self.lr, 0.0, 0.1, low_open=True))
        object.__setattr__(self, "offset_lr", _number("fit offset_lr", self.offset_lr, 0.0, 10.0))
        object.__setattr__(self, "offset_layer", _number("fit offset_layer", self.offset_layer, -64, 64,
                                                         integer=True))
        object.__setattr__(self, "locality", _number("fit locality", self.locality, 0.0, 1000.0))
        object.__setattr__(self, "noise", _number("fit noise", self.noise, 0.0, 10.0))
        object.__setattr__(self, "seed", _number("fit seed", self.seed, 0, 2 ** 32 - 1, integer=True))
        object.__setattr__(self, "fade_context", _number("fit fade_context", self.fade_context, 0.0, 1.0))

    @classmethod
    def pivotal(cls, **overrides):
        """The ``"pivotal"`` reconstruction's options: every weight but the class tables tuned, with the
        locality regulariser, and a slower offset (its measured settings)."""
        return cls(**{"tune": "all", "offset_lr": 0.01, **overrides})

    @property
    def method(self):
        """The reconstruction these options fit: ``"features"`` (``tune="none"``) or ``"pivotal"``."""
        return "features" if self.tune == "none" else "pivotal"

    def to_json(self):
        """The options as a JSON-able dict (what a recipe records)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data):
        """Options from :meth:`to_json`'s dict; unknown keys or bad values raise ValueError.  A dict without
        ``tune`` or ``fade_context`` (recipes written before they existed, when every fit tuned all weights
        and faded the offset over the whole class region) means ``tune="all"``, ``fade_context=1``."""
        if not isinstance(data, dict):
            raise ValueError(f"fit options must be a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"unknown fit options {unknown}")
        return cls(**{"tune": "all", "fade_context": 1.0, **data})

    def resolve_layer(self, gen):
        """The non-negative blend layer index of ``offset_layer`` for ``gen``."""
        n = gen.n_blend_layers
        layer = self.offset_layer + n if self.offset_layer < 0 else self.offset_layer
        if not 0 <= layer < n:
            raise ValueError(f"fit offset_layer {self.offset_layer} is outside this generator's {n} blend layers")
        return layer


@dataclasses.dataclass
class PhotoFit:
    """What :func:`fit_generator` returns.

    Attributes:
        generator: the fitted per-photo copy (a :class:`~neuralcollage.models.Generator` carrying the
            offset in :attr:`~neuralcollage.models.Generator.feature_offset`), on the original's device.
        z: ``(1, dim_z)`` float32 NumPy, the pivot.
        label: the source class id.
        image: ``(1, 3, R, R)`` float32 NumPy in ``[-1, 1]``: ``G'(z, label)``, the reconstruction.
        psnr: PSNR (dB) of :attr:`image` against the photo crop (uint8 images).
        psnr_before: the same for the original generator at ``z`` (the projection alone).
        losses: the loss after each step (``steps`` floats).
        options: the :class:`FitOptions` used.
        seconds: wall time of the fit.
    """
    generator: object
    z: numpy.ndarray
    label: int
    image: numpy.ndarray
    psnr: float
    psnr_before: float
    losses: list
    options: FitOptions
    seconds: float


def model_psnr(image, target):
    """PSNR (dB) of a model image against the target, both ``(1, 3, R, R)`` float in ``[-1, 1]`` (NumPy),
    compared as uint8 images (how a user sees them)."""
    a = from_model(numpy.asarray(image, numpy.float32)).astype(numpy.float64)
    b = from_model(numpy.asarray(target, numpy.float32)).astype(numpy.float64)
    mse = float(numpy.mean((a - b) ** 2))
    return 10.0 * math.log10(255.0 ** 2 / max(mse, 1e-10))


def feature_similarity(loss, image, target, *, mse_weight=0.2):
    """The cosine similarity of the features in one sample's projection loss
    (:func:`neuralcollage.inversion.project`: ``loss = -cos + mse_weight * mse``), recovered from the loss and
    the images (``(1, 3, R, R)`` float in ``[-1, 1]``)."""
    mse = float(numpy.mean((numpy.asarray(image, numpy.float64) - numpy.asarray(target, numpy.float64)) ** 2))
    return mse_weight * mse - float(loss)


def photo_score(discriminator, photo, class_id, *, resolution):
    """The discriminator's score of a photo as a whole: its centred square resized to ``resolution``, judged
    for class ``class_id`` (a float; a hinge-loss discriminator scores its training pictures above 0).

    Args:
        discriminator: a class-conditional discriminator (``D(x, y)`` -> ``(N,)`` scores).
        photo: ``(H, W, 3)`` uint8 RGB.
        class_id: the photo's class (int).
        resolution: the model's resolution ``R``.
    """
    from neuralcollage import blending
    square = blending.crop_and_resize(photo, blending.centre_box(photo.shape), resolution)
    x = discriminator.xp.asarray(to_model(square[None]).astype(numpy.float32))
    y = discriminator.xp.asarray(numpy.array([class_id], numpy.int32))
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        return float(backend.to_numpy(discriminator(x, y).array).reshape(-1)[0])


def fit_warning(projection_psnr, similarity=None, *, model_name, what="the photo", whole_photo_score=None):
    """One warning line when the photo is far from what the model can draw, else None.

    The projection alone judges it (:data:`WARN_PROJECTION_PSNR`, :data:`WARN_FEATURE_SIMILARITY`), unless
    ``whole_photo_score`` is given (the edit crops a part of the photo): then that score alone does
    (:data:`WARN_PHOTO_SCORE`).

    Args:
        projection_psnr: PSNR (dB) of the projection alone against the crop.
        similarity: :func:`feature_similarity` of the projection (None: not known, e.g. no discriminator).
        model_name: the model's name (the built-in model gets a hint about what it draws).
        whole_photo_score: :func:`photo_score` of the whole photo when the crop is a part of it, else None.
    """
    if whole_photo_score is not None:
        if whole_photo_score >= WARN_PHOTO_SCORE:
            return None
        shown = f"the discriminator scores the whole photo {whole_photo_score:.2f}; warned below {WARN_PHOTO_SCORE:g}"
    else:
        far = projection_psnr is not None and projection_psnr < WARN_PROJECTION_PSNR
        far = far or (similarity is not None and similarity < WARN_FEATURE_SIMILARITY)
        if not far:
            return None
        shown = f"projection alone {projection_psnr:.1f} dB"
        if similarity is not None:
            shown += f", feature similarity {similarity:.2f}"
        shown += f"; warned below {WARN_PROJECTION_PSNR:g} dB or {WARN_FEATURE_SIMILARITY:g}"
    if model_name == "builtin":
        hint = ("the built-in model draws 64 px cartoon animal faces; real photos need an official model "
                "(see `collage models`)")
    else:
        hint = "a model trained on pictures like it would suit better (see `collage models`)"
    return (f"warning: {what} is far from what model {model_name!r} can draw ({shown}), so the edit may not "
            f"resemble it even where the fit reproduces it; {hint}")


def _is_class_table(path):
    return path.endswith("/gammas/W") or path.endswith("/betas/W")


def _target_image(image, resolution):
    """The photo crop as ``(1, 3, R, R)`` float32 NumPy in ``[-1, 1]``."""
    arr = numpy.asarray(backend.to_numpy(image))
    if arr.dtype == numpy.uint8 and arr.shape == (resolution, resolution, 3):
        arr = to_model(arr[None])
    elif arr.dtype.kind == "f" and arr.shape in ((3, resolution, resolution), (1, 3, resolution, resolution)):
        arr = arr.reshape(1, 3, resolution, resolution)
    else:
        raise ValueError(f"image must be one {resolution}x{resolution} RGB crop: ({resolution}, {resolution}, 3) "
                         f"uint8 or (1, 3, {resolution}, {resolution}) float; got {arr.dtype} {arr.shape}")
    arr = arr.astype(numpy.float32)
    if not numpy.all(numpy.isfinite(arr)):
        raise ValueError("image contains NaN or inf")
    return arr


def _tuned_path(path, tune, gen, layer):
    if _is_class_table(path) or tune == "none":
        return False
    if tune == "all":
        return True
    first = path.strip("/").split("/")[0]
    later = {f"block{b + 2}" for b in range(layer, gen.n_blocks)} | {gen.tail_bn_name, gen.tail_conv_name}
    return first in later


#: Anchor pairs of the locality regulariser, drawn once per fit and cycled through (their images under the
#: original generator are computed once, in one batch).
ANCHOR_PAIRS = 16


def _anchors(gen, z, label, options):
    """The locality regulariser's anchors on ``gen``'s device: ``(latents (2P, dim_z), class ids (2P,))``,
    pair ``p`` being ``(z, another class)`` and ``(z + noise * n_p, label)``; ``(None, None)`` without
    locality or steps."""
    if options.locality == 0 or options.steps == 0 or options.tune == "none":
        return None, None
    pairs = min(options.steps, ANCHOR_PAIRS)
    others = [c for c in range(gen.n_classes) if c != label] or [label]
    noise = backend.random_state(options.seed).standard_normal((pairs,) + z.shape[1:]).astype(numpy.float32)
    latents = numpy.empty((2 * pairs, z.shape[1]), numpy.float32)
    latents[0::2] = z
    latents[1::2] = z + options.noise * noise
    ids = numpy.empty(2 * pairs, numpy.int32)
    ids[0::2] = [others[p % len(others)] for p in range(pairs)]
    ids[1::2] = label
    return gen.device.send(latents), gen.device.send(ids)


def fit_generator(gen, image, z, label, *, options=None, callback=None):
    """Tune a copy of ``gen`` (and a feature offset) so that ``G'(z, label)`` reproduces ``image``.

    Args:
        gen: a :class:`~neuralcollage.models.Generator` (not modified).
        image: the photo crop: ``(R, R, 3)`` uint8 RGB or ``(1, 3, R, R)`` float32 in ``[-1, 1]``.
        z: ``(1, dim_z)`` (or ``(dim_z,)``) float latent, the pivot (e.g. :func:`neuralcollage.project`'s).
        label: the photo's class id.
        options: :class:`FitOptions` (None: the defaults).
        callback: ``callback(step, loss)`` after every step (1-based), e.g. for a progress bar.

    Returns:
        :class:`PhotoFit`.
    """
    from neuralcollage.models.generator import Generator
    options = FitOptions() if options is None else options
    if not isinstance(options, FitOptions):
        raise TypeError(f"options must be FitOptions, got {type(options).__name__}")
    if not isinstance(gen, Generator):
        raise ValueError(f"pivotal tuning needs a Generator (sCBN ResNet), not {type(gen).__name__}; use "
                         "reconstruction='projection'")
    t0 = time.time()
    xp = gen.xp
    target = gen.device.send(_target_image(image, gen.resolution))
    z = numpy.asarray(backend.to_numpy(z), dtype=numpy.float32)
    if z.size != gen.dim_z or not numpy.all(numpy.isfinite(z)):
        raise ValueError(f"z must hold {gen.dim_z} finite values (one latent), got shape {z.shape}")
    z = z.reshape(1, -1)
    if isinstance(label, bool) or not isinstance(label, (int, numpy.integer)) or not 0 <= label < gen.n_classes:
        raise ValueError(f"label must be a class id in 0..{gen.n_classes - 1}, got {label!r}")
    label = int(label)
    layer = options.resolve_layer(gen)

    # with the layers up to the offset frozen, their features are computed once and each step runs only the rest
    frozen_front = options.tune != "all"
    tuned = gen.copy(mode="share" if options.tune == "none" else "copy")
    tuned.feature_offset = None
    optimizer = None
    if options.tune != "none":
        optimizer = chainer.optimizers.Adam(alpha=options.lr)
        optimizer.setup(tuned)
        for path, param in tuned.namedparams():
            if not _tuned_path(path, options.tune, gen, layer):
                param.update_rule.enabled = False
    zd = gen.device.send(z)
    own = gen.device.send(numpy.array([label], numpy.int32))
    anchors, anchor_ids = _anchors(gen, z, label, options)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        before = backend.to_numpy(gen.forward(zd, own).array)
        references = gen.forward(anchors, anchor_ids).array if anchors is not None else None
        if frozen_front:
            front = gen.features(zd, own, layer).array
            anchor_front = gen.features(anchors, anchor_ids, layer).array if anchors is not None else None
    resolution, width = gen.blend_resolutions[layer], int(gen.channels[layer] * gen.ch)
    offset = chainer.Parameter(xp.zeros((1, width, resolution, resolution), numpy.float32))
    offset_optimizer = None
    if options.offset_lr > 0:
        offset_optimizer = chainer.optimizers.Adam(alpha=options.offset_lr)
        holder = chainer.Link()
        with holder.init_scope():
            holder.offset = offset
        offset_optimizer.setup(holder)
    pad = xp.zeros((2, width, resolution, resolution), numpy.float32)
    losses = []
    with chainer.using_config("train", False):
        for step in range(options.steps):
            pair = None if anchors is None else slice(2 * (step % (len(anchors) // 2)),
                                                      2 * (step % (len(anchors) // 2)) + 2)
            if frozen_front:
                h, ids = front + offset, own
                if pair is not None:
                    h = F.concat([h, anchor_front[pair]], axis=0)
                    ids = xp.concatenate([own, anchor_ids[pair]])
                out = tuned.forward_from(h, ids, layer)
            elif pair is None:
                tuned.feature_offset = (layer, offset)
                out = tuned.forward(zd, own)
            else:
                tuned.feature_offset = (layer, F.concat([offset, pad], axis=0))
                out = tuned.forward(xp.concatenate([zd, anchors[pair]]), xp.concatenate([own, anchor_ids[pair]]))
            loss = F.mean_squared_error(out[:1], target)
            if pair is not None:
                loss = loss + options.locality * F.mean_squared_error(out[1:], references[pair])
            tuned.cleargrads()
            offset.cleargrad()
            loss.backward()
            if optimizer is not None:
                optimizer.update()
            if offset_optimizer is not None:
                offset_optimizer.update()
            losses.append(float(loss.array))
            if callback is not None:
                callback(step + 1, losses[-1])
    tuned.cleargrads()
    tuned.feature_offset = (layer, offset.array) if options.offset_lr > 0 else None
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        rec = backend.to_numpy(tuned.forward(zd, own).array)
    target_np = backend.to_numpy(target)
    return PhotoFit(generator=tuned, z=z, label=label, image=rec, psnr=model_psnr(rec, target_np),
                    psnr_before=model_psnr(before, target_np), losses=losses, options=options,
                    seconds=time.time() - t0)


def edit_generator(fit, class_region=None):
    """The generator an edit of a fitted photo renders with.

    Args:
        fit: a :class:`PhotoFit`, or None (then None is returned: edit with the original generator).
        class_region: ``(R, R)`` float in ``[0, 1]``, where the edit changes the class (None: nowhere); the
            offset is faded out there (:func:`fade_offset`).

    Returns:
        a generator sharing the fitted generator's parameters, or None.
    """
    if fit is None:
        return None
    return fade_offset(fit.generator, class_region)


def fade_offset(gen, region):
    """``gen`` with its feature offset faded out over ``region``.

    The offset carries the photo's own details, which would pull a new class (or another latent) back
    towards the photo's: where an edit or a painting changes the picture the generator draws on its own.

    Args:
        gen: a generator; one without :attr:`~neuralcollage.models.Generator.feature_offset` is returned as
            it is.
        region: ``(H, W)`` float in ``[0, 1]`` (any size; resized to the offset's resolution by area), 1
            where the offset is removed; None: nowhere.

    Returns:
        ``gen``, or a view sharing its parameters whose offset is ``offset * (1 - region)``.
    """
    if getattr(gen, "feature_offset", None) is None or region is None:
        return gen
    region = numpy.clip(numpy.asarray(region, numpy.float32), 0.0, 1.0)
    if not region.any():
        return gen
    from neuralcollage import maps
    layer, offset = gen.feature_offset
    keep = 1.0 - numpy.clip(maps.resize_mask(region, offset.shape[-1]), 0.0, 1.0)
    view = gen.copy(mode="share")
    view.feature_offset = (layer, offset * gen.device.send(keep.astype(numpy.float32))[None, None])
    return view

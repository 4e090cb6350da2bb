"""Renders and measurements of a layer ablation: one edit per latent and layer setting, the change it makes
inside and outside the region, the classifier's view of the region crop, and the two ablations
(:func:`run_scbn_ablation`, :func:`run_blend_ablation`); the metrics are described in
:mod:`neuralcollage.analysis.ablation`."""
from neuralcollage import _compat  # noqa: F401

import math
from dataclasses import dataclass

import chainer
import cv2
import numpy

from neuralcollage import io as ncio
from neuralcollage import maps
from neuralcollage.analysis.ablation.inputs import check_settings, region_mask
from neuralcollage.backend import to_numpy
from neuralcollage.blending import dilate_mask, square_crop_box
from neuralcollage.collage import blend_edit, scbn_edit

__all__ = ["CROP_MODES", "SCBN_METRICS", "BLEND_METRICS", "render_scbn", "render_blend", "low_frequency_share",
           "outside_change", "inside_change", "outside_energy_share", "donor_transfer", "crop_box", "region_crops",
           "ClassifierSpec", "class_probabilities", "AblationResult", "run_scbn_ablation", "run_blend_ablation"]

SCBN_METRICS = ("success_rate", "p_target", "p_source", "inside_change", "outside_change",
                "outside_energy_share", "low_freq_share")
BLEND_METRICS = ("donor_transfer", "p_class", "inside_change", "outside_change", "outside_energy_share",
                 "low_freq_share")

# ----------------------------------------------------------------------------------------------------
# rendering

def _render(fn, n, batch_size):
    """``fn(slice)`` -> ``(n, 3, R, R)`` float in [-1, 1] per batch, as ``(n, R, R, 3)`` uint8."""
    out = []
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        for start in range(0, n, int(batch_size)):
            x = fn(slice(start, min(n, start + int(batch_size))))
            out.append(ncio.from_model(to_numpy(x)))
    return numpy.concatenate(out, axis=0)


def render_scbn(gen, z, source, target, mask, *, layers="all", feather=0.0, batch_size=16):
    """Render the sCBN edit ``source -> target`` inside ``mask`` on the selected class layers
    (:func:`neuralcollage.collage.scbn_edit` in batches).

    Parameters
    ----------
    gen : Generator
    z : array (N, dim_z) float32
    source, target : int
        Class outside the region (and on unselected layers) / inside the region.
    mask : array (R, R) float in [0, 1]
        At the generator's resolution.
    layers : layer spec
        Class layers that get the collage (``"none"``: the unedited ``G(z, source)``).
    feather : float
        Gaussian sigma in pixels softening the class map's boundary.
    batch_size : int

    Returns
    -------
    numpy.ndarray (N, R, R, 3) uint8
    """
    z = to_numpy(z)
    return _render(lambda sl: scbn_edit(gen, z[sl], int(source), int(target), mask, layers=layers,
                                        feather=feather), len(z), batch_size)


def render_blend(gen, z, z_donor, cls, mask, *, layers="all", weight=1.0, feather=0.0, batch_size=16):
    """Render feature blending of the donor latents into ``mask`` on the selected blend layers
    (:func:`neuralcollage.collage.blend_edit` of ``mask * weight`` in batches).

    Parameters
    ----------
    gen : Generator
    z, z_donor : array (N, dim_z) float32
        Base latents (outside the region) and donor latents (inside).
    cls : int
        Class of all streams.
    mask : array (R, R) float in [0, 1]
    layers : layer spec
        Blend layers that blend (``"none"``: the unedited ``G(z, cls)``).
    weight : float in [0, 1]
        Donor weight inside the mask.
    feather : float
        Gaussian sigma in pixels softening the mask.

    Returns
    -------
    numpy.ndarray (N, R, R, 3) uint8
    """
    weight = float(weight)
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"blend weight must be in [0, 1], got {weight:g}")
    z, z_donor = to_numpy(z), to_numpy(z_donor)
    if z.shape != z_donor.shape:
        raise ValueError(f"base latents {z.shape} and donor latents {z_donor.shape} differ in shape")
    weighted = numpy.asarray(mask, numpy.float32) * numpy.float32(weight)
    return _render(lambda sl: blend_edit(gen, z[sl], z_donor[sl], int(cls), weighted, layers=layers,
                                         feather=feather), len(z), batch_size)


# ----------------------------------------------------------------------------------------------------
# metrics

def _diff(edited, reference):
    e = numpy.asarray(edited, numpy.float64)
    r = numpy.asarray(reference, numpy.float64)
    if e.shape != r.shape:
        raise ValueError(f"edited {e.shape} and reference {r.shape} images differ in shape")
    return e - r


def _channels_last(diff):
    d = numpy.asarray(diff, numpy.float64)
    if d.ndim == 2:
        d = d[:, :, None]
    if d.ndim != 3:
        raise ValueError(f"difference image must be (H, W) or (H, W, C), got shape {d.shape}")
    return d


def low_frequency_share(diff, *, radius=None):
    """Share of a difference image's energy at low spatial frequencies.

    Energy ``E(u, v) = mean_c |FFT2(diff[..., c])(u, v)|^2``; the share is the sum of ``E`` over the
    frequencies with ``sqrt(u^2 + v^2) < radius`` (``u, v`` in cycles per image, DC included) over the
    sum of ``E`` everywhere.

    Parameters
    ----------
    diff : array (H, W) or (H, W, C)
        E.g. edited minus unedited image, any real dtype.
    radius : float, optional
        Cut-off in cycles per image; default ``min(H, W) / 8``.

    Returns
    -------
    float
        In [0, 1]; NaN when ``diff`` is all zero.

    Examples
    --------
    >>> round(low_frequency_share(numpy.full((32, 32), 5.0)), 6)
    1.0
    >>> checker = numpy.indices((32, 32)).sum(axis=0) % 2 * 2.0 - 1
    >>> round(low_frequency_share(checker), 6)
    0.0
    """
    d = _channels_last(diff)
    h, w = d.shape[:2]
    radius = min(h, w) / 8.0 if radius is None else float(radius)
    energy = (numpy.abs(numpy.fft.fft2(d, axes=(0, 1))) ** 2).mean(axis=2)
    total = energy.sum()
    if total <= 0:
        return math.nan
    fy = numpy.fft.fftfreq(h) * h
    fx = numpy.fft.fftfreq(w) * w
    low = numpy.hypot(fy[:, None], fx[None, :]) < radius
    return float(energy[low].sum() / total)


def _region(mask):
    m = numpy.asarray(mask, numpy.float64)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D (H, W), got shape {m.shape}")
    return m > 0.5


def outside_change(edited, reference, mask, *, dilate=0):
    """Mean ``|edited - reference|`` (channels and pixels) outside ``mask > 0.5`` dilated by ``dilate`` px.

    Images ``(H, W, C)`` in [0, 255] units (uint8 or float); NaN when no pixel is outside.
    """
    d = numpy.abs(_channels_last(_diff(edited, reference)))
    outside = ~dilate_mask(_region(mask), radius=int(dilate))
    if not outside.any():
        return math.nan
    return float(d[outside].mean())


def inside_change(edited, reference, mask):
    """Mean ``|edited - reference|`` (channels and pixels) over ``mask > 0.5``; NaN for an empty region."""
    d = numpy.abs(_channels_last(_diff(edited, reference)))
    inside = _region(mask)
    if not inside.any():
        return math.nan
    return float(d[inside].mean())


def outside_energy_share(diff, mask, *, dilate=0):
    """``sum diff^2`` outside ``mask > 0.5`` dilated by ``dilate`` px, divided by ``sum diff^2``.

    ``diff`` is ``(H, W)`` or ``(H, W, C)``; NaN for an all-zero ``diff``.
    """
    d2 = (_channels_last(diff) ** 2).sum(axis=2)
    total = d2.sum()
    if total <= 0:
        return math.nan
    outside = ~dilate_mask(_region(mask), radius=int(dilate))
    return float(d2[outside].sum() / total)


def donor_transfer(edited, reference, donor, mask):
    """``1 - mean|edited - donor| / mean|reference - donor|`` over ``mask > 0.5`` (NaN when the
    reference already equals the donor there): 1 when the region shows the donor, 0 when unchanged."""
    inside = _region(mask)
    to_donor = numpy.abs(_channels_last(_diff(edited, donor)))[inside].mean()
    base = numpy.abs(_channels_last(_diff(reference, donor)))[inside].mean()
    if not inside.any() or base <= 0:
        return math.nan
    return float(1.0 - to_donor / base)


CROP_MODES = ("bbox", "square")


def crop_box(mask, *, margin=0.0, crop="bbox"):
    """The classifier's view of a region: ``(top, left, height, width)`` inside the mask's image.

    ``"bbox"``: the bounding box of ``mask > 0.5`` grown by ``margin`` times its longer side on every side
    and clipped to the image (resized to the classifier's square input, so a half-image region is
    stretched).  ``"square"``: :func:`neuralcollage.blending.square_crop_box` (made square on the longer
    side, shifted inside the image; a half-image region then gives the whole image).

    Raises
    ------
    ValueError
        Unknown ``crop``, negative ``margin``, or an empty region.
    """
    if crop not in CROP_MODES:
        raise ValueError(f"crop must be one of {', '.join(CROP_MODES)}, got {crop!r}")
    if not margin >= 0:
        raise ValueError(f"crop margin must be >= 0, got {margin}")
    region = _region(mask)
    if not region.any():
        raise ValueError("the region is empty (no mask pixel > 0.5)")
    if crop == "square":
        top, left, side = square_crop_box(region, margin=margin)
        return top, left, side, side
    rows = numpy.flatnonzero(region.any(axis=1))
    cols = numpy.flatnonzero(region.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    grow = int(math.ceil(margin * max(r1 - r0, c1 - c0) - 1e-9))
    h, w = region.shape
    r0, r1, c0, c1 = max(0, r0 - grow), min(h, r1 + grow), max(0, c0 - grow), min(w, c1 + grow)
    return int(r0), int(c0), int(r1 - r0), int(c1 - c0)


def region_crops(images, mask, *, size, margin=0.0, crop="bbox"):
    """Crops of the region (:func:`crop_box`) resized to a classifier's square input.

    Parameters
    ----------
    images : array (N, H, W, 3) uint8
    mask : array (H, W)
    size : int
        Classifier input side.
    margin : float
        Context around the region's bounding box (fraction of its longer side).
    crop : {"bbox", "square"}

    Returns
    -------
    crops : numpy.ndarray (N, size, size, 3) uint8
        Area averaging when shrinking, bicubic interpolation otherwise.
    box : tuple (top, left, height, width)
    """
    top, left, height, width = box = crop_box(mask, margin=margin, crop=crop)
    size = int(size)
    interpolation = cv2.INTER_AREA if height >= size and width >= size else cv2.INTER_CUBIC
    out = []
    for img in numpy.asarray(images):
        part = numpy.ascontiguousarray(img[top:top + height, left:left + width])
        out.append(part.copy() if part.shape[:2] == (size, size) else
                   cv2.resize(part, (size, size), interpolation=interpolation))
    return numpy.stack(out), box


@dataclass(frozen=True)
class ClassifierSpec:
    """A classifier for the metrics.

    Attributes
    ----------
    fn : callable
        ``fn(x) -> logits (N, K)`` (array or Variable) for ``x (N, 3, size, size)`` float32 in [-1, 1] on
        ``device``: a :class:`neuralcollage.models.classifier.Classifier`, ``Discriminator.class_scores``
        or any function.
    size : int
        Input side.
    name : str
        For reports.
    """
    fn: object
    size: int
    name: str = "classifier"

    @classmethod
    def wrap(cls, classifier, *, size=None, default_size=None, name=None):
        """A :class:`ClassifierSpec` from a spec, a link or a callable (None stays None); ``size``
        defaults to the link's ``resolution`` (or ``config["resolution"]``), else ``default_size``."""
        if classifier is None or isinstance(classifier, ClassifierSpec):
            return classifier
        if not callable(classifier):
            raise ValueError(f"classifier must be callable (x -> logits), got {type(classifier).__name__}")
        owner = getattr(classifier, "__self__", classifier)
        if size is None:
            size = getattr(owner, "resolution", None)
            if size is None and isinstance(getattr(owner, "config", None), dict):
                size = owner.config.get("resolution")
        size = size or default_size
        if not size:
            raise ValueError("the classifier's input size is unknown: pass classifier_size=")
        if name is None:
            if owner is not classifier:
                name = f"{type(owner).__name__}.{classifier.__name__}"
            else:
                name = getattr(classifier, "__name__", None) or type(classifier).__name__
        return cls(classifier, int(size), name)


def class_probabilities(classifier, images, *, batch_size=64):
    """Softmax class probabilities of HWC uint8 images ``(N, S, S, 3)`` (``S`` = the classifier's size).

    Parameters
    ----------
    classifier : ClassifierSpec
    images : array (N, S, S, 3) uint8

    Returns
    -------
    numpy.ndarray (N, K) float64
    """
    owner = getattr(classifier.fn, "__self__", classifier.fn)
    device = getattr(owner, "device", None) if isinstance(owner, chainer.Link) else None
    out = []
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        for start in range(0, len(images), batch_size):
            x = ncio.to_model(numpy.ascontiguousarray(images[start:start + batch_size]))
            if device is not None:
                x = device.send(x)
            logits = classifier.fn(x)
            out.append(to_numpy(logits).astype(numpy.float64))
    logits = numpy.concatenate(out, axis=0)
    if logits.ndim != 2:
        raise ValueError(f"classifier returned shape {logits.shape}; expected logits (N, K)")
    logits = logits - logits.max(axis=1, keepdims=True)
    p = numpy.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


# ----------------------------------------------------------------------------------------------------
# ablations

class AblationResult(list):
    """The rows of an ablation: a list with one dict per setting (the columns: see
    :mod:`neuralcollage.analysis.ablation`).

    Attributes
    ----------
    samples : list of dict
        One row per setting and sample.
    images : list of numpy.ndarray (N, R, R, 3) uint8
        ``images[i]``: the renders of row ``i``.
    reference : numpy.ndarray (N, R, R, 3) uint8
        Unedited images.
    donor : numpy.ndarray or None
        Donor images (blending).
    mask : numpy.ndarray (R, R) float32
    seeds : list of int or None
    meta : dict
        Method, classes, region, classifier and the options used (for reports).
    """

    def __init__(self, rows=(), *, samples=(), images=None, reference=None, donor=None, mask=None,
                 seeds=None, meta=None):
        super().__init__(rows)
        self.samples = list(samples)
        self.images = list(images or [])
        self.reference = reference
        self.donor = donor
        self.mask = mask
        self.seeds = seeds
        self.meta = dict(meta or {})


def _mask_for(gen, mask):
    return region_mask(mask, gen.resolution)


def _layer_columns(layers, n_layers):
    if layers:
        return dict(first_layer=layers[0], last_layer=layers[-1], n_selected=len(layers),
                    depth=float(numpy.mean(layers)))
    return dict(first_layer="", last_layer="", n_selected=0, depth=math.nan)


def _change_metrics(edited, reference, mask, *, dilate, radius):
    d = _diff(edited, reference)
    return dict(inside_change=inside_change(edited, reference, mask),
                outside_change=outside_change(edited, reference, mask, dilate=dilate),
                outside_energy_share=outside_energy_share(d, mask, dilate=dilate),
                low_freq_share=low_frequency_share(d, radius=radius))


def _mean(values):
    vals = [v for v in values if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v))]
    return float(numpy.mean(vals)) if vals else math.nan


def _aggregate(samples, keys, metrics):
    row = dict(keys)
    row["n_samples"] = len(samples)
    for m in metrics:
        row[m] = _mean([s[m] for s in samples])
    return row


def _class_index(gen, value, name):
    if not isinstance(value, (int, numpy.integer)) or not 0 <= int(value) < gen.n_classes:
        raise ValueError(f"{name} class {value!r} is not a class of this generator (valid: 0-{gen.n_classes - 1})")
    return int(value)


def _defaults(gen, dilate, radius):
    r = gen.resolution
    return (max(1, r // 16) if dilate is None else int(dilate)), (r / 8.0 if radius is None else float(radius))


def _run_jobs(jobs, *, method, reference, mask, classifier, crop_margin, crop, dilate, radius, sample_keys,
              measure, metrics, n_layers, progress):
    """Render every job ``(setting, layers, weight, role, render)`` and measure it (rows, samples, images)."""
    rows, samples, images = [], [], []
    for i, (spec, layers, weight, role, render) in enumerate(jobs):
        edited = render()
        p = None
        if classifier is not None:
            crops, _ = region_crops(edited, mask, size=classifier.size, margin=crop_margin, crop=crop)
            p = class_probabilities(classifier, crops)
        layers_text = "n/a" if role == "bound" and not layers else maps.format_layers(layers, n_layers)
        keys = dict(method=method, role=role, setting=spec, layers=layers_text,
                    **_layer_columns(layers, n_layers), weight=weight)
        per = []
        for j in range(len(edited)):
            row = dict(keys, sample=j, **sample_keys[j])
            row.update(measure(j, edited[j], None if p is None else p[j]))
            row.update(_change_metrics(edited[j], reference[j], mask, dilate=dilate, radius=radius))
            per.append(row)
        samples += per
        rows.append(_aggregate(per, keys, metrics))
        images.append(edited)
        if progress is not None:
            progress(i + 1, len(jobs), spec if method == "scbn" or role != "edit" else f"{spec} w={weight:g}")
    return rows, samples, images


def _check_latents(gen, *zs):
    zs = [to_numpy(z) for z in zs]
    for z in zs:
        if z.ndim != 2 or z.shape[1] != gen.dim_z or len(z) == 0 or z.shape != zs[0].shape:
            raise ValueError(f"latents must be (N, {gen.dim_z}) with N >= 1 (donors as many as bases), got "
                             + " and ".join(str(tuple(x.shape)) for x in zs))
    return zs


def _classifier_for(gen, classifier, classifier_size, mask, classes, *, crop_margin, crop):
    crop_box(mask, margin=crop_margin, crop=crop)
    classifier = ClassifierSpec.wrap(classifier, size=classifier_size, default_size=gen.resolution)
    if classifier is not None:
        crops, _ = region_crops(numpy.zeros((1, gen.resolution, gen.resolution, 3), numpy.uint8), mask,
                                size=classifier.size)
        k = class_probabilities(classifier, crops).shape[1]
        if k <= max(classes):
            raise ValueError(f"the classifier gives {k} classes; class {max(classes)} needs at least "
                             f"{max(classes) + 1}")
    return classifier


def _meta(method, gen, n_layers, classifier, **kw):
    return dict(method=method, n_layers=n_layers, **kw, classifier=classifier.name if classifier else None,
                classifier_size=classifier.size if classifier else None, resolution=gen.resolution,
                metrics=list(SCBN_METRICS if method == "scbn" else BLEND_METRICS))


def run_scbn_ablation(gen, *, settings, z, source, target, mask, classifier=None, classifier_size=None,
                      crop_margin=0.0, crop="bbox", dilate=None, radius=None, feather=0.0, batch_size=16,
                      seeds=None, include_reference=True, progress=None):
    """Render and measure the sCBN edit ``source -> target`` inside ``mask`` for every layer setting.

    Parameters
    ----------
    gen : Generator
    settings : list of layer specs
        Class-layer selections (``"all"``, ``"0"``, ``"1-"``, ...; see :func:`default_scbn_settings`).
    z : array (N, dim_z) float32
        Latents (e.g. :func:`latents_from_seeds`).
    source, target : int
    mask : str or array
        A region name of :data:`REGIONS` or a mask (see :func:`region_mask`).
    classifier : ClassifierSpec, callable or None
        For ``p_target``, ``p_source`` and ``success_rate`` (NaN without one).
    classifier_size : int, optional
        Input side when ``classifier`` does not say (default: the generator's resolution).
    crop_margin : float
        Context of the region crop, as a fraction of the region's longer side.
    crop : {"bbox", "square"}
        How the classifier sees the region (see :func:`crop_box`).
    dilate : int, optional
        Pixels the region grows by for ``outside_change`` and ``outside_energy_share``; default
        ``max(1, R // 16)``.
    radius : float, optional
        Low-frequency cut-off; default ``R / 8``.
    feather : float
        Gaussian sigma in pixels of the class map's boundary.
    batch_size : int
    seeds : list of int, optional
        The latents' seeds, recorded in the per-sample rows.
    include_reference : bool
        Start with two reference rows: ``"none"`` (role ``"unedited"``: ``G(z, source)``, the classifier's
        baseline) and ``"target everywhere"`` (role ``"bound"``: ``G(z, target)``, what the classifier says
        of a full translation).
    progress : callable, optional
        ``progress(i, n, setting)`` after each setting.

    Returns
    -------
    AblationResult
        A list of row dicts, one per setting: ``method, role, setting, layers, first_layer, last_layer,
        n_selected, depth, weight, n_samples`` and the metrics ``success_rate, p_target, p_source,
        inside_change, outside_change, outside_energy_share, low_freq_share``; ``images[i]`` are the
        renders of row ``i``.

    Raises
    ------
    ValueError
        Bad layer spec, class, mask, latents or classifier (before anything is rendered).
    """
    n_layers = gen.n_class_layers
    specs = check_settings(settings, n_layers)
    source = _class_index(gen, source, "source")
    target = _class_index(gen, target, "target")
    mask = _mask_for(gen, mask)
    (z,) = _check_latents(gen, z)
    classifier = _classifier_for(gen, classifier, classifier_size, mask, (source, target),
                                 crop_margin=crop_margin, crop=crop)
    dilate, radius = _defaults(gen, dilate, radius)
    seeds = list(seeds) if seeds is not None else list(range(len(z)))
    full = numpy.ones_like(mask)

    def scbn(layers, m=mask, f=feather):
        return lambda: render_scbn(gen, z, source, target, m, layers=layers, feather=f, batch_size=batch_size)
    reference = scbn("none")()
    jobs = [(spec, layers, 1.0, "edit", scbn(layers)) for spec, layers in specs]
    if include_reference:
        jobs = [("none", (), 0.0, "unedited", lambda: reference),
                ("target everywhere", tuple(range(n_layers)), 1.0, "bound", scbn("all", full, 0.0))] + \
            [j for j in jobs if j[1]]

    def measure(j, edited, p):
        if p is None:
            return dict(success_rate=math.nan, p_target=math.nan, p_source=math.nan)
        return dict(success_rate=float(p[target] > p[source]), p_target=float(p[target]), p_source=float(p[source]))
    rows, samples, images = _run_jobs(
        jobs, method="scbn", reference=reference, mask=mask, classifier=classifier, crop_margin=crop_margin,
        crop=crop, dilate=dilate, radius=radius, sample_keys=[dict(seed=s) for s in seeds], measure=measure,
        metrics=SCBN_METRICS, n_layers=n_layers, progress=progress)
    meta = _meta("scbn", gen, n_layers, classifier, source=source, target=target, n_samples=len(z),
                 crop_margin=crop_margin, crop=crop, dilate=dilate, radius=radius, feather=feather)
    return AblationResult(rows, samples=samples, images=images, reference=reference, mask=mask, seeds=seeds,
                          meta=meta)


def run_blend_ablation(gen, *, settings, z, z_donor, cls, mask, weights=(1.0,), classifier=None,
                       classifier_size=None, crop_margin=0.0, crop="bbox", dilate=None, radius=None, feather=0.0,
                       batch_size=16, seeds=None, donor_seeds=None, include_reference=True, progress=None):
    """Render and measure feature blending of ``z_donor`` into ``mask`` for every layer setting and weight.

    Parameters
    ----------
    gen : Generator
    settings : list of layer specs
        Blend-layer selections (``0 .. n_blend_layers - 1``; see :func:`default_blend_settings`).
    z, z_donor : array (N, dim_z) float32
        Base and donor latents.
    cls : int
        Class of every stream.
    mask : str or array
        Region (see :func:`region_mask`).
    weights : sequence of float in (0, 1]
        Donor weights inside the mask.
    classifier, classifier_size, crop_margin, crop, dilate, radius, feather, batch_size, progress
        As for :func:`run_scbn_ablation`; the classifier gives ``p_class``.
    seeds, donor_seeds : list of int, optional
        Recorded in the per-sample rows.
    include_reference : bool
        Start with the rows ``"none"`` (role ``"unedited"``, weight 0: ``G(z, cls)``) and ``"donor"`` (role
        ``"bound"``: the donor image ``G(z_donor, cls)``).

    Returns
    -------
    AblationResult
        One row per (setting, weight), weights outermost: ``method, role, setting, layers, first_layer,
        last_layer, n_selected, depth, weight, n_samples`` and ``donor_transfer, p_class, inside_change,
        outside_change, outside_energy_share, low_freq_share``; ``images[i]`` are the renders of row ``i``.
    """
    n_layers = gen.n_blend_layers
    specs = check_settings(settings, n_layers)
    cls = _class_index(gen, cls, "blend")
    mask = _mask_for(gen, mask)
    z, z_donor = _check_latents(gen, z, z_donor)
    weights = [float(w) for w in weights]
    if not weights or any(not 0.0 < w <= 1.0 for w in weights):
        raise ValueError(f"blend weights must be in (0, 1], got {weights}")
    classifier = _classifier_for(gen, classifier, classifier_size, mask, (cls,), crop_margin=crop_margin, crop=crop)
    dilate, radius = _defaults(gen, dilate, radius)
    seeds = list(seeds) if seeds is not None else list(range(len(z)))
    donor_seeds = list(donor_seeds) if donor_seeds is not None else [""] * len(z)

    def blend(layers, w):
        return lambda: render_blend(gen, z, z_donor, cls, mask, layers=layers, weight=w, feather=feather,
                                    batch_size=batch_size)
    reference = blend("none", 1.0)()
    donor = _render(lambda sl: gen.forward(z_donor[sl], cls), len(z), batch_size)
    jobs = [(spec, layers, w, "edit", blend(layers, w)) for w in weights for spec, layers in specs if layers]
    if include_reference:
        jobs = [("none", (), 0.0, "unedited", lambda: reference), ("donor", (), 1.0, "bound", lambda: donor)] + jobs

    def measure(j, edited, p):
        return dict(donor_transfer=donor_transfer(edited, reference[j], donor[j], mask),
                    p_class=math.nan if p is None else float(p[cls]))
    rows, samples, images = _run_jobs(
        jobs, method="blend", reference=reference, mask=mask, classifier=classifier, crop_margin=crop_margin,
        crop=crop, dilate=dilate, radius=radius,
        sample_keys=[dict(seed=s, donor_seed=d) for s, d in zip(seeds, donor_seeds)],
        measure=measure, metrics=BLEND_METRICS, n_layers=n_layers, progress=progress)
    meta = _meta("blend", gen, n_layers, classifier, cls=cls, n_samples=len(z), weights=weights,
                 crop_margin=crop_margin, crop=crop, dilate=dilate, radius=radius, feather=feather)
    return AblationResult(rows, samples=samples, images=images, reference=reference, donor=donor, mask=mask,
                          seeds=seeds, meta=meta)

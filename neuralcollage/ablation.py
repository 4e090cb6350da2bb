"""Layer ablation of collage edits: which layers a collage is applied to, measured (paper Figs. 9 and 10).

An *ablation* renders one edit for a set of latents under several layer settings and measures, per
setting, how well the edit works inside the region and how far it spreads outside it.

* **sCBN** (:func:`run_scbn_ablation`): the class map is ``target`` inside the region and ``source``
  outside, applied to the selected class layers only; the other class layers get ``source`` everywhere.
  The unedited image is ``G(z, source)``.
* **Feature blending** (:func:`run_blend_ablation`): at the selected blend layers the target stream takes
  a donor latent's features inside the region with weight ``w`` (``(1 - w)`` on the base latent) and the
  base latent's features outside; at the other layers it goes on unchanged.  The unedited image is
  ``G(z, cls)``; the donor image ``G(z_donor, cls)``.

Settings are layer specs of :func:`neuralcollage.maps.parse_layers` (``"all"``, ``"0"``, ``"1-"``,
``"0-3"``, ...), the syntax of the CLI's ``--layers``; "none" renders the unedited image.

Metrics (per sample, then averaged over the samples of a setting).  ``diff = edited - unedited`` in
``[0, 255]`` units, float64, ``(H, W, 3)``; the *region* is ``mask > 0.5``:

* ``p_target`` / ``p_source``: the classifier's softmax probability of the target / source class on the
  *region crop*: the region's bounding box (grown by ``crop_margin`` times its longer side, clipped to the
  image) resized to the classifier's square input (:func:`crop_box`; ``crop="square"`` takes a square box
  instead).  ``success``: ``p_target > p_source``; ``success_rate`` is its mean over the samples.
* ``inside_change``: mean ``|diff|`` over the region's pixels and the channels.
* ``outside_change``: mean ``|diff|`` over the pixels outside the region dilated by ``dilate`` pixels.
* ``outside_energy_share``: ``sum |diff|^2`` outside the dilated region over ``sum |diff|^2`` everywhere
  (the dilation keeps the few pixels a coarse layer's map leaks across the region's edge out of it).
* ``low_freq_share``: :func:`low_frequency_share` of ``diff`` (radius ``R / 8`` by default).  It says
  how *smooth* the change is, not how far it spreads: a uniform colour shift inside the region is mostly
  low-frequency.  The summary therefore calls a change *more global* on the spatial measures
  (``outside_energy_share``, ``outside_change``) and reports this one alongside.
* blending only: ``donor_transfer = 1 - mean|edited - donor| / mean|unedited - donor|`` over the region
  (1: the region shows the donor, 0: unchanged) and ``p_class``, the classifier's probability of the
  class on the region crop.

Ratios of an all-zero difference (the unedited setting) are NaN.  Every row has a ``role``: ``"unedited"``
(setting ``"none"``), ``"bound"`` (``"target everywhere"``: ``G(z, target)``, or ``"donor"``: what a full
edit looks like to the metrics) or ``"edit"`` (a layer setting; only these enter the trends).
"""
from neuralcollage import _compat  # noqa: F401

import csv
import io as _io
import math
import os
from dataclasses import dataclass, field

import chainer
import cv2
import numpy

from neuralcollage import io as ncio
from neuralcollage import maps
from neuralcollage.backend import to_numpy
from neuralcollage.blending import dilate_mask, square_crop_box
from neuralcollage.collage import blend_edit, scbn_edit

__all__ = ["REGIONS", "CROP_MODES", "SCBN_METRICS", "BLEND_METRICS", "region_mask", "load_region", "parse_seeds",
           "latents_from_seeds", "default_scbn_settings", "default_blend_settings", "early_late_pair",
           "check_settings", "render_scbn", "render_blend", "low_frequency_share", "outside_change",
           "inside_change", "outside_energy_share", "donor_transfer", "crop_box", "region_crops",
           "ClassifierSpec", "class_probabilities", "run_scbn_ablation", "run_blend_ablation", "AblationResult",
           "grid_figure", "save_grid", "grid_images", "save_result_grids", "trend_series", "trend_figure",
           "plot_trend", "summary_lines", "write_report", "AblationModels", "load_ablation_models"]

#: Named regions: ``(top, bottom, left, right)`` as fractions of the image side.
REGIONS = {
    "left-half": (0.0, 1.0, 0.0, 0.5),
    "right-half": (0.0, 1.0, 0.5, 1.0),
    "top-half": (0.0, 0.5, 0.0, 1.0),
    "bottom-half": (0.5, 1.0, 0.0, 1.0),
    "center": (0.25, 0.75, 0.25, 0.75),
    "top-left": (0.0, 0.5, 0.0, 0.5),
    "top-right": (0.0, 0.5, 0.5, 1.0),
    "bottom-left": (0.5, 1.0, 0.0, 0.5),
    "bottom-right": (0.5, 1.0, 0.5, 1.0),
}

SCBN_METRICS = ("success_rate", "p_target", "p_source", "inside_change", "outside_change",
                "outside_energy_share", "low_freq_share")
BLEND_METRICS = ("donor_transfer", "p_class", "inside_change", "outside_change", "outside_energy_share",
                 "low_freq_share")
_METRIC_TITLES = {
    "success_rate": "translation success",
    "p_target": "p(target) on region crop",
    "p_source": "p(source) on region crop",
    "p_class": "p(class) on region crop",
    "donor_transfer": "donor transfer in region",
    "inside_change": "mean |change| inside",
    "outside_change": "mean |change| outside",
    "outside_energy_share": "share of change energy outside region",
    "low_freq_share": "low-frequency share of change",
}


# ----------------------------------------------------------------------------------------------------
# inputs

def region_mask(region, size):
    """A region as a float32 mask.

    Parameters
    ----------
    region : str or array (h, w)
        A name of :data:`REGIONS` (``"left-half"``, ``"center"``, ...) or a mask (bool, uint8 or float in
        [0, 1]) of the image's aspect ratio; other sizes are resized (area when shrinking).
    size : int
        Image side ``R``.

    Returns
    -------
    numpy.ndarray (R, R) float32 in [0, 1]

    Raises
    ------
    ValueError
        Unknown name (the message lists the names), an empty mask or a mask of another aspect ratio.

    Examples
    --------
    >>> region_mask("left-half", 4)[0]
    array([1., 1., 0., 0.], dtype=float32)
    """
    size = int(size)
    if isinstance(region, str):
        key = region.strip().lower()
        if key not in REGIONS:
            raise ValueError(f"unknown region {region!r}; use a mask PNG or one of: {', '.join(REGIONS)}")
        top, bottom, left, right = REGIONS[key]
        mask = numpy.zeros((size, size), numpy.float32)
        mask[int(round(top * size)):int(round(bottom * size)), int(round(left * size)):int(round(right * size))] = 1
        return mask
    mask, _ = ncio.fit_mask(region, (size, size))
    return mask


def latents_from_seeds(gen, seeds):
    """``(len(seeds), dim_z)`` float32 latents, row ``i`` = ``gen.sample_z(1, seed=seeds[i])`` (NumPy)."""
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("need at least one seed")
    return numpy.concatenate([to_numpy(gen.sample_z(1, seed=s)) for s in seeds], axis=0)


def _dedupe(specs, n_layers):
    seen, out = set(), []
    for spec in specs:
        key = maps.parse_layers(spec, n_layers)
        if key not in seen:
            seen.add(key)
            out.append(spec)
    return out


def _halves(n_layers):
    """The early-half and late-half specs, e.g. ``("0-3", "4-")`` for 8 layers."""
    h = (n_layers + 1) // 2 - 1
    return (f"0-{h}" if h > 0 else "0"), f"{h + 1}-"


def default_scbn_settings(n_layers):
    """The paper's Fig. 9 settings (``all``, ``0``, ``1-``) and sweeps over class layers.

    Per residual block (``0-1``, ``2-3``, ...), early-only prefixes (``0-1``, ``0-3``, ...), late-only
    suffixes (``2-``, ``4-``, ...) and the early / late halves; duplicates (same layers) removed, the first
    spelling kept (so ``6-7`` stands for ``6-`` with 8 layers).

    Examples
    --------
    >>> default_scbn_settings(8)
    ['all', '0', '1-', '0-1', '2-3', '4-5', '6-7', '0-3', '0-5', '2-', '4-']
    """
    n = int(n_layers)
    if n < 2:
        return _dedupe(["all"], max(n, 1))
    specs = ["all", "0", "1-"]
    specs += [f"{i}-{i + 1}" for i in range(0, n - 1, 2)]
    specs += [f"0-{k}" for k in range(1, n - 1, 2)]
    specs += [f"{k}-" for k in range(2, n, 2)]
    specs += list(_halves(n))
    return _dedupe(specs, n)


def default_blend_settings(n_layers):
    """Every single blend layer and ``all`` (the paper's Fig. 10 blends at one layer at a time).

    A selected blend layer replaces the target stream by the blend of the latent streams, so with a hard
    mask a range of layers renders like its last layer alone (``all`` like the last layer); single layers
    are the informative settings.

    Examples
    --------
    >>> default_blend_settings(5)
    ['0', '1', '2', '3', '4', 'all']
    """
    n = int(n_layers)
    return _dedupe([str(i) for i in range(n)] + ["all"], n)


def early_late_pair(method, n_layers):
    """The settings compared as "early layers only" vs "late layers only".

    sCBN: the first and second half of the class layers (``("0-3", "4-")`` for 8 layers); blending: the
    first and the last single blend layer (``("0", "4")`` for 5 layers).
    """
    if method == "blend":
        return "0", str(int(n_layers) - 1)
    return _halves(int(n_layers))


def parse_seeds(spec):
    """Seeds from ``"0-7"``, ``"3,5,10-12"`` or an iterable of ints: a list of int (order kept, no duplicates).

    Raises
    ------
    ValueError
        Unparsable text, a reversed range, negative seeds or an empty list.

    Examples
    --------
    >>> parse_seeds("0-3,10")
    [0, 1, 2, 3, 10]
    """
    if isinstance(spec, str):
        seeds = []
        for item in spec.split(","):
            item = item.strip()
            first, sep, last = item.partition("-")
            if not first.strip().isdigit() or (sep and not last.strip().isdigit()):
                raise ValueError(f"cannot parse seeds {spec!r} at {item!r}: use integers and ranges like '0-7,10'")
            a, b = int(first), int(last) if sep else int(first)
            if b < a:
                raise ValueError(f"seed range {item!r} is reversed")
            seeds += range(a, b + 1)
    else:
        seeds = [int(s) for s in spec]
        if any(s < 0 for s in seeds):
            raise ValueError(f"seeds must be >= 0, got {seeds}")
    seeds = list(dict.fromkeys(seeds))
    if not seeds:
        raise ValueError("no seeds given")
    return seeds


def load_region(spec, size):
    """A region from a name of :data:`REGIONS` or a mask image file, as an ``(R, R)`` float32 mask.

    Raises
    ------
    ValueError
        Neither a known name nor an existing file (the message lists the names); the file's
        :class:`neuralcollage.io.InputError` (unreadable, empty, other aspect ratio).
    """
    if isinstance(spec, str) and spec.strip().lower() in REGIONS:
        return region_mask(spec, size)
    if not os.path.isfile(spec):
        raise ValueError(f"region {spec!r} is neither a region name ({', '.join(REGIONS)}) nor a mask file")
    mask, _ = ncio.fit_mask(ncio.read_mask(spec), (int(size), int(size)), name=os.fspath(spec))
    return mask


def check_settings(settings, n_layers):
    """Validate layer specs: a list of ``(spec, layers)`` with ``layers`` the parsed index tuple.

    Raises
    ------
    ValueError
        Empty list, or a spec :func:`neuralcollage.maps.parse_layers` rejects (its one-line message).
    """
    settings = [s.strip() if isinstance(s, str) else s for s in settings]
    if not settings:
        raise ValueError("no layer settings given")
    return [(s if isinstance(s, str) else maps.format_layers(s, n_layers), maps.parse_layers(s, n_layers))
            for s in settings]


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
    """The rows of an ablation: a list with one dict per setting (see the module notes for the columns).

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


# ----------------------------------------------------------------------------------------------------
# figures

def _figure_bytes(fig):
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def save_grid(images, path, *, col_labels, row_labels=None, title=None, mask=None, mask_columns=(0,),
              cell_inches=1.1, overwrite_protect=()):
    """Save :func:`grid_figure` as a PNG (written atomically); returns ``path``."""
    fig = grid_figure(images, col_labels=col_labels, row_labels=row_labels, title=title, mask=mask,
                      mask_columns=mask_columns, cell_inches=cell_inches)
    ncio.atomic_write_bytes(path, _figure_bytes(fig), overwrite_protect=overwrite_protect)
    return os.fspath(path)


def grid_figure(images, *, col_labels, row_labels=None, title=None, mask=None, mask_columns=(0,),
                cell_inches=1.1):
    """A grid of images (rows = latents, columns = settings) as a ``matplotlib.figure.Figure``.

    Parameters
    ----------
    images : array (rows, cols, H, W, 3) uint8 or nested lists of (H, W, 3)
    col_labels : list of str
        Column titles (e.g. layer specs).
    row_labels : list of str, optional
    title : str, optional
    mask : array (H, W), optional
        Region outlined (red contour at 0.5) on the columns ``mask_columns``.
    cell_inches : float
        Size of one cell.

    Returns
    -------
    matplotlib.figure.Figure
        Not registered with pyplot (no global state); displays in notebooks.
    """
    from matplotlib.figure import Figure

    grid = numpy.asarray(images)
    if grid.ndim != 5 or grid.shape[-1] != 3:
        raise ValueError(f"images must be (rows, cols, H, W, 3), got shape {grid.shape}")
    n_rows, n_cols = grid.shape[:2]
    if len(col_labels) != n_cols:
        raise ValueError(f"{len(col_labels)} column labels for {n_cols} columns")
    if row_labels is not None and len(row_labels) != n_rows:
        raise ValueError(f"{len(row_labels)} row labels for {n_rows} rows")
    top = 0.5 if title else 0.25
    fig = Figure(figsize=(cell_inches * n_cols + 0.5, cell_inches * n_rows + top + 0.1), dpi=100)
    gs = fig.add_gridspec(n_rows, n_cols, left=0.5 / (cell_inches * n_cols + 0.5), right=0.995,
                          top=1 - (top + 0.05) / (cell_inches * n_rows + top + 0.1), bottom=0.005,
                          wspace=0.04, hspace=0.04)
    for r in range(n_rows):
        for c in range(n_cols):
            ax = fig.add_subplot(gs[r, c])
            ax.imshow(grid[r, c], interpolation="nearest")
            if mask is not None and c in mask_columns:
                ax.contour(numpy.asarray(mask, numpy.float32), levels=[0.5], colors="red", linewidths=0.6)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(str(col_labels[c]), fontsize=7)
            if c == 0 and row_labels is not None:
                ax.set_ylabel(str(row_labels[r]), fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def trend_series(rows, n_layers):
    """Monotone-trend series of an ablation's rows.

    Returns
    -------
    dict
        name -> list of rows in order of increasing depth; names: ``"per block"`` (``2b-2b+1``, sCBN) or
        ``"single layer"`` (blending), ``"early-only (0-k)"`` (prefixes, growing), ``"late-only (k-)"``
        (suffixes, shrinking toward the output), each for one weight (suffix `` w=...`` when several).
    """
    rows = [r for r in rows if r.get("role", "edit") == "edit" and r["n_selected"]]
    weights = sorted({r["weight"] for r in rows})
    method = rows[0]["method"] if rows else "scbn"
    out = {}
    for w in weights:
        tag = f" w={w:g}" if len(weights) > 1 else ""
        sel = [r for r in rows if r["weight"] == w]
        layer_sets = {r["layers"]: r for r in sel}

        def pick(sets):
            return [layer_sets[s] for s in sets if s in layer_sets]
        if method == "scbn":
            block = pick([maps.format_layers([i, i + 1], n_layers) for i in range(0, n_layers - 1, 2)])
            name = "per block"
        else:
            block = pick([maps.format_layers([i], n_layers) for i in range(n_layers)])
            name = "single layer"
        prefixes = pick([maps.format_layers(range(0, k + 1), n_layers) for k in range(n_layers - 1)])
        suffixes = pick([maps.format_layers(range(k, n_layers), n_layers) for k in range(1, n_layers)])
        for label, series in ((name, block), ("early-only (0-k)", prefixes), ("late-only (k-)", suffixes)):
            if len(series) >= 2:
                out[label + tag] = series
    return out


def plot_trend(rows, path, *, n_layers, metrics, title=None, overwrite_protect=()):
    """Save :func:`trend_figure` as a PNG (written atomically); returns ``path``."""
    fig = trend_figure(rows, n_layers=n_layers, metrics=metrics, title=title)
    ncio.atomic_write_bytes(path, _figure_bytes(fig), overwrite_protect=overwrite_protect)
    return os.fspath(path)


def trend_figure(rows, *, n_layers, metrics, title=None):
    """Line plots of ``metrics`` against the mean selected layer (``depth``) for every :func:`trend_series`;
    the ``"bound"`` row (``"target everywhere"`` / ``"donor"``) as a dashed line.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    series = trend_series(rows, n_layers)
    metrics = [m for m in metrics if any(not _isnan(r.get(m)) for r in rows)]
    n = max(1, len(metrics))
    n_cols = min(3, n)
    n_rows = -(-n // n_cols)
    fig = Figure(figsize=(3.6 * n_cols, 3.0 * n_rows + 0.3), dpi=100)
    axes = [fig.add_subplot(n_rows, n_cols, i + 1) for i in range(n)]
    for ax, metric in zip(axes, metrics):
        for name, srs in series.items():
            xs = [r["depth"] for r in srs]
            ys = [r[metric] for r in srs]
            ax.plot(xs, ys, marker="o", label=name)
            for x, y, r in zip(xs, ys, srs):
                ax.annotate(r["setting"], (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
        for r in rows:
            if r.get("role") == "bound" and not _isnan(r.get(metric)):
                ax.axhline(r[metric], color="grey", linestyle="--", linewidth=0.8, label=r["setting"])
        ax.set_title(_METRIC_TITLES.get(metric, metric), fontsize=8)
        ax.set_xlabel("mean selected layer (0 = first)", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    if series and axes:
        axes[0].legend(fontsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------------
# report

def _isnan(v):
    return isinstance(v, float) and math.isnan(v)


def _fmt(v, digits=3):
    """``digits`` significant digits, at most 3 decimals for values >= 1 (``0.00512``, ``0.456``, ``36.9``)."""
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:#.{digits}g}".rstrip(".") if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def _csv_text(rows, columns):
    buf = _io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow(["" if _isnan(r.get(c)) else (f"{r[c]:.6g}" if isinstance(r.get(c), float) else r.get(c, ""))
                         for c in columns])
    return buf.getvalue()


def _direction(values, *, rtol=1e-3):
    """Trend of a sequence; steps within ``rtol`` of its largest magnitude count as ties (uint8 rounding)."""
    diffs = numpy.diff(values)
    diffs = numpy.where(numpy.abs(diffs) <= rtol * numpy.max(numpy.abs(values)), 0.0, diffs)
    if not diffs.any():
        return "constant"
    if numpy.all(diffs < 0):
        return "monotone decreasing"
    if numpy.all(diffs > 0):
        return "monotone increasing"
    if numpy.all(diffs <= 0):
        return "non-increasing"
    if numpy.all(diffs >= 0):
        return "non-decreasing"
    return "not monotone"


SPATIAL_METRICS = ("outside_energy_share", "outside_change")


def summary_lines(rows, *, n_layers, metrics):
    """Markdown bullet lines with measured values.

    First the early-only vs late-only comparison (:func:`early_late_pair`, per weight): the change is
    called *more global* when it puts a larger share of its energy outside the region and changes the
    pixels outside more (the spatial measures ``outside_energy_share`` and ``outside_change``); the
    low-frequency share and the success metric are reported alongside.  Then the trend of every metric
    along every :func:`trend_series`, with its direction (monotone or not).
    """
    lines = []
    edited = [r for r in rows if r.get("role", "edit") == "edit" and r["n_selected"]]
    if not edited:
        return lines
    method = edited[0]["method"]
    early, late = early_late_pair(method, n_layers)
    early_set = maps.format_layers(maps.parse_layers(early, n_layers), n_layers)
    late_set = maps.format_layers(maps.parse_layers(late, n_layers), n_layers)
    spatial = [m for m in SPATIAL_METRICS if m in metrics]
    success = "success_rate" if method == "scbn" else "donor_transfer"
    others = [m for m in ("low_freq_share", success) if m in metrics]
    for w in sorted({r["weight"] for r in edited}):
        by = {r["layers"]: r for r in edited if r["weight"] == w}
        if early_set not in by or late_set not in by:
            continue
        e, l = by[early_set], by[late_set]
        tag = f" at weight {w:g}" if method == "blend" else ""
        valid = [m for m in spatial if not (_isnan(e[m]) or _isnan(l[m]))]
        more = [m for m in valid if e[m] > l[m]]
        if valid and len(more) == len(valid):
            verdict = "the early-layer change is more global (it spreads further outside the region)"
        elif not more:
            verdict = "the early-layer change is NOT more global"
        else:
            verdict = "mixed: " + ", ".join(f"{_METRIC_TITLES[m]} {'higher' if m in more else 'not higher'}"
                                            for m in valid) + " for early layers"
        spatial_text = ", ".join(f"{_METRIC_TITLES[m]} {_fmt(e[m])} vs {_fmt(l[m])}" for m in spatial)
        other_text = "".join(f"; {_METRIC_TITLES[m]} {_fmt(e[m])} vs {_fmt(l[m])}" for m in others
                             if not (_isnan(e[m]) and _isnan(l[m])))
        lines.append(f"- Early layers only (`{early}`) vs late layers only (`{late}`){tag}: {spatial_text} -> "
                     f"{verdict}{other_text}.")
    for name, series in trend_series(rows, n_layers).items():
        primary = name.startswith(("per block", "single layer"))
        shown = spatial + others if primary else ["outside_energy_share", "low_freq_share"]
        for m in shown:
            vals = [r[m] for r in series]
            if m not in metrics or any(_isnan(v) for v in vals):
                continue
            path = " -> ".join(f"`{r['setting']}` {_fmt(v)}" for r, v in zip(series, vals))
            lines.append(f"- {_METRIC_TITLES[m]}, {name}: {path} ({_direction(vals)}).")
    if method == "blend":
        lines.append("- Note: a selected blend layer replaces the target stream, so a range of layers renders "
                     "like its last layer (`all` like the last layer).")
    return lines


def grid_images(result, *, weight=None, max_rows=None):
    """The grid of an ablation result: rows = latents, columns = unedited (+ donor) and every setting.

    Parameters
    ----------
    result : AblationResult
    weight : float, optional
        Blending: the weight whose settings to show (default: the first).
    max_rows : int, optional
        Show only the first latents.

    Returns
    -------
    images : numpy.ndarray (N, C, R, R, 3) uint8
    col_labels : list of str
    mask_columns : tuple of int
        Columns to outline the region on.
    """
    method = result.meta.get("method")
    if method == "blend":
        weights = result.meta.get("weights") or [1.0]
        weight = weights[0] if weight is None else float(weight)
    cols, labels = [result.reference], ["unedited"]
    bound = [i for i, r in enumerate(result) if r.get("role") == "bound"]
    if bound:
        cols.append(result.images[bound[0]])
        labels.append(result[bound[0]]["setting"])
    elif method == "blend":
        cols.append(result.donor)
        labels.append("donor")
    for r, images in zip(result, result.images):
        if r.get("role", "edit") == "edit" and (method != "blend" or r["weight"] == weight):
            cols.append(images)
            labels.append(r["setting"])
    return numpy.stack([c[:max_rows] for c in cols], axis=1), labels, tuple(range(2 if method == "blend" else 1))


def save_result_grids(result, out_dir, *, prefix=None, title=None, max_rows=None, overwrite_protect=()):
    """Save :func:`grid_images` as PNGs: ``{prefix}_grid.png`` (sCBN) or ``{prefix}_grid_w{weight}.png``
    (one per blending weight), the first ``max_rows`` latents.  Returns the list of paths."""
    method = result.meta.get("method", "scbn")
    prefix = prefix or method
    seeds = result.seeds or list(range(len(result.reference)))
    row_labels = [f"seed {s}" for s in seeds]
    paths = []
    weights = result.meta.get("weights") if method == "blend" else [None]
    for w in weights:
        images, labels, mask_cols = grid_images(result, weight=w, max_rows=max_rows)
        name = f"{prefix}_grid.png" if w is None else f"{prefix}_grid_w{w:g}.png"
        head = title or ("sCBN" if method == "scbn" else "feature blending")
        head += "" if w is None else f", donor weight {w:g}"
        paths.append(save_grid(images, os.path.join(out_dir, name), col_labels=labels,
                               row_labels=row_labels[:len(images)],
                               title=head + " (columns: layer spec)", mask=result.mask, mask_columns=mask_cols,
                               overwrite_protect=overwrite_protect))
    return paths


def write_report(rows, out_dir, *, prefix=None, title=None, meta=None, samples=None, grids=True,
                 grid_rows=None, overwrite_protect=()):
    """Write the figures, CSVs and Markdown summary of an ablation.

    Parameters
    ----------
    rows : AblationResult or list of dict
        One row per setting (from :func:`run_scbn_ablation` / :func:`run_blend_ablation`).
    out_dir : str or PathLike
        Created if missing.
    prefix : str, optional
        File name prefix; default the rows' method (``"scbn"`` / ``"blend"``).
    title : str, optional
        Title of the summary and figures.
    meta : dict, optional
        Extra entries for the summary's settings list (model, region, seeds, ...), merged over ``rows.meta``.
    samples : list of dict, optional
        Per-sample rows; default ``rows.samples``.
    grids : bool
        Also save the image grids (needs an :class:`AblationResult`).
    grid_rows : int, optional
        Latents shown in the grids (default: all).

    Returns
    -------
    dict
        kind -> path: ``"csv"`` (``{prefix}_ablation.csv``), ``"samples_csv"``
        (``{prefix}_ablation_samples.csv``), ``"summary"`` (``{prefix}_summary.md``), ``"trend"``
        (``{prefix}_trend.png``) and ``"grids"`` (list of paths).
    """
    if not rows:
        raise ValueError("no rows to report")
    info = dict(getattr(rows, "meta", {}) or {})
    info.update(meta or {})
    samples = samples if samples is not None else getattr(rows, "samples", [])
    method = rows[0]["method"]
    prefix = prefix or method
    n_layers = info.get("n_layers") or max(int(r["last_layer"]) for r in rows if r["n_selected"]) + 1
    metrics = info.get("metrics") or list(SCBN_METRICS if method == "scbn" else BLEND_METRICS)
    os.makedirs(out_dir, exist_ok=True)
    columns = ["method", "role", "setting", "layers", "first_layer", "last_layer", "n_selected", "depth", "weight",
               "n_samples"] + list(metrics)
    paths = dict(csv=os.path.join(out_dir, f"{prefix}_ablation.csv"),
                 samples_csv=os.path.join(out_dir, f"{prefix}_ablation_samples.csv"),
                 summary=os.path.join(out_dir, f"{prefix}_summary.md"),
                 trend=os.path.join(out_dir, f"{prefix}_trend.png"))
    paths["grids"] = (save_result_grids(rows, out_dir, prefix=prefix, title=title, max_rows=grid_rows,
                                        overwrite_protect=overwrite_protect)
                      if grids and isinstance(rows, AblationResult) and rows.images else [])
    ncio.atomic_write_text(paths["csv"], _csv_text(rows, columns), overwrite_protect=overwrite_protect)
    if samples:
        sample_cols = ["method", "role", "setting", "layers", "weight", "sample", "seed"]
        sample_cols += ["donor_seed"] if "donor_seed" in samples[0] else []
        ncio.atomic_write_text(paths["samples_csv"], _csv_text(samples, sample_cols + list(metrics)),
                               overwrite_protect=overwrite_protect)
    else:
        paths.pop("samples_csv")
    plot_trend(rows, paths["trend"], n_layers=n_layers, metrics=metrics, title=title,
               overwrite_protect=overwrite_protect)

    kind = "class" if method == "scbn" else "blend"
    md = [f"# {title or ('sCBN' if method == 'scbn' else 'Feature-blending') + ' layer ablation'}", ""]
    md += [f"- {k}: {v}" for k, v in info.items() if k not in ("metrics", "n_layers") and v is not None]
    md += [f"- {n_layers} {kind} layers, 0 = nearest the latent; settings are `parse_layers` specs",
           "- metrics (see `neuralcollage.ablation`): region = mask > 0.5; changes in [0, 255] units against the "
           "unedited image; ratios are NaN for an unchanged image; 'more global' = larger share of the change's "
           "energy outside the region and larger mean change outside it (the low-frequency share measures "
           "smoothness: a colour shift confined to the region is mostly low-frequency)", "", "## Findings", ""]
    md += summary_lines(rows, n_layers=n_layers, metrics=metrics) or ["- (no early/late settings to compare)"]
    md += ["", "## Table (means over the samples)", "",
           "| setting | layers | weight | " + " | ".join(metrics) + " |", "|" + "---|" * (3 + len(metrics))]
    for r in rows:
        md.append(f"| `{r['setting']}` | {r['layers']} | {_fmt(r['weight'], 2)} | "
                  + " | ".join(_fmt(r[m]) for m in metrics) + " |")
    files = [f"`{os.path.basename(paths['csv'])}` (one row per setting)"]
    if "samples_csv" in paths:
        files.append(f"`{os.path.basename(paths['samples_csv'])}` (one row per setting and sample)")
    files.append(f"`{os.path.basename(paths['trend'])}` (metrics over layer depth)")
    files += [f"`{os.path.basename(g)}` (rows: latents, columns: settings)" for g in paths["grids"]]
    md += ["", "Files: " + ", ".join(files) + ".", ""]
    ncio.atomic_write_text(paths["summary"], "\n".join(md), overwrite_protect=overwrite_protect)
    return paths


# ----------------------------------------------------------------------------------------------------
# models for the scripts

@dataclass
class AblationModels:
    """What an ablation runs on: a generator, an optional classifier, the class names and load notes."""
    generator: object
    classifier: ClassifierSpec = None
    vocabulary: object = None
    name: str = ""
    notes: list = field(default_factory=list)


def _load_classifier_file(path, device):
    from neuralcollage.loading import load_discriminator, load_model
    from neuralcollage.snapshot import read_config, read_npz
    record = read_config(read_npz(path))
    kind = (record or {}).get("kind", "discriminator")
    if kind == "discriminator":
        return load_discriminator(path, device=device).class_scores, "discriminator class scores"
    if kind not in ("classifier", "part_classifier"):
        raise ValueError(f"{os.fspath(path)} holds a {kind}, not a classifier, part classifier or discriminator")
    return load_model(path, kind=kind, device=device), kind.replace("_", " ")


def load_ablation_models(model="builtin", *, classifier="auto", part_classifier=False, classifier_size=None,
                         device=None):
    """Load the generator and classifier of an ablation.

    Parameters
    ----------
    model : str
        A registered name or a generator ``.npz`` path / folder for
        :func:`neuralcollage.pretrained.load_bundle` (``"builtin"``: the built-in model shipped in the package).
    classifier : ``"auto"``, ``"none"``, ``"discriminator"`` or a path
        ``"auto"``: the bundle's classifier (its part classifier with ``part_classifier``), else the
        discriminator's projection class scores, else none.  A path: a classifier, part-classifier or
        discriminator snapshot.
    part_classifier : bool
        With ``"auto"``, use the bundle's part classifier (trained on part crops).
    classifier_size : int, optional
        Classifier input side (default: the classifier's ``resolution``, else the generator's).
    device : None or int

    Returns
    -------
    AblationModels

    Raises
    ------
    neuralcollage.snapshot.SnapshotError
        Unknown model, missing or unfitting files.
    ValueError
        Bad ``classifier`` choice, or a requested part classifier / discriminator that the model lacks.
    """
    from neuralcollage.pretrained import load_bundle

    bundle = load_bundle(model, device=device)
    gen = bundle.generator
    notes = list(bundle.notes)
    choice = os.fspath(classifier)
    key = choice.strip().lower()
    found, label = None, None
    if key == "none":
        pass
    elif key in ("auto", "discriminator"):
        if key == "auto":
            kind = "part_classifier" if part_classifier else "classifier"
            found = getattr(bundle, kind, None)
            label = f"{kind.replace('_', ' ')} ({bundle.files.get(kind)})"
            if found is None and part_classifier:
                raise ValueError(f"model {bundle.name!r} has no part classifier (part_classifier.npz)")
        if found is None and bundle.discriminator is not None:
            found = bundle.discriminator.class_scores
            label = f"discriminator class scores ({bundle.files.get('discriminator')})"
            if key == "auto":
                notes.append("no classifier in the model: translation success uses the discriminator's "
                             "projection class scores")
        if found is None:
            if key == "discriminator":
                raise ValueError(f"model {bundle.name!r} has no discriminator to classify with")
            notes.append("no classifier or discriminator in the model: translation success is not measured")
    else:
        if not os.path.isfile(choice):
            raise ValueError(f"classifier {choice!r}: no such file (use 'auto', 'none', 'discriminator' or a "
                             "snapshot path)")
        found, label = _load_classifier_file(choice, device)
        label += f" ({choice})"
    spec = None
    if found is not None:
        n_classes = getattr(getattr(found, "__self__", found), "n_classes", gen.n_classes)
        if n_classes != gen.n_classes:
            raise ValueError(f"the {label} has {n_classes} classes but the generator has {gen.n_classes}")
        spec = ClassifierSpec.wrap(found, size=classifier_size, default_size=gen.resolution, name=label)
    return AblationModels(generator=gen, classifier=spec, vocabulary=bundle.vocabulary, name=bundle.name,
                          notes=notes)

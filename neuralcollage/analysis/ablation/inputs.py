"""The inputs of a layer ablation: named regions and mask files, latent seeds, and the layer settings to
compare (layer specs of :func:`neuralcollage.maps.parse_layers`)."""
import os

import numpy

from neuralcollage import io as ncio
from neuralcollage import maps
from neuralcollage.backend import to_numpy

__all__ = ["REGIONS", "region_mask", "load_region", "parse_seeds", "latents_from_seeds", "default_scbn_settings",
           "default_blend_settings", "early_late_pair", "check_settings"]

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


"""Latent attribute axes ("darker fur", "bigger eyes"), applied globally or inside a painted region.

Discovery (TL-GAN style): sample latents, generate, predict the continuous attributes of the images with an
attribute predictor (:class:`neuralcollage.models.regressor.AttributeRegressor` or any callable), fit per
attribute the least-squares linear model ``attribute ~ z . w + b_class`` (one intercept per class, so the
class does not leak into the slope), and normalise ``w`` into a unit axis ``u = w / |w|``.  Moving ``z`` by
``a * u`` then changes the attribute by about ``a * |w|``; since ``z ~ N(0, I)``, ``a`` is in units of the
latents' standard deviation along ``u``.  :func:`decorrelate` removes from an axis its components along
reference axes (Gram-Schmidt), so that moving along it leaves the references' attributes (to first order)
alone.

Editing: :func:`move_global` moves latents along axes; :func:`global_edit` renders the moved latents;
:func:`local_edit` blends the features of ``G(z + a * u)`` into ``G(z)`` inside a mask at chosen blend
layers (:func:`neuralcollage.collage.blend_edit`: stream 0 is ``z``, stream 1 ``z + a * u``);
:func:`attribute_edit_photo` does the same to a real photo through projection, and returns a
:class:`neuralcollage.collage.EditResult` whose recipe :func:`neuralcollage.collage.replay` rebuilds.

Evaluation: :func:`evaluate_axes` (slope and R^2 of each axis's attribute against the amount, class
preservation, change outside the region of local edits, entanglement between axes before and after
decorrelation), :func:`evaluation_table` (Markdown / CSV) and :func:`plot_evaluation` (heatmaps and
attribute-against-amount curves).

Axes travel with a model as ``axes.json`` beside its generator (:func:`save_axes`, :func:`load_axes`,
:func:`bundle_axes`).
"""
from neuralcollage import _compat  # noqa: F401

import dataclasses
import difflib
import json
import math
import os

import numpy

from neuralcollage import backend
from neuralcollage.io import InputError, atomic_write_text

__all__ = ["AXES_FILE", "AXES_FORMAT", "AXES_VERSION", "Axis", "AxisError", "UnknownAxisError",
           "sample_attributes", "fit_axes", "discover_axes", "decorrelate", "decorrelate_all", "axis_names",
           "get_axis", "save_axes", "load_axes", "bundle_axes", "file_sha256", "move_global", "global_edit",
           "local_edit", "attribute_edit_photo", "disc_mask", "evaluate_axes", "evaluation_table", "plot_evaluation"]

AXES_FILE = "axes.json"
#: How to make the axes of a model that has none (the installed library; no script needed).
DISCOVER_HINT = "find them with neuralcollage.axes.discover_axes and save them with neuralcollage.axes.save_axes"
AXES_FORMAT = "neuralcollage-axes"
AXES_VERSION = 1


class AxisError(InputError):
    """An axes file or axis that cannot be used here (malformed, another latent size)."""


class UnknownAxisError(AxisError, KeyError):
    """An axis name that is not among the available axes (the message lists them and suggests a name)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


@dataclasses.dataclass(frozen=True, eq=False)
class Axis:
    """A unit direction in latent space that changes one attribute.

    Attributes:
        name: the name users pick it by (e.g. ``"fur_brightness"``).
        attribute: the predictor output it was fitted to.
        direction: ``(dim_z,)`` float32 NumPy, unit norm.
        class_id: the class it was fitted on, or None for a global axis (fitted over all classes).
        slope: the linear model's attribute change per unit of movement along ``direction``.
        r2: R^2 of the linear model on ``z`` (share of the within-class variance of the attribute it explains).
        n_samples: latents the fit used.
        decorrelated_from: names of the axes whose directions were projected out (empty for a raw axis).
    """
    name: str
    attribute: str
    direction: numpy.ndarray
    class_id: object = None
    slope: float = float("nan")
    r2: float = float("nan")
    n_samples: int = 0
    decorrelated_from: tuple = ()

    @property
    def dim_z(self):
        return int(self.direction.shape[0])

    @property
    def label(self):
        """``name`` or ``name (class c)`` for a per-class axis."""
        return self.name if self.class_id is None else f"{self.name} (class {self.class_id})"

    def __repr__(self):
        scope = "global" if self.class_id is None else f"class {self.class_id}"
        extra = f", decorrelated from {list(self.decorrelated_from)}" if self.decorrelated_from else ""
        return (f"Axis({self.name!r}, attribute={self.attribute!r}, {scope}, dim_z={self.dim_z}, "
                f"slope={self.slope:.4g}, r2={self.r2:.3f}{extra})")

    def to_dict(self):
        return {"name": self.name, "attribute": self.attribute,
                "class_id": None if self.class_id is None else int(self.class_id),
                "slope": _json_float(self.slope), "r2": _json_float(self.r2), "n_samples": int(self.n_samples),
                "decorrelated_from": list(self.decorrelated_from),
                "direction": [float(v) for v in self.direction]}

    @classmethod
    def from_dict(cls, d, *, source="axes"):
        try:
            direction = numpy.asarray(d["direction"], dtype=numpy.float64)
            name, attribute = str(d["name"]), str(d.get("attribute", d["name"]))
            class_id = None if d.get("class_id") is None else int(d["class_id"])
            slope = float("nan") if d.get("slope") is None else float(d["slope"])
            r2 = float("nan") if d.get("r2") is None else float(d["r2"])
            n_samples = int(d.get("n_samples", 0))
            decorrelated_from = tuple(str(n) for n in d.get("decorrelated_from", ()))
        except (KeyError, TypeError, ValueError) as exc:
            raise AxisError(f"{source}: malformed axis entry ({type(exc).__name__}: {exc})") from None
        if direction.ndim != 1 or direction.size == 0 or not numpy.isfinite(direction).all():
            raise AxisError(f"{source}: axis {name!r} must have a finite 1-D direction")
        return cls(name=name, attribute=attribute, direction=_unit(direction, name), class_id=class_id,
                   slope=slope, r2=r2, n_samples=n_samples, decorrelated_from=decorrelated_from)


def _json_float(v):
    return None if v is None or not math.isfinite(float(v)) else float(v)


def _unit(v, name="axis"):
    v = numpy.asarray(v, dtype=numpy.float64)
    norm = float(numpy.linalg.norm(v))
    if not norm > 1e-12:
        raise AxisError(f"{name}: direction has zero length")
    return (v / norm).astype(numpy.float32)


# ----------------------------------------------------------------------------------------------------
# predictors

def _predictor(predictor, attributes=None):
    """``(fn(images NCHW float32 in [-1, 1]) -> (N, A) float64 NumPy, attribute names)``."""
    if hasattr(predictor, "predict_model") and hasattr(predictor, "attributes"):
        names = tuple(predictor.attributes)
        fn = predictor.predict_model
    elif callable(predictor):
        if attributes is None:
            raise ValueError("a callable predictor needs attributes= (the names of its outputs)")
        names = tuple(attributes)
        fn = predictor
    else:
        raise TypeError(f"predictor must be an AttributeRegressor or a callable, got {type(predictor).__name__}")

    def predict(x):
        out = numpy.asarray(backend.to_numpy(fn(x)), dtype=numpy.float64)
        if out.ndim != 2 or out.shape != (x.shape[0], len(names)):
            raise ValueError(f"predictor returned shape {out.shape}, expected ({x.shape[0]}, {len(names)})")
        return out
    return predict, names


def _classify(classifier, x):
    """Class ids ``(N,)`` of model images ``x`` (NumPy ``(N, 3, R, R)`` in [-1, 1]) as the classifier sees
    saved images (uint8)."""
    from neuralcollage.io import from_model
    if hasattr(classifier, "predict"):
        return numpy.asarray(classifier.predict(from_model(x)), dtype=numpy.int64)
    return numpy.asarray(backend.to_numpy(classifier(x)), dtype=numpy.int64).reshape(-1)


def _render(gen, z, ids, *, batch_size):
    from neuralcollage.collage import render
    out = [render(gen, z[i:i + batch_size], gen.device.send(numpy.asarray(ids[i:i + batch_size], numpy.int32)))
           for i in range(0, len(z), batch_size)]
    return numpy.concatenate(out) if out else numpy.zeros((0, 3, gen.resolution, gen.resolution), numpy.float32)


# ----------------------------------------------------------------------------------------------------
# discovery

def sample_attributes(gen, predictor, *, n_samples, class_ids=None, seed=0, batch_size=64, attributes=None):
    """Generate ``n_samples`` images and predict their attributes.

    Args:
        gen: a :class:`~neuralcollage.models.Generator`.
        predictor: an :class:`~neuralcollage.models.regressor.AttributeRegressor` or a callable
            ``f(images (N, 3, R, R) float32 in [-1, 1]) -> (N, A)`` (then ``attributes`` names its outputs).
        n_samples: number of latents (``gen.sample_z(n_samples, seed=seed)``).
        class_ids: None (classes drawn uniformly from ``seed``), an int (every sample), or ``(n_samples,)`` ids.
        batch_size: images per forward pass.

    Returns:
        ``(z (N, dim_z) float32, ids (N,) int64, values (N, A) float64, attribute names)``.
    """
    predict, names = _predictor(predictor, attributes)
    n = int(n_samples)
    z = backend.to_numpy(gen.sample_z(n, seed=seed)).astype(numpy.float32)
    if class_ids is None:
        ids = backend.random_state(seed + 7919).randint(gen.n_classes, size=n)
    else:
        ids = numpy.broadcast_to(numpy.asarray(class_ids, dtype=numpy.int64), (n,)).copy()
    if n and (ids.min() < 0 or ids.max() >= gen.n_classes):
        raise ValueError(f"class ids must be in 0..{gen.n_classes - 1}")
    values = numpy.zeros((n, len(names)), numpy.float64)
    for i in range(0, n, batch_size):
        values[i:i + batch_size] = predict(_render(gen, z[i:i + batch_size], ids[i:i + batch_size],
                                                   batch_size=batch_size))
    return z, ids.astype(numpy.int64), values, names


def fit_axes(z, values, names, *, class_ids=None, class_id=None, suffix=""):
    """Least-squares axes: per attribute, ``values[:, j] ~ z . w_j + b_class``; the axis is ``w_j / |w_j|``.

    Args:
        z: ``(N, dim_z)`` latents. values: ``(N, A)`` attribute values. names: the ``A`` attribute names.
        class_ids: ``(N,)`` class of every sample (one intercept per class); None: one intercept.
        class_id: recorded as the axes' class (None: global axes).
        suffix: appended to every axis name.

    Returns:
        list of :class:`Axis`, one per attribute (``slope = |w_j|``; ``r2`` relative to the within-class
        variance).
    """
    z = numpy.asarray(z, dtype=numpy.float64)
    values = numpy.asarray(values, dtype=numpy.float64)
    n, dim_z = z.shape
    if values.shape != (n, len(names)):
        raise ValueError(f"values {values.shape} do not match {n} latents and {len(names)} attributes")
    groups = numpy.zeros(n, numpy.int64) if class_ids is None else numpy.unique(
        numpy.asarray(class_ids), return_inverse=True)[1].reshape(-1)
    design = numpy.concatenate([z, numpy.eye(groups.max() + 1)[groups]], axis=1)
    if n <= design.shape[1]:
        raise ValueError(f"{n} samples cannot fit {design.shape[1]} coefficients (dim_z {dim_z} plus one "
                         f"intercept per class); use more samples")
    coef, *_ = numpy.linalg.lstsq(design, values, rcond=None)
    resid = values - design @ coef
    group_means = numpy.stack([values[groups == g].mean(axis=0) for g in range(groups.max() + 1)])
    within = ((values - group_means[groups]) ** 2).sum(axis=0)
    axes = []
    for j, name in enumerate(names):
        w = coef[:dim_z, j]
        r2 = 1.0 - (resid[:, j] ** 2).sum() / within[j] if within[j] > 0 else float("nan")
        axes.append(Axis(name=f"{name}{suffix}", attribute=name, direction=_unit(w, name),
                         class_id=None if class_id is None else int(class_id), slope=float(numpy.linalg.norm(w)),
                         r2=float(r2), n_samples=int(n)))
    return axes


def discover_axes(gen, predictor, *, n_samples=2000, classes=None, seed=0, batch_size=64, attributes=None,
                  suffix=""):
    """Find one axis per attribute, over all classes or per class.

    Args:
        gen: a :class:`~neuralcollage.models.Generator`.
        predictor: an :class:`~neuralcollage.models.regressor.AttributeRegressor` or a callable (see
            :func:`sample_attributes`; ``attributes`` then names its outputs).
        n_samples: latents per fit (global: in all; per class: per class). Needs more than ``dim_z`` plus the
            number of classes; a few thousand give stable axes.
        classes: None: global axes (classes drawn at random, one intercept per class); ``"all"`` or a list
            of class ids: one set of axes per class (``Axis.class_id``), with the same names.
        seed: seed of the latents and classes (per class ``seed + class id``).
        suffix: appended to every axis name.

    Returns:
        list of :class:`Axis`.
    """
    if classes is None:
        z, ids, values, names = sample_attributes(gen, predictor, n_samples=n_samples, seed=seed,
                                                  batch_size=batch_size, attributes=attributes)
        return fit_axes(z, values, names, class_ids=ids, suffix=suffix)
    if isinstance(classes, str):
        if classes != "all":
            raise ValueError(f"classes must be None, 'all' or a list of class ids, got {classes!r}")
        classes = range(gen.n_classes)
    axes = []
    for c in classes:
        z, _, values, names = sample_attributes(gen, predictor, n_samples=n_samples, class_ids=int(c),
                                                seed=seed + int(c), batch_size=batch_size, attributes=attributes)
        axes += fit_axes(z, values, names, class_id=int(c), suffix=suffix)
    return axes


# ----------------------------------------------------------------------------------------------------
# collections

def axis_names(axes):
    """The distinct names of ``axes``, in order."""
    return list(dict.fromkeys(a.name for a in axes))


def get_axis(axes, name, *, class_id=None):
    """The axis called ``name``: the one fitted on ``class_id`` when there is one, else the global one.

    Args:
        axes: a list of :class:`Axis` (or an :class:`Axis`, returned as is).
        name: an axis name (case-insensitive) or an :class:`Axis`.
        class_id: the class the edit is for (None: global axes only, or the only one of that name).

    Raises:
        UnknownAxisError: no axis of that name for that class (the message lists the names).
    """
    if isinstance(name, Axis):
        return name
    key = str(name).lower()
    found = [a for a in axes if a.name.lower() == key]
    for a in found:
        if class_id is not None and a.class_id is not None and a.class_id == int(class_id):
            return a
    for a in found:
        if a.class_id is None:
            return a
    if found and class_id is None and len(found) == 1:
        return found[0]
    names = axis_names(axes)
    if found:
        have = sorted({a.class_id for a in found})
        raise UnknownAxisError(f"axis {name!r} exists for classes {have} only, not for class {class_id} "
                               "(and there is no global one)")
    close = difflib.get_close_matches(key, [n.lower() for n in names], n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    listed = ", ".join(names) if names else "none"
    raise UnknownAxisError(f"unknown axis {name!r}{hint} (available: {listed})")


def _resolve(axes, item, class_id=None):
    return item if isinstance(item, Axis) else get_axis(axes, item, class_id=class_id)


def decorrelate(axes, target, references, *, name=None):
    """``target`` with its components along ``references`` removed (orthogonal projection), renormalised.

    The references are orthonormalised first (Gram-Schmidt), so the result is orthogonal to every one of
    them and to their span; moving along it leaves the references' linear attribute models unchanged.

    Args:
        axes: the list the names are looked up in.
        target: an axis name or :class:`Axis`.
        references: axis names or :class:`Axis` objects (the target itself is skipped).
        name: the result's name (default: the target's).

    Returns:
        a new :class:`Axis` (``slope`` is the target's linear-model slope along the new direction,
        ``decorrelated_from`` the references' names).

    Raises:
        AxisError: the target lies (numerically) in the span of the references.
    """
    t = _resolve(axes, target)
    refs = [_resolve(axes, r, t.class_id) for r in references]
    refs = [r for r in refs if r is not t]
    for r in refs:
        if r.dim_z != t.dim_z:
            raise AxisError(f"axis {r.name!r} has dim_z {r.dim_z}, {t.name!r} has {t.dim_z}")
    u = t.direction.astype(numpy.float64)
    basis = []
    for r in refs:
        v = r.direction.astype(numpy.float64)
        for q in basis:
            v = v - (v @ q) * q
        norm = numpy.linalg.norm(v)
        if norm > 1e-6:
            basis.append(v / norm)
    for q in basis:
        u = u - (u @ q) * q
    norm = float(numpy.linalg.norm(u))
    if norm < 1e-6:
        raise AxisError(f"axis {t.name!r} lies in the span of {[r.name for r in refs]}; nothing is left after "
                        "decorrelation")
    u = u / norm
    slope = t.slope * float(u @ t.direction.astype(numpy.float64))
    return dataclasses.replace(t, name=t.name if name is None else name, direction=u.astype(numpy.float32),
                               slope=slope, decorrelated_from=tuple(r.name for r in refs))


def decorrelate_all(axes, *, names=None, suffix=""):
    """Each of ``names`` (default: every axis) decorrelated from all the others of ``names`` with the same
    ``class_id`` (each from the original directions, not the already decorrelated ones).

    Returns:
        list of new :class:`Axis`, in the order of ``axes``, named ``name + suffix``.
    """
    chosen = [a for a in axes if names is None or a.name in names]
    out = []
    for a in chosen:
        refs = [b for b in chosen if b is not a and b.class_id == a.class_id]
        out.append(decorrelate(axes, a, refs, name=a.name + suffix))
    return out


def save_axes(path, axes, *, model=None, notes=None, overwrite_protect=()):
    """Write axes as JSON (``.json``) or NPZ (``.npz``), atomically.

    Args:
        path: output file. axes: list of :class:`Axis` (all of one ``dim_z``; ``(name, class_id)`` unique).
        model: optional JSON-able description of the model they belong to (e.g. generator file and sha256).
        notes: optional JSON-able remarks (how they were found).
    """
    axes = list(axes)
    if not axes:
        raise ValueError("no axes to save")
    dims = {a.dim_z for a in axes}
    if len(dims) != 1:
        raise ValueError(f"axes have different latent sizes {sorted(dims)}")
    keys = [(a.name.lower(), a.class_id) for a in axes]
    if len(set(keys)) != len(keys):
        raise ValueError("two axes share a name and class")
    doc = {"format": AXES_FORMAT, "version": AXES_VERSION, "dim_z": dims.pop(), "model": model, "notes": notes,
           "axes": [a.to_dict() for a in axes]}
    text = json.dumps(doc, indent=1, allow_nan=False)
    if str(path).endswith(".npz"):
        import io
        from neuralcollage.io import atomic_write_bytes
        buf = io.BytesIO()
        numpy.savez(buf, axes=numpy.array(text), directions=numpy.stack([a.direction for a in axes]))
        atomic_write_bytes(path, buf.getvalue(), overwrite_protect=overwrite_protect)
    else:
        atomic_write_text(path, text + "\n", overwrite_protect=overwrite_protect)


def load_axes(path, *, dim_z=None, generator_sha256=None):
    """Read axes written by :func:`save_axes` (JSON or NPZ).

    Args:
        dim_z: when given, the latent size the axes must have.
        generator_sha256: when given and the file records the sha256 of the generator it was found for
            (``model["generator_sha256"]``), the two must agree (axes of another generator are meaningless).

    Returns:
        list of :class:`Axis`.

    Raises:
        AxisError: unreadable, malformed or another latent size.
    """
    from neuralcollage.io import InputError, check_regular_file, read_json_limited
    from neuralcollage.limits import JSON_MAX_BYTES
    try:
        if str(path).endswith(".npz"):
            check_regular_file(path, what="axes file")
            with numpy.load(path, allow_pickle=False) as f:
                doc = json.loads(str(f["axes"]))
        else:
            doc = read_json_limited(path, limit=JSON_MAX_BYTES, what="axes file", max_depth=32)
    except InputError as exc:
        raise AxisError(f"cannot read axes: {exc}") from None
    except OSError as exc:
        raise AxisError(f"cannot read axes {path}: {exc.strerror or exc}") from None
    except (ValueError, KeyError) as exc:
        raise AxisError(f"axes file {path} is not valid: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != AXES_FORMAT:
        raise AxisError(f"{path} is not a {AXES_FORMAT} file")
    if doc.get("version") != AXES_VERSION:
        raise AxisError(f"{path}: axes format version {doc.get('version')!r} is not supported (this version "
                        f"reads {AXES_VERSION})")
    entries = doc.get("axes")
    if not isinstance(entries, list) or not entries:
        raise AxisError(f"{path} holds no axes")
    axes = [Axis.from_dict(e, source=str(path)) if isinstance(e, dict) else None for e in entries]
    if any(a is None for a in axes):
        raise AxisError(f"{path}: every axis entry must be an object")
    sizes = {a.dim_z for a in axes}
    if len(sizes) != 1:
        raise AxisError(f"{path}: axes have different latent sizes {sorted(sizes)}")
    if dim_z is not None and sizes != {int(dim_z)}:
        raise AxisError(f"{path}: axes have dim_z {sizes.pop()}, the model's latents have {dim_z}")
    recorded = (doc.get("model") or {}).get("generator_sha256") if isinstance(doc.get("model"), dict) else None
    if generator_sha256 and recorded and recorded != generator_sha256:
        raise AxisError(f"{path} was made for another generator (sha256 {recorded[:12]}..., this one "
                        f"{generator_sha256[:12]}...); {DISCOVER_HINT}")
    return axes


def bundle_axes(bundle):
    """The axes shipped with a model: ``axes.json`` beside its generator file (empty list when absent).

    Raises:
        AxisError: the file exists but is unreadable, does not fit the generator, or was found for another
            generator file (sha256).
    """
    generator = (getattr(bundle, "files", None) or {}).get("generator")
    if not generator:
        return []
    path = os.path.join(os.path.dirname(os.path.abspath(generator)), AXES_FILE)
    if not os.path.exists(path):
        return []
    digest = (getattr(bundle, "sha256", None) or {}).get("generator")
    if not digest and os.path.exists(generator):
        digest = file_sha256(generator)
    return load_axes(path, dim_z=bundle.generator.dim_z, generator_sha256=digest)


def file_sha256(path):
    """Hex sha256 of a file's bytes."""
    import hashlib
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------------------
# editing

def _directions(axes, dim_z):
    items = axes if isinstance(axes, (list, tuple)) else [axes]
    out = []
    for item in items:
        d = item.direction if isinstance(item, Axis) else numpy.asarray(backend.to_numpy(item), numpy.float32)
        if d.shape != (dim_z,):
            raise ValueError(f"axis direction has shape {d.shape}, the latents need ({dim_z},)")
        out.append(d)
    return numpy.stack(out) if out else numpy.zeros((0, dim_z), numpy.float32)


def move_global(z, axes, amounts):
    """``z + sum_i amounts[i] * u_i``.

    Args:
        z: ``(N, dim_z)`` float32 latents (NumPy or CuPy; ``(dim_z,)`` for one).
        axes: an :class:`Axis` or ``(dim_z,)`` direction, or a list of them.
        amounts: one number per axis (a number for one axis), or per axis ``(N,)`` numbers (per sample).

    Returns:
        moved latents, same shape, float32, same array module as ``z``.
    """
    xp = backend.get_array_module(z)
    z = xp.asarray(z, dtype=numpy.float32)
    single = z.ndim == 1
    z2 = z[None] if single else z
    u = _directions(axes, z2.shape[1])
    a = numpy.asarray(amounts, dtype=numpy.float32)
    if a.ndim == 0:
        a = a[None]
    if a.shape[0] != u.shape[0] or a.ndim > 2 or (a.ndim == 2 and a.shape[1] != z2.shape[0]):
        raise ValueError(f"amounts of shape {a.shape} do not fit {u.shape[0]} axes and {z2.shape[0]} latents")
    shift = a.T @ u if a.ndim == 2 else (a @ u)[None]
    out = z2 + xp.asarray(shift.astype(numpy.float32))
    return out[0] if single else out


def global_edit(gen, z, condition, axes, amounts):
    """``G(z + sum_i amounts[i] * u_i, condition)``: ``(N, 3, R, R)`` float32 NumPy in ``[-1, 1]``."""
    from neuralcollage.collage import render
    return render(gen, move_global(backend.to_numpy(z), axes, amounts), condition)


def local_edit(gen, z, condition, axes, amounts, mask, *, layers="all", feather=0.0):
    """The features of ``G(z + sum a_i u_i)`` blended into ``G(z)`` inside ``mask`` at blend ``layers``.

    Args:
        gen: a :class:`~neuralcollage.models.Generator`.
        z: ``(N, dim_z)`` latents. condition: the class condition of both streams (see
            :func:`neuralcollage.collage.render`).
        axes, amounts: see :func:`move_global`.
        mask: ``(R, R)`` bool or float in ``[0, 1]`` (another size is resized).
        layers: blend layers that blend (:func:`neuralcollage.maps.parse_layers`); with ``"all"`` (and a
            last blend layer at the output resolution) pixels farther than one pixel from the mask stay
            those of ``G(z)``; early layers alone spread the change.
        feather: Gaussian sigma (pixels at resolution ``R``) softening the mask.

    Returns:
        ``(N, 3, R, R)`` float32 NumPy in ``[-1, 1]``.
    """
    from neuralcollage.collage import blend_edit
    z = numpy.asarray(backend.to_numpy(z), dtype=numpy.float32)
    if z.ndim == 1:
        z = z[None]
    return blend_edit(gen, z, move_global(z, axes, amounts), condition, mask, layers=layers, feather=feather)


def disc_mask(size, *, radius=0.3, center=(0.5, 0.5)):
    """A disc mask ``(size, size)`` bool: ``radius`` and ``center`` (y, x) as fractions of ``size``."""
    yy, xx = numpy.mgrid[0:size, 0:size] + 0.5
    cy, cx = center[0] * size, center[1] * size
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= (radius * size) ** 2


def _names_and_amounts(axis_name, amount):
    names = [axis_name] if isinstance(axis_name, (str, Axis)) else list(axis_name)
    amounts = numpy.atleast_1d(numpy.asarray(amount, dtype=numpy.float64))
    if amounts.ndim != 1 or len(amounts) != len(names) or not names:
        raise ValueError(f"give one amount per axis: {len(names)} axes, {amounts.size} amounts")
    if not numpy.isfinite(amounts).all():
        raise ValueError(f"amounts must be finite numbers, got {amounts.tolist()}")
    return names, [float(a) for a in amounts]


def attribute_edit_photo(bundle, photo, axis_name, amount, *, mask=None, axes=None, layers="all", steps=None,
                         restarts=1, seed=0, source_label=None, blend_mode="normal", feather=0.0, dilate=8,
                         margin=0.25, candidates=3, guess_steps=30, progress=None, guess_progress=None,
                         reconstruction=None, fit=None, fit_progress=None):
    """Move a photo's attribute along a latent axis, inside a painted region or everywhere.

    The photo is cropped, resized and projected as in :func:`neuralcollage.collage.edit_photo`; the edit is
    feature blending of ``z + amount * u`` into ``z`` inside the mask (:func:`local_edit`, the class
    unchanged), Poisson-blended back at full resolution (pixels outside
    :func:`neuralcollage.blending.blend_region` are bit-identical to the photo).  It is the ``"blend"`` edit
    of :mod:`neuralcollage.collage` with ``z_target = z + amount * u`` and the source class as target, so
    ``result.recipe`` replays with :func:`neuralcollage.collage.replay`; ``recipe["attribute"]`` records the
    axes and amounts.

    Args:
        bundle: a :class:`neuralcollage.pretrained.ModelBundle` with a discriminator.
        photo: ``(H, W, 3)`` uint8 RGB.
        axis_name: an axis name (or a list of names) of ``axes``; a per-class axis of the photo's class is
            preferred over the global one of the same name.
        amount: how far to move (one number per axis), in latent standard deviations; positive increases the
            attribute.
        mask: ``(h, w)`` mask with the photo's aspect ratio (see :func:`neuralcollage.collage.edit_photo`);
            None edits the whole crop (the largest centred square of the photo).
        axes: a list of :class:`Axis` or an axes file; default :func:`bundle_axes`.
        layers: blend layers (:func:`neuralcollage.maps.parse_layers`); ``"all"`` keeps the change inside
            the mask.
        steps, restarts, seed, source_label, blend_mode, feather, dilate, margin, candidates, guess_steps,
        progress, guess_progress, reconstruction, fit, fit_progress: as for
        :func:`neuralcollage.collage.edit_photo` (``reconstruction=None``: its default).

    Returns:
        :class:`neuralcollage.collage.EditResult` (``z_target`` is the moved latent, ``target_class`` equals
        ``source_class``).

    Raises:
        UnknownAxisError: an axis the model does not have (checked before projecting; an axis fitted on
            other classes only is found missing for a guessed source class after the guess's projection).
        InputError, UnknownLabelError, SnapshotError: as :func:`neuralcollage.collage.edit_photo`.
    """
    from neuralcollage.collage import edit_photo

    names, amounts = _names_and_amounts(axis_name, amount)
    if axes is None:
        axes = bundle_axes(bundle)
        if not axes:
            raise AxisError(f"model {bundle.name!r} has no attribute axes ({AXES_FILE} beside its generator); "
                            f"{DISCOVER_HINT}, or pass axes=")
    elif isinstance(axes, (str, os.PathLike)):
        axes = load_axes(axes, dim_z=bundle.generator.dim_z)
    source_class = None if source_label is None else bundle.vocabulary.index(source_label)
    for n in names:
        if isinstance(n, Axis):
            continue
        if source_class is not None or not [a for a in axes if a.name.lower() == str(n).lower()]:
            get_axis(axes, n, class_id=source_class)
    chosen = []

    def moved(z, class_id):
        chosen[:] = [get_axis(axes, n, class_id=class_id) for n in names]
        return move_global(z, chosen, amounts)

    whole = mask is None
    if whole:
        mask = numpy.ones(numpy.shape(photo)[:2], numpy.float32)
    result = edit_photo(bundle, photo, mask, None, source_label=source_label, layers=layers, method="blend",
                        z_target=moved, steps=steps, restarts=restarts, seed=seed, blend_mode=blend_mode,
                        feather=feather, dilate=dilate, margin=margin, candidates=candidates,
                        guess_steps=guess_steps, progress=progress, guess_progress=guess_progress,
                        fit=fit, fit_progress=fit_progress,
                        **({} if reconstruction is None else {"reconstruction": reconstruction}))
    result.recipe["attribute"] = {"axes": [{"name": a.name, "class_id": a.class_id, "amount": amt,
                                            "decorrelated_from": list(a.decorrelated_from)}
                                           for a, amt in zip(chosen, amounts)]}
    if whole:
        result.notes.insert(0, "no mask: the whole crop is edited")
    result.notes.append("moved along " + ", ".join(f"{a.label} by {amt:+g}" for a, amt in zip(chosen, amounts)))
    return result


# ----------------------------------------------------------------------------------------------------
# evaluation

def _line_fit(x, y):
    """Slope, intercept and R^2 of the least-squares line ``y ~ s x + c``."""
    x = numpy.asarray(x, numpy.float64)
    y = numpy.asarray(y, numpy.float64)
    xm, ym = x.mean(), y.mean()
    sxx = ((x - xm) ** 2).sum()
    slope = ((x - xm) * (y - ym)).sum() / sxx if sxx > 0 else 0.0
    resid = y - (slope * (x - xm) + ym)
    sst = ((y - ym) ** 2).sum()
    r2 = 1.0 - (resid ** 2).sum() / sst if sst > 0 else float("nan")
    return float(slope), float(ym - slope * xm), float(r2)


def _eval_latents(gen, axis, n, seed, classes):
    z = backend.to_numpy(gen.sample_z(n, seed=seed)).astype(numpy.float32)
    if axis.class_id is not None:
        return z, numpy.full((n,), axis.class_id, numpy.int64)
    pool = list(range(gen.n_classes)) if classes is None else [int(c) for c in classes]
    return z, numpy.array([pool[i % len(pool)] for i in range(n)], numpy.int64)


def _sweep(gen, predict, classifier, axis, amounts, *, n, seed, classes, batch_size):
    """Attributes ``(n_amounts, n, A)`` and class predictions ``(n_amounts, n)`` (or None) along ``axis``."""
    z, ids = _eval_latents(gen, axis, n, seed, classes)
    values, preds = [], []
    for a in amounts:
        x = _render(gen, move_global(z, axis, float(a)), ids, batch_size=batch_size)
        values.append(predict(x))
        if classifier is not None:
            preds.append(_classify(classifier, x))
    return numpy.stack(values), (numpy.stack(preds) if preds else None), ids


def _entanglement(slopes, stds, index, scopes):
    """``E[i, j]``: change of attribute ``index[j]`` per unit along axis ``i`` in that attribute's standard
    deviations (over axis ``i``'s unedited samples), divided by axis ``i``'s change of its own attribute in its
    standard deviations; and the mean ``|E[i, j]|`` over pairs ``i != j`` of one scope (class)."""
    k = len(index)
    scaled = numpy.array([[slopes[i][index[j]] / stds[i][index[j]] for j in range(k)] for i in range(k)])
    diag = numpy.diag(scaled).copy()
    with numpy.errstate(divide="ignore", invalid="ignore"):
        norm = scaled / diag[:, None]
    scopes = numpy.array([-1 if c is None else int(c) for c in scopes])
    off = ~numpy.eye(k, dtype=bool) & (scopes[:, None] == scopes[None, :])
    return norm, (float(numpy.abs(norm[off]).mean()) if off.any() else 0.0)


def _evaluate_set(gen, predict, names, classifier, axes, amounts, *, n, seed, classes, batch_size):
    rows, sweeps = [], {}
    slopes = []
    zero = int(numpy.argmin(numpy.abs(amounts)))
    stds = []
    for axis in axes:
        if axis.attribute not in names:
            raise ValueError(f"axis {axis.name!r} is for attribute {axis.attribute!r}, which the predictor does "
                             f"not output ({list(names)})")
        j = names.index(axis.attribute)
        values, preds, ids = _sweep(gen, predict, classifier, axis, amounts, n=n, seed=seed, classes=classes,
                                    batch_size=batch_size)
        stds.append(numpy.maximum(values[zero].std(axis=0), 1e-6))
        change = values - values[zero][None]
        pooled_x = numpy.repeat(amounts, n)
        slope, _, r2 = _line_fit(pooled_x, change[:, :, j].reshape(-1))
        mean_curve = values[:, :, j].mean(axis=1)
        _, _, r2_mean = _line_fit(amounts, mean_curve)
        order = numpy.argsort(amounts)
        steps = numpy.diff(mean_curve[order])
        monotonic = bool((steps > 0).all() or (steps < 0).all())
        slopes.append([_line_fit(pooled_x, change[:, :, m].reshape(-1))[0] for m in range(len(names))])
        row = {"axis": axis.name, "class_id": axis.class_id, "attribute": axis.attribute,
               "decorrelated_from": list(axis.decorrelated_from), "slope": slope, "r2": r2, "r2_mean": r2_mean,
               "monotonic": monotonic, "increasing": bool(monotonic and steps.sum() > 0),
               "mean_curve": mean_curve.tolist(), "change_std": change[:, :, j].std(axis=1).tolist()}
        if preds is not None:
            edited = numpy.abs(amounts) > 0
            keep = preds == ids[None]
            row["class_kept"] = float(keep[edited].mean()) if edited.any() else float("nan")
            row["class_accuracy_unedited"] = float(keep[zero].mean())
            good = keep[zero]
            row["class_kept_of_correct"] = float(keep[edited][:, good].mean()) if good.any() and edited.any() \
                else float("nan")
        rows.append(row)
        sweeps[axis.name if axis.class_id is None else f"{axis.name}@{axis.class_id}"] = values
    index = [names.index(a.attribute) for a in axes]
    matrix, off = _entanglement(numpy.array(slopes), stds, index, [a.class_id for a in axes])
    return rows, {"matrix": matrix.tolist(), "mean_abs_off_diagonal": off,
                  "slopes": numpy.array(slopes).tolist(), "attribute_std": numpy.array(stds).tolist()}


def _local_change(gen, axes, amount, mask, *, n, seed, classes, layers, dilate, batch_size):
    from neuralcollage.blending import dilate_mask
    from neuralcollage.collage import blend_edit
    from neuralcollage.io import from_model
    from neuralcollage import maps
    mask = numpy.clip(maps.resize_mask(numpy.asarray(mask, numpy.float32), gen.resolution), 0, 1)
    outside = ~dilate_mask(mask, radius=dilate)
    inside = mask > 0.5
    rows = []
    for axis in axes:
        z, ids = _eval_latents(gen, axis, n, seed, classes)
        out_diff, in_diff, max_out = [], [], 0.0
        for i in range(0, n, batch_size):
            zb, yb = z[i:i + batch_size], gen.device.send(ids[i:i + batch_size].astype(numpy.int32))
            base = from_model(_render(gen, zb, ids[i:i + batch_size], batch_size=batch_size)).astype(numpy.int16)
            edit = from_model(blend_edit(gen, zb, move_global(zb, axis, amount), yb, mask,
                                         layers=layers)).astype(numpy.int16)
            d = numpy.abs(edit - base).astype(numpy.float64)
            out_diff.append(d[:, outside].mean(axis=(1, 2)))
            in_diff.append(d[:, inside].mean(axis=(1, 2)))
            max_out = max(max_out, float(d[:, outside].max()) if outside.any() else 0.0)
        rows.append({"axis": axis.name, "class_id": axis.class_id,
                     "outside_change": float(numpy.concatenate(out_diff).mean()) if outside.any() else 0.0,
                     "outside_max": max_out, "inside_change": float(numpy.concatenate(in_diff).mean())})
    return {"amount": float(amount), "layers": str(layers), "dilate": int(dilate),
            "mask_fraction": float(inside.mean()), "outside_fraction": float(outside.mean()), "axes": rows}


def evaluate_axes(gen, predictor, classifier, axes, *, amounts=(-2.0, -1.0, 0.0, 1.0, 2.0), n=64, seed=0,
                  before=None, classes=None, mask=None, layers="all", local_amount=None, dilate=2, batch_size=64,
                  attributes=None, targets=None):
    """Measure attribute axes.

    For each axis, ``n`` latents (``gen.sample_z(n, seed=seed)``, classes round-robin over ``classes`` or the
    axis's own class) are moved by every amount and generated; the predictor measures the attributes and the
    classifier the class.

    Args:
        gen: a :class:`~neuralcollage.models.Generator`.
        predictor: an attribute predictor (see :func:`sample_attributes`; ``attributes`` names a callable's
            outputs).
        classifier: a :class:`~neuralcollage.models.classifier.Classifier` (or a callable ``f(images
            NCHW) -> ids``), or None to skip class preservation.
        axes: list of :class:`Axis` to measure (e.g. the decorrelated ones).
        amounts: the tested range (must include 0, the unedited image).
        n: latents per axis.
        before: optional axes before decorrelation (same attributes): their entanglement and per-axis
            numbers are measured too, and ``entanglement_reduction`` compares the two.
        classes: class ids of the latents of global axes (default: all classes).
        mask: ``(R, R)`` region of the local edits (default :func:`disc_mask` of radius 0.3).
        layers: blend layers of the local edits.
        local_amount: amount of the local edits (default: the largest ``|amount|``).
        dilate: pixels the region is grown by before measuring the change outside it.
        targets: thresholds of the ``passed`` entries; defaults ``{"r2": 0.8, "r2_on": "mean", "class_kept":
            0.9, "class_on": "class_kept_of_correct", "entanglement_reduction": 0.5, "outside_change": 1.0}``:
            the mean attribute rises monotonically with the amount with R^2 >= 0.8 (``r2_on="samples"``: the
            stricter per-sample R^2), >= 90% of the edited samples the classifier assigned to their class
            unedited keep it (``class_on="class_kept"``: of all edited samples), the mean absolute change
            outside the dilated region is below 1 (in [0, 255]), decorrelation lowers the mean absolute
            off-diagonal entanglement by >= 50%.

    Returns:
        dict: ``amounts``, ``n``, ``axes`` (per axis: ``slope`` (attribute change per unit, pooled over the
        samples), ``r2`` (R^2 of every sample's attribute change against the amount), ``r2_mean`` (R^2 of the
        mean attribute against the amount), ``monotonic``, ``increasing``, ``class_kept`` (share of edited
        samples, amount != 0, the classifier assigns to the conditioned class), ``class_accuracy_unedited``,
        ``class_kept_of_correct`` (the same among samples classified correctly unedited), ``mean_curve``,
        ``change_std`` (per amount, the standard deviation of the samples' attribute change), ``passed``),
        ``entanglement`` (``matrix`` ``E[i][j]``: change of axis j's attribute per unit along axis i, in
        standard deviations of that attribute over axis i's unedited samples, divided by axis i's own change;
        ``mean_abs_off_diagonal`` over pairs of axes of the same class scope),
        ``local`` (per axis the mean absolute change in [0, 255] outside the dilated region and inside the
        region), and with ``before``: ``before_axes``, ``entanglement_before``, ``entanglement_reduction``
        (``1 - after / before``).
    """
    predict, names = _predictor(predictor, attributes)
    amounts = numpy.asarray(sorted(float(a) for a in amounts), numpy.float64)
    if not (amounts == 0).any() or len(amounts) < 3:
        raise ValueError("amounts must include 0 and at least two other values")
    axes = list(axes)
    if not axes:
        raise ValueError("no axes to evaluate")
    targets = {"r2": 0.8, "r2_on": "mean", "class_kept": 0.9, "class_on": "class_kept_of_correct",
               "entanglement_reduction": 0.5, "outside_change": 1.0, **(targets or {})}
    if targets["r2_on"] not in ("mean", "samples") or targets["class_on"] not in (
            "class_kept", "class_kept_of_correct"):
        raise ValueError("targets: r2_on must be 'mean' or 'samples', class_on 'class_kept' or "
                         "'class_kept_of_correct'")
    common = dict(n=n, seed=seed, classes=classes, batch_size=batch_size)
    rows, ent = _evaluate_set(gen, predict, names, classifier, axes, amounts, **common)
    if mask is None:
        mask = disc_mask(gen.resolution)
    local_amount = float(numpy.abs(amounts).max()) if local_amount is None else float(local_amount)
    local = _local_change(gen, axes, local_amount, mask, n=n, seed=seed, classes=classes, layers=layers,
                          dilate=dilate, batch_size=batch_size)
    for row, loc in zip(rows, local["axes"]):
        row["outside_change"] = loc["outside_change"]
        row["inside_change"] = loc["inside_change"]
        r2 = row["r2_mean"] if targets["r2_on"] == "mean" else row["r2"]
        checks = [row["monotonic"] and row["increasing"], r2 >= targets["r2"],
                  loc["outside_change"] < targets["outside_change"]]
        if "class_kept" in row:
            checks.append(row[targets["class_on"]] >= targets["class_kept"])
        row["passed"] = bool(all(checks))
    result = {"amounts": amounts.tolist(), "n": int(n), "seed": int(seed), "attributes": list(names),
              "targets": targets, "axes": rows, "entanglement": ent, "local": local,
              "labels": [a.label for a in axes]}
    if before is not None:
        before = list(before)
        b_rows, b_ent = _evaluate_set(gen, predict, names, classifier, before, amounts, **common)
        result["before_axes"] = b_rows
        result["entanglement_before"] = b_ent
        b, a = b_ent["mean_abs_off_diagonal"], ent["mean_abs_off_diagonal"]
        reduction = 1.0 - a / b if b > 0 else float("nan")
        result["entanglement_reduction"] = {"before": b, "after": a, "reduction": reduction,
                                            "passed": bool(reduction >= targets["entanglement_reduction"])}
    return result


def _fmt(v, digits=3):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return "nan" if not math.isfinite(v) else f"{v:.{digits}f}"
    return str(v)


_COLUMNS = [("axis", "axis"), ("attribute", "attribute"), ("slope", "slope/unit"), ("r2", "R^2 (samples)"),
            ("r2_mean", "R^2 (mean)"), ("monotonic", "monotonic"), ("class_kept", "class kept"),
            ("class_kept_of_correct", "class kept (of correct)"),
            ("class_accuracy_unedited", "class acc. unedited"), ("outside_change", "outside change /255"),
            ("inside_change", "inside change /255"), ("passed", "targets met")]


def evaluation_table(result, *, fmt="markdown"):
    """The per-axis numbers and entanglement of :func:`evaluate_axes` as Markdown (``fmt="markdown"``) or CSV
    (``fmt="csv"``, per-axis rows only; ``set`` is ``after`` or ``before``)."""
    sets = [("after", result["axes"])] + ([("before", result["before_axes"])] if "before_axes" in result else [])
    if fmt == "csv":
        import csv
        import io
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        keys = ["set", "axis", "class_id", "attribute", "slope", "r2", "r2_mean", "monotonic", "class_kept",
                "class_accuracy_unedited", "class_kept_of_correct", "outside_change", "inside_change", "passed"]
        writer.writerow(keys)
        for name, rows in sets:
            for r in rows:
                writer.writerow([name] + [("" if r.get(k) is None else r.get(k)) for k in keys[1:]])
        return buf.getvalue()
    if fmt != "markdown":
        raise ValueError(f"fmt must be 'markdown' or 'csv', got {fmt!r}")
    lines = []
    for name, rows in sets:
        title = "Axes" if name == "after" else "Axes before decorrelation"
        cols = [(k, h) for k, h in _COLUMNS if name == "after" or k not in ("outside_change", "inside_change",
                                                                              "passed")]
        lines += [f"### {title} (amounts {result['amounts']}, n = {result['n']} per axis)", "",
                  "| " + " | ".join(h for _, h in cols) + " |", "|" + "---|" * len(cols)]
        for r in rows:
            cells = [_fmt(r.get(k)) for k, _ in cols]
            if r.get("class_id") is not None:
                cells[0] = f"{r['axis']} (class {r['class_id']})"
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        if name == "after":
            t = result["targets"]
            lines += [f"targets met: the mean attribute rises monotonically, R^2 ({t['r2_on']}) >= {t['r2']}, "
                      f"{t['class_on'].replace('_', ' ')} >= {t['class_kept']} (when a classifier is given), "
                      f"outside change < {t['outside_change']}/255.", ""]
    for key, title in (("entanglement_before", "Entanglement before decorrelation"),
                       ("entanglement", "Entanglement" + (" after decorrelation" if "before_axes" in result
                                                          else ""))):
        if key not in result:
            continue
        ent = result[key]
        labels = [r["attribute"] if r.get("class_id") is None else f"{r['attribute']} ({r['class_id']})"
                  for r in (result["before_axes"] if key == "entanglement_before" else result["axes"])]
        lines += [f"### {title} (row: axis moved; column: attribute; in units of the row's own change)", "",
                  "| axis | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
        for lab, row in zip(labels, ent["matrix"]):
            lines.append(f"| {lab} | " + " | ".join(_fmt(float(v), 2) for v in row) + " |")
        lines += ["", f"mean |off-diagonal|: {ent['mean_abs_off_diagonal']:.3f}", ""]
    if "entanglement_reduction" in result:
        red = result["entanglement_reduction"]
        lines += [f"Entanglement reduction: {red['before']:.3f} -> {red['after']:.3f} "
                  f"({100 * red['reduction']:.0f}% lower; target >= "
                  f"{100 * result['targets']['entanglement_reduction']:.0f}%: "
                  f"{'met' if red['passed'] else 'not met'})", ""]
    loc = result["local"]
    lines += [f"Local edits: amount {loc['amount']:+g}, blend layers {loc['layers']}, region "
              f"{100 * loc['mask_fraction']:.0f}% of the image, change measured outside the region dilated by "
              f"{loc['dilate']} px ({100 * loc['outside_fraction']:.0f}% of the image).", ""]
    return "\n".join(lines)


def plot_evaluation(result, path, *, dpi=100):
    """Save a figure of :func:`evaluate_axes`: entanglement heatmaps (before / after) and the mean attribute
    against the amount per axis (+- one standard deviation over the samples)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    mats = ([("before decorrelation", result["entanglement_before"], result["before_axes"])]
            if "entanglement_before" in result else [])
    mats.append(("after decorrelation" if mats else "entanglement", result["entanglement"], result["axes"]))
    ncols = len(mats) + 1
    fig, axs = plt.subplots(1, ncols, figsize=(4.6 * ncols, 4.2))
    for ax, (title, ent, rows) in zip(axs, mats):
        m = numpy.array(ent["matrix"], dtype=numpy.float64)
        labels = [r["attribute"] for r in rows]
        im = ax.imshow(m, cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if abs(m[i, j]) > 0.6 else "black")
        ax.set_title(f"{title}\nmean |off-diag| {ent['mean_abs_off_diagonal']:.3f}", fontsize=9)
        ax.set_xlabel("attribute")
        ax.set_ylabel("axis moved")
        fig.colorbar(im, ax=ax, fraction=0.046)
    ax = axs[-1]
    amounts = result["amounts"]
    zero = amounts.index(0.0)
    for r in result["axes"]:
        change = numpy.array(r["mean_curve"]) - r["mean_curve"][zero]
        std = numpy.array(r["change_std"])
        label = f"{r['axis']} (R^2 {r['r2_mean']:.2f} mean, {r['r2']:.2f} samples)"
        line, = ax.plot(amounts, change, marker="o", label=label)
        ax.fill_between(amounts, change - std, change + std, color=line.get_color(), alpha=0.12)
    ax.set_xlabel("amount (latent std along the axis)")
    ax.set_ylabel("attribute change (mean +- std over samples)")
    ax.set_title("attribute against amount", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = str(path) + ".tmp.png"
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    os.replace(tmp, path)

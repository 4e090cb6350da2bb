"""Latent attribute axes ("darker fur", "bigger eyes"), applied globally or inside a painted region.

An axis is a unit direction ``u`` in latent space (:class:`Axis`); moving ``z`` by ``a * u`` changes one
attribute.  Axes are found and measured by :mod:`neuralcollage.analysis.axes`
(:func:`~neuralcollage.analysis.axes.discover_axes`, :func:`~neuralcollage.analysis.axes.evaluate_axes`).
:func:`decorrelate` removes from an axis its components along reference axes (Gram-Schmidt), so that moving
along it leaves the references' attributes (to first order) alone.

Editing: :func:`move_global` moves latents along axes; :func:`global_edit` renders the moved latents;
:func:`local_edit` blends the features of ``G(z + a * u)`` into ``G(z)`` inside a mask at chosen blend
layers (:func:`neuralcollage.collage.blend_edit`: stream 0 is ``z``, stream 1 ``z + a * u``);
:func:`attribute_edit_photo` does the same to a real photo through projection, and returns a
:class:`neuralcollage.collage.EditResult` whose recipe :func:`neuralcollage.collage.replay` rebuilds.

Axes travel with a model as ``axes.json`` beside its generator (:func:`save_axes`, :func:`load_axes`,
:func:`bundle_axes`).
"""

import dataclasses
import difflib
import json
import math
import os

import numpy

from neuralcollage import backend
from neuralcollage.io import InputError, atomic_write_text, file_sha256
from neuralcollage.options import UNSET

__all__ = ["AXES_FILE", "AXES_FORMAT", "AXES_VERSION", "Axis", "AxisError", "UnknownAxisError", "unit_direction",
           "decorrelate", "decorrelate_all", "axis_names", "get_axis", "save_axes", "load_axes", "bundle_axes",
           "file_sha256", "move_global", "global_edit", "local_edit", "attribute_edit_photo", "disc_mask"]

AXES_FILE = "axes.json"
#: How to make the axes of a model that has none (the installed library; no script needed).
DISCOVER_HINT = ("find them with neuralcollage.analysis.axes.discover_axes and save them with "
                 "neuralcollage.axes.save_axes")
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
        return cls(name=name, attribute=attribute, direction=unit_direction(direction, name), class_id=class_id,
                   slope=slope, r2=r2, n_samples=n_samples, decorrelated_from=decorrelated_from)


def _json_float(v):
    return None if v is None or not math.isfinite(float(v)) else float(v)


def unit_direction(v, name="axis"):
    """``v`` scaled to unit length as float32, or :class:`AxisError` for a zero vector (``name`` in the message)."""
    v = numpy.asarray(v, dtype=numpy.float64)
    norm = float(numpy.linalg.norm(v))
    if not norm > 1e-12:
        raise AxisError(f"{name}: direction has zero length")
    return (v / norm).astype(numpy.float32)



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


def attribute_edit_photo(bundle, photo, axis_name, amount, *, mask=None, axes=None, layers="all", source_label=None,
                         blend_options=None, edit_options=None, projection_options=None, progress=None,
                         guess_progress=None, reconstruction=None, fit=None, fit_progress=None, steps=UNSET,
                         restarts=UNSET, seed=UNSET, candidates=UNSET, guess_steps=UNSET, blend_mode=UNSET,
                         dilate=UNSET, seam=UNSET, colour_reach=UNSET, feather=UNSET, context=UNSET,
                         margin=UNSET):
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
        source_label, blend_options, edit_options, projection_options, progress, guess_progress,
        reconstruction, fit, fit_progress and the options' shorthands (steps, restarts, seed, candidates,
        guess_steps, blend_mode, dilate, seam, colour_reach, feather, context, margin): as for
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
                        z_target=moved, blend_options=blend_options, edit_options=edit_options,
                        projection_options=projection_options, steps=steps, restarts=restarts, seed=seed,
                        candidates=candidates, guess_steps=guess_steps, blend_mode=blend_mode, dilate=dilate,
                        seam=seam, colour_reach=colour_reach, feather=feather, context=context, margin=margin,
                        progress=progress, guess_progress=guess_progress,
                        fit=fit, fit_progress=fit_progress,
                        **({} if reconstruction is None else {"reconstruction": reconstruction}))
    result.recipe["attribute"] = {"axes": [{"name": a.name, "class_id": a.class_id, "amount": amt,
                                            "decorrelated_from": list(a.decorrelated_from)}
                                           for a, amt in zip(chosen, amounts)]}
    if whole:
        result.notes.insert(0, "no mask: the whole crop is edited")
    result.notes.append("moved along " + ", ".join(f"{a.label} by {amt:+g}" for a, amt in zip(chosen, amounts)))
    return result

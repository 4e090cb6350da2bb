"""Finding latent attribute axes and measuring them (the axes themselves, and moving latents along them, are
:mod:`neuralcollage.axes`).

Discovery (TL-GAN style): sample latents, generate, predict the continuous attributes of the images with an
attribute predictor (:class:`neuralcollage.models.regressor.AttributeRegressor` or any callable), fit per
attribute the least-squares linear model ``attribute ~ z . w + b_class`` (one intercept per class, so the
class does not leak into the slope), and normalise ``w`` into a unit axis ``u = w / |w|``.  Moving ``z`` by
``a * u`` then changes the attribute by about ``a * |w|``; since ``z ~ N(0, I)``, ``a`` is in units of the
latents' standard deviation along ``u``.  :func:`neuralcollage.axes.decorrelate` then removes from an axis its
components along reference axes.

Evaluation: :func:`evaluate_axes` (slope and R^2 of each axis's attribute against the amount, class
preservation, change outside the region of local edits, entanglement between axes before and after
decorrelation); :mod:`neuralcollage.analysis.axes.report` writes it as a table and a figure.
"""
import numpy

from neuralcollage import backend
from neuralcollage.axes import Axis, disc_mask, move_global, unit_direction

__all__ = ["sample_attributes", "fit_axes", "discover_axes", "evaluate_axes"]

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
        axes.append(Axis(name=f"{name}{suffix}", attribute=name, direction=unit_direction(w, name),
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



"""The outputs of a layer ablation: CSV tables, the Markdown summary with its measured trend, image grids and
trend figures (matplotlib, imported when a figure is drawn)."""
import csv
import io as _io
import math
import os

import numpy

from neuralcollage import io as ncio
from neuralcollage import maps
from neuralcollage.analysis.ablation.inputs import early_late_pair
from neuralcollage.analysis.ablation.measure import BLEND_METRICS, SCBN_METRICS, AblationResult

__all__ = ["grid_figure", "save_grid", "grid_images", "save_result_grids", "trend_series", "trend_figure",
           "plot_trend", "summary_lines", "write_report"]

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
           "- metrics (see `neuralcollage.analysis.ablation`): region = mask > 0.5; changes in [0, 255] units "
           "against the unedited image; ratios are NaN for an unchanged image; 'more global' = larger share of "
           "the change's energy outside the region and larger mean change outside it (the low-frequency share measures "
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


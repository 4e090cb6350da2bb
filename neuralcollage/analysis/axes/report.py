"""The evaluation of latent attribute axes (:func:`neuralcollage.analysis.axes.evaluate_axes`) as a Markdown
or CSV table and a figure (matplotlib, imported when the figure is drawn)."""
import math
import os

import numpy

__all__ = ["evaluation_table", "plot_evaluation"]

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
    """The per-axis numbers and entanglement of :func:`~neuralcollage.analysis.axes.evaluate_axes` as Markdown
    (``fmt="markdown"``) or CSV (``fmt="csv"``, per-axis rows only; ``set`` is ``after`` or ``before``)."""
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
    """Save a figure of :func:`~neuralcollage.analysis.axes.evaluate_axes`: entanglement heatmaps (before /
    after) and the mean attribute against the amount per axis (+- one standard deviation over the samples)."""
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

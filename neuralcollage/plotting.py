"""Matplotlib figures for people: before/after grids, per-layer maps, projection loss curves.

Every function builds a :class:`matplotlib.figure.Figure` without pyplot (no global figure registry, safe
in scripts, threads and the CLI: save with ``fig.savefig(path)``; in a notebook ``display(fig)``), or
draws into the ``ax`` it is given.  Images are ``(H, W, 3)`` uint8 RGB; maps are ``(N, K, H, W)``
float32 (sample 0 is drawn).

Example
-------
>>> fig = image_grid([numpy.zeros((8, 8, 3), numpy.uint8)] * 2, titles=["before", "after"])
>>> len(fig.axes)
2
"""
import colorsys

import numpy
from matplotlib.figure import Figure

__all__ = ["label_colors", "colorize_map", "overlay_map", "image_grid", "before_after",
           "plot_layer_maps", "plot_projection_losses", "class_legend"]

_TAB = ((0.122, 0.467, 0.706), (1.0, 0.498, 0.055), (0.173, 0.627, 0.173), (0.839, 0.153, 0.157),
        (0.580, 0.404, 0.741), (0.549, 0.337, 0.294), (0.890, 0.467, 0.761), (0.498, 0.498, 0.498),
        (0.737, 0.741, 0.133), (0.090, 0.745, 0.812))


def label_colors(n):
    """``n`` distinct colours: ``(n, 3)`` float32 in [0, 1] (tab10, then golden-ratio hues)."""
    n = int(n)
    colors = list(_TAB[:n])
    for i in range(len(colors), n):
        h = (0.13 + i * 0.618033988749895) % 1.0
        colors.append(colorsys.hsv_to_rgb(h, 0.55 + 0.35 * ((i * 7) % 3) / 2, 0.95 - 0.25 * ((i * 5) % 2)))
    return numpy.asarray(colors, numpy.float32).reshape(n, 3)


def colorize_map(class_map, colors=None):
    """A class map as an RGB image: every pixel the weight-averaged colour of its classes.

    Parameters
    ----------
    class_map : array (N, K, H, W) or (K, H, W)
        Weights (sample 0 is used).
    colors : array (K, 3) float in [0, 1], optional
        Default :func:`label_colors`.

    Returns
    -------
    numpy.ndarray (H, W, 3) uint8
    """
    m = numpy.asarray(class_map, numpy.float32)
    if m.ndim == 4:
        m = m[0]
    if m.ndim != 3:
        raise ValueError(f"class map must be (N, K, H, W) or (K, H, W), got shape {m.shape}")
    colors = label_colors(m.shape[0]) if colors is None else numpy.asarray(colors, numpy.float32)
    rgb = numpy.tensordot(m, colors[:m.shape[0]], axes=(0, 0))
    return numpy.clip(rgb * 255.0 + 0.5, 0, 255).astype(numpy.uint8)


def overlay_map(image, rgb, alpha):
    """``image`` with ``rgb`` laid over it with per-pixel opacity ``alpha``.

    Parameters
    ----------
    image, rgb : numpy.ndarray (H, W, 3) uint8
    alpha : numpy.ndarray (H, W) float in [0, 1], or float

    Returns
    -------
    numpy.ndarray (H, W, 3) uint8
    """
    a = numpy.asarray(alpha, numpy.float32)
    if a.ndim == 2:
        a = a[:, :, None]
    out = numpy.asarray(image, numpy.float32) * (1.0 - a) + numpy.asarray(rgb, numpy.float32) * a
    return numpy.clip(out + 0.5, 0, 255).astype(numpy.uint8)


def _grid_shape(n, columns):
    columns = max(1, min(int(columns or n), n))
    return (n + columns - 1) // columns, columns


def image_grid(images, *, titles=None, columns=None, size=2.2, suptitle=None):
    """A grid of images.

    Parameters
    ----------
    images : sequence of numpy.ndarray (H, W, 3) uint8, or mapping title -> image
    titles : sequence of str, optional
    columns : int, optional
        Default: all in one row.
    size : float
        Inches per panel.
    suptitle : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if hasattr(images, "items"):
        titles, images = list(images.keys()), list(images.values())
    images = list(images)
    if not images:
        raise ValueError("image_grid needs at least one image")
    rows, columns = _grid_shape(len(images), columns)
    fig = Figure(figsize=(size * columns, size * rows + (0.4 if suptitle else 0)), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < len(images):
            ax.imshow(numpy.asarray(images[i]), interpolation="nearest")
            if titles is not None and i < len(titles):
                ax.set_title(str(titles[i]), fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def before_after(before, after, *, extra=None, titles=("before", "after"), size=3.0):
    """Before/after comparison (plus optional extra panels, e.g. the mask or the class map).

    Parameters
    ----------
    before, after : numpy.ndarray (H, W, 3) uint8
    extra : mapping title -> image, optional
    titles : (str, str)

    Returns
    -------
    matplotlib.figure.Figure
    """
    panels = {titles[0]: before, titles[1]: after}
    panels.update(extra or {})
    return image_grid(panels, size=size)


def class_legend(ax, class_ids, names, colors, *, loc="upper left", fontsize=8):
    """Add a legend of coloured patches for ``class_ids`` to ``ax``."""
    from matplotlib.patches import Patch
    handles = [Patch(color=tuple(colors[i]), label=str(names[i]) if names is not None else str(i))
               for i in class_ids]
    if handles:
        ax.legend(handles=handles, loc=loc, fontsize=fontsize, framealpha=0.8)


def plot_layer_maps(layer_maps, *, class_names=None, colors=None, selected=None, title="per-layer maps",
                    size=1.8):
    """One panel per generator layer showing its class (or blend) map at that layer's resolution.

    Parameters
    ----------
    layer_maps : sequence of array (N, K, h_l, w_l)
        E.g. :func:`neuralcollage.maps.layer_maps` or blend maps.
    class_names : sequence of str, optional
        For the legend (classes with any weight).
    colors : array (K, 3), optional
    selected : iterable of int, optional
        Layers to mark as edited (title in bold).
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    layer_maps = [numpy.asarray(m, numpy.float32) for m in layer_maps]
    if not layer_maps:
        raise ValueError("plot_layer_maps needs at least one map")
    k = layer_maps[0].shape[1]
    colors = label_colors(k) if colors is None else numpy.asarray(colors, numpy.float32)
    selected = set(selected or ())
    fig = Figure(figsize=(size * len(layer_maps), size + 0.9), layout="constrained")
    axes = fig.subplots(1, len(layer_maps), squeeze=False)[0]
    used = set()
    for i, (ax, m) in enumerate(zip(axes, layer_maps)):
        ax.imshow(colorize_map(m, colors), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"layer {i}\n{m.shape[2]}x{m.shape[3]}", fontsize=8,
                     fontweight="bold" if i in selected else "normal")
        used.update(int(c) for c in numpy.flatnonzero(m[0].reshape(k, -1).max(axis=1) > 0))
    if class_names is not None:
        class_legend(axes[-1], sorted(used), class_names, colors, loc="center left")
        axes[-1].get_legend().set_bbox_to_anchor((1.02, 0.5))
    fig.suptitle(title, fontsize=10)
    return fig


def plot_projection_losses(losses, *, all_losses=None, ax=None, title="projection loss"):
    """Loss curve of a projection (and faded curves of the other restarts).

    Parameters
    ----------
    losses : sequence of float, or a result with ``losses`` (and ``all_losses``) attributes
        Loss per step of the kept restart.
    all_losses : sequence of sequences of float, optional
        Every restart's curve.
    ax : matplotlib Axes, optional
        Draw into it instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if hasattr(losses, "losses"):
        all_losses = getattr(losses, "all_losses", None) if all_losses is None else all_losses
        losses = losses.losses
    losses = numpy.asarray(losses, numpy.float64).ravel()
    if ax is None:
        fig = Figure(figsize=(4.5, 3.0), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    label = "other restarts"
    for curve in all_losses or ():
        curve = numpy.asarray(curve, numpy.float64).ravel()
        if curve.size and not (curve.size == losses.size and numpy.array_equal(curve, losses)):
            ax.plot(curve, color="0.6", lw=0.8, alpha=0.7, label=label)
            label = None
    ax.plot(losses, color="C0", lw=1.5, label="kept")
    if losses.size:
        ax.scatter([int(numpy.argmin(losses))], [float(numpy.min(losses))], color="C3", s=14, zorder=3,
                   label=f"best {float(numpy.min(losses)):.4g}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig

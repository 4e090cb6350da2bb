"""What the painter's view shows of a session, as images and text: the paint panel's overlay, the palette's
entries, the swatch and the notes.  NumPy and strings only; the widgets that show them are in
:mod:`neuralcollage.widgets.view`.
"""
import html

import numpy

from neuralcollage import painting, plotting

__all__ = ["STREAM_COLORS", "ATTRIBUTE_COLORS", "STYLE_COLORS", "overlay", "palette_options", "swatch_html",
           "attribute_note_html", "layers_help_html", "png_bytes"]

#: Overlay colours of the blend canvas's latent streams (cycled), the attribute canvas's labels (0 unchanged,
#: 1 moved) and the style canvas's labels (0 unchanged, 1 stylised): ``(n, 3)`` float32 in [0, 1].
STREAM_COLORS = numpy.asarray([(0.5, 0.5, 0.5), (0.95, 0.2, 0.55), (0.1, 0.75, 0.9), (0.95, 0.75, 0.1)],
                              numpy.float32)
ATTRIBUTE_COLORS = numpy.asarray([(0.5, 0.5, 0.5), (1.0, 0.55, 0.0)], numpy.float32)
STYLE_COLORS = numpy.asarray([(0.5, 0.5, 0.5), (0.35, 0.2, 0.85)], numpy.float32)


def _label_colors(session, labels, class_colors):
    labels = numpy.asarray(labels)
    if session.mode == "scbn":
        return class_colors[labels]
    if session.mode == "blend":
        return STREAM_COLORS[labels % len(STREAM_COLORS)]
    return (STYLE_COLORS if session.mode == "style" else ATTRIBUTE_COLORS)[labels]


def overlay(session, class_colors):
    """The paint panel: the session's background with the current mode's painting laid over it (the stroke
    being drawn included); in blend and attribute mode what the painting brings in shows through.

    Parameters
    ----------
    session : neuralcollage.widgets.session.PainterSession
    class_colors : numpy.ndarray (n_classes, 3) float32 in [0, 1]

    Returns
    -------
    numpy.ndarray (R, R, 3) uint8
    """
    labels, planes = session.active_weights()
    painted = numpy.clip(1.0 - planes[0], 0.0, 1.0)
    colors = _label_colors(session, labels, class_colors)
    rgb = numpy.tensordot(planes[1:], colors[1:], axes=(0, 0)) / numpy.maximum(painted, 1e-6)[:, :, None]
    rgb = numpy.clip(rgb * 255, 0, 255)
    if session.mode in ("blend", "attribute"):
        source = session.stream_image() if session.mode == "blend" else session.attribute_image()
        return plotting.overlay_map(plotting.overlay_map(session.background, source, painted), rgb, 0.25 * painted)
    return plotting.overlay_map(session.background, rgb, 0.55 * painted)


def palette_options(session, search=""):
    """The palette's ``[(text, label)]`` in the current mode (sCBN: the classes matching ``search``, the
    selected one first when the search is empty and it is not among them)."""
    if session.mode == "scbn":
        found = session.vocabulary.search(search, limit=200)
        options = [(f"{i}: {name}", i) for i, name in found]
        current = session.label["scbn"]
        if current not in [i for i, _ in found] and found and not search:
            options.insert(0, (f"{current}: {session.vocabulary.names[current]}", current))
        return options
    if session.mode == "blend":
        return [("0: this image's latent (eraser)", 0)] + [
            (f"{i}: latent seed {session.blend_seed + i - 1}", i) for i in range(1, session.stream_canvas.n_labels)]
    if session.mode == "style":
        return [("0: unchanged (eraser)", 0), (f"{painting.ATTRIBUTE_LABEL}: stylise", painting.ATTRIBUTE_LABEL)]
    return [("0: unchanged (eraser)", 0), (f"{painting.ATTRIBUTE_LABEL}: move the attribute", painting.ATTRIBUTE_LABEL)]


def swatch_html(session, class_colors):
    """The colour and name of the label being painted, and the base class (HTML)."""
    i = session.label[session.mode]
    if session.mode == "scbn":
        c, name = class_colors[i], session.vocabulary.names[i]
    elif session.mode == "blend":
        c, name = STREAM_COLORS[i % len(STREAM_COLORS)], f"latent stream {i}"
    elif session.mode == "style":
        c, name = STYLE_COLORS[i], (f"style {session.style_session.current!r}" if i else "unchanged")
    else:
        c, name = ATTRIBUTE_COLORS[i], (f"{session.axis.name} {session.amount:+.2g}" if i else "unchanged")
    rgb = ",".join(str(int(round(255 * v))) for v in c)
    base = session.vocabulary.names[session.base_class]
    return (f"<span style='display:inline-block;width:14px;height:14px;background:rgb({rgb});"
            f"border:1px solid #333;vertical-align:middle'></span> painting <b>{html.escape(name)}</b> "
            f"<small>(base: {html.escape(base)})</small>")


def attribute_note_html(session):
    """Why the attribute mode is off, or (in that mode) what the painting moves; "" otherwise (HTML)."""
    if not session.attribute_available:
        return (f"<div style='color:#8a6d00;background:#fff8e1;padding:2px 6px'>"
                f"<small>{html.escape(session.attribute_note)}</small></div>")
    if session.mode != "attribute":
        return ""
    a = session.axis
    scope = "global axis" if a.class_id is None else f"axis of class {session.vocabulary.names[a.class_id]!r}"
    fit = f", fit R^2 {a.r2:.2f}" if numpy.isfinite(a.r2) else ""
    return (f"<small>paint where <b>{html.escape(a.name)}</b> moves by {session.amount:+.2g} latent std "
            f"({html.escape(scope)}{fit}); the features of the moved latent are blended in at the attribute "
            f"layers</small>")


def layers_help_html(session):
    """Which layers the current mode's layer box takes (HTML)."""
    if session.mode == "style":
        return "<small>the style mode has no layers</small>"
    gen = session.generator
    n, kind = (gen.n_class_layers, "class layers") if session.mode == "scbn" else (gen.n_blend_layers, "blend layers")
    return f"<small>{kind} 0-{n - 1} (early: shape, late: texture)</small>"


def png_bytes(image, *, factor=1):
    """PNG bytes of ``image`` (H, W, 3) uint8 enlarged ``factor`` times (nearest), quickly compressed."""
    from io import BytesIO

    from PIL import Image
    big = numpy.repeat(numpy.repeat(image, factor, axis=0), factor, axis=1) if factor > 1 else image
    with BytesIO() as buffer:
        Image.fromarray(big).save(buffer, format="png", compress_level=1)
        return buffer.getvalue()

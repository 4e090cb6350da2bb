"""Procedural "hand-drawn" styles for the built-in renders: the ground truth of example-based stylisation.

A style is a pure function of the plain picture, laid out in screen space (hatching runs at a fixed angle,
paper grain and pigment noise are fixed per pixel position), as an artist drawing over the picture would
do.  So one face rendered plain and stylised in two poses gives an exemplar (pose A stylised), a target
(pose B plain) and the truth (pose B stylised).
"""
import cv2
import numpy

__all__ = ["STYLES", "stylise_render"]

STYLES = ("hatch", "watercolour")
_PAPER = numpy.array([0.97, 0.95, 0.9], numpy.float32)
_GRAIN_SEED = 0x5EED


def _noise(shape, sigma, seed):
    """Fixed smooth noise, zero mean, unit standard deviation, ``shape`` float32 (a function of shape only)."""
    rng = numpy.random.RandomState(seed)
    field = rng.standard_normal(shape).astype(numpy.float32)
    if sigma > 0:
        field = cv2.GaussianBlur(field, (0, 0), sigma)
    return (field - field.mean()) / max(float(field.std()), 1e-6)


def _luminance(rgb):
    return rgb @ numpy.array([0.299, 0.587, 0.114], numpy.float32)


def _hatch(rgb):
    h, w = rgb.shape[:2]
    size = max(h, w)
    period = max(3.0, size / 16.0)
    lum = cv2.GaussianBlur(_luminance(rgb), (0, 0), max(0.6, size / 128.0))
    y, x = numpy.mgrid[0:h, 0:w].astype(numpy.float32)
    wobble = _noise((h, w), size / 24.0, _GRAIN_SEED + 1) * (0.12 * period)

    def lines(phase, darkness):
        distance = numpy.abs(numpy.mod(phase / period, 1.0) - 0.5) * (period / numpy.sqrt(2.0))
        half_width = numpy.clip(darkness, 0.0, 1.0) * (0.3 * period)
        return numpy.clip(0.5 + half_width - distance, 0.0, 1.0) * (darkness > 0)

    ink = numpy.maximum(lines(x + y + wobble, (0.82 - lum) / 0.6), lines(x - y + wobble, (0.5 - lum) / 0.4))
    wash = 0.55 * _PAPER + 0.45 * rgb
    pen = rgb * 0.35
    out = wash * (1.0 - ink[..., None]) + pen * ink[..., None]
    contour = numpy.clip((0.22 - _luminance(rgb)) / 0.12, 0.0, 1.0)[..., None]
    return out * (1.0 - contour) + rgb * 0.6 * contour


def _watercolour(rgb):
    h, w = rgb.shape[:2]
    size = max(h, w)
    soft = cv2.bilateralFilter(rgb, d=-1, sigmaColor=0.15, sigmaSpace=max(1.0, size / 48.0))
    pigment = 1.0 + 0.18 * _noise((h, w), size / 20.0, _GRAIN_SEED + 2)
    blur = cv2.GaussianBlur(soft, (0, 0), max(1.0, size / 40.0))
    edges = numpy.abs(_luminance(soft) - _luminance(blur))
    darken = 1.0 - numpy.clip(edges * 3.0, 0.0, 0.45)
    dilute = 0.3 * _PAPER + 0.7 * soft
    out = 1.0 - (1.0 - dilute) * (pigment * (2.0 - darken))[..., None]
    return out * darken[..., None] ** 0.5


def stylise_render(image, *, style):
    """Redraw a render in ``style`` (one of :data:`STYLES`).

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W, 3)`` uint8 RGB.
    style : str, keyword-only
        ``"hatch"``: a pale wash of the colours with ink hatching whose density follows the darkness
        (one diagonal set, crossed in dark areas); ``"watercolour"``: edge-preserving smoothed, diluted
        colours with pigment noise and darkened edges.  Both add a fixed paper grain.

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` uint8 RGB, a pure function of ``image`` (same input, same bytes).
    """
    arr = numpy.asarray(image)
    if arr.dtype != numpy.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) uint8 RGB, got {arr.dtype} {arr.shape}")
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {STYLES}")
    rgb = arr.astype(numpy.float32) * (1.0 / 255.0)
    out = _hatch(rgb) if style == "hatch" else _watercolour(rgb)
    grain = 1.0 + 0.035 * _noise(arr.shape[:2], 0.7, _GRAIN_SEED)
    out = out * grain[..., None]
    return numpy.clip(out * 255.0 + 0.5, 0, 255).astype(numpy.uint8)

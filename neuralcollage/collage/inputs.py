"""The checks of an edit's inputs that the photo pipeline and its recipes share: the photo, the method, the layers
and the class labels.
"""
import numpy

from neuralcollage import maps
from neuralcollage.io import InputError

__all__ = ["METHODS", "check_method", "as_photo", "layers_string", "class_id", "class_name"]

#: The edit methods: ``"scbn"`` (spatial class conditioning) and ``"blend"`` (feature blending).
METHODS = ("scbn", "blend")


def as_photo(photo):
    """``photo`` as an ``(H, W, 3)`` uint8 RGB NumPy array (InputError otherwise)."""
    arr = numpy.asarray(photo)
    if arr.dtype != numpy.uint8 or arr.ndim != 3 or arr.shape[2] != 3 or 0 in arr.shape:
        raise InputError(f"photo must be an (H, W, 3) uint8 RGB array, got {arr.dtype} {arr.shape}")
    return arr


def class_id(vocabulary, gen, label, what):
    """The class id (int) of ``label`` (a name, synonym or index in ``vocabulary``); InputError when ``gen``
    lacks that class (``what`` names the label in the message), UnknownLabelError for an unknown name."""
    index = vocabulary.index(label)
    if index >= gen.n_classes:
        raise InputError(f"{what} {label!r} is class {index}, but the generator has {gen.n_classes} classes")
    return int(index)


def class_name(vocabulary, index):
    """The name of class ``index`` in ``vocabulary``, or the index as a string when it has none."""
    try:
        return vocabulary[index]
    except Exception:
        return str(index)


def layers_string(gen, method, layers):
    """``layers`` (:func:`neuralcollage.maps.parse_layers`) in their canonical text form, checked against ``gen``'s
    class layers (``method="scbn"``) or blend layers (``"blend"``); ValueError when out of range."""
    n = gen.n_class_layers if method == "scbn" else gen.n_blend_layers
    return maps.format_layers(maps.parse_layers(layers, n), n)


def check_method(method):
    """ValueError unless ``method`` is one of :data:`METHODS`."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")

"""Layer selection: the syntax shared by the CLI, the widgets and the scripts (``"all"``, ``"0-3"``, ``"4-"``,
``"0-2,5,7-"``) and its canonical text form.
"""
import operator
import re

from neuralcollage.maps.arrays import is_int, positive_int

__all__ = ["parse_layers", "format_layers"]

_LAYER_ITEM = re.compile(r"^(\d+)$|^(\d*)\s*-\s*(\d*)$")


def parse_layers(spec, n_layers):
    """Parse a layer selection into a sorted tuple of layer indices.

    Parameters
    ----------
    spec : str, int, iterable of int or None
        ``"all"`` (or None), ``"none"`` or ``""``, a single index ``"3"``, an inclusive range ``"0-3"``, an
        open range ``"4-"`` (4 to the last layer) or ``"-3"`` (0 to 3), or a comma-separated list of those
        (``"0-2,5,7-"``); or an int or an iterable of ints.  Case and spaces are ignored.
    n_layers : int
        Number of layers; valid indices are ``0 .. n_layers - 1``.

    Returns
    -------
    tuple of int
        Sorted, without duplicates.

    Raises
    ------
    ValueError
        Unparsable spec, reversed range, negative or out-of-range index; the one-line message gives the
        valid range ``0-{n_layers - 1}``.

    Examples
    --------
    >>> parse_layers("0-2,5,7-", 9)
    (0, 1, 2, 5, 7, 8)
    >>> parse_layers("-3", 8), parse_layers("none", 8), parse_layers([5, 1, 1], 8)
    ((0, 1, 2, 3), (), (1, 5))
    """
    n_layers = positive_int(n_layers, "n_layers")
    valid = f"valid layers: 0-{n_layers - 1}"
    if spec is None:
        return tuple(range(n_layers))
    if isinstance(spec, str):
        text = spec.strip().lower()
        if text == "all":
            return tuple(range(n_layers))
        if text in ("", "none"):
            return ()
        selected = set()
        for item in text.split(","):
            match = _LAYER_ITEM.match(item.strip())
            if not match or not any(match.groups()):
                raise ValueError(
                    f"cannot parse layer spec {spec!r} at {item.strip()!r}: use 'all', 'none', or indices "
                    f"and ranges like '0-3,5,7-' ({valid})")
            single, first, last = match.groups()
            if single:
                start = stop = int(single)
            else:
                start = int(first) if first else 0
                stop = int(last) if last else n_layers - 1
            if stop < start:
                raise ValueError(f"layer range {item.strip()!r} in {spec!r} is reversed ({valid})")
            for index in (start, stop):
                if index >= n_layers:
                    raise ValueError(
                        f"layer {index} in {spec!r} is out of range for {n_layers} layers ({valid})")
            selected.update(range(start, stop + 1))
        return tuple(sorted(selected))
    items = [spec] if is_int(spec) else spec
    try:
        items = list(items)
    except TypeError:
        raise ValueError(f"layer spec must be a string, an int or ints, got {spec!r} ({valid})") from None
    selected = set()
    for item in items:
        if not is_int(item):
            raise ValueError(f"layer {item!r} in {spec!r} is not an integer ({valid})")
        index = operator.index(item)
        if not 0 <= index < n_layers:
            raise ValueError(f"layer {index} is out of range for {n_layers} layers ({valid})")
        selected.add(index)
    return tuple(sorted(selected))


def format_layers(indices, n_layers):
    """The canonical compact string of a layer selection; inverse of :func:`parse_layers`.

    Parameters
    ----------
    indices : anything :func:`parse_layers` accepts
    n_layers : int

    Returns
    -------
    str
        ``"all"``, ``"none"`` or comma-separated indices and inclusive ranges.

    Examples
    --------
    >>> format_layers([0, 1, 2, 3, 7], 12), format_layers(range(8), 8), format_layers([], 8)
    ('0-3,7', 'all', 'none')
    """
    layers = parse_layers(indices, n_layers)
    if len(layers) == n_layers:
        return "all"
    if not layers:
        return "none"
    runs = []
    start = prev = layers[0]
    for index in layers[1:] + (None,):
        if index is not None and index == prev + 1:
            prev = index
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if index is not None:
            start = prev = index
    return ",".join(runs)

"""Class vocabularies: class names <-> class indices, with lookup by synonym and suggestions.

A :class:`Vocabulary` is the list of classes of one conditional model, in the model's index order.
Every class has one or more synonyms; the first is its display name.  Lookups are case-insensitive and
ignore the difference between spaces, underscores and hyphens, so ``"pomeranian"``, ``"Siberian_husky"``,
``"tabby cat"`` and ``"Tabby"`` all resolve.

Built-in vocabularies:

* :func:`imagenet1k` -- the 1000 ImageNet classes (WordNet ids in :attr:`Vocabulary.ids`).
* :func:`dogs_and_cats` -- the 143 dog and cat classes of the official Neural Collage models: index ``i``
  is ImageNet class ``151 + i`` (Pomeranian = ImageNet 259 = index 108).
* :func:`numbered` -- ``"class 0" .. "class n-1"``, for models without class names (e.g. CUB-200).
* :func:`from_names` -- a vocabulary from a list of names (the project's own models).

Example
-------
>>> vocab = get_vocabulary("dogs_and_cats")
>>> vocab.index("pomeranian"), vocab.names[108]
(108, 'Pomeranian')
>>> imagenet1k().index("Siberian_husky")
250
"""
import difflib
import functools
import operator
import os
import re
from types import MappingProxyType

__all__ = ["Vocabulary", "UnknownLabelError", "imagenet1k", "dogs_and_cats", "numbered", "from_names",
           "get_vocabulary", "normalize_label", "DOGS_AND_CATS_IMAGENET_IDS"]

#: ImageNet class indices of the dog-and-cat vocabulary (``dogs_and_cats()`` index ``i`` is ``151 + i``).
DOGS_AND_CATS_IMAGENET_IDS = range(151, 294)

_SYNSETS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "imagenet1k_synsets.txt")
_INDEX_RE = re.compile(r"^[+-]?\d+$")
_SEPARATORS_RE = re.compile(r"[\s_\-]+")


class UnknownLabelError(ValueError):
    """A class name or index that the vocabulary does not contain.  The message is one line."""


def normalize_label(text):
    """The lookup key of a class name: case-folded, ``_``/``-``/runs of whitespace -> one space, stripped.

    >>> normalize_label("  Siberian_HUSKY ")
    'siberian husky'
    """
    return _SEPARATORS_RE.sub(" ", str(text)).strip().casefold()


def _is_integer(value):
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return False
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


class Vocabulary:
    """The classes of a conditional model, in index order.  Immutable.

    Parameters
    ----------
    name : str
        Short identifier, e.g. ``"imagenet1k"``; appears in error messages.
    synonyms : sequence of (str or sequence of str)
        One entry per class; a string is a single name, a sequence lists synonyms, display name first.
    ids : sequence of str, optional
        Per-class external ids (e.g. WordNet ids ``"n02112018"``), same length as ``synonyms``.
    unknown_hint : str, optional
        A sentence added to the message of an unknown label (e.g. which other model has such classes).

    Notes
    -----
    When the same synonym names several classes (ImageNet has a few: ``"crane"`` the bird and the machine,
    ``"maillot"``, ``"panda"``), :meth:`index` resolves it to a class whose *display name* it is, if any,
    and otherwise to the lowest index.  Use :meth:`search` to see all candidates.

    Examples
    --------
    >>> v = Vocabulary("pets", [["cat", "kitty"], "dog"])
    >>> len(v), v.names, v.index("Kitty"), v.index("1")
    (2, ('cat', 'dog'), 0, 1)
    """

    __slots__ = ("_name", "_synonyms", "_ids", "_lookup", "_all_synonyms", "_hint")

    #: Vocabularies up to this size name all their labels when a label is unknown.
    LIST_ALL_UP_TO = 12

    def __init__(self, name, synonyms, ids=None, *, unknown_hint=None):
        classes = []
        for i, entry in enumerate(synonyms):
            names = (entry,) if isinstance(entry, str) else tuple(entry)
            names = tuple(str(s).strip() for s in names)
            if not names or any(not normalize_label(s) for s in names):
                raise ValueError(f"class {i} of vocabulary {name!r} has an empty name: {entry!r}")
            classes.append(names)
        if ids is not None:
            ids = tuple(str(i) for i in ids)
            if len(ids) != len(classes):
                raise ValueError(f"vocabulary {name!r}: {len(ids)} ids for {len(classes)} classes")
        lookup = {}
        for index, names in enumerate(classes):  # display names win over other synonyms
            lookup.setdefault(normalize_label(names[0]), index)
        all_synonyms = {}
        for index, names in enumerate(classes):
            for s in names:
                key = normalize_label(s)
                lookup.setdefault(key, index)
                all_synonyms.setdefault(key, s)
        object.__setattr__(self, "_name", str(name))
        object.__setattr__(self, "_synonyms", tuple(classes))
        object.__setattr__(self, "_ids", ids)
        object.__setattr__(self, "_lookup", MappingProxyType(lookup))
        object.__setattr__(self, "_all_synonyms", MappingProxyType(all_synonyms))
        object.__setattr__(self, "_hint", None if unknown_hint is None else str(unknown_hint))

    def __setattr__(self, key, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    __delattr__ = __setattr__

    @property
    def name(self):
        """str: the vocabulary's identifier."""
        return self._name

    @property
    def ids(self):
        """tuple of str or None: per-class external ids (WordNet ids for ImageNet)."""
        return self._ids

    @property
    def names(self):
        """tuple of str: display names in index order."""
        return tuple(s[0] for s in self._synonyms)

    def __len__(self):
        return len(self._synonyms)

    def __getitem__(self, index):
        """Display name of class ``index`` (an int; see :meth:`index` for names)."""
        return self._synonyms[self._check_index(index)][0]

    def __contains__(self, name_or_index):
        try:
            self.index(name_or_index)
        except UnknownLabelError:
            return False
        return True

    def __iter__(self):
        return iter(self.names)

    def __eq__(self, other):
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return (self._name, self._synonyms, self._ids) == (other._name, other._synonyms, other._ids)

    def __hash__(self):
        return hash((self._name, self._synonyms, self._ids))

    def __repr__(self):
        shown = ", ".join(self.names[:3]) + (", ..." if len(self) > 3 else "")
        return f"Vocabulary({self._name!r}, {len(self)} classes: {shown})"

    def synonyms(self, index):
        """All names of class ``index`` (int or name), display name first.

        Returns
        -------
        tuple of str
        """
        return self._synonyms[self.index(index)]

    def index(self, name_or_index):
        """The class index of a name, synonym or index.

        Parameters
        ----------
        name_or_index : str or int
            A class name or any of its synonyms (case-insensitive; ``_``, ``-`` and repeated spaces count
            as one space), an int, or a string of digits such as ``"108"``.  Ambiguous synonyms resolve as
            described in the class notes (display name first, then the lowest index).

        Returns
        -------
        int
            In ``range(len(self))``.

        Raises
        ------
        UnknownLabelError
            Unknown name (the message suggests close names) or index out of range.
        """
        if isinstance(name_or_index, str):
            text = name_or_index.strip()
            if _INDEX_RE.match(text):
                return self._check_index(int(text))
            key = normalize_label(text)
            if key in self._lookup:
                return self._lookup[key]
            raise UnknownLabelError(self._unknown_message(name_or_index, key))
        if _is_integer(name_or_index):
            return self._check_index(name_or_index)
        raise UnknownLabelError(
            f"label must be a class name or an integer index, got {type(name_or_index).__name__} "
            f"{name_or_index!r} for {self._name}")

    def search(self, text, limit=10):
        """Classes with a synonym containing ``text`` (normalised like :meth:`index`).

        Parameters
        ----------
        text : str
            An empty string matches every class.
        limit : int or None
            Most results to return; None for all.

        Returns
        -------
        list of (int, str)
            ``(index, display name)``; exact matches first, then whole-word matches, then synonyms
            starting with ``text``, then other substring matches, each group in index order.

        Examples
        --------
        >>> imagenet1k().search("husky")
        [(248, 'Eskimo dog'), (250, 'Siberian husky')]
        """
        key = normalize_label(text)
        if not key:
            ordered = range(len(self)) if limit is None else range(min(max(int(limit), 0), len(self)))
            return [(i, self._synonyms[i][0]) for i in ordered]
        whole_word = re.compile(r"(?<!\w)" + re.escape(key) + r"(?!\w)")
        best = {}
        for index, names in enumerate(self._synonyms):
            for s in names:
                candidate = normalize_label(s)
                if key not in candidate:
                    continue
                rank = (0 if candidate == key else 1 if whole_word.search(candidate)
                        else 2 if candidate.startswith(key) else 3)
                best[index] = min(rank, best.get(index, 4))
        ordered = sorted(best, key=lambda i: (best[i], i))
        if limit is not None:
            ordered = ordered[:max(int(limit), 0)]
        return [(i, self._synonyms[i][0]) for i in ordered]

    def suggestions(self, text, n=5):
        """Up to ``n`` synonyms close to ``text`` (difflib), one per class, best first."""
        key = normalize_label(text)
        matches = difflib.get_close_matches(key, list(self._all_synonyms), n=4 * n, cutoff=0.6)
        seen, result = set(), []
        for m in matches:
            index = self._lookup[m]
            if index not in seen:
                seen.add(index)
                result.append(self._all_synonyms[m])
        return result[:n]

    def _check_index(self, index):
        if not _is_integer(index):
            raise UnknownLabelError(f"class index must be an integer, got {index!r} for {self._name}")
        index = int(index)
        if not 0 <= index < len(self):
            raise UnknownLabelError(
                f"class index {index} is out of range for {self._name} (valid: 0-{len(self) - 1})")
        return index

    def _unknown_message(self, text, key):
        hints = self.suggestions(key)
        parts = [f"unknown label {text!r} for {self._name}"]
        if len(self) <= self.LIST_ALL_UP_TO:
            parts.append(f"it has {len(self)}: {', '.join(self.names)}")
            if hints:
                parts.append(f"did you mean: {', '.join(hints)}?")
        else:
            parts.append(f"did you mean: {', '.join(hints)}?" if hints else
                         "no close match; list the labels with `collage labels --search TEXT` (or Vocabulary.search)")
        if self._hint:
            parts.append(self._hint)
        return "; ".join(parts)


@functools.lru_cache(maxsize=None)
def _read_synsets():
    """((wnid, (synonym, ...)), ...) from the bundled ImageNet file, in index order."""
    with open(_SYNSETS_FILE, encoding="utf-8") as f:
        rows = [line.rstrip("\n") for line in f if line.strip()]
    entries = []
    for lineno, row in enumerate(rows, 1):
        wnid, _, names = row.partition(" ")
        synonyms = tuple(s.strip() for s in names.split(",") if s.strip())
        if not wnid.startswith("n") or not synonyms:
            raise RuntimeError(f"{_SYNSETS_FILE}:{lineno}: malformed line {row!r}")
        entries.append((wnid, synonyms))
    if len(entries) != 1000:
        raise RuntimeError(f"{_SYNSETS_FILE}: expected 1000 classes, found {len(entries)}")
    return tuple(entries)


@functools.lru_cache(maxsize=None)
def imagenet1k():
    """The 1000 ImageNet classes in index order; ``ids`` are WordNet ids.

    >>> imagenet1k().index("Pomeranian")
    259
    """
    entries = _read_synsets()
    return Vocabulary("imagenet1k", [s for _, s in entries], ids=[w for w, _ in entries])


@functools.lru_cache(maxsize=None)
def dogs_and_cats():
    """The 143 dog-and-cat classes of the official models: index ``i`` is ImageNet class ``151 + i``.

    >>> dogs_and_cats().index("Pomeranian")
    108
    """
    entries = _read_synsets()[DOGS_AND_CATS_IMAGENET_IDS.start:DOGS_AND_CATS_IMAGENET_IDS.stop]
    return Vocabulary("dogs_and_cats", [s for _, s in entries], ids=[w for w, _ in entries])


def numbered(n, name=None):
    """A vocabulary of ``n`` unnamed classes, ``"class 0" .. "class n-1"``.

    >>> numbered(200, "cub200").index("Class 7")
    7
    """
    if not _is_integer(n) or n < 1:
        raise ValueError(f"number of classes must be a positive integer, got {n!r}")
    return Vocabulary(name or f"numbered:{int(n)}", [f"class {i}" for i in range(int(n))])


def from_names(names, name="custom", *, unknown_hint=None):
    """A vocabulary from class names, e.g. the project's built-in model classes.

    Parameters
    ----------
    names : sequence of (str or sequence of str)
        One entry per class, in index order; a sequence lists synonyms, display name first.
    name : str
    unknown_hint : str, optional
        Added to the message of an unknown label (see :class:`Vocabulary`).

    Raises
    ------
    ValueError
        Empty list, empty names, or two classes with the same display name.

    Examples
    --------
    >>> from_names(("cat", "dog", "fox"), name="animals").index("Fox")
    2
    """
    vocab = Vocabulary(name, names, unknown_hint=unknown_hint)
    if len(vocab) == 0:
        raise ValueError(f"vocabulary {name!r} has no classes")
    seen = {}
    for i, display in enumerate(vocab.names):
        key = normalize_label(display)
        if key in seen:
            raise ValueError(f"vocabulary {name!r}: classes {seen[key]} and {i} are both named {display!r}")
        seen[key] = i
    return vocab


_BUILTIN = {"imagenet1k": imagenet1k, "dogs and cats": dogs_and_cats}


def get_vocabulary(name):
    """A vocabulary by name.

    Parameters
    ----------
    name : str or Vocabulary
        ``"imagenet1k"``, ``"dogs_and_cats"`` or ``"numbered:<n>"`` (case, ``_`` and ``-`` ignored); a
        :class:`Vocabulary` is returned as is.

    Raises
    ------
    ValueError
        Unknown name (the message lists the known ones).

    Examples
    --------
    >>> len(get_vocabulary("dogs-and-cats")), len(get_vocabulary("numbered:200"))
    (143, 200)
    """
    if isinstance(name, Vocabulary):
        return name
    key = normalize_label(name)
    if key in _BUILTIN:
        return _BUILTIN[key]()
    match = re.fullmatch(r"numbered\s*:\s*(\d+)", key)
    if match:
        return numbered(int(match.group(1)))
    raise ValueError(f"unknown vocabulary {name!r}; known: imagenet1k, dogs_and_cats, numbered:<n>")

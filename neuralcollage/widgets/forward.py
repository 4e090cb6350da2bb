"""Attributes that live on a collaborator: ``owner.name`` reads (and writes) ``owner.<via>.name``.

The painter's pieces delegate rather than inherit: :class:`neuralcollage.widgets.Painter` (the view) shows a
:class:`~neuralcollage.widgets.session.PainterSession`, which paints a
:class:`~neuralcollage.widgets.document.PaintDocument`.  :func:`forwarding` keeps their public names on the
outer object.

Examples
--------
>>> class Inner:
...     colour = "red"
...     def shout(self):
...         "Say it."
...         return self.colour.upper()
>>> @forwarding("inner", ("colour", "shout"), source=Inner)
... class Outer:
...     def __init__(self):
...         self.inner = Inner()
>>> outer = Outer()
>>> outer.colour = "blue"
>>> outer.shout(), outer.inner.colour, Outer.shout.__doc__
('BLUE', 'blue', 'Say it.')
"""

__all__ = ["Forward", "forwarding"]


class Forward:
    """A descriptor: ``obj.<name>`` is ``obj.<via>.<name>`` (read and write)."""

    def __init__(self, via, name, *, doc=None):
        self.via, self.name, self.__doc__ = via, name, doc

    def __repr__(self):
        return f"Forward({self.via!r}, {self.name!r})"

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return getattr(getattr(obj, self.via), self.name)

    def __set__(self, obj, value):
        setattr(getattr(obj, self.via), self.name, value)


def forwarding(via, names, *, source=None):
    """A class decorator adding a :class:`Forward` to ``via`` for each of ``names`` (the docstrings are those of
    ``source``'s attributes when given)."""
    def decorate(cls):
        for name in names:
            if name in vars(cls):
                raise TypeError(f"{cls.__name__}.{name} is defined and forwarded to {via}")
            doc = getattr(vars(source).get(name), "__doc__", None) if source is not None else None
            setattr(cls, name, Forward(via, name, doc=doc))
        return cls
    return decorate

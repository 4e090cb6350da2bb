"""The attribute axes a painter offers: which axes of :mod:`neuralcollage.axes` fit the base class, the chosen
axis and amount, and why the attribute mode is off when none does.  No widgets here.
"""
import os

from neuralcollage import painting

__all__ = ["AttributeChoice"]


class AttributeChoice:
    """The attribute axes offered for a base class, the chosen axis and the amount.

    Parameters
    ----------
    generator : neuralcollage.models.Generator
    base_class : int
    class_names : sequence of str
    bundle : ModelBundle, keyword-only, optional
        Its axes file gives the axes when ``axes`` is None.
    axes : list of neuralcollage.axes.Axis or path, keyword-only, optional
    axis : str, keyword-only, optional
        The axis to start with (default: the first usable one).
    amount : float, keyword-only
        Latent standard deviations along the axis.

    Attributes
    ----------
    axes : list of neuralcollage.axes.Axis
        Empty when the attribute mode is off.
    names : list of str
        The axes usable for the base class.
    axis : neuralcollage.axes.Axis or None
    amount : float
    note : str
        Why the attribute mode is off ("" when it is on).
    """

    def __init__(self, generator, *, base_class, class_names, bundle=None, axes=None, axis=None, amount=1.0):
        from neuralcollage import axes as naxes

        self.base_class, self.dim_z = int(base_class), generator.dim_z
        self.axes, self.names, self.axis, self.note = [], [], None, ""
        self.amount = painting.check_amount(amount)
        name = getattr(bundle, "name", None)
        what = f"model {str(name) if name is not None else 'custom'!r}"
        if axes is None:
            try:
                axes = naxes.bundle_axes(bundle) if bundle is not None else []
            except naxes.AxisError as exc:
                self.note = f"attribute painting is off: {exc}"
                return
        elif isinstance(axes, (str, os.PathLike)):
            axes = naxes.load_axes(axes, dim_z=self.dim_z)
        else:
            axes = list(axes)
        for a in axes:
            if a.dim_z != self.dim_z:
                raise ValueError(f"axis {a.name!r} has dim_z {a.dim_z}; the generator's latents have {self.dim_z}")
        if not axes:
            self.note = (f"attribute painting is off: {what} has no attribute axes "
                         f"({naxes.AXES_FILE} beside its generator; {naxes.DISCOVER_HINT})")
            return
        usable = []
        for axis_name in naxes.axis_names(axes):
            try:
                naxes.get_axis(axes, axis_name, class_id=self.base_class)
                usable.append(axis_name)
            except naxes.UnknownAxisError:
                pass
        if not usable:
            self.note = (f"attribute painting is off: the axes of {what} ({', '.join(naxes.axis_names(axes))}) "
                         f"were fitted on other classes than {class_names[self.base_class]!r}")
            return
        self.axes, self.names = axes, usable
        self.axis = self.resolve(usable[0] if axis is None else axis)

    def __repr__(self):
        state = f"{self.axis.name!r} {self.amount:+g}" if self.axis is not None else "off"
        return f"AttributeChoice({state}, axes={self.names})"

    @property
    def available(self):
        """True when the attribute mode can be used (there are axes for the base class)."""
        return self.axis is not None

    def resolve(self, name):
        """The offered axis called ``name`` (case-insensitive; per-class axes of the base class preferred);
        :class:`neuralcollage.axes.UnknownAxisError` for one not offered."""
        from neuralcollage import axes as naxes
        axis = naxes.get_axis(self.axes, name, class_id=self.base_class)
        if axis.name not in self.names:
            raise naxes.UnknownAxisError(f"axis {axis.name!r} is not offered here (available: "
                                         f"{', '.join(self.names)})")
        return axis

    def choose(self, name=None, amount=None):
        """Choose the axis (by name) and/or the amount; returns True when either changed.  ValueError when the
        mode is off or the amount is not finite."""
        if not self.available:
            raise ValueError(self.note)
        axis = self.axis if name is None else self.resolve(name)
        value = self.amount if amount is None else painting.check_amount(amount)
        changed = axis is not self.axis or value != self.amount
        self.axis, self.amount = axis, value
        return changed

    def latent(self, z):
        """The moved latent ``z + amount * u``: ``(1, dim_z)`` float32 (ValueError when the mode is off)."""
        if self.axis is None:
            raise ValueError(self.note)
        return painting.attribute_latent(z, self.axis.direction, self.amount)

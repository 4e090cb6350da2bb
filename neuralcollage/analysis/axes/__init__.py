"""Latent attribute axes: discovery (:func:`discover_axes`, :func:`fit_axes`, :func:`sample_attributes`) and
evaluation (:func:`evaluate_axes`, :func:`evaluation_table`, :func:`plot_evaluation`).

:mod:`~neuralcollage.analysis.axes.measure` finds and measures axes, :mod:`~neuralcollage.analysis.axes.report`
writes the measurements.  The axes themselves (:class:`neuralcollage.axes.Axis`, files, decorrelation) and
editing along them are :mod:`neuralcollage.axes`, in the editing layer.
"""
from neuralcollage.analysis.axes.measure import discover_axes, evaluate_axes, fit_axes, sample_attributes
from neuralcollage.analysis.axes.report import evaluation_table, plot_evaluation

__all__ = ["sample_attributes", "fit_axes", "discover_axes", "evaluate_axes", "evaluation_table", "plot_evaluation"]

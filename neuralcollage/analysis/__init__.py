"""Analysis: measurements of models and edits, with their reports and figures.

Packages: :mod:`~neuralcollage.analysis.ablation` (which layers a collage touches) and
:mod:`~neuralcollage.analysis.axes` (finding latent attribute axes and measuring them; applying an axis is
editing, :mod:`neuralcollage.axes`).
"""

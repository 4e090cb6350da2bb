"""Layer ablation of collage edits: which layers a collage is applied to, measured (paper Figs. 9 and 10).

An *ablation* renders one edit for a set of latents under several layer settings and measures, per
setting, how well the edit works inside the region and how far it spreads outside it.

* **sCBN** (:func:`run_scbn_ablation`): the class map is ``target`` inside the region and ``source``
  outside, applied to the selected class layers only; the other class layers get ``source`` everywhere.
  The unedited image is ``G(z, source)``.
* **Feature blending** (:func:`run_blend_ablation`): at the selected blend layers the target stream takes
  a donor latent's features inside the region with weight ``w`` (``(1 - w)`` on the base latent) and the
  base latent's features outside; at the other layers it goes on unchanged.  The unedited image is
  ``G(z, cls)``; the donor image ``G(z_donor, cls)``.

Settings are layer specs of :func:`neuralcollage.maps.parse_layers` (``"all"``, ``"0"``, ``"1-"``,
``"0-3"``, ...), the syntax of the CLI's ``--layers``; "none" renders the unedited image.

Metrics (per sample, then averaged over the samples of a setting).  ``diff = edited - unedited`` in
``[0, 255]`` units, float64, ``(H, W, 3)``; the *region* is ``mask > 0.5``:

* ``p_target`` / ``p_source``: the classifier's softmax probability of the target / source class on the
  *region crop*: the region's bounding box (grown by ``crop_margin`` times its longer side, clipped to the
  image) resized to the classifier's square input (:func:`crop_box`; ``crop="square"`` takes a square box
  instead).  ``success``: ``p_target > p_source``; ``success_rate`` is its mean over the samples.
* ``inside_change``: mean ``|diff|`` over the region's pixels and the channels.
* ``outside_change``: mean ``|diff|`` over the pixels outside the region dilated by ``dilate`` pixels.
* ``outside_energy_share``: ``sum |diff|^2`` outside the dilated region over ``sum |diff|^2`` everywhere
  (the dilation keeps the few pixels a coarse layer's map leaks across the region's edge out of it).
* ``low_freq_share``: :func:`low_frequency_share` of ``diff`` (radius ``R / 8`` by default).  It says
  how *smooth* the change is, not how far it spreads: a uniform colour shift inside the region is mostly
  low-frequency.  The summary therefore calls a change *more global* on the spatial measures
  (``outside_energy_share``, ``outside_change``) and reports this one alongside.
* blending only: ``donor_transfer = 1 - mean|edited - donor| / mean|unedited - donor|`` over the region
  (1: the region shows the donor, 0: unchanged) and ``p_class``, the classifier's probability of the
  class on the region crop.

Ratios of an all-zero difference (the unedited setting) are NaN.  Every row has a ``role``: ``"unedited"``
(setting ``"none"``), ``"bound"`` (``"target everywhere"``: ``G(z, target)``, or ``"donor"``: what a full
edit looks like to the metrics) or ``"edit"`` (a layer setting; only these enter the trend

Modules: :mod:`~neuralcollage.analysis.ablation.inputs` (regions, seeds, layer settings),
:mod:`~neuralcollage.analysis.ablation.measure` (renders, metrics, the two ablations),
:mod:`~neuralcollage.analysis.ablation.report` (tables, summaries, grids and trend figures) and
:mod:`~neuralcollage.analysis.ablation.models` (the generator and classifier an ablation runs on).  Everything
public is importable from here.
"""
from neuralcollage.analysis.ablation.inputs import (REGIONS, check_settings, default_blend_settings,
                                                    default_scbn_settings, early_late_pair, latents_from_seeds,
                                                    load_region, parse_seeds, region_mask)
from neuralcollage.analysis.ablation.measure import (BLEND_METRICS, CROP_MODES, SCBN_METRICS, AblationResult,
                                                     ClassifierSpec, class_probabilities, crop_box, donor_transfer,
                                                     inside_change, low_frequency_share, outside_change,
                                                     outside_energy_share, region_crops, render_blend, render_scbn,
                                                     run_blend_ablation, run_scbn_ablation)
from neuralcollage.analysis.ablation.models import AblationModels, load_ablation_models
from neuralcollage.analysis.ablation.report import (grid_figure, grid_images, plot_trend, save_grid,
                                                    save_result_grids, summary_lines, trend_figure, trend_series,
                                                    write_report)

__all__ = ["REGIONS", "CROP_MODES", "SCBN_METRICS", "BLEND_METRICS", "region_mask", "load_region", "parse_seeds",
           "latents_from_seeds", "default_scbn_settings", "default_blend_settings", "early_late_pair",
           "check_settings", "render_scbn", "render_blend", "low_frequency_share", "outside_change",
           "inside_change", "outside_energy_share", "donor_transfer", "crop_box", "region_crops",
           "ClassifierSpec", "class_probabilities", "run_scbn_ablation", "run_blend_ablation", "AblationResult",
           "grid_figure", "save_grid", "grid_images", "save_result_grids", "trend_series", "trend_figure",
           "plot_trend", "summary_lines", "write_report", "AblationModels", "load_ablation_models"]

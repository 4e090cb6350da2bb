"""Few-shot class addition: teach a trained model a new class from a handful of images (DESIGN §6).

A class of a CBN generator is its row in every per-layer ``gammas``/``betas`` table (and its row of the
projection discriminator's ``l_y``, and of the encoder's ``l_y``).  :func:`train_class` learns those rows for a
new class while every convolution, every running statistic and every old row stays frozen, and returns a
:class:`ClassPack`: a small ``.npz`` holding the new rows, the class name and synonyms, the sha256 of the
base generator and a training record.  Loading packs on top of their base model (:func:`apply_packs`, or
``load_bundle("builtin", classes=["rex.npz"])``, or ``--model builtin+rex.npz`` on the command line)
appends one class per pack to the generator, discriminator and encoder tables and to the vocabulary; the old
classes' rows are untouched, so their outputs are bit-identical with and without packs.

Training methods (``method=``):

* ``"nearest"``: no training; the rows of the existing class the images resemble most (the discriminator's
  class scores) are copied.  A baseline.
* ``"rows"`` (default): the new rows start as an existing class's (by default the one a short trial from
  every class reconstructs best, ``init_class="search"``) and are trained together with one latent
  per training image (initialised by the encoder) on a reconstruction loss (L1 on pixels plus the cosine of
  the discriminator's last feature maps, as in projection) with a prior on the latents, as in Batch
  Statistics Adaptation; with ``adversarial > 0`` (default 0: it measured worse, docs/few_shot.md) plus a
  hinge adversarial loss against the frozen discriminator whose only trainable part is the new class's
  projection row.
* ``"combination"``: as ``"rows"``, but each layer's row is a learnt combination of the old classes' rows
  (L1-penalised weights, initialised at the nearest class) plus a residual, as in cGANTransfer.
* ``"branch"``: as ``"rows"``, plus a small per-class branch (a residual ``conv1x1(relu(conv3x3(h)))`` of the
  features after one block, :class:`neuralcollage.models.generator.ClassBranch`) trained with the rows while
  the shared convolutions stay frozen, as in Zhuang and Yang's per-group branch; the pack carries it and the
  generator adds it only where the class condition asks for the new class (so old classes and sCBN maps of
  other classes are unchanged).
* ``"two_stage"``: ``"rows"`` on the whole images, then a per-class branch (as ``"branch"``) trained on close-ups
  of them while an anchor holds the class's samples of random latents (whole faces) to the first stage's
  (:mod:`neuralcollage.classes.two_stage`). Experimental: meant for part edits into the new class, it kept
  the koala's whole faces (94.2% judged) but raised part translation only from 37% to 39% (docs/few_shot.md).

With ``closeup_variant=N`` (any training method) a pack also carries the class's **close-up variant**: a second
set of rows (``closeup_method="rows"``; ``"branch"``: rows and a per-class branch, the first sessions' variant)
learnt on the images and ``N`` close-ups of each.  Loaded, it is a class of its own
(:func:`closeup_name`: ``"koala (close-up)"``; :func:`closeup_class` maps the class to it) and
:func:`neuralcollage.collage.edit_photo` draws the class with it when the crop is a part of the photo: one set
of rows cannot draw both a whole face and a part's close-up of a species the convolutions never saw (koala part
translation 36% -> 80% and 54% -> 88% on two sets of renders, whole samples still 97% and 95% koala; but tiger
89% -> 43% and 95% -> 56%, docs/few_shot.md).  Whether a class needs it is decided from its images by
:func:`neuralcollage.collage.closeup_check.closeup_variant_check`, which drops the variant
(:meth:`ClassPack.without_closeup`) when the class's own rows draw parts better.

:func:`train_class` is the trainer: it learns what it is asked to (default: no variant).  The entry point users call,
``neuralcollage.add_class`` (:func:`neuralcollage.collage.add_class`, also ``collage add-class``), lives above
this package because its check edits photos: it trains the class with a variant of 4 close-ups per image and runs
the check.

Example
-------
>>> bundle = load_bundle("builtin")                                   # doctest: +SKIP
>>> pack = neuralcollage.add_class(bundle, images, "koala", seed=0)   # doctest: +SKIP
>>> pack.save("koala.npz")                                            # doctest: +SKIP
>>> bundle = load_bundle("builtin", classes=["koala.npz"])           # doctest: +SKIP
>>> bundle.vocabulary.index("koala")                                  # doctest: +SKIP
6
"""
from neuralcollage import _compat  # noqa: F401

from neuralcollage.classes.pack import PACK_FORMAT, PACK_VERSION, ClassPack, ClassPackError, closeup_name, load_pack
from neuralcollage.classes.model import (apply_packs, base_record, closeup_class, copy_bundle, pack_samples,
                                         split_model_spec, vocabulary_with_packs)
from neuralcollage.classes.images import class_ranking, closeup_crops, nearest_class, prepare_images
from neuralcollage.classes.training import DEFAULTS, METHODS, MIN_IMAGES, START_MODES, train_class


__all__ = ["ClassPack", "ClassPackError", "METHODS", "MIN_IMAGES", "START_MODES", "PACK_FORMAT", "PACK_VERSION",
           "DEFAULTS", "train_class", "load_pack", "apply_packs", "copy_bundle", "vocabulary_with_packs",
           "split_model_spec", "prepare_images", "nearest_class", "class_ranking", "closeup_crops", "pack_samples",
           "base_record", "closeup_class", "closeup_name"]

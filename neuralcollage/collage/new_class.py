"""Adding a class for editing: the class, its close-up variant, and the check that keeps or drops the variant.

:func:`add_class` is the entry point of few-shot class addition (``neuralcollage.add_class``, ``collage
add-class``).  It learns the class with :func:`neuralcollage.classes.train_class` and, by default, the class's
close-up variant from :data:`CLOSEUP_VARIANT` close-ups of each image; then
:func:`~neuralcollage.collage.closeup_check.closeup_variant_check` keeps the variant only when part edits drawn
with it look more like the images' close-ups than those drawn with the class's own rows.  The check lives here,
above :mod:`neuralcollage.classes`, because it edits photos.

Why this is the default (docs/few_shot.md, "The default"): on two sets of ten renders of each new species, the
class alone translates 36% and 54% of koala parts (target 80%), the variant always 43% and 56% of tiger parts;
the variant with the check translates 80%, 88%, 89% and 95%, the only setting measured to meet every 10-image
target for both species.  It costs about four times the class's training time.
"""
from neuralcollage import _compat  # noqa: F401

from neuralcollage.classes import DEFAULTS as TRAINING_DEFAULTS
from neuralcollage.classes import train_class
from neuralcollage.collage import closeup_check

__all__ = ["CLOSEUP_VARIANT", "DEFAULTS", "add_class", "closeup_variant_count"]

#: Close-ups per image of the close-up variant :func:`add_class` learns by default.
CLOSEUP_VARIANT = 4
#: Defaults of :func:`add_class`: :data:`neuralcollage.classes.DEFAULTS` with the close-up variant on.
DEFAULTS = {**TRAINING_DEFAULTS, "closeup_variant": CLOSEUP_VARIANT}


def closeup_variant_count(method, closeup_variant=None):
    """The close-ups per image of the variant :func:`add_class` trains: ``closeup_variant``, or when None,
    :data:`CLOSEUP_VARIANT` (0 for ``method="nearest"``, which trains nothing)."""
    if closeup_variant is not None:
        return int(closeup_variant)
    return 0 if method == "nearest" else CLOSEUP_VARIANT


def add_class(bundle, images, name, *, steps=DEFAULTS["steps"], seed=0, closeup_variant=None, check_closeup=True,
              check_edits=None, callback=None, check_callback=None, return_check=False, **training):
    """Learn a new class from a few images, with a close-up variant for edits of parts when it helps.

    Args:
        bundle: the base model (:func:`neuralcollage.pretrained.load_bundle`); not modified.
        images: at least :data:`neuralcollage.classes.MIN_IMAGES` HWC uint8 RGB images of any size.
        name: the new class's name; must not name an existing class.
        steps: training steps of the class (and again of its variant).
        seed: the seed of every random choice (training and check).
        closeup_variant: close-ups per image of the close-up variant; None: :data:`CLOSEUP_VARIANT` (0 with
            ``method="nearest"``); 0: no variant (and no check).
        check_closeup: run the close-up check and drop the variant when it loses; False keeps the variant
            unchecked.  A model without a discriminator cannot be checked: its variant is kept.
        check_edits: part edits the check scores (None:
            :data:`~neuralcollage.collage.closeup_check.CHECK_EDITS`).
        callback: ``callback(step, loss)`` after every training step (the variant's steps follow the class's).
        check_callback: ``callback(i, n)`` after each of the check's part edits.
        return_check: also return the check's :class:`~neuralcollage.collage.closeup_check.CloseupCheck` (None
            when no check ran).
        training: further keywords of :func:`neuralcollage.classes.train_class` (``method``, ``lr_rows``,
            ``init_class``, ``closeups``, ...).

    Returns:
        the :class:`~neuralcollage.classes.ClassPack` (not saved), or ``(pack, check)`` with ``return_check``.
        A checked pack records the verdict in ``pack.record["closeup_check"]``; a dropped variant leaves
        ``pack.closeup`` None.

    Raises:
        InputError: too few or malformed images, a taken name, bad options (a variant with ``method="nearest"``).
        ClassPackError: a model that cannot take classes (BigGAN-deep).
    """
    images = list(images)
    count = closeup_variant_count(training.get("method", DEFAULTS["method"]), closeup_variant)
    pack = train_class(bundle, images, name, steps=steps, seed=seed, closeup_variant=count, callback=callback,
                       **training)
    check = None
    if pack.closeup is not None and check_closeup and bundle.discriminator is not None:
        edits = closeup_check.CHECK_EDITS if check_edits is None else int(check_edits)
        check = closeup_check.closeup_variant_check(bundle, pack, images, n=edits, seed=seed,
                                                    callback=check_callback)
        if check.keep:
            pack.record["closeup_check"] = check.record()
        else:
            pack = pack.without_closeup(closeup_check=check.record())
    return (pack, check) if return_check else pack

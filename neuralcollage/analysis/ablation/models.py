"""The generator and classifier a layer ablation runs on, loaded from a registered model or a snapshot."""
import os
from dataclasses import dataclass, field

from neuralcollage.analysis.ablation.measure import ClassifierSpec

__all__ = ["AblationModels", "load_ablation_models"]


# ----------------------------------------------------------------------------------------------------
# models for the scripts

@dataclass
class AblationModels:
    """What an ablation runs on: a generator, an optional classifier, the class names and load notes."""
    generator: object
    classifier: ClassifierSpec = None
    vocabulary: object = None
    name: str = ""
    notes: list = field(default_factory=list)


def _load_classifier_file(path, device):
    from neuralcollage.loading import load_discriminator, load_model
    from neuralcollage.snapshot import read_config, read_npz
    record = read_config(read_npz(path))
    kind = (record or {}).get("kind", "discriminator")
    if kind == "discriminator":
        return load_discriminator(path, device=device).class_scores, "discriminator class scores"
    if kind not in ("classifier", "part_classifier"):
        raise ValueError(f"{os.fspath(path)} holds a {kind}, not a classifier, part classifier or discriminator")
    return load_model(path, kind=kind, device=device), kind.replace("_", " ")


def load_ablation_models(model="builtin", *, classifier="auto", part_classifier=False, classifier_size=None,
                         device=None):
    """Load the generator and classifier of an ablation.

    Parameters
    ----------
    model : str
        A registered name or a generator ``.npz`` path / folder for
        :func:`neuralcollage.pretrained.load_bundle` (``"builtin"``: the built-in model shipped in the package).
    classifier : ``"auto"``, ``"none"``, ``"discriminator"`` or a path
        ``"auto"``: the bundle's classifier (its part classifier with ``part_classifier``), else the
        discriminator's projection class scores, else none.  A path: a classifier, part-classifier or
        discriminator snapshot.
    part_classifier : bool
        With ``"auto"``, use the bundle's part classifier (trained on part crops).
    classifier_size : int, optional
        Classifier input side (default: the classifier's ``resolution``, else the generator's).
    device : None or int

    Returns
    -------
    AblationModels

    Raises
    ------
    neuralcollage.snapshot.SnapshotError
        Unknown model, missing or unfitting files.
    ValueError
        Bad ``classifier`` choice, or a requested part classifier / discriminator that the model lacks.
    """
    from neuralcollage.pretrained import load_bundle

    bundle = load_bundle(model, device=device)
    gen = bundle.generator
    notes = list(bundle.notes)
    choice = os.fspath(classifier)
    key = choice.strip().lower()
    found, label = None, None
    if key == "none":
        pass
    elif key in ("auto", "discriminator"):
        if key == "auto":
            kind = "part_classifier" if part_classifier else "classifier"
            found = getattr(bundle, kind, None)
            label = f"{kind.replace('_', ' ')} ({bundle.files.get(kind)})"
            if found is None and part_classifier:
                raise ValueError(f"model {bundle.name!r} has no part classifier (part_classifier.npz)")
        if found is None and bundle.discriminator is not None:
            found = bundle.discriminator.class_scores
            label = f"discriminator class scores ({bundle.files.get('discriminator')})"
            if key == "auto":
                notes.append("no classifier in the model: translation success uses the discriminator's "
                             "projection class scores")
        if found is None:
            if key == "discriminator":
                raise ValueError(f"model {bundle.name!r} has no discriminator to classify with")
            notes.append("no classifier or discriminator in the model: translation success is not measured")
    else:
        if not os.path.isfile(choice):
            raise ValueError(f"classifier {choice!r}: no such file (use 'auto', 'none', 'discriminator' or a "
                             "snapshot path)")
        found, label = _load_classifier_file(choice, device)
        label += f" ({choice})"
    spec = None
    if found is not None:
        n_classes = getattr(getattr(found, "__self__", found), "n_classes", gen.n_classes)
        if n_classes != gen.n_classes:
            raise ValueError(f"the {label} has {n_classes} classes but the generator has {gen.n_classes}")
        spec = ClassifierSpec.wrap(found, size=classifier_size, default_size=gen.resolution, name=label)
    return AblationModels(generator=gen, classifier=spec, vocabulary=bundle.vocabulary, name=bundle.name,
                          notes=notes)

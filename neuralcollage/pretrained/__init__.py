"""The model registry: the built-in model and the official Neural Collage / SNGAN-projection snapshots.

A model is chosen by a registered name (:data:`REGISTRY`) or by a path.  Nothing here touches the network:

* ``"builtin"`` ships inside the package, ``neuralcollage/data/pretrained/builtin64/*.npz``, with
  ``neuralcollage/data/pretrained/manifest.json`` holding each file's sha256 (see the ``README.md`` there);
  :func:`pretrained_dir` says where, and ``$NEURALCOLLAGE_PRETRAINED`` points it elsewhere.
* The official models are published in Google Drive folders linked from the READMEs of the official
  repositories; the user puts the files in ``$NEURALCOLLAGE_HOME/<name>/`` (default
  ``~/.cache/neuralcollage/<name>/``), as ``generator.npz`` / ``discriminator.npz`` or under their original
  names (``ResNetGenerator_<iteration>.npz``, ``SNResNetProjectionDiscriminator_<iteration>.npz``).  Their
  sha256 is not published: it is recorded in ``$NEURALCOLLAGE_HOME/hashes.json`` the first time a file loads
  strictly, and every later load is verified against it.
* The BigGAN-deep models are converted from the checkpoints of the ``pytorch-pretrained-biggan`` package
  (``collage convert biggan FOLDER $NEURALCOLLAGE_HOME/<name>/generator.npz``); the converted file's sha256 is
  recorded in ``hashes.json`` when it is written there, and verified on every load.

Modules: :mod:`~neuralcollage.pretrained.registry` (the entries, their folders and files, what is
installed), :mod:`~neuralcollage.pretrained.hashes` (sha256 checks), :mod:`~neuralcollage.pretrained.vocabulary`
(a model's class names), :mod:`~neuralcollage.pretrained.bundle` (:func:`load_bundle`) and
:mod:`~neuralcollage.pretrained.manifest` (writing the built-in manifest).  Everything public is importable from
here.

Example
-------
>>> bundle = load_bundle("builtin")
>>> bundle.generator.resolution, bundle.vocabulary.names
(64, ('cat', 'dog', 'fox', 'rabbit', 'bear', 'panda'))

An official snapshot downloaded by hand (not shipped, so this line is not run):

>>> bundle = load_bundle("/data/ResNetGenerator_450000.npz", arch="collage256")  # doctest: +SKIP
"""
from neuralcollage import _compat  # noqa: F401

from neuralcollage.pretrained.bundle import ModelBundle, load_bundle
from neuralcollage.pretrained.hashes import (file_sha256, forget_hashes, record_sha256, registered_file,
                                             verify_builtin_file)
from neuralcollage.pretrained.manifest import write_manifest
from neuralcollage.pretrained.registry import (BUILTIN_LABELS_HINT, BUILTIN_NOT_TRAINED, BUNDLE_KINDS,
                                               OFFICIAL_PATTERNS, REGISTRY, ChecksumError, ModelEntry, ModelInfo,
                                               ModelNotInstalledError, builtin_dir, home_dir, install_instructions,
                                               list_models, pretrained_dir)
from neuralcollage.pretrained.vocabulary import model_vocabulary

__all__ = ["ModelBundle", "ModelEntry", "ModelInfo", "REGISTRY", "BUNDLE_KINDS", "ModelNotInstalledError",
           "ChecksumError", "load_bundle", "list_models", "model_vocabulary", "home_dir", "pretrained_dir",
           "builtin_dir", "file_sha256", "forget_hashes", "write_manifest", "install_instructions",
           "registered_file", "record_sha256", "verify_builtin_file"]

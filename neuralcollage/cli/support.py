"""What the commands share at run time: refusing bad outputs before any work, reading photos and masks, loading
models and checking what they lack, progress bars, and calling the library.
"""
import os
import sys

from .common import CommandError, EXIT_FAILURE, EXIT_INPUT, EXIT_MODEL, note

# ------------------------------------------------------------------------------------------------ outputs and inputs


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def check_outputs(outputs, inputs):
    """Refuse before any work: outputs over inputs or each other, unknown image suffixes, missing or
    unwritable folders.  ``outputs`` is a list of (path or None, "image" | "json" | "npz")."""
    from neuralcollage.io import IMAGE_SUFFIXES, InputError
    seen = []
    for path, kind in outputs:
        if path is None:
            continue
        if not str(path).strip():
            raise InputError("empty output file name")
        if kind == "image":
            suffix = os.path.splitext(path)[1].lower()
            if suffix not in IMAGE_SUFFIXES:
                raise InputError(f"cannot write {path}: unknown image format {suffix or '(no suffix)'!r} "
                                 f"(use one of {', '.join(IMAGE_SUFFIXES)})")
        for other in inputs:
            if other is not None and _same_file(path, other):
                raise InputError(f"refusing to overwrite input file {other} (output {path} is the same file)")
        for other in seen:
            if _same_file(path, other):
                raise InputError(f"two outputs are the same file: {path}")
        seen.append(path)
        if os.path.isdir(path):
            raise InputError(f"cannot write {path}: it is a directory")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise InputError(f"cannot write {path}: directory {folder} does not exist")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise InputError(f"cannot write {path}: directory {folder} is not writable")
        if os.path.exists(path) and not os.access(path, os.W_OK) and not os.access(folder, os.W_OK):
            raise InputError(f"cannot write {path}: permission denied")


def read_photo(path, args):
    from neuralcollage.io import read_image
    return read_image(path, max_pixels=args.max_pixels)


def read_mask_for(path, photo, args):
    from neuralcollage.io import fit_mask, read_mask
    mask = read_mask(path, max_pixels=args.max_pixels)
    mask, resized = fit_mask(mask, photo.shape[:2], name=path)
    if resized:
        note(resized)
    return mask


# ------------------------------------------------------------------------------------------------ models

def device_id(gpu):
    return None if gpu is None or gpu < 0 else gpu


def load(model, arch, gpu):
    from neuralcollage.pretrained import load_bundle
    bundle = load_bundle(model, arch=arch, device=device_id(gpu))
    for line in bundle.notes:
        note(line)
    return bundle


def vocabulary(model, arch):
    from neuralcollage.pretrained import model_vocabulary
    return model_vocabulary(model, arch=arch)


def _no_discriminator(name, *, biggan):
    hint = ("BigGAN-deep publishes none; `collage generate`, `collage edit --source-label` and `collage invert "
            "--label` work with it" if biggan else "put discriminator.npz beside the generator")
    return CommandError(f"projection needs a discriminator and model {name} has none ({hint})", EXIT_MODEL)


def registry_entry(model):
    """The registry entry ``model`` names (None for a path or an unknown name)."""
    from neuralcollage.pretrained import REGISTRY
    return REGISTRY.get(model.strip().lower()) if isinstance(model, str) else None


def require_registered_discriminator(model):
    """Fail before loading anything when a registered model has no discriminator."""
    entry = registry_entry(model)
    if entry is not None and "discriminator" not in entry.files:
        raise _no_discriminator(entry.name, biggan=entry.convert == "biggan")


def require_discriminator(bundle):
    if bundle.discriminator is None:
        raise _no_discriminator(bundle.name, biggan=is_biggan(bundle.generator))


def require_photo_class(model, label, option, bundle=None):
    """Without a discriminator the photo's class cannot be guessed: ``option`` must give it.  Checked before
    loading for a registered model (from its registry entry) and after loading for ``bundle``."""
    if label is not None:
        return
    if bundle is not None:
        missing, name = bundle.discriminator is None, bundle.name
    else:
        entry = registry_entry(model)
        missing, name = entry is not None and "discriminator" not in entry.files, getattr(entry, "name", model)
    if missing:
        raise CommandError(f"model {name} has no discriminator to guess the photo's class from; give it with "
                           f"{option}", EXIT_INPUT)


def is_biggan(gen):
    return hasattr(gen, "truncation")


# ------------------------------------------------------------------------------------------------ names

def safe_name(text):
    keep = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(text).strip())
    return keep.strip("_") or "edit"


def stem(path):
    return os.path.splitext(os.path.basename(path))[0]


# ------------------------------------------------------------------------------------------------ progress bars

class Progress:
    """A tqdm bar on stderr fed by ``callback(step, loss, restart)`` of the projection."""

    def __init__(self, *, steps, enabled, desc="projection"):
        self.steps, self.enabled, self.desc, self.bar = steps, enabled, desc, None

    def __call__(self, step=None, loss=None, restart=0, *args, **kwargs):
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=self.steps + 1, desc=self.desc, file=sys.stderr, leave=False,
                            dynamic_ncols=True, disable=None)
        if step == 0 and self.bar.n:
            self.bar.reset(total=self.steps + 1)
        if isinstance(restart, int):
            self.bar.set_description(f"{self.desc} (run {restart + 1})", refresh=False)
        if loss is not None:
            try:
                self.bar.set_postfix(loss=f"{float(loss):.4f}", refresh=False)
            except (TypeError, ValueError):
                pass
        self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class GuessProgress:
    """A tqdm bar for ``guess_progress(class_id, step, loss)`` while the source class is guessed."""

    def __init__(self, *, enabled):
        self.enabled, self.bar = enabled, None

    def __call__(self, class_id=None, step=None, loss=None, *args, **kwargs):
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm.auto import tqdm
            self.bar = tqdm(desc="guessing the source class", unit="step", file=sys.stderr, leave=False,
                            dynamic_ncols=True, disable=None)
        self.bar.set_postfix(candidate=class_id, refresh=False)
        self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class MetricProgress:
    """A tqdm bar on stderr fed by ``progress(metric, i, n)`` of :func:`neuralcollage.analysis.evaluation.evaluate`
    (``collage eval`` and ``scripts/evaluate_builtin.py``)."""

    def __init__(self, *, enabled):
        self.enabled, self.bar, self.metric = enabled, None, None

    def __call__(self, metric, i, n):
        if not self.enabled:
            return
        if self.bar is not None and self.metric != metric:
            self.close()
        if self.bar is None:
            from tqdm.auto import tqdm
            self.metric = metric
            self.bar = tqdm(total=n, desc=metric.replace("_", " "), unit="face", file=sys.stderr, leave=False,
                            dynamic_ncols=True, disable=None)
        self.bar.update(i - self.bar.n)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class SettingProgress:
    """A tqdm bar on stderr fed by ``progress(i, n, setting)`` of the layer ablations
    (:func:`neuralcollage.analysis.ablation.run_scbn_ablation`, ``run_blend_ablation``)."""

    def __init__(self, *, enabled, desc="ablation"):
        self.enabled, self.desc, self.bar = enabled, desc, None

    def __call__(self, i, n, setting):
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=n, desc=self.desc, unit="setting", file=sys.stderr, leave=False,
                            dynamic_ncols=True, disable=None)
        self.bar.set_postfix(layers=setting, refresh=False)
        self.bar.update(i - self.bar.n)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# ------------------------------------------------------------------------------------------------ JSON, labels

def read_json(path, *, limit=None, max_depth=None):
    """A JSON object from a regular file of at most ``limit`` bytes (default
    :data:`neuralcollage.limits.JSON_MAX_BYTES`)."""
    from neuralcollage.io import InputError, read_json_limited
    from neuralcollage.limits import JSON_MAX_BYTES
    data = read_json_limited(path, limit=limit or JSON_MAX_BYTES, what="JSON file", max_depth=max_depth)
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    return data


def label_name(vocab, index):
    try:
        return vocab[int(index)]
    except Exception:
        return str(index)


# ------------------------------------------------------------------------------------------------ library calls

def call(func, *args, **kwargs):
    """Call a library entry point with the options it accepts; None-valued options are left to its defaults.

    An option the user set that ``func`` does not take is an error (not silently dropped)."""
    import inspect
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return func(*args, **kwargs)
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        unknown = [k for k in kwargs if k not in params]
        if unknown:
            opts = ", ".join("--" + k.replace("_", "-") for k in unknown)
            raise CommandError(f"{func.__name__} in this version does not support {opts}")
    return func(*args, **kwargs)


def import_attr(module, name):
    """``module.name``, imported when a command runs.  Only a missing third-party package becomes a one-line
    error (naming it); an import error inside neuralcollage, or a missing name, is a bug and propagates."""
    import importlib
    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if not missing or missing == __name__.partition(".")[0]:
            raise
        raise CommandError(f"{module} needs the package {missing!r}, which is not installed",
                           EXIT_FAILURE) from None

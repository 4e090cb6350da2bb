"""Converters from other frameworks' checkpoints to this project's self-describing snapshots.

:func:`convert_biggan` reads a BigGAN-deep checkpoint folder in the ``pytorch-pretrained-biggan`` format
(``pytorch_model.bin`` + ``config.json``) and writes a ``biggan_generator`` snapshot that
:class:`neuralcollage.models.biggan.BigGANDeep` loads without PyTorch. PyTorch is needed only here
(``pip install 'neuralcollage[convert]'``).
"""
from neuralcollage import _compat  # noqa: F401

import dataclasses
import json
import os
import zipfile

import numpy

from neuralcollage.io import file_sha256
from neuralcollage.snapshot import CONFIG_KEY, SnapshotError, state_problems

WEIGHTS_NAME = "pytorch_model.bin"
CONFIG_NAME = "config.json"
KIND = "biggan_generator"
_REQUIRED = ("layers", "channel_width", "z_dim", "num_classes", "attention_layer_position")
_DEFAULTS = {"eps": 1e-4, "n_stats": 51}


class ConversionError(SnapshotError):
    """A checkpoint folder cannot be read or does not match its own config."""


@dataclasses.dataclass
class ConversionResult:
    """What :func:`convert_biggan` wrote: ``path``, its ``sha256`` (hex), the model ``config`` (constructor
    kwargs of ``BigGANDeep``) and ``source_sha256`` (of ``pytorch_model.bin``)."""
    path: str
    sha256: str
    config: dict
    source_sha256: str


def _import_torch():
    try:
        import torch
    except ImportError:
        raise ImportError("converting BigGAN checkpoints needs PyTorch, which is not installed: "
                          "pip install 'neuralcollage[convert]' (only the converter needs it)") from None
    return torch


def biggan_config(raw, *, source="config.json"):
    """``BigGANDeep`` constructor kwargs from a ``pytorch-pretrained-biggan`` config dict.

    ``layers``, ``channel_width``, ``z_dim``, ``num_classes`` and ``attention_layer_position`` are required;
    ``eps`` and ``n_stats`` default to the reference's 1e-4 and 51. ``output_dim``, when present, must match
    the layers. The reference sizes the class embedding with ``z_dim`` (``class_embed_dim`` is not used).
    An attention position outside the block list means no attention, as in the reference.

    Raises:
        ConversionError: a missing or invalid entry, named.
    """
    from neuralcollage.models.biggan import BOTTOM_WIDTH, validate_layers
    if not isinstance(raw, dict):
        raise ConversionError(f"{source} must hold a JSON object, got {type(raw).__name__}")
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise ConversionError(f"{source} lacks {', '.join(missing)}")
    values = {**_DEFAULTS, **raw}

    def positive_int(key):
        v = values[key]
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ConversionError(f"{source}: {key} must be a positive integer, got {v!r}")
        return v

    ch, dim_z, n_classes, n_stats = (positive_int(k) for k in ("channel_width", "z_dim", "num_classes",
                                                                  "n_stats"))
    if n_stats < 2:
        raise ConversionError(f"{source}: n_stats must be at least 2, got {n_stats}")
    eps = values["eps"]
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
        raise ConversionError(f"{source}: eps must be a positive number, got {eps!r}")
    try:
        layers = validate_layers(values["layers"])
    except ValueError as exc:
        raise ConversionError(f"{source}: {exc}") from None
    if ch < 3:
        raise ConversionError(f"{source}: channel_width {ch} gives fewer than 3 output channels")
    pos = values["attention_layer_position"]
    if isinstance(pos, bool) or not isinstance(pos, int):
        raise ConversionError(f"{source}: attention_layer_position must be an integer, got {pos!r}")
    resolution = BOTTOM_WIDTH * 2 ** sum(up for up, _, _ in layers)
    if "output_dim" in raw and raw["output_dim"] != resolution:
        raise ConversionError(f"{source}: output_dim {raw['output_dim']} does not match the layers, which give "
                              f"{resolution} px")
    config = dict(layers=[list(layer) for layer in layers], ch=ch, dim_z=dim_z, n_classes=n_classes,
                  attention_position=pos if 0 <= pos < len(layers) else None, eps=float(eps), n_stats=n_stats)
    config["arch"] = preset_name(config)
    return config


def preset_name(config):
    """The :data:`~neuralcollage.models.biggan.BIGGAN_PRESETS` name whose architecture ``config`` is
    (``"biggan-deep-128"``, ...), or None."""
    from neuralcollage.models.biggan import BIGGAN_PRESETS
    for name, preset in BIGGAN_PRESETS.items():
        full = {"eps": 1e-4, "n_stats": 51, **preset}
        if all(_same(config.get(k), v) for k, v in full.items()):
            return name
    return None


def _same(a, b):
    if isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _sn(prefix, out_in_shape):
    shape = tuple(out_in_shape)
    cols = 1
    for d in shape[1:]:
        cols *= d
    return {prefix + ".weight_orig": shape, prefix + ".weight_u": (shape[0],), prefix + ".weight_v": (cols,)}


def reference_state_shapes(config):
    """``{key: shape}`` of the ``pytorch-pretrained-biggan`` state dict for ``config`` (``BigGANDeep``
    kwargs, as from :func:`biggan_config`)."""
    ch, dz, k, n_stats = config["ch"], config["dim_z"], config["n_classes"], config["n_stats"]
    cond = 2 * dz
    shapes = {"embeddings.weight": (dz, k)}
    shapes.update(_sn("generator.gen_z", (16 * 16 * ch, cond)))
    shapes["generator.gen_z.bias"] = (16 * 16 * ch,)
    j = 0
    for b, (_, i, o) in enumerate(config["layers"]):
        if b == config["attention_position"]:
            c = i * ch
            p = f"generator.layers.{j}."
            shapes.update(_sn(p + "snconv1x1_theta", (c // 8, c, 1, 1)))
            shapes.update(_sn(p + "snconv1x1_phi", (c // 8, c, 1, 1)))
            shapes.update(_sn(p + "snconv1x1_g", (c // 2, c, 1, 1)))
            shapes.update(_sn(p + "snconv1x1_o_conv", (c, c // 2, 1, 1)))
            shapes[p + "gamma"] = (1,)
            j += 1
        p = f"generator.layers.{j}."
        cin, cout = i * ch, o * ch
        mid = cin // 4
        for n, size in enumerate((cin, mid, mid, mid)):
            shapes[p + f"bn_{n}.running_means"] = (n_stats, size)
            shapes[p + f"bn_{n}.running_vars"] = (n_stats, size)
            shapes.update(_sn(p + f"bn_{n}.scale", (size, cond)))
            shapes.update(_sn(p + f"bn_{n}.offset", (size, cond)))
        for n, shape in enumerate(((mid, cin, 1, 1), (mid, mid, 3, 3), (mid, mid, 3, 3), (cout, mid, 1, 1))):
            shapes.update(_sn(p + f"conv_{n}", shape))
            shapes[p + f"conv_{n}.bias"] = (shape[0],)
        j += 1
    shapes.update({"generator.bn.running_means": (n_stats, ch), "generator.bn.running_vars": (n_stats, ch),
                   "generator.bn.weight": (ch,), "generator.bn.bias": (ch,)})
    shapes.update(_sn("generator.conv_to_rgb", (ch, ch, 3, 3)))
    shapes["generator.conv_to_rgb.bias"] = (ch,)
    return shapes


def _few(items, n=5):
    return ", ".join(items[:n]) + (f", ... ({len(items)} in all)" if len(items) > n else "")


def check_state(state_shapes, config, *, source="checkpoint"):
    """Compare ``{key: shape}`` of a state dict with what ``config`` needs.

    Raises:
        ConversionError: naming the missing and unexpected keys and the shape mismatches.
    """
    problems = state_problems(reference_state_shapes(config), state_shapes,
                              mismatch=lambda got, want: f"{got} (config needs {want})", few=_few)
    if problems:
        raise ConversionError(f"{source} does not match its config.json: " + "; ".join(problems))


def _spectral_normalized(torch, state, prefix):
    """``weight_orig / sigma`` with ``sigma = u . (W v)`` from the stored ``weight_u``/``weight_v``: what
    ``torch.nn.utils.spectral_norm`` uses in eval mode (no power iteration), computed the same way."""
    w = state[prefix + ".weight_orig"]
    u, v = state[prefix + ".weight_u"], state[prefix + ".weight_v"]
    with torch.no_grad():
        sigma = torch.dot(u, torch.mv(w.reshape(w.shape[0], -1), v))
        if not bool(torch.isfinite(sigma)) or float(sigma) == 0.0:
            raise ConversionError(f"{prefix}: spectral norm sigma is {float(sigma)} (weight_u/weight_v broken)")
        return (w / sigma).numpy()


def chainer_arrays(torch, state, config):
    """The ``BigGANDeep`` snapshot arrays (Chainer link paths) from a float32 torch ``state`` dict."""
    ch, dz = config["ch"], config["dim_z"]
    c0 = 16 * ch

    def np_(key):
        return state[key].numpy()

    def sn(prefix):
        return _spectral_normalized(torch, state, prefix)

    out = {"embeddings/W": np_("embeddings.weight")}
    w = sn("generator.gen_z")
    # the reference reshapes gen_z's output as (4, 4, C) (TF order); reorder the rows to (C, 4, 4)
    out["gen_z/W"] = w.reshape(4, 4, c0, 2 * dz).transpose(2, 0, 1, 3).reshape(-1, 2 * dz)
    out["gen_z/b"] = np_("generator.gen_z.bias").reshape(4, 4, c0).transpose(2, 0, 1).reshape(-1)
    j = 0
    for b in range(len(config["layers"])):
        if b == config["attention_position"]:
            p = f"generator.layers.{j}."
            for name in ("theta", "phi", "g", "o_conv"):
                out[f"attention/{name}/W"] = sn(p + "snconv1x1_" + name)
            out["attention/gamma"] = np_(p + "gamma")
            j += 1
        p = f"generator.layers.{j}."
        for n in range(4):
            out[f"block{b}/bn_{n}/running_means"] = np_(p + f"bn_{n}.running_means")
            out[f"block{b}/bn_{n}/running_vars"] = np_(p + f"bn_{n}.running_vars")
            out[f"block{b}/bn_{n}/scale/W"] = sn(p + f"bn_{n}.scale")
            out[f"block{b}/bn_{n}/offset/W"] = sn(p + f"bn_{n}.offset")
            out[f"block{b}/conv_{n}/W"] = sn(p + f"conv_{n}")
            out[f"block{b}/conv_{n}/b"] = np_(p + f"conv_{n}.bias")
        j += 1
    out["bn/running_means"] = np_("generator.bn.running_means")
    out["bn/running_vars"] = np_("generator.bn.running_vars")
    out["bn/gamma"] = np_("generator.bn.weight")
    out["bn/beta"] = np_("generator.bn.bias")
    out["conv_to_rgb/W"] = sn("generator.conv_to_rgb")[:3]
    out["conv_to_rgb/b"] = np_("generator.conv_to_rgb.bias")[:3]
    return {k: numpy.ascontiguousarray(v, dtype=numpy.float32) for k, v in out.items()}


def _write_npz(fh, arrays):
    """An uncompressed ``.npz`` with fixed entry order and timestamps (same arrays, same bytes)."""
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as f:
                numpy.lib.format.write_array(f, numpy.asarray(arrays[key]), allow_pickle=False)


def convert_biggan(src_dir, out_path):
    """Convert a ``pytorch-pretrained-biggan`` checkpoint folder to a ``biggan_generator`` snapshot.

    Args:
        src_dir: folder with ``pytorch_model.bin`` (a PyTorch state dict, read with ``weights_only=True``)
            and ``config.json``.
        out_path: the ``.npz`` to write (atomically; the inputs are never changed). Load it with
            ``neuralcollage.load_model(out_path, kind="biggan_generator")``.

    Spectral-normalised weights are stored divided by ``sigma = u . (W v)`` from the checkpoint's own
    ``weight_u``/``weight_v`` (the reference in eval mode: no power iteration); ``gen_z``'s rows are reordered
    to Chainer's ``(C, 4, 4)`` layout and ``conv_to_rgb`` keeps its first 3 output channels. The file has
    fixed zip timestamps, so converting the same checkpoint with the same PyTorch build gives the same bytes.

    Returns:
        :class:`ConversionResult` (path, sha256 of the written file, config, sha256 of the source weights).

    Raises:
        ImportError: PyTorch is not installed (install ``neuralcollage[convert]``).
        ConversionError: missing or unreadable files, an invalid config, or weights that do not match the
            config (missing/unexpected keys and shape mismatches are named).
        neuralcollage.io.InputError: ``out_path`` cannot be written.
    """
    torch = _import_torch()
    src_dir = os.fspath(src_dir)
    if not os.path.isdir(src_dir):
        raise ConversionError(f"checkpoint folder {src_dir!r} does not exist or is not a folder")
    weights_path, config_path = os.path.join(src_dir, WEIGHTS_NAME), os.path.join(src_dir, CONFIG_NAME)
    for path in (weights_path, config_path):
        if not os.path.isfile(path):
            raise ConversionError(f"{src_dir!r} has no {os.path.basename(path)} (a pytorch-pretrained-biggan "
                                  f"folder holds {WEIGHTS_NAME} and {CONFIG_NAME})")
    try:
        with open(config_path, encoding="utf-8") as f:
            raw = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConversionError(f"{config_path} is not readable JSON: {exc}") from None
    config = biggan_config(raw, source=config_path)
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or non-torch files
        msg = " ".join(str(exc).split())[:300]
        raise ConversionError(f"{weights_path} is not a readable PyTorch state dict: {type(exc).__name__}: "
                              f"{msg}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConversionError(f"{weights_path} does not hold a state dict of tensors")
    check_state({k: tuple(v.shape) for k, v in state.items()}, config, source=weights_path)
    bad = [k for k, v in state.items() if not v.is_floating_point()]
    if bad:
        raise ConversionError(f"{weights_path}: non-floating-point tensors {_few(sorted(bad))}")
    state = {k: v.detach().to("cpu", torch.float32) for k, v in state.items()}
    nonfinite = [k for k, v in state.items() if not bool(torch.isfinite(v).all())]
    if nonfinite:
        raise ConversionError(f"{weights_path}: NaN or inf in {_few(sorted(nonfinite))}")
    arrays = chainer_arrays(torch, state, config)

    from neuralcollage.io import atomic_write
    from neuralcollage.models.biggan import BigGANDeep
    from neuralcollage.snapshot import load_state, state_entries
    model = BigGANDeep(**config)
    load_state(model, arrays, source=f"converted {weights_path!r}")
    arrays = {key: get() for key, (get, _, _) in state_entries(model).items()}
    arrays[CONFIG_KEY] = numpy.array(json.dumps({"kind": KIND, "config": model.config}))
    atomic_write(out_path, lambda fh: _write_npz(fh, arrays), overwrite_protect=(weights_path, config_path))
    return ConversionResult(path=os.fspath(out_path), sha256=file_sha256(out_path), config=model.config,
                            source_sha256=file_sha256(weights_path))

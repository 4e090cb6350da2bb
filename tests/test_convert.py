"""convert_biggan: parity with the reference implementation, strict checks, clear errors.

Tests that need PyTorch and ``pytorch-pretrained-biggan`` skip when they are missing (install
``neuralcollage[convert]`` and ``pytorch-pretrained-biggan``), and are marked slow (importing PyTorch takes
seconds): run them with ``--runslow`` (CI's ``[convert]`` leg does).
"""
import hashlib
import json
import shutil
import sys

import numpy
import pytest

import biggan_reference as bref
from neuralcollage.convert import (
    ConversionError, biggan_config, check_state, convert_biggan, reference_state_shapes)
from neuralcollage.models.biggan import BigGANDeep, truncation_weights
from neuralcollage.snapshot import SnapshotError, load_state, read_config, read_npz


def _load(path):
    arrays = read_npz(path)
    record = read_config(arrays)
    assert record["kind"] == "biggan_generator"
    model = BigGANDeep(**record["config"])
    load_state(model, arrays)
    return model


def _sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("pytorch_pretrained_biggan")
    folder = tmp_path_factory.mktemp("biggan") / "ckpt"
    model = bref.make_checkpoint(str(folder))
    out = folder.parent / "converted.npz"
    result = convert_biggan(folder, out)
    return model, folder, out, result


@pytest.fixture(scope="module")
def converted(reference):
    return _load(reference[2])


def _inputs(seed=0, n=3):
    rs = numpy.random.RandomState(seed)
    z = rs.standard_normal((n, 8)).astype(numpy.float32)
    ids = numpy.array([0, 2, 4], dtype=numpy.int32)[:n]
    soft = rs.dirichlet(numpy.ones(5), n).astype(numpy.float32)
    return z, ids, soft


@pytest.mark.slow
@pytest.mark.parametrize("truncation", [1.0, 0.37])
@pytest.mark.parametrize("kind", ["ids", "soft"])
def test_outputs_match_reference(reference, converted, truncation, kind):
    model = reference[0]
    z, ids, soft = _inputs()
    y = ids if kind == "ids" else soft
    ref = bref.reference_images(model, z, y, truncation)
    out = converted(z=z, y=y, truncation=truncation).array
    assert out.shape == ref.shape == (3, 3, 32, 32)
    assert ref.std() > 0.1 and (numpy.abs(ref) > 0.99).mean() < 0.01
    assert numpy.abs(out - ref).max() < 1e-4


@pytest.mark.slow
def test_truncation_and_class_change_the_output(reference, converted):
    z, ids, soft = _inputs()
    a = converted(z, ids, truncation=1.0).array
    assert numpy.abs(a - converted(z, ids, truncation=0.37).array).max() > 1e-2
    assert numpy.abs(a - converted(z, soft, truncation=1.0).array).max() > 1e-2


def test_truncation_weights_follow_reference():
    for t in [1.0, 0.4, 0.37, 0.5, 0.02, 0.999, 1e-3, 0.3, 0.7]:
        assert truncation_weights(t, 51) == bref.reference_weights(t)
    with pytest.raises(ValueError, match="truncation"):
        truncation_weights(0.0, 51)
    with pytest.raises(ValueError, match="truncation"):
        truncation_weights(1.5, 51)


@pytest.mark.slow
def test_result_and_deterministic_bytes(reference, tmp_path):
    _, folder, out, result = reference
    assert result.sha256 == _sha(out)
    assert result.source_sha256 == _sha(folder / "pytorch_model.bin")
    assert result.config["n_classes"] == 5 and result.config["attention_position"] == 3
    again = convert_biggan(folder, tmp_path / "again.npz")
    assert again.sha256 == result.sha256


@pytest.mark.slow
def test_legacy_serialization(reference, tmp_path):
    """The published checkpoints predate PyTorch's zip format."""
    import torch
    folder = tmp_path / "legacy"
    folder.mkdir()
    shutil.copy(reference[1] / "config.json", folder / "config.json")
    state = torch.load(reference[1] / "pytorch_model.bin", weights_only=True)
    torch.save(state, folder / "pytorch_model.bin", _use_new_zipfile_serialization=False)
    assert convert_biggan(folder, tmp_path / "legacy.npz").sha256 == reference[3].sha256


@pytest.mark.slow
def test_load_model_by_kind(reference):
    import neuralcollage
    G = neuralcollage.load_model(reference[2], kind="biggan_generator")
    assert isinstance(G, BigGANDeep) and G.n_classes == 5


def _copy_with_state(reference, tmp_path, edit):
    import torch
    folder = tmp_path / "edited"
    folder.mkdir()
    shutil.copy(reference[1] / "config.json", folder / "config.json")
    state = torch.load(reference[1] / "pytorch_model.bin", weights_only=True)
    edit(state)
    torch.save(state, folder / "pytorch_model.bin")
    return folder


@pytest.mark.slow
def test_missing_unexpected_and_misshaped_keys_are_named(reference, tmp_path):
    import torch

    def edit(state):
        del state["generator.layers.4.conv_1.weight_orig"]
        state["generator.extra.weight"] = torch.zeros(3)
        state["generator.bn.bias"] = torch.zeros(7)

    folder = _copy_with_state(reference, tmp_path, edit)
    out = tmp_path / "out.npz"
    with pytest.raises(ConversionError) as info:
        convert_biggan(folder, out)
    msg = str(info.value)
    assert "missing keys generator.layers.4.conv_1.weight_orig" in msg
    assert "unexpected keys generator.extra.weight" in msg
    assert "generator.bn.bias (7,) (config needs (4,))" in msg
    assert not out.exists()


@pytest.mark.slow
def test_config_that_does_not_fit_the_weights(reference, tmp_path):
    folder = tmp_path / "ckpt"
    shutil.copytree(reference[1], folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["num_classes"] = 6
    (folder / "config.json").write_text(json.dumps(cfg))
    before = _sha(folder / "pytorch_model.bin")
    with pytest.raises(SnapshotError, match=r"embeddings.weight \(8, 5\) \(config needs \(8, 6\)\)"):
        convert_biggan(folder, tmp_path / "out.npz")
    assert _sha(folder / "pytorch_model.bin") == before
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.slow
def test_nan_weights_and_non_torch_files(reference, tmp_path):
    folder = _copy_with_state(reference, tmp_path, lambda s: s["generator.bn.weight"].fill_(float("nan")))
    with pytest.raises(ConversionError, match="NaN or inf in generator.bn.weight"):
        convert_biggan(folder, tmp_path / "out.npz")
    (folder / "pytorch_model.bin").write_bytes(b"not a checkpoint")
    with pytest.raises(ConversionError, match="not a readable PyTorch state dict"):
        convert_biggan(folder, tmp_path / "out.npz")


@pytest.mark.slow
def test_missing_files_and_bad_config(tmp_path):
    pytest.importorskip("torch")
    with pytest.raises(ConversionError, match="does not exist"):
        convert_biggan(tmp_path / "nope", tmp_path / "out.npz")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConversionError, match="no pytorch_model.bin"):
        convert_biggan(tmp_path, tmp_path / "out.npz")
    (tmp_path / "pytorch_model.bin").write_bytes(b"")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConversionError, match="not readable JSON"):
        convert_biggan(tmp_path, tmp_path / "out.npz")


def test_missing_torch_gives_install_hint(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"pip install 'neuralcollage\[convert\]'"):
        convert_biggan(tmp_path, tmp_path / "out.npz")


# --------------------------------------------------------------- config checks (no PyTorch needed)
def test_config_validation():
    cfg = biggan_config(dict(bref.TINY_CONFIG))
    assert cfg["layers"][0] == [False, 16, 16] and cfg["dim_z"] == 8 and cfg["attention_position"] == 3
    assert cfg["arch"] == "tiny32"
    assert biggan_config({**bref.TINY_CONFIG, "num_classes": 6})["arch"] is None
    assert biggan_config({**bref.TINY_CONFIG, "attention_layer_position": 9})["attention_position"] is None
    with pytest.raises(ConversionError, match="lacks layers"):
        biggan_config({k: v for k, v in bref.TINY_CONFIG.items() if k != "layers"})
    with pytest.raises(ConversionError, match="block 1 takes 8 x ch channels but receives 16"):
        biggan_config({**bref.TINY_CONFIG, "layers": [[False, 16, 16], [True, 8, 4]]})
    with pytest.raises(ConversionError, match="keep or halve"):
        biggan_config({**bref.TINY_CONFIG, "layers": [[False, 16, 4], [True, 4, 1]]})
    with pytest.raises(ConversionError, match="output_dim 64 does not match"):
        biggan_config({**bref.TINY_CONFIG, "output_dim": 64})
    with pytest.raises(ConversionError, match="z_dim must be a positive integer"):
        biggan_config({**bref.TINY_CONFIG, "z_dim": 0})


def test_reference_state_shapes_cover_the_model():
    cfg = biggan_config(dict(bref.TINY_CONFIG))
    shapes = reference_state_shapes(cfg)
    assert shapes["generator.layers.3.snconv1x1_theta.weight_orig"] == (2, 16, 1, 1)
    assert shapes["generator.layers.4.bn_0.running_means"] == (51, 16)
    assert shapes["generator.layers.5.conv_3.weight_v"] == (2,)
    assert shapes["generator.gen_z.weight_orig"] == (1024, 16)
    check_state(shapes, cfg)
    with pytest.raises(ConversionError, match="missing keys embeddings.weight"):
        check_state({k: v for k, v in shapes.items() if k != "embeddings.weight"}, cfg)


@pytest.mark.parametrize("name,resolution,n,att", [("biggan-deep-128", 128, 10, 256),
                                                   ("biggan-deep-256", 256, 12, 512),
                                                   ("biggan-deep-512", 512, 14, 512)])
def test_official_configs(name, resolution, n, att):
    from neuralcollage.models.biggan import BIGGAN_PRESETS
    p = BIGGAN_PRESETS[name]
    raw = dict(output_dim=resolution, z_dim=128, class_embed_dim=128, channel_width=128, num_classes=1000,
               layers=[list(x) for x in p["layers"]], attention_layer_position=8, eps=1e-4, n_stats=51)
    cfg = biggan_config(raw)
    assert len(cfg["layers"]) == n and cfg["arch"] == name
    shapes = reference_state_shapes(cfg)
    assert shapes["embeddings.weight"] == (128, 1000)
    assert shapes["generator.layers.8.snconv1x1_theta.weight_orig"] == (att // 8, att, 1, 1)
    assert f"generator.layers.{n}.conv_3.bias" in shapes
    assert f"generator.layers.{n + 1}.bn_0.scale.weight_u" not in shapes


@pytest.mark.slow
def test_full_width_biggan_deep_128_matches_reference(tmp_path):
    """The published 128 px architecture at full width (random weights, ~210 MB of files, ~30 s)."""
    pytest.importorskip("torch")
    pytest.importorskip("pytorch_pretrained_biggan")
    from neuralcollage.models.biggan import BIGGAN_PRESETS
    layers = [list(layer) for layer in BIGGAN_PRESETS["biggan-deep-128"]["layers"]]
    model = bref.make_checkpoint(str(tmp_path / "c"), output_dim=128, z_dim=128, class_embed_dim=128,
                                 channel_width=128, num_classes=1000, layers=layers, attention_layer_position=8)
    result = convert_biggan(tmp_path / "c", tmp_path / "c.npz")
    assert result.config["arch"] == "biggan-deep-128"
    G = _load(tmp_path / "c.npz")
    z = G.sample_z(2, seed=0, truncation=0.5)
    soft = numpy.random.RandomState(0).dirichlet(numpy.full(1000, 0.05), 2).astype(numpy.float32)
    for t in (1.0, 0.37):
        for y in (numpy.array([207, 281]), soft):
            ref = bref.reference_images(model, z, y, t)
            assert numpy.abs(G(z, y, truncation=t).array - ref).max() < 1e-4

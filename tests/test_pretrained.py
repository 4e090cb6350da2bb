"""The model registry: install detection, sha256 verification, loading by name and by path, messages."""
import json
import os

import numpy as np
import pytest

import neuralcollage as nc
from neuralcollage import pretrained
from neuralcollage.labels import from_names
from neuralcollage.models.presets import DISCRIMINATOR_PRESETS, GENERATOR_PRESETS
from neuralcollage.pretrained import (ChecksumError, ModelBundle, ModelEntry, ModelNotInstalledError,
                                      list_models, load_bundle, model_vocabulary)
from neuralcollage.datasets import CLASS_NAMES
import nc_reference as ref


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Point the user home and the repository's pretrained/ at empty temporary folders."""
    home, root = tmp_path / "home", tmp_path / "pretrained"
    home.mkdir()
    root.mkdir()
    monkeypatch.setenv("NEURALCOLLAGE_HOME", str(home))
    monkeypatch.setenv("NEURALCOLLAGE_PRETRAINED", str(root))
    return home, root


def write_project_model(folder, *, n_classes=4, seed=0, kinds=("generator", "discriminator")):
    """tiny32 generator/discriminator snapshots written by this project (self-describing)."""
    os.makedirs(folder, exist_ok=True)
    g = nc.Generator.from_preset("tiny32", n_classes=n_classes)
    d = nc.Discriminator.from_preset("tiny32", n_classes=n_classes)
    paths = {}
    if "generator" in kinds:
        paths["generator"] = os.path.join(folder, "generator.npz")
        nc.save_snapshot(g, paths["generator"], kind="generator")
    if "discriminator" in kinds:
        paths["discriminator"] = os.path.join(folder, "discriminator.npz")
        nc.save_snapshot(d, paths["discriminator"], kind="discriminator")
    return paths


def write_official_model(folder, *, iteration=1000, n_classes=4, seed=0):
    """tiny32 files in the official key layout (no metadata), under the official file names."""
    os.makedirs(folder, exist_ok=True)
    gp, dp = GENERATOR_PRESETS["tiny32"], DISCRIMINATOR_PRESETS["tiny32"]
    g = ref.random_generator_arrays(gp["channels"], gp["ch"], gp["dim_z"], n_classes, seed=seed)
    d = ref.random_discriminator_arrays(dp["channels"], dp["ch"], n_classes, hidden=dp["hidden"], seed=seed)
    gpath = os.path.join(folder, f"ResNetGenerator_{iteration}.npz")
    dpath = os.path.join(folder, f"SNResNetProjectionDiscriminator_{iteration}.npz")
    np.savez(gpath, **g)
    np.savez(dpath, **d)
    return gpath, dpath


@pytest.fixture
def fake_official(monkeypatch):
    """A registered official-style entry with the tiny32 preset (the real ones are far too big to fake)."""
    entry = ModelEntry(name="tinyofficial", kind="official", arch="tiny32", vocabulary="numbered:4",
                       title="test model", files=("generator", "discriminator", "encoder"),
                       unsupported=("encoder",), source="the test suite")
    monkeypatch.setitem(pretrained.REGISTRY, entry.name, entry)
    return entry


# ------------------------------------------------------------------------------------------------ registry

def test_registry_has_builtin_and_official_entries():
    reg = pretrained.REGISTRY
    assert set(reg) >= {"builtin", "dogcat256", "dogcat128", "imagenet128", "cub128"}
    assert reg["dogcat256"].arch == "collage256" and "encoder" in reg["dogcat256"].unsupported
    assert reg["dogcat128"].arch == "collage128"
    assert reg["imagenet128"].arch == "sngan128" and reg["imagenet128"].files == ("generator", "discriminator")
    assert reg["cub128"].arch == "collage128" and dict(reg["cub128"].overrides) == {"n_classes": 200}
    for entry in reg.values():
        assert "http" not in entry.source or "github.com" in entry.source  # no invented download links
        if entry.kind == "official":
            assert "drive.google" not in entry.source


def test_vocabularies_without_loading():
    assert model_vocabulary("dogcat256").index("pomeranian") == 108
    assert len(model_vocabulary("imagenet128")) == 1000
    assert model_vocabulary("cub128").names[199] == "class 199"
    assert model_vocabulary("builtin").names == CLASS_NAMES


def test_nothing_installed(isolated):
    rows = {r.name: r for r in list_models()}
    assert not any(r.installed for r in rows.values())
    assert "not trained yet" in rows["builtin"].notes
    assert "quolc/neural-collage" in rows["dogcat256"].notes
    assert "encoder" in rows["dogcat256"].notes and "not supported" in rows["dogcat256"].notes
    assert rows["dogcat256"].path == os.path.join(str(isolated[0]), "dogcat256")


def test_builtin_not_trained_message(isolated):
    with pytest.raises(ModelNotInstalledError, match="the built-in model is not trained yet; run `collage train gan"):
        load_bundle("builtin")


def test_official_not_installed_message(isolated):
    with pytest.raises(ModelNotInstalledError) as err:
        load_bundle("dogcat256")
    msg = str(err.value)
    assert "not installed" in msg and os.path.join(str(isolated[0]), "dogcat256") in msg
    assert "ResNetGenerator" in msg and "quolc/neural-collage" in msg
    assert "\n" not in msg


def test_unknown_name_lists_known_ones():
    with pytest.raises(nc.SnapshotError, match="unknown model 'dogcat512'.*builtin, dogcat256"):
        load_bundle("dogcat512")
    with pytest.raises(nc.SnapshotError, match="does not exist"):
        load_bundle("nowhere/generator.npz")


# ------------------------------------------------------------------------------------------------ builtin

def test_builtin_installed_loads_and_verifies_manifest(isolated):
    _, root = isolated
    paths = write_project_model(root / "builtin64", n_classes=len(CLASS_NAMES))
    pretrained.write_manifest(commands={"generator": "collage train gan x"})
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["files"]["builtin64/generator.npz"]["command"] == "collage train gan x"
    assert manifest["files"]["builtin64/generator.npz"]["sha256"] == pretrained.file_sha256(paths["generator"])
    bundle = load_bundle("builtin")
    assert isinstance(bundle, ModelBundle)
    assert bundle.name == "builtin" and bundle.vocabulary.names == CLASS_NAMES
    assert bundle.discriminator is not None and bundle.encoder is None
    assert bundle.sha256["generator"] == manifest["files"]["builtin64/generator.npz"]["sha256"]
    assert bundle.files["discriminator"] == os.path.abspath(paths["discriminator"])
    assert {r.name: r for r in list_models()}["builtin"].installed


def test_builtin_checksum_mismatch(isolated):
    _, root = isolated
    write_project_model(root / "builtin64", n_classes=len(CLASS_NAMES))
    pretrained.write_manifest()
    write_project_model(root / "builtin64", n_classes=len(CLASS_NAMES), kinds=("discriminator",))
    d = nc.Discriminator.from_preset("tiny32", n_classes=len(CLASS_NAMES))
    d.l_y.W.array[...] += 1
    nc.save_snapshot(d, str(root / "builtin64" / "discriminator.npz"), kind="discriminator")
    with pytest.raises(ChecksumError, match="discriminator.npz has sha256 .* but .*manifest.json expects"):
        load_bundle("builtin")


def test_builtin_without_manifest_loads_with_note(isolated):
    _, root = isolated
    write_project_model(root / "builtin64", n_classes=len(CLASS_NAMES))
    bundle = load_bundle("builtin")
    assert any("not verified" in n for n in bundle.notes)


def test_builtin_class_count_must_match_labels(isolated):
    _, root = isolated
    write_project_model(root / "builtin64", n_classes=4)
    with pytest.raises(nc.SnapshotError, match="4 classes but its vocabulary 'builtin' has 6"):
        load_bundle("builtin")


# ------------------------------------------------------------------------------------------------ official

def test_official_install_detection_and_hash_recording(isolated, fake_official):
    home, _ = isolated
    folder = home / "tinyofficial"
    assert not {r.name: r for r in list_models()}["tinyofficial"].installed
    gpath, dpath = write_official_model(folder)
    (folder / "ResNetEncoder_1000.npz").write_bytes(b"whatever")
    assert {r.name: r for r in list_models()}["tinyofficial"].installed

    bundle = load_bundle("tinyofficial")
    assert bundle.generator.n_classes == 4 and bundle.discriminator is not None
    assert bundle.encoder is None and any("not supported" in n for n in bundle.notes)
    assert bundle.vocabulary.names[3] == "class 3"
    record = json.loads((home / "hashes.json").read_text())["tinyofficial"]
    assert record["generator"]["sha256"] == pretrained.file_sha256(gpath)
    assert record["discriminator"]["file"] == os.path.basename(dpath)
    assert "encoder" not in record

    bundle = load_bundle("tinyofficial")  # verified against the record now
    assert not any("recorded" in n for n in bundle.notes)

    g = dict(np.load(gpath))
    g["l1/b"] = g["l1/b"] + 1
    np.savez(gpath, **g)
    with pytest.raises(ChecksumError, match="first loaded.*collage models --forget tinyofficial"):
        load_bundle("tinyofficial")
    assert pretrained.forget_hashes("tinyofficial")
    load_bundle("tinyofficial")


def test_official_hash_not_recorded_when_loading_fails(isolated, fake_official):
    home, _ = isolated
    folder = home / "tinyofficial"
    gpath, _ = write_official_model(folder, n_classes=5)
    with pytest.raises(nc.SnapshotError, match="shape mismatches"):
        load_bundle("tinyofficial")
    assert not (home / "hashes.json").exists()


def test_official_canonical_names_and_ambiguity(isolated, fake_official):
    home, _ = isolated
    folder = home / "tinyofficial"
    write_official_model(folder, iteration=1000)
    write_official_model(folder, iteration=2000, seed=1)
    with pytest.raises(nc.SnapshotError, match="several generator files"):
        load_bundle("tinyofficial")
    os.rename(folder / "ResNetGenerator_2000.npz", folder / "generator.npz")
    os.rename(folder / "SNResNetProjectionDiscriminator_2000.npz", folder / "discriminator.npz")
    bundle = load_bundle("tinyofficial")
    assert bundle.files["generator"].endswith("generator.npz")


def test_registered_name_refuses_other_arch(isolated, fake_official):
    with pytest.raises(nc.SnapshotError, match="is a 'tiny32' model, not 'collage128'"):
        load_bundle("tinyofficial", arch="collage128")


# ------------------------------------------------------------------------------------------------ by path

def test_load_by_path_project_files(tmp_path):
    paths = write_project_model(tmp_path / "m")
    for where in (paths["generator"], str(tmp_path / "m")):
        bundle = load_bundle(where)
        assert bundle.name == os.path.abspath(paths["generator"])
        assert bundle.discriminator is not None
        assert bundle.vocabulary.names == ("class 0", "class 1", "class 2", "class 3")
        assert bundle.sha256["generator"] == pretrained.file_sha256(paths["generator"])


def test_load_by_path_labels_file_and_vocabulary_argument(tmp_path):
    paths = write_project_model(tmp_path / "m", kinds=("generator",))
    (tmp_path / "m" / "labels.txt").write_text("cat, kitty\ndog\nfox\nowl\n")
    bundle = load_bundle(paths["generator"])
    assert bundle.discriminator is None
    assert bundle.vocabulary.index("Kitty") == 0 and bundle.vocabulary.names[3] == "owl"
    bundle = load_bundle(paths["generator"], vocabulary=from_names(["a", "b", "c", "d"], name="x"))
    assert bundle.vocabulary.index("d") == 3
    with pytest.raises(nc.SnapshotError, match="4 classes but its vocabulary"):
        load_bundle(paths["generator"], vocabulary="imagenet1k")


def test_load_official_by_path_needs_arch(tmp_path):
    gpath, _ = write_official_model(tmp_path / "o")
    with pytest.raises(nc.SnapshotError, match="pass arch"):
        load_bundle(gpath)
    bundle = load_bundle(gpath, arch="tiny32")
    assert bundle.discriminator is not None and bundle.arch == "tiny32"
    assert model_vocabulary(gpath, arch="tiny32").names[0] == "class 0"


def test_load_official_by_path_wrong_arch(tmp_path):
    gpath, _ = write_official_model(tmp_path / "o")
    with pytest.raises(nc.SnapshotError, match="does not fit"):
        load_bundle(gpath, arch="builtin64")


def test_corrupt_and_truncated_files(tmp_path):
    paths = write_project_model(tmp_path / "m")
    data = open(paths["generator"], "rb").read()
    with open(paths["generator"], "wb") as fh:
        fh.write(data[: len(data) // 2])
    with pytest.raises(nc.SnapshotError, match="corrupt or truncated"):
        load_bundle(paths["generator"])
    with open(paths["generator"], "wb") as fh:
        fh.write(b"not a zip file at all")
    with pytest.raises(nc.SnapshotError, match="corrupt or truncated"):
        load_bundle(paths["generator"])
    with pytest.raises(nc.SnapshotError, match="corrupt or truncated"):
        model_vocabulary(paths["generator"])


def test_sibling_discriminator_must_fit_generator(tmp_path):
    write_project_model(tmp_path / "m", n_classes=4, kinds=("generator",))
    write_project_model(tmp_path / "other", n_classes=5, kinds=("discriminator",))
    os.rename(tmp_path / "other" / "discriminator.npz", tmp_path / "m" / "discriminator.npz")
    with pytest.raises(nc.SnapshotError, match="discriminator has 5 classes but the generator"):
        load_bundle(str(tmp_path / "m"))


def test_encoder_sibling_loads_and_must_fit(tmp_path):
    from neuralcollage.models.encoder import Encoder
    paths = write_project_model(tmp_path / "m")
    nc.save_snapshot(Encoder.from_preset("tiny32"), str(tmp_path / "m" / "encoder.npz"), kind="encoder")
    bundle = load_bundle(paths["generator"])
    assert isinstance(bundle.encoder, Encoder) and "encoder" in bundle.sha256
    nc.save_snapshot(Encoder.from_preset("tiny32", dim_z=8), str(tmp_path / "m" / "encoder.npz"), kind="encoder")
    with pytest.raises(nc.SnapshotError, match="encoder maps 32 px images to dim_z=8"):
        load_bundle(paths["generator"])


def test_discriminator_given_as_generator(tmp_path):
    paths = write_project_model(tmp_path / "m")
    with pytest.raises(nc.SnapshotError, match="holds a discriminator, not a generator"):
        load_bundle(paths["discriminator"])


def test_nan_in_snapshot_is_refused(tmp_path):
    paths = write_project_model(tmp_path / "m", kinds=("generator",))
    arrays = dict(np.load(paths["generator"]))
    arrays["l1/b"] = arrays["l1/b"].copy()
    arrays["l1/b"][0] = np.nan
    np.savez(paths["generator"], **arrays)
    with pytest.raises(nc.SnapshotError, match="NaN"):
        load_bundle(paths["generator"])


def test_loading_never_touches_the_network(tmp_path, monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("network access")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    paths = write_project_model(tmp_path / "m")
    load_bundle(paths["generator"])
    list_models()
    with pytest.raises(ModelNotInstalledError):
        load_bundle("dogcat128")


# ------------------------------------------------------------------------------------------------ BigGAN

def write_biggan(folder, *, seed=0):
    """A converted-format tiny32 BigGAN-deep generator (5 classes)."""
    from neuralcollage.models.biggan import BigGANDeep
    os.makedirs(folder, exist_ok=True)
    g = BigGANDeep.from_preset("tiny32")
    rng = np.random.RandomState(seed)
    for p in g.params():
        p.array[...] += rng.normal(0, 0.05, p.shape).astype(np.float32)
    path = os.path.join(folder, "generator.npz")
    nc.save_snapshot(g, path, kind="biggan_generator")
    return path


@pytest.fixture
def fake_converted(monkeypatch):
    entry = ModelEntry(name="tinybiggan", kind="converted", arch="tiny32", vocabulary="numbered:5",
                       files=("generator",), convert="biggan", title="test BigGAN", source="the test suite")
    monkeypatch.setitem(pretrained.REGISTRY, entry.name, entry)
    return entry


def test_registry_has_biggan_entries(isolated):
    from neuralcollage.models.biggan import BIGGAN_PRESETS
    from neuralcollage.models.presets import GENERATOR_PRESETS
    for resolution in (128, 256, 512):
        name = f"biggan-deep-{resolution}"
        entry = pretrained.REGISTRY[name]
        assert entry.arch == name and name in BIGGAN_PRESETS and name not in GENERATOR_PRESETS
        assert entry.vocabulary == "imagenet1k" and entry.files == ("generator",) and entry.convert == "biggan"
        assert entry.kind == "converted" and "discriminator" not in entry.files
        for fragment in ("pytorch-pretrained-biggan", "v0.1.1", "PRETRAINED_MODEL_ARCHIVE_MAP",
                         "PRETRAINED_CONFIG_ARCHIVE_MAP", "model.py"):
            assert fragment in entry.source
        assert len(model_vocabulary(name)) == 1000 and model_vocabulary(name).index("golden retriever") == 207
        with pytest.raises(ModelNotInstalledError) as err:
            load_bundle(name)
        msg = str(err.value)
        target = os.path.join(str(isolated[0]), name, "generator.npz")
        assert "pytorch_model.bin and config.json" in msg and f"collage convert biggan FOLDER {target}" in msg
        assert "neuralcollage[convert]" in msg and "\n" not in msg
    rows = {r.name: r for r in list_models()}
    assert not rows["biggan-deep-128"].installed and "collage convert biggan" in rows["biggan-deep-128"].notes


def test_converted_model_loads_records_and_verifies(isolated, fake_converted):
    from neuralcollage.models.biggan import BigGANDeep
    home, _ = isolated
    path = write_biggan(str(home / "tinybiggan"))
    assert {r.name: r for r in list_models()}["tinybiggan"].installed
    bundle = load_bundle("tinybiggan")
    assert isinstance(bundle.generator, BigGANDeep) and bundle.discriminator is None
    assert bundle.arch == "tiny32" and bundle.vocabulary.names[4] == "class 4"
    assert any("recorded the sha256" in n for n in bundle.notes)
    assert json.loads((home / "hashes.json").read_text())["tinybiggan"]["generator"]["sha256"] == \
        pretrained.file_sha256(path)
    write_biggan(str(home / "tinybiggan"), seed=1)
    with pytest.raises(ChecksumError, match="collage models --forget tinybiggan"):
        load_bundle("tinybiggan")
    pretrained.forget_hashes("tinybiggan")
    write_project_model(home / "tinybiggan", n_classes=5, kinds=("generator",))  # an SNGAN generator
    with pytest.raises(nc.SnapshotError, match="is a generator snapshot, not a converted tiny32 .*collage convert"):
        load_bundle("tinybiggan")
    gp = GENERATOR_PRESETS["tiny32"]
    np.savez(home / "tinybiggan" / "generator.npz",
             **ref.random_generator_arrays(gp["channels"], gp["ch"], gp["dim_z"], 5))
    with pytest.raises(nc.SnapshotError, match="is an official snapshot, not a converted tiny32"):
        load_bundle("tinybiggan")
    assert not (home / "hashes.json").exists() or "tinybiggan" not in json.loads((home / "hashes.json").read_text())


def test_converted_file_by_path(tmp_path):
    from neuralcollage.models.biggan import BigGANDeep
    path = write_biggan(str(tmp_path / "b"))
    bundle = load_bundle(path)
    assert isinstance(bundle.generator, BigGANDeep) and bundle.arch == "tiny32"
    assert bundle.vocabulary.names == tuple(f"class {i}" for i in range(5))
    assert model_vocabulary(path).names == bundle.vocabulary.names
    (tmp_path / "b" / "labels.txt").write_text("a\nb\nc\nd\ne\n")
    assert model_vocabulary(str(tmp_path / "b")).index("e") == 4
    with pytest.raises(nc.SnapshotError, match="'tiny32'.*not 'biggan-deep-128'"):
        load_bundle(path, arch="biggan-deep-128")


def test_registered_file_and_record_sha256(isolated, fake_converted):
    home, root = isolated
    target = home / "tinybiggan" / "generator.npz"
    assert pretrained.registered_file(str(target)) == (fake_converted, "generator")
    assert pretrained.registered_file(str(home / "tinybiggan" / "." / "generator.npz"))[0].name == "tinybiggan"
    assert pretrained.registered_file(str(home / "dogcat256" / "discriminator.npz"))[1] == "discriminator"
    assert pretrained.registered_file(str(root / "builtin64" / "encoder.npz"))[0].name == "builtin"
    assert pretrained.registered_file(str(home / "tinybiggan" / "other.npz")) is None
    assert pretrained.registered_file(str(home / "unknown" / "generator.npz")) is None
    path = write_biggan(str(home / "tinybiggan"))
    note = pretrained.record_sha256("tinybiggan", "generator", path)
    assert "recorded" in note
    record = json.loads((home / "hashes.json").read_text())["tinybiggan"]["generator"]
    assert record["sha256"] == pretrained.file_sha256(path) and record["file"] == "generator.npz"
    bundle = load_bundle("tinybiggan")  # verified against the record, nothing new recorded
    assert not any("recorded" in n for n in bundle.notes)


def test_shipped_landmark_model_is_checked_against_the_manifest(isolated, capsys):
    import shutil

    from neuralcollage.cli import main as cli_main
    from neuralcollage.train.landmarks import load_landmark_predictor
    _, root = isolated
    shipped = os.path.join(os.path.dirname(os.path.dirname(pretrained.__file__)), "data", "pretrained")
    source = os.path.join(shipped, "builtin64", "landmarks.npz")
    if not os.path.exists(source):
        pytest.skip("landmarks.npz is not installed")
    listed = json.load(open(os.path.join(shipped, "manifest.json")))["extra_files"]["builtin64/landmarks.npz"]
    assert listed["sha256"] == pretrained.file_sha256(source) and listed["bytes"] == os.path.getsize(source)
    (root / "builtin64").mkdir(parents=True, exist_ok=True)
    target = root / "builtin64" / "landmarks.npz"
    shutil.copyfile(source, target)
    with pytest.raises(nc.SnapshotError, match="not listed in"):
        load_landmark_predictor(str(target))
    (root / "manifest.json").write_text(json.dumps({"extra_files": {"builtin64/landmarks.npz": dict(listed)}}))
    assert pretrained.verify_builtin_file(str(target)) == listed["sha256"]
    assert load_landmark_predictor(str(target)) is not None
    data = bytearray(target.read_bytes())
    data[-1] ^= 1
    target.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="landmarks.npz has sha256 .* but .*manifest.json expects"):
        load_landmark_predictor(str(target))
    image = root / "face.png"
    from neuralcollage.io import write_image
    from neuralcollage.datasets import render_sample
    write_image(image, render_sample(3, size=64).image)
    assert cli_main(["stylize", "--base", str(image), "--style", str(image), "-o", str(root / "o.png")]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "landmarks.npz has sha256" in err
    outside = root.parent / "mine.npz"
    shutil.copyfile(target, outside)
    assert pretrained.verify_builtin_file(str(outside)) is None
    pretrained.write_manifest()
    refreshed = json.loads((root / "manifest.json").read_text())["extra_files"]["builtin64/landmarks.npz"]
    assert refreshed["sha256"] == pretrained.file_sha256(target) and refreshed["kind"] == "landmarks"

"""Strict snapshot loading: errors name keys and suggest the architecture; corrupt files are clear errors."""
import numpy as np
import pytest

import neuralcollage as nc
from neuralcollage.models.presets import DISCRIMINATOR_PRESETS, GENERATOR_PRESETS
import nc_reference as ref

pytestmark = pytest.mark.core


@pytest.fixture
def gen_file(tmp_path):
    arrays = ref.random_generator_arrays(GENERATOR_PRESETS["collage128"]["channels"], 2, 8, 5)
    path = tmp_path / "gen.npz"
    np.savez(path, **arrays)
    return path, arrays


def test_wrong_preset_names_keys_and_suggests_the_right_one(gen_file):
    path, _ = gen_file
    with pytest.raises(nc.SnapshotError) as err:
        nc.load_generator(path, arch="collage256", ch=2, n_classes=5, dim_z=8)
    msg = str(err.value)
    assert "missing keys [b8/N" in msg and "unexpected keys [b7/N" in msg
    assert "arch='collage128', ch=2, n_classes=5, dim_z=8" in msg


def test_wrong_width_reports_shape_mismatch(gen_file):
    path, _ = gen_file
    with pytest.raises(nc.SnapshotError, match=r"shape mismatches \[b7/avg_mean \(2,\) vs model \(4,\).*ch=2"):
        nc.load_generator(path, arch="collage128", ch=4, n_classes=5, dim_z=8)


def test_missing_and_unexpected_keys(tmp_path, gen_file):
    _, arrays = gen_file
    arrays = dict(arrays)
    del arrays["block3/c1/b"]
    arrays["extra/W"] = np.zeros(3, np.float32)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(nc.SnapshotError, match=r"missing keys \[block3/c1/b\].*unexpected keys \[extra/W\]"):
        nc.load_generator(path, arch="collage128", ch=2, n_classes=5, dim_z=8)


def test_official_file_without_arch_asks_for_it(gen_file):
    path, _ = gen_file
    with pytest.raises(nc.SnapshotError, match="pass arch=.*collage128"):
        nc.load_generator(path)


def test_generator_file_loaded_as_discriminator(gen_file):
    path, _ = gen_file
    with pytest.raises(nc.SnapshotError, match="missing keys"):
        nc.load_discriminator(path, arch="collage128", ch=2, n_classes=5)


def test_discriminator_suggestion(tmp_path):
    p = DISCRIMINATOR_PRESETS["collage256"]
    arrays = ref.random_discriminator_arrays(p["channels"], 3, 4, hidden=p["hidden"])
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(nc.SnapshotError, match="arch='collage256', ch=3, n_classes=4"):
        nc.load_discriminator(path, arch="collage256", ch=3, n_classes=7)


@pytest.mark.parametrize("content", [b"", b"not a zip file at all", None])
def test_corrupt_or_truncated_files(tmp_path, gen_file, content):
    src, _ = gen_file
    path = tmp_path / "broken.npz"
    if content is None:
        data = src.read_bytes()
        content = data[: len(data) // 2]
    path.write_bytes(content)
    with pytest.raises(nc.SnapshotError, match="not a readable .npz file"):
        nc.load_generator(path, arch="collage128", ch=2, n_classes=5, dim_z=8)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(nc.SnapshotError, match="does not exist"):
        nc.load_generator(tmp_path / "nope.npz", arch="collage128")
    with pytest.raises(nc.SnapshotError, match="directory"):
        nc.load_generator(tmp_path, arch="collage128")


def test_nan_weights_are_refused(tmp_path, gen_file):
    _, arrays = gen_file
    arrays = dict(arrays)
    arrays["block2/c1/W"] = arrays["block2/c1/W"].copy()
    arrays["block2/c1/W"][0, 0, 0, 0] = np.nan
    path = tmp_path / "nan.npz"
    np.savez(path, **arrays)
    with pytest.raises(nc.SnapshotError, match="NaN"):
        nc.load_generator(path, arch="collage128", ch=2, n_classes=5, dim_z=8)


def test_project_snapshot_kind_and_override_conflicts(tmp_path):
    gen = nc.Generator.from_preset("tiny32")
    path = tmp_path / "g.npz"
    nc.save_snapshot(gen, path, kind="generator")
    with pytest.raises(nc.SnapshotError, match="holds a generator, not a discriminator"):
        nc.load_discriminator(path)
    with pytest.raises(nc.SnapshotError, match="conflicts"):
        nc.load_generator(path, n_classes=9)
    with pytest.raises(nc.SnapshotError, match="not 'collage256'"):
        nc.load_generator(path, arch="collage256")


def test_unknown_preset_and_override():
    with pytest.raises(ValueError, match="unknown generator architecture 'nope'"):
        nc.Generator.from_preset("nope")
    with pytest.raises(ValueError, match="not 'hidden'"):
        nc.Discriminator.from_preset("collage256", hidden="in")

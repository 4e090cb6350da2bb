import csv
import math

import chainer
import numpy
import pytest

from neuralcollage import io as ncio
from neuralcollage.analysis import ablation
from neuralcollage.models import Generator
from nc_testing import random_class_tables


@pytest.fixture(scope="module")
def gen():
    """tiny32 with distinct per-class BN tables (a fresh generator has identical rows for every class)."""
    g = Generator.from_preset("tiny32")
    random_class_tables(g, seed=0)
    return g


def _generate(gen, z, y):
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        return ncio.from_model(gen.forward(z, y).array)


def _mean_colour_classifier(x):
    """Logits (N, 4) from the mean RGB of NCHW images: an independent, deterministic classifier."""
    m = numpy.asarray(x).mean(axis=(2, 3))
    return numpy.concatenate([m, -m.sum(axis=1, keepdims=True)], axis=1) * 3.0


# ------------------------------------------------------------------------------------------ metrics

def test_low_frequency_share_constant_offset_is_one():
    assert ablation.low_frequency_share(numpy.full((32, 32, 3), 7.0)) == pytest.approx(1.0, abs=1e-12)


def test_low_frequency_share_checkerboard_is_zero():
    checker = (numpy.indices((64, 64)).sum(axis=0) % 2) * 2.0 - 1.0
    assert ablation.low_frequency_share(numpy.dstack([checker] * 3)) == pytest.approx(0.0, abs=1e-12)


def test_low_frequency_share_of_zero_is_nan():
    assert math.isnan(ablation.low_frequency_share(numpy.zeros((8, 8))))


@pytest.mark.parametrize("freq,expected", [(2, 1.0), (3, 1.0), (4, 0.0), (10, 0.0)])
def test_low_frequency_share_sinusoid_against_radius(freq, expected):
    x = numpy.arange(32)
    wave = numpy.cos(2 * numpy.pi * freq * x / 32)[None, :] * numpy.ones((32, 1))
    assert ablation.low_frequency_share(wave) == pytest.approx(expected, abs=1e-9)  # radius 32 / 8 = 4


def test_low_frequency_share_matches_direct_computation():
    rs = numpy.random.RandomState(1)
    d = rs.randn(24, 24, 3)
    radius = 5.0
    energy = numpy.zeros((24, 24))
    for c in range(3):
        energy += numpy.abs(numpy.fft.fftshift(numpy.fft.fft2(d[:, :, c]))) ** 2 / 3
    yy, xx = numpy.mgrid[0:24, 0:24] - 12
    expected = energy[numpy.sqrt(yy ** 2 + xx ** 2) < radius].sum() / energy.sum()
    assert ablation.low_frequency_share(d, radius=radius) == pytest.approx(expected, rel=1e-10)


@pytest.fixture
def images():
    rs = numpy.random.RandomState(2)
    ref = rs.randint(0, 256, (16, 16, 3)).astype(numpy.uint8)
    edited = rs.randint(0, 256, (16, 16, 3)).astype(numpy.uint8)
    donor = rs.randint(0, 256, (16, 16, 3)).astype(numpy.uint8)
    mask = numpy.zeros((16, 16), numpy.float32)
    mask[4:9, 5:12] = 1.0
    mask[9, 5] = 0.4  # soft pixel: not in the region (> 0.5 only)
    return ref, edited, donor, mask


def test_change_metrics_match_numpy(images):
    ref, edited, donor, mask = images
    diff = edited.astype(float) - ref.astype(float)
    region = mask > 0.5
    assert ablation.inside_change(edited, ref, mask) == pytest.approx(numpy.abs(diff[region]).mean())
    assert ablation.outside_change(edited, ref, mask, dilate=0) == pytest.approx(numpy.abs(diff[~region]).mean())
    cross = region.copy()
    cross[1:] |= region[:-1]
    cross[:-1] |= region[1:]
    cross[:, 1:] |= region[:, :-1]
    cross[:, :-1] |= region[:, 1:]
    assert ablation.outside_change(edited, ref, mask, dilate=1) == pytest.approx(numpy.abs(diff[~cross]).mean())
    energy = (diff ** 2).sum(axis=2)
    assert ablation.outside_energy_share(diff, mask) == pytest.approx(energy[~region].sum() / energy.sum())
    assert ablation.outside_energy_share(diff, mask, dilate=1) == pytest.approx(energy[~cross].sum() / energy.sum())
    to_donor = numpy.abs(edited.astype(float) - donor)[region].mean()
    expected = 1 - to_donor / numpy.abs(ref.astype(float) - donor)[region].mean()
    assert ablation.donor_transfer(edited, ref, donor, mask) == pytest.approx(expected)
    assert ablation.donor_transfer(donor, ref, donor, mask) == pytest.approx(1.0)
    assert ablation.donor_transfer(ref, ref, donor, mask) == pytest.approx(0.0)


def test_metrics_reject_mismatched_shapes(images):
    ref, edited, _, mask = images
    with pytest.raises(ValueError, match="differ in shape"):
        ablation.inside_change(edited[:8], ref, mask)


def test_class_probabilities_softmax():
    images = numpy.random.RandomState(3).randint(0, 256, (5, 8, 8, 3)).astype(numpy.uint8)
    spec = ablation.ClassifierSpec.wrap(_mean_colour_classifier, size=8)
    p = ablation.class_probabilities(spec, images, batch_size=2)
    logits = _mean_colour_classifier(ncio.to_model(images)).astype(float)
    expected = numpy.exp(logits) / numpy.exp(logits).sum(axis=1, keepdims=True)
    numpy.testing.assert_allclose(p, expected, rtol=1e-6)


def test_region_crops_bbox_and_square():
    ramp = numpy.broadcast_to((numpy.arange(32) * 8)[None, None, :, None], (2, 32, 32, 3)).astype(numpy.uint8)
    left = ablation.region_mask("left-half", 32)
    crops, box = ablation.region_crops(ramp, left, size=32)
    assert box == (0, 0, 32, 16)
    assert numpy.abs(crops[0, 5, :, 0].astype(float) - (numpy.arange(32) / 2 - 0.25) * 8)[2:-2].max() <= 1.5
    images = numpy.random.RandomState(4).randint(0, 256, (2, 32, 32, 3)).astype(numpy.uint8)
    crops, box = ablation.region_crops(images, left, size=32, crop="square")
    assert box == (0, 0, 32, 32)
    numpy.testing.assert_array_equal(crops, images)
    center = ablation.region_mask("center", 32)
    for crop in ablation.CROP_MODES:
        crops, box = ablation.region_crops(images, center, size=16, crop=crop)
        assert box == (8, 8, 16, 16)
        numpy.testing.assert_array_equal(crops, images[:, 8:24, 8:24])
    assert ablation.crop_box(center, margin=0.25) == (4, 4, 24, 24)
    assert ablation.crop_box(center, margin=1.0) == (0, 0, 32, 32)
    with pytest.raises(ValueError, match="crop must be"):
        ablation.crop_box(center, crop="circle")
    with pytest.raises(ValueError, match="empty"):
        ablation.crop_box(numpy.zeros((8, 8)))


# ------------------------------------------------------------------------------------------ inputs

def test_region_masks():
    m = ablation.region_mask("left-half", 8)
    assert m.dtype == numpy.float32 and m[:, :4].all() and not m[:, 4:].any()
    c = ablation.region_mask("center", 8)
    assert c.sum() == 16 and c[2:6, 2:6].all()
    assert ablation.region_mask("Top-Half", 8)[:4].all()
    with pytest.raises(ValueError, match="unknown region 'middle'.*center"):
        ablation.region_mask("middle", 8)


def test_load_region_from_file(tmp_path):
    img = numpy.zeros((64, 64), numpy.uint8)
    img[:, 32:] = 255
    path = tmp_path / "mask.png"
    ncio.write_image(path, numpy.dstack([img] * 3))
    mask = ablation.load_region(str(path), 32)
    assert mask.shape == (32, 32) and mask[:, 16:].min() == 1 and mask[:, :16].max() == 0
    with pytest.raises(ValueError, match="neither a region name"):
        ablation.load_region(str(tmp_path / "missing.png"), 32)


def test_parse_seeds():
    assert ablation.parse_seeds("0-3,10,2") == [0, 1, 2, 3, 10]
    assert ablation.parse_seeds([5, 1]) == [5, 1]
    for bad in ("a", "3-1", "", "1-x"):
        with pytest.raises(ValueError):
            ablation.parse_seeds(bad)


def test_default_settings_parse_and_contain_fig9():
    scbn = ablation.default_scbn_settings(8)
    assert scbn[:3] == ["all", "0", "1-"] and "0-3" in scbn and "4-" in scbn
    assert ablation.check_settings(scbn, 8)[1] == ("0", (0,))
    assert ablation.default_blend_settings(5) == ["0", "1", "2", "3", "4", "all"]
    assert ablation.early_late_pair("scbn", 8) == ("0-3", "4-")
    assert ablation.early_late_pair("blend", 5) == ("0", "4")


def test_check_settings_rejects_bad_spec():
    with pytest.raises(ValueError, match="cannot parse layer spec 'early'"):
        ablation.check_settings(["all", "early"], 6)
    with pytest.raises(ValueError, match="out of range"):
        ablation.check_settings(["9"], 6)
    with pytest.raises(ValueError, match="no layer settings"):
        ablation.check_settings([], 6)


# ------------------------------------------------------------------------------------------ rendering

def test_render_scbn_none_and_full_mask(gen):
    z = ablation.latents_from_seeds(gen, [0, 1, 2])
    full = numpy.ones((32, 32), numpy.float32)
    src = ablation.render_scbn(gen, z, 0, 2, full, layers="none")
    assert numpy.abs(src.astype(int) - _generate(gen, z, 0)).max() <= 1
    tgt = ablation.render_scbn(gen, z, 0, 2, full, layers="all", batch_size=2)
    assert numpy.abs(tgt.astype(int) - _generate(gen, z, 2)).max() <= 1


def test_render_blend_none_and_full_donor(gen):
    z = ablation.latents_from_seeds(gen, [0, 1])
    zd = ablation.latents_from_seeds(gen, [7, 8])
    full = numpy.ones((32, 32), numpy.float32)
    base = ablation.render_blend(gen, z, zd, 1, full, layers="none")
    assert numpy.abs(base.astype(int) - _generate(gen, z, 1)).max() <= 1
    donor = ablation.render_blend(gen, z, zd, 1, full, layers="all", weight=1.0)
    assert numpy.abs(donor.astype(int) - _generate(gen, zd, 1)).max() <= 1
    with pytest.raises(ValueError, match="weight"):
        ablation.render_blend(gen, z, zd, 1, full, weight=1.5)


def test_latents_from_seeds_are_per_seed(gen):
    a = ablation.latents_from_seeds(gen, [3, 4])
    b = ablation.latents_from_seeds(gen, [4])
    numpy.testing.assert_array_equal(a[1:], b)


# ------------------------------------------------------------------------------------------ ablations

def test_run_scbn_ablation_rows_and_metrics(gen):
    z = ablation.latents_from_seeds(gen, range(3))
    settings = ["all", "0", "1-", "0-2", "3-"]
    result = ablation.run_scbn_ablation(gen, settings=settings, z=z, source=0, target=1, mask="center",
                                        classifier=_mean_colour_classifier, classifier_size=16, seeds=[0, 1, 2])
    assert isinstance(result, list)
    assert [r["setting"] for r in result] == ["none", "target everywhere"] + settings
    assert [r["role"] for r in result] == ["unedited", "bound"] + ["edit"] * 5
    assert [r["layers"] for r in result] == ["none", "all", "all", "0", "1-5", "0-2", "3-5"]
    assert len(result.samples) == 3 * 7 and len(result.images) == 7
    assert numpy.abs(result.images[1].astype(int) - _generate(gen, z, 1)).max() <= 1
    none = result[0]
    assert none["inside_change"] == 0 and none["outside_change"] == 0 and math.isnan(none["low_freq_share"])
    mask = ablation.region_mask("center", 32)
    for row, edited in zip(result, result.images):
        per = [s for s in result.samples if s["setting"] == row["setting"]]
        for key in ablation.SCBN_METRICS:
            vals = [s[key] for s in per if not math.isnan(s[key])]
            assert row[key] == pytest.approx(numpy.mean(vals)) if vals else math.isnan(row[key])
        crops = edited[:, 8:24, 8:24]
        logits = _mean_colour_classifier(ncio.to_model(crops)).astype(float)
        p = numpy.exp(logits) / numpy.exp(logits).sum(axis=1, keepdims=True)
        assert row["p_target"] == pytest.approx(p[:, 1].mean())
        assert row["success_rate"] == pytest.approx((p[:, 1] > p[:, 0]).mean())
        diff = edited.astype(float) - result.reference
        assert row["inside_change"] == pytest.approx(numpy.abs(diff[:, mask > 0.5]).mean())
    by = {r["setting"]: r for r in result}
    # late class layers act locally, early ones spread: the paper's qualitative finding
    assert by["3-"]["outside_change"] < by["0-2"]["outside_change"]
    assert by["3-"]["outside_energy_share"] < by["0-2"]["outside_energy_share"]


def test_run_scbn_ablation_is_reproducible(gen):
    kw = dict(settings=["all", "0"], source=0, target=3, mask="left-half")
    a = ablation.run_scbn_ablation(gen, z=ablation.latents_from_seeds(gen, [5, 6]), **kw)
    b = ablation.run_scbn_ablation(gen, z=ablation.latents_from_seeds(gen, [5, 6]), **kw)
    for ra, rb in zip(a, b, strict=True):
        assert ra.keys() == rb.keys()
        for key in ra:
            assert ra[key] == rb[key] or (math.isnan(ra[key]) and math.isnan(rb[key])), key
    numpy.testing.assert_array_equal(a.images[2], b.images[2])
    assert all(math.isnan(r["success_rate"]) for r in a)


def test_run_scbn_ablation_validates_before_rendering(gen):
    z = ablation.latents_from_seeds(gen, [0])
    with pytest.raises(ValueError, match="cannot parse layer spec"):
        ablation.run_scbn_ablation(gen, settings=["x"], z=z, source=0, target=1, mask="center")
    with pytest.raises(ValueError, match="target class 7"):
        ablation.run_scbn_ablation(gen, settings=["all"], z=z, source=0, target=7, mask="center")
    with pytest.raises(ValueError, match="latents"):
        ablation.run_scbn_ablation(gen, settings=["all"], z=z[:, :3], source=0, target=1, mask="center")
    with pytest.raises(ValueError, match="classes"):
        ablation.run_scbn_ablation(gen, settings=["all"], z=z, source=0, target=3, mask="center",
                                   classifier=lambda x: numpy.zeros((len(x), 2)), classifier_size=16)


def test_run_blend_ablation(gen):
    z = ablation.latents_from_seeds(gen, [0, 1])
    zd = ablation.latents_from_seeds(gen, [100, 101])
    result = ablation.run_blend_ablation(gen, settings=["0", "3"], z=z, z_donor=zd, cls=2, mask="left-half",
                                         weights=(0.5, 1.0), classifier=_mean_colour_classifier)
    assert [(r["setting"], r["weight"]) for r in result] == [("none", 0.0), ("donor", 1.0), ("0", 0.5), ("3", 0.5),
                                                              ("0", 1.0), ("3", 1.0)]
    assert result[1]["donor_transfer"] == pytest.approx(1.0)
    by = {(r["setting"], r["weight"]): r for r in result}
    assert by[("3", 1.0)]["donor_transfer"] > 0.8
    assert by[("3", 1.0)]["outside_change"] < by[("0", 1.0)]["outside_change"]
    assert by[("3", 1.0)]["donor_transfer"] > by[("3", 0.5)]["donor_transfer"] > 0
    assert result.donor.shape == (2, 32, 32, 3)
    with pytest.raises(ValueError, match="weights"):
        ablation.run_blend_ablation(gen, settings=["0"], z=z, z_donor=zd, cls=0, mask="center", weights=(0,))


# ------------------------------------------------------------------------------------------ report

def test_write_report_files(gen, tmp_path):
    z = ablation.latents_from_seeds(gen, [0, 1])
    result = ablation.run_scbn_ablation(gen, settings=ablation.default_scbn_settings(gen.n_class_layers), z=z,
                                        source=0, target=1, mask="center", classifier=_mean_colour_classifier)
    paths = ablation.write_report(result, tmp_path / "out", title="test", meta={"model": "tiny32"})
    for key in ("csv", "samples_csv", "summary", "trend"):
        assert (tmp_path / "out" / paths[key].split("/")[-1]).stat().st_size > 0
    assert [p.split("/")[-1] for p in paths["grids"]] == ["scbn_grid.png"]
    with open(paths["csv"]) as f:
        rows = list(csv.DictReader(f))
    assert [r["setting"] for r in rows] == [r["setting"] for r in result]
    assert float(rows[1]["outside_change"]) == pytest.approx(result[1]["outside_change"], rel=1e-5)
    with open(paths["samples_csv"]) as f:
        assert len(list(csv.DictReader(f))) == 2 * len(result)
    text = open(paths["summary"]).read()
    assert "Early layers only (`0-2`) vs late layers only (`3-`)" in text and "| `all` |" in text
    assert "per block" in text
    from PIL import Image
    w, h = Image.open(paths["grids"][0]).size
    assert w > h  # 12 columns, 2 rows


def test_save_grid_validates(tmp_path):
    imgs = numpy.zeros((2, 3, 8, 8, 3), numpy.uint8)
    with pytest.raises(ValueError, match="column labels"):
        ablation.save_grid(imgs, tmp_path / "g.png", col_labels=["a"])
    ablation.save_grid(imgs, tmp_path / "g.png", col_labels=["a", "b", "c"], row_labels=["r0", "r1"],
                       mask=numpy.ones((8, 8)))
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_trend_series_orders_by_depth():
    def row(layers, first, last):
        return dict(method="scbn", setting=layers, layers=layers, n_selected=last - first + 1, weight=1.0,
                    depth=(first + last) / 2)
    rows = [row("2-3", 2, 3), row("0-1", 0, 1), row("4-5", 4, 5), row("3-5", 3, 5), row("0-2", 0, 2)]
    series = ablation.trend_series(rows, 6)
    assert [r["layers"] for r in series["per block"]] == ["0-1", "2-3", "4-5"]
    assert [r["layers"] for r in series["early-only (0-k)"]] == ["0-1", "0-2"]
    assert [r["layers"] for r in series["late-only (k-)"]] == ["3-5", "4-5"]


def _summary_row(layers, first, last, **metrics):
    row = dict(method="scbn", role="edit", setting=layers, layers=layers, n_selected=last - first + 1, weight=1.0,
               depth=(first + last) / 2, success_rate=0.5, low_freq_share=0.5)
    row.update(metrics)
    return row


@pytest.mark.parametrize("early,late,verdict", [
    ((0.4, 9.0), (0.1, 1.0), "more global (it spreads further"),
    ((0.1, 1.0), (0.4, 9.0), "NOT more global"),
    ((0.4, 1.0), (0.1, 9.0), "mixed"),
])
def test_summary_lines_verdict(early, late, verdict):
    rows = [_summary_row("0-1", 0, 1, outside_energy_share=early[0], outside_change=early[1]),
            _summary_row("2-3", 2, 3, outside_energy_share=late[0], outside_change=late[1])]
    lines = ablation.summary_lines(rows, n_layers=4, metrics=ablation.SCBN_METRICS)
    assert lines[0].startswith("- Early layers only (`0-1`) vs late layers only (`2-`)")
    assert verdict in lines[0] and f"{early[0]:.3f} vs {late[0]:.3f}" in lines[0]
    direction = "monotone decreasing" if early[0] > late[0] else "monotone increasing"
    assert any("per block" in line and direction in line for line in lines)

"""Whole-image and part classifiers: shapes, prediction on uint8 images, part crops, snapshots."""
import chainer
import numpy as np
import pytest

import neuralcollage as nc
from neuralcollage.io import to_model
from neuralcollage.models.classifier import (CLASSIFIER_PRESETS, PART_CLASSIFIER_PRESETS, Classifier,
                                             PartClassifier, part_crops)
from neuralcollage.snapshot import SnapshotError


@pytest.mark.parametrize("cls,presets", [(Classifier, CLASSIFIER_PRESETS), (PartClassifier, PART_CLASSIFIER_PRESETS)])
@pytest.mark.parametrize("arch", ["tiny32", "builtin64"])
def test_shapes(cls, presets, arch):
    clf = cls.from_preset(arch)
    r = presets[arch]["resolution"]
    x = np.random.RandomState(0).uniform(-1, 1, (2, 3, r, r)).astype(np.float32)
    with chainer.using_config("train", False):
        logits, feats = clf(x), clf.features(x)
    assert logits.shape == (2, clf.n_classes) and feats.shape == (2, clf.n_features)
    assert clf.resolution == r


def test_predict_resizes_any_square_size_and_accepts_one_image():
    clf = Classifier.from_preset("tiny32")
    rng = np.random.RandomState(0)
    for size in (16, 32, 70):
        images = rng.randint(0, 256, (3, size, size, 3)).astype(np.uint8)
        before = images.copy()
        ids = clf.predict(images, batch_size=2)
        assert ids.shape == (3,) and ids.dtype == np.int32 and ((0 <= ids) & (ids < 4)).all()
        np.testing.assert_array_equal(images, before)
    assert clf.predict(images[0]).shape == (1,)
    p = clf.predict_proba(images)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(p.argmax(axis=1), clf.predict(images))
    assert clf.embed(images).shape == (3, clf.n_features)
    assert clf.predict(np.zeros((0, 32, 32, 3), np.uint8)).shape == (0,)


def test_predict_matches_forward_at_native_resolution():
    clf = Classifier.from_preset("tiny32")
    images = np.random.RandomState(2).randint(0, 256, (4, 32, 32, 3)).astype(np.uint8)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        logits = clf(to_model(images)).array
    np.testing.assert_array_equal(clf.predict(images), logits.argmax(axis=1))


def test_predict_rejects_non_square_or_float_images():
    clf = Classifier.from_preset("tiny32")
    with pytest.raises(ValueError, match="uint8"):
        clf.predict(np.zeros((1, 32, 40, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        clf.predict(np.zeros((1, 32, 32, 3), np.float32))


@pytest.mark.parametrize("cls,kind", [(Classifier, "classifier"), (PartClassifier, "part_classifier")])
def test_snapshot_round_trip(tmp_path, cls, kind):
    clf = cls.from_preset("tiny32")
    path = tmp_path / f"{kind}.npz"
    nc.save_snapshot(clf, path, kind=kind)
    loaded = nc.load_model(path, kind=kind)
    assert type(loaded) is cls and loaded.config == clf.config
    images = np.random.RandomState(3).randint(0, 256, (2, 32, 32, 3)).astype(np.uint8)
    np.testing.assert_array_equal(loaded.logits(images), clf.logits(images))
    other = "part_classifier" if kind == "classifier" else "classifier"
    with pytest.raises(SnapshotError, match=f"not a {other}"):
        nc.load_model(path, kind=other)


def _square_scene():
    image = np.zeros((64, 80, 3), np.uint8)
    image[20:30, 40:50] = (255, 0, 0)
    mask = np.zeros((64, 80), bool)
    mask[20:30, 40:50] = True
    return image, mask


def test_part_crops_geometry():
    image, mask = _square_scene()
    before = image.copy()
    crops = part_crops(image[None], mask[None], size=32, margin=0.5)
    np.testing.assert_array_equal(image, before)
    assert crops.shape == (1, 32, 32, 3) and crops.dtype == np.uint8
    crop = crops[0].astype(int)
    # box side 10 * (1 + 2 * 0.5) = 20 px around the square: the square fills the central half
    assert (crop[10:22, 10:22] == (255, 0, 0)).all()
    assert (crop[:6] == 0).all() and (crop[-6:] == 0).all() and (crop[:, :6] == 0).all()
    tight = part_crops(image, mask, size=16, margin=0.0)
    assert tight.shape == (1, 16, 16, 3) and (tight == (255, 0, 0)).all()


def test_part_crops_near_the_border_stay_inside():
    image = np.zeros((40, 40, 3), np.uint8)
    image[:6, :6] = 200
    mask = np.zeros((40, 40), bool)
    mask[:6, :6] = True
    crop = part_crops(image, mask, size=8, margin=0.5)[0]
    assert (crop[:3, :3] == 200).all() and (crop[-2:, -2:] == 0).all()


def test_part_crops_errors():
    image, mask = _square_scene()
    with pytest.raises(ValueError, match="part mask 1 is empty"):
        part_crops(np.stack([image, image]), np.stack([mask, np.zeros_like(mask)]))
    with pytest.raises(ValueError, match="do not match"):
        part_crops(image[None], mask[None, :10])
    with pytest.raises(ValueError, match="uint8"):
        part_crops(image[None].astype(np.float32), mask[None])


def test_part_classifier_predict_parts_uses_crops():
    clf = PartClassifier.from_preset("tiny32")
    image, mask = _square_scene()
    ids = clf.predict_parts(image[None], mask[None], margin=0.2)
    np.testing.assert_array_equal(ids, clf.predict(part_crops(image, mask, size=clf.resolution, margin=0.2)))

import cv2
import numpy
import pytest

from neuralcollage.datasets import (ATTRIBUTE_NAMES, CLASS_NAMES, CLOSEUP_PARTS, CLOSEUP_ZOOM,
                                          PART_NAMES, ProceduralFaces, is_closeup, render_batch,
                                          render_closeup, render_sample)

CLASS_IDS = range(len(CLASS_NAMES))


def _iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


def _downsample_mask(mask, size):
    return cv2.resize(mask.astype(numpy.float32), (size, size), interpolation=cv2.INTER_AREA) > 0.5


def test_same_seed_same_bytes():
    a, b = render_sample(11, size=64), render_sample(11, size=64)
    assert a.image.tobytes() == b.image.tobytes()
    assert a.class_id == b.class_id and a.attributes == b.attributes
    for name in PART_NAMES:
        assert a.masks[name].tobytes() == b.masks[name].tobytes()


def test_different_seeds_differ():
    images = [render_sample(seed, class_id=0).image for seed in range(8)]
    for i in range(len(images)):
        for j in range(i):
            assert numpy.abs(images[i].astype(int) - images[j]).mean() > 2


def test_seed_draws_every_class():
    counts = numpy.bincount([render_sample(seed, size=16).class_id for seed in range(120)],
                            minlength=len(CLASS_NAMES))
    assert counts.min() >= 8


@pytest.mark.parametrize("size", [16, 64, 256])
@pytest.mark.parametrize("class_id", CLASS_IDS)
def test_renders_every_class(class_id, size):
    sample = render_sample(3, class_id=class_id, size=size)
    assert sample.image.shape == (size, size, 3) and sample.image.dtype == numpy.uint8
    assert sample.class_id == class_id and sample.class_name == CLASS_NAMES[class_id]
    assert set(sample.masks) == set(PART_NAMES)
    for mask in sample.masks.values():
        assert mask.shape == (size, size) and mask.dtype == bool
    face = sample.masks["face"]
    assert 0.05 < face.mean() < 0.6
    if size >= 64:
        for name in PART_NAMES:
            assert sample.masks[name].sum() > 0, name
    assert not (sample.masks["eyes"] & ~face).any()
    assert not (sample.masks["muzzle"] & ~face).any()
    assert not (sample.masks["ears"] & face).any()
    if size >= 64:
        near_face = cv2.dilate(face.astype(numpy.uint8), numpy.ones((3, 3), numpy.uint8)).astype(bool)
        assert (sample.masks["ears"] & near_face).any()


@pytest.mark.parametrize("class_id", CLASS_IDS)
def test_sizes_agree(class_id):
    small = render_sample(5, class_id=class_id, size=64)
    large = render_sample(5, class_id=class_id, size=256)
    for name in ("face", "ears", "muzzle"):
        assert _iou(small.masks[name], _downsample_mask(large.masks[name], 64)) > 0.8, name
    assert _iou(small.masks["eyes"], _downsample_mask(large.masks["eyes"], 64)) > 0.6
    reduced = cv2.resize(large.image, (64, 64), interpolation=cv2.INTER_AREA)
    assert numpy.abs(reduced.astype(int) - small.image).mean() < 6


def test_attributes_in_unit_interval():
    for seed in range(30):
        attributes = render_sample(seed, size=16).attributes
        assert tuple(attributes) == ATTRIBUTE_NAMES
        assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in attributes.values())


def test_overrides_change_only_their_attribute():
    base = render_sample(4, class_id="cat")
    other = render_sample(4, class_id="cat", attributes={"fur_brightness": 0.9})
    assert other.attributes["fur_brightness"] == 0.9
    assert {k: v for k, v in other.attributes.items() if k != "fur_brightness"} == \
        {k: v for k, v in base.attributes.items() if k != "fur_brightness"}
    assert numpy.array_equal(base.image[:4, :4], other.image[:4, :4])
    for name in PART_NAMES:
        assert numpy.array_equal(base.masks[name], other.masks[name])


def test_class_override_keeps_pose_and_background():
    a, b = render_sample(9, class_id="bear"), render_sample(9, class_id="panda")
    assert numpy.array_equal(a.image[:3, :3], b.image[:3, :3])
    assert a.attributes == b.attributes


@pytest.mark.parametrize("bad", [{"fur_colour": 0.5}, {"eye_size": 1.5}])
def test_bad_attribute_overrides(bad):
    with pytest.raises((KeyError, ValueError)):
        render_sample(0, attributes=bad)


def test_bad_class_id():
    from neuralcollage.datasets import SPECIES
    render_sample(0, class_id=len(CLASS_NAMES))  # the first species the built-in model never saw
    with pytest.raises(ValueError):
        render_sample(0, class_id=len(SPECIES))
    with pytest.raises(ValueError):
        render_sample(0, class_id=-1)


def _luminance(sample, part):
    return sample.image[sample.masks[part]].astype(float).mean()


@pytest.mark.parametrize("class_id", CLASS_IDS)
def test_attributes_drive_rendering(class_id):
    def render(**attributes):
        return render_sample(21, class_id=class_id, size=128, attributes=attributes)

    assert _luminance(render(fur_brightness=0.1), "face") < _luminance(render(fur_brightness=0.9), "face")
    assert render(eye_size=0.1).masks["eyes"].sum() < render(eye_size=0.9).masks["eyes"].sum()
    assert render(muzzle_size=0.1).masks["muzzle"].sum() < render(muzzle_size=0.9).masks["muzzle"].sum()
    ears = [render(ear_angle=a).masks["ears"] for a in (0.1, 0.9)]
    assert _iou(*ears) < 0.9
    hues = [render(fur_hue=h) for h in (0.1, 0.9)]
    face_colour = [s.image[s.masks["face"]].astype(float).mean(0) for s in hues]
    assert numpy.abs(face_colour[0] - face_colour[1]).max() > 2


def test_render_batch_matches_render_sample():
    images, class_ids, attributes, masks = render_batch([3, 4, 5], size=32, class_ids=[0, 2, 5])
    assert images.shape == (3, 32, 32, 3) and images.dtype == numpy.uint8
    assert class_ids.dtype == numpy.int32 and class_ids.tolist() == [0, 2, 5]
    assert set(attributes) == set(ATTRIBUTE_NAMES)
    assert all(v.shape == (3,) and v.dtype == numpy.float32 for v in attributes.values())
    assert set(masks) == set(PART_NAMES)
    assert all(v.shape == (3, 32, 32) and v.dtype == bool for v in masks.values())
    sample = render_sample(4, class_id=2, size=32)
    assert numpy.array_equal(images[1], sample.image)
    assert numpy.array_equal(masks["eyes"][1], sample.masks["eyes"])


@pytest.mark.parametrize("part", CLOSEUP_PARTS)
def test_closeup_is_a_window_of_the_enlarged_face(part):
    seed, size, zoom = 21, 32, 2.0
    closeup = render_closeup(seed, size=size, zoom=zoom, part=part)
    big = render_sample(seed, size=64)
    assert closeup.image.shape == (size, size, 3) and closeup.image.dtype == numpy.uint8
    assert closeup.class_id == big.class_id and closeup.attributes == big.attributes
    hits = [(t, l) for t in range(33) for l in range(33)
            if numpy.array_equal(big.image[t:t + size, l:l + size], closeup.image)]
    assert len(hits) == 1
    top, left = hits[0]
    for name in PART_NAMES:
        numpy.testing.assert_array_equal(closeup.masks[name], big.masks[name][top:top + size, left:left + size])
    ys, xs = numpy.nonzero(big.masks[part])
    for corner, centroid in ((top, ys.mean() + 0.5), (left, xs.mean() + 0.5)):
        assert corner in (0, 64 - size) or abs(corner + size / 2 - centroid) <= 0.15 * size + 1
    assert closeup.masks[part].any()


def test_closeup_draws_are_deterministic_and_cover_the_ranges():
    a, b = render_closeup(5, size=32), render_closeup(5, size=32)
    assert numpy.array_equal(a.image, b.image)
    assert not numpy.array_equal(render_closeup(6, size=32).image, a.image)
    whole = render_sample(5, size=32)
    face_share = [render_closeup(s, size=32).masks["face"].mean() for s in range(20)]
    assert min(face_share) > 0 and numpy.mean(face_share) > 2 * whole.masks["face"].mean()
    assert CLOSEUP_ZOOM[0] >= 1.0


@pytest.mark.parametrize("bad", [dict(zoom=0.5), dict(zoom=float("nan")), dict(part="face"), dict(part="tail")])
def test_closeup_refuses_bad_options(bad):
    with pytest.raises(ValueError):
        render_closeup(1, size=32, **bad)


def test_render_batch_mixes_in_the_requested_share_of_closeups():
    seeds = list(range(400))
    flags = [is_closeup(s, 0.25) for s in seeds]
    assert 0.18 < numpy.mean(flags) < 0.32
    assert not any(is_closeup(s, 0.0) for s in seeds) and all(is_closeup(s, 1.0) for s in seeds)
    batch = seeds[:12]
    images, ids, _, masks = render_batch(batch, size=32, closeups=0.25)
    for i, s in enumerate(batch):
        expected = render_closeup(s, size=32) if is_closeup(s, 0.25) else render_sample(s, size=32)
        assert numpy.array_equal(images[i], expected.image) and ids[i] == expected.class_id
        assert numpy.array_equal(masks["eyes"][i], expected.masks["eyes"])
    assert numpy.array_equal(render_batch(batch, size=32)[0], render_batch(batch, size=32, closeups=0.0)[0])
    with pytest.raises(ValueError, match="closeups"):
        render_batch(batch, size=32, closeups=1.5)


def test_dataset_examples():
    dataset = ProceduralFaces(10, size=32, base_seed=100)
    assert len(dataset) == 10
    image, class_id = dataset[3]
    assert image.shape == (3, 32, 32) and image.dtype == numpy.float32
    assert -1.0 <= image.min() and image.max() <= 1.0
    assert class_id.dtype == numpy.int32
    sample = render_sample(103, size=32)
    assert class_id == sample.class_id
    numpy.testing.assert_allclose((image.transpose(1, 2, 0) + 1.0) * 127.5, sample.image, atol=1e-3)
    numpy.testing.assert_array_equal(dataset[-1][0], dataset[9][0])
    assert len(dataset[2:5]) == 3 and len(dataset[[0, 4]]) == 2
    with pytest.raises(IndexError):
        dataset[10]


def test_dataset_restricts_classes():
    dataset = ProceduralFaces(40, size=16, classes=("fox", 4))
    assert {int(dataset[i][1]) for i in range(len(dataset))} == {2, 4}


def test_nearest_class_mean_separates_classes():
    images, class_ids, _, _ = render_batch(range(1000, 1300), size=64)
    features = numpy.stack([cv2.resize(im, (16, 16), interpolation=cv2.INTER_AREA) for im in images])
    features = features.reshape(len(features), -1).astype(numpy.float32) / 255.0
    train, test = slice(0, 200), slice(200, 300)
    means = numpy.stack([features[train][class_ids[train] == c].mean(0) for c in CLASS_IDS])
    distances = ((features[test, None, :] - means[None]) ** 2).sum(-1)
    accuracy = (distances.argmin(1) == class_ids[test]).mean()
    assert accuracy > 0.6


def test_default_pose_override_changes_nothing():
    from neuralcollage.datasets import pose_of
    a = render_sample(11, size=48)
    b = render_sample(11, size=48, pose=pose_of(11))
    numpy.testing.assert_array_equal(a.image, b.image)


def test_pose_override_moves_the_face_and_its_landmarks_alone():
    from neuralcollage.datasets import pose_of, render_landmarks
    pose = pose_of(12 + 5000)
    a, b = render_sample(12, size=64), render_sample(12, size=64, pose=pose)
    assert a.attributes == b.attributes and a.class_id == b.class_id
    assert (a.image != b.image).any()
    corner = (slice(0, 4), slice(0, 4))
    if not (a.masks["ears"] | a.masks["face"] | b.masks["ears"] | b.masks["face"])[corner].any():
        numpy.testing.assert_array_equal(a.image[corner], b.image[corner])
    moved = render_landmarks(12, size=64, pose=pose)
    assert numpy.abs(moved - render_landmarks(12, size=64)).max() > 1.0


@pytest.mark.parametrize("class_name", ["cat", "dog", "fox", "rabbit", "bear", "panda"])
def test_landmarks_fall_in_their_parts(class_name):
    from neuralcollage.datasets import LANDMARK_NAMES, render_landmarks
    for seed in range(5):
        sample = render_sample(seed, class_id=class_name, size=128)
        points = render_landmarks(seed, class_id=class_name, size=128)
        assert points.shape == (len(LANDMARK_NAMES), 2)
        at = {n: (int(round(y)), int(round(x))) for n, (x, y) in zip(LANDMARK_NAMES, points)}
        for eye in ("left_eye", "right_eye"):
            assert sample.masks["eyes"][at[eye]]
        assert sample.masks["face"][at["nose"]]
        ear = at["left_ear"]
        if 0 <= ear[0] < 128 and class_name in ("bear", "panda"):
            assert sample.masks["ears"][ear] or sample.masks["face"][ear]


def test_landmarks_scale_with_the_image():
    from neuralcollage.datasets import render_landmarks
    small, big = render_landmarks(4, size=64), render_landmarks(4, size=256)
    numpy.testing.assert_allclose((small + 0.5) * 4, big + 0.5, atol=1e-9)


@pytest.mark.parametrize("style", ["hatch", "watercolour"])
def test_styles_are_pure_functions_keeping_the_masks(style):
    plain = render_sample(5, size=64)
    first, second = render_sample(5, size=64, style=style), render_sample(5, size=64, style=style)
    numpy.testing.assert_array_equal(first.image, second.image)
    assert numpy.abs(first.image.astype(int) - plain.image).mean() > 10
    for name in plain.masks:
        numpy.testing.assert_array_equal(first.masks[name], plain.masks[name])
    with pytest.raises(ValueError, match="unknown style"):
        render_sample(5, size=64, style="oil")

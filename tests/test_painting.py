import json
import math

import chainer
import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuralcollage import blending, maps
from neuralcollage.io import from_model
from neuralcollage.painting import (RECIPE_KIND, LabelPainter, Stroke, blend_layer_maps, check_recipe,
                                   composite_photo, edit_mask, painting_recipe, render_painting,
                                   replay_recipe, stroke_alpha)

from nc_testing import painting_generator


def assert_normalised(m):
    assert m.dtype == numpy.float32
    assert (m >= 0).all()
    numpy.testing.assert_allclose(m.sum(axis=1), 1, atol=1e-5)


@pytest.fixture(scope="module")
def gen():
    return painting_generator()


def generate(g, z, y):
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        return from_model(g.forward(z, y).array)[0]


# ---------------------------------------------------------------------------- strokes

@pytest.mark.parametrize("kwargs, message", [
    (dict(points=[(1, 1)], radius=0, label=1), "radius"),
    (dict(points=[(1, 1)], radius=-2, label=1), "radius"),
    (dict(points=[(1, 1)], radius=float("nan"), label=1), "radius"),
    (dict(points=[(1, 1)], radius=2, label=1, hardness=1.5), "hardness"),
    (dict(points=[(1, float("inf"))], radius=2, label=1), "finite"),
    (dict(points=[], radius=2, label=1), "at least one point"),
    (dict(points=[(1, 1)], radius=2, label=-1), "label"),
    (dict(points=[(1, 1)], radius=2, label=1.5), "label"),
])
def test_stroke_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Stroke(**kwargs)


def test_stroke_dict_roundtrip():
    s = Stroke(points=[(1, 2.5), (3, 4)], radius=2.5, label=numpy.int64(3), hardness=0.25, erase=True)
    assert s.points == ((1.0, 2.5), (3.0, 4.0)) and isinstance(s.label, int)
    assert Stroke.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    with pytest.raises(ValueError, match="label"):
        Stroke.from_dict({"points": [[1, 1]], "radius": 1})


def test_hard_dot_is_a_disc():
    alpha = stroke_alpha(Stroke(points=[(20, 12)], radius=5, label=1, hardness=1.0), (32, 40))
    assert alpha.shape == (32, 40) and alpha.dtype == numpy.float32
    yy, xx = numpy.mgrid[:32, :40]
    d = numpy.hypot(xx - 20, yy - 12)
    assert (alpha[d <= 4] == 1).all()
    assert (alpha[d >= 5] == 0).all()
    assert abs(alpha.sum() - math.pi * 4.5 ** 2) < 0.1 * math.pi * 25


def test_soft_brush_falls_off_monotonically():
    alpha = stroke_alpha(Stroke(points=[(16, 16)], radius=10, label=1, hardness=0.0), 33)
    row = alpha[16, 16:]
    assert row[0] == 1
    assert (numpy.diff(row) <= 0).all()
    assert 0 < row[5] < 1 and row[10] == 0
    harder = stroke_alpha(Stroke(points=[(16, 16)], radius=10, label=1, hardness=0.6), 33)
    assert (harder >= alpha - 1e-6).all() and harder.sum() > alpha.sum()


def test_segment_covers_the_line_and_points_outside_are_clipped():
    alpha = stroke_alpha(Stroke(points=[(-10, 5), (40, 5)], radius=1.5, label=0), (16, 32))
    assert (alpha[5] == 1).all()
    assert (alpha[9:] == 0).all()
    assert stroke_alpha(Stroke(points=[(100, 100)], radius=3, label=0), 16).sum() == 0


# ---------------------------------------------------------------------------- canvas

def test_blank_canvas_is_the_base_class():
    p = LabelPainter(5, (16, 24), base_label=3)
    m = p.class_map()
    assert m.shape == (1, 5, 16, 24)
    assert (m[0, 3] == 1).all() and p.is_blank and not p.can_undo
    assert (p.label_image() == 3).all()
    assert (p.painted_alpha() == 0).all()


def test_paint_erase_undo_redo():
    p = LabelPainter(4, 32, base_label=0, checkpoint_every=3)
    maps_seen = [p.class_map()]
    for i in range(8):
        p.add_stroke([(2 + 3 * i, 4), (2 + 3 * i, 28)], label=1 + i % 3, radius=2 + i % 2, hardness=0.5)
        maps_seen.append(p.class_map())
        assert_normalised(maps_seen[-1])
    assert p.used_labels() == [0, 1, 2, 3]
    p.add_stroke([(0, 16), (31, 16)], erase=True, radius=40)
    assert p.is_blank and numpy.array_equal(p.class_map(), maps_seen[0])
    p.undo()
    for i in range(8, 0, -1):
        assert numpy.array_equal(p.class_map(), maps_seen[i])
        assert p.undo() is not None
    assert numpy.array_equal(p.class_map(), maps_seen[0]) and p.undo() is None
    for i in range(1, 9):
        p.redo()
        assert numpy.array_equal(p.class_map(), maps_seen[i])
    p.undo()
    p.undo()
    p.add_stroke([(5, 5)], label=2, radius=3)
    assert not p.can_redo and len(p.strokes) == 7


def test_mouse_style_equals_scripted_and_shows_progress():
    a = LabelPainter(6, 40, base_label=2)
    b = LabelPainter(6, 40, base_label=2)
    pts = [(3.2, 4.7), (10.5, 8.1), (10.5, 8.1), (30.0, 31.5), (38.9, 2.2)]
    a.begin(*pts[0], label=4, radius=3.5, hardness=0.3)
    for x, y in pts[1:]:
        a.extend(x, y)
        assert a.is_blank  # the active stroke is not committed yet
        assert a.painted_alpha(include_active=True).max() > 0
        assert a.painted_alpha().max() == 0
    stroke = a.end()
    assert not a.is_blank
    assert len(stroke.points) == 4
    b.add_stroke(pts, label=4, radius=3.5, hardness=0.3)
    assert numpy.array_equal(a.class_map(), b.class_map())
    a.begin(1, 1, label=5, radius=2)
    a.cancel()
    assert not a.drawing and a.end() is None and len(a.strokes) == 1
    assert a.extend(3, 3) is None


def test_fill_and_clear_are_undoable():
    p = LabelPainter(3, 8, base_label=0)
    assert p.clear() is None
    p.fill(2)
    assert (p.label_image() == 2).all()
    p.clear()
    assert p.is_blank
    p.undo()
    assert (p.label_image() == 2).all()


def test_label_out_of_range():
    p = LabelPainter(3, 8)
    with pytest.raises(ValueError, match="valid: 0-2"):
        p.add_stroke([(1, 1)], label=3, radius=1)
    with pytest.raises(ValueError, match="valid: 0-2"):
        p.begin(1, 1, label=7, radius=1)
    with pytest.raises(ValueError, match="base_label"):
        LabelPainter(3, 8, base_label=3)


def test_dict_roundtrip_is_exact():
    p = LabelPainter(1000, 48, base_label=250)
    rng = numpy.random.RandomState(0)
    for _ in range(20):
        p.add_stroke(rng.uniform(-5, 53, size=(rng.randint(1, 6), 2)), label=int(rng.randint(1000)),
                     radius=float(rng.uniform(0.5, 9)), hardness=float(rng.rand()), erase=bool(rng.rand() < 0.2))
    q = LabelPainter.from_dict(json.loads(json.dumps(p.to_dict())))
    assert numpy.array_equal(p.class_map(), q.class_map())
    labels, planes = p.weights()
    assert planes.shape[0] == len(labels) <= 21


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.lists(st.tuples(st.floats(-8, 40), st.floats(-8, 40)), min_size=1, max_size=4),
                          st.integers(0, 4), st.floats(0.5, 12), st.floats(0, 1), st.booleans()),
                min_size=1, max_size=12))
def test_random_strokes_keep_maps_valid_and_undo_all(strokes):
    p = LabelPainter(5, 32, base_label=1, checkpoint_every=4)
    for pts, label, radius, hardness, erase in strokes:
        p.add_stroke(pts, label=label, radius=radius, hardness=hardness, erase=erase)
        assert_normalised(p.class_map())
    while p.undo() is not None:
        pass
    assert p.is_blank


# ---------------------------------------------------------------------------- generator inputs

def test_blend_layer_maps_semantics():
    p = LabelPainter(2, 16)
    p.add_stroke([(0, 0), (7, 15)], label=1, radius=30)
    bl = blend_layer_maps(p.class_map(), [4, 8, 16], layers="1")
    assert [m.shape for m in bl] == [(1, 3, 4, 4), (1, 3, 8, 8), (1, 3, 16, 16)]
    assert (bl[0][0, 0] == 1).all()
    assert (bl[1][0, 1] == 1).all()
    assert (bl[2][0, 2] == 1).all()
    with pytest.raises(ValueError, match="valid layers"):
        blend_layer_maps(p.class_map(), [4, 8, 16], layers="3")


def test_render_painting_matches_the_generator(gen):
    z = gen.sample_z(1, seed=3)
    p = LabelPainter(gen.n_classes, gen.resolution, base_label=1)
    assert numpy.array_equal(render_painting(gen, z=z, class_map=p.class_map(), base_class=1), generate(gen, z, 1))
    p.add_stroke([(4, 4), (20, 25)], label=3, radius=5, hardness=0.7)
    expected = generate(gen, z, maps.layer_maps(p.class_map(), gen.class_map_resolutions, layers="2-", base=1))
    got = render_painting(gen, z=z, class_map=p.class_map(), base_class=1, class_layers="2-")
    assert numpy.array_equal(got, expected)
    assert not numpy.array_equal(got, generate(gen, z, 1))
    assert numpy.array_equal(render_painting(gen, z=z, class_map=p.class_map(), base_class=1, class_layers="none"),
                             generate(gen, z, 1))


def test_render_painting_blends_a_second_latent(gen):
    z, z2 = gen.sample_z(1, seed=3), gen.sample_z(1, seed=4)
    s = LabelPainter(2, gen.resolution)
    assert numpy.array_equal(render_painting(gen, z=z, base_class=0, z_streams=[z2], stream_map=s.class_map()),
                             generate(gen, z, 0))
    s.fill(1)
    full = render_painting(gen, z=z, base_class=0, z_streams=[z2], stream_map=s.class_map())
    assert numpy.abs(full.astype(int) - generate(gen, z2, 0)).max() <= 1
    s.clear()
    s.add_stroke([(0, 0), (31, 0)], label=1, radius=8, hardness=1)
    half = render_painting(gen, z=z, base_class=0, z_streams=[z2], stream_map=s.class_map(), blend_layers="0-1")
    assert not numpy.array_equal(half, generate(gen, z, 0))


# ---------------------------------------------------------------------------- recipes

def make_recipe(gen, photo=None):
    z, z2 = gen.sample_z(1, seed=5), gen.sample_z(1, seed=6)
    c = LabelPainter(gen.n_classes, gen.resolution, base_label=0)
    c.add_stroke([(3, 3), (28, 9)], label=2, radius=4, hardness=0.4)
    s = LabelPainter(2, gen.resolution)
    s.add_stroke([(16, 24)], label=1, radius=6)
    recipe = painting_recipe(model={"name": "tiny"}, z=z, class_canvas=c, class_layers="1-", z_streams=[z2],
                             stream_canvas=s, blend_layers="2-", class_names=["a", "b", "c", "d"], photo=photo)
    image = render_painting(gen, z=z, class_map=c.class_map(), base_class=0, class_layers="1-", z_streams=[z2],
                            stream_map=s.class_map(), blend_layers="2-")
    return recipe, image, c, s


def test_recipe_replays_exactly(gen):
    recipe, image, _, _ = make_recipe(gen)
    assert recipe["kind"] == RECIPE_KIND and recipe["class_names"] == {"0": "a", "2": "c"}
    text = json.dumps(recipe)
    assert numpy.array_equal(replay_recipe(text, gen), image)
    assert numpy.array_equal(replay_recipe(json.loads(text), gen), image)


@pytest.mark.parametrize("change, message", [
    (lambda r: r.update(kind="other"), "not a painting recipe"),
    (lambda r: r.update(version=99), "version 99"),
    (lambda r: r.pop("z"), "missing 'z'"),
    (lambda r: r.update(z=[[0.0] * 3]), "latent has shape"),
    (lambda r: r["class_canvas"].update(n_labels=7), "7 classes"),
    (lambda r: r["class_canvas"].update(size=[64, 64]), "canvas is"),
])
def test_check_recipe_errors(gen, change, message):
    recipe, _, _, _ = make_recipe(gen)
    change(recipe)
    with pytest.raises(ValueError, match=message):
        check_recipe(recipe, gen)
    with pytest.raises(ValueError, match="not valid JSON"):
        check_recipe("{", gen)


def test_photo_composite_changes_only_the_painted_region(gen):
    rng = numpy.random.RandomState(0)
    photo = rng.randint(0, 256, size=(50, 70, 3)).astype(numpy.uint8)
    box = (5, 20, 40)
    recipe, image, c, s = make_recipe(gen, photo={"box": list(box), "source_class": 0, "poisson": "normal",
                                                   "dilate": 4})
    assert numpy.array_equal(composite_photo(photo, image, numpy.zeros((32, 32)), box), photo)
    mask = edit_mask(c, s)
    out = replay_recipe(recipe, gen, photo=photo)
    assert out.shape == photo.shape and not numpy.array_equal(out, photo)
    full = numpy.zeros(photo.shape[:2], numpy.float32)
    full[5:45, 20:60] = numpy.clip(blending.resize_to_box(mask, box), 0, 1)
    region = blending.blend_region(full, box, dilate=4)
    assert numpy.array_equal(out[~region], photo[~region])


@pytest.mark.parametrize("info, expected", [
    ({}, {"blend_mode": "normal", "dilate": 8, "seam": "fixed", "colour_reach": math.inf,
          "composite_feather": None}),
    ({"poisson": "mixed", "dilate": 3, "seam": "optimal"}, {"blend_mode": "mixed", "dilate": 3, "seam": "optimal"}),
    ({"poisson": "normal", "colour_reach": 2.0}, {"colour_reach": 2.0}),
    ({"poisson": "normal", "colour_reach": None}, {"colour_reach": math.inf}),
    ({"poisson": "none", "composite_feather": 1.5}, {"blend_mode": "none", "composite_feather": 1.5}),
])
def test_photo_blend_options_read_a_painting_recipes_photo_entry(info, expected):
    from neuralcollage.painting.recipes import photo_blend_options
    options = photo_blend_options({"box": [0, 0, 32], "source_class": 0, "projection": {}, **info})
    assert {name: getattr(options, name) for name in expected} == expected


@pytest.mark.parametrize("info, message", [
    ({"poisson": "soft"}, "photo.poisson must be one of"),
    ({"dilate": 2.5}, "photo.dilate must be"),
    ({"poisson": "none", "seam": "optimal"}, "optimal seam"),
    ([], "photo must be a JSON object"),
])
def test_photo_blend_options_refuse_bad_entries(gen, info, message):
    from neuralcollage.painting.recipes import photo_blend_options
    with pytest.raises(ValueError, match=message):
        photo_blend_options(info)
    if isinstance(info, dict):
        rng = numpy.random.RandomState(0)
        photo = rng.randint(0, 256, size=(40, 40, 3)).astype(numpy.uint8)
        recipe, _, _, _ = make_recipe(gen, photo={"box": [4, 4, 32], "source_class": 0, **info})
        with pytest.raises(ValueError, match=message):
            replay_recipe(recipe, gen, photo=photo)


def test_a_photo_recipe_replays_its_composite_feather(gen):
    """``composite_feather`` (recorded with ``poisson: none``) reaches the blend, as in the painter."""
    rng = numpy.random.RandomState(0)
    photo = rng.randint(0, 256, size=(50, 70, 3)).astype(numpy.uint8)
    box = (5, 20, 40)
    info = {"box": list(box), "source_class": 0, "poisson": "none", "dilate": 6}
    recipe, image, c, s = make_recipe(gen, photo={**info, "composite_feather": 4.0})
    mask = edit_mask(c, s)
    out = replay_recipe(recipe, gen, photo=photo)
    assert numpy.array_equal(out, composite_photo(photo, image, mask, box, mode="none", dilate=6, feather=4.0))
    assert not numpy.array_equal(out, replay_recipe(make_recipe(gen, photo=info)[0], gen, photo=photo))


# ---------------------------------------------------------------------------- attribute painting

def _axis(gen, seed=0, name="bright", class_id=None):
    from neuralcollage.axes import Axis
    v = numpy.random.RandomState(seed).standard_normal(gen.dim_z)
    return Axis(name=name, attribute=name, direction=(v / numpy.linalg.norm(v)).astype(numpy.float32),
                class_id=class_id)


def test_blend_layer_maps_with_an_attribute_region():
    alpha = numpy.zeros((16, 16), numpy.float32)
    alpha[:, :8] = 1
    blank = numpy.ones((1, 1, 16, 16), numpy.float32)
    bl = blend_layer_maps(blank, [4, 8, 16], layers="all", attribute_alpha=alpha, attribute_layers="1-")
    assert [m.shape for m in bl] == [(1, 3, 4, 4), (1, 3, 8, 8), (1, 3, 16, 16)]
    for m in bl:
        assert_normalised(m)
    assert (bl[0][0, 0] == 1).all()
    for m in bl[1:]:
        w = m.shape[-1]
        assert (m[0, 1, :, :w // 2] == 1).all() and (m[0, 0, :, w // 2:] == 1).all() and (m[0, 2] == 0).all()
    bl = blend_layer_maps(blank, [4, 8, 16], attribute_alpha=alpha, attribute_layers="1")
    assert (bl[2][0, 2] == 1).all() and (bl[0][0, 0] == 1).all()
    streams = LabelPainter(2, 16)
    streams.add_stroke([(0, 0), (15, 0)], label=1, radius=4.5, hardness=1)
    painted = streams.class_map()
    bl = blend_layer_maps(painted, [4, 8, 16], attribute_alpha=alpha)
    assert [m.shape[1] for m in bl] == [4, 4, 4]
    last = bl[-1][0]
    assert_normalised(bl[-1])
    own = painted[0, 0] == 1
    numpy.testing.assert_array_equal(last[2][own], alpha[own])
    assert (last[2][painted[0, 1] == 1] == 0).all()
    numpy.testing.assert_array_equal(last[1], painted[0, 1])
    with pytest.raises(ValueError, match="attribute alpha"):
        blend_layer_maps(blank, [4, 8, 16], attribute_alpha=numpy.zeros((8, 8)))


def test_render_painting_attribute_region_is_a_local_edit(gen):
    from neuralcollage import axes
    z, axis = gen.sample_z(1, seed=3), _axis(gen)
    canvas = LabelPainter(2, gen.resolution)
    canvas.add_stroke([(6, 8), (20, 12)], label=1, radius=4, hardness=1)
    alpha = canvas.painted_alpha()
    moved = axes.move_global(numpy.asarray(z), axis, 2.0)
    numpy.testing.assert_array_equal(numpy.asarray(z) + numpy.float32(2.0) * axis.direction, moved)
    from neuralcollage.painting import attribute_latent
    numpy.testing.assert_array_equal(attribute_latent(z, axis, 2.0), moved)
    image = render_painting(gen, z=z, base_class=1, attribute_z=moved, attribute_alpha=alpha)
    plain = generate(gen, z, 1)
    expected = from_model(axes.local_edit(gen, z, 1, axis, 2.0, alpha))[0]
    assert numpy.abs(image.astype(int) - expected).max() <= 1
    outside = ~blending.dilate_mask(alpha > 0, radius=2)
    assert numpy.abs(image.astype(int) - plain)[outside].max() <= 1
    assert numpy.abs(image.astype(int) - plain)[alpha > 0.5].mean() > 3
    assert numpy.array_equal(render_painting(gen, z=z, base_class=1, attribute_z=moved,
                                             attribute_alpha=numpy.zeros_like(alpha)), plain)
    assert numpy.array_equal(render_painting(gen, z=z, base_class=1, attribute_z=moved, attribute_alpha=alpha,
                                             attribute_layers="none"), plain)
    with pytest.raises(ValueError, match="finite"):
        attribute_latent(z, axis, float("nan"))


def make_attribute_recipe(gen):
    recipe, _, c, s = make_recipe(gen)
    axis = _axis(gen, seed=1, name="fur", class_id=0)
    a = LabelPainter(2, gen.resolution)
    a.add_stroke([(5, 20), (25, 22)], label=1, radius=5, hardness=0.5)
    a.add_stroke([(12, 21)], erase=True, radius=2)
    z, z2 = numpy.asarray(recipe["z"], numpy.float32), numpy.asarray(recipe["z_streams"][0], numpy.float32)
    recipe = painting_recipe(model={"name": "tiny"}, z=z, class_canvas=c, class_layers="1-", z_streams=[z2],
                             stream_canvas=s, blend_layers="all", attribute_canvas=a, attribute_axis=axis,
                             attribute_amount=-1.5, attribute_layers="1-")
    from neuralcollage.painting import attribute_latent
    image = render_painting(gen, z=z, class_map=c.class_map(), base_class=0, class_layers="1-", z_streams=[z2],
                            stream_map=s.class_map(), blend_layers="all", attribute_z=attribute_latent(z, axis, -1.5),
                            attribute_alpha=a.painted_alpha(), attribute_layers="1-")
    return recipe, image, (c, s, a), axis


def test_attribute_recipe_records_the_axis_and_replays_exactly(gen):
    recipe, image, (c, s, a), axis = make_attribute_recipe(gen)
    attr = recipe["attribute"]
    assert recipe["version"] == 2 and make_recipe(gen)[0]["version"] == 1
    assert (attr["axis"], attr["class_id"], attr["amount"], attr["layers"]) == ("fur", 0, -1.5, "1-")
    assert numpy.array_equal(numpy.asarray(attr["direction"], numpy.float32), axis.direction)
    assert len(attr["canvas"]["strokes"]) == 2
    text = json.dumps(recipe)
    assert numpy.array_equal(replay_recipe(text, gen), image)
    without = json.loads(text)
    without.pop("attribute")
    assert not numpy.array_equal(replay_recipe(without, gen), image)
    numpy.testing.assert_array_equal(edit_mask(c, s, a), numpy.maximum(edit_mask(c, s), a.painted_alpha()))
    with pytest.raises(ValueError, match="attribute_axis"):
        painting_recipe(model={}, z=numpy.float32(recipe["z"]), class_canvas=c, class_layers="all",
                        attribute_canvas=a)
    blank = painting_recipe(model={}, z=numpy.float32(recipe["z"]), class_canvas=c, class_layers="all",
                            attribute_canvas=LabelPainter(2, gen.resolution), attribute_axis=axis)
    assert "attribute" not in blank and blank["version"] == 1


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update(direction=[0.0] * 3), "direction has 3 entries"),
    (lambda a: a.update(amount="x"), "must be numbers"),
    (lambda a: a.update(direction=[float("nan")] * 16), "finite"),
    (lambda a: a["canvas"].update(n_labels=3), "2 labels"),
    (lambda a: a["canvas"].update(size=[16, 16]), "attribute canvas is"),
    (lambda a: a.pop("amount"), "missing 'amount'"),
])
def test_check_recipe_attribute_errors(gen, change, message):
    recipe = make_attribute_recipe(gen)[0]
    change(recipe["attribute"])
    with pytest.raises(ValueError, match=message):
        check_recipe(recipe, gen)

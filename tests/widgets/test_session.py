"""neuralcollage.widgets.session: the painter without widgets (strokes, undo, previews, events, recipes)."""
import doctest
import json
import subprocess
import sys

import numpy
import pytest

from neuralcollage import painting
from neuralcollage.widgets import document, forward, scheduler, session as session_module
from neuralcollage.widgets.notebook import tiny_bundle
from neuralcollage.widgets.session import PainterSession


@pytest.fixture(scope="module")
def bundle():
    return tiny_bundle(seed=0)


@pytest.fixture
def session(bundle):
    s = PainterSession.from_bundle(bundle, seed=2, class_id="cat", threaded=False, radius=4, hardness=1.0)
    yield s
    s.close()


def test_the_headless_modules_import_no_widget_or_plotting_library():
    code = ("import sys, neuralcollage.widgets.session, neuralcollage.widgets.photo, neuralcollage.widgets.notebook\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'ipywidgets', 'ipympl', 'matplotlib', 'IPython'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("module", [session_module, document, forward, scheduler])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_strokes_change_the_label_map_and_undo_restores_it(session, bundle):
    fox = bundle.vocabulary.index("fox")
    blank = session.class_canvas.label_image()
    assert (blank == session.base_class).all() and numpy.array_equal(session.preview, session.background)
    stroke = session.stroke([(4, 4), (12, 8), (26, 20)], label="fox")
    assert stroke.label == fox and session.label["scbn"] == fox
    labels = session.class_canvas.label_image()
    assert labels[8, 12] == fox and labels[30, 2] == session.base_class
    expected = painting.render_painting(bundle.generator, z=session.z, class_map=session.class_map(),
                                        base_class=session.base_class)
    assert numpy.array_equal(session.preview, expected) and numpy.array_equal(session.render(), expected)
    assert session.undo() is stroke
    assert numpy.array_equal(session.class_canvas.label_image(), blank)
    assert numpy.array_equal(session.preview, session.background)
    assert session.redo() is stroke and numpy.array_equal(session.preview, expected)
    session.clear()
    assert session.class_canvas.is_blank and numpy.array_equal(session.preview, session.background)


def test_render_shape_dtype_and_layers(session):
    session.stroke([(0, 16), (31, 16)], label="fox", radius=10)
    image = session.render()
    assert image.shape == (32, 32, 3) and image.dtype == numpy.uint8
    assert not numpy.array_equal(image, session.background)
    session.set_layers("none")
    assert session.layers() == "none" and numpy.array_equal(session.preview, session.background)
    session.set_layers("4-")
    assert session.layers() == "4-5" and len(session.layer_maps()) == session.generator.n_class_layers
    with pytest.raises(ValueError, match="valid layers"):
        session.set_layers("0-99")
    assert session.layers() == "4-5"


def test_pointer_calls_emit_events_in_order(session):
    events = []
    session.observe(lambda event, **info: events.append(event))
    session.extend(5, 5)
    session.end(5, 5)
    session.begin(5, 5, button=2)
    assert events == [] and session.class_canvas.is_blank
    session.begin(5, 5)
    session.extend(9, 9)
    session.end(12, 12)
    assert events == ["stroke", "stroke", "changed", "preview", "status"]
    assert len(session.class_canvas.strokes) == 1 and session.timings["stroke_to_preview_ms"] > 0
    assert session.status_parts("ok")[0] == "ok" and "class strokes 1" in session.status_parts("ok")[1]


def test_eraser_and_right_button_return_to_the_base_class(session):
    session.fill("dog")
    assert (session.class_canvas.label_image() != session.base_class).all()
    session.stroke([(16, 16)], button=3)
    assert session.class_canvas.label_image()[16, 16] == session.base_class
    session.stroke([(0, 0), (31, 31)], erase=True, radius=64)
    assert session.class_canvas.is_blank and numpy.array_equal(session.preview, session.background)


def test_modes_labels_and_their_errors(session, bundle):
    with pytest.raises(ValueError, match="mode must be"):
        session.set_mode("paint")
    with pytest.raises(ValueError, match="no attribute axes"):
        session.set_mode("attribute")
    with pytest.raises(ValueError, match="StyleSession"):
        session.set_mode("style")
    session.set_mode("blend")
    assert session.active_canvas is session.stream_canvas and session.mode == "blend"
    with pytest.raises(ValueError, match="stream"):
        session.select(2)
    session.stroke([(16, 16)], radius=40)
    other = painting.render_painting(bundle.generator, z=session.z_streams[0], base_class=session.base_class)
    assert numpy.abs(session.preview.astype(int) - other).max() <= 1 and session.class_canvas.is_blank
    session.new_blend_latent(seed=77)
    assert session.blend_seed == 77 and numpy.abs(session.preview.astype(int) - session.stream_image()).max() <= 1


def test_recipe_and_map_replay(session, bundle, tmp_path):
    session.stroke([(3, 3), (20, 12)], label="dog", hardness=0.3)
    session.stroke([(25, 25)], mode="blend", radius=5)
    recipe = json.loads(json.dumps(session.recipe()))
    assert numpy.array_equal(painting.replay_recipe(recipe, bundle.generator), session.preview)
    with numpy.load(session.export_map(str(tmp_path / "map.npz"))) as data:
        assert numpy.array_equal(data["class_map"], session.class_map())
        assert data["stream_map"].shape == (1, 2, 32, 32)
    with open(session.export_recipe(str(tmp_path / "recipe.json"))) as fh:
        assert json.load(fh) == recipe
    with pytest.raises(ValueError, match="from_photo"):
        session.composite()


def test_threaded_previews_coalesce_and_catch_up(bundle):
    s = PainterSession.from_bundle(bundle, seed=3, threaded=True)
    try:
        for i in range(5):
            s.stroke([(2 + 5 * i, 2), (2 + 5 * i, 30)], label=1 + i % 3, radius=2)
        assert numpy.array_equal(s.wait(timeout=30), s.render())
        assert s.scheduler.renders <= s.scheduler.requests == 5
    finally:
        s.close()


def test_preview_errors_become_a_status_event(session, monkeypatch):
    statuses = []
    session.observe(lambda event, **info: statuses.append(info) if event == "status" else None)

    def broken(*args, **kwargs):
        raise ValueError("generator exploded")
    monkeypatch.setattr(painting, "render_painting", broken)
    session.stroke([(5, 5)], label=1)
    assert statuses == [{"message": "preview failed: generator exploded", "error": True}]
    assert isinstance(session.last_error, ValueError)


def test_a_photo_session_composites_inside_the_painted_region(bundle):
    from neuralcollage import blending
    from neuralcollage.datasets import render_sample
    photo = render_sample(7, class_id="dog", size=64).image
    s = PainterSession.from_photo(bundle, photo, label="dog", steps=2, reconstruction="projection", threaded=False,
                                  dilate=6)
    try:
        assert s.base_class == bundle.vocabulary.index("dog") and s.photo.dilate == 6
        assert numpy.array_equal(s.composite(), photo)
        s.stroke([(8, 8), (24, 24)], label="cat", radius=4)
        out = s.composite()
        region = blending.blend_region(s.photo_mask(), s.photo.box, dilate=6)
        assert numpy.array_equal(out[~region], photo[~region]) and not numpy.array_equal(out, photo)
        assert numpy.array_equal(painting.replay_recipe(s.recipe(), bundle.generator, photo=photo), out)
        assert "(projection)" in s.status_parts("ready")[1]
        assert s.collage_recipe()["edit"]["target_class"] == {"id": 0, "name": "cat"}
    finally:
        s.close()


def test_a_photo_recipe_replays_the_sessions_composite_feather(bundle):
    from neuralcollage.datasets import render_sample
    from neuralcollage.options import BlendOptions
    photo = render_sample(7, class_id="dog", size=64).image
    s = PainterSession.from_photo(bundle, photo, label="dog", steps=2, reconstruction="projection", threaded=False,
                                  blend_options=BlendOptions(blend_mode="none", dilate=6, composite_feather=3.0))
    try:
        s.stroke([(8, 8), (24, 24)], label="cat", radius=4)
        recipe = s.recipe()
        assert recipe["photo"]["poisson"] == "none" and recipe["photo"]["composite_feather"] == 3.0
        assert numpy.array_equal(painting.replay_recipe(recipe, bundle.generator, photo=photo), s.composite())
    finally:
        s.close()

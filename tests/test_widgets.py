import io
import json
import threading
import time
import warnings

import numpy
import pytest
from PIL import Image

pytest.importorskip("ipywidgets")
pytest.importorskip("ipympl")

from neuralcollage import blending, maps, painting, widgets  # noqa: E402
from neuralcollage.widgets import Painter, PreviewScheduler  # noqa: E402


@pytest.fixture(scope="module")
def bundle():
    return widgets.tiny_bundle(seed=0)


@pytest.fixture
def painter(bundle):
    p = Painter.from_bundle(bundle, seed=2, class_id="cat", threaded=False, radius=4, hardness=1.0)
    yield p
    p.close()


def mouse(p, kind, x, y, button=0, buttons=1):
    """Send a browser-style mouse message through ipympl's own handler (as the front end does)."""
    disp_x, disp_y = p._ax_paint.transData.transform((x, y))
    height = p.canvas.get_renderer().height
    p.canvas.manager.handle_json({"type": kind, "x": float(disp_x), "y": float(height - disp_y),
                                  "button": button, "buttons": buttons, "modifiers": [], "guiEvent": None})


def drag(p, points, button=0):
    mask = {0: 1, 2: 2}[button]
    mouse(p, "button_press", *points[0], button=button, buttons=mask)
    for pt in points[1:]:
        mouse(p, "motion_notify", *pt, button=button, buttons=mask)
    mouse(p, "button_release", *points[-1], button=button, buttons=0)


def test_browser_style_mouse_events_paint_and_update_preview(painter, bundle):
    before = painter.preview.copy()
    painter.select("fox")
    drag(painter, [(4, 4), (12, 8), (26, 20)])
    strokes = painter.class_canvas.strokes
    assert len(strokes) == 1
    numpy.testing.assert_allclose(strokes[0].points[0], (4, 4), atol=0.5)
    numpy.testing.assert_allclose(strokes[0].points[-1], (26, 20), atol=0.5)
    fox = bundle.vocabulary.index("fox")
    assert painter.class_canvas.label_image()[8, 12] == fox
    assert painter.class_canvas.label_image()[30, 2] == painter.base_class
    assert not numpy.array_equal(painter.preview, before)
    expected = painting.render_painting(bundle.generator, z=painter.z, class_map=painter.class_map(),
                                        base_class=painter.base_class)
    assert numpy.array_equal(painter.preview, expected)
    shown = numpy.asarray(Image.open(io.BytesIO(painter._preview_image.value)))
    factor = shown.shape[0] // 32
    assert numpy.array_equal(shown[::factor, ::factor], expected)
    assert painter.timings["stroke_to_preview_ms"] > 0


def test_motion_outside_the_paint_panel_or_without_press_is_ignored(painter):
    mouse(painter, "motion_notify", 10, 10, buttons=0)
    assert painter.class_canvas.is_blank
    mouse(painter, "button_press", 10, 10, button=1, buttons=4)
    assert not painter.class_canvas.drawing
    mouse(painter, "button_press", -20, 10)
    assert not painter.class_canvas.drawing


def test_right_button_and_eraser_return_to_the_base_class(painter):
    painter.fill("dog")
    assert (painter.class_canvas.label_image() != painter.base_class).all()
    drag(painter, [(16, 16)], button=2)
    assert painter.class_canvas.label_image()[16, 16] == painter.base_class
    painter.stroke([(0, 0), (31, 31)], erase=True, radius=64)
    assert painter.class_canvas.is_blank
    assert numpy.array_equal(painter.preview, painter.background)


def test_undo_redo_and_clear(painter):
    base = painter.preview.copy()
    painter.stroke([(5, 5), (25, 25)], label=2, radius=5)
    one = painter.preview.copy()
    painter.stroke([(25, 5)], label=3, radius=6)
    assert painter._undo_button.disabled is False and painter._redo_button.disabled is True
    painter._undo_button.click()
    assert numpy.array_equal(painter.preview, one)
    painter.undo()
    assert numpy.array_equal(painter.preview, base)
    assert painter._undo_button.disabled is True
    painter._redo_button.click()
    assert numpy.array_equal(painter.preview, one)
    painter._clear_button.click()
    assert numpy.array_equal(painter.preview, base)
    painter.undo()
    assert numpy.array_equal(painter.preview, one)


def test_palette_search_and_selection(painter, bundle):
    painter._search.value = "fo"
    assert [v for _, v in painter._palette.options] == [bundle.vocabulary.index("fox")]
    painter._search.value = ""
    assert len(painter._palette.options) == bundle.generator.n_classes
    assert painter.select("Rabbit") == bundle.vocabulary.index("rabbit")
    assert painter.label["scbn"] == bundle.vocabulary.index("rabbit")
    assert "rabbit" in painter._swatch.value
    with pytest.raises(ValueError, match="unknown|not|label"):
        painter.select("unicorn")


def test_layer_box_parses_and_reports_errors(painter):
    painter.stroke([(0, 16), (31, 16)], label="fox", radius=10)
    edited = painter.preview.copy()
    painter._layers_text.value = "none"
    assert painter.layers() == "none"
    assert numpy.array_equal(painter.preview, painter.background)
    painter._layers_text.value = "0-99"
    assert "valid layers" in painter._layers_help.value
    assert painter.layers() == "none"
    painter.set_layers("all")
    assert painter._layers_text.value == "all"
    assert numpy.array_equal(painter.preview, edited)
    with pytest.raises(ValueError):
        painter.set_layers("x")


def test_blend_mode_paints_the_second_latent(painter, bundle):
    painter.set_mode("blend")
    assert painter.active_canvas is painter.stream_canvas
    assert [v for _, v in painter._palette.options] == [0, 1]
    assert painter.layers() == "all"
    painter.stroke([(16, 16)], radius=40)
    other = painting.render_painting(bundle.generator, z=painter.z_streams[0], base_class=painter.base_class)
    assert numpy.abs(painter.preview.astype(int) - other).max() <= 1
    assert painter.class_canvas.is_blank
    painter.new_blend_latent(seed=77)
    other77 = painting.render_painting(bundle.generator, z=bundle.generator.sample_z(1, seed=77),
                                       base_class=painter.base_class)
    assert numpy.abs(painter.preview.astype(int) - other77).max() <= 1
    painter.undo()
    assert numpy.array_equal(painter.preview, painter.background)
    painter.set_mode("scbn")
    assert painter.layers() == "all" and not painter.class_canvas.can_undo


def test_exports_replay(painter, bundle, tmp_path):
    painter.stroke([(3, 3), (20, 12)], label="dog", radius=4, hardness=0.3)
    painter.set_layers("2-")
    painter.stroke([(25, 25)], mode="blend", radius=5)
    map_path = painter.export_map(str(tmp_path / "map.npz"))
    with numpy.load(map_path) as data:
        assert data["class_map"].shape == (1, 4, 32, 32)
        assert numpy.array_equal(data["class_map"], painter.class_map())
        assert str(data["class_layers"]) == "2-5" and str(data["blend_layers"]) == "all"
        assert list(data["class_names"]) == list(bundle.vocabulary.names)
        assert data["z_streams"].shape == (1, bundle.generator.dim_z)
    recipe_path = painter.export_recipe(str(tmp_path / "recipe.json"))
    with open(recipe_path) as fh:
        recipe = json.load(fh)
    assert recipe["model"]["name"] == "tiny-random"
    assert numpy.array_equal(painting.replay_recipe(recipe, bundle.generator), painter.preview)
    painter._path_text.value = str(tmp_path / "button")
    painter._save_recipe_button.click()
    painter._save_map_button.click()
    assert (tmp_path / "button.json").exists() and (tmp_path / "button.npz").exists()
    assert "saved" in painter._status.value


def test_threaded_preview_does_not_block_and_coalesces(bundle):
    p = Painter.from_bundle(bundle, seed=3, threaded=True)
    try:
        for i in range(6):
            p.stroke([(2 + 4 * i, 2), (2 + 4 * i, 30)], label=1 + i % 3, radius=2)
        image = p.wait(timeout=30)
        assert numpy.array_equal(image, p.render())
        assert p._scheduler.renders <= p._scheduler.requests
    finally:
        p.close()


def test_scheduler_coalesces_bursts():
    calls, started, release = [], threading.Event(), threading.Event()

    def render():
        calls.append(time.perf_counter())
        started.set()
        release.wait(5)

    s = PreviewScheduler(render)
    s.request()
    assert started.wait(5)
    for _ in range(10):
        s.request()
    release.set()
    assert s.wait(5)
    assert len(calls) == 2 and s.requests == 11 and s.idle
    s.close()
    with pytest.raises(RuntimeError):
        s.request()


def test_scheduler_thread_exits_when_idle_and_restarts():
    calls = []
    s = PreviewScheduler(lambda: calls.append(1), idle_exit=0.05)
    s.request()
    assert s.wait(5)
    deadline = time.monotonic() + 5
    while s._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert s._thread is None
    s.request()
    assert s.wait(5) and len(calls) == 2
    s.close()


def test_scheduler_debounce_and_errors():
    calls, errors = [], []
    s = PreviewScheduler(lambda: calls.append(time.perf_counter()), delay=0.15, on_error=errors.append)
    t0 = time.perf_counter()
    for _ in range(3):
        s.request()
        time.sleep(0.02)
    assert s.wait(5)
    assert len(calls) == 1 and calls[0] - t0 >= 0.15
    s.close()

    def boom():
        raise RuntimeError("boom")
    s = PreviewScheduler(boom, threaded=False, on_error=errors.append)
    s.request()
    assert [str(e) for e in errors] == ["boom"]


def test_preview_errors_are_reported_not_raised(painter, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("generator exploded")
    monkeypatch.setattr(painting, "render_painting", broken)
    painter.stroke([(5, 5)], label=1)
    assert "generator exploded" in painter._status.value and painter.last_error is not None


def test_painter_rejects_bad_arguments(bundle):
    with pytest.raises(ValueError, match="mode"):
        Painter.from_bundle(bundle, mode="paint", threaded=False)
    with pytest.raises(ValueError, match="valid layers"):
        Painter.from_bundle(bundle, layers="0-40", threaded=False)
    with pytest.raises(ValueError, match="background"):
        Painter.from_bundle(bundle, background=numpy.zeros((8, 8, 3), numpy.uint8), threaded=False)


def test_many_strokes_keep_the_figure_and_memory_flat(painter):
    n_artists = len(painter._ax_paint.get_children())
    rng = numpy.random.RandomState(0)
    for _ in range(60):
        painter.stroke(rng.uniform(0, 32, size=(4, 2)), label=int(rng.randint(4)), radius=float(rng.uniform(1, 5)))
    assert len(painter._ax_paint.get_children()) == n_artists
    assert len(painter.class_canvas._checkpoints) <= 60 // painter.class_canvas.checkpoint_every + 1


def test_from_photo_projects_and_composites(bundle):
    pytest.importorskip("neuralcollage.inversion")
    from neuralcollage.train.datasets import render_sample
    sample = render_sample(7, class_id="dog", size=80)
    photo = numpy.ascontiguousarray(sample.image[:, :70])
    mask = sample.masks["face"][:, :70]
    calls = []
    p = Painter.from_photo(bundle, photo, label="dog", mask=mask, steps=3, threaded=False,
                           progress=lambda step, loss, restart: calls.append(step))
    try:
        assert calls[-1] == 3
        box = p.photo.box
        assert box == blending.square_crop_box(mask, margin=0.25)
        assert numpy.array_equal(p.background, blending.crop_and_resize(photo, box, 32))
        assert numpy.array_equal(p.composite(), photo)
        p.stroke([(8, 8), (24, 24)], label="cat", radius=4)
        out = p.composite()
        assert out.shape == photo.shape and not numpy.array_equal(out, photo)
        full = numpy.zeros(photo.shape[:2], numpy.float32)
        t, l, s = box
        full[t:t + s, l:l + s] = numpy.clip(blending.resize_to_box(p.edit_mask(), box), 0, 1)
        region = blending.blend_region(full, box, dilate=p.photo.dilate)
        assert numpy.array_equal(out[~region], photo[~region])
        recipe = p.recipe()
        assert recipe["photo"]["box"] == list(box)
        assert numpy.array_equal(painting.replay_recipe(recipe, bundle.generator, photo=photo), out)
    finally:
        p.close()


def test_from_photo_needs_a_discriminator(bundle):
    import dataclasses
    no_d = dataclasses.replace(bundle, discriminator=None) if dataclasses.is_dataclass(bundle) else None
    if no_d is None:
        pytest.skip("bundle is not a dataclass")
    with pytest.raises(ValueError, match="discriminator"):
        Painter.from_photo(no_d, numpy.zeros((40, 40, 3), numpy.uint8), label=0)


def test_notebook_bundle_choice(monkeypatch):
    assert widgets.notebook_bundle(environ={"NEURALCOLLAGE_NOTEBOOK_MODEL": "tiny"}).name == "tiny-random"
    import neuralcollage.pretrained as pretrained

    def missing(name, **kwargs):
        raise pretrained.ModelNotInstalledError("the built-in model is not trained yet")
    monkeypatch.setattr(pretrained, "load_bundle", missing)
    with pytest.warns(UserWarning, match="tiny RANDOM model"):
        assert widgets.notebook_bundle(environ={}).name == "tiny-random"
    with pytest.raises(pretrained.ModelNotInstalledError):
        widgets.notebook_bundle(environ={"NEURALCOLLAGE_NOTEBOOK_MODEL": "dogcat256"})


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("", False), ("0", False)])
def test_scripted_flag(value, expected):
    assert widgets.scripted({"NEURALCOLLAGE_SCRIPTED": value}) is expected


def test_tiny_bundle_is_deterministic_and_classes_matter():
    a, b = widgets.tiny_bundle(seed=1), widgets.tiny_bundle(seed=1)
    z = a.generator.sample_z(1, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        img_a = painting.render_painting(a.generator, z=z, base_class=0)
    assert numpy.array_equal(img_a, painting.render_painting(b.generator, z=z, base_class=0))
    assert not numpy.array_equal(img_a, painting.render_painting(a.generator, z=z, base_class=1))
    assert maps.parse_layers("all", a.generator.n_class_layers) == tuple(range(6))

"""neuralcollage.widgets.view: the notebook painter's widgets, driven as a browser would (ipympl messages) and
through the painter's methods."""
import io
import json
import os

import numpy
import pytest
from PIL import Image

pytest.importorskip("ipywidgets")
pytest.importorskip("ipympl")

from neuralcollage import blending, painting, widgets  # noqa: E402
from neuralcollage.widgets import Painter  # noqa: E402


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


def test_the_view_follows_its_session(bundle):
    from neuralcollage.widgets.session import PainterSession
    s = PainterSession.from_bundle(bundle, seed=2, class_id="cat", threaded=False)
    p = Painter(session=s)
    try:
        assert p.session is s and p.class_canvas is s.class_canvas and p.document is s.document
        p.radius = 7.0
        assert s.radius == 7.0
        s.stroke([(4, 4), (20, 20)], label="fox")
        assert p._undo_button.disabled is False and "fox" in p._swatch.value
        shown = numpy.asarray(Image.open(io.BytesIO(p._preview_image.value)))
        assert numpy.array_equal(shown[::shown.shape[0] // 32, ::shown.shape[0] // 32], s.preview)
        s.set_mode("blend")
        assert p._mode_toggle.value == "blend" and [v for _, v in p._palette.options] == [0, 1]
        s.set_layers("1-", mode="blend")
        assert p._layers_text.value == "1-3"
    finally:
        p.close()
    with pytest.raises(TypeError, match="session"):
        Painter(bundle.generator, session=s)


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
        assert p.session.scheduler.renders <= p.session.scheduler.requests
    finally:
        p.close()


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


@pytest.mark.parametrize("reconstruction", ["features", pytest.param("pivotal", marks=pytest.mark.slow)])
def test_from_photo_projects_and_composites(bundle, reconstruction):
    from neuralcollage.datasets import render_sample
    sample = render_sample(7, class_id="dog", size=80)
    photo = numpy.ascontiguousarray(sample.image[:, :70])
    mask = sample.masks["face"][:, :70]
    calls = []
    p = Painter.from_photo(bundle, photo, label="dog", mask=mask, steps=3, threaded=False,
                           progress=lambda step, loss, restart: calls.append(step), reconstruction=reconstruction)
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
        # painted on the copy fitted to the crop: the recipe says so and its PSNR shows in the status line
        assert p.generator is p.photo.fit.generator and p.generator is not bundle.generator
        assert recipe["photo"]["reconstruction"]["method"] == reconstruction
        assert recipe["photo"]["reconstruction"]["psnr"] == round(p.photo.fit.psnr, 4)
        p._set_status("ready")
        assert f"reconstruction {p.photo.fit.psnr:.1f} dB ({reconstruction} fit)" in p._status.value
        if reconstruction == "features":
            # where the painting changes the class the fit fades out: all cat is the trained generator's cat
            all_cat = numpy.zeros((1, 4, 32, 32), numpy.float32)
            all_cat[:, 0] = 1
            whole = painting.render_painting(p.generator, z=p.z, class_map=all_cat, base_class=1)
            plain = painting.render_painting(bundle.generator, z=p.z, base_class=0)
            assert numpy.array_equal(whole, plain)
    finally:
        p.close()


def _stroked_photo_painter(bundle, bad, message, **blend):
    """A dog photo's painter with ``blend`` options and a cat stroke, after checking that the options ``bad``
    are refused with ``message``: (photo, painter)."""
    from neuralcollage.datasets import render_sample
    photo = render_sample(7, class_id="dog", size=64).image
    with pytest.raises(ValueError, match=message):
        Painter.from_photo(bundle, photo, label="dog", steps=1, threaded=False, **bad)
    p = Painter.from_photo(bundle, photo, label="dog", steps=2, threaded=False, dilate=6, **blend)
    p.stroke([(8, 8), (24, 24)], label="cat", radius=4)
    return photo, p


@pytest.mark.slow
def test_from_photo_with_an_optimal_seam(bundle):
    photo, p = _stroked_photo_painter(bundle, dict(blend_mode="none", seam="optimal"), "Poisson blend mode",
                                      seam="optimal")
    try:
        out = p.composite()
        assert not numpy.array_equal(out, p.composite(seam="fixed"))
        assert p.composite(blend_mode="none").shape == photo.shape
        region = blending.blend_region(p.photo_mask(), p.photo.box, dilate=6)
        assert numpy.array_equal(out[~region], photo[~region]) and not numpy.array_equal(out, photo)
        recipe = p.recipe()
        assert recipe["photo"]["seam"] == "optimal"
        assert numpy.array_equal(painting.replay_recipe(recipe, bundle.generator, photo=photo), out)
        assert p.collage_recipe()["edit"]["seam"] == "optimal"
    finally:
        p.close()


@pytest.mark.slow
def test_from_photo_with_a_colour_reach(bundle):
    photo, p = _stroked_photo_painter(bundle, dict(colour_reach=0), "colour_reach must be", colour_reach=2)
    try:
        out = p.composite()
        assert not numpy.array_equal(out, p.composite(colour_reach=50))
        assert p.composite(blend_mode="mixed").shape == photo.shape
        region = blending.blend_region(p.photo_mask(), p.photo.box, dilate=6)
        assert numpy.array_equal(out[~region], photo[~region]) and not numpy.array_equal(out, photo)
        recipe = p.recipe()
        assert recipe["photo"]["colour_reach"] == 2.0
        assert numpy.array_equal(painting.replay_recipe(recipe, bundle.generator, photo=photo), out)
        assert p.collage_recipe()["edit"]["colour_reach"] == 2.0
    finally:
        p.close()


def test_from_photo_without_a_discriminator(bundle):
    import dataclasses
    no_d = dataclasses.replace(bundle, discriminator=None)
    p = Painter.from_photo(no_d, numpy.full((40, 40, 3), 90, numpy.uint8), label=0, steps=2)
    try:
        assert len(p.photo.projection.losses) == 3  # projected with neuralcollage.inversion.PyramidFeatures
    finally:
        p.close()


# ---------------------------------------------------------------------------- attribute painting

AXIS_NAMES = ("brightness", "redness")


def colour_predictor(x):
    """Two 'attributes' of model images (N, 3, R, R): mean brightness and red minus blue."""
    x = numpy.asarray(x, numpy.float64)
    return numpy.stack([x.mean(axis=(1, 2, 3)), (x[:, 0] - x[:, 2]).mean(axis=(1, 2))], axis=1)


@pytest.fixture(scope="module")
def axes_bundle(bundle, tmp_path_factory):
    """The tiny model saved to a folder with an ``axes.json`` beside its generator (found as in test_axes)."""
    import dataclasses

    import neuralcollage as nc
    from neuralcollage import axes
    from neuralcollage.analysis import axes as axa
    folder = tmp_path_factory.mktemp("tiny32_with_axes")
    path = folder / "generator.npz"
    nc.save_snapshot(bundle.generator, path, kind="generator")
    found = axa.discover_axes(bundle.generator, colour_predictor, attributes=AXIS_NAMES, n_samples=120, seed=0)
    axes.save_axes(folder / axes.AXES_FILE, found, model={"generator_sha256": axes.file_sha256(path)})
    return dataclasses.replace(bundle, name="tiny-axes", files={"generator": str(path)}, sha256={})


@pytest.fixture
def attr_painter(axes_bundle):
    p = Painter.from_bundle(axes_bundle, seed=2, class_id="cat", threaded=False, radius=4, hardness=1.0)
    yield p
    p.close()


def outside(alpha, radius=2):
    return ~blending.dilate_mask(alpha > 0, radius=radius)


def test_attribute_stroke_changes_the_preview_inside_the_region_only(attr_painter, axes_bundle):
    from neuralcollage import axes
    from neuralcollage.io import from_model
    p = attr_painter
    assert p.attribute_available and p.axis_names == list(AXIS_NAMES) and p.attribute_note == ""
    assert "attribute" in [v for _, v in p._mode_toggle.options]
    p.set_mode("attribute")
    assert p.active_canvas is p.attribute_canvas and p._attribute_box.layout.display is None
    assert "brightness" in p._attribute_note.value
    p.set_axis("Brightness", 2.5)
    assert (p._axis_dropdown.value, p._amount_slider.value) == ("brightness", 2.5)
    before = p.preview.copy()
    renders = p.session.scheduler.renders
    drag(p, [(8, 10), (14, 12), (20, 14)])
    assert p.session.scheduler.renders == renders + 1 and p.class_canvas.is_blank and p.stream_canvas.is_blank
    alpha = p.attribute_alpha()
    assert alpha[12, 14] == 1 and alpha[28, 28] == 0
    diff = numpy.abs(p.preview.astype(int) - before)
    assert diff[outside(alpha)].max() <= 1
    assert diff[alpha > 0.5].mean() > 3
    expected = from_model(axes.local_edit(axes_bundle.generator, p.z, p.base_class, p.axis, 2.5, alpha))[0]
    assert numpy.abs(p.preview.astype(int) - expected).max() <= 1
    assert numpy.array_equal(p.preview, p.render())
    shown = numpy.asarray(Image.open(io.BytesIO(p._preview_image.value)))
    assert numpy.array_equal(shown[::shown.shape[0] // 32, ::shown.shape[0] // 32], p.preview)
    p.undo()
    assert numpy.array_equal(p.preview, before)


def test_attribute_axis_and_amount_controls_update_the_preview(attr_painter):
    from neuralcollage.axes import UnknownAxisError
    p = attr_painter
    p.stroke([(16, 16)], mode="attribute", radius=8)
    one = p.preview.copy()
    p._amount_slider.value = -2.0
    assert p.amount == -2.0 and not numpy.array_equal(p.preview, one)
    p._axis_dropdown.value = "redness"
    assert p.axis.name == "redness" and "redness" in p._swatch.value
    red = p.preview.copy()
    p.set_axis(amount=0.0)
    assert numpy.abs(p.preview.astype(int) - p.background).max() <= 1
    p.set_axis("brightness", 4.0)
    assert p._amount_slider.max >= 4.0 and p._amount_slider.value == 4.0
    p.set_axis("redness", -2.0)
    assert numpy.array_equal(p.preview, red)
    numpy.testing.assert_array_equal(p.attribute_latent(), p.z + numpy.float32(-2.0) * p.axis.direction)
    with pytest.raises(UnknownAxisError, match="available"):
        p.set_axis("fur")
    with pytest.raises(ValueError, match="finite"):
        p.set_axis(amount=float("inf"))
    assert [v for _, v in p._palette.options] == [0, 1]
    p.stroke([(16, 16)], label=0, radius=30)
    assert p.attribute_canvas.is_blank and numpy.array_equal(p.preview, p.background)
    with pytest.raises(ValueError, match="attribute label"):
        p.select(2)


def test_attribute_painting_combines_with_class_and_blend_painting(attr_painter, axes_bundle, tmp_path):
    p = attr_painter
    p.stroke([(2, 2), (12, 6)], label="fox", radius=4)
    p.stroke([(28, 4)], mode="blend", radius=4)
    p.set_mode("attribute")
    p.set_axis("redness", 2.0)
    painted = p.preview.copy()
    p.stroke([(10, 24), (24, 26)], radius=4)
    alpha = p.attribute_alpha()
    diff = numpy.abs(p.preview.astype(int) - painted)
    assert diff[outside(alpha)].max() <= 1 and diff[alpha > 0.5].mean() > 3
    recipe = json.loads(json.dumps(p.recipe()))
    attr = recipe["attribute"]
    assert recipe["version"] == 2 and (attr["axis"], attr["amount"], attr["layers"]) == ("redness", 2.0, "all")
    assert len(attr["canvas"]["strokes"]) == 1 and len(recipe["class_canvas"]["strokes"]) == 1
    assert numpy.array_equal(painting.replay_recipe(recipe, axes_bundle.generator), p.preview)
    p.set_layers("2-")
    p.set_axis(amount=-1.0)
    recipe = p.recipe()
    assert recipe["attribute"]["layers"] == "2-3" and recipe["attribute"]["amount"] == -1.0
    assert numpy.array_equal(painting.replay_recipe(json.dumps(recipe), axes_bundle.generator), p.preview)
    with numpy.load(p.export_map(str(tmp_path / "map.npz"))) as data:
        assert str(data["attribute_axis"]) == "redness" and float(data["attribute_amount"]) == -1.0
        numpy.testing.assert_array_equal(data["attribute_alpha"], alpha)
        numpy.testing.assert_array_equal(data["z_attribute"], p.attribute_latent())
    numpy.testing.assert_array_equal(p.edit_mask(), numpy.maximum(painting.edit_mask(
        p.class_canvas, p.stream_canvas), alpha))
    assert "attribute strokes 1" in p._status.value


def test_no_axes_disables_the_attribute_mode_with_a_note(bundle, axes_bundle):
    from neuralcollage.axes import Axis
    p = Painter.from_bundle(bundle, threaded=False)
    try:
        assert not p.attribute_available and p.axis is None
        assert "no attribute axes" in p.attribute_note
        assert "attribute" not in [v for _, v in p._mode_toggle.options]
        assert "no attribute axes" in p._attribute_note.value
        assert p._axis_dropdown.disabled and p._amount_slider.disabled
        with pytest.raises(ValueError, match="no attribute axes"):
            p.set_mode("attribute")
        with pytest.raises(ValueError, match="no attribute axes"):
            p.set_axis("brightness", 1.0)
        assert "attribute" not in p.recipe()
    finally:
        p.close()
    with pytest.raises(ValueError, match="no attribute axes"):
        Painter.from_bundle(bundle, mode="attribute", threaded=False)
    other_class = [Axis(name="fur", attribute="fur", direction=numpy.eye(16, dtype=numpy.float32)[0], class_id=1)]
    p = Painter.from_bundle(bundle, class_id=0, axes=other_class, threaded=False)
    try:
        assert not p.attribute_available and "other classes" in p._attribute_note.value
    finally:
        p.close()
    p = Painter.from_bundle(bundle, class_id=1, axes=other_class, threaded=False, mode="attribute", amount=-0.5)
    try:
        assert p.axis is other_class[0] and p.amount == -0.5
    finally:
        p.close()


def test_axes_of_another_generator_disable_the_mode_with_the_reason(axes_bundle, tmp_path):
    import dataclasses
    import shutil

    from neuralcollage import axes
    shutil.copy(axes_bundle.files["generator"], tmp_path / "generator.npz")
    found = axes.load_axes(os.path.join(os.path.dirname(axes_bundle.files["generator"]), axes.AXES_FILE))
    axes.save_axes(tmp_path / axes.AXES_FILE, found, model={"generator_sha256": "ef" * 32})
    moved = dataclasses.replace(axes_bundle, files={"generator": str(tmp_path / "generator.npz")})
    p = Painter.from_bundle(moved, threaded=False)
    try:
        assert not p.attribute_available and "another generator" in p._attribute_note.value
    finally:
        p.close()


def test_attribute_painting_on_a_photo_composites_and_replays(axes_bundle):
    rng = numpy.random.RandomState(0)
    yy, xx = numpy.mgrid[0:40, 0:48]
    photo = numpy.clip(numpy.stack([yy * 5, xx * 4, (xx + yy) * 3], axis=-1) + rng.normal(0, 8, (40, 48, 3)),
                       0, 255).astype(numpy.uint8)
    p = Painter.from_photo(axes_bundle, photo, label="dog", steps=2, threaded=False, mode="attribute")
    try:
        assert numpy.array_equal(p.composite(), photo)
        p.set_axis("brightness", 3.0)
        p.stroke([(10, 10), (20, 16)], radius=5)
        out = p.composite()
        assert not numpy.array_equal(out, photo)
        region = blending.blend_region(p.photo_mask(), p.photo.box, dilate=p.photo.dilate)
        assert numpy.array_equal(out[~region], photo[~region])
        recipe = json.loads(json.dumps(p.recipe()))
        assert numpy.array_equal(painting.replay_recipe(recipe, axes_bundle.generator, photo=photo), out)
        with pytest.raises(ValueError, match="attribute painting"):
            p.collage_recipe()
    finally:
        p.close()


# ---------------------------------------------------------------------------- style painting
@pytest.fixture(scope="module")
def style_session():
    from neuralcollage import stylize
    from neuralcollage.datasets import render_landmarks, render_sample
    size = 32
    lm = render_landmarks(3, size=size)
    keep = ((lm > -0.5) & (lm < size - 0.5)).all(axis=1)
    calls = []

    def predictor(image):
        calls.append(1)
        return lm[keep]

    session = stylize.StyleSession(
        {"hatch": {"image": render_sample(3, size=size, style="hatch").image, "landmarks": lm[keep]},
         "watercolour": {"image": render_sample(3, size=size, style="watercolour").image, "landmarks": lm[keep]}},
        landmark_predictor=predictor)
    session.calls = calls
    return session


def test_style_mode_stylises_the_painted_region_only(bundle, style_session):
    p = Painter.from_bundle(bundle, seed=2, class_id="cat", threaded=False, radius=4, hardness=1.0,
                            style=style_session)
    try:
        assert "style" in [v for _, v in p._mode_toggle.options]
        assert p.style.box.layout.display == "none"
        p.set_mode("style")
        assert p.active_canvas is p.style.canvas and p.style.box.layout.display is None
        assert "stylise" in p._swatch.value or "style" in p._swatch.value
        p.stroke([(6, 6), (20, 10)], radius=3)
        alpha = p.style.canvas.painted_alpha()
        assert alpha.max() == 1 and alpha.min() == 0 and p.class_canvas.is_blank
        expected = style_session.preview(alpha, target=p.background)
        assert numpy.array_equal(p.preview, expected)
        assert numpy.array_equal(p.preview[alpha == 0], p.background[alpha == 0])
        assert not numpy.array_equal(p.preview[alpha == 1], p.background[alpha == 1])
        first = p.preview.copy()
        p.style.chooser.value = "watercolour"
        assert style_session.current == "watercolour" and not numpy.array_equal(p.preview, first)
        p.style.seed.value = 7
        assert style_session.seed == 7
        p.undo()
        assert p.style.canvas.is_blank and numpy.array_equal(p.preview, p.background)
        assert "stroke_to_preview_ms" in p.timings
        started = Painter.from_bundle(bundle, seed=2, class_id="cat", threaded=False, style=style_session,
                                      mode="style")
        assert started.active_canvas is started.style.canvas and started.style.box.layout.display is None
        started.close()
    finally:
        p.close()
        style_session.choose("hatch")
        style_session.seed = 0


def test_the_lattice_buttons_switch_the_preview_and_the_recipe(bundle, style_session):
    """The style mode's lattice buttons set the style session's lattice; on a hatch exemplar of the painted image's
    size the preview changes (to the stylisation with that lattice) and the painting recipe records it."""
    from neuralcollage import stylize
    p = Painter.from_bundle(bundle, seed=2, class_id="cat", threaded=False, radius=4, hardness=1.0,
                            style=style_session, mode="style")
    try:
        assert p.background.shape[:2] == style_session.exemplar("hatch").image.shape[:2]
        assert p.style.lattice.options == ("off", "auto") and p.style.lattice.value == "off"
        assert p.style.lattice in p.style.box.children
        p.stroke([(4, 4), (28, 28)], radius=8)
        alpha = p.style.canvas.painted_alpha()
        off = p.preview.copy()
        assert numpy.array_equal(off, style_session.preview(alpha, target=p.background))
        assert p.recipe()["style"]["lattice"] is None
        p.style.lattice.value = "auto"
        assert style_session.lattice == "auto"
        on = p.preview.copy()
        assert not numpy.array_equal(on, off)
        expected = stylize.stylize(p.background, style_session.exemplar("hatch"),
                                   target_landmarks=style_session.target_landmarks, lattice="auto")
        painted = alpha == 1
        assert numpy.array_equal(on[painted], expected[painted])
        assert numpy.array_equal(on[alpha == 0], p.background[alpha == 0])
        recipe = json.loads(json.dumps(p.recipe()))
        assert recipe["style"]["lattice"] == "auto"
        replayed = painting.replay_recipe(recipe, bundle.generator,
                                          exemplars={"hatch": style_session.exemplar("hatch")})
        assert numpy.array_equal(replayed, on)
        p.style.lattice.value = "off"
        assert style_session.lattice is None and numpy.array_equal(p.preview, off)
        assert p.recipe()["style"]["lattice"] is None
        style_session.lattice = "auto"          # set in code: the buttons follow after the next style event
        p.session.choose_style()
        assert p.style.lattice.value == "auto"
        with pytest.raises(ValueError, match="lattice must be one of"):
            p.style.set_lattice("given")
    finally:
        p.close()
        style_session.lattice = None


def test_the_lattice_buttons_offer_a_basis_given_in_code(bundle, style_session):
    from neuralcollage import stylize
    hatch = style_session.exemplar("hatch")
    session = stylize.StyleSession({"hatch": hatch}, landmark_predictor=style_session.landmark_predictor,
                                   lattice=[[2, 0], [0, 2]])
    p = Painter.from_bundle(bundle, seed=2, class_id="cat", threaded=False, style=session, mode="style")
    try:
        assert p.style.lattice.options == ("off", "auto", "given") and p.style.lattice.value == "given"
        p.style.lattice.value = "off"
        assert session.lattice is None
        p.style.lattice.value = "given"
        assert session.lattice.tolist() == [[2, 0], [0, 2]]
        session.lattice = [[3, 0], [0, 3]]
        p.session.choose_style()
        assert p.style.lattice.value is None    # neither button: another basis
    finally:
        p.close()


def test_the_refine_passes_box_switches_the_preview_and_the_recipe(bundle, style_session):
    """The style mode's "refine passes" box sets the style session's patch_iterations; on a hatch exemplar the
    preview changes inside the painting to a session's made with ``patch_iterations=3``, the painting recipe
    records it and replays to it, and 0 restores the first preview."""
    from neuralcollage import stylize
    from neuralcollage.limits import OPTION_RANGES
    p = Painter.from_bundle(bundle, seed=2, class_id="cat", threaded=False, radius=4, hardness=1.0,
                            style=style_session, mode="style")
    try:
        assert style_session.current == "hatch" and style_session.lattice is None
        assert p.style.refine in p.style.box.children
        assert (p.style.refine.value, p.style.refine.min) == (0, 0)
        assert p.style.refine.max == OPTION_RANGES["patch_iterations"][2]
        p.stroke([(4, 4), (28, 28)], radius=8)
        alpha = p.style.canvas.painted_alpha()
        off = p.preview.copy()
        assert p.recipe()["style"]["patch_iterations"] == 0
        p.style.refine.value = 3
        assert style_session.patch_iterations == 3
        refined = p.preview.copy()
        assert not numpy.array_equal(refined, off)
        made = stylize.StyleSession({"hatch": style_session.exemplar("hatch")},
                                    landmark_predictor=style_session.landmark_predictor, patch_iterations=3)
        expected = made.preview(alpha, target=p.background)
        painted = alpha == 1
        assert numpy.array_equal(refined[painted], expected[painted])
        assert numpy.array_equal(refined[alpha == 0], p.background[alpha == 0])
        recipe = json.loads(json.dumps(p.recipe()))
        assert recipe["style"]["patch_iterations"] == 3
        replayed = painting.replay_recipe(recipe, bundle.generator,
                                          exemplars={"hatch": style_session.exemplar("hatch")})
        assert numpy.array_equal(replayed, refined)
        p.style.refine.value = 0
        assert style_session.patch_iterations == 0 and numpy.array_equal(p.preview, off)
        assert p.recipe()["style"]["patch_iterations"] == 0
        style_session.patch_iterations = 2      # set in code: the box follows after the next style event
        p.session.choose_style()
        assert p.style.refine.value == 2
        with pytest.raises(ValueError, match="patch_iterations must be an integer"):
            p.style.set_patch_iterations(OPTION_RANGES["patch_iterations"][2] + 1)
        assert style_session.patch_iterations == 2
    finally:
        p.close()
        style_session.patch_iterations = 0


def test_style_mode_is_off_without_a_session(painter):
    assert "style" not in [v for _, v in painter._mode_toggle.options]
    with pytest.raises(ValueError, match="StyleSession"):
        painter.set_mode("style")


@pytest.mark.slow
def test_bench_widget_style_mode_runs(capsys, tmp_path):
    import importlib.util
    from neuralcollage.pretrained import builtin_dir
    if not os.path.exists(os.path.join(builtin_dir(), "landmarks.npz")):
        pytest.skip("the built-in landmark model is not installed")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    spec = importlib.util.spec_from_file_location("bench_widget", os.path.join(root, "benchmarks", "bench_widget.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "bench.json"
    assert bench.main(["--strokes", "0", "--memory-strokes", "0", "--style-strokes", "2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "style mode:" in text and "first stroke" in text
    style = json.loads(out.read_text())["style"]
    assert style["first"]["total"] > 0 and style["cached"]["total"]["median"] > 0

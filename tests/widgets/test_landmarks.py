"""neuralcollage.widgets.landmarks: the notebook's click-to-place landmark editor (ipympl)."""
import numpy
import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("ipympl")

from neuralcollage.widgets.landmarks import LandmarkEditorWidget  # noqa: E402
from neuralcollage.stylize import BUILTIN_LANDMARK_NAMES, read_landmarks_json  # noqa: E402

POINTS = [(20, 24), (44, 24), (32, 34), (32, 44), (12, 8), (52, 8), (18, 40), (46, 40), (32, 56), (32, 6)]


@pytest.fixture
def widget():
    image = numpy.zeros((64, 64, 3), numpy.uint8)
    w = LandmarkEditorWidget(image)
    yield w
    w.close()


def browser(w, kind, x, y, button=0, buttons=1):
    """A mouse message as the front end sends it, through ipympl's own handler."""
    w.canvas.manager.handle_json({"type": "draw"})
    disp_x, disp_y = w._ax.transData.transform((x, y))
    height = w.canvas.get_renderer().height
    w.canvas.manager.handle_json({"type": kind, "x": float(disp_x), "y": float(height - disp_y),
                                  "button": button, "buttons": buttons, "modifiers": [], "guiEvent": None})


def test_browser_clicks_place_points_in_order(widget):
    browser(widget, "button_press", 20, 24)
    browser(widget, "button_release", 20, 24, buttons=0)
    numpy.testing.assert_allclose(widget.editor.points[0], (20, 24), atol=0.5)
    assert widget.editor.next_name == "right_eye" and "1: right_eye" in widget._status.value
    assert not widget._undo.disabled


def test_place_drag_remove_undo_and_save(widget, tmp_path):
    for x, y in POINTS:
        widget.click(x, y)
    assert widget.editor.complete and "all placed" in widget._status.value
    widget.drag((32.5, 34.5), (30, 36))
    assert tuple(widget.editor.points[2]) == (30, 36) and widget.editor.n_placed == 10
    widget.undo()
    assert tuple(widget.editor.points[2]) == (32, 34)
    widget.click(52.4, 8.3, button=3)
    assert widget.editor.next_name == "right_ear"
    widget._save_clicked()
    assert "not placed: right_ear" in widget._status.value
    widget._next.value = 8
    widget.click(33, 57)
    assert tuple(widget.editor.points[8]) == (33, 57) and widget._next.value == -1
    widget.click(70, 3)
    assert "right_ear at (70, 3) lies outside the 64x64 image" in widget._status.value
    widget.click(52, 8)
    widget.click(40, 40)
    assert "every landmark is placed" in widget._status.value
    path = widget.save(str(tmp_path / "ex.json"))
    numpy.testing.assert_allclose(read_landmarks_json(path)[5], (52, 8))
    other = LandmarkEditorWidget(numpy.zeros((64, 64, 3), numpy.uint8), path=path)
    other.load()
    numpy.testing.assert_array_equal(other.editor.landmarks(), widget.editor.landmarks())
    assert other.editor.names == BUILTIN_LANDMARK_NAMES
    other.close()

"""neuralcollage.stylize.LandmarkEditor: click-to-place exemplar landmarks without widgets."""
import json

import numpy
import pytest

from neuralcollage import stylize as st
from neuralcollage.stylize import LandmarkEditor


def _ten(editor, points):
    for x, y in points:
        editor.place(x, y)


POINTS = [(20, 24), (44, 24), (32, 34), (32, 44), (12, 8), (52, 8), (18, 40), (46, 40), (32, 56), (32, 6)]


def test_names_are_the_landmark_models_order():
    from neuralcollage.datasets import LANDMARK_NAMES
    assert st.BUILTIN_LANDMARK_NAMES == tuple(LANDMARK_NAMES)


def test_points_are_placed_in_order_then_moved_undone_and_redone():
    editor = LandmarkEditor((64, 64))
    assert editor.next_name == "left_eye" and editor.n_placed == 0 and not editor.can_undo
    assert editor.place(20, 24) == 0 and editor.next_name == "right_eye"
    _ten(editor, POINTS[1:])
    assert editor.complete and editor.next_index is None
    numpy.testing.assert_array_equal(editor.landmarks(), POINTS)
    with pytest.raises(ValueError, match="every landmark is placed"):
        editor.place(1, 1)
    assert editor.nearest(33, 35) == 2 and editor.nearest(0, 63, radius=3) is None
    editor.move("nose", 31, 36)
    assert tuple(editor.points[2]) == (31, 36)
    assert editor.undo() == 2 and tuple(editor.points[2]) == (32, 34)
    assert editor.redo() == 2 and tuple(editor.points[2]) == (31, 36)
    editor.select("mouth")
    assert editor.place(30, 45) == 3 and editor.selected is None and tuple(editor.points[3]) == (30, 45)
    editor.remove(4)
    assert not editor.complete and editor.next_name == "left_ear"
    with pytest.raises(ValueError, match="1 landmarks not placed: left_ear"):
        editor.landmarks()
    while editor.can_undo:
        editor.undo()
    assert editor.n_placed == 0 and editor.can_redo


@pytest.mark.parametrize("x, y", [(-1, 10), (10, 64), (float("nan"), 3), (63.6, 0)])
def test_points_outside_the_image_are_refused(x, y):
    editor = LandmarkEditor((64, 64))
    with pytest.raises(ValueError, match="left_eye"):
        editor.place(x, y)
    assert editor.n_placed == 0 and not editor.can_undo
    editor.place(-0.5, 63.5)


def test_json_round_trip_is_what_collage_stylize_reads(tmp_path):
    editor = LandmarkEditor((48, 64))
    _ten(editor, [(x, min(y, 47)) for x, y in POINTS])
    path = editor.save(tmp_path / "ex.json")
    data = json.loads(path.read_text())
    assert data["names"] == list(st.BUILTIN_LANDMARK_NAMES) and data["image_size"] == [64, 48]
    numpy.testing.assert_array_equal(st.read_landmarks_json(path), editor.landmarks())
    from neuralcollage.cli import read_landmarks
    numpy.testing.assert_array_equal(read_landmarks(str(path)), editor.landmarks())
    again = LandmarkEditor.load(path, (48, 64))
    numpy.testing.assert_array_equal(again.landmarks(), editor.landmarks())
    with pytest.raises(ValueError, match="outside the 32x32 image"):
        LandmarkEditor.load(path, (32, 32))
    with pytest.raises(ValueError, match="expected"):
        LandmarkEditor.load(path, (48, 64), names=["a", "b"])
    (tmp_path / "bad.json").write_text("{\"landmarks\": [1, 2]}")
    with pytest.raises(ValueError, match="bad.json: expected"):
        LandmarkEditor.load(tmp_path / "bad.json", (48, 64))


def test_starting_points_may_be_partial():
    start = numpy.array(POINTS, float)
    start[3] = numpy.nan
    editor = LandmarkEditor((64, 64), points=start)
    assert editor.n_placed == 9 and editor.next_name == "mouth"
    with pytest.raises(ValueError, match="right_eye at \(44, 24\) lies outside the 32x32"):
        LandmarkEditor((32, 32), points=POINTS)

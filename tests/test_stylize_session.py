"""neuralcollage.stylize.StyleSession: the painter's style mode without widgets."""
import numpy
import pytest

from neuralcollage import stylize as st
from neuralcollage.datasets import render_landmarks, render_sample


def _inside(points, size):
    return ((points > -0.5) & (points < size - 0.5)).all(axis=1)


@pytest.fixture(scope="module")
def faces():
    size = 48
    lm = {s: render_landmarks(s, size=size) for s in (3, 4)}
    keep = _inside(lm[3], size) & _inside(lm[4], size)
    return dict(target=render_sample(4, size=size).image, target_lm=lm[4][keep],
                hatch=render_sample(3, size=size, style="hatch").image,
                water=render_sample(3, size=size, style="watercolour").image, ex_lm=lm[3][keep], size=size)


def _session(faces, **kw):
    return st.StyleSession({"hatch": {"image": faces["hatch"], "landmarks": faces["ex_lm"]},
                            "watercolour": {"image": faces["water"], "landmarks": faces["ex_lm"]}}, **kw)


def test_preview_is_the_target_where_unpainted_and_the_stylisation_where_painted(faces):
    session = _session(faces, seed=2)
    session.set_target(faces["target"], landmarks=faces["target_lm"])
    size = faces["size"]
    assert numpy.array_equal(session.preview(numpy.zeros((size, size))), faces["target"])
    full = session.preview(numpy.ones((size, size)))
    expected = st.stylize(faces["target"], faces["hatch"], target_landmarks=faces["target_lm"],
                          exemplar_landmarks=faces["ex_lm"], seed=2)
    assert numpy.array_equal(full, expected)
    half = numpy.zeros((size, size))
    half[:, : size // 2] = 1
    out = session.preview(half)
    assert numpy.array_equal(out[:, : size // 2], expected[:, : size // 2])
    assert numpy.array_equal(out[:, size // 2:], faces["target"][:, size // 2:])


def test_a_stroke_after_the_first_is_a_blend_not_a_synthesis(faces):
    session = _session(faces)
    alpha = numpy.zeros((faces["size"],) * 2)
    alpha[10:20, 10:30] = 1
    session.preview(alpha, target=faces["target"], landmarks=faces["target_lm"])
    assert session.timings["synthesis_ms"] > 0 and session.timings["prepare_ms"] > 0
    alpha[20:30, 10:30] = 1
    session.preview(alpha, target=faces["target"])
    assert session.timings["synthesis_ms"] == 0 and session.timings["prepare_ms"] == 0
    assert session.timings["landmarks_ms"] == 0


def test_choosing_an_exemplar_and_a_seed(faces):
    session = _session(faces)
    session.set_target(faces["target"], landmarks=faces["target_lm"])
    hatch = session.stylised()
    table = session.exemplar("hatch").table
    session.choose("watercolour")
    assert session.current == "watercolour" and not numpy.array_equal(session.stylised(), hatch)
    session.choose("hatch")
    assert session.exemplar().table is table and numpy.array_equal(session.stylised(), hatch)
    session.seed = 5
    boiled = session.stylised()
    assert not numpy.array_equal(boiled, hatch)
    session.seed = 0
    assert numpy.array_equal(session.stylised(), hatch)
    with pytest.raises(KeyError, match="choose one of"):
        session.choose("woodcut")


def test_landmarks_are_predicted_once_per_image(faces):
    calls = []

    def predictor(image):
        calls.append(image.copy())
        return faces["target_lm"]

    session = _session(faces, landmark_predictor=predictor)
    alpha = numpy.ones((faces["size"],) * 2)
    session.preview(alpha, target=faces["target"])
    session.preview(alpha, target=faces["target"].copy())
    assert len(calls) == 1
    other = faces["target"][:, ::-1].copy()
    session.preview(alpha, target=other)
    assert len(calls) == 2 and numpy.array_equal(calls[1], other)
    with pytest.raises(ValueError, match="no landmark predictor"):
        _session(faces).set_target(faces["target"])


def test_the_part_mask_guide_and_an_on_disk_table(faces, tmp_path):
    labels = numpy.zeros(faces["hatch"].shape[:2], numpy.int32)
    labels[faces["size"] // 2:] = 1
    session = st.StyleSession({"parts": {"image": faces["hatch"], "landmarks": faces["ex_lm"], "labels": labels,
                                         "n_labels": 2}}, table_dir=tmp_path)
    session.set_target(faces["target"], landmarks=faces["target_lm"])
    assert session.exemplar().n_labels == 2 and session.stylised().shape == faces["target"].shape
    assert (tmp_path / "parts.npz").exists()


@pytest.mark.parametrize("spec, message", [
    ({}, "at least one exemplar"),
    ({"a": {"image": numpy.zeros((8, 8, 3), numpy.uint8)}}, "'image' and 'landmarks'"),
    ({"a": {"image": numpy.zeros((8, 8, 3), numpy.uint8), "landmarks": [[1, 1], [9, 3]]}}, "outside the 8x8"),
    ({"a": {"image": numpy.zeros((8, 8, 3), numpy.uint8), "landmarks": [[1, 1], [5, 3]], "size": 2}}, "unknown"),
])
def test_bad_exemplars_say_what_is_wrong(spec, message):
    with pytest.raises(ValueError, match=message):
        st.StyleSession(spec)


def test_the_lattice_reaches_the_synthesis(faces):
    """``lattice="auto"`` on a hatch exemplar of the target's size changes the preview (and equals stylize's)."""
    size = faces["size"]
    alpha = numpy.ones((size, size))
    plain, snapped = _session(faces), _session(faces, lattice="auto")
    assert plain.lattice is None and snapped.lattice == "auto"
    off = plain.preview(alpha, target=faces["target"], landmarks=faces["target_lm"])
    on = snapped.preview(alpha, target=faces["target"], landmarks=faces["target_lm"])
    assert not numpy.array_equal(on, off)
    expected = st.stylize(faces["target"], faces["hatch"], target_landmarks=faces["target_lm"],
                          exemplar_landmarks=faces["ex_lm"], lattice="auto")
    assert numpy.array_equal(on, expected)
    assert snapped.brush().lattice == "auto"
    basis = _session(faces, lattice=[[3, 0], [0, 3]]).lattice
    assert basis.dtype == numpy.int64 and basis.tolist() == [[3, 0], [0, 3]]
    for bad in ("off", [[1, 2], [2, 4]], [[1.5, 0], [0, 1]], [1, 0, 0, 1]):
        with pytest.raises(ValueError, match="lattice must be"):
            _session(faces, lattice=bad)


def test_the_lattice_can_be_switched_after_the_start(faces):
    """The ``lattice`` setter: checked as the constructor's, re-synthesises when it changes (the same preview as a
    session made with it), keeps the synthesis when set to the same value, and the recipe entry records it."""
    from neuralcollage.painting import LabelPainter
    size = faces["size"]
    alpha = numpy.ones((size, size))
    session = _session(faces)
    off = session.preview(alpha, target=faces["target"], landmarks=faces["target_lm"])
    session.lattice = "auto"
    assert session.lattice == "auto"
    on = session.preview(alpha)
    assert session.timings["synthesis_ms"] > 0 and not numpy.array_equal(on, off)
    made = _session(faces, lattice="auto").preview(alpha, target=faces["target"], landmarks=faces["target_lm"])
    assert numpy.array_equal(on, made)
    session.lattice = "auto"
    assert numpy.array_equal(session.preview(alpha), on) and session.timings["synthesis_ms"] == 0
    canvas = LabelPainter(2, size)
    entry = session.recipe_entry(canvas, target=faces["target"], landmarks=faces["target_lm"])
    assert entry["lattice"] == "auto"
    session.lattice = numpy.array([[3, 0], [0, 3]])
    assert session.lattice.dtype == numpy.int64 and session.preview(alpha).shape == off.shape
    assert session.timings["synthesis_ms"] > 0
    assert session.recipe_entry(canvas, target=faces["target"])["lattice"] == [[3, 0], [0, 3]]
    session.lattice = [[3, 0], [0, 3]]
    session.preview(alpha)
    assert session.timings["synthesis_ms"] == 0
    for bad in ("off", [[1, 2], [2, 4]], [[1.5, 0], [0, 1]]):
        with pytest.raises(ValueError, match="lattice must be"):
            session.lattice = bad
        assert session.lattice.tolist() == [[3, 0], [0, 3]]
    session.lattice = None
    assert session.lattice is None and numpy.array_equal(session.preview(alpha), off)
    assert session.recipe_entry(canvas, target=faces["target"])["lattice"] is None


def test_patch_iterations_reach_the_synthesis_and_the_recipe_entry(faces):
    """``patch_iterations=3`` (with the hatching combination) changes the preview, equals stylize's, reaches the
    brush and the recipe entry; 0 is the default and is recorded as 0; the setter re-synthesises; bad values are
    refused in one line."""
    from neuralcollage.painting import LabelPainter
    size = faces["size"]
    alpha = numpy.ones((size, size))
    hatching = dict(lattice="auto", blend_radius=1, vote_stride=1)
    plain, refined = _session(faces, **hatching), _session(faces, patch_iterations=3, **hatching)
    assert plain.patch_iterations == 0 and refined.patch_iterations == 3
    off = plain.preview(alpha, target=faces["target"], landmarks=faces["target_lm"])
    on = refined.preview(alpha, target=faces["target"], landmarks=faces["target_lm"])
    assert not numpy.array_equal(on, off)
    expected = st.stylize(faces["target"], faces["hatch"], target_landmarks=faces["target_lm"],
                          exemplar_landmarks=faces["ex_lm"], patch_iterations=3, **hatching)
    assert numpy.array_equal(on, expected)
    assert refined.brush().patch_iterations == 3 and plain.brush().patch_iterations == 0
    canvas = LabelPainter(2, size)
    assert refined.recipe_entry(canvas, target=faces["target"])["patch_iterations"] == 3
    assert plain.recipe_entry(canvas, target=faces["target"])["patch_iterations"] == 0
    plain.patch_iterations = numpy.int64(3)
    assert plain.patch_iterations == 3 and type(plain.patch_iterations) is int
    assert numpy.array_equal(plain.preview(alpha), on) and plain.timings["synthesis_ms"] > 0
    plain.patch_iterations = 3
    assert numpy.array_equal(plain.preview(alpha), on) and plain.timings["synthesis_ms"] == 0
    for bad in (-1, 11, 1.0, True, "3", None):
        with pytest.raises(ValueError, match=r"patch_iterations must be an integer in \[0, 10\]") as caught:
            _session(faces, patch_iterations=bad)
        assert "\n" not in str(caught.value)
        with pytest.raises(ValueError, match="patch_iterations must be"):
            plain.patch_iterations = bad
        with pytest.raises(ValueError, match="patch_iterations must be"):
            st.StyleBrush(faces["target"], faces["hatch"], photo_landmarks=faces["target_lm"],
                          exemplar_landmarks=faces["ex_lm"], patch_iterations=bad)
    assert plain.patch_iterations == 3
    plain.patch_iterations = 0
    assert numpy.array_equal(plain.preview(alpha), off)

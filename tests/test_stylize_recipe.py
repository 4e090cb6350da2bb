"""Style painting in painting recipes: recorded by the headless painter, replayed bit for bit, exemplars checked."""
import json
import os
import shutil

import numpy
import pytest

from neuralcollage import painting
from neuralcollage import stylize as st
from neuralcollage.io import read_image, write_image
from neuralcollage.stylize.exemplars import builtin_exemplar, exemplar_from_file, pixels_sha256
from neuralcollage.stylize.recipe import StyleRecipeError, check_style_entry, paths_relative_to
from neuralcollage.widgets.session import PainterSession

from nc_testing import painting_generator

DATA = os.path.join(os.path.dirname(__file__), "data", "painting_recipes")
SIZE = 32


@pytest.fixture(scope="module")
def gen():
    return painting_generator()


@pytest.fixture(scope="module")
def face_landmarks():
    from neuralcollage.datasets import render_landmarks
    return render_landmarks(5, size=SIZE)


@pytest.fixture()
def exemplar_file(tmp_path):
    spec = builtin_exemplar("watercolour", size=SIZE)
    path = tmp_path / "ex" / "water.png"
    path.parent.mkdir()
    write_image(path, spec["image"])
    return path, spec["landmarks"]


def _painter(gen, face_landmarks, exemplars, **kw):
    session = st.StyleSession(exemplars, landmark_predictor=lambda image: face_landmarks, **kw)
    return PainterSession(gen, seed=3, class_id=0, threaded=False, style=session)


def _paint(p, *, style_name, seed=0, style_first=False):
    def style():
        p.choose_style(style_name, seed=seed)
        p.stroke([(8, 10), (24, 14)], mode="style", label=1, radius=6, hardness=0.6)
        p.stroke([(16, 26)], radius=4)

    if style_first:
        style()
    p.stroke([(4, 4), (20, 12)], mode="scbn", label=2, radius=5, hardness=0.5)
    if not style_first:
        style()
    return p.preview.copy()


@pytest.mark.parametrize("style_first", [False, True])
def test_a_stylised_painting_replays_bit_for_bit(gen, face_landmarks, exemplar_file, tmp_path, style_first):
    path, ex_lm = exemplar_file
    p = _painter(gen, face_landmarks, {"hatch": builtin_exemplar("hatch", size=SIZE),
                                       "water": exemplar_from_file(path, landmarks=ex_lm)})
    preview = _paint(p, style_name="water" if style_first else "hatch", seed=2, style_first=style_first)
    unstyled = p.render()
    painted = p.style_canvas.painted_alpha() > 0
    assert not numpy.array_equal(preview[painted], unstyled[painted])
    assert numpy.array_equal(preview[~painted], unstyled[~painted])
    assert numpy.array_equal(p.render_styled(), preview)
    out = p.export_recipe(tmp_path / "painting.json")
    recipe = json.loads(open(out).read())
    style = recipe["style"]
    assert recipe["version"] == 3 and style["order"] == "after_paintings" and style["seed"] == 2
    assert style["threshold"] == st.THRESHOLD and style["vote_sigma"] == st.VOTE_SIGMA
    assert style["blend_radius"] == st.BLEND_RADIUS and style["levels"] == list(st.LEVELS) and style["vote_stride"] == 1
    assert len(style["canvas"]["strokes"]) == 2 and len(recipe["class_canvas"]["strokes"]) == 1
    ex = style["exemplar"]
    if style_first:
        assert ex["source"] == "file" and ex["name"] == "water"
        assert ex["path"] == os.path.relpath(path, tmp_path).replace(os.sep, "/")    # beside the recipe
    else:
        assert ex == {**ex, "source": "builtin", "builtin": "hatch", "size": SIZE, "parts": False}
    assert ex["image_sha256"] == pixels_sha256(p.style_session.exemplar().image)
    assert numpy.array_equal(style["target_landmarks"], face_landmarks)
    again = painting.replay_recipe(open(out).read(), gen, base_dir=tmp_path)
    assert again.dtype == numpy.uint8 and numpy.array_equal(again, preview)
    without = dict(recipe)
    del without["style"]
    assert numpy.array_equal(painting.replay_recipe(without, gen), unstyled)


def test_a_changed_or_missing_exemplar_file_is_refused(gen, face_landmarks, exemplar_file, tmp_path):
    path, ex_lm = exemplar_file
    p = _painter(gen, face_landmarks, {"water": exemplar_from_file(path, landmarks=ex_lm)})
    preview = _paint(p, style_name="water")
    recipe = p.recipe()
    recipe["style"] = paths_relative_to(recipe["style"], tmp_path)
    assert recipe["style"]["exemplar"]["path"] == "ex/water.png"
    moved = tmp_path / "moved.png"
    shutil.copy(path, moved)
    image = read_image(path)
    image[0, 0] = 255 - image[0, 0]
    write_image(path, image)
    with pytest.raises(StyleRecipeError, match=r"^style exemplar 'water': file .*water.png has sha256 \w+\.\.\. "
                                               r"but the recipe was made with \w+\.\.\. \(a changed file\)$"):
        painting.replay_recipe(recipe, gen, base_dir=tmp_path)
    os.remove(path)
    with pytest.raises(StyleRecipeError, match=r"^style exemplar 'water': .*water.png: no such file$"):
        painting.replay_recipe(recipe, gen, base_dir=tmp_path)
    assert numpy.array_equal(painting.replay_recipe(recipe, gen, exemplar_paths={"water": moved}), preview)
    with pytest.raises(StyleRecipeError, match="pixels differ"):
        painting.replay_recipe(recipe, gen, exemplars={"water": {"image": image, "landmarks": ex_lm}})


def test_an_exemplar_given_in_code_must_be_given_again(gen, face_landmarks):
    spec = builtin_exemplar("hatch", size=SIZE)
    spec.pop("source")
    p = _painter(gen, face_landmarks, {"mine": spec}, vote_sigma=None, threshold=20, blend_radius=3)
    preview = _paint(p, style_name="mine", seed=7)
    recipe = p.recipe()
    style = recipe["style"]
    assert style["exemplar"]["source"] == "memory" and style["vote_sigma"] is None and style["blend_radius"] == 3
    with pytest.raises(StyleRecipeError, match="given in code.*exemplars="):
        painting.replay_recipe(recipe, gen)
    assert numpy.array_equal(painting.replay_recipe(recipe, gen, exemplars={"mine": spec}), preview)


def test_the_part_guide_is_recorded_and_rebuilt(gen, face_landmarks):
    p = _painter(gen, face_landmarks, {"parts": builtin_exemplar("hatch", size=SIZE, parts=True)})
    preview = _paint(p, style_name="parts")
    ex = p.recipe()["style"]["exemplar"]
    assert ex["parts"] is True and ex["n_labels"] == 5 and ex["labels_sha256"]
    assert numpy.array_equal(painting.replay_recipe(p.recipe(), gen), preview)


def test_recipes_without_style_are_unchanged(gen):
    from test_painting import make_attribute_recipe, make_recipe
    for name, (recipe, image) in {"v1_class_blend": make_recipe(gen)[:2],
                                  "v2_attribute": make_attribute_recipe(gen)[:2]}.items():
        stored = json.load(open(os.path.join(DATA, name + ".json")))
        assert recipe == stored and "style" not in recipe
        expected = read_image(os.path.join(DATA, name + ".png"))
        assert numpy.array_equal(painting.replay_recipe(stored, gen), expected)
        assert numpy.array_equal(image, expected)


def test_a_style_canvas_without_strokes_is_not_recorded(gen, face_landmarks):
    p = _painter(gen, face_landmarks, {"hatch": builtin_exemplar("hatch", size=SIZE)})
    p.stroke([(4, 4), (20, 12)], mode="scbn", label=2, radius=5)
    recipe = p.recipe()
    assert recipe["version"] == 1 and "style" not in recipe
    assert numpy.array_equal(painting.replay_recipe(recipe, gen), p.preview)


@pytest.mark.parametrize("change, message", [
    (lambda s: s.update(order="before"), "order must be"),
    (lambda s: s.update(seed=-1), "seed must be"),
    (lambda s: s.update(threshold=float("nan")), "threshold"),
    (lambda s: s.update(vote_sigma=0), "vote_sigma"),
    (lambda s: s.update(levels=[]), "levels"),
    (lambda s: s.update(vote_stride=0), "vote_stride"),
    (lambda s: s.update(guide_weights=[1, 1]), "guide_weights"),
    (lambda s: s.update(lattice="manual"), "lattice must be"),
    (lambda s: s.update(lattice=[[1, 2], [2, 4]]), "lattice .* singular"),
    (lambda s: s.update(lattice=[[0, 0], [0, 0]]), "lattice .* singular"),
    (lambda s: s.update(lattice=[[1.0, 0], [0, 1]]), "lattice must be"),
    (lambda s: s.update(lattice=[[True, 0], [0, 1]]), "lattice must be"),
    (lambda s: s.update(lattice=[[4097, 0], [0, 1]]), "lattice must be"),
    (lambda s: s.update(lattice=[1, 0, 0, 1]), "lattice must be"),
    (lambda s: s.update(lattice=[[1, 0, 0], [0, 1, 0]]), "lattice must be"),
    (lambda s: s.update(lattice=[[1, 0], [0, 1], [1, 1]]), "lattice must be"),
    (lambda s: s.update(lattice={"a": 1}), "lattice must be"),
    (lambda s: s.update(patch_iterations=-1), r"patch_iterations must be an integer in \[0, 10\]"),
    (lambda s: s.update(patch_iterations=11), r"patch_iterations must be an integer in \[0, 10\]"),
    (lambda s: s.update(patch_iterations=3.0), "patch_iterations must be"),
    (lambda s: s.update(patch_iterations=True), "patch_iterations must be"),
    (lambda s: s.update(patch_iterations="3"), "patch_iterations must be"),
    (lambda s: s.update(patch_iterations=None), "patch_iterations must be"),
    (lambda s: s.update(patch_iterations=[3]), "patch_iterations must be"),
    (lambda s: s["canvas"].update(size=[64, 64]), "canvas is"),
    (lambda s: s["canvas"].update(n_labels=3), "2 labels"),
    (lambda s: s.update(target_landmarks=s["target_landmarks"][:-1]), "differ in length"),
    (lambda s: s["exemplar"].update(source="url"), "source must be"),
    (lambda s: s["exemplar"].update(builtin="oil"), "builtin must be"),
    (lambda s: s["exemplar"].update(image_sha256="00"), "image_sha256"),
    (lambda s: s.pop("exemplar"), "missing 'exemplar'"),
])
def test_bad_style_entries_say_what_is_wrong(gen, face_landmarks, change, message):
    p = _painter(gen, face_landmarks, {"hatch": builtin_exemplar("hatch", size=SIZE)})
    _paint(p, style_name="hatch")
    recipe = p.recipe()
    check_style_entry(recipe["style"], size=(SIZE, SIZE))
    change(recipe["style"])
    with pytest.raises(ValueError, match=message) as caught:
        painting.check_recipe(recipe, gen)
    assert "\n" not in str(caught.value)
    for field in ("lattice", "patch_iterations"):
        if field not in message:
            continue
        assert isinstance(caught.value, StyleRecipeError) and field in str(caught.value)
        with pytest.raises(StyleRecipeError, match=message):
            check_style_entry(recipe["style"], size=(SIZE, SIZE))
    recipe["version"] = 2
    recipe.pop("style")
    painting.check_recipe(recipe, gen)


def test_collage_replay_replays_a_painting(gen, face_landmarks, exemplar_file, tmp_path, monkeypatch, capsys):
    from neuralcollage import save_snapshot
    from neuralcollage.cli import main
    path, ex_lm = exemplar_file
    monkeypatch.chdir(tmp_path)
    save_snapshot(gen, "gen.npz", kind="generator")
    p = _painter(gen, face_landmarks, {"water": exemplar_from_file(path, landmarks=ex_lm)})
    preview = _paint(p, style_name="water", seed=1)
    p.export_recipe("painting.json")
    assert main(["replay", "painting.json", "--model", "gen.npz", "-o", "again.png"]) == 0
    assert numpy.array_equal(read_image("again.png"), preview)
    write_image(path, 255 - read_image(path))
    capsys.readouterr()
    assert main(["replay", "painting.json", "--model", "gen.npz", "-o", "bad.png"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "has sha256" in err and "water" in err
    assert not os.path.exists("bad.png")


@pytest.mark.parametrize("recorded", ["/etc/passwd", "../water.png", "ex/../../water.png", "~/water.png",
                                      "C:/water.png"])
def test_a_recipe_cannot_choose_an_exemplar_file_outside_its_folder(gen, face_landmarks, exemplar_file, tmp_path,
                                                                   recorded):
    path, ex_lm = exemplar_file
    p = _painter(gen, face_landmarks, {"water": exemplar_from_file(path, landmarks=ex_lm)})
    preview = _paint(p, style_name="water", seed=1)
    recipe = p.recipe()
    recipe["style"]["exemplar"]["path"] = recorded
    with pytest.raises(StyleRecipeError, match="outside the recipe's folder.*--style-exemplar water=PATH") as info:
        painting.replay_recipe(recipe, gen, base_dir=tmp_path / "ex")
    assert "\n" not in str(info.value)
    # the user names the file: it replays
    again = painting.replay_recipe(recipe, gen, base_dir=tmp_path / "ex", exemplar_paths={"water": path})
    assert numpy.array_equal(again, preview)


def test_an_exemplar_that_is_not_a_regular_file_is_refused(gen, face_landmarks, exemplar_file, tmp_path):
    path, ex_lm = exemplar_file
    p = _painter(gen, face_landmarks, {"water": exemplar_from_file(path, landmarks=ex_lm)})
    _paint(p, style_name="water", seed=1)
    recipe = p.recipe()
    (tmp_path / "folder").mkdir()
    recipe["style"]["exemplar"]["path"] = "folder"
    with pytest.raises(StyleRecipeError, match="is a directory"):
        painting.replay_recipe(recipe, gen, base_dir=tmp_path)


def test_an_exemplar_outside_the_recipes_folder_keeps_its_path_and_needs_naming(gen, face_landmarks, exemplar_file,
                                                                              tmp_path):
    path, ex_lm = exemplar_file
    p = _painter(gen, face_landmarks, {"water": exemplar_from_file(path, landmarks=ex_lm)})
    _paint(p, style_name="water", seed=1)
    (tmp_path / "recipes").mkdir()
    out = p.export_recipe(tmp_path / "recipes" / "painting.json")
    recorded = json.loads(open(out).read())["style"]["exemplar"]["path"]
    assert recorded == str(path) and os.path.isabs(recorded)
    with pytest.raises(StyleRecipeError, match="outside the recipe's folder"):
        painting.replay_recipe(open(out).read(), gen, base_dir=tmp_path / "recipes")


def test_the_lattice_is_recorded_and_replayed(gen, face_landmarks, tmp_path):
    """``lattice="auto"`` (hatch exemplar of the canvas's size, so there is a lattice) is recorded, replays bit for
    bit and differs from the same recipe with null; a recipe without the key (made before it) replays as null."""
    p = _painter(gen, face_landmarks, {"hatch": builtin_exemplar("hatch", size=SIZE)}, lattice="auto")
    preview = _paint(p, style_name="hatch", seed=1)
    out = p.export_recipe(tmp_path / "painting.json")
    recipe = json.loads(open(out).read())
    assert recipe["style"]["lattice"] == "auto"
    assert numpy.array_equal(painting.replay_recipe(open(out).read(), gen, base_dir=tmp_path), preview)
    off = json.loads(json.dumps(recipe))
    off["style"]["lattice"] = None
    unsnapped = painting.replay_recipe(off, gen)
    assert not numpy.array_equal(unsnapped, preview)
    plain = _painter(gen, face_landmarks, {"hatch": builtin_exemplar("hatch", size=SIZE)})
    assert numpy.array_equal(_paint(plain, style_name="hatch", seed=1), unsnapped)
    assert plain.recipe()["style"]["lattice"] is None
    old = json.loads(json.dumps(off))
    del old["style"]["lattice"]
    check_style_entry(old["style"], size=(SIZE, SIZE))
    assert numpy.array_equal(painting.replay_recipe(old, gen), unsnapped)
    given = _painter(gen, face_landmarks, {"hatch": builtin_exemplar("hatch", size=SIZE)},
                     lattice=numpy.array([[1, -2], [-1, -1]]))
    shown = _paint(given, style_name="hatch", seed=1)
    recorded = given.recipe()
    assert recorded["style"]["lattice"] == [[1, -2], [-1, -1]]
    assert numpy.array_equal(painting.replay_recipe(json.loads(json.dumps(recorded)), gen), shown)


def test_patch_iterations_are_recorded_and_replayed(gen, face_landmarks, tmp_path):
    """``patch_iterations=3`` with the hatching combination is recorded, replays bit for bit and differs from the
    same recipe with 0; a painting without it records 0; a recipe without the key (made before it) checks and
    replays as 0, bit for bit as the painter without the option."""
    hatching = dict(lattice="auto", blend_radius=1, vote_stride=1)
    p = _painter(gen, face_landmarks, {"hatch": builtin_exemplar("hatch", size=SIZE)}, patch_iterations=3,
                 **hatching)
    preview = _paint(p, style_name="hatch", seed=1)
    out = p.export_recipe(tmp_path / "painting.json")
    recipe = json.loads(open(out).read())
    assert recipe["style"]["patch_iterations"] == 3
    assert numpy.array_equal(painting.replay_recipe(open(out).read(), gen, base_dir=tmp_path), preview)
    off = json.loads(json.dumps(recipe))
    off["style"]["patch_iterations"] = 0
    unrefined = painting.replay_recipe(off, gen)
    assert not numpy.array_equal(unrefined, preview)
    plain = _painter(gen, face_landmarks, {"hatch": builtin_exemplar("hatch", size=SIZE)}, **hatching)
    assert numpy.array_equal(_paint(plain, style_name="hatch", seed=1), unrefined)
    assert plain.recipe()["style"]["patch_iterations"] == 0
    old = json.loads(json.dumps(off))
    del old["style"]["patch_iterations"]
    check_style_entry(old["style"], size=(SIZE, SIZE))
    assert numpy.array_equal(painting.replay_recipe(old, gen), unrefined)

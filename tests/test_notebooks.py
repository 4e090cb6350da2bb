"""Execute every notebook headless with scripted strokes and the tiny random model.

The notebooks assert on what they produce; a failing assertion or any error fails the test.  Outputs must
be stripped in git (checked here too, on the JSON; the schema validation is slow because importing nbformat's
validator takes seconds).
"""
import json
import os
import pathlib

import pytest

# What each notebook saves, relative to its working directory (notebooks/ in JupyterLab; ignored by git).
SAVES = {"02_paint_label_map": {"out/02_paint_label_map/label_map.npz", "out/02_paint_label_map/recipe.json"},
         "03_edit_real_photo": {"out/03_edit_real_photo/photo_edit.json"},
         "06_stylize": {"out/06_stylize/exemplar_landmarks.json"}}
NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_the_notebooks_exist():
    assert [p.stem for p in NOTEBOOKS] == ["01_quickstart", "02_paint_label_map", "03_edit_real_photo",
                                           "04_feature_blending", "05_layer_ablation", "06_stylize"]


def notebook_tools():
    """nbformat and nbclient, or skip: imported by the tests that need them, not at collection."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("ipympl")
    return nbformat, nbclient


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_outputs_are_stripped(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["nbformat"] == 4
    code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"]
    assert code, f"{path.name}: no code cells"
    for cell in code:
        assert cell["outputs"] == [] and cell["execution_count"] is None, f"{path.name}: strip the outputs"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_valid(path):
    nbformat, _ = notebook_tools()
    nbformat.validate(nbformat.read(str(path), as_version=4))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    monkeypatch.setenv("NEURALCOLLAGE_SCRIPTED", "1")
    monkeypatch.setenv("NEURALCOLLAGE_NOTEBOOK_MODEL", os.environ.get("NEURALCOLLAGE_TEST_NOTEBOOK_MODEL", "tiny"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    nbformat, nbclient = notebook_tools()
    nb = nbformat.read(str(path), as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=600,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, "the notebook should show figures"
    saved = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert saved == SAVES.get(path.stem, set()), "a notebook saves only under out/<its name>/ (notebooks/out/)"

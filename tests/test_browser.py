"""Real-browser test of the brush painter: JupyterLab driven by Playwright with Debian's Chromium.

Opens ``notebooks/02_paint_label_map.ipynb`` in JupyterLab (tiny random model, no scripted strokes), runs
the cells up to the painter, draws a stroke with the mouse on the paint canvas, and checks that the kernel
recorded it (the status line), that the paint panel changed and that the preview image was replaced.
Screenshots are written to ``$NEURALCOLLAGE_BROWSER_ARTIFACTS`` when set.

Needs ``pip install jupyterlab playwright`` and ``apt-get install chromium`` (no ``playwright install``);
skipped otherwise.  Slow (a JupyterLab server and a browser start): run with
``pytest --runslow -m browser tests/test_browser.py``.
"""
import importlib.util
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

CHROMIUM = os.environ.get("NEURALCOLLAGE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
NOTEBOOK = pathlib.Path(__file__).resolve().parent.parent / "notebooks" / "02_paint_label_map.ipynb"
MISSING = [name for name in ("playwright", "jupyterlab", "ipympl") if importlib.util.find_spec(name) is None]
if not os.path.exists(CHROMIUM):
    MISSING.append(CHROMIUM)

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(bool(MISSING), reason=f"browser test needs {', '.join(MISSING)}")]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on a copy of the painting notebook: yields its notebook URL."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    port, token = free_port(), "neuralcollage-browser-test"
    env = dict(os.environ, NEURALCOLLAGE_NOTEBOOK_MODEL="tiny", JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_DATA_DIR=str(tmp_path / "data"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"))
    env.pop("NEURALCOLLAGE_SCRIPTED", None)
    with open(tmp_path / "server.log", "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--allow-root",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not start:\n" + (tmp_path / "server.log").read_text()[-3000:])
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK.name}?token={token}"
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()


def test_paint_a_stroke_in_jupyterlab(lab, tmp_path):
    from playwright.sync_api import sync_playwright

    artifacts = pathlib.Path(os.environ.get("NEURALCOLLAGE_BROWSER_ARTIFACTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(lab)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
            page.wait_for_function(
                "() => (document.querySelector('#jp-main-statusbar') || {innerText: ''}).innerText.includes('Idle')",
                timeout=90_000)
            page.locator(".jp-Notebook .jp-Cell").first.click()
            page.keyboard.press("Escape")
            for _ in range(3):                     # title, setup, painter
                page.keyboard.press("Shift+Enter")
            paint = page.locator(".neuralcollage-paint canvas").last
            paint.wait_for(state="visible", timeout=120_000)
            preview = page.locator("img.neuralcollage-preview")
            preview.wait_for(state="visible", timeout=60_000)
            paint.scroll_into_view_if_needed()
            time.sleep(1.0)
            before_paint = page.locator(".neuralcollage-paint").screenshot(path=str(artifacts / "paint_before.png"))
            before_preview = preview.screenshot(path=str(artifacts / "preview_before.png"))
            before_src = preview.get_attribute("src")

            box = paint.bounding_box()
            x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
            page.mouse.move(x0 + 0.2 * w, y0 + 0.3 * h)
            page.mouse.down()
            for i in range(1, 13):
                page.mouse.move(x0 + (0.2 + 0.05 * i) * w, y0 + (0.3 + 0.03 * i) * h)
            page.mouse.up()

            page.wait_for_function(
                "src => document.querySelector('img.neuralcollage-preview').src !== src", arg=before_src,
                timeout=60_000)
            status = page.locator(".widget-html-content", has_text="class strokes").first
            page.wait_for_function(
                "() => Array.from(document.querySelectorAll('.widget-html-content'))"
                ".some(e => e.innerText.includes('class strokes 1,'))", timeout=30_000)
            time.sleep(1.5)                            # let the canvas receive its redraw
            after_paint = page.locator(".neuralcollage-paint").screenshot(path=str(artifacts / "paint_after.png"))
            after_preview = preview.screenshot(path=str(artifacts / "preview_after.png"))
            page.screenshot(path=str(artifacts / "lab.png"))
            text = status.inner_text()
        finally:
            browser.close()
    assert "class strokes 1," in text and "dog" in text, text
    assert after_paint != before_paint, "the paint panel should show the stroke"
    assert after_preview != before_preview, "the preview should have been regenerated"

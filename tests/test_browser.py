"""A real browser: JupyterLab on localhost, notebook 04 opened in headless Chromium
driven by Playwright; run the D* explorer, move its slider, see the output change.

Screenshots go to ci-artifacts/ (before and after moving the slider, and the whole
window). The test needs Playwright (a dev dependency) and a Chromium or Chrome
executable (``chromium`` on PATH, or ``GANTUTOR_CHROMIUM=/path/to/chrome``); where
either is missing it is skipped with the reason, except in CI (``CI=true``), where
that is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "04_gan_objective.ipynb"
WIDGET_CALL = "dstar_explorer("  # the cell that shows the widget calls this
ARTIFACTS = ROOT / "ci-artifacts"

# Chromium flags that keep it offline and quiet (no background connections, no
# first-run pages, no component updates); --no-sandbox because CI runs as root.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-dev-shm-usage"]
# JupyterLab settings for the test: every cell in the page (no virtual scrolling),
# no news or update checks (they would go to the internet)
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                     "checkForUpdates": False},
}
START_TIMEOUT = 90  # s, JupyterLab's start
RUN_TIMEOUT = 300  # s, the cells above the widget (fast budget)


def chromium_executable() -> str | None:
    if os.environ.get("GANTUTOR_CHROMIUM"):
        return os.environ["GANTUTOR_CHROMIUM"]
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def skip_or_fail(reason: str):
    """Skip on a learner's machine; fail in CI, where the browser must be there."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI=true: .ci/run installs it)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyter_lab(tmp_path):
    """A JupyterLab server on 127.0.0.1 with authentication off, serving a folder of
    its own (with its own settings, data and runtime folders); yields (url, folder)."""
    root, settings = tmp_path / "lab", tmp_path / "settings"
    root.mkdir()
    for name, values in LAB_SETTINGS.items():
        path = settings / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = dict(os.environ, GANTUTOR_FAST="1",
               JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_DATA_DIR=str(tmp_path / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               IPYTHONDIR=str(tmp_path / "ipython"))
    env.pop("MPLBACKEND", None)  # the kernel draws inline, as on a learner's machine
    # the kernel runs in this environment, where gantutor is installed
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    log = open(tmp_path / "jupyter.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
         "--ip=127.0.0.1", f"--port={free_port()}", "--IdentityProvider.token=",
         "--ServerApp.password=", f"--ServerApp.root_dir={root}",
         f"--LabApp.user_settings_dir={settings}",
         f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
         "--LabApp.extension_manager=readonly", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = wait_for_server(server, tmp_path / "runtime", tmp_path / "jupyter.log")
        yield url, root
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its kernels
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def wait_for_server(server, runtime: Path, log: Path) -> str:
    """The server's address, read from the file it writes once it listens."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited:\n{log.read_text()[-3000:]}")
        for info in runtime.glob("jpserver-*.json"):
            port = json.loads(info.read_text())["port"]
            url = f"http://127.0.0.1:{port}"
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=5):
                    return url
            except OSError:
                pass
        time.sleep(0.5)
    pytest.fail(f"JupyterLab did not start in {START_TIMEOUT} s:\n"
                f"{log.read_text()[-3000:]}")


def widget_cell_index(nb) -> int:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and WIDGET_CALL in cell.source:
            return i
    pytest.fail(f"{NOTEBOOK.name} has no code cell calling {WIDGET_CALL}...)")


CELLS = ".jp-NotebookPanel .jp-Notebook .jp-Cell"
STDERR = "[data-mime-type='application/vnd.jupyter.stderr']"
# the cells above the widget cell have all run, or one of them failed
ABOVE_DONE = """([selector, stderr, k]) => {
    const cells = [...document.querySelectorAll(selector)].slice(0, k);
    const failed = cells.some(c => [...c.querySelectorAll(stderr)]
        .some(o => o.innerText.includes('Traceback')));
    return failed || cells.filter(c => c.classList.contains('jp-CodeCell'))
        .every(c => /^\\[\\d+\\]/.test(c.querySelector('.jp-InputPrompt').innerText));
}"""
CHANGED = "([el, old]) => el.innerText.trim() !== old"
NEW_IMAGE = ("([el, old]) => el.querySelector('img') !== null && "
             "el.querySelector('img').src !== old")


def test_dstar_explorer_responds_to_its_slider_in_jupyterlab(jupyter_lab):
    chromium = chromium_executable()
    if chromium is None:
        skip_or_fail("no Chromium or Chrome found (install chromium, or set "
                     "GANTUTOR_CHROMIUM)")
    try:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -e '.[dev]')")
    if not NOTEBOOK.exists():
        skip_or_fail(f"{NOTEBOOK.relative_to(ROOT)} does not exist yet")
    url, root = jupyter_lab
    # a copy without outputs: everything on screen comes from this browser session
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, root / NOTEBOOK.name)
    k = widget_cell_index(nb)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"browser_{NOTEBOOK.stem}"

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                     args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        # nothing leaves this machine: every request not to the server is refused
        context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/])"),
                      lambda route: route.abort())
        page = context.new_page()
        try:
            page.goto(f"{url}/lab/tree/{NOTEBOOK.name}")
            page.get_by_text("| Idle").wait_for(timeout=START_TIMEOUT * 1000)
            cells = page.locator(CELLS)
            assert cells.count() == len(nb.cells)
            cell = cells.nth(k)

            # select the widget cell; Run > Run All Above Selected Cell; Shift+Enter
            cell.locator(".jp-InputPrompt").click()
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_text("Run All Above Selected Cell").click()
            page.wait_for_function(ABOVE_DONE, arg=[CELLS, STDERR, k],
                                   timeout=RUN_TIMEOUT * 1000)
            tracebacks = page.locator(f"{CELLS} {STDERR}",
                                      has_text="Traceback").all_inner_texts()
            assert not tracebacks, f"a cell above the widget failed:\n{tracebacks[0]}"
            cell.locator(".jp-InputPrompt").click()
            page.keyboard.press("Shift+Enter")

            slider = cell.locator(".widget-slider").first
            slider.wait_for(timeout=60_000)
            readout = cell.locator(".widget-html-content").first
            image = cell.locator(".widget-output img").first
            image.wait_for(timeout=60_000)
            handle = slider.locator(".noUi-handle")
            before = (readout.inner_text().strip(), image.get_attribute("src"),
                      float(handle.get_attribute("aria-valuenow")))
            cell.screenshot(path=f"{shot}_before.png")

            # drag the first slider's handle 30 px to the left, as a learner would
            box = handle.bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x - 30, y, steps=6)
            page.mouse.up()
            try:
                page.wait_for_function(
                    CHANGED, arg=[readout.element_handle(), before[0]],
                    timeout=30_000)
                page.wait_for_function(
                    NEW_IMAGE,
                    arg=[cell.locator(".widget-output").element_handle(), before[1]],
                    timeout=30_000)
            except PlaywrightTimeout:
                pytest.fail("moving the slider did not change the readout and the "
                            f"figure within 30 s (see {shot}_failure.png)")
            after = (readout.inner_text().strip(),
                     cell.locator(".widget-output img").first.get_attribute("src"),
                     float(handle.get_attribute("aria-valuenow")))
            cell.screenshot(path=f"{shot}_after.png")
            page.screenshot(path=f"{shot}_window.png")
        except BaseException:  # pytest.fail too: keep a picture of what was on screen
            page.screenshot(path=f"{shot}_failure.png")
            raise
        finally:
            browser.close()

    assert after[2] < before[2], "the slider did not move"
    assert after[0] != before[0], "the readout did not change"
    assert after[1] != before[1], "the figure was not redrawn"

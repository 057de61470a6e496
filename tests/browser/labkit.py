"""JupyterLab / Notebook 7 + Debian Chromium for the browser tests and the player benchmark.

The server runs from this interpreter's environment (so its kernel is this venv's ipykernel)
on 127.0.0.1 with no token, in a temporary root with its own settings, so nothing from the
developer's own Jupyter set-up leaks in. Chromium is /usr/bin/chromium, never a download.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
BUNDLE = REPO / "vseg_widgets" / "static" / "player.js"
STANDALONE_BUNDLE = REPO / "vseg_widgets" / "static" / "standalone.js"  # seg.to_html's player
ARTIFACTS = REPO / "tests" / "artifacts"  # git-ignored
#: The front ends the tests drive: the module run with ``python -m`` and the traitlets class
#: of the app (for the settings folders). Both build on the same notebook widgets (``.jp-*``).
APPS = {"lab": ("jupyterlab", "LabApp"), "notebook": ("notebook", "JupyterNotebookApp")}
APP_REQUIREMENT = {"lab": "jupyterlab>=4", "notebook": "notebook>=7", "marimo": "marimo>=0.25"}


def missing_requirements(app: str = "lab") -> list[str]:
    """What the browser tests of ``app`` ("lab" or "notebook") lack here (empty when they can run)."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} is absent (apt-get install chromium)")
    for bundle in (BUNDLE, STANDALONE_BUNDLE):
        if not bundle.exists():
            missing.append(f"the player bundle {bundle} is not built (npm ci --prefix js && npm run build --prefix js)")
    module = APPS[app][0] if app in APPS else app  # marimo is not a Jupyter app
    try:
        version = importlib.metadata.version(module)
    except importlib.metadata.PackageNotFoundError:
        version = None
    if version is None:
        missing.append(f"{module} is not installed in this environment (pip install '{APP_REQUIREMENT[app]}')")
    elif app == "notebook" and int(version.split(".")[0]) < 7:
        missing.append(f"notebook {version} is installed but the test drives Notebook 7 (pip install '{APP_REQUIREMENT[app]}')")
    return missing


def write_notebook(path: Path, cells: list[str]) -> None:
    """A notebook of code cells with python3 kernelspec metadata (else Lab asks for a kernel)."""
    nb = {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": f"cell{i}", "metadata": {}, "outputs": [], "source": src}
            for i, src in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb, indent=1))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]




def jupyterlab(root: Path, home: Path, timeout: float = 120):
    """Run JupyterLab serving ``root`` (settings under ``home``); yields its base URL."""
    return jupyter_server(root, home, "lab", timeout)


@contextlib.contextmanager
def jupyter_server(root: Path, home: Path, app: str = "lab", timeout: float = 120) -> Iterator[str]:
    """Run JupyterLab (``app="lab"``) or Notebook 7 (``"notebook"``) serving ``root``, with its
    settings under ``home``; yields its base URL."""
    module, app_class = APPS[app]
    # This venv's kernel under the name the notebooks ask for ("python3"); JUPYTER_PATH
    # comes first in Jupyter's search, so no other python3 kernelspec can win.
    spec = home / "data" / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }))
    config = home / "config"
    (config / "labconfig").mkdir(parents=True, exist_ok=True)
    # No "receive Jupyter news?" toast over the page.
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    env = {
        **os.environ,
        "JUPYTER_PATH": str(home / "data"),
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "IPYTHONDIR": str(home / "ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    port = _free_port()
    command = [
        sys.executable, "-m", module, "--no-browser", "--allow-root",  # CI runs as root
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        "--IdentityProvider.token=", "--ServerApp.password=",
        f"--ServerApp.root_dir={root}",
        f"--{app_class}.user_settings_dir={home / 'settings'}", f"--{app_class}.workspaces_dir={home / 'workspaces'}",
    ]
    with _serve(command, env, root, port, "/api/status", module, home / f"{app}.log", timeout) as url:
        yield url


@contextlib.contextmanager
def _serve(command: list[str], env: dict, cwd, port: int, health: str, name: str, log_path: Path, timeout: float,
           **popen) -> Iterator[str]:
    """Run a web server ``command`` logging to ``log_path``; yield its URL once ``health``
    answers 200, and stop it afterwards. A server that exits or is not up in ``timeout``
    seconds raises, with the end of its log."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, **popen)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with urllib.request.urlopen(f"{url}{health}", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start; its log:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.contextmanager
def marimo_server(app_file: Path, home: Path, timeout: float = 120) -> Iterator[str]:
    """Run ``marimo run app_file`` (the notebook as an app: cells run once, UI live) from this
    interpreter, on 127.0.0.1 with no token, its settings under ``home``; yields its URL."""
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(home / "config"),  # marimo's user config: none of the developer's
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_STATE_HOME": str(home / "state"),
        "MARIMO_SKIP_UPDATE_CHECK": "1",  # no look-up of a newer marimo on the network
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    }
    port = _free_port()
    command = [sys.executable, "-m", "marimo", "run", str(app_file), "--headless", "--host", "127.0.0.1",
               "--port", str(port), "--no-token", "--no-sandbox"]
    with _serve(command, env, app_file.parent, port, "/health", "marimo", home / "marimo.log", timeout,
                stdin=subprocess.DEVNULL) as url:
        yield url


@contextlib.contextmanager
def chromium(headless: bool = True):
    """A Playwright Browser on /usr/bin/chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=headless, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Notebook:
    """Runs cells of the open notebook through the JupyterLab UI and reads probe outputs."""

    def __init__(self, page):
        self.page = page
        self.runs = 0

    def wait_for_kernel(self, timeout: float = 120_000) -> None:
        # Cells run before the kernel is connected can be dropped: wait for it to be idle.
        self.page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status=idle]", timeout=timeout)

    def run(self, index: int, attempts: int = 3):
        """Run cell ``index`` (Shift+Enter) and wait until its prompt changes; retried if dropped."""
        cell = self.page.locator(".jp-Notebook .jp-Cell").nth(index)
        prompt = cell.locator(".jp-InputPrompt")
        before = prompt.inner_text()
        for attempt in range(attempts):
            cell.locator(".jp-InputArea-editor").click()
            self.page.keyboard.press("Shift+Enter")
            try:
                # "[*]:" once queued, "[n]:" once run; a prompt still rendering ("" -> "[ ]:") is no run
                self.page.wait_for_function(
                    "([el, before]) => { const t = el.textContent.trim(); return /\\[(\\*|\\d+)\\]/.test(t) && t !== before.trim(); }",
                    arg=[prompt.element_handle(), before],
                    timeout=20_000,
                )
                return cell
            except Exception:
                if attempt == attempts - 1:
                    raise
        return cell

    def probe(self, index: int, timeout: float = 60_000) -> dict:
        """Run a cell that prints ``PROBE {"run": RUN, ...}`` and return the JSON it printed."""
        from playwright.sync_api import expect

        self.runs += 1
        out = self.run(index).locator(".jp-OutputArea-output")
        expect(out).to_contain_text(f'"run": {self.runs},', timeout=timeout)
        return json.loads(out.inner_text().split("PROBE ", 1)[1].strip())

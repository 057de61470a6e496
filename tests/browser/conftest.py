"""Fixtures for the real-browser tests (see labkit.py): Jupyter servers, Chromium, a page.

``lab`` is JupyterLab, ``notebook7`` is Notebook 7; each serves its own temporary root
(``lab_root`` / ``nb_root``) with its own settings, so the two never share state.
"""

from __future__ import annotations

import os

import pytest

from labkit import chromium, jupyter_server, missing_requirements


def require_browser(app: str = "lab") -> None:
    """Skip without Chromium, the JS bundle or the app, or fail when VSEG_REQUIRE_BROWSER is set."""
    missing = missing_requirements(app)
    if missing:
        reason = "; ".join(missing)
        if os.environ.get("VSEG_REQUIRE_BROWSER"):
            pytest.fail(f"VSEG_REQUIRE_BROWSER is set but {reason}.")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory):
    return tmp_path_factory.mktemp("lab_root")


@pytest.fixture(scope="module")
def lab_home(tmp_path_factory):
    """JupyterLab's settings, config and kernelspec folder (settings/ holds user settings)."""
    return tmp_path_factory.mktemp("jupyter_home")


@pytest.fixture(scope="module")
def lab(lab_root, lab_home):
    """Base URL of a JupyterLab server serving ``lab_root``; stopped after the module."""
    require_browser("lab")
    with jupyter_server(lab_root, lab_home, "lab") as url:
        yield url


@pytest.fixture(scope="module")
def nb_root(tmp_path_factory):
    return tmp_path_factory.mktemp("nb_root")


@pytest.fixture(scope="module")
def notebook7(nb_root, tmp_path_factory):
    """Base URL of a Notebook 7 server (``jupyter notebook``) serving ``nb_root``."""
    require_browser("notebook")
    with jupyter_server(nb_root, tmp_path_factory.mktemp("notebook_home"), "notebook") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    require_browser()
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    context.close()

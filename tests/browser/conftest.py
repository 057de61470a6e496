"""Fixtures for the real-browser test (see labkit.py): a JupyterLab server, Chromium, a page."""

from __future__ import annotations

import os

import pytest

from labkit import chromium, jupyterlab, missing_requirements


def require_browser() -> None:
    """Skip without Chromium or the JS bundle, or fail when VSEG_REQUIRE_BROWSER is set."""
    missing = missing_requirements()
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
    require_browser()
    with jupyterlab(lab_root, lab_home) as url:
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

"""Shared fixtures: synthetic videos with ground truth, and the DAVIS dev set when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import vseg_widgets as vw

REPO = Path(__file__).resolve().parents[1]
DAVIS_ROOT = vw.datasets.find_davis(REPO)


@pytest.fixture(scope="session")
def synthetic_video():
    """(video, gt): the default 48-frame 320x240 synthetic video with two objects."""
    return vw.datasets.synthetic()


@pytest.fixture(scope="session")
def davis_root() -> Path:
    """The DAVIS 2016 dev folder (../shared/data/davis2016-dev); skips when absent."""
    if DAVIS_ROOT is None:
        if os.environ.get("VSEG_REQUIRE_DAVIS"):
            pytest.fail("VSEG_REQUIRE_DAVIS is set but ../shared/data/davis2016-dev was not found.")
        pytest.skip("../shared/data/davis2016-dev is absent (set VSEG_DAVIS_ROOT to a DAVIS folder).")
    return DAVIS_ROOT

"""The SAM 2 engine is an optional extra: without it, vseg_widgets imports and says how to get it.

Runs in every environment; the checks that need sam2 *absent* skip where it is installed.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import vseg_widgets as vw
from vseg_widgets.engines import sam2 as adapter


def sam2_importable() -> bool:
    try:  # a submodule: this very folder is a namespace package named sam2 on sys.path
        return importlib.util.find_spec("sam2.build_sam") is not None
    except ImportError:
        return False


def test_available_tells_whether_the_extra_is_installed():
    assert adapter.available() is sam2_importable()


def test_without_sam2_the_engine_says_how_to_install_it():
    if sam2_importable():
        pytest.skip("sam2 is installed here; tests/sam2_engine/test_sam2_engine.py covers the engine")
    with pytest.raises(ImportError, match=r'pip install "vseg_widgets\[sam2\]"'):
        adapter.SAM2(model="tiny", checkpoint="sam2.1_hiera_tiny.pt")
    with pytest.raises(ImportError, match=r"vseg_widgets\[sam2\]"):
        vw.Segmenter(np.zeros((2, 32, 32, 3), np.uint8), engine="sam2")


def test_device_choice_needs_no_sam2(capsys):
    assert adapter.pick_device("cpu").type == "cpu"
    assert "SAM 2 engine on cpu (as asked)" in capsys.readouterr().out

"""The output folder of a batch: one folder per finished video, written atomically, so a
rerun with the same ``out`` knows what is done.

Layout (``out/<video>/``)::

    result.json      what the video produced: its tables (see :func:`table_to_json`), the
                     engine and settings it was made with, timings
    masks/00000.png  the masks, DAVIS-style indexed PNGs (mask_format="png"), or
    masks.json       the masks as COCO RLE (mask_format="coco", MaskStore.to_coco_json)

A video's folder is written under a hidden temporary name and renamed into place when
complete: a crash or a kill leaves either no folder or a whole one, and a folder without a
readable ``result.json`` is never taken for a finished video. Only the client writes here
(the workers send their results back), so ``out`` need not be visible to the workers.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import BatchOutputError, OutputPathError
from ..persist.atomic import fsync_quietly

FORMAT = "vseg_widgets.batch/1"
RESULT = "result.json"
OUR_FILES = {RESULT, "masks", "masks.json"}
TUPLE_COLUMNS = ("bbox", "centroid")  # to_dataframe() columns of tuples (JSON has only lists)


class ResultFolder:
    """``out`` of one batch: which videos are finished there, and writing new ones.

    Args:
        path: the folder (created with its parents if missing).
        task: "propagate" or "evaluate_davis": results of one are not taken for the other.
        settings: what the results depend on (engine name, mask format, ...); a finished
            video made with other settings raises BatchOutputError instead of being reused.
    """

    def __init__(self, path, task: str, settings: dict):
        self.path = Path(path).expanduser()
        self.task = task
        self.settings = json.loads(json.dumps(settings))  # as it reads back from a file
        if self.path.exists() and not self.path.is_dir():
            raise BatchOutputError(f"out={str(self.path)!r} is a file; give a folder for the results.")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputPathError(f"cannot create the output folder {self.path} ({exc.strerror or exc}); choose another out.") from None

    def finished(self, name: str) -> dict | None:
        """The record of ``name`` if it is finished here with the same settings, else None.

        Raises:
            BatchOutputError: it is finished here with other settings (another engine, ...).
        """
        path = self.path / name / RESULT
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text())
            ok = isinstance(record, dict) and record.get("format") == FORMAT
        except (OSError, ValueError):
            ok = False
        if not ok:
            warnings.warn(f"{path} is not a readable batch result; {name} is computed again.", stacklevel=3)
            return None
        if record.get("task") != self.task or record.get("settings") != self.settings:
            raise BatchOutputError(
                f"{self.path / name} holds a result of {record.get('task')} with {record.get('settings')}, "
                f"not of {self.task} with {self.settings}. Give another out folder for these results, or "
                f"delete {self.path / name} to compute it again."
            )
        return record

    def write(self, name: str, record: dict, masks=None, mask_format: str | None = None) -> Path:
        """Write ``out/<name>/`` atomically: ``record`` (JSON-ready, see :func:`table_to_json`)
        as result.json, and ``masks`` (a MaskStore) as PNGs or COCO RLE."""
        target = self.path / name
        if target.exists():
            self._clear_stale(target)
        try:
            tmp = Path(tempfile.mkdtemp(dir=self.path, prefix=f".{name}.", suffix=".partial"))
        except OSError as exc:
            raise OutputPathError(f"cannot write in {self.path} ({exc.strerror or exc}); choose another out.") from None
        try:
            if masks is not None:
                if mask_format == "png":
                    masks.to_png_folder(tmp / "masks")
                else:
                    masks.to_coco_json(tmp / "masks.json")
            doc = {"format": FORMAT, "task": self.task, "settings": self.settings, **record}
            (tmp / RESULT).write_text(json.dumps(doc, separators=(",", ":")))
            _fsync_tree(tmp)
            os.replace(tmp, target)  # a folder rename: atomic, and fails rather than merging
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError):
                raise OutputPathError(
                    f"could not write the results of {name} to {target}: {exc.strerror or exc}. The videos "
                    "finished before are kept there; free some space and run again with the same out."
                ) from exc
            raise
        return target

    def _clear_stale(self, target: Path) -> None:
        """Remove a video folder left without a valid result, if it holds only our files."""
        if not target.is_dir() or not {p.name for p in target.iterdir()} <= OUR_FILES:
            raise BatchOutputError(
                f"{target} exists and was not written by vseg_widgets.batch; choose another out folder "
                "(one video folder is written per video name)."
            )
        shutil.rmtree(target)


def _fsync_tree(folder: Path) -> None:
    """Flush every file under ``folder`` to disk before it is renamed into place."""
    for path in [*folder.rglob("*"), folder]:
        fsync_quietly(path)


# -- tables as JSON, exactly -------------------------------------------------------------------------
def table_to_json(table: pd.DataFrame) -> dict:
    """A DataFrame as ``{"columns", "dtypes", "data"}`` (rows of Python values) that
    :func:`table_from_json` turns back into an equal frame: floats keep every bit (JSON
    numbers written with repr), NaN stays NaN, None stays None, tuples come back as tuples."""
    data = [[_plain(v) for v in row] for row in table.itertuples(index=False, name=None)]
    return {"columns": list(table.columns), "dtypes": [str(t) for t in table.dtypes], "data": data}


def table_from_json(doc: dict) -> pd.DataFrame:
    """The DataFrame that :func:`table_to_json` wrote."""
    columns, dtypes = doc["columns"], doc["dtypes"]
    table = pd.DataFrame(doc["data"], columns=columns, dtype=object)
    for column, dtype in zip(columns, dtypes):
        if column in TUPLE_COLUMNS:
            table[column] = [tuple(v) if isinstance(v, list) else v for v in table[column]]
        if dtype == "object":
            continue
        values = table[column]
        if dtype in ("Int64", "boolean"):
            values = values.astype(object).where(values.notna(), None)
        table[column] = values.astype(dtype)
    return table


def _plain(value):
    """A table cell as a JSON value."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value)  # json writes NaN as NaN, which Python's json reads back
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value

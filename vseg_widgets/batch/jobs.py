"""Jobs: what one video of a batch is (a video source plus its prompts), checked on the client.

A job travels to a worker as a small pickle: the video as a path (the worker opens it), the
prompts as the path of a saved session or as a function that adds them. Only an in-memory
array travels as pixels.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Union

import numpy as np

from ..errors import BatchJobError
from ..video import ArrayVideo, FileVideo, FolderVideo, Video

Prompts = Union[str, Path, Callable]
DIRECTIONS = ("forward", "backward", "both")
MAX_NAME = 200


@dataclass(frozen=True)
class Job:
    """One video of :func:`vseg_widgets.batch.propagate`.

    Args:
        video: a video file or a folder of frames (a path the *workers* can read), an
            opened :class:`~vseg_widgets.Video` of a file or folder (sent as its path and
            fps), a (T, H, W, 3) uint8 array (sent as pixels: keep those small), or None to
            reopen the video recorded in the session file given as ``prompts``.
        prompts: the path of a session saved with ``seg.save`` (its prompts, masks and
            labels are loaded on the worker, checked against the video's fingerprint), or a
            function called on the worker as ``prompts(seg)`` with a fresh
            :class:`~vseg_widgets.Segmenter` of the video, which adds prompts
            (``seg.add_points(...)``, ``seg.add_mask(...)``, ...). The function is pickled
            with cloudpickle: lambdas and closures work; open files, locks or the Dask client
            do not.
        name: the video's name in the tables and its folder in ``out``; by default the file
            stem or the folder name (of the session file when ``video`` is None).
        direction: "forward", "backward" or "both" (default), as ``seg.propagate`` takes it.
        fps: frames per second for a path (default: the file's own, 24 for folders).
    """

    video: object
    prompts: Prompts
    name: str | None = None
    direction: str = "both"
    fps: float | None = None

    def __post_init__(self):
        video, fps = _as_source(self.video, self.fps)
        object.__setattr__(self, "video", video)
        object.__setattr__(self, "fps", fps)
        prompts = self.prompts
        if isinstance(prompts, (str, Path)):
            prompts = str(Path(prompts).expanduser())
        elif not callable(prompts):
            raise BatchJobError(
                f"a job's prompts must be the path of a saved session (seg.save(path)) or a function "
                f"prompts(seg) that adds prompts, got {type(prompts).__name__} {prompts!r:.60}."
            )
        object.__setattr__(self, "prompts", prompts)
        if video is None and not isinstance(prompts, str):
            raise BatchJobError(
                "a job without a video needs prompts=<session file> to reopen the recorded video; "
                "with a prompts function, give the video: Job('clip.mp4', prompts=add_clicks)."
            )
        if self.direction not in DIRECTIONS:
            raise BatchJobError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}.")
        name = self.name if self.name is not None else _default_name(video, prompts)
        object.__setattr__(self, "name", check_name(name))


def _as_source(video, fps):
    """(path str | array | None, fps): what travels to the worker for ``video``."""
    if video is None:
        return None, fps
    if isinstance(video, (str, Path)):
        return str(Path(video).expanduser()), fps
    if isinstance(video, FolderVideo):
        return str(video.folder), fps or video.fps
    if isinstance(video, FileVideo):
        return str(video.path), fps or video.fps
    if isinstance(video, ArrayVideo):
        return video[:], fps or video.fps
    if isinstance(video, np.ndarray):
        return video, fps
    if isinstance(video, Video):
        raise BatchJobError(
            f"a {type(video).__name__} cannot be sent to the workers; give its file or folder path, "
            "or its frames as a (T, H, W, 3) uint8 array."
        )
    raise BatchJobError(
        f"a job's video must be a file or folder path, an opened Video or a (T, H, W, 3) uint8 array, "
        f"got {type(video).__name__}."
    )


def _default_name(video, prompts) -> str:
    if isinstance(video, str):
        path = Path(video)
        return path.name if path.is_dir() or not path.suffix else path.stem
    if video is None:
        return Path(prompts).stem
    raise BatchJobError("a job whose video is an array needs a name: Job(frames, prompts, name='clip-1').")


def check_name(name) -> str:
    """A video name as used for tables and folders (raises BatchJobError otherwise)."""
    if not isinstance(name, str):
        raise BatchJobError(f"a video name must be a string, got {type(name).__name__} {name!r:.40}.")
    bad = (
        not name
        or len(name) > MAX_NAME
        or name.startswith(".")  # hidden names are the output folder's temporary files
        or any(c in name for c in '/\\:*?"<>|')
        or any(unicodedata.category(c) == "Cc" for c in name)
    )
    if bad:
        raise BatchJobError(
            f"{name!r:.60} cannot name a video: names become folder names in out, so they need 1 to "
            f"{MAX_NAME} characters, no leading dot, no path separators or any of :*?\"<>|, no control "
            "characters. Pass name='...' to the Job."
        )
    return name


def as_jobs(jobs) -> list[Job]:
    """Jobs from :class:`Job` instances, ``(video, prompts)`` pairs or a {name: (video, prompts)}
    dict, checked: at least one, and each name once."""
    if isinstance(jobs, Job):
        jobs = [jobs]
    elif isinstance(jobs, dict):
        jobs = [_as_job(value, name) for name, value in jobs.items()]
    if not isinstance(jobs, Iterable) or isinstance(jobs, (str, bytes)):
        raise BatchJobError(f"jobs must be a list of vw.batch.Job (or (video, prompts) pairs), got {type(jobs).__name__}.")
    jobs = [_as_job(j) for j in jobs]
    if not jobs:
        raise BatchJobError("no jobs: give at least one vw.batch.Job(video, prompts).")
    seen: dict[str, Job] = {}
    for job in jobs:
        if job.name in seen:
            raise BatchJobError(
                f"two jobs are named {job.name!r} ({_describe(seen[job.name])} and {_describe(job)}); "
                "names become output folders, so give each a name: Job(video, prompts, name='...')."
            )
        seen[job.name] = job
    return jobs


def _as_job(value, name=None) -> Job:
    if isinstance(value, Job):
        if name is not None and name != value.name:
            return Job(value.video, value.prompts, name=name, direction=value.direction, fps=value.fps)
        return value
    if isinstance(value, tuple) and len(value) == 2:
        return Job(value[0], value[1], name=name)
    raise BatchJobError(f"a job must be a vw.batch.Job or a (video, prompts) pair, got {type(value).__name__} {value!r:.60}.")


def _describe(job: Job) -> str:
    return job.video if isinstance(job.video, str) else (job.prompts if job.video is None else "an array")

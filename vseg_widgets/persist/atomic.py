"""Atomic file writes: a temporary file in the same folder, fsync, then rename over the target.

A crash or a kill at any moment leaves either the previous file or the new one at the path,
never a part of one. The temporary file is hidden (``.name.XXXX.tmp``) and removed on any
error; only a kill can leave one behind, and nothing reads it.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import OutputPathError


def check_output_path(path, what: str = "save") -> Path:
    """``path`` as a Path whose folder exists and that is not a folder or a read-only file;
    raises OutputPathError naming the problem and the fix."""
    path = Path(path).expanduser()
    folder = path.parent
    if not folder.is_dir():
        raise OutputPathError(
            f"cannot {what} to {path}: the folder {folder} does not exist. Create it first "
            f"(Path({str(folder)!r}).mkdir(parents=True)) or choose another path."
        )
    if path.is_dir():
        raise OutputPathError(f"cannot {what} to {path}: it is a folder. Give a file name in it, e.g. {path / 'work.vseg'}.")
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputPathError(
            f"cannot {what} to {path}: the file is read-only. Make it writable (chmod u+w) or choose another path."
        )
    return path


@contextmanager
def atomic_path(path, what: str = "save") -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; on a clean exit it is flushed to disk
    and renamed over ``path``, on an error removed (``path`` untouched).

    The temporary name keeps ``path``'s suffix, for writers that choose the format by it
    (OpenCV's VideoWriter).
    """
    path = check_output_path(path, what)
    folder = path.parent
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp" + path.suffix)
    except OSError as exc:
        raise OutputPathError(
            f"cannot {what} to {path}: cannot create a file in {folder} ({exc.strerror or exc}). "
            "Choose a folder you can write to."
        ) from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _fsync_file(tmp)
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, OutputPathError):
            raise OutputPathError(
                f"could not {what} to {path}: {exc.strerror or exc}. The previous file (if any) is intact; "
                "free some space or choose another folder."
            ) from exc
        raise
    _fsync_folder(folder)


def atomic_write(path, data: bytes, what: str = "save") -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`); returns the path."""
    with atomic_path(path, what) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return Path(path).expanduser()


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX)."""
    fsync_quietly(folder)


def fsync_quietly(path: Path) -> None:
    """Flush a file or folder to disk; a no-op where it cannot be opened (folders on some
    systems) or flushed."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _mode_for(path: Path) -> int:
    """The permission bits the file gets: the previous file's, else the umask's default
    (mkstemp creates 0600, which would hide a new file from the group)."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask

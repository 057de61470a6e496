"""Exceptions raised by vseg_widgets.

Every message names the problem and the fix. The classes subclass the builtin
exception a caller would naturally catch (ValueError, KeyError, ...), so
``except ValueError`` keeps working for code that does not know this module.
"""

from __future__ import annotations


class VsegError(Exception):
    """Base class of every error raised on purpose by vseg_widgets."""


class VideoOpenError(VsegError, ValueError):
    """A video source could not be opened: missing, unreadable, empty or inconsistent."""


class VideoNotFoundError(VideoOpenError, FileNotFoundError):
    """The path given to open_video does not exist."""


class FrameFormatError(VsegError, ValueError):
    """Frames have a dtype, channel count or size that cannot be used as RGB uint8."""


class VideoDecodeError(VsegError, RuntimeError):
    """A frame could not be decoded (truncated or corrupt file)."""


class PromptError(VsegError, ValueError):
    """A prompt (points, labels, box or mask) is malformed or lies outside the frame."""


class FrameIndexError(VsegError, IndexError):
    """A frame index outside 0..len(video)-1."""


class UnknownObjectError(VsegError, KeyError):
    """An object id that has no prompt and no mask."""

    def __str__(self) -> str:  # KeyError would otherwise print the repr of the message
        return str(self.args[0]) if self.args else ""


class MaskShapeError(VsegError, ValueError):
    """A mask whose shape does not match the video's (H, W)."""


class EngineError(VsegError, RuntimeError):
    """The segmentation engine failed; the masks computed before the failure are kept."""


class ModelFileError(VsegError, FileNotFoundError):
    """A model file is missing, truncated, corrupt or not the expected one."""


class ModelOutputError(VsegError, ValueError):
    """An image prompt model returned outputs of unexpected shapes or types."""


class PromptModelError(EngineError):
    """An image prompt model (the shipped one or a user's predictor) failed on a prompt."""


class LabelError(VsegError, ValueError):
    """An object label that is not a string (or None), too long, has control characters, or
    names an object the Segmenter does not have."""


class StrokeError(PromptError):
    """A brush or eraser edit whose masks or stroke (points, radius) cannot be used."""


class OutputPathError(VsegError, OSError):
    """A file cannot be written where asked (a session save or an export): the folder is
    missing, the place is not writable, the path is a folder, or the disk is full. The
    previous file at that path, if any, is left as it was."""


class SessionFileError(VsegError, ValueError):
    """A session file that cannot be read: missing, truncated, corrupt, or not a session."""


class SessionVersionError(SessionFileError):
    """A session file of a format version this vseg_widgets does not know (e.g. written by a
    newer one)."""


class VideoMismatchError(VsegError, ValueError):
    """A session file loaded on a video other than the one it was made on (frame count,
    size, frame rate or pixels differ)."""


class EncoderMissingError(VsegError, RuntimeError):
    """No encoder for the asked export format is installed (the message says what to install)."""


class PlayerBundleError(VsegError, FileNotFoundError):
    """The player's JavaScript bundle (vseg_widgets/static/) is not built, so a standalone
    HTML player cannot be written (the message says how to build it)."""


class ExportTooLargeError(VsegError, ValueError):
    """An export would be larger than the size it was allowed (the message gives the size
    and the options that shrink it); nothing is written."""


class AnnotationFormatError(VsegError, ValueError):
    """An annotation file to import (YouTube-VIS JSON, YOLO polygons) that is malformed."""


class ExportFormatError(VsegError, ValueError):
    """An export asked for a format, overlay or option it cannot take."""


class BatchJobError(VsegError, ValueError):
    """A batch job (``vw.batch``) that cannot be run as given: a video or prompts of the wrong
    kind, two videos under one name, or an engine that cannot be sent to the workers."""


class BatchOutputError(VsegError, ValueError):
    """A batch output folder that holds something else than the results asked for: results
    of another engine or setting, or a folder that vseg_widgets did not write."""


class ClusterConnectError(VsegError, ConnectionError):
    """No Dask scheduler answered at the address given as ``client=``."""

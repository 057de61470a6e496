"""SAM 2 behind the engine protocol, through the official ``sam2`` package (facebookresearch).

Install the optional extra: ``pip install "vseg_widgets[sam2]"`` (it brings ``sam2`` and
``torchvision``). Then::

    seg = vw.Segmenter(video, engine=vw.engines.SAM2(model="large", checkpoint="sam2.1_hiera_large.pt"))

Every engine call maps onto one official predictor call; nothing of SAM 2 is re-implemented:

    ====================================  ====================================================
    engine protocol                       sam2.sam2_video_predictor.SAM2VideoPredictor
    ====================================  ====================================================
    SAM2.init_session(video)              init_state (frames from our lazy Video, see below)
    add_prompt(points/labels, box)        add_new_points_or_box(clear_old_points=True)
    add_prompt(mask)                      add_new_mask
    add_prompt(mask + points/box)         add_new_mask, then add_new_points_or_box (the clicks
                                          refine the mask through SAM 2's previous-mask input)
    propagate(start, reverse, max_frames) propagate_in_video(start_frame_idx, reverse,
                                          max_frame_num_to_track)
    remove_object(obj_id)                 remove_object
    reset()                               reset_state
    confidence(frame)                     the frame's stored per-object outputs
                                          (``object_score_logits``) and the mask decoder's
                                          predicted IoU (see :class:`SAM2Session`)
    ====================================  ====================================================

Masks are the predictor's logits at the video's resolution thresholded at 0, as the official
notebook does. Frames come from the :class:`~vseg_widgets.video.Video` (no JPEG folder): a
lazy loader hands ``init_state`` frames preprocessed exactly as ``sam2.utils.misc`` does.

Without sam2's optional CUDA extension (``SAM2_BUILD_CUDA=0``, and always on CPU or MPS)
sam2 warns and skips one post-processing step, the filling of holes of at most 8 pixels in
the low-resolution masks; nothing else changes.

This module imports without ``sam2`` installed (:func:`available` says whether it is);
constructing :class:`SAM2` is what needs the package.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from ..errors import EngineError
from ..video import Video

log = logging.getLogger(__name__)

# SAM 2.1 sizes -> the suffix of the package's config file and of the hub repository.
SIZES = {
    "tiny": ("t", "tiny"),
    "small": ("s", "small"),
    "base_plus": ("b+", "base-plus"),
    "large": ("l", "large"),
}
CHECKPOINT_FILES = {size: f"sam2.1_hiera_{size}.pt" for size in SIZES}
INSTALL_HINT = 'SAM 2 is an optional extra: pip install "vseg_widgets[sam2]" (it installs sam2 and torchvision).'

# sam2.utils.misc.load_video_frames' defaults (ImageNet statistics); init_state passes none.
IMG_MEAN = (0.485, 0.456, 0.406)
IMG_STD = (0.229, 0.224, 0.225)

# Options given to sam2's builder (hydra overrides of the model config). A correction on a
# frame that was already tracked becomes a conditioning frame, so the corrected mask is kept
# and remembered; with sam2's default (false) the next propagation through that frame
# infers it again from memory and the correction is lost there.
HYDRA_OVERRIDES = ["++model.add_all_frames_to_correct_as_cond=true"]

_INIT_LOCK = threading.Lock()  # init_state's frame loader is swapped for ours while it runs


def available() -> bool:
    """True when the official ``sam2`` package can be imported (the ``[sam2]`` extra)."""
    try:  # a submodule: a stray folder named sam2 on sys.path is a namespace package without it
        return importlib.util.find_spec("sam2.build_sam") is not None
    except ImportError:
        return False


def _require_sam2():
    try:
        import sam2  # noqa: F401
        import sam2.sam2_video_predictor
    except ImportError as exc:
        raise ImportError(f"{INSTALL_HINT} ({exc})") from exc
    return sam2


def pick_device(device: str | torch.device = "auto", verbose: bool = True) -> torch.device:
    """The torch device to run on; "auto" takes CUDA, then Apple's MPS, then the CPU.

    With ``verbose``, prints one line saying which device was chosen and why.
    """
    if str(device) != "auto":
        chosen = torch.device(device)
        reason = "as asked"
    elif torch.cuda.is_available():
        chosen, reason = torch.device("cuda"), f"auto: {torch.cuda.get_device_name(0)}"
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        chosen, reason = torch.device("mps"), "auto: Apple GPU; SAM 2's MPS support is preliminary"
    else:
        chosen, reason = torch.device("cpu"), "auto: no CUDA or MPS device; expect seconds per frame"
    message = f"SAM 2 engine on {chosen.type} ({reason})"
    log.info(message)
    if verbose:
        print(message)
    return chosen


def preprocess(frame: np.ndarray, image_size: int) -> torch.Tensor:
    """One frame as SAM 2's video loader prepares it, before normalisation.

    Args:
        frame: (H, W, 3) uint8 RGB.
        image_size: the model's input side (1024 for every SAM 2.1 config).

    Returns:
        (3, image_size, image_size) float32 in [0, 1]: PIL's default (bicubic) resize to a
        square, then /255 in float64 and stored as float32 -- the same steps, in the same
        precision, as ``sam2.utils.misc.load_video_frames_from_jpg_images``.
    """
    from PIL import Image

    small = np.array(Image.fromarray(np.asarray(frame, np.uint8)).resize((image_size, image_size)))
    return torch.from_numpy(small / 255.0).permute(2, 0, 1).to(torch.float32)


class VideoFrames:
    """The ``images`` of a SAM 2 inference state, decoded lazily from a :class:`Video`.

    SAM 2 reads ``images[i]`` (and ``len(images)``) only, in ``_get_image_feature``; that is
    the contract ``sam2.utils.misc.AsyncVideoFrameLoader`` fills too. Unlike the official
    loaders, which keep every preprocessed frame (3 x 1024 x 1024 float32 = 12 MiB each),
    this one keeps the last ``cache_frames`` only; the Video keeps its own bounded cache of
    decoded uint8 frames.

    ``images[i]`` is a (3, image_size, image_size) float32 tensor normalised with SAM 2's
    mean and std, on ``device`` -- or on the CPU with ``offload_video_to_cpu``.
    """

    def __init__(
        self,
        video: Video,
        image_size: int,
        device: torch.device,
        offload_video_to_cpu: bool = False,
        img_mean=IMG_MEAN,
        img_std=IMG_STD,
        cache_frames: int = 2,
    ):
        self.video = video
        self.image_size = image_size
        self.device = torch.device("cpu") if offload_video_to_cpu else torch.device(device)
        self.img_mean = torch.tensor(img_mean, dtype=torch.float32)[:, None, None].to(self.device)
        self.img_std = torch.tensor(img_std, dtype=torch.float32)[:, None, None].to(self.device)
        self.cache_frames = max(1, cache_frames)
        self._cache: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()
        self.video_height, self.video_width = video.height, video.width

    def __len__(self) -> int:
        return len(self.video)

    def __getitem__(self, index: int) -> torch.Tensor:
        index = self.video.check_index(index)
        with self._lock:
            if index in self._cache:
                self._cache.move_to_end(index)
                return self._cache[index]
            # Normalised on the target device, as the official loader does (order matters
            # for bit-exact equality: scale to [0, 1] first, then subtract and divide).
            image = preprocess(self.video[index], self.image_size).to(self.device)
            image -= self.img_mean
            image /= self.img_std
            self._cache[index] = image
            while len(self._cache) > self.cache_frames:
                self._cache.popitem(last=False)
            return image


class SAM2:
    """SAM 2.1 as a vseg_widgets engine: ``vw.Segmenter(video, engine=SAM2(...))``.

    Args:
        model: a SAM 2.1 size -- "tiny", "small", "base_plus" or "large" (the best; "tiny"
            is the fastest) -- or the name of a config inside the sam2 package, e.g.
            "configs/sam2.1/sam2.1_hiera_l.yaml". For a config of your own, build the
            predictor with ``sam2.build_sam.build_sam2_video_predictor`` and pass it as
            ``predictor``.
        checkpoint: path of a local checkpoint file (e.g. ``sam2.1_hiera_large.pt``, from
            the official repository's ``checkpoints/download_ckpts.sh``). Without one, the
            weights of ``model`` are downloaded with sam2's own ``from_pretrained`` (the
            Hugging Face hub); offline, that fails with an error that says how to pass a
            local checkpoint.
        device: "auto" (CUDA, then MPS, then CPU; prints which), or a torch device.
        predictor: an already-built ``SAM2VideoPredictor``; ``model``, ``checkpoint`` and
            ``device`` are then ignored (its own device is used) and it is used as built.
            The predictors built here get :data:`HYDRA_OVERRIDES` (corrections stick);
            pass them to ``build_sam2_video_predictor(..., hydra_overrides_extra=...)`` to
            build yours the same way.
        offload_video_to_cpu: keep the preprocessed frames in CPU memory (see Memory).
        offload_state_to_cpu: keep the tracking memory in CPU memory (see Memory).
        autocast: on CUDA, run under ``torch.autocast(dtype=bfloat16)`` as the official
            notebook does (about twice as fast, half the activation memory).
        verbose: print the device chosen by "auto".

    Attributes:
        predictor: the official ``SAM2VideoPredictor``.
        device: the ``torch.device`` it runs on.

    Memory, per frame of video (SAM 2.1, input side 1024; measured on sam2 1.1.0):
        - Frames: this adapter keeps only the 2 most recent preprocessed frames
          (3 x 1024 x 1024 float32 = 12 MiB each) on the device, or in CPU memory with
          ``offload_video_to_cpu``. (sam2's own JPEG loader keeps all of them: 12 MiB per
          frame, which is what ``offload_video_to_cpu`` exists for upstream.)
        - Image features: the backbone's maps at strides 4, 8 and 16 (16 MiB) and their
          positional encodings (84 MiB), float32, are cached for the most recent frame only
          (about 100 MiB in all, whatever the video's length) and recomputed on revisit.
        - Tracking memory, per frame *and object* tracked: the memory encoder's features
          (64 x 64 x 64 bfloat16 = 512 KiB), the low-resolution mask logits (256 x 256
          float32 = 256 KiB) and the object pointer (1 KiB) -- about 0.77 MiB, kept for
          every frame visited. ``offload_state_to_cpu`` stores them in CPU memory (the
          object pointers stay on the device) at the cost of some frames/s: a 1000-frame
          video with 3 objects holds about 2.3 GiB of state.
        - Output masks leave the engine as (H, W) bool numpy arrays; vseg_widgets stores
          them run-length encoded.
    """

    name = "sam2"

    def __init__(
        self,
        model: str = "large",
        checkpoint: str | Path | None = None,
        device: str | torch.device = "auto",
        *,
        predictor=None,
        offload_video_to_cpu: bool = False,
        offload_state_to_cpu: bool = False,
        autocast: bool = True,
        verbose: bool = True,
    ):
        self.offload_video_to_cpu = offload_video_to_cpu
        self.offload_state_to_cpu = offload_state_to_cpu
        if predictor is not None:
            missing = [m for m in ("init_state", "add_new_points_or_box", "add_new_mask", "propagate_in_video",
                                   "remove_object", "reset_state") if not callable(getattr(predictor, m, None))]
            if missing:
                raise TypeError(
                    f"predictor must be a sam2 SAM2VideoPredictor (e.g. from sam2.build_sam."
                    f"build_sam2_video_predictor); {type(predictor).__name__} lacks {', '.join(missing)}."
                )
            self.predictor = predictor
            self.device = torch.device(predictor.device)
            self.model = type(predictor).__name__
        else:
            _require_sam2()
            self.model = model
            self.device = pick_device(device, verbose=verbose)
            self.predictor = _build_predictor(model, checkpoint, self.device)
        self.autocast = autocast and self.device.type == "cuda"

    def init_session(self, video) -> SAM2Session:
        """A session on ``video`` (a :class:`~vseg_widgets.video.Video`)."""
        return SAM2Session(self, video)

    def context(self):
        """The context every predictor call runs in.

        On CUDA, bfloat16 autocast, as the official notebook runs. Elsewhere (CPU, MPS),
        float32 with one fix: sam2 stores the memory features in bfloat16, and when a frame's
        memory holds no float32 object pointer (tracking an object from a frame before its
        first prompt, or a reverse walk started off a prompt) the memory attention gets a
        bfloat16 input and fails with "mat1 and mat2 must have the same dtype" (sam2 issues
        #308, #577). The memory is cast to the features' dtype on its way in; where sam2
        works without it the values are unchanged (bfloat16 -> float32 is exact, and the
        concatenation with the pointers had already promoted them).
        """
        if self.autocast:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return _float_memory(self.predictor)

    def __repr__(self) -> str:
        return f"SAM2(model={self.model!r}, device={self.device.type!r})"


class SAM2Session:
    """An official SAM 2 inference state on one video (see :mod:`vseg_widgets.engines.base`).

    Confidence (the optional :class:`~vseg_widgets.engines.base.ScoringSession`): SAM 2
    says, for every object on every frame it computes, whether the object is there (its
    occlusion head: ``object_score_logits``, kept in the state's per-object outputs) and
    how good its mask is (the mask decoder's predicted IoU of the candidate it keeps).
    With p = sigmoid(object score), a visible object's confidence is p x predicted IoU, and
    an object SAM 2 finds absent (an empty mask) gets 1 - p: how sure it is that the object
    is hidden. The predicted IoU is read off the decoder's own output by a forward hook on
    ``predictor.sam_mask_decoder`` while a prompt or a propagation step runs; a mask prompt
    counts as IoU 1 (SAM 2 takes it as the output, as its own code does), and where the
    decoder calls cannot be matched to objects (another sam2 version) p alone is used.

    Attributes:
        state: the ``inference_state`` dict of ``SAM2VideoPredictor.init_state``; its
            ``images`` is a :class:`VideoFrames`.
    """

    def __init__(self, engine: SAM2, video: Video):
        self.engine = engine
        self.predictor = engine.predictor
        self.video = video
        self.state = _init_state(self.predictor, video, engine.offload_video_to_cpu, engine.offload_state_to_cpu)
        # Frames on which this session has handed out each object's mask (prompt answers and
        # propagated frames). SAM 2 computes every object on every frame it visits; the
        # protocol shows an object only once tracking has reached a frame where it is known.
        self._seen: dict[int, set[int]] = {}
        self._confidence: dict[int, dict[int, float]] = {}  # frame -> obj -> confidence of the last output
        self._ious = DecoderIoU(self.predictor)

    # -- prompts ----------------------------------------------------------------------
    def add_prompt(self, frame, obj_id, *, points=None, labels=None, box=None, mask=None):
        """Condition ``obj_id`` on ``frame``; returns ``{obj_id: (H, W) bool, ...}``.

        Points (N, 2) float32 (x, y) pixels with labels (N,) int32, a box (4,) float32
        (x0, y0, x1, y1) and/or a mask (H, W) bool. They replace the object's earlier
        prompts on this frame (``clear_old_points=True``); SAM 2 still feeds its previous
        mask logits on the frame to the decoder, so successive clicks refine, as in the
        official demo. Other objects are included where they are known on this frame.
        """
        if mask is None and points is None and box is None:
            raise ValueError("add_prompt needs points (with labels), a box or a mask.")
        if points is not None and labels is None:
            labels = np.ones(len(points), np.int32)
        p, state = self.predictor, self.state
        with self.engine.context(), self._ious.collect() as calls:
            if mask is not None:
                _, ids, logits = p.add_new_mask(state, frame, obj_id, np.asarray(mask, bool))
                del calls[:]  # a mask prompt is taken as the output: its decoder pass only makes a pointer
            if points is not None or box is not None:
                _, ids, logits = p.add_new_points_or_box(
                    state,
                    frame,
                    obj_id,
                    points=None if points is None else np.asarray(points, np.float32).reshape(-1, 2),
                    labels=None if labels is None else np.asarray(labels, np.int32).reshape(-1),
                    box=None if box is None else np.asarray(box, np.float32).reshape(4),
                    clear_old_points=True,
                )
        self._seen.setdefault(obj_id, set()).add(frame)
        masks = _binarise(ids, logits)
        out = {o: m for o, m in masks.items() if o == obj_id or frame in self._seen.get(o, ())}
        iou = calls[-1] if calls else (1.0 if points is None and box is None else None)
        known = self._confidence.setdefault(frame, {})
        known[obj_id] = _combine(self._object_score(obj_id, frame), iou, out[obj_id].any())
        return out

    def confidence(self, frame: int) -> dict[int, float]:
        """{obj_id: confidence in [0, 1]} of the masks last returned for ``frame`` (see the class doc)."""
        return dict(self._confidence.get(frame, {}))

    def _object_score(self, obj_id: int, frame: int) -> float | None:
        """P(object visible) = sigmoid of SAM 2's ``object_score_logits`` for (obj, frame),
        from the state's per-object outputs (the prompt's pending ones first); None if absent."""
        idx = self.state.get("obj_id_to_idx", {}).get(obj_id)
        if idx is None:
            return None
        for store in ("temp_output_dict_per_obj", "output_dict_per_obj"):
            outputs = self.state.get(store, {}).get(idx, {})
            for key in ("cond_frame_outputs", "non_cond_frame_outputs"):
                out = outputs.get(key, {}).get(frame)
                score = None if out is None else out.get("object_score_logits")
                if score is not None:
                    return float(torch.sigmoid(score.detach().float().reshape(-1)[0]))
        return None

    def remove_object(self, obj_id: int) -> None:
        """Forget ``obj_id`` (sam2's ``remove_object``; the last object resets the state)."""
        with self.engine.context():
            self.predictor.remove_object(self.state, obj_id, strict=False, need_output=False)
        self._seen.pop(obj_id, None)
        for per_frame in self._confidence.values():
            per_frame.pop(obj_id, None)

    def reset(self) -> None:
        """Forget every prompt and all tracked state (sam2's ``reset_state``)."""
        with self.engine.context():
            self.predictor.reset_state(self.state)
        self._seen.clear()
        self._confidence.clear()

    # -- propagation ------------------------------------------------------------------
    def propagate(
        self, start_frame: int, reverse: bool = False, max_frames: int | None = None
    ) -> Iterator[tuple[int, dict[int, np.ndarray]]]:
        """Track every prompted object from ``start_frame``; yields ``(frame, {obj: (H, W) bool})``.

        sam2's ``propagate_in_video(start_frame_idx=start_frame, reverse=reverse,
        max_frame_num_to_track=max_frames)``: ``max_frames`` limits the walk to that many
        frames after the start (None: to the end of the video). Like sam2, a reverse walk
        from frame 0 yields nothing. Closing the generator stops after the current frame,
        keeping what SAM 2 has tracked so far.
        """
        generator = self.predictor.propagate_in_video(
            self.state, start_frame_idx=start_frame, max_frame_num_to_track=max_frames, reverse=reverse
        )
        active: set[int] = set()
        try:
            while True:
                with self.engine.context(), self._ious.collect() as calls:
                    try:
                        frame, ids, logits = next(generator)
                    except StopIteration:
                        return
                    masks = _binarise(ids, logits)
                active |= {o for o in ids if frame in self._seen.get(o, ())}
                out = {o: m for o, m in masks.items() if o in active}
                for o in out:
                    self._seen.setdefault(o, set()).add(frame)
                self._confidence[frame] = self._step_confidence(frame, [int(o) for o in ids], out, calls)
                yield frame, out
        finally:
            generator.close()


    def _step_confidence(self, frame: int, ids: list[int], out: dict[int, np.ndarray], calls: list[float]) -> dict[int, float]:
        """{obj: confidence} of one propagation step's output ``out``.

        SAM 2 runs the decoder once per object that is not conditioned on this frame, in
        the order of ``ids`` (its object indices), and last in the step (a first step may be
        preceded by calls that prepare the memory): the last such ``calls`` are theirs. A
        conditioned object keeps the confidence its prompt got. Any other count of calls
        leaves the IoU unknown.
        """
        outputs = self.state.get("output_dict_per_obj", {})
        idx = self.state.get("obj_id_to_idx", {})
        tracked = [o for o in ids if frame not in outputs.get(idx.get(o), {}).get("cond_frame_outputs", {})]
        ious = dict(zip(tracked, calls[-len(tracked):])) if tracked and len(calls) >= len(tracked) else {}
        earlier = self._confidence.get(frame, {})
        result = {}
        for o, mask in out.items():
            if o not in tracked and o in earlier:
                result[o] = earlier[o]  # a prompted frame: as its prompt left it
            else:
                result[o] = _combine(self._object_score(o, frame), ious.get(o), bool(mask.any()))
        return result


class DecoderIoU:
    """The predicted IoU of the mask SAM 2 keeps, read off each call of its mask decoder.

    ``predictor.sam_mask_decoder`` returns (masks, iou_pred, tokens, object_score_logits)
    with iou_pred (B, M) for the M candidates it hands back; SAM 2 keeps the candidate of
    highest predicted IoU (or the only one), so the kept mask's is the row maximum.
    """

    def __init__(self, predictor):
        decoder = getattr(predictor, "sam_mask_decoder", None)
        self.decoder = decoder if callable(getattr(decoder, "register_forward_hook", None)) else None

    @contextlib.contextmanager
    def collect(self):
        """While inside: a list that gets one float per decoder call (per batch row)."""
        calls: list[float] = []
        if self.decoder is None:
            yield calls
            return

        def hook(module, args, output):
            try:
                iou = output[1].detach().float()
                calls.extend(iou.reshape(iou.shape[0], -1).max(dim=-1).values.cpu().tolist())
            except (TypeError, IndexError, AttributeError, RuntimeError):
                pass  # not the decoder output this adapter knows: no IoU

        handle = self.decoder.register_forward_hook(hook)
        try:
            yield calls
        finally:
            handle.remove()


def _combine(visible: float | None, iou: float | None, has_mask: bool) -> float:
    """Confidence from P(object visible) and the kept mask's predicted IoU (either may be
    None): p x IoU for a non-empty mask, 1 - p for an empty one; NaN with neither."""
    iou = None if iou is None or not np.isfinite(iou) else min(1.0, max(0.0, float(iou)))
    if not has_mask:
        return float("nan") if visible is None else 1.0 - visible
    if visible is None:
        return float("nan") if iou is None else iou
    return visible if iou is None else visible * iou


# -- helpers -----------------------------------------------------------------------------
@contextlib.contextmanager
def _float_memory(predictor):
    """While inside, the predictor's memory attention gets its memory in the features' dtype."""
    attention = getattr(predictor, "memory_attention", None)
    if attention is None:  # not a SAM2Base: nothing to fix
        yield
        return

    def cast_memory(module, args, kwargs):
        curr = kwargs.get("curr")
        dtype = (curr[0] if isinstance(curr, (list, tuple)) else curr).dtype if curr is not None else None
        for key in ("memory", "memory_pos"):
            value = kwargs.get(key)
            if dtype is not None and value is not None and value.dtype != dtype:
                kwargs[key] = value.to(dtype)
        return args, kwargs

    handle = attention.register_forward_pre_hook(cast_memory, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()


def _binarise(obj_ids, logits: torch.Tensor) -> dict[int, np.ndarray]:
    """(N, 1, H, W) logits at the video's resolution -> {obj_id: (H, W) bool}, logit > 0."""
    masks = (logits[:, 0] > 0.0).cpu().numpy()
    return {int(o): masks[k] for k, o in enumerate(obj_ids)}


def _init_state(predictor, video: Video, offload_video_to_cpu: bool, offload_state_to_cpu: bool) -> dict:
    """``predictor.init_state`` with frames from ``video`` instead of a JPEG folder or MP4.

    init_state takes a path and reads it with ``sam2.utils.misc.load_video_frames``; for
    the duration of the call that function is replaced, in the predictor's module, by one
    that returns a :class:`VideoFrames`. Everything else -- the state's keys, the offload
    settings, the warm-up on frame 0 -- is the official code, whatever sam2 version is
    installed. Paths that are not a Video still go to sam2's own loader.
    """
    import sys

    module = sys.modules[type(predictor).init_state.__module__]
    if not hasattr(module, "load_video_frames"):
        raise EngineError(
            f"this sam2 version ({module.__name__}) has no load_video_frames to feed frames "
            "through; vseg_widgets supports sam2 >= 1.1."
        )
    official = module.load_video_frames

    def load_video_frames(video_path, image_size, offload_video_to_cpu, img_mean=IMG_MEAN, img_std=IMG_STD,
                          async_loading_frames=False, compute_device=torch.device("cuda")):
        if not isinstance(video_path, Video):
            return official(video_path, image_size, offload_video_to_cpu, img_mean, img_std,
                            async_loading_frames, compute_device)
        images = VideoFrames(video_path, image_size, compute_device, offload_video_to_cpu, img_mean, img_std)
        return images, video_path.height, video_path.width

    with _INIT_LOCK:
        module.load_video_frames = load_video_frames
        try:
            state = predictor.init_state(
                video, offload_video_to_cpu=offload_video_to_cpu, offload_state_to_cpu=offload_state_to_cpu
            )
        finally:
            module.load_video_frames = official
    if not isinstance(state.get("images"), VideoFrames):
        raise EngineError("sam2's init_state did not take frames from vseg_widgets' loader; this sam2 version is not supported.")
    return state


def _config_name(model: str) -> str:
    """A size name or a config path -> the config name sam2's hydra setup resolves."""
    import sam2

    if model in SIZES:
        return f"configs/sam2.1/sam2.1_hiera_{SIZES[model][0]}.yaml"
    package = Path(sam2.__path__[0]).resolve()
    path = Path(model).expanduser()
    if path.is_absolute() and path.is_file():
        try:  # a config file inside the installed package, given by its full path
            return path.resolve().relative_to(package).as_posix()
        except ValueError:
            pass
    elif (package / model).is_file():
        return Path(model).as_posix()
    raise ValueError(
        f"model {model!r} is neither a SAM 2.1 size ({', '.join(SIZES)}) nor a config of the "
        f"sam2 package (e.g. 'configs/sam2.1/sam2.1_hiera_l.yaml'). For a config of your own, "
        "build the predictor with sam2.build_sam.build_sam2_video_predictor(config, checkpoint) "
        "and pass it as SAM2(predictor=...)."
    )


def _build_predictor(model: str, checkpoint, device: torch.device):
    """The official SAM2VideoPredictor for ``model`` with ``checkpoint`` (or from the hub)."""
    from sam2.build_sam import build_sam2_video_predictor
    from sam2.sam2_video_predictor import SAM2VideoPredictor

    config = _config_name(model)
    if checkpoint is None:
        if model not in SIZES:
            raise ValueError(f"a config path ({model!r}) needs checkpoint=<path of its .pt file>.")
        hub_id = f"facebook/sam2.1-hiera-{SIZES[model][1]}"
        try:
            return SAM2VideoPredictor.from_pretrained(hub_id, device=str(device), hydra_overrides_extra=HYDRA_OVERRIDES)
        except Exception as exc:  # offline, no huggingface_hub, hub refused: one way out
            needs_hub = " (sam2 downloads with huggingface_hub: pip install huggingface_hub)" if isinstance(exc, ImportError) else ""
            raise EngineError(
                f"could not download the SAM 2.1 {model} weights ({hub_id}) with sam2's "
                f"from_pretrained: {exc!r}{needs_hub}. On a machine without internet, download "
                f"{CHECKPOINT_FILES[model]} elsewhere (the official repository's "
                "checkpoints/download_ckpts.sh) and pass its path: "
                f'vw.engines.SAM2(model="{model}", checkpoint="path/to/{CHECKPOINT_FILES[model]}").'
            ) from exc
    path = Path(checkpoint).expanduser()
    if not path.is_file():
        expected = CHECKPOINT_FILES.get(model, "the .pt file that matches the config")
        raise FileNotFoundError(
            f"no SAM 2 checkpoint at {path} (cwd is {Path.cwd()}). Pass the path of {expected}, "
            "downloaded with the official repository's checkpoints/download_ckpts.sh."
        )
    try:
        return build_sam2_video_predictor(config, ckpt_path=str(path), device=str(device), hydra_overrides_extra=HYDRA_OVERRIDES)
    except RuntimeError as exc:  # sam2 raises a bare RuntimeError on mismatched weights
        raise EngineError(
            f"{path.name} does not load into {config}: {exc!r}. Check that the checkpoint is "
            f"a SAM 2.1 one of the same size as model={model!r}."
        ) from exc


__all__ = ["SAM2", "SAM2Session", "VideoFrames", "available", "pick_device", "preprocess", "SIZES", "HYDRA_OVERRIDES"]

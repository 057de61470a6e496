"""The per-frame work every tracked object shares: one optical flow for the whole frame.

Each object is tracked in its own view (:mod:`.view`), and a flow computed per view paid
again, object after object, for the pixels the views share (and a flow needs context
around the object anyway). So each frame the flow back to the previous frame, and its
forward-backward trust (:meth:`.flow.FlowField.between`), are computed once, for the whole
frame at the work resolution; each view resamples its part of them (:meth:`SharedFlow.in_view`),
and the camera's motion (:meth:`SharedFlow.residual`) comes from the same flow.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from .flow import FlowField
from .moving import camera_residual
from .view import View


class SharedFlow:
    """The whole frame's flow from one frame back to the previous one, computed on first use.

    Args:
        field: the flow estimator.
        work: the whole frame at the work resolution (:func:`.view.whole`).
        full_size: (H, W) of the frames.
        gray_prev, gray: (h, w) uint8 previous and current frame at ``work``'s resolution.
        executor: where the flow is computed (:meth:`start`), or None: in the thread that
            first asks for it. One worker: ``field`` is not thread-safe, and every flow of
            a pass is computed by the same thread.
    """

    def __init__(self, field: FlowField, work: View, full_size: tuple[int, int], gray_prev: np.ndarray, gray: np.ndarray,
                 executor=None):
        self.field = field
        self.work = work
        self.full_size = full_size
        self._grays = (gray_prev, gray)
        self._executor = executor
        self._flow: tuple[np.ndarray, np.ndarray] | None = None
        self._future = None
        self._lock = threading.Lock()  # objects' steps may ask for the flow from several threads
        self._residual: np.ndarray | None = None

    def start(self) -> None:
        """Start computing the flow now, in the executor; :attr:`flow` waits for it."""
        with self._lock:
            if self._future is None and self._executor is not None:
                self._future = self._executor.submit(self.field.between, *self._grays)

    @property
    def flow(self) -> tuple[np.ndarray, np.ndarray]:
        """(coords, trust) at the work resolution: (h, w, 2) float32 where each current pixel
        was in the previous frame (work px), (h, w) float32 trust in [0, 1]."""
        self.start()
        with self._lock:
            if self._flow is None:
                self._flow = self._future.result() if self._future is not None else self.field.between(*self._grays)
            return self._flow

    def in_view(self, view: View) -> tuple[np.ndarray, np.ndarray]:
        """The flow resampled into ``view``: (h, w, 2) float32 coords in the view's previous
        frame (view px) and (h, w) float32 trust, as :meth:`.flow.FlowField.between` would
        give for the view's crops; 0 trust where a pixel came from outside the view."""
        coords, trust = self.flow
        H, W = self.full_size
        hw, ww = trust.shape
        hv, wv = view.size
        # Work px per full-resolution px, and view px per full-resolution px, per axis.
        sxw, syw = ww / W, hw / H
        sxv, syv = wv / (view.x1 - view.x0), hv / (view.y1 - view.y0)
        # Pixel centres: full x = (u + 0.5) / s - 0.5 in either frame; this maps view px to work px.
        to_work = np.array([[sxw / sxv, 0.0, (view.x0 + 0.5 / sxv) * sxw - 0.5],
                            [0.0, syw / syv, (view.y0 + 0.5 / syv) * syw - 0.5]], np.float64)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        delta = coords - self.field.grid(hw, ww)  # displacement, work px
        delta = cv2.warpAffine(delta, to_work, (wv, hv), flags=flags, borderMode=cv2.BORDER_REPLICATE)
        delta *= np.array([sxv / sxw, syv / syw], np.float32)  # -> view px
        trust_v = cv2.warpAffine(trust, to_work, (wv, hv), flags=flags, borderMode=cv2.BORDER_REPLICATE)
        coords_v = self.field.grid(hv, wv) + delta
        # Pixels that came from outside the view's previous crop carry no mask information.
        x, y = coords_v[..., 0], coords_v[..., 1]
        inside = (x >= -0.5) & (x <= wv - 0.5) & (y >= -0.5) & (y <= hv - 0.5)
        return coords_v, (trust_v * inside).astype(np.float32)

    def residual(self) -> np.ndarray:
        """(H, W) float32 motion unlike the camera's, full-resolution px
        (:func:`.moving.camera_residual`); kept once computed."""
        if self._residual is None:
            coords, trust = self.flow
            self._residual = camera_residual(self.field.grid(*trust.shape), coords, self.work.scale, self.full_size)
        return self._residual

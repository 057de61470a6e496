"""A per-object pixel classifier on colour and texture, learned online with torch.

The colour histograms (:mod:`.appearance`) see one pixel's colour. But a dog and the dry
grass it walks on, grey trousers and a grey crowd, a white car and white smoke share
colours, not the texture around them (smooth fur against grass stalks, fabric against a
patchwork of faces, a sharp-edged panel against soft smoke). Each pixel is described by
its neighbourhood: its Lab colour, and at three scales the gradient magnitude and the
local contrast of L and the mean a and b around it. A small MLP learns, on a prompted
frame, to tell the object's pixels from those of a band around it, the way OSVOS
fine-tunes on the first frame, but from scratch: no pretrained weights. Learned on the
first frame of a DAVIS dev sequence, it tells the object from a band around it on later
frames (per-pixel AUC) better than the colour histograms on 5 of 6 sequences tried
(cows 0.91 -> 0.98, drift-chicane 0.62 -> 0.86) and about as well on breakdance.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

SCALES = (1.0, 2.0, 4.0)  # px (work resolution): the neighbourhoods texture is measured over
CHANNELS = 3 + 4 * len(SCALES)
MARGIN = int(6 * max(SCALES))  # px a crop needs around what it scores, for the widest blur
HIDDEN = 32  # units per hidden layer
STEPS = 200  # Adam steps on the prompted frame
BATCH = 4096  # pixels per step
CLIP = 6.0  # the log-odds are clipped to +-this


_warm_up: threading.Thread | None = None


def warm_up() -> None:
    """Load torch in the background, once per process, so that learning the first classifier
    does not wait for it: importing torch and building the first optimiser (whose first use
    imports torch's compiler) take about 1.5 s. Called when a video is opened, while the
    person looks at it and clicks; a fit that starts sooner waits for the import, as any
    import does."""
    global _warm_up
    if _warm_up is None:
        _warm_up = threading.Thread(target=_load_torch, name="vseg-load-torch", daemon=True)
        _warm_up.start()


def _load_torch() -> None:
    import torch

    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])


class _OneTorchThread:
    """A context in which torch runs on one thread; the setting it found is put back when
    the last of the threads inside it leaves (fits run in several threads at once)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._inside = 0
        self._saved = 1

    def __enter__(self):
        import torch

        with self._lock:
            if self._inside == 0:
                self._saved = torch.get_num_threads()
                torch.set_num_threads(1)
            self._inside += 1

    def __exit__(self, *exc):
        import torch

        with self._lock:
            self._inside -= 1
            if self._inside == 0:
                torch.set_num_threads(self._saved)


_one_torch_thread = _OneTorchThread()
_global_rng = threading.Lock()  # torch's global generator, seeded for a net's initial weights
_blas = None


def one_blas_thread():
    """A context in which NumPy's BLAS (and OpenCV's bundled one) use the calling thread only.

    The net's products are small: on two threads they gain little, and the BLAS threads
    then spin for a while after each call, on the core that the tracker's other work
    (:mod:`.workers`) needs. OpenCV's ``gemm``, used before, does the same with its own
    BLAS, and took twice as long on one thread as NumPy's.
    """
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")


def features(lab: np.ndarray) -> np.ndarray:
    """(h, w, 3) float32 Lab (L 0..100, as :func:`.local.lab_float` gives) -> (CHANNELS,
    h, w) float32: L, a, b, then per scale the gradient magnitude of L (x the scale, so
    that a step weighs the same at every scale), the standard deviation of L around the
    pixel, and the mean a and b there; all divided by 100. Channels first: each is
    written as one contiguous plane (into an (h, w, CHANNELS) array, the writes took 40%
    of the time)."""
    lab = lab * np.float32(0.01)
    out = np.empty((CHANNELS,) + lab.shape[:2], np.float32)
    out[:3] = lab.transpose(2, 0, 1)
    lightness = out[0]
    squared, colour = lightness * lightness, np.ascontiguousarray(lab[..., 1:])
    for k, s in enumerate(SCALES):
        c = 3 + 4 * k
        blurred = cv2.GaussianBlur(lightness, (0, 0), s)
        gx, gy = cv2.Sobel(blurred, cv2.CV_32F, 1, 0), cv2.Sobel(blurred, cv2.CV_32F, 0, 1)
        out[c] = np.sqrt(gx * gx + gy * gy) * s
        mean = cv2.GaussianBlur(lightness, (0, 0), 2 * s)
        out[c + 1] = np.sqrt(np.maximum(cv2.GaussianBlur(squared, (0, 0), 2 * s) - mean * mean, 0.0))
        out[c + 2 : c + 4] = cv2.GaussianBlur(colour, (0, 0), 2 * s).transpose(2, 0, 1)
    return out


def pixels(feats: np.ndarray, where: np.ndarray) -> np.ndarray:
    """The (n, CHANNELS) float32 rows of (CHANNELS, h, w) :func:`features` at the (h, w)
    bool pixels ``where``, in row-major order."""
    return np.ascontiguousarray(feats.reshape(CHANNELS, -1).take(np.flatnonzero(where), axis=1).T)


def box_around(where: np.ndarray, margin: int = MARGIN) -> tuple[slice, slice] | None:
    """The rows and columns of (h, w) bool ``where``'s bounding box grown by ``margin`` px
    (clipped); with the default, the crop whose :func:`features` are exact over ``where``.
    None when ``where`` is empty."""
    rows, cols = np.flatnonzero(where.any(1)), np.flatnonzero(where.any(0))
    if len(rows) == 0:
        return None
    h, w = where.shape
    return (slice(max(0, rows[0] - margin), min(h, rows[-1] + 1 + margin)),
            slice(max(0, cols[0] - margin), min(w, cols[-1] + 1 + margin)))


class PixelClassifier:
    """Tells one object's pixels from its surroundings' by colour and texture."""

    def __init__(self, seed: int = 0):
        self.seed = seed  # training draws its batches and weights from this: same prompt, same model
        # The learned MLP as (weights (n_in, n_out), bias (n_out,)) float32 pairs, applied
        # with NumPy on one BLAS thread (:func:`one_blas_thread`).
        self.layers: list[tuple[np.ndarray, np.ndarray]] | None = None
        self.mean = np.zeros(CHANNELS, np.float32)
        self.scale = np.ones(CHANNELS, np.float32)

    @property
    def ready(self) -> bool:
        return self.layers is not None

    def fit(self, lab: np.ndarray, inside: np.ndarray, outside: np.ndarray) -> None:
        """Learn from one frame: (h, w, 3) float32 Lab ``lab``, (h, w) bool ``inside`` (the
        object) and ``outside`` (background near it). Each side weighs half, whatever its
        size. Does nothing when a side is empty."""
        if not inside.any() or not outside.any():
            return
        import torch  # heavy: imported when the first object is tracked, not with the package

        feats = features(lab)
        x = np.concatenate([pixels(feats, inside), pixels(feats, outside)])
        y = np.zeros(len(x), np.float32)
        y[: int(inside.sum())] = 1.0
        self.mean, self.scale = x.mean(0), x.std(0) + np.float32(1e-3)
        draw = torch.Generator().manual_seed(self.seed)
        # The layers draw their initial weights from torch's global generator: seed it for
        # them only, leaving the notebook's own torch random state as it was (and one fit
        # at a time: objects' classifiers are learned in several threads, :mod:`.workers`).
        with _global_rng, torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = torch.nn.Sequential(torch.nn.Linear(CHANNELS, HIDDEN), torch.nn.ReLU(),
                                      torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 1))
        xt, yt = torch.from_numpy((x - self.mean) / self.scale), torch.from_numpy(y)
        weight = torch.where(yt > 0, 0.5 * len(y) / y.sum(), 0.5 * len(y) / (len(y) - y.sum()))
        optimiser = torch.optim.Adam(net.parameters(), lr=1e-2)
        # One thread: the net is too small to gain much from two (0.19 against 0.26 s on an
        # idle 2-core machine), and when anything else keeps a core busy (the browser
        # playing the video) torch's spinning threads make it 2-4x slower instead.
        with _one_torch_thread:
            for _ in range(STEPS):
                batch = torch.randint(0, len(y), (BATCH,), generator=draw)
                # index_select: what indexing with ``batch`` gives, in 0.8x the fit's time.
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    net(xt.index_select(0, batch))[:, 0], yt.index_select(0, batch), weight=weight.index_select(0, batch))
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        self.layers = [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in net if isinstance(m, torch.nn.Linear)]

    def logit(self, lab: np.ndarray, where: np.ndarray) -> np.ndarray:
        """(h, w) float32 log-odds for the object, from (h, w, 3) float32 Lab ``lab``, at the
        (h, w) bool pixels ``where`` (0 elsewhere); clipped to +-CLIP."""
        scores = TextureScores(self, lab, where)
        scores.at(where)
        return scores.logit

    def score(self, feats: np.ndarray) -> np.ndarray:
        """(n, CHANNELS) float32 :func:`features` -> (n,) float32 log-odds, clipped to +-CLIP."""
        z = feats - self.mean
        z /= self.scale  # in place, here and below: the same values with fewer fresh arrays
        with one_blas_thread():
            for k, (weights, bias) in enumerate(self.layers):
                z = z @ weights
                z += bias
                if k < len(self.layers) - 1:
                    np.maximum(z, 0.0, out=z)  # ReLU between the layers
        return np.clip(z[:, 0], -CLIP, CLIP)


class TextureScores:
    """A classifier's log-odds on one frame, computed on demand: the features once, on the
    box around ``region`` ((h, w) bool), the net only on the pixels asked for (:meth:`at`).
    With an ``executor``, the features are computed there from the start, while the caller
    gathers the evidence that decides where to ask.

    The tracker asks first where the other evidence leaves the decision open, then on the
    contour band its confidence reads (:mod:`.confidence`): the net's cost follows those
    pixels, not the object's area.

    Attributes:
        logit: (h, w) float32 log-odds where computed, 0 elsewhere.
    """

    def __init__(self, classifier: PixelClassifier, lab: np.ndarray, region: np.ndarray, executor=None):
        self.classifier = classifier
        self.region = region
        self.logit = np.zeros(region.shape, np.float32)
        self._done = np.zeros(region.shape, bool)
        self._crop = box_around(region) if classifier.ready else None
        self._feats = None
        self._future = None  # the features, being computed by ``executor`` while the caller does other work
        if self._crop is not None:
            if executor is None:
                self._feats = features(lab[self._crop])
            else:
                self._future = executor.submit(features, lab[self._crop])

    def at(self, where: np.ndarray) -> None:
        """Compute the log-odds at (h, w) bool ``where`` (only within ``region``, where the
        features are exact; each pixel once)."""
        if self._crop is None:
            return
        todo = (where & self.region & ~self._done)[self._crop]
        if not todo.any():
            return
        if self._feats is None:
            self._feats = self._future.result()
        self.logit[self._crop][todo] = self.classifier.score(pixels(self._feats, todo))
        self._done[self._crop] |= todo

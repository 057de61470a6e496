"""GrabCut's graph cut once more, with a cue that OpenCV's ``grabCut`` cannot take.

``cv2.grabCut`` scores pixels by colour only. To add another per-pixel cue (how a pixel
moves, :mod:`.moving`), the colour models that GrabCut fitted are read back and its energy
is cut again with PyMaxflow (Boykov-Kolmogorov), the cue added to the colour term:

    E(L) = sum_p [ -log P(z_p | GMM_{L_p}) - L_p * cue_p ]
         + sum_{p~q} [L_p != L_q] * GAMMA / dist(p, q) * exp(-beta * |z_p - z_q|^2)

with GrabCut's own constants (Rother et al. 2004, as in OpenCV): 8-connected,
``beta = 1 / (2 <|z_p - z_q|^2>)``, and hard seeds that no cut may cross.
"""

from __future__ import annotations

import cv2
import maxflow
import numpy as np

GAMMA = 50.0  # weight of the smoothness term, as in OpenCV's grabCut
COMPONENTS = 5  # Gaussians per colour model, as in OpenCV's grabCut
# The four forward neighbours of a pixel (the other four are the same edges seen backwards).
NEIGHBOURS = ((0, 1), (1, 0), (1, 1), (1, -1))


def _densities(pixels: np.ndarray, model: np.ndarray) -> np.ndarray:
    """(COMPONENTS, n) float64 Gaussian densities of (n, 3) float64 BGR ``pixels`` under each
    component of a GrabCut colour model, the (1, 65) float64 array that ``cv2.grabCut``
    fills (5 weights, 5 means, 5 3x3 covariances); 0 for an unused component."""
    k = COMPONENTS
    weights, means, covs = model[0, :k], model[0, k : 4 * k].reshape(k, 3), model[0, 4 * k :].reshape(k, 3, 3)
    out = np.zeros((k, len(pixels)))
    for c, (weight, mean, cov) in enumerate(zip(weights, means, covs)):
        if weight <= 0:
            continue
        # (z - mean)^T cov^-1 (z - mean), spelled out: cov^-1 is symmetric, and numpy's
        # einsum or a BLAS product are slower on (n, 3) x (3, 3).
        d0, d1, d2 = (pixels - mean).T
        i = np.linalg.inv(cov)
        squared = i[0, 0] * d0 * d0 + i[1, 1] * d1 * d1 + i[2, 2] * d2 * d2 + 2 * (i[0, 1] * d0 * d1 + i[0, 2] * d0 * d2 + i[1, 2] * d1 * d2)
        out[c] = np.exp(-0.5 * squared) / np.sqrt(np.linalg.det(cov))
    return out


def gmm_cost(bgr: np.ndarray, model: np.ndarray) -> np.ndarray:
    """(h, w) float64 -log likelihood of (h, w, 3) float64 BGR pixels under a GrabCut colour
    model ((1, 65) float64, see :func:`_densities`)."""
    likelihood = model[0, :COMPONENTS] @ _densities(bgr.reshape(-1, 3), model)
    return -np.log(np.maximum(likelihood, 1e-300)).reshape(bgr.shape[:2])


def learn(pixels: np.ndarray, model: np.ndarray) -> np.ndarray:
    """One GrabCut learning step: the (1, 65) float64 colour model refitted to (n, 3) float64
    BGR ``pixels``, each given to the component of ``model`` it fits best (as OpenCV does:
    by density, not weighted)."""
    which = _densities(pixels, model).argmax(0)
    k = COMPONENTS
    # A component left without pixels keeps its parameters, unused (weight 0), as in OpenCV.
    weights, means, covs = np.zeros(k), model[0, k : 4 * k].reshape(k, 3).copy(), model[0, 4 * k :].reshape(k, 3, 3).copy()
    for c in range(k):
        members = pixels[which == c]
        if len(members) == 0:
            continue
        weights[c] = len(members) / len(pixels)
        means[c] = members.mean(0)
        covs[c] = members.T @ members / len(members) - np.outer(means[c], means[c])
        if np.linalg.det(covs[c]) <= np.finfo(float).eps:
            covs[c] += 0.01 * np.eye(3)  # a flat component: OpenCV's regularisation
    return np.concatenate([weights, means.ravel(), covs.ravel()])[None]


def recut(rgb: np.ndarray, seed: np.ndarray, bgd_model: np.ndarray, fgd_model: np.ndarray, cue: np.ndarray) -> None:
    """GrabCut's next iteration, with a per-pixel cue added: its colour models refitted to
    its labels (:func:`learn`), then the cut.

    Args:
        rgb: (h, w, 3) uint8 RGB, the image ``cv2.grabCut`` was given (in RGB order here).
        seed: (h, w) uint8 GrabCut labels after ``cv2.grabCut``; its GC_FGD / GC_BGD pixels
            are kept, its probable ones are relabelled in place.
        bgd_model, fgd_model: (1, 65) float64 colour models ``cv2.grabCut`` returned.
        cue: (h, w) float32 log-odds in favour of the object (nats; 0 = no opinion).
    """
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR).astype(np.float64)
    h, w = seed.shape
    on_object = np.isin(seed, (cv2.GC_FGD, cv2.GC_PR_FGD)).ravel()
    pixels = bgr.reshape(-1, 3)
    if on_object.all() or not on_object.any():
        return
    fgd_model, bgd_model = learn(pixels[on_object], fgd_model), learn(pixels[~on_object], bgd_model)
    half = cue.astype(np.float64) / 2
    object_cost = gmm_cost(bgr, fgd_model) - half
    background_cost = gmm_cost(bgr, bgd_model) + half

    differences = []
    for dy, dx in NEIGHBOURS:
        here = (slice(0, h - dy), slice(max(0, -dx), w - max(0, dx)))
        there = (slice(dy, h), slice(max(0, dx), w + min(0, dx)))
        squared = np.zeros((h, w))  # 0 where the neighbour is outside the image (no edge)
        squared[here] = ((bgr[here] - bgr[there]) ** 2).sum(-1)
        differences.append((dy, dx, here, squared))
    total = sum(squared[here].sum() for _, _, here, squared in differences)
    count = sum(squared[here].size for _, _, here, squared in differences)
    beta = 0.0 if total == 0 else count / (2.0 * total)

    graph = maxflow.Graph[float]()
    nodes = graph.add_grid_nodes((h, w))
    for dy, dx, here, squared in differences:
        weight = np.zeros((h, w))
        weight[here] = GAMMA / np.hypot(dy, dx) * np.exp(-beta * squared[here])
        structure = np.zeros((3, 3))
        structure[1 + dy, 1 + dx] = 1
        graph.add_grid_edges(nodes, weights=weight, structure=structure, symmetric=True)
    # The source side is the object: a pixel left on it pays its sink capacity.
    hard = 9 * GAMMA  # more than all of a pixel's smoothness edges together
    to_source, to_sink = background_cost, object_cost
    to_source[seed == cv2.GC_FGD], to_sink[seed == cv2.GC_FGD] = hard, 0
    to_source[seed == cv2.GC_BGD], to_sink[seed == cv2.GC_BGD] = 0, hard
    graph.add_grid_tedges(nodes, to_source, to_sink)
    graph.maxflow()
    on_object = ~graph.get_grid_segments(nodes)
    probable = (seed == cv2.GC_PR_FGD) | (seed == cv2.GC_PR_BGD)
    seed[probable & on_object] = cv2.GC_PR_FGD
    seed[probable & ~on_object] = cv2.GC_PR_BGD

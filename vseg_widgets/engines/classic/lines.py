"""Thin straight parts of an object (kite lines, ropes, poles), tracked as lines.

A part a few pixels wide is below what the tracker can carry: the flow, the colour models
and the edge filter all work on patches wider than it, and in a scaled-down view it is
gone within a frame. Yet such parts can be much of an object's boundary (the lines of a
kite). They are taken from the prompted mask as long straight segments of its thin part
(what a morphological opening removes) and followed on their own: each frame, every line
is searched in a small range of angles and sideways shifts for the position where the
image has the strongest thin ridge along it, and drawn into the object's mask from where
it leaves the object. A line whose ridge fades (hidden, gone) is dropped for good.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

OPEN_SIDE = 7  # px: what an opening with this square removes is the mask's thin part
MIN_LENGTH = 100  # px: shorter thin segments are left to the tracker (limbs, spokes)
SHIFTS = np.arange(-10, 11, 1.0)  # px, sideways search range per frame
TURNS = np.deg2rad(np.arange(-3.0, 3.01, 0.5))  # rad, angular search range per frame
KEEP = 0.5  # a line whose ridge falls below this x its keyframe strength is dropped
STEP = 2.0  # px between samples along a line


@dataclass
class Line:
    """One thin straight part, at full resolution.

    Attributes:
        anchor: (2,) float64 (x, y) where it leaves the object.
        direction: (2,) float64 unit vector from the anchor outwards.
        length: px; None when it runs to the edge of the frame.
        width: drawn thickness, px.
        strength: mean ridge along it on the keyframe.
    """

    anchor: np.ndarray
    direction: np.ndarray
    length: float | None
    width: int
    strength: float


def ridge(gray: np.ndarray) -> np.ndarray:
    """(H, W) uint8 -> (H, W) float32 response to thin structures, bright or dark (a
    kite line is bright on the sea and dark on the sky)."""
    g = gray.astype(np.float32)
    return np.abs(g - cv2.GaussianBlur(g, (0, 0), 2.0))


def _extent(anchor: np.ndarray, direction: np.ndarray, size: tuple[int, int]) -> float:
    """Distance from ``anchor`` along ``direction`` to the edge of a (H, W) frame."""
    h, w = size
    ts = []
    for k, limit in ((0, w - 1), (1, h - 1)):
        if direction[k] > 1e-6:
            ts.append((limit - anchor[k]) / direction[k])
        elif direction[k] < -1e-6:
            ts.append(-anchor[k] / direction[k])
    return max(0.0, min(ts)) if ts else 0.0


def _score(response: np.ndarray, anchors: np.ndarray, directions: np.ndarray, length: float) -> np.ndarray:
    """Mean ``response`` along (n,) candidate lines (anchors, directions: (n, 2)); (n,) float32."""
    h, w = response.shape
    t = np.arange(STEP, max(length, 2 * STEP), STEP)
    pts = anchors[:, None, :] + t[None, :, None] * directions[:, None, :]  # (n, k, 2)
    x = np.clip(np.rint(pts[..., 0]), 0, w - 1).astype(np.int32)
    y = np.clip(np.rint(pts[..., 1]), 0, h - 1).astype(np.int32)
    inside = (pts[..., 0] >= 0) & (pts[..., 0] <= w - 1) & (pts[..., 1] >= 0) & (pts[..., 1] <= h - 1)
    values = np.where(inside, response[y, x], 0.0)
    return (values.sum(1) / np.maximum(inside.sum(1), 1)).astype(np.float32)


def find_lines(mask: np.ndarray, gray: np.ndarray) -> list[Line]:
    """Long straight thin parts of (H, W) bool ``mask`` on its (H, W) uint8 ``gray`` frame."""
    m = mask.astype(np.uint8)
    body = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((OPEN_SIDE, OPEN_SIDE), np.uint8))
    thin = (m > 0) & (body == 0)
    if thin.sum() < MIN_LENGTH or not body.any():
        return []
    segments = cv2.HoughLinesP(thin.astype(np.uint8) * 255, 1, np.pi / 180, 60, minLineLength=MIN_LENGTH, maxLineGap=8)
    if segments is None:
        return []
    ys, xs = np.nonzero(body)
    centre = np.array([xs.mean(), ys.mean()])
    response = ridge(gray)
    size = mask.shape
    lines: list[Line] = []
    # Longest first; a segment along one already taken (both edges of a 2-px line) is skipped.
    for x0, y0, x1, y1 in sorted(segments.reshape(-1, 4).tolist(), key=lambda s: -np.hypot(s[2] - s[0], s[3] - s[1])):
        a, b = np.array([x0, y0], float), np.array([x1, y1], float)
        if np.linalg.norm(b - centre) < np.linalg.norm(a - centre):
            a, b = b, a  # the anchor is the end nearer the object's body
        length = float(np.linalg.norm(b - a))
        d = (b - a) / length
        off = lambda l: abs(float(d[0] * (a - l.anchor)[1] - d[1] * (a - l.anchor)[0]))  # distance between the lines
        if any(abs(float(d @ l.direction)) > np.cos(np.deg2rad(3)) and off(l) < 5 for l in lines):
            continue
        reaches_edge = _extent(b, d, size) < 10
        band = np.zeros(size, np.uint8)
        cv2.line(band, tuple(int(v) for v in a), tuple(int(v) for v in b), 1, 7)
        width = int(np.clip(round(float((thin & (band > 0)).sum()) / length), 1, 4))
        strength = float(_score(response, a[None], d[None], length)[0])
        lines.append(Line(a, d, None if reaches_edge else length, width, strength))
    return lines


def follow(lines: list[Line], gray: np.ndarray, shift: np.ndarray) -> list[Line]:
    """Each line moved to where (H, W) uint8 ``gray`` has the strongest ridge near it.

    ``shift``: (2,) the object's own displacement since the last frame, applied to the
    anchors first. Returns the lines still seen (weak ones are dropped).
    """
    if not lines:
        return []
    response = ridge(gray)
    size = gray.shape
    kept = []
    for line in lines:
        anchor = line.anchor + shift
        c, s = np.cos(TURNS), np.sin(TURNS)
        dx, dy = line.direction
        directions = np.stack([dx * c - dy * s, dx * s + dy * c], -1)  # (n_turns, 2): turned by each angle
        normal = np.array([-line.direction[1], line.direction[0]])
        cand_a = (anchor[None, None, :] + SHIFTS[:, None, None] * normal[None, None, :]).repeat(len(TURNS), 1).reshape(-1, 2)
        cand_d = np.broadcast_to(directions[None], (len(SHIFTS), len(TURNS), 2)).reshape(-1, 2)
        length = line.length if line.length is not None else _extent(anchor, line.direction, size)
        scores = _score(response, cand_a, cand_d, length)
        best = int(scores.argmax())
        if scores[best] < KEEP * line.strength:
            continue
        kept.append(Line(cand_a[best], cand_d[best], line.length, line.width, line.strength))
    return kept


def draw(lines: list[Line], size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool mask of the lines."""
    out = np.zeros(size, np.uint8)
    for line in lines:
        length = line.length if line.length is not None else _extent(line.anchor, line.direction, size)
        end = line.anchor + length * line.direction
        cv2.line(out, tuple(int(round(v)) for v in line.anchor), tuple(int(round(v)) for v in end), 1, line.width)
    return out > 0

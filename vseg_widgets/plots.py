"""Matplotlib figures from the tables of :mod:`vseg_widgets.metrics` and ``Segmenter.to_dataframe()``.

Every function takes a table (a pandas DataFrame with the shared column names, see
:mod:`vseg_widgets.metrics`), an optional ``ax`` to draw into, and returns the
:class:`~matplotlib.figure.Figure`. Without ``ax`` a new figure is made outside pyplot,
so nothing accumulates in pyplot's global state: in a notebook it shows when it is the
cell's last expression; in a script, call ``fig.savefig(...)``.

Objects are drawn in the player's colours (:func:`vseg_widgets.palette.object_color`).
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .palette import object_color, object_rgb

UNIT_COLUMNS = {"J", "F", "JF", "iou_prev", "flow_iou", "J_mean", "F_mean", "JF_mean", "J_recall", "F_recall"}


def score_over_time(
    table,
    column: str = "J",
    *,
    prompted: Mapping[int, Iterable[int]] | Iterable[int] | None = None,
    x: str = "frame",
    ax: Axes | None = None,
) -> Figure:
    """A score (J, F, iou_prev, area_px, ... any column) over time, one line per object.

    Args:
        table: DataFrame with ``frame``, ``obj_id`` and ``column`` (an
            :class:`~vseg_widgets.metrics.Evaluation` is taken as its ``frames``).
        column: the column to plot.
        prompted: frames to mark, ``{obj_id: frames}`` (e.g. ``seg.prompted_frames``) or
            one list of frames for every object; drawn as triangles on each object's line.
        x: ``"frame"`` or ``"time_s"``.
        ax: Axes to draw into.

    Frames missing from the table break the line (they are not bridged). Lines carry
    the label ``"object <id>"``; the prompt marks have gid ``"prompted"``.
    """
    table = _frame_table(table, column, x)
    fig, ax = _figure(ax, (8, 3))
    prompted = _prompted_by_object(prompted, table["obj_id"].unique())
    for obj, group in table.groupby("obj_id", sort=True):
        series = group.set_index("frame").sort_index()
        # reindex over the object's frame span so a missing frame shows as a gap
        full = series.reindex(range(series.index.min(), series.index.max() + 1))
        xs = full.index.to_numpy() if x == "frame" else full[x].to_numpy()
        ax.plot(xs, full[column].to_numpy(), color=object_color(obj), label=f"object {obj}", lw=1.5)
        marks = [f for f in prompted.get(int(obj), []) if f in series.index]
        if marks:
            ax.scatter(
                marks if x == "frame" else series.loc[marks, x], series.loc[marks, column],
                marker="v", s=60, color=object_color(obj), edgecolor="black", zorder=3, gid="prompted",
            )  # fmt: skip
    if prompted:
        ax.scatter([], [], marker="v", color="white", edgecolor="black", label="prompt")  # legend entry only
    ax.set_xlabel("time (s)" if x == "time_s" else "frame")
    ax.set_ylabel(column)
    if column in UNIT_COLUMNS:
        ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{column} over time")
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def score_distribution(table, column: str = "J", *, by: str = "obj_id", ax: Axes | None = None) -> Figure:
    """Distribution of a score per group: a box per group with every value as a point.

    Args:
        table: DataFrame with ``column`` and ``by`` (e.g. ``evaluate(...).frames``, or the
            concatenated ``frames`` of several sequences with ``by="sequence"``).
        column: the score.
        by: the grouping column: ``"obj_id"`` (boxes in the objects' colours),
            ``"sequence"``, an engine label, ...

    NaN values are left out (and counted in the x tick labels when there are any).
    """
    table = _as_table(table)
    _require(table, [column, by])
    fig, ax = _figure(ax, (max(4, 0.8 * table[by].nunique() + 2), 3.5))
    groups = [(key, g[column].to_numpy(dtype=float)) for key, g in table.groupby(by, sort=True)]
    values = [v[~np.isnan(v)] for _, v in groups]
    boxes = ax.boxplot(values, patch_artist=True, widths=0.5, showfliers=False)
    rng = np.random.default_rng(0)  # fixed jitter: the same figure every time
    for i, ((key, raw), vals, box) in enumerate(zip(groups, values, boxes["boxes"]), start=1):
        colour = object_color(key) if by == "obj_id" else "#9e9e9e"
        box.set_facecolor(colour)
        box.set_alpha(0.45)
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(vals)), vals, s=10, color=colour, edgecolor="black", linewidth=0.3, zorder=3, gid="values")
    labels = []
    for key, raw in groups:
        label = f"object {key}" if by == "obj_id" else str(key)
        nan = int(np.isnan(raw).sum())
        labels.append(f"{label}\n({nan} NaN)" if nan else label)
    ax.set_xticks(range(1, len(groups) + 1), labels)
    ax.set_ylabel(column)
    if column in UNIT_COLUMNS:
        ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{column} by {by}")
    ax.grid(alpha=0.3, axis="y")
    return fig


def area_and_consistency(
    table,
    events: pd.DataFrame | None = None,
    *,
    consistency: str = "iou_prev",
    area: str = "area_px",
    ax: Axes | None = None,
) -> Figure:
    """Mask area (solid, left axis) and consistency (dashed, right axis) over frames, per
    object, with flicker events shaded in the object's colour.

    Args:
        table: DataFrame with ``frame``, ``obj_id``, ``area`` and ``consistency`` columns,
            e.g. :func:`vseg_widgets.metrics.consistency` or ``seg.to_dataframe()``.
        events: flicker events (:func:`vseg_widgets.metrics.flicker_events`); when None
            and the table has a ``flicker`` column, its runs of True frames are shaded.
        consistency: the consistency column, ``"iou_prev"`` or ``"flow_iou"``.
        area: ``"area_px"`` or ``"area_frac"``.
        ax: Axes for the area; the consistency goes on a twin axis of it.

    The shaded spans have gid ``"flicker"``; the twin axis is ``fig.axes[-1]``.
    """
    table = _as_table(table)
    _require(table, ["frame", "obj_id", area, consistency])
    fig, ax = _figure(ax, (8, 3.5))
    twin = ax.twinx()
    for obj, group in table.groupby("obj_id", sort=True):
        g = group.set_index("frame").sort_index()
        full = g.reindex(range(g.index.min(), g.index.max() + 1))
        ax.plot(full.index, full[area], color=object_color(obj), lw=1.8, label=f"object {obj} {area}")
        twin.plot(full.index, full[consistency], color=object_color(obj), lw=1.2, ls="--", label=f"object {obj} {consistency}")
    spans = _flicker_spans(table, events)
    for obj, start, end in spans:
        ax.axvspan(start - 0.5, end + 0.5, color=object_color(obj), alpha=0.2, lw=0, gid="flicker")
    ax.set_xlabel("frame")
    ax.set_ylabel(area)
    twin.set_ylabel(consistency)
    twin.set_ylim(-0.02, 1.05)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], loc="best", fontsize="x-small")
    title = f"{area} and {consistency}"
    ax.set_title(title + (f" ({len(spans)} flicker events shaded)" if spans else ""))
    ax.grid(alpha=0.3)
    return fig


def compare(table, column: str = "JF_mean", *, by: str = "engine", points: str | None = "sequence", ax: Axes | None = None) -> Figure:
    """Compare engines or settings: one bar per group (the mean of ``column``) with the
    individual values (e.g. per sequence) as points over it.

    Args:
        table: DataFrame with ``by`` and ``column``, e.g. ``pd.concat`` of
            ``evaluate(...).objects`` tables with an ``engine`` column added.
        column: the score to compare.
        by: the column naming the engines / settings (one bar each, in order of appearance).
        points: the column naming each point (e.g. ``"sequence"``), used to join the same
            sequence across bars with a faint line; None to just scatter the values.

    The bars are the containers of ``ax.containers``; points have gid ``"points"``. NaN
    values are left out of both.
    """
    table = _as_table(table)
    _require(table, [by, column] + ([points] if points else []))
    groups = list(dict.fromkeys(table[by]))
    fig, ax = _figure(ax, (max(4, 1.2 * len(groups) + 2), 3.5))
    data = table.dropna(subset=[column])
    means = [data.loc[data[by] == g, column].mean() for g in groups]
    ax.bar(range(len(groups)), means, color="#c7c7c7", edgecolor="black", width=0.6)
    rng = np.random.default_rng(0)
    xs = {g: i for i, g in enumerate(groups)}
    jitter = rng.uniform(-0.18, 0.18, len(data))
    px = data[by].map(xs).to_numpy(dtype=float) + jitter
    ax.scatter(px, data[column], s=14, color="black", zorder=3, gid="points")
    if points:  # the same sequence across engines: a faint line shows who wins where
        for _, g in data.assign(_x=px).groupby(points, sort=False):
            if len(g) > 1:
                g = g.sort_values("_x")
                ax.plot(g["_x"], g[column], color="black", alpha=0.15, lw=0.8)
    for i, m in enumerate(means):
        ax.annotate(f"{m:.3f}", (i, m), ha="center", va="bottom", xytext=(0, 3), textcoords="offset points", fontsize="small")
    ax.set_xticks(range(len(groups)), [str(g) for g in groups])
    ax.set_xlabel(by)
    ax.set_ylabel(column)
    if column in UNIT_COLUMNS:
        ax.set_ylim(0, 1.08)
    ax.set_title(f"{column} by {by}" + (f" (points: {points})" if points else ""))
    ax.grid(alpha=0.3, axis="y")
    return fig


def worst_frames(
    video,
    masks,
    table,
    column: str = "J",
    *,
    n: int = 6,
    gt=None,
    height: int = 120,
    ax: Axes | None = None,
) -> Figure:
    """A strip of thumbnails of the ``n`` frames with the lowest ``column``, masks overlaid.

    Args:
        video: the video (``video[i] -> (H, W, 3)`` uint8 RGB).
        masks: the predicted MaskStore, overlaid in the objects' colours.
        table: DataFrame with ``frame`` and ``column`` (e.g. ``evaluate(...).frames``);
            a frame's score is its lowest over objects. NaN scores are never "worst".
        n: number of thumbnails.
        gt: optional ground-truth MaskStore, drawn as white outlines.
        height: thumbnail height in pixels.

    The strip is one image (``ax.images[0]``); each thumbnail is titled with its frame
    and score, worst first (texts with gid ``"thumb-label"``).
    """
    import cv2

    table = _as_table(table)
    _require(table, ["frame", column])
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}.")
    per_frame = table.groupby("frame")[column].min().dropna().sort_values(kind="stable")
    if per_frame.empty:
        raise ValueError(f"the table has no {column} values (all NaN or no rows).")
    frames = [int(f) for f in per_frame.index[:n]]
    thumbs = []
    for frame in frames:
        image = _overlay(video[frame], masks[frame] if frame in masks else {}, None if gt is None else gt[frame])
        width = max(1, round(image.shape[1] * height / image.shape[0]))
        thumbs.append(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))
    gap = np.full((height, 4, 3), 255, np.uint8)
    strip = np.concatenate([x for t in thumbs for x in (t, gap)][:-1], axis=1)
    width_in = min(2.4 * len(frames), 16)
    fig, ax = _figure(ax, (width_in, width_in * strip.shape[0] / strip.shape[1] + 0.9))
    ax.imshow(strip)
    left = 0
    for frame, thumb in zip(frames, thumbs):
        ax.text(left + thumb.shape[1] / 2, -4, f"frame {frame}\n{column} = {per_frame[frame]:.3f}", ha="center", va="bottom", fontsize="small", gid="thumb-label")
        left += thumb.shape[1] + gap.shape[1]
    ax.set_axis_off()
    ax.set_title(f"{len(frames)} frames with the lowest {column}", pad=28)
    return fig


# -- helpers ---------------------------------------------------------------------------------
def _overlay(frame: np.ndarray, masks: Mapping[int, np.ndarray], gt: Mapping[int, np.ndarray] | None, alpha: float = 0.5) -> np.ndarray:
    """(H, W, 3) uint8 RGB: ``frame`` with each mask blended in its object's colour and the
    ground truth outlined in white."""
    import cv2

    out = frame.astype(np.float32)
    for obj, mask in masks.items():
        out[mask] = (1 - alpha) * out[mask] + alpha * np.asarray(object_rgb(obj), np.float32)
    out = out.round().astype(np.uint8)
    for mask in (gt or {}).values():
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, (255, 255, 255), thickness=max(1, frame.shape[0] // 160))
    return out


def _figure(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def _as_table(table) -> pd.DataFrame:
    frames = getattr(table, "frames", None)  # an Evaluation
    if isinstance(frames, pd.DataFrame):
        table = frames
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame (or an Evaluation), got {type(table).__name__}.")
    if table.empty:
        raise ValueError("the table is empty: nothing to plot.")
    return table


def _require(table: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"the table has no column {missing}; its columns are {list(table.columns)}.")


def _frame_table(table, column: str, x: str) -> pd.DataFrame:
    table = _as_table(table)
    if x not in ("frame", "time_s"):
        raise ValueError(f"x must be 'frame' or 'time_s', got {x!r}.")
    _require(table, ["frame", "obj_id", column] + ([x] if x != "frame" else []))
    if table.duplicated(["frame", "obj_id"]).any():
        raise ValueError(
            "the table has several rows per (frame, obj_id) (several sequences?); "
            "plot one sequence at a time, e.g. table[table.sequence == name]."
        )
    return table


def _prompted_by_object(prompted, objects) -> dict[int, list[int]]:
    if prompted is None:
        return {}
    if isinstance(prompted, Mapping):
        return {int(k): [int(f) for f in v] for k, v in prompted.items()}
    frames = [int(f) for f in prompted]
    return {int(obj): frames for obj in objects}


def _flicker_spans(table: pd.DataFrame, events: pd.DataFrame | None) -> list[tuple[int, int, int]]:
    """[(obj_id, first frame, last frame)] of flicker events."""
    if events is not None:
        _require(events, ["obj_id", "start", "end"])
        return [(int(e.obj_id), int(e.start), int(e.end)) for e in events.itertuples()]
    if "flicker" not in table.columns:
        return []
    spans = []
    for obj, group in table[table["flicker"].astype(bool)].groupby("obj_id", sort=True):
        frames = sorted(group["frame"].astype(int))
        start = prev = frames[0]
        for f in frames[1:] + [None]:
            if f is None or f != prev + 1:
                spans.append((int(obj), start, prev))
                start = f
            prev = f
    return spans

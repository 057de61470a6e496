"""Engine latency: the per-frame engine time a Segmenter recorded, summarised."""

from __future__ import annotations

import numpy as np
import pandas as pd


def latency(source) -> pd.Series:
    """Summary of the engine time per frame: mean, 95th percentile and frames per second.

    Args:
        source: a Segmenter (its recorded engine time per frame), or a table with ``frame``
            and ``engine_ms`` columns such as ``seg.to_dataframe()`` (one row per frame and
            object; the engine time is per frame, so each frame counts once).

    Returns:
        pandas Series: ``frames`` (frames timed), ``mean_ms``, ``median_ms``, ``p95_ms``
        (numpy's linear-interpolation percentile), ``max_ms`` and ``fps`` (1000 / mean_ms:
        the engine's own rate, without decoding or display).

    Raises:
        ValueError: nothing was timed (no prompt or propagation yet), or the table has
            no ``engine_ms`` column. Frames with NaN engine time (never computed) are
            left out; a negative time is refused.
    """
    if isinstance(source, pd.DataFrame):
        missing = {"frame", "engine_ms"} - set(source.columns)
        if missing:
            raise ValueError(f"the table has no {sorted(missing)} column; pass seg.to_dataframe() or the Segmenter.")
        per_frame = source.drop_duplicates("frame")["engine_ms"].to_numpy(dtype=np.float64)
    elif isinstance(getattr(source, "_engine_ms", None), dict):
        per_frame = np.fromiter(source._engine_ms.values(), dtype=np.float64)
    else:
        raise TypeError(f"latency takes a Segmenter or its to_dataframe(), got {type(source).__name__}.")
    ms = per_frame[~np.isnan(per_frame)]
    if ms.size == 0:
        raise ValueError("no engine time recorded: prompt and propagate first.")
    if (ms < 0).any():
        raise ValueError(f"engine times must not be negative, got {ms[ms < 0][0]} ms.")
    mean = float(ms.mean())
    return pd.Series(
        {
            "frames": int(ms.size),
            "mean_ms": mean,
            "median_ms": float(np.median(ms)),
            "p95_ms": float(np.percentile(ms, 95)),
            "max_ms": float(ms.max()),
            "fps": 1000.0 / mean if mean > 0 else np.inf,
        }
    )

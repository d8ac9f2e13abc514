"""Largest-Triangle-Three-Buckets down-sampling, and its multi-column form used by the metrics route.

Pure functions over numpy arrays: no I/O, no server state.
"""
from __future__ import annotations

import numpy as np


def lttb_indices(x: np.ndarray, y: np.ndarray, n_out: int) -> np.ndarray:
    """Indices of about `n_out` points of (x, y) that keep the curve's visual shape.

    Always keeps the first and the last point, and the global minimum and maximum of y (LTTB alone
    usually keeps them but does not promise to; a chart that loses a loss spike lies). NaN values of
    y are never chosen over a finite value in their bucket.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    if n_out >= n or n <= 2:
        return np.arange(n)
    finite = np.isfinite(y)
    y_safe = np.where(finite, y, 0.0)

    # Reserve slots for the two ends and the two extremes so the result stays within n_out.
    n_buckets = max(n_out - 4, 1)
    edges = np.linspace(1, n - 1, n_buckets + 1).astype(np.int64)
    lo, hi = edges[:-1], edges[1:]

    # The triangle area of candidate j against anchor a and the next bucket's centroid c is
    # |ax·(y_j − cy) + ay·(cx − x_j) + (x_j·cy − cx·y_j)| / 2: linear in the anchor, so everything
    # but the anchor is computed for all buckets at once and the sequential loop is one row each.
    next_lo = np.append(lo[1:], n - 1)
    next_hi = np.append(hi[1:], n)
    cx = np.repeat(_segment_mean(x, np.ones(n, dtype=bool), next_lo, next_hi), hi - lo)
    cy = np.repeat(_segment_mean(y_safe, finite, next_lo, next_hi), hi - lo)
    inner = slice(1, n - 1)  # buckets tile points 1 .. n-2 exactly
    xs, ys = x[inner], y_safe[inner]
    p, q, r = ys - cy, cx - xs, xs * cy - cx * ys
    penalty = np.where(finite[inner], 0.0, -np.inf)

    chosen = np.empty(n_buckets + 2, dtype=np.int64)
    chosen[0], chosen[-1] = 0, n - 1
    ax, ay = x[0], y_safe[0]
    for b in range(n_buckets):
        a, z = lo[b] - 1, hi[b] - 1  # offsets into the inner arrays
        if z <= a:
            chosen[b + 1] = lo[b]
            continue
        area = np.abs(ax * p[a:z] + ay * q[a:z] + r[a:z]) + penalty[a:z]
        pick = lo[b] + int(np.argmax(area))
        chosen[b + 1] = pick
        ax, ay = x[pick], y_safe[pick]

    extremes = []
    if finite.any():
        masked = np.where(finite, y, np.nan)
        extremes = [int(np.nanargmin(masked)), int(np.nanargmax(masked))]
    return np.unique(np.concatenate([chosen, np.asarray(extremes, dtype=np.int64)]))


def _segment_mean(values: np.ndarray, use: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Mean of values[lo:hi] over entries where `use`, per segment (0 when a segment has none)."""
    sums = np.concatenate([[0.0], np.cumsum(np.where(use, values, 0.0))])
    counts = np.concatenate([[0], np.cumsum(use)])
    total = counts[hi] - counts[lo]
    return np.where(total > 0, (sums[hi] - sums[lo]) / np.maximum(total, 1), 0.0)


def lttb_multi(x: np.ndarray, columns: dict[str, np.ndarray], max_points: int) -> np.ndarray:
    """Row indices shared by every column: the union of each column's LTTB choice.

    Each column gets an equal share of the budget so the union never exceeds `max_points`; all
    columns are then sent on the same rows, so a chart can align them on one step axis.
    Columns that are not numeric do not steer the choice.
    """
    n = len(x)
    if n <= max_points:
        return np.arange(n)
    numeric = [col for col in columns.values() if col.dtype.kind in "fiub"]
    if not numeric:
        return np.unique(np.linspace(0, n - 1, max_points).astype(np.int64))
    share = max(max_points // len(numeric), 5)
    picked = np.unique(np.concatenate([lttb_indices(x, col, share) for col in numeric]))
    if len(picked) > max_points:
        # Only when the budget is smaller than 5 points per column: thin evenly, keep the ends.
        keep = np.unique(np.linspace(0, len(picked) - 1, max_points).astype(np.int64))
        picked = picked[keep]
    return picked

"""The metrics payload: a window of steps, down-sampled to a point budget, columns kept aligned."""
from __future__ import annotations

import numpy as np

from unipo.server.errors import bad_request
from unipo.server.lttb import lttb_multi

MAX_POINTS_LIMIT = 100_000


def metrics_payload(steps: np.ndarray, columns: dict[str, np.ndarray], *, max_points: int,
                    start: int | None = None, end: int | None = None,
                    names: list[str] | None = None) -> dict:
    """`{step, columns, downsampled, total}` (contract §3).

    `total` counts the updates in the window. Inside a window that holds at most `max_points`
    updates every update is sent (zooming in reaches full resolution); a larger window is
    down-sampled with LTTB on the rows shared by every column.
    """
    if not 2 <= max_points <= MAX_POINTS_LIMIT:
        raise bad_request(f"max_points: expected 2..{MAX_POINTS_LIMIT}, got {max_points}")
    if start is not None and end is not None and end < start:
        raise bad_request(f"end ({end}) is before start ({start})")
    if names is not None:
        unknown = [name for name in names if name not in columns]
        if unknown:
            raise bad_request(f"columns: no metric named {', '.join(map(repr, unknown))} "
                              f"(known: {', '.join(sorted(columns)) or 'none'})")
        columns = {name: columns[name] for name in names}

    in_window = np.ones(len(steps), dtype=bool)
    if start is not None:
        in_window &= steps >= start
    if end is not None:
        in_window &= steps <= end
    rows = np.flatnonzero(in_window)
    window_steps = steps[rows]
    window_columns = {name: values[rows] for name, values in columns.items()}

    chosen = lttb_multi(window_steps, window_columns, max_points)
    downsampled = len(chosen) < len(rows)
    return {
        "step": window_steps[chosen],
        "columns": {name: _jsonable(values[chosen]) for name, values in window_columns.items()},
        "downsampled": downsampled,
        "total": int(len(rows)),
    }


def _jsonable(values: np.ndarray):
    # Object columns (strings, booleans) go out as lists; numeric ones as numpy (NaN -> null).
    return values.tolist() if values.dtype == object else values

"""Run descriptions for /api/runs and /api/runs/{id}."""
from __future__ import annotations

import numpy as np

from unipo.server.registry import RunEntry
from unipo.server.run_details import run_details

SCHEDULE_KEYS = ("rollout", "epoch", "minibatch")


def run_summary(entry: RunEntry) -> dict:
    steps = entry.steps()
    return {
        "id": entry.id,
        "header": entry.header,
        "details": run_details(entry.header),  # every header key, unknown ones included (Run details panel)
        "steps": len(steps),
        "last_step": steps[-1] if steps else None,
        "live": entry.reader.is_live,
    }


def run_detail(entry: RunEntry) -> dict:
    """Every visible step with its place in the schedule (rollout / epoch / mini-batch).

    The schedule comes from metrics.jsonl when the engine logged it there (reading it from each
    step file would open thousands of files); steps without such a line get null.
    """
    steps = entry.steps()
    logged_steps, columns = entry.metrics.columns()
    row_of = {int(step): row for row, step in enumerate(logged_steps)}
    schedule = {key: columns.get(key) for key in SCHEDULE_KEYS}
    listed = []
    for step in steps:
        row = row_of.get(step)
        item = {"step": step}
        for key, values in schedule.items():
            item[key] = _as_int(values[row]) if values is not None and row is not None else None
        listed.append(item)
    return {"id": entry.id, "header": entry.header, "details": run_details(entry.header), "steps": listed,
            "live": entry.reader.is_live}


def _as_int(value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return int(value) if isinstance(value, (int, float, np.integer, np.floating)) else value

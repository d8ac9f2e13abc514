"""Checks of values several formats share (a step's metrics)."""
from __future__ import annotations

from typing import Any

from unipo.importers.problems import kind
from unipo.importers.values import Fields


def metrics_of(value: Any, name: str, fields: Fields) -> dict[str, Any]:
    """Metrics as stored in metrics.jsonl: numbers (float32-storable checks are not applied: metrics
    are kept as float64), strings, booleans and null; anything else is reported."""
    metrics = fields.mapping(value, name)
    out = {}
    for key, metric in metrics.items():
        if metric is None or isinstance(metric, (str, bool)):
            out[key] = metric
        elif isinstance(metric, (int, float)):
            try:
                number = float(metric)
            except OverflowError:
                number = float("inf")
            if number != number or abs(number) == float("inf") or (isinstance(metric, int) and abs(metric) >= 2**53):
                fields.add(f"{name}.{key}", f"{'an integer of ' + str(len(str(metric))) + ' digits' if isinstance(metric, int) else metric!r} "
                           "cannot be stored exactly as a metric")
                continue
            out[key] = metric
        else:
            fields.add(f"{name}.{key}", f"expected a number, string, boolean or null, got {kind(metric)}")
    return out

"""What an analysis reads: one stored step as numpy columns (StepData), or a run (RunData).

Token rows are the step's completion tokens in (response, position) order: row k is flat token k of
the server's step payload, so an analysis can name a token by that index. Nulls are NaN.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

METRIC_PREFIX = "metrics."


class RunSource(Protocol):
    """Where a RunData reads from: a RunReader (ReaderSource) or the server's cached tables."""

    def header(self) -> dict: ...
    def metrics(self) -> dict[str, list]: ...
    def steps(self) -> list[int]: ...
    def step_table(self, n: int) -> pa.Table: ...
    def step_metrics(self, n: int) -> dict: ...


class ReaderSource:
    """A RunSource over unipo.runs.RunReader (scripts, notebooks, tests)."""

    def __init__(self, reader):
        self.reader = reader
        self._metrics: dict | None = None

    def header(self) -> dict:
        return self.reader.header

    def metrics(self) -> dict[str, list]:
        if self._metrics is None:
            self._metrics = self.reader.metrics()
        return self._metrics

    def steps(self) -> list[int]:
        return self.reader.steps()

    def step_table(self, n: int) -> pa.Table:
        return self.reader.step(n)

    def step_metrics(self, n: int) -> dict:
        columns = self.metrics()
        steps = columns.get("step", [])
        try:
            at = steps.index(n)
        except ValueError:
            return {}
        return {name: values[at] for name, values in columns.items() if at < len(values)}


def _order(table: pa.Table) -> pa.Table:
    if "position" in table.column_names:
        table = table.filter(pc.greater_equal(table.column("position"), 0))
    if table.num_rows > 1:
        response = table.column("response").to_numpy().astype(np.int64)
        position = table.column("position").to_numpy().astype(np.int64)
        key = response * (int(position.max(initial=0)) + 1) + position
        if not np.all(key[1:] >= key[:-1]):
            table = table.take(pa.array(np.argsort(key, kind="stable")))
    return table


class StepData:
    def __init__(self, table: pa.Table, metrics: dict | None = None, step: int | None = None):
        self.table = _order(table)
        self.metrics = dict(metrics or {})
        self.step = step
        self._cache: dict[str, np.ndarray | None] = {}

    @property
    def tokens(self) -> int:
        return self.table.num_rows

    def has(self, name: str) -> bool:
        if name.startswith(METRIC_PREFIX):
            value = self.metrics.get(name[len(METRIC_PREFIX):])
            return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
        if name not in self.table.column_names:
            return False
        column = self.table.column(name)
        if column.null_count == len(column):
            return False
        if pa.types.is_floating(column.type):
            return bool(np.isfinite(self.floats(name)).any())
        return True

    def missing(self, names) -> list[str]:
        return [name for name in names if not self.has(name)]

    def floats(self, name: str) -> np.ndarray | None:
        """The column as float64 (NaN for nulls), or None when the step does not store it."""
        if name not in self._cache:
            if name not in self.table.column_names:
                self._cache[name] = None
            else:
                column = self.table.column(name)
                if pa.types.is_boolean(column.type):
                    column = pc.cast(column, pa.int8())
                self._cache[name] = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        return self._cache[name]

    def ints(self, name: str) -> np.ndarray:
        return self.table.column(name).to_numpy(zero_copy_only=False).astype(np.int64)

    def strings(self, name: str) -> list:
        if name not in self.table.column_names:
            return [None] * self.tokens
        column = self.table.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        return column.to_pylist()

    def per_response(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(response ids, the column's value on each response's first token row)."""
        response = self.ints("response")
        firsts = np.flatnonzero(np.r_[True, response[1:] != response[:-1]]) if len(response) else np.zeros(0, int)
        values = self.floats(name)
        return response[firsts], (values[firsts] if values is not None else np.full(len(firsts), np.nan))


class RunData:
    def __init__(self, source: RunSource):
        self.source = source

    @property
    def header(self) -> dict:
        return self.source.header()

    def metric(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(steps, values as float with NaN where absent) of one metrics.jsonl key, or None."""
        columns = self.source.metrics()
        values = columns.get(name)
        if values is None:
            return None
        steps = np.asarray(columns.get("step", []), dtype=np.int64)
        if isinstance(values, np.ndarray) and values.dtype.kind == "f":
            return steps, values.astype(float, copy=False)
        floats = np.asarray([v if isinstance(v, (int, float)) and not isinstance(v, bool) else np.nan
                             for v in values], dtype=float)
        return steps, floats

    def has(self, name: str) -> bool:
        if name.startswith(METRIC_PREFIX):
            found = self.metric(name[len(METRIC_PREFIX):])
            return found is not None and bool(np.isfinite(found[1]).any())
        steps = self.source.steps()
        return bool(steps) and self.step(steps[-1]).has(name)

    def missing(self, names) -> list[str]:
        return [name for name in names if not self.has(name)]

    def steps(self) -> list[int]:
        return self.source.steps()

    def step(self, n: int) -> StepData:
        return StepData(self.source.step_table(n), self.source.step_metrics(n), n)

    def sample_steps(self, limit: int) -> list[int]:
        """At most `limit` stored steps, evenly spread, first and last included."""
        steps = self.steps()
        if len(steps) <= limit:
            return steps
        picks = np.unique(np.linspace(0, len(steps) - 1, limit).round().astype(int))
        return [steps[i] for i in picks]


def step_from_payload(payload: dict) -> StepData:
    """A StepData over a step payload of the HTTP API (contract §3; e.g. a what-if answer): its
    per-response columns repeated over each response's tokens, its token columns as they are."""
    responses = payload.get("responses") or {}
    tokens = payload.get("tokens") or {}
    offsets = np.asarray(tokens.get("offsets") or [0], dtype=np.int64)
    counts = np.diff(offsets)
    ids = np.asarray(responses.get("response", np.arange(len(counts))), dtype=np.int64)
    columns: dict[str, pa.Array] = {"response": pa.array(np.repeat(ids, counts).astype(np.int32))}
    starts = np.repeat(offsets[:-1], counts)
    columns["position"] = pa.array((np.arange(int(offsets[-1])) - starts).astype(np.int32))
    for name, values in responses.items():
        if name in columns or not isinstance(values, list) or len(values) != len(counts):
            continue
        if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values):
            array = np.asarray([np.nan if v is None else v for v in values], dtype=float)
            columns[name] = pa.array(np.repeat(array, counts))
    for name, values in tokens.items():
        if name in columns or name == "offsets" or not isinstance(values, list) or len(values) != int(offsets[-1]):
            continue
        if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values):
            columns[name] = pa.array(np.asarray([np.nan if v is None else v for v in values], dtype=float))
    return StepData(pa.table(columns), payload.get("metrics") or {}, payload.get("step"))

"""The few ways the paged routes read a step, behind one module so a store change is switched here.

Pages come from `RunReader.token_page(n, responses, columns)` (row groups pruned by `response`);
whole-step columns from `RunReader.token_columns`, or `RunReader.token_batches` a row group at a
time for reductions: only the named columns are decoded, nothing is filtered per response, so a
10M-token step's strings are never decoded for a summary. The reader handles every store layout.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from unipo.runs.schema import EMPTY_RESPONSE_POSITION
from unipo.server.registry import RunEntry


def response_rows(entry: RunEntry, step: int) -> pa.Table:
    """One row per response, empty ones included (RunReader.responses)."""
    return entry.reader.responses(step)


def token_schema(entry: RunEntry, step: int, responses: pa.Table) -> pa.Schema:
    """Types of the step's per-token columns (`response` and `position` included)."""
    counts = responses.column("token_count").to_numpy()
    with_tokens = np.flatnonzero(counts > 0)
    if len(with_tokens):
        first = int(responses.column("response")[int(with_tokens[0])].as_py())
        return entry.reader.token_page(step, [first], None).schema
    return pa.schema([("response", pa.int32()), ("position", pa.int32())])


def whole_step_columns(entry: RunEntry, step: int, columns: list[str]) -> pa.Table:
    """`response`, `position` and `columns` of every real token row, in (response, position) order."""
    table = entry.reader.token_columns(step, list(dict.fromkeys(["response", "position", *columns])))
    position = table.column("position")
    if len(position) and pc.min(position).as_py() <= EMPTY_RESPONSE_POSITION:
        table = table.filter(pc.greater_equal(position, 0))
    return table


def whole_step_batches(entry: RunEntry, step: int, columns: list[str]):
    """`response` and `columns` of every real token row as an iterator of tables (a row group each
    where the store streams them), in (response, position) order: a reduction over the step holds
    one batch at a time."""
    yield from entry.reader.token_batches(step, list(dict.fromkeys(["response", *columns])))


def token_page(entry: RunEntry, step: int, responses: list[int], columns: list[str] | None) -> pa.Table:
    """Token rows of the given responses in the order given (position order within each),
    `response` and `position` first."""
    table = entry.reader.token_page(step, responses, columns)
    position = table.column("position")
    if len(position) and pc.min(position).as_py() <= EMPTY_RESPONSE_POSITION:
        table = table.filter(pc.greater_equal(position, 0))
    # The order asked for (a page of a sorted order), each response's tokens in position order.
    rank = {int(r): k for k, r in enumerate(responses)}
    keys = np.array([rank[int(r)] for r in table.column("response").to_numpy()], dtype=np.int64)
    if len(keys) > 1 and np.any(keys[1:] < keys[:-1]):
        table = table.take(pa.array(np.argsort(keys, kind="stable")))
    return table


class LazyColumns(Mapping):
    """Whole-step token columns read on first use and kept while under `max_bytes` (oldest dropped):
    the card relations read a handful of columns by name, never the whole table at once."""

    def __init__(self, entry: RunEntry, step: int, names: list[str], max_bytes: int = 96 * 2**20):
        self._entry, self._step, self._names = entry, step, list(names)
        self._cache: dict[str, np.ndarray] = {}
        self._max_bytes = max_bytes

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._names:
            raise KeyError(name)
        if name not in self._cache:
            self.put(name, whole_step_columns(self._entry, self._step, [name]).column(name))
        return self._cache[name]

    def put(self, name: str, column: pa.ChunkedArray) -> None:
        """Keep a column read elsewhere (float32 stays float32: half the memory of float64)."""
        if pa.types.is_integer(column.type) or pa.types.is_boolean(column.type):
            column = pc.cast(column, pa.float32())
        values = column.to_numpy(zero_copy_only=False)
        while self._cache and sum(v.nbytes for v in self._cache.values()) + values.nbytes > self._max_bytes:
            self._cache.pop(next(iter(self._cache)))
        self._cache[name] = values

    def drop(self) -> None:
        self._cache.clear()

    def __contains__(self, name) -> bool:  # without reading the column
        return name in self._names

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

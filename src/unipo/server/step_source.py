"""The few ways the paged routes read a step, behind one module so a store change is switched here.

`RunReader.token_page(n, responses, columns)` (the store's own paged read) is used when the reader
has it; until then the same rows come from `RunReader.response()` (row groups pruned by the
`response` statistics). Whole-step columns come from the store's column reads
(`RunReader.token_columns`, or `RunReader.token_batches` a row group at a time for reductions:
only the named columns are decoded, nothing is filtered per response); older single-file steps
read one column set at a time (`unipo.runs.step_file.read_step_file`), never the whole table: a
10M-token step's strings are never decoded for a summary.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from unipo.runs.schema import EMPTY_RESPONSE_POSITION, STEP_COLUMNS, per_response_columns, step_path
from unipo.server.registry import RunEntry


def response_rows(entry: RunEntry, step: int) -> pa.Table:
    """One row per response, empty ones included (RunReader.responses)."""
    return entry.reader.responses(step)


def _paged_store(entry: RunEntry) -> bool:
    return hasattr(entry.reader, "token_page")


def token_schema(entry: RunEntry, step: int, responses: pa.Table) -> pa.Schema:
    """Types of the step's per-token columns (`response` and `position` included)."""
    if _paged_store(entry):
        counts = responses.column("token_count").to_numpy()
        with_tokens = np.flatnonzero(counts > 0)
        if len(with_tokens):
            first = int(responses.column("response")[int(with_tokens[0])].as_py())
            return entry.reader.token_page(step, [first], None).schema
        return pa.schema([("response", pa.int32()), ("position", pa.int32())])
    schema = entry.reader._schema(step)  # the committed single-file store
    per_response = set(per_response_columns(schema))
    return pa.schema([field for field in schema if field.name in ("response", "position") or (
        field.name not in per_response and field.name not in STEP_COLUMNS)])


def whole_step_columns(entry: RunEntry, step: int, columns: list[str], response_ids=None) -> pa.Table:
    """`response`, `position` and `columns` of every real token row, in (response, position) order."""
    wanted = list(dict.fromkeys(["response", "position", *columns]))
    if hasattr(entry.reader, "token_columns"):
        # The store's whole-step column read: no per-response filtering, only these columns decoded.
        table = entry.reader.token_columns(step, wanted)
    elif _paged_store(entry):
        if response_ids is None:
            response_ids = response_rows(entry, step).column("response").to_pylist()
        table = entry.reader.token_page(step, [int(i) for i in response_ids], wanted)
    else:
        from unipo.runs.step_file import read_step_file
        table = read_step_file(step_path(entry.path, step), columns=wanted)
    position = table.column("position")
    if len(position) and pc.min(position).as_py() <= EMPTY_RESPONSE_POSITION:
        table = table.filter(pc.greater_equal(position, 0))
    return table


def whole_step_batches(entry: RunEntry, step: int, columns: list[str]):
    """`response` and `columns` of every real token row as an iterator of tables (a row group each
    where the store streams them), in (response, position) order: a reduction over the step holds
    one batch at a time."""
    if hasattr(entry.reader, "token_batches"):
        yield from entry.reader.token_batches(step, list(dict.fromkeys(["response", *columns])))
    else:
        yield whole_step_columns(entry, step, columns)


def token_page(entry: RunEntry, step: int, responses: list[int], columns: list[str] | None) -> pa.Table:
    """Token rows of the given responses in the order given (position order within each),
    `response` and `position` first."""
    reader = entry.reader
    if _paged_store(entry):
        table = reader.token_page(step, responses, columns)
    else:
        from unipo.runs.step_file import read_step_file
        wanted = None if columns is None else list(dict.fromkeys(["response", "position", *columns]))
        parts = [read_step_file(step_path(entry.path, step), where=("response", int(i)), columns=wanted)
                 for i in responses]
        if not parts:
            return pa.table({"response": pa.array([], pa.int32()), "position": pa.array([], pa.int32())})
        table = pa.concat_tables(parts, promote_options="permissive")
        if columns is None:
            per_response = set(per_response_columns(table.schema)) | set(STEP_COLUMNS)
            table = table.select([c for c in table.column_names if c not in per_response or c == "response"])
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

    def __init__(self, entry: RunEntry, step: int, names: list[str], response_ids=None,
                 max_bytes: int = 96 * 2**20):
        self._entry, self._step, self._names, self._ids = entry, step, list(names), response_ids
        self._cache: dict[str, np.ndarray] = {}
        self._max_bytes = max_bytes

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._names:
            raise KeyError(name)
        if name not in self._cache:
            self.put(name, whole_step_columns(self._entry, self._step, [name], self._ids).column(name))
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

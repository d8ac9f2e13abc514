"""Reading steps for the API: file checks, the decoded-table cache, and encoded payloads."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from unipo.runs.schema import step_path
from unipo.server.errors import not_found
from unipo.server.json_response import dumps
from unipo.server.registry import RunEntry
from unipo.server.step_cache import ByteBoundedLRU
from unipo.server.run_algorithm import run_spec, step_is_whole_rollout
from unipo.server.step_payload import column_values, step_payload, token_rows, with_entropy_rank

# A decoded 64 x 512 step table takes ~5 MB, its encoded payload ~6 MB: about six and five of each
# (the what-if and one-response routes reuse tables; whole-step views reuse payloads).
TABLE_CACHE_BYTES = 32 * 2**20
PAYLOAD_CACHE_BYTES = 32 * 2**20


class StepService:
    def __init__(self, table_cache_bytes: int = TABLE_CACHE_BYTES, payload_cache_bytes: int = PAYLOAD_CACHE_BYTES):
        self.tables = ByteBoundedLRU(table_cache_bytes, lambda table: table.nbytes)
        self.payloads = ByteBoundedLRU(payload_cache_bytes, len)
        # All step decoding happens on this one thread: two cold steps never hold their buffers at
        # the same time (bounded memory), and on small machines they would only contend for CPU.
        self._decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="unipo-step")

    async def on_decoder(self, fn, *args):
        """Run fn(*args) on the decoding thread without blocking the event loop (SSE keeps flowing)."""
        return await asyncio.get_running_loop().run_in_executor(self._decoder, partial(fn, *args))

    def _stamp(self, entry: RunEntry, step: int) -> tuple:
        """Cache key of a step file; 404 unless it is a regular file really inside the run directory."""
        if step < 0:
            raise not_found(f"run {entry.id!r} has no step {step}")
        path = step_path(entry.path, step)
        try:
            real = path.resolve(strict=True)
            stat = real.stat()
        except (OSError, RuntimeError):
            raise not_found(f"run {entry.id!r} has no step {step}") from None
        # A symlink planted in steps/ must not make the server read a file outside the run.
        if not real.is_relative_to(entry.path) or not real.is_file():
            raise not_found(f"run {entry.id!r} has no step {step}")
        return (str(entry.path), step, stat.st_size, stat.st_mtime_ns)

    def table(self, entry: RunEntry, step: int) -> pa.Table:
        """All rows of the step, empty responses' placeholder rows included."""
        key = self._stamp(entry, step)
        return self.tables.get_or_make(key, lambda: _read_step(entry, step))

    def payload_bytes(self, entry: RunEntry, step: int) -> bytes:
        metrics = entry.metrics.row(step)
        # The metrics line lands just after the step file: a payload cached before it must not stick.
        key = ("payload", metrics is not None) + self._stamp(entry, step)
        return self.payloads.get_or_make(key, lambda: dumps(self._whole_payload(entry, step, metrics)))

    def _whole_payload(self, entry: RunEntry, step: int, metrics) -> dict:
        table = self.table(entry, step)
        header = entry.reader.header
        return step_payload(table, step, metrics, spec=run_spec(header),
                            whole_rollout=step_is_whole_rollout(table, header))

    def subset_payload(self, entry: RunEntry, step: int, column: str, value: int, what: str) -> dict:
        """The step shape restricted to rows where `column == value` (one response, one prompt group)."""
        # Entropy ranks are over the whole step: add them before taking the subset.
        table = with_entropy_rank(self.table(entry, step))
        if column not in table.column_names:
            raise not_found(f"step {step} of run {entry.id!r} has no {column!r} column")
        rows = table.filter(pc.equal(table.column(column), np.int32(value)))
        if rows.num_rows == 0:
            present = np.unique(table.column(column).to_numpy())
            raise not_found(f"step {step} of run {entry.id!r} has no {what} {value} "
                            f"({what}s present: {_describe(present)})")
        # The loss check is about the whole step: give it the whole step's weight and objective.
        is_token = token_rows(table)
        whole = table if is_token.all() else table.filter(pa.array(is_token))
        loss_columns = tuple(column_values(whole.column(name)) if name in whole.column_names else None
                             for name in ("weight", "token_objective"))
        return step_payload(rows, step, entry.metrics.row(step), loss_columns=loss_columns,
                            spec=run_spec(entry.reader.header))


def _read_step(entry: RunEntry, step: int) -> pa.Table:
    return entry.reader.step(step, include_empty_responses=True)


def _describe(values: np.ndarray) -> str:
    if len(values) == 0:
        return "none"
    if len(values) > 4:
        return f"{values[0]}..{values[-1]}"
    return ", ".join(str(v) for v in values)

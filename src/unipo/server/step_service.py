"""Reading steps for the API: file checks, the decoded-table cache, and encoded payloads."""
from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from unipo.runs.schema import legacy_step_path, step_path
from unipo.server.errors import ApiError, busy, not_found
from unipo.server.json_response import dumps
from unipo.server.registry import RunEntry
from unipo.server.run_files import real_file_inside
from unipo.server.step_cache import ByteBoundedLRU
from unipo.server.whatif_worker import shared_worker
from unipo.server.run_algorithm import run_spec, step_is_whole_rollout
from unipo.server.step_payload import column_values, step_payload, token_rows, with_entropy_rank

# A decoded 64 x 512 step table takes ~5 MB, its encoded payload ~6 MB: about six and five of each
# (the what-if and one-response routes reuse tables; whole-step views reuse payloads).
TABLE_CACHE_BYTES = 32 * 2**20
PAYLOAD_CACHE_BYTES = 32 * 2**20
# Step summaries (per-response rows, stats, sorted entropies for ranks) of large steps: a 1M-token
# step's takes ~5 MB.
SUMMARY_CACHE_BYTES = 48 * 2**20
# The whole-step JSON route sends every token; past this many the client must use the summary and
# token pages (a 500k-token step was 111 MB of JSON): 413 naming the paged routes.
WHOLE_STEP_TOKEN_LIMIT = 262_144
# ... or past this many responses (a list the browser shows virtualised, by pages of the order).
WHOLE_STEP_RESPONSE_LIMIT = 1024
# Heavy work (step decoding, what-if) runs on HEAVY_WORKERS threads; at most HEAVY_QUEUE more
# requests wait for them. Past that the server answers 503 with Retry-After at once instead of
# letting every request wait behind an unbounded queue.
HEAVY_WORKERS = 1
HEAVY_QUEUE = 8
RETRY_AFTER_S = 1


class HeavyExecutor:
    """A bounded executor: `workers` threads and at most `queue_limit` jobs waiting for them."""

    def __init__(self, workers: int = HEAVY_WORKERS, queue_limit: int = HEAVY_QUEUE,
                 retry_after_s: int = RETRY_AFTER_S):
        self.workers = workers
        self.queue_limit = queue_limit
        self.retry_after_s = retry_after_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="unipo-heavy")
        self._lock = threading.Lock()
        self._in_flight = 0  # running + waiting; released when the job ends, even if its client left

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def _release(self, _future) -> None:
        with self._lock:
            self._in_flight -= 1

    async def run(self, fn, *args):
        """fn(*args) on a heavy thread (the event loop keeps serving); 503 when the queue is full."""
        with self._lock:
            if self._in_flight >= self.workers + self.queue_limit:
                raise busy(f"busy: {self._in_flight} heavy requests (step decoding, what-if) are running or "
                           f"queued; retry in {self.retry_after_s} s", self.retry_after_s)
            self._in_flight += 1
        try:
            future = self._pool.submit(partial(fn, *args))
        except BaseException:
            self._release(None)
            raise
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class StepService:
    def __init__(self, table_cache_bytes: int = TABLE_CACHE_BYTES, payload_cache_bytes: int = PAYLOAD_CACHE_BYTES,
                 *, heavy_workers: int = HEAVY_WORKERS, heavy_queue: int = HEAVY_QUEUE,
                 retry_after_s: int = RETRY_AFTER_S):
        self.tables = ByteBoundedLRU(table_cache_bytes, lambda table: table.nbytes)
        self.payloads = ByteBoundedLRU(payload_cache_bytes, len)
        self.summaries = ByteBoundedLRU(SUMMARY_CACHE_BYTES, lambda summary: summary.nbytes)
        self.checks_cache = ByteBoundedLRU(4 * 2**20, lambda checks: 16 * 1024)
        self._stats_lock = threading.Lock()
        self.whole_step_token_limit = WHOLE_STEP_TOKEN_LIMIT
        self.whole_step_response_limit = WHOLE_STEP_RESPONSE_LIMIT
        self._sizes: dict[tuple, tuple[int, int]] = {}  # file stamp -> (responses, tokens)
        # Step decoding and what-ifs happen on these few threads (one by default): two cold steps
        # never hold their buffers at the same time (bounded memory), the queue is bounded, and the
        # light routes (runs, metrics, algorithms, events) never wait behind them.
        self.heavy = HeavyExecutor(heavy_workers, heavy_queue, retry_after_s)
        # Whole-step checks of a large step take seconds: their own bounded thread, so a token page
        # never waits behind them.
        self.background = HeavyExecutor(1, heavy_queue, retry_after_s)
        # What-ifs recompute in a separate process (torch never enters the serving process); one
        # worker per serving process, shared by its apps (tests create many).
        self.whatif = shared_worker()

    async def on_decoder(self, fn, *args):
        """Run fn(*args) on the heavy executor without blocking the event loop (503 when saturated)."""
        return await self.heavy.run(fn, *args)

    async def whole_step(self, entry: RunEntry, step: int) -> bytes:
        """A whole-step payload: from the cache at once when it is there, else on the heavy executor."""
        cached = self.cached_payload(entry, step)
        return cached if cached is not None else await self.heavy.run(self.payload_bytes, entry, step)

    def cached_payload(self, entry: RunEntry, step: int) -> bytes | None:
        """The encoded payload when it is cached and still current (cheap: a stat and a lookup)."""
        try:
            return self.payloads.peek(self._payload_key(entry, step))
        except Exception:  # noqa: BLE001 - the heavy path reports the real error (404, 422)
            return None

    def _payload_key(self, entry: RunEntry, step: int) -> tuple:
        # The metrics line lands just after the step file: a payload cached before it must not stick.
        return ("payload", entry.metrics.has_step(step)) + self._stamp(entry, step)

    def _stamp(self, entry: RunEntry, step: int) -> tuple:
        """Cache key of a step file; 404 unless it is a regular file really inside the run directory."""
        if step < 0:
            raise not_found(f"run {entry.id!r} has no step {step}")
        # A symlink planted in steps/ must not make the server read a file outside the run.
        path = step_path(entry.path, step)
        if not os.path.lexists(path):  # a unipo-run/1 run: one file per step
            path = legacy_step_path(entry.path, step)
        real = real_file_inside(entry.path, path)
        try:
            stat = real.stat() if real is not None else None
        except OSError:
            stat = None
        if stat is None:
            raise not_found(f"run {entry.id!r} has no step {step}")
        # Every rank shard of the step, when the store has several files per step.
        shards = getattr(entry.reader, "step_stamp", None)
        try:
            extra = shards(step) if shards is not None else ()
        except LookupError:
            raise not_found(f"run {entry.id!r} has no step {step}") from None
        return (str(entry.path), step, stat.st_size, stat.st_mtime_ns, extra)

    def table(self, entry: RunEntry, step: int) -> pa.Table:
        """All rows of the step, empty responses' placeholder rows included."""
        key = self._stamp(entry, step)
        return self.tables.get_or_make(key, lambda: _read_step(entry, step))

    def payload_bytes(self, entry: RunEntry, step: int) -> bytes:
        metrics = entry.metrics.row(step)
        key = ("payload", metrics is not None) + self._stamp(entry, step)
        return self.payloads.get_or_make(key, lambda: dumps(self._whole_payload(entry, step, metrics)))

    def summary(self, entry: RunEntry, step: int, stats: list[str] | None = None):
        """The whole step's StepSummary (step_summary.py), cached by file stamp, with the stats of
        token columns `stats` computed once each."""
        from unipo.server.step_summary import build_summary, column_stats_of
        found = self.summaries.get_or_make(("summary",) + self._stamp(entry, step),
                                           lambda: build_summary(entry, step))
        if stats and any(name not in found.stats for name in stats):
            with self._stats_lock:
                column_stats_of(entry, found, stats)
        return found

    def cached_summary(self, entry: RunEntry, step: int, stats: list[str] | None = None):
        try:
            found = self.summaries.peek(("summary",) + self._stamp(entry, step))
        except Exception:  # noqa: BLE001 - the heavy path reports the real error
            return None
        if found is not None and stats and any(n in found.extra["numeric"] and n not in found.stats for n in stats):
            return None
        return found

    def checks(self, entry: RunEntry, step: int) -> dict:
        """The §3 checks over the whole step (results only), cached with the metrics line's presence."""
        from unipo.server.step_summary import build_checks
        summary = self.summary(entry, step)
        metrics = entry.metrics.row(step)
        key = ("checks", metrics is not None) + self._stamp(entry, step)

        def make():
            spec = run_spec(entry.header)
            whole = step_is_whole_rollout(pa.table({"prompt": pa.array(summary.rows["prompt"])}), entry.header)
            return build_checks(entry, summary, metrics, spec=spec, whole_rollout=whole)
        return self.checks_cache.get_or_make(key, make)

    def _check_whole_step_size(self, entry: RunEntry, step: int, *, what: str = "step",
                               paged: str = "summary, responses and tokens") -> None:
        key = self._stamp(entry, step)  # 404 first
        sizes = self._sizes.get(key)
        if sizes is None:
            counts = entry.reader.responses(step).column("token_count")
            sizes = self._sizes[key] = (len(counts), int(pc.sum(counts).as_py() or 0))
            while len(self._sizes) > 1024:
                self._sizes.pop(next(iter(self._sizes)))
        responses, count = sizes
        if count > self.whole_step_token_limit or responses > self.whole_step_response_limit:
            raise ApiError(413, f"step {step} of run {entry.id!r} has {responses:,} responses and {count:,} "
                                f"tokens, more than one JSON {what} payload holds ({self.whole_step_response_limit:,}"
                                f" responses, {self.whole_step_token_limit:,} tokens): ask for its pages "
                                f"(/steps/{step}/{{{paged}}})")

    def _whole_payload(self, entry: RunEntry, step: int, metrics) -> dict:
        self._check_whole_step_size(entry, step)
        table = self.table(entry, step)
        header = entry.header
        return step_payload(table, step, metrics, spec=run_spec(header),
                            whole_rollout=step_is_whole_rollout(table, header), header=header)

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
                            spec=run_spec(entry.header), header=entry.header)


def _read_step(entry: RunEntry, step: int) -> pa.Table:
    return entry.reader.step(step, include_empty_responses=True)


def _describe(values: np.ndarray) -> str:
    if len(values) == 0:
        return "none"
    if len(values) > 4:
        return f"{values[0]}..{values[-1]}"
    return ", ".join(str(v) for v in values)


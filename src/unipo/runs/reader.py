"""RunReader: read-only access to a run (a directory or an fsspec URL), safe while writers write."""
from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from unipo.runs.errors import RunFormatError, StepNotFoundError
from unipo.runs.files import RunFiles
from unipo.runs.header import parse_header
from unipo.runs.legacy import LegacySteps
from unipo.runs.metrics_log import as_columns, parse_rows
from unipo.runs.schema import (
    EMPTY_RESPONSE_POSITION, LEGACY_FORMAT, METRICS_JSONL, RUN_JSON, STEP_COLUMNS, STEPS_DIR,
    per_response_columns,
)
from unipo.runs.sharded import ShardedSteps

# A running run whose files changed within this many seconds counts as live.
LIVE_WINDOW_S = 120.0


class RunReader:
    def __init__(self, path: str | os.PathLike, *, live_window_s: float = LIVE_WINDOW_S):
        self.files = RunFiles(path)
        # A Path for local runs (as before), the URL string for remote ones.
        self.path = self.files.root if not self.files.remote else self.files.location
        self.live_window_s = live_window_s
        if not self.files.is_dir():
            raise RunFormatError(f"{self.files.shown()}: not a directory (expected a UNIPO run directory)")
        self._header_stamp: Any = None
        self._header: dict[str, Any] = {}
        self._load_header()
        self._layout = None

    @property
    def is_remote(self) -> bool:
        return self.files.remote

    # -- header and liveness ----------------------------------------------------------------------
    @property
    def header(self) -> dict[str, Any]:
        """run.json, re-read when it changed (status moves from running to finished)."""
        self._load_header()
        return self._header

    def _load_header(self) -> None:
        stamp = self.files.stamp(RUN_JSON)
        if stamp is None:
            raise RunFormatError(f"{self.files.shown(RUN_JSON)}: missing (not a UNIPO run directory)")
        if stamp != self._header_stamp:
            try:
                text = self.files.read_bytes(RUN_JSON).decode("utf-8")
            except FileNotFoundError:
                raise RunFormatError(f"{self.files.shown(RUN_JSON)}: missing (not a UNIPO run directory)") from None
            except (OSError, UnicodeDecodeError) as exc:
                raise RunFormatError(f"{self.files.shown(RUN_JSON)}: cannot be read ({exc})") from None
            self._header = parse_header(text, self.files.shown(RUN_JSON))
            self._header_stamp = stamp

    @property
    def _steps_source(self):
        if self._layout is None:
            if self._header.get("format") == LEGACY_FORMAT:
                if self.files.remote:
                    raise RunFormatError(f"{self.files.shown(RUN_JSON)}: runs in the older format "
                                         f"{LEGACY_FORMAT!r} are read from local directories only")
                self._layout = LegacySteps(self.files.root, self._describe_steps)
            else:
                self._layout = ShardedSteps(self.files, self._describe_steps)
        return self._layout

    @property
    def is_live(self) -> bool:
        """Status is running and something in the run changed within live_window_s."""
        if self.header.get("status") != "running":
            return False
        return time.time() - self.last_modified() <= self.live_window_s

    def last_modified(self) -> float:
        stamps = [self.files.mtime(name) for name in (RUN_JSON, METRICS_JSONL, STEPS_DIR)]
        return max((s for s in stamps if s is not None), default=0.0)

    # -- steps and metrics ----------------------------------------------------------------------
    def steps(self) -> list[int]:
        """Step numbers with at least one complete shard, sorted; re-reads the directory each call."""
        return sorted(self._steps_source.steps())

    def step_ranks(self, n: int) -> list[int]:
        """The ranks whose shard of step n is present (sorted)."""
        source = self._steps_source
        if isinstance(source, LegacySteps):
            source.stamp(n)
            return [0]
        return source.ranks(n)

    def missing_ranks(self, n: int) -> list[int]:
        """Ranks below the header's world_size whose shard of step n is absent (a dead rank): the
        step still reads, as the ranks present."""
        present = set(self.step_ranks(n))
        return [r for r in range(int(self.header.get("world_size", 1) or 1)) if r not in present]

    def step_stamp(self, n: int) -> tuple:
        """A value that changes whenever step n's files change (a cache key); StepNotFoundError if absent."""
        return (str(self.path), int(n), self._steps_source.stamp(int(n)))

    def metrics(self) -> dict[str, list]:
        """Columns of metrics.jsonl ("step" first); a torn last line is ignored."""
        try:
            data = self.files.read_bytes(METRICS_JSONL)
        except FileNotFoundError:
            data = b""
        return as_columns(parse_rows(data, self.files.shown(METRICS_JSONL)))

    def step(self, n: int, *, include_empty_responses: bool = False) -> pa.Table:
        """All token rows of step n (every rank), sorted by response then position.

        Responses without completion tokens appear as one placeholder row (position -1, null token
        columns) only with include_empty_responses. See responses().
        """
        source = self._steps_source
        if isinstance(source, LegacySteps):
            table = source.table(n)
            return table if include_empty_responses else _without_placeholders(table)
        return source.step(n, include_empty=include_empty_responses)

    def group(self, n: int, prompt: int) -> pa.Table:
        """Token rows of the responses to prompt number `prompt` of step n."""
        source = self._steps_source
        if isinstance(source, LegacySteps):
            return _without_placeholders(source.table(n, where=("prompt", int(prompt))))
        return source.subset(n, "prompt", int(prompt))

    def response(self, n: int, response: int) -> pa.Table:
        """Token rows of response `response` of step n (no rows when it has no completion token)."""
        source = self._steps_source
        if isinstance(source, LegacySteps):
            return _without_placeholders(source.table(n, where=("response", int(response))))
        return source.subset(n, "response", int(response))

    def responses(self, n: int) -> pa.Table:
        """One row per response of step n (empty ones included): step and per-response columns,
        reward components, per-response terms (group_mean, ...) and `token_count` (stored
        completion tokens). Reads no token column."""
        return _plain_strings(self._steps_source.responses(n))

    def step_aggregates(self, n: int):
        """The per-response sums and colour-column sketches stored with step n at write time
        (unipo.runs.aggregates; ShardedSteps.aggregates), or None (legacy runs, older shards)."""
        source = self._steps_source
        return None if isinstance(source, LegacySteps) else source.aggregates(n)

    def token_page(self, n: int, responses: list[int], columns: list[str] | None = None) -> pa.Table:
        """Token rows of the given responses of step n (sorted by response, then position):
        `response`, `position` and `columns` (default: every per-token column; per-response
        columns may be named too and are repeated on each token). Reads only the row groups that
        hold these responses. StepNotFoundError for an unknown response or column."""
        source = self._steps_source
        if isinstance(source, LegacySteps):
            table = _without_placeholders(source.table(n))
            table = table.filter(pc.is_in(table.column("response"), pa.array(np.asarray(responses, np.int32))))
            if columns is None:
                per = set(per_response_columns(table.schema)) | set(STEP_COLUMNS)
                columns = [c for c in table.column_names if c not in per]
            names = ["response", "position", *[c for c in columns if c not in ("response", "position")]]
            return table.select(names)
        return source.token_page(n, list(responses), columns)

    def token_columns(self, n: int, columns: list[str]) -> pa.Table:
        """`response`, `position` and `columns` (per-token columns) of every token row of step n,
        every rank, sorted by response then position: a whole-step column read that decodes only
        these columns (what a step summary reduces over). StepNotFoundError for an unknown column."""
        source = self._steps_source
        names = ["response", "position", *[c for c in dict.fromkeys(columns) if c not in ("response", "position")]]
        if isinstance(source, LegacySteps):
            table = _without_placeholders(source.table(n))
            missing = [c for c in names if c not in table.column_names]
            if missing:
                raise StepNotFoundError(f"{self.files.shown()}: step {n} has no token column {missing[0]!r}")
            return table.select(names)
        return source.token_columns(n, list(columns))

    def token_batches(self, n: int, columns: list[str]):
        """token_columns(n, columns) one row group at a time (an iterator of tables in the same
        order; `position` only when named): for reductions over a whole step in bounded memory."""
        source = self._steps_source
        if isinstance(source, LegacySteps):
            table = self.token_columns(n, columns)
            yield table if "position" in columns else table.drop_columns(["position"])
            return
        yield from source.token_batches(n, list(columns))

    def _describe_steps(self) -> str:
        return _describe(self.steps())


def _plain_strings(table: pa.Table) -> pa.Table:
    for index, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(index, pa.field(field.name, field.type.value_type),
                                     table.column(field.name).cast(field.type.value_type))
    return table


def _without_placeholders(table: pa.Table) -> pa.Table:
    position = table.column("position")
    if len(position) and pc.min(position).as_py() <= EMPTY_RESPONSE_POSITION:
        return table.filter(pc.greater_equal(position, 0))
    return table


def _describe(steps: list[int]) -> str:
    if not steps:
        return "none"
    return f"{steps[0]}..{steps[-1]} ({len(steps)})" if len(steps) > 3 else ", ".join(map(str, steps))


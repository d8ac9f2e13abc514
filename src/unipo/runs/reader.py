"""RunReader: read-only access to a run directory, safe while a RunWriter is still writing."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from unipo.runs.errors import RunFormatError, StepNotFoundError
from unipo.runs.header import read_header
from unipo.runs.metrics_log import as_columns, read_rows
from unipo.runs.schema import (
    EMPTY_RESPONSE_POSITION, METRICS_JSONL, RUN_JSON, STEP_COLUMNS, STEPS_DIR, per_response_columns,
    step_number, step_path,
)
from unipo.runs.step_file import read_step_file, read_step_schema

# A running run whose files changed within this many seconds counts as live.
LIVE_WINDOW_S = 120.0


class RunReader:
    def __init__(self, path: str | os.PathLike, *, live_window_s: float = LIVE_WINDOW_S):
        self.path = Path(path)
        self.live_window_s = live_window_s
        if not self.path.is_dir():
            raise RunFormatError(f"{self.path}: not a directory (expected a UNIPO run directory)")
        self._header_stamp: int | None = None
        self._header: dict[str, Any] = {}
        self._load_header()

    # -- header and liveness ----------------------------------------------------------------------
    @property
    def header(self) -> dict[str, Any]:
        """run.json, re-read when it changed on disk (status moves from running to finished)."""
        self._load_header()
        return self._header

    def _load_header(self) -> None:
        run_json = self.path / RUN_JSON
        try:
            stamp = run_json.stat().st_mtime_ns
        except FileNotFoundError:
            raise RunFormatError(f"{run_json}: missing (not a UNIPO run directory)") from None
        if stamp != self._header_stamp:
            self._header = read_header(run_json)
            self._header_stamp = stamp

    @property
    def is_live(self) -> bool:
        """Status is running and something in the run changed within live_window_s."""
        if self.header.get("status") != "running":
            return False
        return time.time() - self.last_modified() <= self.live_window_s

    def last_modified(self) -> float:
        stamps = []
        for candidate in (self.path / RUN_JSON, self.path / METRICS_JSONL, self.path / STEPS_DIR):
            try:
                stamps.append(candidate.stat().st_mtime)
            except FileNotFoundError:
                pass
        return max(stamps, default=0.0)

    # -- steps and metrics ----------------------------------------------------------------------
    def steps(self) -> list[int]:
        """Step numbers whose files are complete, sorted; re-reads the directory on each call."""
        try:
            names = os.listdir(self.path / STEPS_DIR)
        except FileNotFoundError:
            return []
        return sorted(n for n in map(step_number, names) if n is not None)

    def metrics(self) -> dict[str, list]:
        """Columns of metrics.jsonl ("step" first); a torn last line is ignored."""
        return as_columns(read_rows(self.path / METRICS_JSONL))

    def step(self, n: int, *, include_empty_responses: bool = False) -> pa.Table:
        """All token rows of step n, sorted by response then position.

        Responses without completion tokens are stored as one placeholder row (position -1, null
        token columns); they are left out unless include_empty_responses. See responses().
        """
        table = self._read(n)
        return table if include_empty_responses else _without_placeholders(table)

    def group(self, n: int, prompt: int) -> pa.Table:
        """Token rows of the responses to prompt number `prompt` of step n."""
        return _without_placeholders(self._read(n, where=("prompt", int(prompt))))

    def response(self, n: int, response: int) -> pa.Table:
        """Token rows of response `response` of step n (no rows when it has no completion token)."""
        return _without_placeholders(self._read(n, where=("response", int(response))))

    def responses(self, n: int) -> pa.Table:
        """One row per response of step n (empty ones included): step and per-response columns,
        reward components, per-response terms (group_mean, ...) and `token_count` (stored
        completion tokens)."""
        schema = self._schema(n)
        per_response = set(per_response_columns(schema))
        wanted = [c for c in schema.names if c in STEP_COLUMNS or c in per_response]
        table = self._read(n, columns=[*wanted, "position"])
        response = table.column("response").to_numpy()
        firsts = np.flatnonzero(np.r_[True, response[1:] != response[:-1]]) if len(response) else np.array([], int)
        is_token = pc.greater_equal(table.column("position"), 0).to_numpy(zero_copy_only=False)
        counts = np.add.reduceat(is_token.astype(np.int32), firsts) if len(firsts) else np.array([], np.int32)
        table = table.take(pa.array(firsts)).select(wanted)
        table = _plain_strings(table)
        return table.append_column("token_count", pa.array(counts, pa.int32()))

    def _schema(self, n: int) -> pa.Schema:
        """Step n's logical columns (as step() returns them), read from the file's footer only."""
        path = self._step_path(n)
        try:
            return read_step_schema(path)
        except FileNotFoundError:
            raise StepNotFoundError(f"{self.path}: no step {n}") from None

    def _step_path(self, n: int) -> Path:
        path = step_path(self.path, int(n))
        if not path.exists():
            raise StepNotFoundError(f"{self.path}: no step {n} (steps present: {_describe(self.steps())})")
        return path

    def _read(self, n: int, **options) -> pa.Table:
        path = self._step_path(n)
        try:
            return read_step_file(path, **options)
        except FileNotFoundError:
            raise StepNotFoundError(f"{self.path}: no step {n}") from None


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

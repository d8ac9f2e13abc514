"""Steps of runs written in layout 1 (`unipo-run/1`: one step-NNNNNN.parquet per step, one row per
token with per-response values repeated). Read-only: new runs are written in layout 2."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from unipo.runs.errors import StepNotFoundError
from unipo.runs.schema import STEP_COLUMNS, STEPS_DIR, legacy_step_path, per_response_columns, step_number
from unipo.runs.step_file import read_step_file, read_step_schema


class LegacySteps:
    def __init__(self, run_path: Path, describe):
        self.path = run_path
        self._describe = describe

    def steps(self) -> dict[int, list[int]]:
        try:
            names = os.listdir(self.path / STEPS_DIR)
        except FileNotFoundError:
            return {}
        return {n: [0] for n in sorted(n for n in map(step_number, names) if n is not None)}

    def stamp(self, n: int) -> tuple:
        stat = self._file(n).stat()
        return (stat.st_size, stat.st_mtime_ns)

    def table(self, n: int, where: tuple[str, int] | None = None, columns: list[str] | None = None) -> pa.Table:
        path = self._file(n)
        try:
            return read_step_file(path, where=where, columns=columns)
        except FileNotFoundError:
            raise StepNotFoundError(f"{self.path}: no step {n}") from None

    def responses(self, n: int) -> pa.Table:
        schema = read_step_schema(self._file(n))
        per_response = set(per_response_columns(schema))
        wanted = [c for c in schema.names if c in STEP_COLUMNS or c in per_response]
        table = self.table(n, columns=[*wanted, "position"])
        response = table.column("response").to_numpy()
        firsts = np.flatnonzero(np.r_[True, response[1:] != response[:-1]]) if len(response) else np.array([], int)
        is_token = pc.greater_equal(table.column("position"), 0).to_numpy(zero_copy_only=False)
        counts = np.add.reduceat(is_token.astype(np.int32), firsts) if len(firsts) else np.array([], np.int32)
        table = table.take(pa.array(firsts)).select(wanted)
        return table.append_column("token_count", pa.array(counts, pa.int32()))

    def _file(self, n: int) -> Path:
        path = legacy_step_path(self.path, int(n))
        if not path.exists():
            raise StepNotFoundError(f"{self.path}: no step {n} (steps present: {self._describe()})")
        return path

"""A run's metrics.jsonl as numeric columns, read incrementally.

RunReader.metrics() parses the whole file into Python lists on every call; for a 100,000-update
run that is tens of MB of objects per request. This store keeps numpy columns (8 bytes a value)
and, when the file grew, parses only the appended complete lines, all in one orjson call. Same
rules as the run store: a last line without its newline is a write in flight, left for later.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import orjson

from unipo.runs import RunFormatError
from unipo.server.run_files import real_file_inside


class MetricsColumns:
    def __init__(self, path: Path, run_path: Path | None = None):
        """`run_path`: when given, the file is read only while its real path lies inside it (a
        metrics.jsonl symlinked out of the run reads as absent)."""
        self.path = path
        self.run_path = run_path
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._offset = 0          # bytes already parsed (always just after a newline)
        self._lines = 0
        self._stamp: tuple[int, int] | None = None
        self._chunks: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []
        self._snapshot: tuple[np.ndarray, dict[str, np.ndarray]] | None = None

    @property
    def stamp(self) -> tuple[int, int] | None:
        """(size, mtime) of the file as last parsed: a cache key for anything derived from it."""
        self.refresh()
        return self._stamp

    def is_current(self) -> bool:
        """True when the file is unchanged since it was last parsed (one stat, no parsing)."""
        real = self.path if self.run_path is None else real_file_inside(self.run_path, self.path)
        try:
            stat = real.stat() if real is not None else None
        except OSError:
            stat = None
        stamp = (stat.st_size, stat.st_mtime_ns) if stat else (0, 0)
        return self._stamp is not None and stamp == self._stamp and real == getattr(self, "_real", real)

    def refresh(self) -> None:
        """Parse what was appended since the last call; start over if the file was rewritten."""
        with self._lock:
            real = self.path if self.run_path is None else real_file_inside(self.run_path, self.path)
            try:
                stat = real.stat() if real is not None else None
            except FileNotFoundError:
                stat = None
            stamp = (stat.st_size, stat.st_mtime_ns) if stat else (0, 0)
            if real != getattr(self, "_real", real):
                self._reset()  # now another file (a symlink changed): start over
            self._real = real
            if stamp == self._stamp:
                return
            if stat is None or stat.st_size < self._offset:
                self._reset()  # truncated (resume from a checkpoint), removed or refused
            if stat is not None and stat.st_size > self._offset:
                self._read_appended(real)
            self._stamp = stamp

    def _read_appended(self, real: Path) -> None:
        with open(real, "rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        if end == 0:
            return
        lines = data[:end].split(b"\n")[:-1]
        rows = self._parse(lines)
        self._offset += end
        if rows:
            self._chunks.append(_columns_of(rows))
            self._snapshot = None

    def _parse(self, lines: list[bytes]) -> list[dict]:
        first_line = self._lines + 1
        self._lines += len(lines)
        kept = [line for line in lines if line.strip()]
        try:
            rows = orjson.loads(b"[" + b",".join(kept) + b"]")
        except orjson.JSONDecodeError:
            rows = [self._parse_one(line, first_line + i) for i, line in enumerate(lines) if line.strip()]
        if not all(isinstance(row, dict) for row in rows) or set(map(type, (row.get("step") for row in rows))) - {int}:
            for i, row in enumerate(rows):  # slow path, only to name the bad line
                step = row.get("step") if isinstance(row, dict) else None
                if not isinstance(step, int) or isinstance(step, bool):
                    raise RunFormatError(f"{self.path.name}: line {first_line + i}: step: expected an object "
                                         "with an integer 'step'")
        return rows

    def _parse_one(self, line: bytes, number: int):
        # Only reached when the batch failed: find the bad line to name it.
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise RunFormatError(f"{self.path.name}: line {number}: not valid JSON ({exc})") from None

    # -- reading -------------------------------------------------------------------------------
    def columns(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(steps, {name: values}) over all complete lines; numeric columns are float64 (NaN = none),
        others (strings, booleans) object arrays with None where a line lacks the metric."""
        self.refresh()
        with self._lock:
            if self._snapshot is None:
                self._snapshot = _concatenate(self._chunks)
                self._chunks = [self._snapshot] if self._chunks else []
            return self._snapshot

    def has_step(self, step: int) -> bool:
        steps, _ = self.columns()
        return bool(np.any(steps == step))

    def row(self, step: int) -> dict | None:
        """The metrics logged for one step (NaN where a metric is absent), or None when none were."""
        steps, columns = self.columns()
        matches = np.flatnonzero(steps == step)
        if len(matches) == 0:
            return None
        index = matches[-1]  # a step logged twice (resumed run): the last line wins
        return {name: _scalar(values[index]) for name, values in columns.items()}


def _columns_of(rows: list[dict]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    names.pop("step", None)
    steps = np.fromiter((row["step"] for row in rows), dtype=np.int64, count=len(rows))
    return steps, {name: _column([row.get(name) for row in rows]) for name in names}


_NUMERIC_TYPES = {int, float, type(None)}


def _column(values: list) -> np.ndarray:
    # type() is exact, so bool (a subclass of int) keeps a column out of the numeric path.
    if set(map(type, values)) <= _NUMERIC_TYPES:
        return np.array(values, dtype=np.float64)  # None -> NaN
    return np.array(values, dtype=object)


def _concatenate(chunks) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    if not chunks:
        return np.zeros(0, dtype=np.int64), {}
    if len(chunks) == 1:
        return chunks[0]
    steps = np.concatenate([chunk[0] for chunk in chunks])
    names: dict[str, None] = {}
    for _, columns in chunks:
        names.update(dict.fromkeys(columns))
    merged = {}
    for name in names:
        parts = [columns.get(name, _absent(len(chunk_steps))) for chunk_steps, columns in chunks]
        if any(part.dtype == object for part in parts):
            parts = [part.astype(object) if part.dtype != object else part for part in parts]
            parts = [np.where(_is_nan(part), None, part) for part in parts]
        merged[name] = np.concatenate(parts)
    return steps, merged


def _absent(length: int) -> np.ndarray:
    return np.full(length, np.nan)


def _is_nan(values: np.ndarray) -> np.ndarray:
    return np.array([isinstance(v, float) and v != v for v in values], dtype=bool)


def _scalar(value):
    if isinstance(value, np.generic):
        return value.item()
    return value

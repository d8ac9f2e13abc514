"""RunWriter: the one place that writes a run directory (engine, integrations, importers)."""
from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Mapping

import pyarrow as pa

from unipo import __version__
from unipo.errors import UnipoError
from unipo.runs.atomic import write_json_atomically
from unipo.runs.header import read_header
from unipo.runs.lock import LOCK_FILE, WriterLock
from unipo.runs.metrics_log import append_line, keep_steps_up_to, metrics_line, repair_torn_tail
from unipo.runs.record import StepRecord
from unipo.runs.schema import (
    CHECKPOINTS_DIR, FORMAT, LEGACY_FORMAT, METRICS_JSONL, RUN_JSON, STAGING_DIR, STATUSES, STEPS_DIR, TMP_SUFFIX,
    step_dir_number, step_number,
)
from unipo.runs.prediction import EncodingMemory
from unipo.runs.shard import ShardStream, remove_stale_staging, staging_root
from unipo.runs.space import disk_full_as_error


class _StepShards:
    """Writing step shards of one rank (shared by RunWriter and RankWriter)."""

    path: Path
    _encoding_memory: EncodingMemory

    def step_stream(self, step: int, rank: int = 0) -> ShardStream:
        """`with w.step_stream(step) as sink: sink.append(part)`: each part a StepRecord of the next
        responses (numbering continues across parts), written as row groups as it arrives; the shard
        becomes visible when the `with` exits cleanly, and an exception leaves nothing behind."""
        return ShardStream(self.path, _check_step(step), _check_rank(rank), self._encoding_memory)

    def write_step(self, step: int, record: StepRecord | pa.Table, rank: int = 0) -> None:
        """Write one update's shard of `rank`; visible to readers only once complete."""
        with self.step_stream(step, rank) as sink:
            sink.append(record)


class RankWriter(_StepShards):
    """The step shards of one rank > 0 of a multi-process run: no lock, no header, no metrics (rank 0's
    RunWriter owns those). Safe to construct before or after rank 0 created run.json; each rank
    writes its own shard of a step without waiting for the others."""

    def __init__(self, run_path: str | os.PathLike, rank: int):
        self.path = Path(run_path)
        self.rank = _check_rank(rank)
        self._encoding_memory = EncodingMemory()
        with disk_full_as_error(self.path / STEPS_DIR, f"the step folders of rank {self.rank}"):
            (self.path / STEPS_DIR).mkdir(parents=True, exist_ok=True)
            staging_root(self.path).mkdir(exist_ok=True)
        remove_stale_staging(self.path, self.rank)

    def step_stream(self, step: int, rank: int | None = None) -> ShardStream:
        return super().step_stream(step, self.rank if rank is None else rank)

    def write_step(self, step: int, record: StepRecord | pa.Table, rank: int | None = None) -> None:
        super().write_step(step, record, self.rank if rank is None else rank)


class RunWriter(_StepShards):
    """Appends steps and metrics to a run directory. Not thread-safe; one writer per run, enforced
    by an OS lock on <run>/.unipo-writer.lock (unipo.runs.lock) held from create()/open_for_resume()
    until close(), release() or the end of the process."""

    def __init__(self, path: Path, header: dict[str, Any], lock: WriterLock | None = None):
        # Use RunWriter.create() or RunWriter.open_for_resume(). Constructed directly (no lock) only
        # by a process that writes through its parent's lock (engine/capture_process.py).
        self.path = path
        self._header = header
        self._lock = lock
        # Column recipes chosen on earlier steps of this run: re-checked, not searched again.
        self._encoding_memory = EncodingMemory()

    # -- opening --------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike, header: Mapping[str, Any], *, exist_ok: bool = False,
               lock: WriterLock | None = None) -> "RunWriter":
        """Start a new run. The header gets format/name/created/status/versions filled if absent.

        exist_ok=True replaces an existing run directory's contents (steps, metrics, run.json) — only
        once the writer lock is held (RunLockedError, touching nothing, when another process has it).
        `lock`: a WriterLock of `path` the caller already holds (it then stays the caller's to release).
        """
        path = Path(path)
        if (path / RUN_JSON).exists() and not exist_ok:
            raise UnipoError(f"{path}: a run already exists here (choose another --out or remove it)")
        if path.exists() and not path.is_dir():
            raise UnipoError(f"{path}: exists and is not a directory")
        full = _complete_header(dict(header), path)
        _check_json(full, path / RUN_JSON)
        own_lock = lock is None
        lock = WriterLock.acquire(path) if own_lock else lock
        try:
            if (path / RUN_JSON).exists() and not exist_ok:  # created while we waited for the lock
                raise UnipoError(f"{path}: a run already exists here (choose another --out or remove it)")
            with disk_full_as_error(path / RUN_JSON, "the new run's files"):
                if exist_ok:
                    shutil.rmtree(path / STEPS_DIR, ignore_errors=True)
                    shutil.rmtree(staging_root(path), ignore_errors=True)
                    (path / METRICS_JSONL).unlink(missing_ok=True)
                (path / STEPS_DIR).mkdir(parents=True, exist_ok=True)
                staging_root(path).mkdir(exist_ok=True)
                (path / CHECKPOINTS_DIR).mkdir(exist_ok=True)
                (path / METRICS_JSONL).touch()
                write_json_atomically(path / RUN_JSON, full)
        except BaseException:
            if own_lock:
                lock.release()
            raise
        return cls(path, full, lock)

    @classmethod
    def open_for_resume(cls, path: str | os.PathLike, *, lock: WriterLock | None = None) -> "RunWriter":
        """Continue a run: status back to running, a torn metrics line and leftover temp files removed.

        Takes the writer lock first (RunLockedError, touching nothing, when another process has it).
        Call truncate_after(checkpoint_step) next so that steps past the checkpoint are dropped.
        """
        path = Path(path)
        header = read_header(path / RUN_JSON)  # a clear error for a non-run before creating a lock file
        own_lock = lock is None
        lock = WriterLock.acquire(path, create=False) if own_lock else lock
        try:
            header = read_header(path / RUN_JSON)  # as it is now that we hold the lock
            if header.get("format") == LEGACY_FORMAT:
                raise UnipoError(f"{path}: written in the older store format {LEGACY_FORMAT!r}, which this "
                                 f"version reads but does not continue; start a new run (--out elsewhere)")
            with disk_full_as_error(path / METRICS_JSONL, "the repaired metrics log"):
                repair_torn_tail(path / METRICS_JSONL)
            (path / STEPS_DIR).mkdir(exist_ok=True)
            for leftover in (path / STEPS_DIR).glob("*" + TMP_SUFFIX):
                leftover.unlink(missing_ok=True)
            staging_root(path).mkdir(exist_ok=True)
            remove_stale_staging(path)
            writer = cls(path, header, lock)
            writer.set_status("running")
        except BaseException:
            if own_lock:
                lock.release()
            raise
        return writer

    @property
    def lock(self) -> WriterLock | None:
        """The writer lock this writer holds (None for a child writing through its parent's lock)."""
        return self._lock

    def release(self) -> None:
        """Give up the writer lock (the run stays as it is); later writes are the caller's risk."""
        if self._lock is not None:
            self._lock.release()

    # -- writing --------------------------------------------------------------------------------
    @property
    def header(self) -> dict[str, Any]:
        return dict(self._header)

    def append_metrics(self, step: int, metrics: Mapping[str, Any]) -> None:
        line = metrics_line(_check_step(step), metrics)
        with disk_full_as_error(self.path / METRICS_JSONL, f"the metrics line of step {step}", needed=len(line)):
            append_line(self.path / METRICS_JSONL, line)

    def write_update(self, step: int, record: StepRecord | pa.Table, metrics: Mapping[str, Any]) -> None:
        """Step shard (rank 0) first, then its metrics line: a reader that sees the line can read the step."""
        metrics_line(_check_step(step), metrics)  # validate before writing anything
        self.write_step(step, record)
        self.append_metrics(step, metrics)

    def set_status(self, status: str, *, failure: Mapping[str, Any] | None = None) -> None:
        """Set status (rewriting run.json). `failure`: a note stored as the header's `failure` key
        with status "failed" (why, and whether --resume can continue); any other status drops it."""
        if status not in STATUSES:
            raise UnipoError(f"status: expected one of {', '.join(STATUSES)}, got {status!r}")
        header = dict(self._header, status=status, updated=_now())
        header.pop("failure", None)
        if failure is not None and status == "failed":
            header["failure"] = dict(failure)
            _check_json(header, self.path / RUN_JSON)
        self._write_header(header)

    def update_header(self, **fields: Any) -> None:
        """Add or replace header keys (e.g. final config) and rewrite run.json atomically."""
        candidate = {**self._header, **fields}
        _check_json(candidate, self.path / RUN_JSON)
        self._write_header(candidate)

    def _write_header(self, header: dict[str, Any]) -> None:
        with disk_full_as_error(self.path / RUN_JSON, "the run header"):
            write_json_atomically(self.path / RUN_JSON, header)
        self._header = header

    def truncate_after(self, step: int) -> None:
        """Drop step files and metrics lines of steps > step (resume from a checkpoint at step)."""
        step = int(step)
        for entry in (self.path / STEPS_DIR).iterdir():
            number = step_dir_number(entry.name)
            if number is not None and number > step:
                # Out of sight in one rename (readers and globs stop seeing the step), then deleted.
                doomed = staging_root(self.path) / f"dropped.{entry.name}.{os.getpid()}.{time.monotonic_ns()}"
                staging_root(self.path).mkdir(exist_ok=True)
                os.rename(entry, doomed)
                shutil.rmtree(doomed, ignore_errors=True)
            elif (legacy := step_number(entry.name)) is not None and legacy > step:
                entry.unlink(missing_ok=True)
        keep_steps_up_to(self.path / METRICS_JSONL, step)

    def close(self, status: str = "finished") -> None:
        try:
            self.set_status(status)
        finally:
            self.release()

    def __enter__(self) -> "RunWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close("failed" if exc_type else "finished")


def is_empty_run_directory(path: Path) -> bool:
    """True when path is absent or holds nothing but a (free or held) writer lock file."""
    if not path.exists():
        return True
    if not path.is_dir():
        return False
    for entry in path.iterdir():
        # Empty folders made by a RankWriter that started before rank 0 do not count.
        if entry.name == LOCK_FILE or (entry.name in (STEPS_DIR, STAGING_DIR) and entry.is_dir()
                                       and not any(entry.iterdir())):
            continue
        return False
    return True


def _complete_header(header: dict[str, Any], path: Path) -> dict[str, Any]:
    header.setdefault("name", path.resolve().name)
    header.setdefault("created", _now())
    header.setdefault("versions", {"unipo": __version__, "pyarrow": pa.__version__})
    header.setdefault("world_size", 1)
    if isinstance(header["world_size"], bool) or not isinstance(header["world_size"], int) or header["world_size"] < 1:
        raise UnipoError(f"{path / RUN_JSON}: world_size: expected a positive integer, got {header['world_size']!r}")
    header["format"] = FORMAT
    header["status"] = "running"
    return header


def _check_json(header: Mapping[str, Any], where: Path) -> None:
    try:
        json.dumps(header, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UnipoError(f"{where}: header is not JSON-serialisable ({exc})") from None


def _check_step(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, int) and not hasattr(step, "__index__"):
        raise UnipoError(f"step: expected an integer, got {step!r}")
    step = int(step)
    if step < 0:
        raise UnipoError(f"step: expected a non-negative integer, got {step}")
    return step


def _check_rank(rank: Any) -> int:
    if isinstance(rank, bool) or not isinstance(rank, int) and not hasattr(rank, "__index__"):
        raise UnipoError(f"rank: expected an integer, got {rank!r}")
    rank = int(rank)
    if not 0 <= rank <= 99999:
        raise UnipoError(f"rank: expected 0..99999, got {rank}")
    return rank


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

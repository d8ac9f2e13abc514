"""import_canonical: a canonical JSON/JSONL log -> a run directory, all or nothing."""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterator

from unipo.errors import UnipoError
from unipo.runs.canonical.fields import CANONICAL_FORMAT, HEADER_KEYS
from unipo.runs.canonical.problems import Problems, kind
from unipo.runs.canonical.to_record import entry_to_record
from unipo.runs.canonical.validate import check_entry, check_header
from unipo.runs.lock import LOCK_FILE, RunLockedError, WriterLock, check_no_writer
from unipo.runs.space import DiskFullError, disk_full_as_error
from unipo.runs.writer import RunWriter, is_empty_run_directory

JSONL_SUFFIXES = (".jsonl", ".ndjson")


def import_canonical(in_file: str | os.PathLike, run_path: str | os.PathLike, fmt: str | None = None) -> Path:
    """Validate and store every entry; on any problem raise one UnipoError listing them (with
    line / entry and field path) and leave nothing at run_path.

    The run is written in a hidden sibling folder `.<name>.importing-<pid>` (under its own writer
    lock) and renamed to run_path at the end, once run_path's writer lock is held and it is still
    absent or empty: a kill -9 leaves run_path absent (or as it was) and a hidden staging folder
    that the next import of the same run_path removes. A run_path being written by another
    process is refused at once (RunLockedError)."""
    in_file, run_path = Path(in_file), Path(run_path)
    if not in_file.is_file():
        raise UnipoError(f"{in_file}: no such file")
    check_no_writer(run_path)
    if not is_empty_run_directory(run_path):
        raise UnipoError(f"{run_path}: already exists and is not empty (choose another --out)")
    fmt = fmt or ("jsonl" if in_file.suffix.lower() in JSONL_SUFFIXES else "json")
    if fmt not in ("json", "jsonl"):
        raise UnipoError(f"format: expected json or jsonl, got {fmt!r}")
    problems = Problems(str(in_file))
    parts = _jsonl_parts(in_file, problems) if fmt == "jsonl" else _json_parts(in_file, problems)

    run_path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(run_path)
    staging = run_path.parent / f".{run_path.name}.importing-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    opened: list[RunWriter] = []
    try:
        _store(parts, staging, in_file, problems, opened)
        if problems:
            raise problems.error()
        _move_into_place(staging, run_path)
    finally:
        for writer in opened:
            writer.release()
        shutil.rmtree(staging, ignore_errors=True)
    return run_path


_STAGING = re.compile(r"\.importing-(\d+)$")


def _remove_stale_staging(run_path: Path) -> None:
    """Staging folders of imports of run_path killed before the end (their process is gone)."""
    prefix = f".{run_path.name}.importing-"
    for folder in run_path.parent.glob(prefix + "*"):
        match = _STAGING.search(folder.name)
        if not match or not folder.is_dir() or folder.name != prefix + match.group(1):
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
            alive = pid != os.getpid()
        except ProcessLookupError:
            alive = False
        except OSError:
            alive = True
        if alive:
            continue
        try:
            with WriterLock.acquire(folder, create=False):
                shutil.rmtree(folder, ignore_errors=True)
        except UnipoError:
            continue  # still written by someone: not stale


def _move_into_place(staging: Path, run_path: Path) -> None:
    """Rename staging to run_path, which must still be absent, or empty and not being written."""
    try:
        if run_path.exists():
            with WriterLock.acquire(run_path, create=False):
                if not is_empty_run_directory(run_path):
                    raise UnipoError(f"{run_path}: was created by someone else during the import "
                                     f"(nothing imported; choose another --out)")
                (run_path / LOCK_FILE).unlink(missing_ok=True)
                run_path.rmdir()
        # staging holds its own lock file, held by this import's writer: it comes along.
        with disk_full_as_error(run_path, "the imported run"):
            os.replace(staging, run_path)
    except RunLockedError:
        raise
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise UnipoError(f"{run_path}: was created by someone else during the import "
                             f"(nothing imported; choose another --out)") from None
        raise


def _store(parts: Iterator[tuple[str, str, Any]], staging: Path, in_file: Path, problems: Problems,
           opened: list[RunWriter]) -> None:
    writer: RunWriter | None = None
    seen_steps: dict[int, str] = {}
    for role, where, value in parts:
        if role == "header":
            header = check_header(value, where, problems)
            if header is not None and not problems:
                writer = RunWriter.create(staging, _run_header(header, in_file))
                opened.append(writer)
            continue
        entry = check_entry(value, where, problems)
        if entry is None:
            continue
        if entry.step in seen_steps:
            problems.add(f"{where}.step", f"step {entry.step} already given at {seen_steps[entry.step]}")
            continue
        seen_steps[entry.step] = where.split(":")[0]
        if writer is not None and not problems:
            try:
                writer.write_update(entry.step, entry_to_record(entry), entry.metrics)
            except DiskFullError:
                raise  # not a problem of the log
            except UnipoError as exc:
                problems.add(where, str(exc))
    if writer is not None and not problems:
        writer.set_status("finished")


def _run_header(header: dict[str, Any], in_file: Path) -> dict[str, Any]:
    original = header.get("unipo_header")
    if isinstance(original, dict):
        # Exported by UNIPO: restore its run.json (status and format are set by the writer).
        return {k: v for k, v in original.items() if k not in ("format", "status", "updated")}
    run_header = {key: header[key] for key in HEADER_KEYS if header.get(key) is not None}
    if "hyperparameters" in run_header:
        run_header["config"] = run_header.pop("hyperparameters")
    run_header.setdefault("name", in_file.stem)
    run_header["imported_from"] = {"file": in_file.name, "format": header.get("format", CANONICAL_FORMAT)}
    return run_header


def _jsonl_parts(in_file: Path, problems: Problems) -> Iterator[tuple[str, str, Any]]:
    """('header'|'entry', location, value) per line; line 1 is {"header": {...}}."""
    header_seen = False
    with open(in_file, "rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                problems.add(f"line {number}", f"not valid JSON ({_reason(exc)})")
                if not header_seen:
                    header_seen = True  # do not also report "missing header" for this line
                continue
            if not header_seen:
                header_seen = True
                if isinstance(value, dict) and set(value) == {"header"}:
                    yield "header", f"line {number}: header", value["header"]
                    continue
                problems.add(f"line {number}", 'missing header: the first line must be {"header": {...}}')
            yield "entry", f"line {number}: entries", value
    if not header_seen:
        problems.add("line 1", "empty file: expected a header line then one line per step")


def _json_parts(in_file: Path, problems: Problems) -> Iterator[tuple[str, str, Any]]:
    try:
        document = json.loads(in_file.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f"line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else "file"
        problems.add(where, f"not valid JSON ({_reason(exc)})")
        return
    if not isinstance(document, dict):
        problems.add("document", f'expected an object {{"header": ..., "entries": [...]}}, got {kind(document)}')
        return
    for key in document:
        if key not in ("header", "entries"):
            problems.add(key, "unknown field (known: entries, header)")
    if "header" not in document:
        problems.add("header", "missing")
    else:
        yield "header", "header", document["header"]
    entries = document.get("entries")
    if not isinstance(entries, list):
        problems.add("entries", f"expected an array, got {kind(entries)}" if "entries" in document else "missing")
        return
    for i, entry in enumerate(entries):
        yield "entry", f"entries[{i}]", entry


def _reason(exc: Exception) -> str:
    return exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)

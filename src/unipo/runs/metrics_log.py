"""metrics.jsonl: one JSON object per update, appended one whole line at a time."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

from unipo.errors import UnipoError
from unipo.runs.atomic import write_bytes_atomically
from unipo.runs.errors import RunFormatError


def metrics_line(step: int, metrics: Mapping[str, Any]) -> bytes:
    row: dict[str, Any] = {"step": int(step)}
    for name, value in metrics.items():
        if not isinstance(name, str) or name == "step":
            raise UnipoError(f"metrics[{name!r}]: metric names must be strings other than 'step'")
        row[name] = _json_scalar(name, value)
    return (json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def _json_scalar(name: str, value: Any) -> Any:
    if hasattr(value, "item"):  # torch / numpy scalars
        value = value.item()
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        # JSON has no NaN/inf; null keeps the line valid for every JSON reader.
        return value if math.isfinite(value) else None
    raise UnipoError(f"metrics[{name!r}]: expected a number, string, bool or None, got {type(value).__name__}")


def append_line(path: Path, line: bytes) -> None:
    """One O_APPEND write per line, so concurrent readers see whole lines or a torn tail only."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(line)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Parsed lines; a last line without its newline (a write in flight or torn by a crash) is skipped."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return parse_rows(data, path)


def parse_rows(data: bytes, path: Path | str) -> list[dict[str, Any]]:
    """read_rows on bytes already read (`path` names the file in messages)."""
    lines = data.split(b"\n")
    complete = lines[:-1]  # the piece after the final newline is empty or torn
    rows = []
    for number, raw in enumerate(complete, start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RunFormatError(f"{path}: line {number}: not valid JSON ({exc})") from None
        if not isinstance(row, dict) or not isinstance(row.get("step"), int):
            raise RunFormatError(f"{path}: line {number}: step: expected an object with an integer 'step'")
        rows.append(row)
    return rows


def as_columns(rows: list[dict[str, Any]]) -> dict[str, list]:
    names: dict[str, None] = {"step": None}
    for row in rows:
        names.update(dict.fromkeys(row))
    return {name: [row.get(name) for row in rows] for name in names}


def repair_torn_tail(path: Path) -> None:
    """Drop a last line left without its newline by a crash, so the next append starts clean."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    if data and not data.endswith(b"\n"):
        write_bytes_atomically(path, data[: data.rfind(b"\n") + 1])


def keep_steps_up_to(path: Path, last_step: int) -> None:
    """Rewrite the file without the lines of steps after last_step (original bytes kept)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    kept = []
    for number, raw in enumerate(data.split(b"\n")[:-1], start=1):
        if not raw.strip():
            continue
        try:
            step = json.loads(raw)["step"]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
            raise RunFormatError(f"{path}: line {number}: not a metrics line ({exc})") from None
        if step <= last_step:
            kept.append(raw + b"\n")
    write_bytes_atomically(path, b"".join(kept))

"""The input of one import (a file or a folder) and what an importer reads it with."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from unipo.importers import strict_json
from unipo.importers.problems import Problems

MAX_LINE_BYTES = 1 << 30  # one JSONL record; a longer line is refused before it is held in memory


@dataclass
class Context:
    """Given to an importer's read(): where problems go, progress, the optional tokenizer, notes."""
    root: Path
    problems: Problems
    advance: Callable[[int], None] = lambda n: None
    tokenizer: Any = None                      # a Hugging Face tokenizer when --tokenizer was given
    notes: list[str] = field(default_factory=list)   # what the importer changed or could not map

    def name(self, file: Path) -> str:
        """file as the user knows it: relative to a folder input; "" for the input file itself (the
        error already names it, so locations read "line 7: ...")."""
        if self.root.is_dir():
            try:
                return str(file.relative_to(self.root))
            except ValueError:
                pass
        return "" if file == self.root else file.name

    def at(self, file: Path, line: int | None = None) -> str:
        label = self.name(file)
        return " ".join(part for part in (label, f"line {line}" if line else "") if part) or "file"

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)


def jsonl(context: Context, file: Path) -> Iterator[tuple[str, Any]]:
    """(location, value) per non-blank line; a line that is not valid JSON is reported and skipped."""
    label = context.at(file)
    prefix = "" if label == "file" else label + " "
    with open(file, "rb") as lines:
        number = 0
        while True:
            raw = lines.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            number += 1
            context.advance(len(raw))
            where = f"{prefix}line {number}"
            if len(raw) > MAX_LINE_BYTES:
                context.problems.add(where, f"a line over {MAX_LINE_BYTES >> 20} MiB is not one record")
                while raw and not raw.endswith(b"\n"):
                    raw = lines.readline(MAX_LINE_BYTES)
                    context.advance(len(raw))
                continue
            if not raw.strip():
                continue
            try:
                value = strict_json.loads(raw)
            except strict_json.JsonProblem as problem:
                hint = " (the last line has no line end: the file looks truncated)" if not raw.endswith(b"\n") else ""
                column = f" column {problem.column}" if problem.column else ""
                context.problems.add(f"{where}{column}", f"not valid JSON ({problem.message}){hint}")
                continue
            yield where, value


def json_document(context: Context, file: Path) -> Any:
    """The whole file as one JSON value (a JSON, not JSONL, format); None after reporting a problem."""
    data = file.read_bytes()
    context.advance(len(data))
    try:
        return strict_json.loads(data)
    except strict_json.JsonProblem as problem:
        where = context.at(file, problem.line) + (f" column {problem.column}" if problem.column else "")
        context.problems.add(where, f"not valid JSON ({problem.message})")
        return None


def files_under(root: Path, pattern: str) -> list[Path]:
    return sorted(p for p in root.rglob(pattern) if p.is_file()) if root.is_dir() else []


def total_bytes(root: Path) -> int:
    if root.is_file():
        return root.stat().st_size
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def head(file: Path, size: int = 4096) -> bytes:
    """The first bytes of a file (detection never reads more)."""
    with open(file, "rb") as handle:
        return handle.read(size)


def first_line(file: Path, limit: int = 1 << 16) -> bytes:
    with open(file, "rb") as handle:
        return handle.readline(limit)


def readable(path: Path) -> bool:
    return os.access(path, os.R_OK)

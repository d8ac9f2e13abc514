"""import_canonical: a canonical JSON/JSONL log -> a run directory, all or nothing.

Kept for callers of the canonical API; the work is done by the importer plug-in `unipo`
(unipo.importers.formats.unipo) through unipo.importers.run.import_run."""
from __future__ import annotations

import os
from pathlib import Path

from unipo.errors import UnipoError
from unipo.runs.writer import RunWriter  # noqa: F401  (tests patch RunWriter.create through this module)

JSONL_SUFFIXES = (".jsonl", ".ndjson")


def import_canonical(in_file: str | os.PathLike, run_path: str | os.PathLike, fmt: str | None = None) -> Path:
    """Validate and store every entry; on any problem raise one UnipoError listing them (with line /
    entry and field path) and leave nothing at run_path."""
    from unipo.importers.run import import_run
    in_file = Path(in_file)
    if not in_file.is_file():
        raise UnipoError(f"{in_file}: no such file")
    if fmt not in (None, "json", "jsonl"):
        raise UnipoError(f"format: expected json or jsonl, got {fmt!r}")
    name = {"json": "unipo-json", "jsonl": "unipo-jsonl", None: "unipo"}[fmt]
    import_run(in_file, run_path, format=name)
    return Path(run_path)

"""One rule for every file the server reads from a run: its real path must lie inside the run.

A run directory may hold symlinks (planted, or left by a copy): run.json, metrics.jsonl, steps/ and
each step file are read only when their real location (symlinks resolved) is inside the run's
own (resolved) directory; otherwise the server behaves as if the file were absent.
"""
from __future__ import annotations

from pathlib import Path


def real_path_inside(run_path: Path, path: Path) -> Path | None:
    """The real path of `path` when it exists and lies inside `run_path` (resolved), else None."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return real if real.is_relative_to(run_path) else None


def real_file_inside(run_path: Path, path: Path) -> Path | None:
    """Like real_path_inside, and the target is a regular file."""
    real = real_path_inside(run_path, path)
    return real if real is not None and real.is_file() else None

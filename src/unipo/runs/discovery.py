"""Finding run directories under a folder."""
from __future__ import annotations

import os
from pathlib import Path

from unipo.runs.schema import RUN_JSON, STEPS_DIR, CHECKPOINTS_DIR


def list_runs(root: str | os.PathLike) -> list[Path]:
    """Every directory under root (root included) that holds a run.json, sorted by path.

    A run's own sub-folders (steps/, checkpoints/) are not searched; hidden folders are skipped.
    """
    root = Path(root)
    found: list[Path] = []
    for folder, subfolders, files in os.walk(root):
        if RUN_JSON in files:
            found.append(Path(folder))
            subfolders[:] = [s for s in subfolders if s not in (STEPS_DIR, CHECKPOINTS_DIR)]
        subfolders[:] = sorted(s for s in subfolders if not s.startswith("."))
    return sorted(found)

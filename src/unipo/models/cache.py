"""Where warmed-up checkpoints live, what identifies one, and how one is written without tearing."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

CACHE_ENV_VAR = "UNIPO_CACHE_DIR"
COMPLETE_MARKER = "unipo_model.json"

# A warm-up takes minutes; a temporary folder untouched for this long belongs to a killed process,
# not to one still building the same checkpoint.
ABANDONED_AFTER_S = 3600


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """The argument, else $UNIPO_CACHE_DIR, else ~/.cache/unipo/models."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    return Path.home() / ".cache" / "unipo" / "models"


def cache_key(identity: dict) -> str:
    """A hash of everything that determines the checkpoint's weights."""
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def is_complete(directory: Path) -> bool:
    return (directory / COMPLETE_MARKER).is_file()


def build_atomically(final_dir: Path, build: Callable[[Path], dict]) -> bool:
    """Run `build(temp_dir)` and move the result to `final_dir` in one rename.

    `build` fills the temporary directory and returns the info written as the completion marker
    (last, so a directory with the marker is whole). A killed build leaves only a `.tmp-*` folder
    that no reader looks at. Returns False when another process finished the same checkpoint
    first (its result is kept, ours discarded).
    """
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_builds(final_dir)
    temp_dir = Path(tempfile.mkdtemp(prefix=f".tmp-{final_dir.name}-", dir=final_dir.parent))
    # mkdtemp makes the folder private (0700); a cache entry is shared like any other file.
    umask = os.umask(0)
    os.umask(umask)
    temp_dir.chmod(0o777 & ~umask)
    try:
        info = build(temp_dir)
        marker = temp_dir / COMPLETE_MARKER
        marker.write_text(json.dumps(info, indent=2, sort_keys=True), encoding="utf-8")
        try:
            os.rename(temp_dir, final_dir)
        except OSError:
            if is_complete(final_dir):
                return False
            # A stale, incomplete directory under the final name (not written by this code, which
            # only ever renames whole ones into place): replace it.
            shutil.rmtree(final_dir, ignore_errors=True)
            os.rename(temp_dir, final_dir)
        return True
    finally:
        if temp_dir.exists():
            shutil.rmtree(temp_dir, ignore_errors=True)


def remove_abandoned_builds(final_dir: Path) -> None:
    """Delete temporary folders that killed builds of `final_dir` left behind."""
    now = time.time()
    for leftover in final_dir.parent.glob(f".tmp-{final_dir.name}-*"):
        try:
            if now - leftover.stat().st_mtime > ABANDONED_AFTER_S:
                shutil.rmtree(leftover, ignore_errors=True)
        except FileNotFoundError:
            pass  # another process cleaned it up first

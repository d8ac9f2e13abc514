"""All-or-nothing imports: the run is written in a hidden sibling folder `.<name>.importing-<pid>`
(under its own writer lock) and renamed to the requested path at the end.

A kill -9 leaves the requested path absent (or as it was) and a hidden staging folder that the next
import of the same path removes; a path being written by another process is refused at once.
"""
from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path

from unipo.errors import UnipoError
from unipo.runs.lock import LOCK_FILE, RunLockedError, WriterLock
from unipo.runs.space import disk_full_as_error
from unipo.runs.writer import is_empty_run_directory

_STAGING = re.compile(r"\.importing-(\d+)$")


def staging_path(run_path: Path) -> Path:
    return run_path.parent / f".{run_path.name}.importing-{os.getpid()}"


def remove_stale_staging(run_path: Path) -> None:
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


def move_into_place(staging: Path, run_path: Path) -> None:
    """Rename staging to run_path, which must still be absent, or empty and not being written."""
    taken = UnipoError(f"{run_path}: was created by someone else during the import "
                       f"(nothing imported; choose another --out)")
    try:
        if run_path.exists():
            with WriterLock.acquire(run_path, create=False):
                if not is_empty_run_directory(run_path):
                    raise taken
                (run_path / LOCK_FILE).unlink(missing_ok=True)
                run_path.rmdir()
        # staging holds its own lock file, held by this import's writer: it comes along.
        with disk_full_as_error(run_path, "the imported run"):
            os.replace(staging, run_path)
    except RunLockedError:
        raise
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise taken from None
        raise

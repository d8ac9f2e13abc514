"""One writer per run directory: an OS lock (flock) on `<run>/.unipo-writer.lock`.

Taken by RunWriter.create / open_for_resume (and by the trainer before it touches anything, so that
`--overwrite` deletes nothing while another process writes the run). The kernel drops the lock
when its holder dies, kill -9 included: the file that stays behind holds no lock and is harmless.
The file's text (pid, host, start time, command) is only there for the message a second writer
gets. Readers (RunReader, the server) never take it.

The trainer's capture child (engine/capture_process.py) gets the trainer's lock descriptor as an
inherited fd: both processes then share one lock, which lasts until both have exited — a --resume
cannot start while an orphaned child still finishes its last step. The child never calls flock.
Never unlink the lock file of a run that might be written (a second writer could then lock a new
file while the first still holds the old one).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import shlex
import socket
import sys
import time
from pathlib import Path
from typing import Any

from unipo.errors import UnipoError

try:  # POSIX only; elsewhere runs are simply not locked
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".unipo-writer.lock"
# A holder recorded in the lock file whose pid is gone on this host while the lock is still held
# is the trainer's capture child finishing its last write after a kill -9: wait for it this long.
ORPHAN_WAIT_S = 15.0


class RunLockedError(UnipoError):
    """Another process holds the run directory's writer lock."""


def lock_path(run_path: str | os.PathLike) -> Path:
    return Path(run_path) / LOCK_FILE


class WriterLock:
    """The held writer lock of one run directory (release() or process exit frees it)."""

    def __init__(self, path: Path, fd: int | None):
        self.run_path = path
        self._fd = fd

    @property
    def fd(self) -> int | None:
        """The locked descriptor (to hand to a child process that writes through this lock)."""
        return self._fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    @classmethod
    def acquire(cls, run_path: str | os.PathLike, *, create: bool = True) -> "WriterLock":
        """Lock run_path for writing (creating the directory when `create`), or raise RunLockedError
        naming the holder at once. Touches nothing else in the directory."""
        run_path = Path(run_path)
        if fcntl is None:
            return cls(run_path, None)
        if create:
            if run_path.exists() and not run_path.is_dir():
                raise UnipoError(f"{run_path}: exists and is not a directory")
            try:
                run_path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UnipoError(f"{run_path}: cannot create the run directory ({exc.strerror or exc})") from None
        try:
            fd = os.open(lock_path(run_path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise UnipoError(f"{run_path}: cannot open the writer lock {LOCK_FILE} "
                             f"({exc.strerror or exc})") from None
        deadline = None
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _read_holder(fd)
                if deadline is None:
                    deadline = time.monotonic() + (ORPHAN_WAIT_S if _holder_gone(holder) else 0.5)
                if time.monotonic() < deadline:
                    # A moment for a holder that is just letting go (or a check_no_writer probe);
                    # longer for an orphaned capture child finishing its last step.
                    time.sleep(0.05)
                    continue
                os.close(fd)
                raise RunLockedError(locked_message(run_path, holder)) from None
            except OSError:  # a file system without flock support: do not refuse to write
                return cls(run_path, fd)
        _write_holder(fd)
        return cls(run_path, fd)

    def release(self) -> None:
        """Close the descriptor. A child that inherited it keeps the lock until it exits too."""
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def __del__(self):  # a dropped writer must not keep its run locked
        self.release()

    def __enter__(self) -> "WriterLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def current_holder(run_path: str | os.PathLike) -> dict[str, Any] | None:
    """The holder's details when another process holds run_path's lock, else None. Takes and
    releases the lock for a moment when it is free (for a writer's early check, not for readers)."""
    path = lock_path(run_path)
    if fcntl is None or not path.is_file():
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return None
    except BlockingIOError:
        return _read_holder(fd) or {}
    except OSError:
        return None
    finally:
        os.close(fd)


def check_no_writer(run_path: str | os.PathLike) -> None:
    """Raise RunLockedError when another process writes run_path (call before heavy set-up)."""
    holder = current_holder(run_path)
    if holder is not None:
        raise RunLockedError(locked_message(Path(run_path), holder))


def locked_message(run_path: Path, holder: dict[str, Any] | None) -> str:
    holder = holder or {}
    if holder.get("pid"):
        where = f"pid {holder['pid']}"
        if holder.get("host") and holder["host"] != socket.gethostname():
            where += f" on {holder['host']}"
        details = [where]
        if holder.get("command"):
            details.append(f"`{holder['command']}`")
        if holder.get("started"):
            details.append(f"since {holder['started']}")
        who = ", ".join(details)
    else:
        who = "another process"
    return (f"{run_path}: another process is writing this run ({who}); only one writer per run "
            f"directory: wait for it to finish or stop it, then try again")


def _holder_info() -> dict[str, Any]:
    command = shlex.join([os.path.basename(sys.argv[0]) or "python", *sys.argv[1:]]) if sys.argv else ""
    if len(command) > 300:
        command = command[:297] + "..."
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "command": command}


def _write_holder(fd: int) -> None:
    data = (json.dumps(_holder_info(), ensure_ascii=False) + "\n").encode("utf-8")
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
    except OSError:
        pass  # the details are for messages only (a full disk must not stop the lock)


def _read_holder(fd: int) -> dict[str, Any] | None:
    try:
        data = os.pread(fd, 4096, 0)
        holder = json.loads(data)
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def _holder_gone(holder: dict[str, Any] | None) -> bool:
    """True when the recorded holder is a process of this host that no longer exists."""
    if not holder or not isinstance(holder.get("pid"), int) or holder.get("host") != socket.gethostname():
        return False
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False

"""A full disk while writing a run: one clear error naming the file, the free space and the need."""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path
from typing import Iterator

from unipo.errors import UnipoError

DISK_FULL_ERRNOS = frozenset(e for e in (getattr(errno, "ENOSPC", None), getattr(errno, "EDQUOT", None)) if e)


class DiskFullError(UnipoError):
    """No space (or quota) left while writing a file of a run. The partial file has been removed."""

    def __init__(self, message: str, path: str = "", needed: int | None = None, free: int | None = None):
        super().__init__(message)
        self.path, self.needed, self.free = path, needed, free

    def __reduce__(self):  # picklable across the capture process
        return (type(self), (str(self), self.path, self.needed, self.free))


def is_disk_full(exc: BaseException | None) -> bool:
    """ENOSPC/EDQUOT, also when wrapped (torch.save raises a RuntimeError whose context is the OSError)."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def human_bytes(n: float | None) -> str:
    if n is None:
        return "?"
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def free_space(path: Path) -> tuple[int | None, Path]:
    """(free bytes, mount point) of the file system holding path (or its nearest existing parent)."""
    probe = Path(os.path.abspath(path))
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        free = None
    mount = probe
    while not os.path.ismount(mount) and mount != mount.parent:
        mount = mount.parent
    return free, mount


def disk_full_error(path: Path, what: str, needed: int | None) -> DiskFullError:
    free, mount = free_space(path)
    need = f"needed about {human_bytes(needed)}, " if needed else ""
    message = (f"{path}: no space left on the device while writing {what} "
               f"({need}{human_bytes(free)} free on {mount}); the partial file was removed")
    return DiskFullError(message, str(path), needed, free)


@contextlib.contextmanager
def disk_full_as_error(path: Path, what: str, needed: int | None = None) -> Iterator[None]:
    """Turn ENOSPC/EDQUOT raised inside into one DiskFullError (no traceback chain)."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - only disk-full errors are translated
        if isinstance(exc, DiskFullError) or not is_disk_full(exc):
            raise
        raise disk_full_error(path, what, needed) from None

"""Where a run's files are read from: a local directory, or any fsspec URL (s3://bucket/prefix, gs://,
memory://, ...), read-only. Remote credentials come from the usual environment of the file system's
library (AWS_ACCESS_KEY_ID / AWS_PROFILE / AWS_ENDPOINT_URL for s3fs, ...)."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from unipo.errors import UnipoError

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(location: Any) -> bool:
    return isinstance(location, str) and bool(_URL.match(location)) and not location.startswith("file://")


class RunFiles:
    """Relative paths ("steps/step=000001/rank=00000/tokens.parquet") of one run, local or remote."""

    def __init__(self, location: str | os.PathLike):
        self.remote = is_url(location)
        if self.remote:
            import fsspec

            try:
                self.fs, root = fsspec.core.url_to_fs(location)
            except (ImportError, ValueError) as exc:
                raise UnipoError(f"{location}: cannot open this URL ({exc}); for s3:// install s3fs") from None
            self.root = root.rstrip("/")
            self.location = str(location).rstrip("/")
        else:
            text = str(location)
            self.root = Path(text[len("file://"):] if text.startswith("file://") else text)
            self.location = str(self.root)
        self._real_root: Path | None = None

    def full(self, relative: str) -> str | Path:
        return f"{self.root}/{relative}" if self.remote else self.root / relative

    def shown(self, relative: str = "") -> str:
        """The path or URL to name in messages."""
        return f"{self.location}/{relative}" if relative else self.location

    def is_dir(self) -> bool:
        if not self.remote:
            return self.root.is_dir()
        try:
            return self.fs.isdir(self.root)
        except OSError:
            return False

    def read_bytes(self, relative: str) -> bytes:
        """The file's bytes; FileNotFoundError when absent."""
        if not self.remote:
            return (self.root / relative).read_bytes()
        with self.fs.open(self.full(relative), "rb") as handle:
            return handle.read()

    def mtime(self, relative: str) -> float | None:
        if not self.remote:
            try:
                return (self.root / relative).stat().st_mtime
            except FileNotFoundError:
                return None
        try:
            info = self.fs.info(self.full(relative))
        except (FileNotFoundError, OSError):
            return None
        stamp = info.get("LastModified") or info.get("mtime") or info.get("created")
        return stamp.timestamp() if hasattr(stamp, "timestamp") else (float(stamp) if stamp else None)

    def stamp(self, relative: str) -> tuple | None:
        """(size, modification stamp) of a file, None when absent: a cache key."""
        if not self.remote:
            try:
                stat = (self.root / relative).stat()
            except FileNotFoundError:
                return None
            return (stat.st_size, stat.st_mtime_ns)
        try:
            info = self.fs.info(self.full(relative))
        except (FileNotFoundError, OSError):
            return None
        return (info.get("size"), str(info.get("ETag") or info.get("LastModified") or info.get("mtime")))

    def list_files(self, relative: str) -> list[str]:
        """Relative paths of every file under `relative` (recursive), [] when it is absent."""
        if not self.remote:
            base = self.root / relative
            found = []
            for folder, _subfolders, files in os.walk(base):
                rel = os.path.relpath(folder, self.root)
                found.extend(f"{rel}/{name}" for name in files
                             if self._inside(os.path.join(folder, name)))
            return found
        base = self.full(relative)
        self.fs.invalidate_cache(base)  # a live run grows: never answer from an old listing
        try:
            paths = self.fs.find(base)
        except (FileNotFoundError, OSError):
            return []
        prefix = self.root + "/"
        return [p[len(prefix):] if p.startswith(prefix) else p for p in paths]

    def _inside(self, path: str) -> bool:
        """A file planted as a symlink to somewhere outside the run is treated as absent."""
        if not os.path.islink(path):
            return True
        if self._real_root is None:
            self._real_root = self.root.resolve()
        return Path(os.path.realpath(path)).is_relative_to(self._real_root)

    def parquet(self, relative: str, **options) -> pq.ParquetFile:
        if not self.remote:
            path = self.root / relative
            if not self._inside(str(path)):
                raise FileNotFoundError(f"{path}: a link to a file outside the run (not read)")
            return pq.ParquetFile(path, **options)
        handle = self.fs.open(self.full(relative), "rb")
        return pq.ParquetFile(handle, **options)

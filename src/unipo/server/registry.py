"""Which runs the server may read: run ids map to directories found under the paths it was given.

A run id is looked up here and never joined into a path, so a request cannot name a directory the
user did not hand to `unipo serve`. Folders are re-scanned (throttled) so that runs created after
the server started appear.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from unipo.errors import UnipoError
from unipo.runs import RunFormatError, RunReader, list_runs
from unipo.runs.files import is_url
from unipo.runs.schema import METRICS_JSONL, RUN_JSON, STEPS_DIR
from unipo.server.errors import not_found
from unipo.server.metrics_store import MetricsColumns
from unipo.server.run_files import real_file_inside, real_path_inside

RESCAN_INTERVAL_S = 1.0
# Remote folders (fsspec URLs) are listed again at most this often (a listing is a request).
REMOTE_RESYNC_S = 10.0


@dataclass
class RunEntry:
    id: str
    path: Path           # resolved: every file the server reads for this run must lie inside it
    reader: RunReader
    metrics: MetricsColumns
    lock: threading.Lock = field(default_factory=threading.Lock)

    def files_inside(self) -> bool:
        """run.json is a regular file whose real path is inside the run (not a symlink out of it)."""
        return real_file_inside(self.path, self.path / RUN_JSON) is not None

    @property
    def header(self) -> dict:
        """run.json (re-read when it changed); refused (RunFormatError, 422) when its real path
        leaves the run directory. Server code reads the header through this, never reader.header."""
        if not self.files_inside():
            raise RunFormatError(f"run {self.id!r}: run.json is missing or a link to a file outside the run "
                                 "directory (not served)")
        return self.reader.header

    def steps(self) -> list[int]:
        """Visible step numbers; none when steps/ is a link out of the run directory."""
        steps_dir = self.path / STEPS_DIR
        if steps_dir.exists() and real_path_inside(self.path, steps_dir) is None:
            return []
        return self.reader.steps()


class RunRegistry:
    def __init__(self, paths, *, rescan_interval_s: float = RESCAN_INTERVAL_S):
        self.roots: list[Path] = []
        self._mirrors = []
        for raw in paths:
            if is_url(raw):
                # s3://bucket/prefix (any fsspec URL): served from a local read-only copy kept in sync.
                from unipo.runs.mirror import RemoteMirror

                mirror = RemoteMirror(str(raw))
                self._mirrors.append(mirror)
                self.roots.append(mirror.sync().resolve())
                continue
            path = Path(raw).expanduser()
            if not path.is_dir():
                raise UnipoError(f"{raw}: not a directory (give a run directory or a folder of runs)")
            self.roots.append(path.resolve())
        self.rescan_interval_s = rescan_interval_s
        self._by_id: dict[str, RunEntry] = {}
        self._id_of_path: dict[Path, str] = {}
        self._last_scan = -float("inf")
        self._last_sync = time.monotonic()
        self._lock = threading.Lock()
        self.scan(force=True)

    def scan(self, *, force: bool = False) -> None:
        """Register run directories that appeared since the last scan (at most once a rescan interval)."""
        with self._lock:
            now = time.monotonic()
            if not force and now - self._last_scan < self.rescan_interval_s:
                return
            self._last_scan = now
            if self._mirrors and now - self._last_sync >= max(self.rescan_interval_s, REMOTE_RESYNC_S):
                self._last_sync = now
                for mirror in self._mirrors:
                    try:
                        mirror.sync()
                    except UnipoError:
                        pass  # the remote is unreachable for now: keep serving the copy
            for root in self.roots:
                for run_path in list_runs(root):
                    self._register(run_path.resolve())

    def _register(self, run_path: Path) -> None:
        if run_path in self._id_of_path:
            return
        if real_file_inside(run_path, run_path / RUN_JSON) is None:
            return  # run.json links out of the run: never read it (retried next scan)
        try:
            reader = RunReader(run_path)
        except RunFormatError:
            return  # run.json not (yet) valid: a run being created, or not ours; retried next scan
        run_id = _unique_id(run_path.name, self._by_id)
        self._by_id[run_id] = RunEntry(run_id, run_path, reader, MetricsColumns(run_path / METRICS_JSONL, run_path))
        self._id_of_path[run_path] = run_id

    def entries(self) -> list[RunEntry]:
        self.scan()
        return [entry for entry in list(self._by_id.values()) if entry.files_inside()]

    def get(self, run_id: str) -> RunEntry:
        entry = self._by_id.get(run_id)
        if entry is None:
            self.scan()
            entry = self._by_id.get(run_id)
        if entry is None or not entry.files_inside():
            raise not_found(f"no run with id {run_id!r} (see /api/runs)")
        return entry


def _unique_id(name: str, taken: dict) -> str:
    # Two given folders may each hold a run called "grpo": the second becomes "grpo-2".
    if name not in taken:
        return name
    suffix = 2
    while f"{name}-{suffix}" in taken:
        suffix += 1
    return f"{name}-{suffix}"

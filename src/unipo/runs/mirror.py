"""A local, read-only copy of runs kept at an fsspec URL (what `unipo serve s3://bucket/prefix` serves).

The server checks every file it reads against the real path of its run directory and keys its caches
by file stamps, so remote runs are served from a local copy that `sync()` brings up to date: files
that are new or changed (size or ETag/mtime) are downloaded to a temp name and renamed into place,
step shards before metrics.jsonl before run.json (a reader that sees a metrics line finds its step),
files gone from the remote are removed. Nothing is ever written to the remote.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from unipo.errors import UnipoError
from unipo.runs.files import RunFiles
from unipo.runs.lock import LOCK_FILE
from unipo.runs.schema import METRICS_JSONL, RUN_JSON, STAGING_DIR

MANIFEST = ".unipo-mirror.json"
_SKIP_PARTS = (STAGING_DIR, "checkpoints")


def default_cache_root() -> Path:
    if os.environ.get("UNIPO_REMOTE_CACHE"):
        return Path(os.environ["UNIPO_REMOTE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "unipo" / "remote"


class RemoteMirror:
    def __init__(self, url: str, cache_root: Path | None = None):
        self.url = url.rstrip("/")
        self.files = RunFiles(self.url)
        if not self.files.is_dir():
            raise UnipoError(f"{self.url}: nothing there (give the URL of a run or of a folder of runs; "
                             "credentials and endpoint come from the environment, e.g. AWS_ENDPOINT_URL)")
        key = hashlib.sha1(self.url.encode()).hexdigest()[:16]
        # .../<hash>/<last part of the URL>: a run at the URL keeps its name as its id in the server.
        self.local = (cache_root or default_cache_root()) / key / (self.url.rsplit("/", 1)[-1] or "runs")
        self.local.mkdir(parents=True, exist_ok=True)
        self._manifest_path = self.local / MANIFEST
        try:
            self._manifest: dict[str, list] = json.loads(self._manifest_path.read_text())
        except (FileNotFoundError, ValueError):
            self._manifest = {}

    def sync(self) -> Path:
        """Bring the local copy up to date; returns its folder."""
        try:
            listing = self._listing()
        except OSError as exc:
            raise UnipoError(f"{self.url}: cannot be listed ({exc})") from None
        order = sorted(listing, key=_order)
        for relative in order:
            stamp = listing[relative]
            if self._manifest.get(relative) == stamp and (self.local / relative).exists():
                continue
            target = self.local / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".part")
            try:
                self.files.fs.get_file(self.files.full(relative), str(partial))
            except FileNotFoundError:
                continue  # removed since the listing
            os.replace(partial, target)
            self._manifest[relative] = stamp
        for relative in [r for r in self._manifest if r not in listing]:
            (self.local / relative).unlink(missing_ok=True)
            self._manifest.pop(relative)
            _prune_empty(self.local, (self.local / relative).parent)
        tmp = self._manifest_path.with_name(MANIFEST + ".tmp")
        tmp.write_text(json.dumps(self._manifest))
        os.replace(tmp, self._manifest_path)
        return self.local

    def _listing(self) -> dict[str, list]:
        fs = self.files.fs
        root = self.files.root
        fs.invalidate_cache(root)
        found = {}
        for path, info in fs.find(root, detail=True).items():
            if info.get("type") == "directory":
                continue
            relative = path[len(root) + 1:] if path.startswith(root + "/") else path
            parts = relative.split("/")
            if any(p in _SKIP_PARTS for p in parts) or parts[-1] in (LOCK_FILE, MANIFEST) or \
                    parts[-1].endswith((".tmp", ".part")):
                continue
            found[relative] = [info.get("size"), str(info.get("ETag") or info.get("LastModified") or info.get("mtime"))]
        return found


def _order(relative: str) -> tuple[int, str]:
    name = relative.rsplit("/", 1)[-1]
    return ({RUN_JSON: 2, METRICS_JSONL: 1}.get(name, 0), relative)


def _prune_empty(root: Path, folder: Path) -> None:
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def remove_mirror(mirror: RemoteMirror) -> None:
    shutil.rmtree(mirror.local, ignore_errors=True)

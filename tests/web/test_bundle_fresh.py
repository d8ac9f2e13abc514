"""The committed web bundle (src/unipo/web) must be built from the current front-end sources.

Installing UNIPO needs no Node: the bundle is committed. This test recomputes, in Python, the
same source hash frontend/vite.config.ts writes into build-info.json when it builds, so a change
to the sources without a rebuild fails here. Fix: `cd frontend && flock /tmp/unipo-web-build.lock npm run build`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FRONTEND = REPO / "frontend"
BUNDLE = REPO / "src" / "unipo" / "web"

# Must match HASHED_TOP_LEVEL in frontend/vite.config.ts.
HASHED_TOP_LEVEL = ["index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json"]


def frontend_source_hash() -> tuple[str, int]:
    """sha256 over sorted POSIX paths: for each file `path\\n<byte length>\\n<bytes>`."""
    paths = [p for p in (FRONTEND / "src").rglob("*") if p.is_file()]
    paths += [FRONTEND / name for name in HASHED_TOP_LEVEL if (FRONTEND / name).is_file()]
    relative = sorted(p.relative_to(FRONTEND).as_posix() for p in paths)
    digest = hashlib.sha256()
    for rel in relative:
        data = (FRONTEND / rel).read_bytes()
        digest.update(f"{rel}\n{len(data)}\n".encode("utf-8"))
        digest.update(data)
    return digest.hexdigest(), len(relative)


def test_bundle_exists():
    assert (BUNDLE / "index.html").is_file(), "src/unipo/web/index.html missing: build the front-end"
    assert (BUNDLE / "build-info.json").is_file()


def test_bundle_is_built_from_current_sources():
    if not FRONTEND.is_dir():
        pytest.skip("no front-end sources in this checkout")
    info = json.loads((BUNDLE / "build-info.json").read_text())
    sha, count = frontend_source_hash()
    assert info["source_sha256"] == sha, (
        f"the committed web bundle is stale ({info['source_files']} files hashed at build, {count} now): "
        "run `cd frontend && flock /tmp/unipo-web-build.lock npm run build` and commit src/unipo/web"
    )


def test_bundle_references_only_its_own_assets():
    html = (BUNDLE / "index.html").read_text()
    # Relative asset URLs: the server may mount the app under any prefix, and nothing is fetched
    # from another origin (the app must work offline).
    assert "http://" not in html and "https://" not in html
    for ref in ("./assets/",):
        assert ref in html

"""The built web app (src/unipo/web/) as static files, and nothing outside it.

Path safety is checked on the raw request path, before any normalisation could hide a `..`:
traversal segments (plain or percent-encoded), backslashes, NUL bytes, absolute paths and drive
letters are refused with 400; a file whose real path (symlinks resolved) leaves the bundle is 404.
"""
from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from unipo.server.json_response import error

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

_MISSING_BUNDLE_PAGE = (
    "<!doctype html><meta charset=utf-8><title>UNIPO</title>"
    "<p>The UNIPO web bundle is missing (src/unipo/web/index.html was not built). "
    "The JSON API is available under <code>/api/</code>.</p>"
)

# Types the browser must not guess (a module script served as text/plain is refused).
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("text/css", ".css")
mimetypes.add_type("image/svg+xml", ".svg")
mimetypes.add_type("font/woff2", ".woff2")
mimetypes.add_type("application/wasm", ".wasm")


def unsafe_reason(raw_path: str) -> str | None:
    """Why a requested path must be refused, or None when it may be looked up in the bundle."""
    decoded = raw_path
    # Decode repeatedly so that double encodings (%252e%252e) cannot smuggle a `..` through.
    for _ in range(3):
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    if "\x00" in decoded:
        return "NUL byte in path"
    if "\\" in decoded:
        return "backslash in path"
    segments = decoded.split("/")
    if any(segment in ("..", ".") for segment in segments):
        return "path traversal"
    if len(segments) > 1 and ":" in segments[1]:
        return "drive or scheme in path"
    if decoded.startswith("//"):
        return "absolute path"
    return None


def resolve_in(root: Path, relative: str) -> Path | None:
    """`root/relative` when it is a regular file whose real location is inside `root`."""
    try:
        real_root = root.resolve(strict=True)
        candidate = (real_root / relative).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not candidate.is_relative_to(real_root) or not candidate.is_file():
        return None
    return candidate


def raw_path_of(request: Request) -> str:
    # The path as the client sent it (still percent-encoded), not Starlette's decoded one.
    raw = request.scope.get("raw_path")
    return raw.decode("latin-1").split("?", 1)[0] if raw else request.url.path


def web_handler(web_dir: Path = WEB_DIR):
    """The route handler that serves files of `web_dir`; `/` is its index.html."""

    async def serve_web(request: Request) -> Response:
        raw = raw_path_of(request)
        reason = unsafe_reason(raw)
        if reason:
            return error(400, f"refused: {reason}")
        relative = unquote(raw).lstrip("/") or "index.html"
        if relative == "api" or relative.startswith("api/"):
            return error(404, f"no such API route: /{relative}")
        if relative == "index.html" and not (web_dir / "index.html").is_file():
            return HTMLResponse(_MISSING_BUNDLE_PAGE)
        return _file_response(web_dir, relative)

    return serve_web


def _file_response(web_dir: Path, relative: str) -> Response:
    found = resolve_in(web_dir, relative)
    if found is None:
        return error(404, f"no such file in the web app: /{relative}")
    headers = {"X-Content-Type-Options": "nosniff"}
    if relative != "index.html" and relative.startswith("assets/"):
        # Vite puts a content hash in asset names, so they never change under one name.
        headers["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        headers["Cache-Control"] = "no-cache"
    return FileResponse(found, headers=headers)

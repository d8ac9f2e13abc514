"""run.json: the run's header, read and validated."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from unipo.runs.errors import RunFormatError
from unipo.runs.schema import FORMAT, LEGACY_FORMAT, READABLE_FORMATS, STATUSES


def read_header(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunFormatError(f"{path}: missing (not a UNIPO run directory)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunFormatError(f"{path}: cannot be read ({exc})") from None
    return parse_header(text, path)


def parse_header(text: str, path: Path | str) -> dict[str, Any]:
    try:
        header = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunFormatError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})") from None
    validate_header(header, path)
    return header


def validate_header(header: Any, path: Path | str) -> None:
    if not isinstance(header, dict):
        raise RunFormatError(f"{path}: expected a JSON object, got {type(header).__name__}")
    if header.get("format") not in READABLE_FORMATS:
        raise RunFormatError(f"{path}: format: expected {FORMAT!r} (or the older {LEGACY_FORMAT!r}), "
                             f"got {header.get('format')!r}")
    if header.get("status") not in STATUSES:
        raise RunFormatError(f"{path}: status: expected one of {', '.join(STATUSES)}, got {header.get('status')!r}")

"""JSON responses written with orjson: numpy arrays natively, NaN and infinities as null."""
from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from starlette.responses import Response

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _fallback(value: Any) -> Any:
    # orjson serialises only C-contiguous arrays natively; strided views (a column sliced out of a
    # [N, k] tensor, say) come here and are copied once.
    if isinstance(value, np.ndarray):
        return np.ascontiguousarray(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


_INT64 = 2**63


def _within_int64(value: Any) -> Any:
    """A copy where integers orjson cannot encode (beyond 64 bits, e.g. in an edited run.json)
    become strings of their digits, so one odd header value never turns a listing into a 500."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -_INT64 <= value < 2**64 else str(value)
    if isinstance(value, dict):
        return {key: _within_int64(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_within_int64(item) for item in value]
    return value


def dumps(content: Any, option: int = 0) -> bytes:
    try:
        return orjson.dumps(content, default=_fallback, option=_OPTIONS | option)
    except TypeError as exc:
        if "64-bit" not in str(exc):
            raise
        return orjson.dumps(_within_int64(content), default=_fallback, option=_OPTIONS | option)


class JSONBytes(Response):
    """A JSON response; `content` may be an object or bytes already encoded (from a cache)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else dumps(content)


def error(status: int, message: str) -> JSONBytes:
    return JSONBytes({"error": message}, status_code=status)

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


def dumps(content: Any) -> bytes:
    return orjson.dumps(content, default=_fallback, option=_OPTIONS)


class JSONBytes(Response):
    """A JSON response; `content` may be an object or bytes already encoded (from a cache)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else dumps(content)


def error(status: int, message: str) -> JSONBytes:
    return JSONBytes({"error": message}, status_code=status)

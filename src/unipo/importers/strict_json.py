"""JSON parsing that refuses what would otherwise change a value silently.

Python's json module accepts NaN/Infinity literals, keeps the last of duplicate keys, returns lone
surrogates that no file can store, overflows to inf on 1e400 and recurses until RecursionError on a
10,000-deep nesting. Every such input is refused here with its line and a reason instead.
"""
from __future__ import annotations

import json
import re
from typing import Any

import orjson

_MISSING = object()
ORJSON_MAX_BYTES = 16 << 20
_KEY = re.compile(rb'(?<!\\)"\s*:')

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abAB]|\\u[dD][c-fC-F]")


class JsonProblem(ValueError):
    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


def _constant(name: str):
    raise ValueError(f"{name} is not a JSON number (write null for a missing value)")


def _pairs(pairs: list[tuple[str, Any]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r} (which value is meant is unclear)")
            seen.add(key)
    return result


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant)


def loads(data: bytes | str) -> Any:
    """One JSON value; JsonProblem (with line and column where known) for anything refused.

    Fast path: orjson (which refuses NaN/Infinity, 1e400, lone surrogates, invalid UTF-8 and deep
    nesting on its own) plus a count of keys: when the text has as many `"key":` as the parsed objects
    hold keys, no key was given twice. Anything else takes the exact path below (the stdlib decoder
    with the checks), which also words the error."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    try:
        # orjson holds ~13x a huge string while decoding it; the stdlib ~2x: long records take that path.
        value = orjson.loads(raw) if len(raw) <= ORJSON_MAX_BYTES else _MISSING
    except orjson.JSONDecodeError:
        value = _MISSING
    if value is not _MISSING:
        keys = _keys_in(value)
        if keys == raw.count(b'":') or keys == len(_KEY.findall(raw)):  # compact JSON, then any spacing
            return value
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise JsonProblem(f"not UTF-8 (byte {exc.start})", line) from None
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise JsonProblem(exc.msg, exc.lineno, exc.colno) from None
    except RecursionError:
        raise JsonProblem("nested too deeply to be a run log") from None
    except ValueError as exc:  # duplicate keys, NaN literals, integers of > 4300 digits
        raise JsonProblem(str(exc).split("; use sys.set_int_max_str_digits")[0]) from None
    if _SURROGATE_ESCAPE.search(raw):
        where = _lone_surrogate(value, "")
        if where is not None:
            raise JsonProblem(f"{where or 'value'}: a lone UTF-16 surrogate (\\ud800-\\udfff) is not text")
    return value


def _lone_surrogate(value: Any, path: str) -> str | None:
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return where
        elif isinstance(item, dict):
            for key, child in item.items():
                try:
                    key.encode("utf-8")
                except UnicodeEncodeError:
                    return f"{where}.<key>" if where else "<key>"
                stack.append((child, f"{where}.{key}" if where else key))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))
    return None


def _keys_in(value: Any) -> int:
    """Keys of every object in value. Lists are searched only when they start with a container: an
    object hidden later in a list of numbers is not counted, so the counts differ and the exact path
    decides."""
    count = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            count += len(item)
            stack.extend(v for v in item.values() if type(v) in (dict, list))
        elif type(item) is list and item and type(item[0]) in (dict, list):
            stack.extend(v for v in item if type(v) in (dict, list))
    return count

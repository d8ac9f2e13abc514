"""Every problem found in an input, each reported once with its file, line and field."""
from __future__ import annotations

import json
from typing import Any

from unipo.errors import UnipoError

MAX_LISTED = 20
MAX_KEPT = 1000  # beyond this only the count grows: a hostile file cannot make the report huge


class ImportProblems(UnipoError):
    """The input has problems; nothing was imported."""


class Problems:
    def __init__(self, source_name: str):
        self.source_name = source_name
        self.messages: list[str] = []
        self.count = 0
        self._locations: set[str] = set()

    def add(self, where: str, message: str) -> None:
        """One problem per location: the first found there (a missing field is not also reported
        as having the wrong type)."""
        if where in self._locations:
            return
        self.count += 1
        if len(self.messages) < MAX_KEPT:
            self._locations.add(where)
            self.messages.append(f"{where}: {message}")

    def __bool__(self) -> bool:
        return self.count > 0

    def __len__(self) -> int:
        return self.count

    def error(self) -> ImportProblems:
        listed = "\n  ".join(self.messages[:MAX_LISTED])
        more = self.count - min(MAX_LISTED, len(self.messages))
        tail = f"\n  ... and {more} more" if more > 0 else ""
        count = f"{self.count} problem{'s' if self.count != 1 else ''}"
        return ImportProblems(f"{self.source_name}: {count}, nothing imported:\n  {listed}{tail}")


def shown(value: Any) -> str:
    """A short rendering of an offending value for a message (never the whole of a huge value)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {len(str(value)) if value.bit_length() < 14000 else 'over 4000'} digits"
    if isinstance(value, str) and len(value) > 40:
        value = value[:37]
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)

"""Collecting every problem found in an imported file, each with its location."""
from __future__ import annotations

import json
from typing import Any

from unipo.errors import UnipoError
from unipo.importers.problems import kind  # noqa: F401 - one naming of JSON types for every importer

MAX_LISTED = 20


class Problems:
    def __init__(self, file_name: str):
        self.file_name = file_name
        self.messages: list[str] = []
        self._locations: set[str] = set()

    def add(self, where: str, message: str) -> None:
        """One problem per location: the first one found there (a missing field is not also
        reported as having the wrong type)."""
        if where in self._locations:
            return
        self._locations.add(where)
        self.messages.append(f"{where}: {message}")

    def __bool__(self) -> bool:
        return bool(self.messages)

    def __len__(self) -> int:
        return len(self.messages)

    def error(self) -> UnipoError:
        listed = "\n  ".join(self.messages[:MAX_LISTED])
        more = len(self.messages) - MAX_LISTED
        tail = f"\n  ... and {more} more" if more > 0 else ""
        count = f"{len(self.messages)} problem{'s' if len(self.messages) != 1 else ''}"
        return UnipoError(f"{self.file_name}: {count} in canonical log, nothing imported:\n  {listed}{tail}")


def shown(value: Any) -> str:
    """A short rendering of an offending value for an error message."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {len(str(value))} digits"
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."

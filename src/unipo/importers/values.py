"""Field checks shared by the importers: a value in, a stored-type value out, or a problem.

Nothing is converted silently: integers must fit the int32 columns they go to, floats must be finite
and inside float32's range (1e39 would be stored as inf), a bool is not a number, and per-token arrays
are converted in one numpy call (type-checked first, so a float token id is not truncated).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from unipo.importers.problems import Problems, kind, shown

INT32_MAX = 2**31 - 1
FLOAT32_MAX = float(np.finfo(np.float32).max)
MAX_TEXT_BYTES = 16 << 20   # one prompt or response (a 50 MB prompt is not a training sample)


class Fields:
    """Checks that record a problem at `where.field` and return a usable default, so checking goes on."""

    def __init__(self, problems: Problems, where: str):
        self.problems, self.where = problems, where
        self.before = problems.count

    @property
    def failed(self) -> bool:
        return self.problems.count > self.before

    def at(self, name: str) -> str:
        return f"{self.where}: {name}" if name else self.where

    def add(self, name: str, message: str) -> None:
        self.problems.add(self.at(name), message)

    def integer(self, value: Any, name: str, *, lo: int = 0, hi: int = INT32_MAX, default: int | None = None) -> int | None:
        if value is None and default is not None:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            self.add(name, f"expected an integer, got {shown(value)}")
            return default if default is not None else 0
        if not lo <= value <= hi:
            self.add(name, f"expected an integer in [{lo}, {hi}], got {shown(value)}")
            return default if default is not None else 0
        return value

    def number(self, value: Any, name: str, *, nullable: bool = True) -> float:
        """A float32-storable number; NaN stands for null (the store's "no value")."""
        if value is None:
            if not nullable:
                self.add(name, "missing (null)")
            return float("nan")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            self.add(name, f"expected a number, got {shown(value)}")
            return float("nan")
        try:
            number = float(value)
        except OverflowError:
            self.add(name, f"{shown(value)} is outside float32's range (would be stored as inf)")
            return float("nan")
        if not abs(number) <= FLOAT32_MAX:
            self.add(name, f"{shown(value)} is outside float32's range (would be stored as inf)")
            return float("nan")
        return number

    def text(self, value: Any, name: str, *, nullable: bool = False) -> str:
        if value is None and nullable:
            return ""
        if not isinstance(value, str):
            self.add(name, f"expected a string, got {shown(value)}")
            return ""
        if len(value) > MAX_TEXT_BYTES // 4 and len(value.encode("utf-8", "replace")) > MAX_TEXT_BYTES:
            self.add(name, f"text of {len(value):,} characters is over the {MAX_TEXT_BYTES >> 20} MiB limit")
            return ""
        return value

    def boolean(self, value: Any, name: str, *, default: bool = False) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.add(name, f"expected true or false, got {shown(value)}")
            return default
        return value

    def mapping(self, value: Any, name: str) -> dict:
        if not isinstance(value, dict):
            self.add(name, f"expected an object, got {kind(value)}")
            return {}
        return value

    def array(self, value: Any, name: str) -> list:
        if not isinstance(value, list):
            self.add(name, f"expected an array, got {kind(value)}")
            return []
        return value

    def int_array(self, values: Any, name: str, *, lo: int = -INT32_MAX - 1, hi: int = INT32_MAX) -> np.ndarray | None:
        values = self.array(values, name)
        if not values:
            return np.zeros(0, dtype=np.int64)
        types = set(map(type, values))
        if types != {int}:
            bad = next(i for i, v in enumerate(values) if type(v) is not int)
            self.add(f"{name}[{bad}]", f"expected an integer, got {shown(values[bad])}")
            return None
        try:
            array = np.array(values, dtype=np.int64)
        except OverflowError:
            array = None
        if array is None or len(array) and (array.min() < lo or array.max() > hi):
            bad = next(i for i, v in enumerate(values) if not lo <= v <= hi)
            self.add(f"{name}[{bad}]", f"expected an integer in [{lo}, {hi}], got {shown(values[bad])}")
            return None
        return array

    def float_array(self, values: Any, name: str) -> np.ndarray | None:
        """float64 [L] with NaN for null; refuses non-numbers, bools, and values float32 cannot hold."""
        values = self.array(values, name)
        if not values:
            return np.zeros(0, dtype=np.float64)
        types = set(map(type, values))
        if not types <= {int, float, type(None)}:
            bad = next(i for i, v in enumerate(values) if type(v) not in (int, float, type(None)))
            self.add(f"{name}[{bad}]", f"expected a number or null, got {shown(values[bad])}")
            return None
        if types == {type(None)}:
            return np.full(len(values), np.nan)
        try:
            if type(None) in types:  # None -> NaN in C: an object array compared, then cast
                objects = np.array(values, dtype=object)
                objects[objects == None] = np.nan  # noqa: E711 (element-wise)
                array = objects.astype(np.float64)
            else:
                array = np.array(values, dtype=np.float64)
        except OverflowError:
            array = None
        if array is None or not (np.abs(array) <= FLOAT32_MAX).sum() + np.isnan(array).sum() == len(array):
            bad = next(i for i, v in enumerate(values) if v is not None and not _storable(v))
            self.add(f"{name}[{bad}]", f"{shown(values[bad])} is outside float32's range (would be stored as inf)")
            return None
        return array

    def bool_array(self, values: Any, name: str) -> np.ndarray | None:
        """float64 [L]: 1 true, 0 false, NaN null (stored as a float term column)."""
        values = self.array(values, name)
        types = set(map(type, values))
        if values and not types <= {bool, type(None)}:
            bad = next(i for i, v in enumerate(values) if type(v) not in (bool, type(None)))
            self.add(f"{name}[{bad}]", f"expected true, false or null, got {shown(values[bad])}")
            return None
        if types == {type(None)}:
            return np.full(len(values), np.nan)
        if type(None) not in types:
            return np.array(values, dtype=np.float64)
        objects = np.array(values, dtype=object)
        objects[objects == None] = np.nan  # noqa: E711 (element-wise)
        return objects.astype(np.float64)


def _storable(value) -> bool:
    try:
        return abs(float(value)) <= FLOAT32_MAX
    except OverflowError:
        return False

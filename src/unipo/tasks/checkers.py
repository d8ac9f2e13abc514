"""Named answer checkers for plug-in tasks: `checker(completion, answer) -> bool`."""
from __future__ import annotations

import math
import re
from typing import Callable

from unipo.errors import UnipoError

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def parse_number(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None


def last_number(text: str) -> float | None:
    found = _NUMBER.findall(text.replace(",", ""))
    return float(found[-1]) if found else None


def check_exact(completion: str, answer: str) -> bool:
    return completion.strip() == answer.strip()


def check_numeric(completion: str, answer: str) -> bool:
    """The last number in the completion equals the answer (relative tolerance 1e-6)."""
    got, want = last_number(completion), parse_number(answer)
    return got is not None and want is not None and math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9)


def check_contains(completion: str, answer: str) -> bool:
    return answer.strip() in completion


CHECKERS: dict[str, Callable[[str, str], bool]] = {
    "exact": check_exact,
    "numeric": check_numeric,
    "contains": check_contains,
}

CHECKER_DESCRIPTIONS = {
    "exact": "1 if the completion (stripped) equals the answer, else 0",
    "numeric": "1 if the last number in the completion equals the numeric answer, else 0",
    "contains": "1 if the completion contains the answer, else 0",
}


def get_checker(name: str) -> Callable[[str, str], bool]:
    if name not in CHECKERS:
        raise UnipoError(f"unknown checker {name!r}; valid checkers: {', '.join(sorted(CHECKERS))}")
    return CHECKERS[name]

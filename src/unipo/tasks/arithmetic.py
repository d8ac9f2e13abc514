"""`arithmetic`: multi-digit addition with a worked, column-by-column scratchpad.

Prompt:  "<a>+<b>="                        e.g. "57+68="
Completion (the gold text the warm-up imitates): one column per digit position, right to left,
each written as "<digit a>+<digit b>[+1]=<column sum>", columns separated by ",", then ":" and the
sum:                                         "7+8=15,5+6+1=12:125"
A missing digit of the shorter operand is written as 0. The "+1" appears only when the column
before it carried, so the completion grows with the number of digits AND the number of carries:
correct responses vary in length, which makes the length bias of each loss aggregation visible.

Answer format: the text after the last ":" of the completion, compared as an integer.
Reward: 1.0 when that integer equals a+b, else 0.0; plus `format_weight` (default 0) when the
completion is a well-formed scratchpad (digits, "+", "=", "," before exactly one ":"), even if
wrong. A completion with no ":" (or no number after it) scores 0 correctness.
"""
from __future__ import annotations

import random
import re

from unipo.errors import UnipoError
from unipo.tasks.base import Example, RewardResult, Task

_WELL_FORMED = re.compile(r"^\d\+\d(\+1)?=\d{1,2}(,\d\+\d(\+1)?=\d{1,2})*:\d+$")


class ArithmeticTask(Task):
    def __init__(self, min_digits: int = 1, max_digits: int = 2, format_weight: float = 0.0):
        if not (1 <= int(min_digits) <= int(max_digits) <= 9):
            raise UnipoError(
                f"task arithmetic: need 1 <= min_digits <= max_digits <= 9, "
                f"got min_digits={min_digits}, max_digits={max_digits}"
            )
        if not (0.0 <= float(format_weight) <= 1.0):
            raise UnipoError(f"task arithmetic: format_weight must be in [0, 1], got {format_weight}")
        self.name = "arithmetic"
        self.min_digits = int(min_digits)
        self.max_digits = int(max_digits)
        self.format_weight = float(format_weight)
        self.params = {
            "min_digits": self.min_digits,
            "max_digits": self.max_digits,
            "format_weight": self.format_weight,
        }
        self.reward_description = (
            "1 if the number after ':' equals a+b, else 0"
            + (f"; +{self.format_weight:g} for a well-formed scratchpad" if self.format_weight else "")
        )

    def _operand(self, rng: random.Random) -> int:
        digits = rng.randint(self.min_digits, self.max_digits)
        low = 0 if digits == 1 else 10 ** (digits - 1)
        return rng.randint(low, 10**digits - 1)

    def sample(self, rng: random.Random) -> Example:
        a, b = self._operand(rng), self._operand(rng)
        return Example(prompt=f"{a}+{b}=", answer=str(a + b), meta={"a": a, "b": b})

    def reference_completion(self, example: Example) -> str:
        return scratchpad(example.meta["a"], example.meta["b"]) + ":" + example.answer

    def score(self, example: Example, completion: str) -> RewardResult:
        final = completion.rsplit(":", 1)[-1] if ":" in completion else ""
        correct = final.isdigit() and int(final) == int(example.answer)
        well_formed = bool(_WELL_FORMED.match(completion))
        components = {"correct": float(correct), "format": self.format_weight * float(well_formed)}
        return RewardResult(reward=sum(components.values()), components=components, correct=correct)


def scratchpad(a: int, b: int) -> str:
    """Column additions right to left, e.g. scratchpad(57, 68) == "7+8=15,5+6+1=12"."""
    da, db = str(a)[::-1], str(b)[::-1]
    columns, carry = [], 0
    for i in range(max(len(da), len(db))):
        x = int(da[i]) if i < len(da) else 0
        y = int(db[i]) if i < len(db) else 0
        total = x + y + carry
        columns.append(f"{x}+{y}{'+1' if carry else ''}={total}")
        carry = total // 10
    return ",".join(columns)

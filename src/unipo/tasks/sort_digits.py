"""`sort`: sort a list of digits in ascending order.

Prompt:  "sort:<digits>="                    e.g. "sort:3141="
Completion (gold): the same digits sorted      "1134"
The list length is drawn from [min_length, max_length], so correct answers vary in length.

Answer format: the completion itself, surrounding spaces ignored.
Reward: 1.0 when the completion equals the sorted digits, else 0.0; plus `format_weight`
(default 0) when the completion is a permutation of the prompt's digits (right multiset, maybe
wrong order), a partial-credit signal for length/format without correctness.
"""
from __future__ import annotations

import random

from unipo.errors import UnipoError
from unipo.tasks.base import Example, RewardResult, Task


class SortDigitsTask(Task):
    def __init__(self, min_length: int = 2, max_length: int = 8, format_weight: float = 0.0):
        if not (1 <= int(min_length) <= int(max_length) <= 30):
            raise UnipoError(
                f"task sort: need 1 <= min_length <= max_length <= 30, "
                f"got min_length={min_length}, max_length={max_length}"
            )
        if not (0.0 <= float(format_weight) <= 1.0):
            raise UnipoError(f"task sort: format_weight must be in [0, 1], got {format_weight}")
        self.name = "sort"
        self.min_length = int(min_length)
        self.max_length = int(max_length)
        self.format_weight = float(format_weight)
        self.params = {
            "min_length": self.min_length,
            "max_length": self.max_length,
            "format_weight": self.format_weight,
        }
        self.reward_description = (
            "1 if the completion is the prompt's digits in ascending order, else 0"
            + (f"; +{self.format_weight:g} for a permutation of the digits" if self.format_weight else "")
        )

    def sample(self, rng: random.Random) -> Example:
        length = rng.randint(self.min_length, self.max_length)
        digits = "".join(rng.choice("0123456789") for _ in range(length))
        return Example(prompt=f"sort:{digits}=", answer="".join(sorted(digits)), meta={"digits": digits})

    def reference_completion(self, example: Example) -> str:
        return example.answer

    def score(self, example: Example, completion: str) -> RewardResult:
        text = completion.strip()
        correct = text == example.answer
        permutation = sorted(text) == sorted(example.meta["digits"])
        components = {"correct": float(correct), "format": self.format_weight * float(permutation)}
        return RewardResult(reward=sum(components.values()), components=components, correct=correct)

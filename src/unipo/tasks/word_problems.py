"""`word_problems`: one-step arithmetic word problems in English, for models with a real vocabulary.

Prompt (a question, then "Answer:" so that a base or instruct model answers in its next words):
    "Question: Mia has 12 apples. She buys 7 more. How many apples does Mia have now?\nAnswer:"
Completion (the gold text): " Mia has 12 + 7 = 19 apples. The answer is 19."
Problems add, take away or multiply small whole numbers (operands up to `max_number`, products of
two one-digit numbers for "multiply"), so every answer is a whole number ≥ 0.

Checker: the first whole number after "answer is" when the completion says it, otherwise the last
number of the completion; correct when it equals the answer. Reward: 1.0 when correct, else 0.0,
plus `format_weight` (default 0) when the completion states "The answer is <number>".
"""
from __future__ import annotations

import random
import re

from unipo.errors import UnipoError
from unipo.tasks.base import Example, RewardResult, Task

NAMES = ("Mia", "Leo", "Ava", "Sam", "Noah", "Emma", "Omar", "Lena", "Ravi", "Zoe")
ITEMS = ("apples", "pencils", "stickers", "marbles", "cookies", "books", "shells", "coins")
OPERATIONS = ("add", "subtract", "multiply")
_STATED = re.compile(r"answer is\s*\$?\s*(-?\d+)", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d+")


def parse_answer(completion: str) -> int | None:
    """The number the completion gives as its answer (see the module docstring), or None."""
    text = completion.replace(",", "")
    stated = _STATED.search(text)
    if stated:
        return int(stated.group(1))
    numbers = _NUMBER.findall(text)
    return int(numbers[-1]) if numbers else None


class WordProblemsTask(Task):
    def __init__(self, max_number: int = 20, operations: str = "add,subtract,multiply", format_weight: float = 0.0):
        chosen = tuple(op.strip() for op in str(operations).split(",") if op.strip())
        if not chosen or any(op not in OPERATIONS for op in chosen):
            raise UnipoError(f"task word_problems: operations must be a comma-separated subset of "
                             f"{','.join(OPERATIONS)}, got {operations!r}")
        if not (2 <= int(max_number) <= 1000):
            raise UnipoError(f"task word_problems: need 2 <= max_number <= 1000, got {max_number}")
        if not (0.0 <= float(format_weight) <= 1.0):
            raise UnipoError(f"task word_problems: format_weight must be in [0, 1], got {format_weight}")
        self.name = "word_problems"
        self.max_number = int(max_number)
        self.operations = chosen
        self.format_weight = float(format_weight)
        self.params = {"max_number": self.max_number, "operations": ",".join(chosen),
                       "format_weight": self.format_weight}
        self.reward_description = ("1 if the stated answer (after 'answer is', else the last number) is right, else 0"
                                   + (f"; +{self.format_weight:g} for 'The answer is N'" if self.format_weight else ""))

    def sample(self, rng: random.Random) -> Example:
        name, item, op = rng.choice(NAMES), rng.choice(ITEMS), rng.choice(self.operations)
        if op == "add":
            a, b = rng.randint(1, self.max_number), rng.randint(1, self.max_number)
            question = f"{name} has {a} {item}. {name} gets {b} more. How many {item} does {name} have now?"
            answer, work = a + b, f"{a} + {b} = {a + b}"
        elif op == "subtract":
            a = rng.randint(2, self.max_number)
            b = rng.randint(1, a)
            question = f"{name} has {a} {item} and gives away {b}. How many {item} does {name} have left?"
            answer, work = a - b, f"{a} - {b} = {a - b}"
        else:
            a, b = rng.randint(2, 9), rng.randint(2, 9)
            question = f"{name} has {a} bags with {b} {item} in each bag. How many {item} does {name} have?"
            answer, work = a * b, f"{a} x {b} = {a * b}"
        return Example(prompt=f"Question: {question}\nAnswer:", answer=str(answer),
                       meta={"name": name, "item": item, "work": work})

    def reference_completion(self, example: Example) -> str:
        return f" {example.meta['name']} has {example.meta['work']} {example.meta['item']}. The answer is {example.answer}."

    def score(self, example: Example, completion: str) -> RewardResult:
        got = parse_answer(completion)
        correct = got is not None and got == int(example.answer)
        stated = bool(_STATED.search(completion.replace(",", "")))
        components = {"correct": float(correct), "format": self.format_weight * float(stated)}
        return RewardResult(reward=sum(components.values()), components=components, correct=correct)

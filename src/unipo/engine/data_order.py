"""The training prompts in the order every run with the same task and seed sees them.

The stream depends on the task and the seed only — never on the algorithm — so runs that differ
only in the algorithm train on the same prompts in the same order (architecture invariant 4).
Its position (prompts consumed) is saved in checkpoints; resuming replays the stream to it.
"""
from __future__ import annotations

from itertools import islice

from unipo.tasks.base import Example, Task


class PromptStream:
    def __init__(self, task: Task, seed: int, position: int = 0):
        self.task = task
        self.seed = seed
        self.position = 0
        self._examples = task.iter_prompts("train", seed)
        self.skip(position)

    def skip(self, count: int) -> None:
        for _ in islice(self._examples, count):
            self.position += 1

    def take(self, count: int) -> list[Example]:
        batch = list(islice(self._examples, count))
        self.position += len(batch)
        return batch

"""The task interface: seeded prompt generation with a fixed train/eval split, and a verifier."""
from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field
from typing import Any, Iterator

from unipo.errors import UnipoError

SPLITS = ("train", "eval")

# One problem in eight goes to the held-out split. The split is decided by a stable hash of the
# prompt text, so it never depends on the seed or on how many prompts were asked for.
EVAL_SHARE_DENOMINATOR = 8


@dataclass(frozen=True)
class Example:
    prompt: str
    answer: str
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RewardResult:
    reward: float
    components: dict[str, float]
    correct: bool


def split_of(prompt: str) -> str:
    """Which split a prompt belongs to; the same for every seed, run and machine."""
    bucket = zlib.crc32(prompt.encode("utf-8")) % EVAL_SHARE_DENOMINATOR
    return "eval" if bucket == 0 else "train"


class Task:
    """Base class of a verifiable task.

    Subclasses set `name`, `params`, `reward_description` and implement `sample(rng)`, `score` and
    `reference_completion`. `prompts()` draws from `sample` and keeps only prompts of the asked
    split, so train and eval never share a prompt, and `prompts(n)` is a prefix of `prompts(n + k)`
    for the same seed (runs that differ only in the algorithm see the same prompts in the same order).
    """

    name: str = "task"
    params: dict[str, Any]
    reward_description: str = ""

    # A generator whose problem space is tiny could spin forever looking for an eval prompt.
    max_draws_per_prompt = 10_000

    def sample(self, rng: random.Random) -> Example:
        raise NotImplementedError

    def score(self, example: Example, completion: str) -> RewardResult:
        raise NotImplementedError

    def reference_completion(self, example: Example) -> str:
        raise NotImplementedError

    def iter_prompts(self, split: str, seed: int) -> Iterator[Example]:
        check_split(split)
        # A string seed is hashed with SHA-512 by `random`, so the stream does not depend on
        # PYTHONHASHSEED.
        rng = random.Random(f"{self.name}|{split}|{seed}")
        while True:
            for _ in range(self.max_draws_per_prompt):
                example = self.sample(rng)
                if split_of(example.prompt) == split:
                    break
            else:
                raise UnipoError(
                    f"task {self.name!r} produced no {split!r} prompt in "
                    f"{self.max_draws_per_prompt} draws; its problem space is too small"
                )
            yield example

    def prompts(self, split: str, n: int, seed: int) -> list[Example]:
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        stream = self.iter_prompts(split, seed)
        return [next(stream) for _ in range(n)]

    def cache_identity(self) -> dict:
        """What makes this task's prompts and gold completions what they are (for checkpoint
        caching). Tasks that read data from a file add the file's content hash."""
        return {"name": self.name, "params": dict(self.params)}

    def describe(self) -> dict:
        """The header entry of a run: {name, params, reward}."""
        return {"name": self.name, "params": dict(self.params), "reward": self.reward_description}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, params={self.params!r})"


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")

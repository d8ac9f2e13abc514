"""A task read from a JSONL file of {"prompt": ..., "answer": ...} lines, scored by a named checker.

Each non-blank line is a JSON object with:
  prompt     (string, required)   the text the model continues
  answer     (string or number, required)   what the checker compares against
  completion (string, optional)   gold completion for supervised warm-up; default: the answer
  split      ("train" | "eval", optional)   pin the line to a split
Lines without `split` are split by a stable hash of the prompt: about one prompt in eight is held
out, at least one when the file has two or more distinct prompts. A prompt never lands in both.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
import zlib
from pathlib import Path
from typing import Iterator

from unipo.errors import UnipoError
from unipo.tasks.base import EVAL_SHARE_DENOMINATOR, SPLITS, Example, RewardResult, Task, check_split
from unipo.tasks.checkers import CHECKER_DESCRIPTIONS, get_checker, parse_number

_KNOWN_FIELDS = {"prompt", "answer", "completion", "split"}


class JsonlTask(Task):
    def __init__(self, path: str, checker: str = "exact"):
        self.path = Path(path)
        self.checker_name = checker
        self.checker = get_checker(checker)
        self.name = f"jsonl:{self.path.name}"
        self.params = {"path": str(self.path), "checker": checker}
        self.reward_description = CHECKER_DESCRIPTIONS[checker]
        rows = read_rows(self.path, checker)
        self.examples = assign_splits(rows, self.path)

    def cache_identity(self) -> dict:
        content = hashlib.sha256(self.path.read_bytes()).hexdigest()
        return {"name": self.name, "checker": self.checker_name, "sha256": content}

    def iter_prompts(self, split: str, seed: int) -> Iterator[Example]:
        check_split(split)
        pool = self.examples[split]
        if not pool:
            raise UnipoError(
                f"{self.path}: no {split!r} prompts (add lines, or set \"split\": \"{split}\" on some)"
            )
        rng = random.Random(f"{self.name}|{split}|{seed}")
        while True:  # one reshuffled pass over the pool per epoch
            order = list(range(len(pool)))
            rng.shuffle(order)
            for i in order:
                yield pool[i]

    def reference_completion(self, example: Example) -> str:
        return example.meta.get("completion", example.answer)

    def score(self, example: Example, completion: str) -> RewardResult:
        correct = bool(self.checker(completion, example.answer))
        return RewardResult(reward=float(correct), components={"correct": float(correct)}, correct=correct)


def read_rows(path: Path, checker: str) -> list[tuple[int, Example, str | None]]:
    if not path.is_file():
        raise UnipoError(f"{path}: no such file")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UnipoError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
            rows.append((line_number, *parse_record(record, where, checker)))
    if not rows:
        raise UnipoError(f"{path}: the file has no prompts")
    return rows


def parse_record(record, where: str, checker: str) -> tuple[Example, str | None]:
    if not isinstance(record, dict):
        raise UnipoError(f"{where}: expected a JSON object, got {type(record).__name__}")
    for name in ("prompt", "answer"):
        if name not in record:
            raise UnipoError(f"{where}: missing field {name!r}")
    prompt, answer = record["prompt"], record["answer"]
    if not isinstance(prompt, str) or not prompt:
        raise UnipoError(f"{where}: field 'prompt' must be a non-empty string")
    if isinstance(answer, bool) or not isinstance(answer, (str, int, float)):
        raise UnipoError(f"{where}: field 'answer' must be a string or a number")
    answer = answer if isinstance(answer, str) else _number_text(answer)
    if checker == "numeric" and parse_number(answer) is None:
        raise UnipoError(f"{where}: field 'answer' must be a number for checker 'numeric', got {answer!r}")
    meta = {}
    if "completion" in record:
        if not isinstance(record["completion"], str):
            raise UnipoError(f"{where}: field 'completion' must be a string")
        meta["completion"] = record["completion"]
    split = record.get("split")
    if split is not None and split not in SPLITS:
        raise UnipoError(f"{where}: field 'split' must be one of {list(SPLITS)}, got {split!r}")
    unknown = sorted(set(record) - _KNOWN_FIELDS)
    if unknown:
        raise UnipoError(f"{where}: unknown field {unknown[0]!r}; known fields: {', '.join(sorted(_KNOWN_FIELDS))}")
    return Example(prompt=prompt, answer=answer, meta=meta), split


def _number_text(value: int | float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def assign_splits(rows, path: Path) -> dict[str, list[Example]]:
    pinned: dict[str, tuple[str, int]] = {}
    for line_number, example, split in rows:
        if split is None:
            continue
        previous = pinned.setdefault(example.prompt, (split, line_number))
        if previous[0] != split:
            raise UnipoError(
                f"{path}:{line_number}: field 'split' puts this prompt in {split!r}, but line "
                f"{previous[1]} put the same prompt in {previous[0]!r}"
            )
    free = sorted({ex.prompt for _, ex, _ in rows} - set(pinned), key=lambda p: (zlib.crc32(p.encode()), p))
    held_out = math.ceil(len(free) / EVAL_SHARE_DENOMINATOR) if len(free) >= 2 else 0
    split_of_prompt = {p: "eval" if i < held_out else "train" for i, p in enumerate(free)}
    split_of_prompt.update({p: s for p, (s, _) in pinned.items()})
    examples: dict[str, list[Example]] = {s: [] for s in SPLITS}
    for _, example, _ in rows:
        examples[split_of_prompt[example.prompt]].append(example)
    return examples

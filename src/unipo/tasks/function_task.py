"""A user task given as Python: `module:factory` or `path/to/file.py:factory`.

`factory(**params)` returns either a `Task`, or a pair `(generate, check)`:
  generate(rng: random.Random) -> Example | (prompt, answer) | {"prompt": ..., "answer": ...}
  check(example: Example, completion: str) -> bool | float | RewardResult
The pair form gets the reference completion = answer, and the usual hash-based train/eval split.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import random
import sys
from pathlib import Path
from typing import Callable

from unipo.errors import UnipoError
from unipo.tasks.base import Example, RewardResult, Task


class FunctionTask(Task):
    def __init__(self, name: str, params: dict, generate: Callable, check: Callable, source_sha256: str = ""):
        self.name = name
        self.source_sha256 = source_sha256
        self.params = dict(params)
        self.reward_description = (getattr(check, "__doc__", None) or f"{name}: user checker").strip().splitlines()[0]
        self._generate = generate
        self._check = check

    def cache_identity(self) -> dict:
        # Editing the user's module changes the prompts: a checkpoint warmed up before must not be reused.
        return {"name": self.name, "params": dict(self.params), "source_sha256": self.source_sha256}

    def sample(self, rng: random.Random) -> Example:
        produced = self._generate(rng)
        if isinstance(produced, Example):
            return produced
        if isinstance(produced, dict) and "prompt" in produced and "answer" in produced:
            return Example(prompt=str(produced["prompt"]), answer=str(produced["answer"]), meta=dict(produced.get("meta", {})))
        if isinstance(produced, tuple) and len(produced) == 2:
            return Example(prompt=str(produced[0]), answer=str(produced[1]))
        raise UnipoError(
            f"task {self.name}: the generator returned {type(produced).__name__}; expected an "
            f"Example, a (prompt, answer) pair or a dict with 'prompt' and 'answer'"
        )

    def reference_completion(self, example: Example) -> str:
        return example.meta.get("completion", example.answer)

    def score(self, example: Example, completion: str) -> RewardResult:
        result = self._check(example, completion)
        if isinstance(result, RewardResult):
            return result
        if isinstance(result, (bool, int, float)):
            reward = float(result)
            return RewardResult(reward=reward, components={"reward": reward}, correct=reward > 0)
        raise UnipoError(
            f"task {self.name}: the checker returned {type(result).__name__}; expected a bool, "
            f"a number or a RewardResult"
        )


def load_function_task(spec: str, params: dict) -> Task:
    module_part, _, attribute = spec.rpartition(":")
    if not module_part or not attribute:
        raise UnipoError(f"task {spec!r}: expected 'module:function' or 'file.py:function'")
    module = _import(module_part, spec)
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise UnipoError(f"task {spec!r}: {module_part} has no function {attribute!r}")
    try:
        made = factory(**params)
    except TypeError as exc:
        raise UnipoError(f"task {spec!r}: calling {attribute}(**{params!r}) failed: {exc}") from None
    if isinstance(made, Task):
        return made
    if isinstance(made, tuple) and len(made) == 2 and all(callable(f) for f in made):
        return FunctionTask(spec, params, *made, source_sha256=_source_hash(module))
    raise UnipoError(
        f"task {spec!r}: {attribute}() returned {type(made).__name__}; expected a Task or a "
        f"(generate, check) pair of functions"
    )


def _source_hash(module) -> str:
    try:
        return hashlib.sha256(Path(inspect.getsourcefile(module)).read_bytes()).hexdigest()
    except (TypeError, OSError):
        return ""


def _import(module_part: str, spec: str):
    if module_part.endswith(".py"):
        path = Path(module_part)
        if not path.is_file():
            raise UnipoError(f"task {spec!r}: no such file {path}")
        module_name = f"unipo_user_task_{abs(hash(str(path.resolve())))}"
        loader_spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[module_name] = module
        loader_spec.loader.exec_module(module)
        return module
    # The console script does not put the working directory on sys.path; a user expects
    # `--task my_module:make_task` to find ./my_module.py.
    added = "" not in sys.path and str(Path.cwd()) not in sys.path
    if added:
        sys.path.insert(0, str(Path.cwd()))
    try:
        return importlib.import_module(module_part)
    except ModuleNotFoundError as exc:
        raise UnipoError(f"task {spec!r}: cannot import module {module_part!r} ({exc})") from None
    finally:
        if added:
            sys.path.remove(str(Path.cwd()))

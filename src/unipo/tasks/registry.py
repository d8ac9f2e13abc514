"""Find a task by name: a built-in, a JSONL file, or a user Python factory."""
from __future__ import annotations

import inspect
from dataclasses import dataclass

from unipo.errors import UnipoError
from unipo.tasks.arithmetic import ArithmeticTask
from unipo.tasks.base import Task
from unipo.tasks.function_task import load_function_task
from unipo.tasks.jsonl_task import JsonlTask
from unipo.tasks.sort_digits import SortDigitsTask
from unipo.tasks.word_problems import WordProblemsTask

BUILTIN_TASKS = {
    "arithmetic": ArithmeticTask,
    "sort": SortDigitsTask,
    "word_problems": WordProblemsTask,
}


@dataclass(frozen=True)
class TaskInfo:
    name: str
    summary: str
    params: dict


def list_tasks() -> list[TaskInfo]:
    """The built-in tasks with their default parameters (plug-ins are not listed)."""
    infos = []
    for name, cls in BUILTIN_TASKS.items():
        summary = (inspect.getmodule(cls).__doc__ or "").strip().splitlines()[0]
        infos.append(TaskInfo(name=name, summary=summary, params=dict(cls().params)))
    return infos


def get_task(name: str | Task, **params) -> Task:
    """`name` is a built-in ("arithmetic", "sort", "word_problems"), "jsonl" with path=..., a path ending in
    ".jsonl" (checker=... picks the checker, default "exact"), or "module:function" /
    "file.py:function" for a user task. A Task instance is returned as is."""
    if isinstance(name, Task):
        return name
    if name in BUILTIN_TASKS:
        return _build_builtin(name, params)
    if name == "jsonl" or name.endswith(".jsonl"):
        path = params.pop("path", None) if name == "jsonl" else name
        if path is None:
            raise UnipoError("task jsonl: give the file as path=...")
        checker = params.pop("checker", "exact")
        if params:
            raise UnipoError(f"task {name}: unknown parameter {sorted(params)[0]!r}; valid: checker")
        return JsonlTask(path, checker=checker)
    if ":" in name:
        return load_function_task(name, params)
    raise UnipoError(
        f"unknown task {name!r}; valid tasks: {', '.join(BUILTIN_TASKS)}, a .jsonl file, "
        f"or module:function"
    )


def _build_builtin(name: str, params: dict) -> Task:
    cls = BUILTIN_TASKS[name]
    valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise UnipoError(f"task {name}: unknown parameter {unknown[0]!r}; valid: {', '.join(valid)}")
    try:
        return cls(**params)
    except UnipoError:
        raise
    except (TypeError, ValueError) as exc:
        raise UnipoError(f"task {name}: bad parameter value ({exc})") from None

"""Verifiable tasks: seeded prompt generators with a fixed train/eval split, and their rewards."""
from unipo.tasks.base import Example, RewardResult, Task, split_of
from unipo.tasks.registry import TaskInfo, get_task, list_tasks

__all__ = ["Example", "RewardResult", "Task", "TaskInfo", "get_task", "list_tasks", "split_of"]

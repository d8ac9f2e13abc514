"""Learning-rate schedules: linear warm-up, then constant, linear or cosine decay to zero."""
from __future__ import annotations

import math

import torch

SCHEDULES = ("constant", "linear", "cosine")


def lr_multiplier(step: int, total_steps: int, schedule: str, warmup_steps: int) -> float:
    """Multiplier of the base learning rate before update `step` (0-based)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {schedule!r}; choose from {', '.join(SCHEDULES)}")
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    if schedule == "linear":
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def make_scheduler(optimizer: torch.optim.Optimizer, total_steps: int, schedule: str,
                   warmup_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    lr_multiplier(0, total_steps, schedule, warmup_steps)  # validate the name now, not at step 1
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_multiplier(step, total_steps, schedule, warmup_steps))

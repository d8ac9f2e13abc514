"""Which responses each update of a rollout trains on: μ epochs × mini-batches of whole prompt groups.

Groups stay whole so a stored step shows each prompt with all of its responses; the group order is
reshuffled every epoch from a generator seeded by (seed, rollout), so the schedule can be rebuilt
on resume instead of being saved.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class MiniBatch:
    epoch: int
    minibatch: int
    groups: tuple[int, ...]      # group slots of the rollout, in step order
    responses: tuple[int, ...]   # response rows of the rollout, group by group


def plan_minibatches(num_groups: int, group_size: int, epochs: int, num_minibatches: int,
                     seed: int, rollout: int, shuffle: bool = True) -> list[MiniBatch]:
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if not 1 <= num_minibatches <= num_groups:
        raise ValueError(f"mini-batches per epoch must be between 1 and the {num_groups} prompts "
                         f"of a rollout (groups are never split), got {num_minibatches}")
    generator = torch.Generator().manual_seed(seed * 1_000_003 + rollout)
    plan = []
    for epoch in range(epochs):
        order = torch.randperm(num_groups, generator=generator) if shuffle else torch.arange(num_groups)
        for index, chunk in enumerate(torch.tensor_split(order, num_minibatches)):
            groups = tuple(int(g) for g in chunk)
            responses = tuple(g * group_size + k for g in groups for k in range(group_size))
            plan.append(MiniBatch(epoch, index, groups, responses))
    return plan

"""Reward shaping applied to per-response rewards before advantages (pure functions, no I/O).

An option of any preset (DAPO introduced it), so the engine applies it to the rewards of a
rollout rather than the spec applying it inside the objective.
"""
from __future__ import annotations

import torch


def soft_overlong_penalty(lengths: torch.Tensor, max_length: int, buffer: int,
                          factor: float = 1.0) -> torch.Tensor:
    """DAPO soft overlong punishment, per response.

    0 while L <= L_max - L_cache, then falls linearly to -1 at L = L_max (inside the buffer the
    response is penalised in proportion to how far it ran into it), -1 beyond L_max; times `factor`.
    """
    if buffer <= 0 or buffer > max_length:
        raise ValueError(f"overlong buffer must be in [1, max_length={max_length}], got {buffer}")
    lengths = lengths.to(torch.float32)
    threshold = max_length - buffer
    inside = (threshold - lengths) / buffer
    penalty = torch.where(lengths <= threshold, torch.zeros_like(lengths), inside)
    penalty = torch.where(lengths > max_length, torch.full_like(lengths, -1.0), penalty)
    return penalty * factor


def soft_overlong_shaping(lengths: torch.Tensor, hp: dict) -> torch.Tensor:
    """The reward_shaping component's call: the penalty under hp (max_completion_length resolved)."""
    from unipo.algorithms.components.rollout import overlong_buffer_tokens
    return soft_overlong_penalty(lengths, hp["max_completion_length"], overlong_buffer_tokens(hp),
                                 hp["overlong_penalty_factor"])

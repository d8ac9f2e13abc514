"""HA-DW (arXiv 2601.08521, "Your Group-Relative Advantage Is Biased"): history-aware difficulty
weights on group-relative advantages. Descriptor and the choices made where the paper is not
explicit: components/hadw.py.

State (the spec's advantage state, persisted across rollouts and in checkpoints), under "hadw":
  anchor   C, the cross-batch belief of the model's accuracy (None before the first batch)
  history  the last `hadw_window` batch accuracies y (for σ_t)
  updates  batches seen
"""
from __future__ import annotations

import math

import torch

STATE_KEY = "hadw"


def eta_t(history, eta: float) -> float:
    """η_t = η·σ_t, σ_t the population std of the recent batch accuracies (0 with one value)."""
    if len(history) < 2:
        return 0.0
    mean = sum(history) / len(history)
    return eta * math.sqrt(sum((y - mean) ** 2 for y in history) / len(history))


def hadw_modifier(advantages, context, hp, state):
    """Â'_i = Φ_i·Â_i, Φ_i = λ·exp(D_i·M_g), D_i = −sgn(Â_i)·sgn(p̂_g − C⁻), M_g = |p̂_g − C⁻|;
    then C⁺ = (1 − η_t)·C⁻ + η_t·y with y the batch accuracy."""
    a = advantages.detach()
    correct = (context.rewards.detach() > hp["hadw_correct_threshold"]).to(a.dtype)
    accuracy = context.groups.mean(correct)                        # p̂ of each response's group
    batch_accuracy = float(correct.mean())
    memory = state.setdefault(STATE_KEY, {"anchor": None, "history": [], "updates": 0})
    anchor = batch_accuracy if memory["anchor"] is None else float(memory["anchor"])  # C_0 = y_1
    diff = accuracy - anchor
    per_row = diff if a.dim() == 1 else diff.unsqueeze(1)  # token-level Â: the sign is taken per token
    weight = hp["hadw_lambda"] * torch.exp(-torch.sign(a) * torch.sign(per_row) * per_row.abs())
    history = (list(memory["history"]) + [batch_accuracy])[-hp["hadw_window"]:]
    eta = eta_t(history, hp["hadw_eta"])
    memory.update(anchor=(1.0 - eta) * anchor + eta * batch_accuracy, history=history,
                  updates=int(memory["updates"]) + 1)
    terms = {"hadw_weight": weight, "hadw_group_accuracy": accuracy,
             "hadw_anchor": torch.full_like(accuracy, anchor)}
    metrics = {"hadw_anchor": anchor, "hadw_anchor_next": memory["anchor"], "hadw_batch_accuracy": batch_accuracy,
               "hadw_eta": eta, "hadw_weight_mean": float(weight.mean())}
    return weight * a, terms, metrics

"""Advantage estimators that give one advantage per response ([N]).

Each takes the (possibly KL-shaped) rewards [N], a Groups index, the hyper-parameters and a mutable
state dict, and returns (advantages, terms, metrics). `terms` are [N] tensors named for the UI.
"""
from __future__ import annotations

import torch

from unipo.algorithms.groups import Groups, is_zero_std, whiten


def _zero_variance(groups: Groups, rewards: torch.Tensor):
    mean = groups.mean(rewards)
    std = groups.std(rewards, mean)
    return mean, std, is_zero_std(std)


def _zero_group_fraction(groups: Groups, zero: torch.Tensor) -> float:
    per_group = torch.zeros(groups.num_groups, dtype=torch.bool, device=zero.device)
    per_group[groups.index] = zero
    return float(per_group.float().mean()) if groups.num_groups else 0.0


def group_norm(rewards, groups: Groups, hp, state):
    """GRPO family: A_i = (R_i − mean_g) / (scale + ε), with scale chosen by `scale_rewards`:
    "group" (the group's std, GRPO), "batch" (the batch's std, group mean kept), "none" (Dr. GRPO).
    A zero-variance group gets exactly zero advantage."""
    groups.require_at_least_two("group_norm")
    mean, std, zero = _zero_variance(groups, rewards)
    mode = hp["scale_rewards"]
    centred = rewards - mean
    if mode == "group":
        scale = std
        advantages = centred / (scale + hp["advantage_epsilon"])
    elif mode == "batch":
        scale = rewards.std().expand_as(rewards)
        advantages = centred / (scale + hp["advantage_epsilon"])
    else:
        scale = torch.ones_like(rewards)
        advantages = centred
    advantages = torch.where(zero, torch.zeros_like(advantages), advantages)
    terms = {"group_mean": mean, "group_std": std, "advantage_scale": scale}
    return advantages, terms, {"zero_std_group_fraction": _zero_group_fraction(groups, zero)}


def rloo(rewards, groups: Groups, hp, state):
    """RLOO: A_i = R_i − (Σ_g R − R_i)/(G − 1), the mean of the other responses of the prompt."""
    groups.require_at_least_two("rloo")
    mean, std, zero = _zero_variance(groups, rewards)
    baseline = (groups.sum(rewards) - rewards) / (groups.size_of_each(rewards) - 1)
    advantages = torch.where(zero, torch.zeros_like(rewards), rewards - baseline)
    terms = {"group_mean": mean, "group_std": std, "baseline": baseline}
    return advantages, terms, {"zero_std_group_fraction": _zero_group_fraction(groups, zero)}


def reinforce(rewards, groups: Groups, hp, state):
    """REINFORCE with a baseline b: "batch_mean" (mean reward of this batch) or "moving_average"
    (b ← m·b + (1−m)·mean R, using the baseline from earlier batches; the first batch uses its mean)."""
    batch_mean = rewards.mean()
    if hp["reinforce_baseline"] == "moving_average":
        previous = state.get("moving_baseline")
        baseline_value = batch_mean if previous is None else torch.as_tensor(previous, dtype=rewards.dtype)
        momentum = hp["baseline_momentum"]
        state["moving_baseline"] = float(momentum * baseline_value + (1 - momentum) * batch_mean)
    else:
        baseline_value = batch_mean
    baseline = baseline_value.expand_as(rewards)
    return rewards - baseline, {"baseline": baseline}, {"baseline": float(baseline_value)}


def gpg(rewards, groups: Groups, hp, state):
    """GPG: A_i = α (R_i − mean_g), α = N / #(R ≠ 0) re-scales for responses with zero reward."""
    groups.require_at_least_two("gpg")
    mean, std, zero = _zero_variance(groups, rewards)
    nonzero = (rewards != 0).sum().clamp(min=1)
    alpha = (rewards.numel() / nonzero).to(rewards.dtype)
    advantages = torch.where(zero, torch.zeros_like(rewards), alpha * (rewards - mean))
    terms = {"group_mean": mean, "group_std": std, "advantage_scale": alpha.expand_as(rewards)}
    return advantages, terms, {"zero_std_group_fraction": _zero_group_fraction(groups, zero), "gpg_alpha": float(alpha)}


SEQUENCE_ESTIMATORS = {"group_norm": group_norm, "rloo": rloo, "reinforce": reinforce, "gpg": gpg}


def normalise_if_asked(advantages, hp):
    """TRL RLOO's normalize_advantages: whiten the batch's advantages."""
    return whiten(advantages, hp["advantage_epsilon"]) if hp["normalize_advantages"] else advantages

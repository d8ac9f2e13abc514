"""Response-level advantages with a baseline that is not the group mean: ReMax and OPO (verl 0.9.1).

Both follow the per-response estimator contract (advantages.py): fn(rewards [N], groups, hp, state,
context=AdvantageContext) -> (advantages [N], terms {name: [N]}, metrics).
"""
from __future__ import annotations

import torch

from unipo.algorithms import _checks
from unipo.algorithms.groups import Groups


def remax(rewards, groups: Groups, hp, state, *, context):
    """ReMax (Li et al., arXiv:2310.10505): Â_i = R_i − b_i, b_i = reward of the greedy response to
    the same prompt (verl compute_remax_outcome_advantage, `reward_baselines`).

    The engine must generate the greedy (do_sample=False) response for each prompt, score it and pass
    its reward as `baseline_rewards` ([N], one per response); UNIPO does not make it up."""
    baseline = context.baseline_rewards
    if baseline is None:
        raise ValueError("baseline_rewards: required ([N], the reward of the greedy response to each prompt) by "
                         "advantage estimator 'remax'; the engine must generate and score the greedy baseline")
    _checks.response_shape("baseline_rewards", baseline, rewards.shape[0])
    if not baseline.is_floating_point():
        raise ValueError(f"baseline_rewards: expected a floating-point tensor, got {baseline.dtype}")
    _checks.require_finite("baseline_rewards", baseline)
    baseline = baseline.detach().to(rewards.dtype)
    advantages = rewards - baseline
    return advantages, {"baseline": baseline}, {"baseline_mean": float(baseline.mean())}


def opo(rewards, groups: Groups, hp, state, *, context):
    """OPO (Hao et al., On-Policy RL with Optimal Reward Baseline, arXiv:2505.23585):
    Â_i = R_i − b_g, b_g = Σ_{j∈g} L_j R_j / Σ_{j∈g} L_j (length-weighted group mean, no std division);
    a group of one gets b = 0 (verl compute_opo_outcome_advantage). L_j = real tokens of response j.

    A group whose responses are all empty (Σ L = 0) also gets b = 0, where verl divides 0 by 0."""
    if context.mask is None:
        raise ValueError("mask: required ([N, T], to count each response's tokens) by advantage estimator 'opo'")
    lengths = context.mask.to(rewards.dtype).sum(-1)
    total_length = groups.sum(lengths)
    weighted = groups.sum(lengths * rewards)
    single = groups.size_of_each(rewards) == 1
    empty = total_length == 0
    baseline = torch.where(single | empty, torch.zeros_like(rewards), weighted / torch.where(empty, 1.0, total_length))
    return rewards - baseline, {"baseline": baseline}, {}

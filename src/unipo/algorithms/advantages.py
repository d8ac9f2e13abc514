"""Advantage estimation entry point: KL-in-reward shaping, then the chosen estimator."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from unipo.algorithms import _checks, registry
from unipo.algorithms.advantages_sequence import normalise_if_asked
from unipo.algorithms.groups import Groups


@dataclass
class AdvantageContext:
    """Everything an advantage component may read besides the rewards (its descriptor names what)."""
    rewards: torch.Tensor
    groups: Groups
    group_ids: torch.Tensor
    mask: torch.Tensor | None
    values: torch.Tensor | None
    kl_reward: torch.Tensor | None
    token_ids: torch.Tensor | None
    entropies: torch.Tensor | None
    baseline_rewards: torch.Tensor | None


@dataclass
class AdvantageDetails:
    advantages: torch.Tensor             # [N] or [N, T]
    returns: torch.Tensor | None         # [N, T] for token-level estimators that define returns
    terms: dict[str, torch.Tensor]       # per-response [N] or per-token [N, T] intermediate values
    metrics: dict[str, float]


def compute_advantages(hp, state, rewards, group_ids, *, mask=None, values=None, logprobs=None,
                       ref_logprobs=None, token_ids=None, entropies=None, baseline_rewards=None) -> AdvantageDetails:
    """Advantages under hp. `token_ids`, `entropies` and `baseline_rewards` ([N], e.g. the greedy
    response's reward for ReMax) are read only by the components that declare them as inputs."""
    rewards, groups, mask, values, kl = _validated(hp, rewards, group_ids, mask, values, logprobs, ref_logprobs)
    rewards = rewards.detach()
    estimator = registry.selected("advantage", hp)
    kl_reward = None if kl is None else -hp["kl_coef"] * kl
    terms: dict[str, torch.Tensor] = {"reward": rewards}
    context = AdvantageContext(rewards=rewards, groups=groups, group_ids=group_ids, mask=mask, values=values,
                               kl_reward=kl_reward, token_ids=token_ids, entropies=entropies,
                               baseline_rewards=baseline_rewards)
    if estimator.level == "token":
        advantages, returns, extra, metrics = estimator.load()(
            rewards, groups, hp, mask=mask, values=values, kl_reward=kl_reward)
        if kl_reward is not None:
            terms["kl_reward"] = kl_reward * mask
    else:
        shaped = rewards
        if kl_reward is not None:
            shaped = rewards + (kl_reward * mask).sum(-1)
            terms["kl_reward"] = kl_reward * mask
            terms["shaped_reward"] = shaped
        function = estimator.load()
        if "context" in estimator.inputs:  # estimators that read more than the rewards and groups
            advantages, extra, metrics = function(shaped, groups, hp, state, context=context)
        else:
            advantages, extra, metrics = function(shaped, groups, hp, state)
        advantages = normalise_if_asked(advantages, hp)
        returns = None
    terms.update(extra)
    modifiers = registry.active("advantage_modifier", hp)
    if modifiers:
        terms["advantage_estimate"] = advantages
        metrics = dict(metrics)
        for modifier in modifiers:
            advantages, extra, more = modifier.load()(advantages, context, hp, state)
            terms.update(extra)
            metrics.update(more)
    terms["advantage"] = advantages
    metrics = {**metrics, **_summary(rewards, advantages, mask)}
    return AdvantageDetails(advantages, returns, terms, metrics)


def _summary(rewards, advantages, mask):
    if advantages.dim() == 2:
        maskf = mask.to(advantages.dtype)
        count = maskf.sum().clamp(min=1.0)
        mean = (advantages * maskf).sum() / count
        std = torch.sqrt((((advantages - mean) ** 2) * maskf).sum() / count)
    else:
        mean, std = advantages.mean(), advantages.std(unbiased=False)
    reward_std = rewards.std() if rewards.numel() > 1 else torch.zeros_like(rewards.mean())
    values = torch.stack([rewards.mean(), reward_std, mean, std]).tolist()
    return dict(zip(["reward_mean", "reward_std", "advantage_mean", "advantage_std"], values))


def _validated(hp, rewards, group_ids, mask, values, logprobs, ref_logprobs):
    _checks.require_tensor("rewards", rewards, dims=(1,))
    if not rewards.is_floating_point():
        raise ValueError(f"rewards: expected a floating-point tensor, got {rewards.dtype}")
    _checks.require_finite("rewards", rewards)
    n = rewards.shape[0]
    if n == 0:
        raise ValueError("rewards: expected at least one response, got an empty tensor")
    _checks.require_tensor("group_ids", group_ids, dims=(1,))
    if group_ids.is_floating_point() or group_ids.dtype == torch.bool:
        raise ValueError(f"group_ids: expected an integer tensor, got {group_ids.dtype}")
    if group_ids.shape[0] != n:
        raise ValueError(f"group_ids: expected {n} values (one per reward), got {group_ids.shape[0]}")
    needs_tokens = registry.selected("advantage", hp).level == "token" or hp["kl_coef"] != 0.0
    if mask is None:
        if needs_tokens:
            raise ValueError(f"mask: required ([N, T]) by advantage estimator '{hp['advantage_estimator']}'"
                             " or by the KL penalty in the reward")
    else:
        _checks.require_tensor("mask", mask, dims=(2,))
        if mask.shape[0] != n:
            raise ValueError(f"mask: expected {n} rows (one per reward), got shape {tuple(mask.shape)}")
        mask = _checks.mask_tensor(mask, tuple(mask.shape))
    if values is not None:
        _checks.token_tensor("values", values, tuple(mask.shape) if mask is not None else (n, -1), like="mask")
        values = values.detach()
    kl = None
    if hp["kl_coef"] != 0.0:
        if logprobs is None or ref_logprobs is None:
            raise ValueError(f"logprobs, ref_logprobs: both required because kl_coef = {hp['kl_coef']} "
                             "puts a KL penalty in the reward")
        _checks.token_tensor("logprobs", logprobs, tuple(mask.shape), like="mask")
        _checks.token_tensor("ref_logprobs", ref_logprobs, tuple(mask.shape), like="mask")
        kl = registry.selected("kl", hp).load()(logprobs.detach(), ref_logprobs.detach())
    return rewards, Groups(group_ids), mask, values, kl

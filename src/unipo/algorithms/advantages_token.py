"""Advantage estimators that give one advantage per token ([N, T]) from token-level rewards.

Token rewards: the response's reward R_i on its last real token, plus −kl_coef·KL_t on every token
when the KL penalty is placed in the reward (PPO / REINFORCE++ style).
"""
from __future__ import annotations

import torch

from unipo.algorithms.groups import Groups, whiten


def last_token_one_hot(mask: torch.Tensor) -> torch.Tensor:
    """1 at each row's last real token (rows without tokens get none)."""
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    last = torch.where(mask, positions, -1).max(dim=1).values
    one_hot = torch.zeros(mask.shape, dtype=torch.bool, device=mask.device)
    has_tokens = last >= 0
    one_hot[has_tokens.nonzero().squeeze(1), last[has_tokens]] = True
    return one_hot


def token_rewards(rewards, mask, kl_reward):
    placed = last_token_one_hot(mask).to(rewards.dtype) * rewards.unsqueeze(1)
    return placed if kl_reward is None else placed + kl_reward * mask


def discounted_returns(token_reward, mask, gamma: float) -> torch.Tensor:
    """G_t = Σ_{k≥t} γ^{k−t} r_k over the real tokens of each row."""
    token_reward = token_reward * mask
    if gamma == 1.0:
        return token_reward.flip(1).cumsum(1).flip(1) * mask
    returns = torch.zeros_like(token_reward)
    running = torch.zeros_like(token_reward[:, 0])
    for t in range(token_reward.shape[1] - 1, -1, -1):
        running = token_reward[:, t] + gamma * running
        returns[:, t] = running
    return returns * mask


def reinforce_pp(rewards, groups: Groups, hp, *, mask, values, kl_reward):
    """REINFORCE++: discounted token return (reward + per-token KL reward), whitened over the
    batch's tokens when normalize_advantages (the default of the preset)."""
    token_reward = token_rewards(rewards, mask, kl_reward)
    returns = discounted_returns(token_reward, mask, hp["gamma"])
    advantages = whiten(returns, hp["advantage_epsilon"], mask) if hp["normalize_advantages"] else returns
    return advantages, returns, {"token_reward": token_reward}, {}


def reinforce_pp_baseline(rewards, groups: Groups, hp, *, mask, values, kl_reward):
    """REINFORCE++-baseline: (R'_i − mean_g R') broadcast to the tokens, R' = R + Σ_t KL reward,
    then whitened over the batch's tokens when normalize_advantages."""
    groups.require_at_least_two("reinforce_pp_baseline")
    shaped = rewards if kl_reward is None else rewards + (kl_reward * mask).sum(-1)
    mean = groups.mean(shaped)
    centred = (shaped - mean).unsqueeze(1) * mask
    advantages = whiten(centred, hp["advantage_epsilon"], mask) if hp["normalize_advantages"] else centred
    return advantages, None, {"group_mean": mean, "shaped_reward": shaped}, {}


def gae(rewards, groups: Groups, hp, *, mask, values, kl_reward):
    """GAE(γ, λ): δ_t = r_t + γV_{t+1} − V_t, Â_t = Σ_l (γλ)^l δ_{t+l}; returns = Â + V.
    The value after the last real token is 0. Advantages whitened when normalize_advantages."""
    if values is None:
        raise ValueError("values: advantage estimator 'gae' needs the critic's values [N, T]")
    gamma, lam = hp["gamma"], hp["lam"]
    maskf = mask.to(values.dtype)
    token_reward = token_rewards(rewards, mask, kl_reward)
    values = values * maskf
    next_values = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], dim=1)
    deltas = (token_reward + gamma * next_values - values) * maskf
    advantages = torch.zeros_like(deltas)
    running = torch.zeros_like(deltas[:, 0])
    for t in range(deltas.shape[1] - 1, -1, -1):
        # Padding keeps the running sum unchanged, so left- or mid-padding is handled too.
        running = deltas[:, t] + gamma * lam * running * maskf[:, t] + running * (1 - maskf[:, t])
        advantages[:, t] = running
    advantages = advantages * maskf
    returns = advantages + values
    if hp["normalize_advantages"]:
        advantages = whiten(advantages, hp["advantage_epsilon"], mask)
    return advantages, returns, {"token_reward": token_reward, "td_error": deltas}, {}


TOKEN_ESTIMATORS = {"reinforce_pp": reinforce_pp, "reinforce_pp_baseline": reinforce_pp_baseline, "gae": gae}

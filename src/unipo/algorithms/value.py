"""Critic loss for specs that use values (PPO): clipped squared error, token-mean over real tokens."""
from __future__ import annotations

import torch

from unipo.algorithms import _checks


def clipped_value_loss(values, old_values, returns, mask, *, cliprange_value: float, vf_coef: float):
    """vf_coef · mean_t ½·max((V − R)², (V_clip − R)²), V_clip = V_old + clip(V − V_old, ±c).

    Returns (loss, terms); the loss already carries vf_coef, so the engine adds it to the policy loss.
    """
    _checks.require_tensor("values", values, dims=(2,))
    shape = tuple(values.shape)
    _checks.require_finite("values", values)
    _checks.token_tensor("old_values", old_values, shape, like="values")
    _checks.token_tensor("returns", returns, shape, like="values")
    mask = _checks.mask_tensor(mask, shape, like="values")
    maskf = mask.to(values.dtype)
    returns = returns.detach()
    clipped = old_values + torch.clamp(values - old_values, -cliprange_value, cliprange_value)
    unclipped_error = (values - returns) ** 2
    clipped_error = (clipped - returns) ** 2
    per_token = 0.5 * torch.maximum(unclipped_error, clipped_error)
    loss = vf_coef * (per_token * maskf).sum() / maskf.sum().clamp(min=1.0)
    with torch.no_grad():
        terms = {
            "value_loss": per_token.detach() * maskf,
            "value_clipped": (clipped_error > unclipped_error).to(values.dtype) * maskf,
        }
    return loss, terms

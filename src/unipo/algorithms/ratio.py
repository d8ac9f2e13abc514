"""Importance ratios between the current policy and the behaviour ("old") policy.

Each function returns (log_ratio, ratio) with the gradient flowing through the current log-probs.
Shapes: token level [N, T]; sequence level [N, 1] (broadcasts over tokens, as in TRL).
"""
from __future__ import annotations

import torch


def token_ratio(logprobs, old_logprobs, mask):
    """r_it = exp(ℓ_it − ℓ_old,it) (TRL importance_sampling_level="token", verl "vanilla")."""
    log_ratio = logprobs - old_logprobs
    return log_ratio, torch.exp(log_ratio)


def sequence_ratio(logprobs, old_logprobs, mask):
    """s_i = exp(mean_t (ℓ − ℓ_old)): GSPO's length-normalised geometric mean (TRL "sequence").

    An all-padding row divides by 1 (TRL's clamp), giving s_i = 1.
    """
    maskf = mask.to(logprobs.dtype)
    lengths = maskf.sum(-1, keepdim=True).clamp(min=1.0)
    log_ratio = ((logprobs - old_logprobs) * maskf).sum(-1, keepdim=True) / lengths
    return log_ratio, torch.exp(log_ratio)


def no_ratio(logprobs, old_logprobs, mask):
    """Plain policy gradient: r = exp(ℓ − sg(ℓ)), whose value is exactly 1 and whose gradient is ∇ℓ.

    So r·A has value A (what the token is pushed by) and gradient A∇ℓ (REINFORCE), and every
    clipping rule written in terms of r stays well defined (and never fires).
    """
    log_ratio = logprobs - logprobs.detach()
    return log_ratio, torch.exp(log_ratio)


RATIOS = {"token": token_ratio, "sequence": sequence_ratio, "none": no_ratio}

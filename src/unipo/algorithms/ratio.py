"""Importance ratios between the current policy and the behaviour ("old") policy.

Each function returns (log_ratio, ratio) with the gradient flowing through the current log-probs.
Shapes: token level [N, T]; sequence level [N, 1] (broadcasts over tokens, as in TRL).
`mask` may be bool or 0/1 floats; `lengths` (the mask's row sums, [N, 1]) may be passed when the
caller already has them.
"""
from __future__ import annotations

import torch


def token_ratio(logprobs, old_logprobs, mask, *, lengths=None):
    """r_it = exp(ℓ_it − ℓ_old,it) (TRL importance_sampling_level="token", verl "vanilla")."""
    log_ratio = logprobs - old_logprobs
    return log_ratio, torch.exp(log_ratio)


def sequence_ratio(logprobs, old_logprobs, mask, *, lengths=None):
    """s_i = exp(mean_t (ℓ − ℓ_old)): GSPO's length-normalised geometric mean (TRL "sequence").

    An all-padding row divides by 1 (TRL's clamp), giving s_i = 1.
    """
    maskf = mask if mask.is_floating_point() else mask.to(logprobs.dtype)
    if lengths is None:
        lengths = maskf.sum(-1, keepdim=True)
    log_ratio = ((logprobs - old_logprobs) * maskf).sum(-1, keepdim=True) / lengths.clamp(min=1.0)
    return log_ratio, torch.exp(log_ratio)


def no_ratio(logprobs, old_logprobs, mask, *, lengths=None):
    """Plain policy gradient: r = exp(ℓ − sg(ℓ)), whose value is exactly 1 and whose gradient is ∇ℓ.

    So r·A has value A (what the token is pushed by) and gradient A∇ℓ (REINFORCE), and every
    clipping rule written in terms of r stays well defined (and never fires). Computed as
    1 + (ℓ − sg(ℓ)): the same value (exactly 1) and the same gradient (exactly ∇ℓ: exp′(0) = 1)
    without an exponential pass.
    """
    log_ratio = logprobs - logprobs.detach()
    return log_ratio, log_ratio + 1.0


RATIOS = {"token": token_ratio, "sequence": sequence_ratio, "none": no_ratio}

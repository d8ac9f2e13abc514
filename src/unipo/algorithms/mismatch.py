"""Training–inference mismatch correction (TRL vllm_importance_sampling_correction; verl TIS / MIS family).

The inference engine that samples (vLLM, SGLang, ...) scores tokens slightly differently from the
training engine, so the rollout is off-policy even on the first update. The weight

    ρ = exp(ℓ_old − ℓ_samp)                       token modes: per token, [N, T]
    ρ_i = exp(Σ_t m_it (ℓ_old,it − ℓ_samp,it))     sequence modes: per response, [N, 1] (a SUM, not a mean)

then truncated (ρ ← clamp(ρ, C_min, C_max)) or masked (ρ ← 0 outside [C_min, C_max]) is a constant that
multiplies the token's surrogate, exactly as TRL 1.16 computes `importance_sampling_ratio` in
_generate_and_score_completions and applies it in _compute_loss (after the entropy mask, before the KL
term is added: neither the KL penalty nor the entropy bonus is reweighted). Tokens whose sampling
log-prob is NaN (the engine could not score them) get a zero log-difference, i.e. ρ = 1.
"""
from __future__ import annotations

import math

import torch

from unipo.algorithms.components.trl_losses import check_is_settings

@torch.no_grad()
def importance_weight(old_logprobs, sampling_logprobs, maskf, mode, clip_min, clip_max):
    """TRL's importance_sampling_ratio: [N, T] (token modes) or [N, 1] (sequence modes)."""
    difference = torch.nan_to_num((old_logprobs - sampling_logprobs) * maskf, nan=0.0)
    if mode.startswith("sequence"):
        difference = difference.sum(dim=-1, keepdim=True)
    ratio = torch.exp(difference)
    if mode.endswith("truncate"):
        return torch.clamp(ratio, min=clip_min, max=clip_max)
    low = clip_min if clip_min is not None else -math.inf
    high = clip_max if clip_max is not None else math.inf
    return ratio.masked_fill((ratio < low) | (ratio > high), 0.0)


@torch.no_grad()
def sampling_metrics(old_logprobs, sampling_logprobs, maskf, ratio, mode) -> dict:
    """TRL's sampling/sampling_logp_difference/{mean,max} and sampling/importance_sampling_ratio/{min,mean,max}."""
    delta = torch.abs(old_logprobs - sampling_logprobs)
    real = maskf.bool()
    delta = delta[real & ~torch.isnan(delta)]
    ratios = ratio.flatten() if mode.startswith("sequence") else ratio[real]
    zero = maskf.new_zeros(())

    def stat(x, fn):
        return fn(x) if x.numel() > 0 else zero

    return {"sampling_logp_difference_mean": stat(delta, torch.mean),
            "sampling_logp_difference_max": stat(delta, torch.max),
            "importance_sampling_ratio_min": stat(ratios, torch.min),
            "importance_sampling_ratio_mean": stat(ratios, torch.mean),
            "importance_sampling_ratio_max": stat(ratios, torch.max)}


def mismatch_weight(logprobs, old_logprobs, sampling_logprobs, mask, lengths, hp):
    """token_weight hook: (ρ detached, [N, T] or [N, 1]; TRL's sampling metrics)."""
    check_is_settings(hp)
    if sampling_logprobs is None:
        raise ValueError(f"sampling_logprobs: required ([N, T], the inference engine's log-probs) by "
                         f"is_correction = {hp['is_correction']!r}")
    if tuple(sampling_logprobs.shape) != tuple(mask.shape):
        raise ValueError(f"sampling_logprobs: expected shape {tuple(mask.shape)}, got {tuple(sampling_logprobs.shape)}")
    mode = hp["vllm_importance_sampling_mode"]
    old = old_logprobs.detach()
    sampling = sampling_logprobs.detach().to(old.dtype)
    ratio = importance_weight(old, sampling, mask, mode, hp["vllm_importance_sampling_clip_min"],
                              hp["vllm_importance_sampling_clip_max"])
    return ratio, sampling_metrics(old, sampling, mask, ratio, mode)

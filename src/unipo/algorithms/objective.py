"""The step objective: compose ratio → clip → selection → KL → entropy → aggregation.

Returns the loss the optimizer backpropagates together with every per-token term that produced
it, so that loss == −Σ weight·token_objective holds by construction.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from unipo.algorithms import _checks
from unipo.algorithms.aggregation import AGGREGATIONS
from unipo.algorithms.clipping import CLIPS
from unipo.algorithms.kl import KL_ESTIMATORS
from unipo.algorithms.ratio import RATIOS
from unipo.algorithms.selection import drop_truncated, high_entropy_tokens


@dataclass
class ObjectiveOutput:
    loss: torch.Tensor
    terms: dict[str, torch.Tensor]
    metrics: dict[str, float]


def compute_objective(hp, logprobs, old_logprobs, mask, advantages, *, ref_logprobs=None, entropies=None,
                      truncated=None, num_items_in_batch=None) -> ObjectiveOutput:
    logprobs, old_logprobs, mask, advantages, ref_logprobs, entropies, truncated = _validated(
        hp, logprobs, old_logprobs, mask, advantages, ref_logprobs, entropies, truncated)
    if truncated is not None and hp["mask_truncated_completions"]:
        mask = drop_truncated(mask, truncated)
    maskf = mask.to(logprobs.dtype)
    adv = advantages.unsqueeze(1) if advantages.dim() == 1 else advantages

    log_ratio, ratio = RATIOS[hp["importance_sampling_level"]](logprobs, old_logprobs, mask)
    clip = CLIPS[hp["clip_mode"]](ratio, adv, logprobs, hp)
    # Token selection gates only the policy-gradient term, and denominators keep counting every real
    # token: exactly TRL's handling of top_entropy_quantile (its KL term still acts on all tokens).
    selected = high_entropy_tokens(entropies, mask, hp["top_entropy_quantile"]) if hp["top_entropy_quantile"] < 1.0 else mask
    gated_surrogate = clip.surrogate * selected if selected is not mask else clip.surrogate

    token_objective = gated_surrogate
    kl = kl_penalty = entropy_bonus = None
    if ref_logprobs is not None:
        kl = KL_ESTIMATORS[hp["kl_estimator"]](logprobs, ref_logprobs)
        if hp["beta"] != 0.0:
            kl_penalty = hp["beta"] * kl
            token_objective = token_objective - kl_penalty
    if hp["entropy_coef"] != 0.0:
        entropy_bonus = hp["entropy_coef"] * entropies * selected
        token_objective = token_objective + entropy_bonus
    token_objective = token_objective * maskf

    weight = AGGREGATIONS[hp["loss_aggregation"]](
        maskf, num_items_in_batch=num_items_in_batch, max_completion_length=hp["max_completion_length"])
    loss = -(weight * token_objective).sum()

    with torch.no_grad():
        terms = _terms(logprobs, maskf, mask, selected, log_ratio, ratio, adv, clip, gated_surrogate, kl,
                       kl_penalty, entropies, entropy_bonus, weight, token_objective)
        metrics = _metrics(mask, maskf, selected, terms, clip, kl, entropies, adv)
    return ObjectiveOutput(loss, terms, metrics)


def _validated(hp, logprobs, old_logprobs, mask, advantages, ref_logprobs, entropies, truncated):
    _checks.require_tensor("logprobs", logprobs, dims=(2,))
    if not logprobs.is_floating_point():
        raise ValueError(f"logprobs: expected a floating-point tensor, got {logprobs.dtype}")
    _checks.require_finite("logprobs", logprobs)
    shape = tuple(logprobs.shape)
    mask = _checks.mask_tensor(mask, shape)
    old_logprobs = logprobs.detach() if old_logprobs is None else _checks.token_tensor("old_logprobs", old_logprobs, shape)
    _checks.require_tensor("advantages", advantages, dims=(1, 2))
    if advantages.dim() == 1:
        _checks.response_tensor("advantages", advantages, shape[0])
    else:
        _checks.token_tensor("advantages", advantages, shape)
    if ref_logprobs is not None:
        _checks.token_tensor("ref_logprobs", ref_logprobs, shape)
    elif hp["beta"] != 0.0:
        raise ValueError(f"ref_logprobs: required because beta = {hp['beta']} puts a KL term in the loss")
    if entropies is not None:
        _checks.token_tensor("entropies", entropies, shape)
    elif hp["top_entropy_quantile"] < 1.0 or hp["entropy_coef"] != 0.0:
        raise ValueError("entropies: required by top_entropy_quantile < 1 or entropy_coef > 0")
    if truncated is not None:
        _checks.require_tensor("truncated", truncated, dims=(1,))
        if truncated.shape[0] != shape[0]:
            raise ValueError(f"truncated: expected {shape[0]} values (one per response), got {truncated.shape[0]}")
    elif hp["mask_truncated_completions"]:
        raise ValueError("truncated: required ([N] bool, response hit the length limit) by mask_truncated_completions")
    return logprobs, old_logprobs, mask, advantages.detach(), ref_logprobs, entropies, truncated


def _full(x, like):
    return x.expand_as(like) if x.shape != like.shape else x


def _flag(x, mask, zeros):
    return zeros if x is None else (_full(x, mask) & mask).to(zeros.dtype)


def _terms(logprobs, maskf, mask, selected, log_ratio, ratio, adv, clip, surrogate, kl, kl_penalty, entropies,
           entropy_bonus, weight, token_objective):
    # weight and token_objective are already zero on padding; one shared zero tensor serves absent terms.
    zeros = torch.zeros_like(maskf)
    clipped_low, clipped_high = _flag(clip.clipped_low, mask, zeros), _flag(clip.clipped_high, mask, zeros)
    return {
        "log_ratio": _full(log_ratio.detach(), maskf) * maskf,
        "ratio": _full(ratio.detach(), maskf) * maskf,
        "advantage": _full(adv, maskf) * maskf,
        "clipped_low": clipped_low,
        "clipped_high": clipped_high,
        "clipped": clipped_low if clip.clipped_high is None else (
            clipped_high if clip.clipped_low is None else torch.maximum(clipped_low, clipped_high)),
        "min_branch": clipped_high if clip.min_branch is clip.clipped_high else _flag(clip.min_branch, mask, zeros),
        "surrogate": _full(surrogate.detach(), maskf) * maskf,
        "kl": zeros if kl is None else kl.detach() * maskf,
        "kl_penalty": zeros if kl_penalty is None else kl_penalty.detach() * maskf,
        "entropy": zeros if entropies is None else entropies.detach() * maskf,
        "entropy_bonus": zeros if entropy_bonus is None else entropy_bonus.detach() * maskf,
        "selected": maskf if selected is mask else selected.to(maskf.dtype),
        "weight": weight.detach(),
        "token_objective": token_objective.detach(),
    }


def _metrics(mask, maskf, selected, terms, clip, kl, entropies, adv):
    """Token means over real tokens (TRL's global_masked_mean), computed in one device→host copy."""
    count = maskf.sum().clamp(min=1.0)
    names, sums = [], []
    for name, flags in clip.fractions.items():
        names.append(name)
        sums.append((_full(flags, mask) & mask).sum() / count)
    ratio = terms["ratio"]
    real = mask.any()
    big = torch.finfo(maskf.dtype).max
    if adv.shape[1] == 1:  # per-response advantages: token statistics from lengths, no [N, T] pass
        lengths = maskf.sum(-1, keepdim=True)
        adv_mean = (adv * lengths).sum() / count
        adv_var = (((adv - adv_mean) ** 2) * lengths).sum() / count
    else:
        adv_mean = terms["advantage"].sum() / count
        adv_var = (((terms["advantage"] - adv_mean) ** 2) * maskf).sum() / count
    names += ["ratio_mean", "ratio_min", "ratio_max", "selected_fraction", "advantage_mean", "advantage_std",
              "token_objective_mean"]
    sums += [
        ratio.sum() / count,
        torch.where(mask, ratio, big).min() if real else maskf.new_tensor(float("nan")),
        torch.where(mask, ratio, -big).max() if real else maskf.new_tensor(float("nan")),
        terms["selected"].sum() / count,
        adv_mean,
        torch.sqrt(adv_var),
        terms["token_objective"].sum() / count,
    ]
    if kl is not None:
        names.append("kl_mean")
        sums.append(terms["kl"].sum() / count)
    if entropies is not None:
        names.append("entropy_mean")
        sums.append(terms["entropy"].sum() / count)
    values = torch.stack([s.to(torch.float64) for s in sums]).tolist()
    return dict(zip(names, values))

"""BAPO (arXiv 2510.18927): PPO clip whose bounds are searched per batch so that positive-advantage
tokens make up a target share ρ0 of the contributions. Reference code: github WooooDyy/BAPO,
recipe/bapo/policy_loss.py (compute_policy_loss_bapo). Descriptor: components/bapo.py.

The search needs to know which positions are real tokens. The objective does not pass the mask to a
surrogate, so padding is recognised as the engine writes it: log-prob exactly 0 and ratio exactly 1
(score_completions zeroes the log-probs there). A caller that has the mask passes `mask=`.
"""
from __future__ import annotations

import math

import torch

from unipo.algorithms.clipping import ClipResult, _both, _greater, _less

EPS = 1e-8  # the reference code's eps in pos / (neg + eps)


def target_ratio(hp) -> float:
    """ρ0 as the code's pos/neg target: share ρ0 ⟺ pos/neg ≥ ρ0/(1 − ρ0) (ρ0 = 0.5 → 1)."""
    rho = hp["bapo_positive_share"]
    return rho / (1.0 - rho)


def contributions(r, a, w, low, high, mode):
    """(positive, negative) contribution sums of the tokens (w: 1 real, 0 not)."""
    if mode == "clamped":  # the verl recipe: clamped ratio times Â
        effective = torch.where(a >= 0, torch.clamp(r, max=high), torch.clamp(r, min=low)) * a * w
    else:  # "unclipped": r·Â over the tokens the clip leaves a gradient
        keep = torch.where(a >= 0, r <= high, r >= low)
        effective = torch.where(keep, r * a, torch.zeros_like(r)) * w
    return float(effective.clamp(min=0).sum()), float((-effective).clamp(min=0).sum())


def _pos_neg(pos, neg):
    return math.inf if neg <= 0 else pos / (neg + EPS)


def search_bounds(r, a, w, hp):
    """The reference loop: raise the lower bound by δ until pos/neg ≥ target or it hits its max, then
    the upper bound. Returns (c_low, c_high, positive share)."""
    r = torch.clamp(r, math.exp(-20.0), math.exp(20.0))  # the code's clamp of log r to ±20
    mode, step, target = hp["bapo_contribution"], hp["bapo_step"], target_ratio(hp)
    low, high = hp["bapo_lower_start"], hp["bapo_upper_start"]
    low_max, high_max = max(hp["bapo_lower_max"], low), max(hp["bapo_upper_max"], high)
    pos, neg = contributions(r, a, w, low, high, mode)
    while _pos_neg(pos, neg) < target and low < low_max and step > 0:
        low = min(low + step, low_max)
        pos, neg = contributions(r, a, w, low, high, mode)
    while _pos_neg(pos, neg) < target and high < high_max and step > 0:
        high = min(high + step, high_max)
        pos, neg = contributions(r, a, w, low, high, mode)
    share = pos / (pos + neg) if pos + neg > 0 else 1.0
    return low, high, share


def _bounds(ratio, advantages, real, hp):
    with torch.no_grad():
        r, a = ratio.detach(), advantages.detach()
        shape = torch.broadcast_shapes(r.shape, a.shape)
        w = real.to(r.dtype).expand(shape) if real is not None else torch.ones(shape, dtype=r.dtype, device=r.device)
        return search_bounds(r.expand(shape), a.expand(shape), w, hp)


def bapo_surrogate(ratio, advantages, logprobs, hp, mask=None):
    """u = min(min(r, δ)·Â, clip(r, c_low, c_high)·Â) with the batch's searched bounds."""
    if mask is not None:
        real = mask > 0
    elif logprobs is not None and ratio.shape == logprobs.shape:
        real = ~((logprobs.detach() == 0) & (ratio.detach() == 1))
    else:
        real = None
    low, high, share = _bounds(ratio, advantages, real, hp)
    clipped = torch.clamp(ratio, low, high)
    capped = ratio if hp["delta"] is None else torch.clamp(ratio, max=hp["delta"])
    return torch.min(capped * advantages, clipped * advantages), {"bounds": (low, high, share)}


def bapo_flags(below, above, advantages, hp, dtype, shared=None):
    """PPO flags with the searched bounds; the bounds and the positive share become metrics (a value
    on every real token, so that their token mean is the value itself)."""
    real = below == above  # the objective pads `below` with +max and `above` with 0
    ratio = torch.where(real, above, torch.ones_like(above))
    # Padding recognised as in the surrogate is the positions the objective pads; real tokens with
    # ℓ = 0 and r = 1 exactly count here (see the module note).
    # The surrogate's own search (shared) when the objective hands it over; else search the same way.
    low, high, share = shared["bounds"] if shared is not None else _bounds(ratio, advantages, real, hp)
    negative, positive = _less(advantages, 0.0, dtype), _greater(advantages, 0.0, dtype)
    clipped_low = _both(_less(below, low, dtype), negative)
    clipped_high = _both(_greater(above, high, dtype), positive)
    region = clipped_low + clipped_high
    either = region
    shape = torch.broadcast_shapes(above.shape, advantages.shape)
    real_f = real.to(dtype).expand(shape)
    fractions = {"clip_fraction_low": clipped_low, "clip_fraction_high": clipped_high,
                 "clip_fraction_region": region, "bapo_clip_low": real_f * low, "bapo_clip_high": real_f * high,
                 "bapo_positive_share": real_f * share}
    if hp["delta"] is not None:
        dual = _both(_greater(above, hp["delta"], dtype), negative)
        fractions["dual_clip_fraction"] = dual
        clipped_high = clipped_high + dual
        either = region + dual
    return ClipResult(None, clipped_low, clipped_high, either, fractions, either)


BAPO = (bapo_surrogate, bapo_flags)

"""BAPO (arXiv 2510.18927): PPO clip whose bounds are searched per batch so that positive-advantage
tokens make up a target share ρ0 of the contributions. Reference code: github WooooDyy/BAPO,
recipe/bapo/policy_loss.py (compute_policy_loss_bapo). Descriptor: components/bapo.py.

The search needs to know which positions are real tokens: the objective passes `mask=` (the
descriptor lists "mask" among its inputs). A caller without one (clipping.CLIPS) gets padding
recognised as the engine writes it: log-prob exactly 0 and ratio exactly 1.
"""
from __future__ import annotations

import torch

from unipo.algorithms.clipping import ClipResult, _both, _greater, _less

def _bounds(ratio, advantages, real, hp):
    """The batch's bounds: the bound search is a scalar loop over sums of detached values, so it runs
    once, in numpy, shared with the card's relation (components/bapo.py: bapo_search)."""
    from unipo.algorithms.components.bapo import bapo_search
    with torch.no_grad():
        r, a = ratio.detach(), advantages.detach()
        shape = torch.broadcast_shapes(r.shape, a.shape)
        w = real.expand(shape) if real is not None else torch.ones(shape, dtype=torch.bool, device=r.device)
        as_numpy = (lambda x: x.expand(shape).to(torch.float64).cpu().numpy())
        return bapo_search(as_numpy(r), as_numpy(a), as_numpy(w), hp)


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

"""Which completion tokens take part in the policy-gradient term.

Masks may be bool or 0/1 floats; each function returns the same kind it was given.
"""
from __future__ import annotations

import torch


def drop_truncated(mask: torch.Tensor, truncated: torch.Tensor) -> torch.Tensor:
    """DAPO overlong filtering (TRL mask_truncated_completions): a response cut off at the length
    limit contributes no token at all, and leaves every denominator."""
    keep = ~truncated.bool().unsqueeze(1)
    if mask.is_floating_point():
        return mask * keep.to(mask.dtype)
    return mask & keep


def high_entropy_tokens(entropies: torch.Tensor, mask: torch.Tensor, top_quantile: float, *,
                        masked_entropies: torch.Tensor | None = None) -> torch.Tensor:
    """Tokens whose entropy is in the top `top_quantile` of this batch's real tokens ("80/20 rule").

    Same rule as TRL's get_high_entropy_mask: threshold = quantile(H[mask], 1 − ρ), keep H ≥ threshold.
    Ties at the threshold are all kept, so slightly more than ρ of the tokens may be selected.
    `masked_entropies` (H·mask, zero on padding) may be passed when the caller already has it.
    """
    if top_quantile >= 1.0:
        return mask
    weights = mask if mask.is_floating_point() else mask.view(torch.uint8).to(torch.float32)
    entropies = entropies.detach()
    count = int(weights.sum().item())
    if count == 0:
        return torch.zeros_like(mask)
    threshold = _real_quantile(entropies, weights, count, 1.0 - top_quantile)
    if entropies.dtype not in (torch.float32, torch.float64):
        threshold = threshold.to(entropies.dtype)  # H·mask ≥ threshold compares in H's own precision
    if masked_entropies is None:
        masked_entropies = entropies * weights
    selected = torch.ge(masked_entropies, threshold,
                        out=torch.empty(masked_entropies.shape, dtype=weights.dtype, device=weights.device))
    selected.mul_(weights)
    return selected if mask.is_floating_point() else selected.bool()


def _real_quantile(values: torch.Tensor, weights: torch.Tensor, count: int, q: float) -> torch.Tensor:
    """torch.quantile(values[weights > 0].float(), q) (linear interpolation), bit for bit, without the
    boolean gather and the full sort: two order statistics found by selection, then the same float32
    rank arithmetic and lerp that torch.quantile applies to its sorted copy."""
    x = values.float().reshape(-1)
    w = weights.to(torch.float32).reshape(-1)
    big = torch.finfo(torch.float32).max
    # Padding moves to ≤ −max, below every real value, so the j-th smallest real value is the
    # (padding + j)-th smallest overall (ties do not matter: they carry the same value).
    x = x - torch.rsub(w, big, alpha=big)  # real: x − 0; padding: x − max
    offset = x.numel() - count
    rank = torch.tensor(q, dtype=torch.float32, device=x.device) * (count - 1)
    below = int(rank.item())  # truncation toward zero, as quantile's cast to long (rank ≥ 0)
    weight = rank - below
    low = torch.kthvalue(x, offset + below + 1).values
    above = below if float(weight) == 0.0 else below + 1  # ceil(rank)
    if above == below:
        high = low
    elif int(torch.le(x, low, out=torch.empty_like(x)).sum().item()) >= offset + above + 1:
        high = low  # the next order statistic is a tie of this one
    else:
        high = torch.where(x > low, x, torch.inf).min()
    return torch.lerp(low, high, weight)

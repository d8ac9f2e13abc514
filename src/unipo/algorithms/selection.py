"""Which completion tokens take part in the policy-gradient term."""
from __future__ import annotations

import torch


def drop_truncated(mask: torch.Tensor, truncated: torch.Tensor) -> torch.Tensor:
    """DAPO overlong filtering (TRL mask_truncated_completions): a response cut off at the length
    limit contributes no token at all, and leaves every denominator."""
    return mask & ~truncated.bool().unsqueeze(1)


def high_entropy_tokens(entropies: torch.Tensor, mask: torch.Tensor, top_quantile: float) -> torch.Tensor:
    """Tokens whose entropy is in the top `top_quantile` of this batch's real tokens ("80/20 rule").

    Same rule as TRL's get_high_entropy_mask: threshold = quantile(H[mask], 1 − ρ), keep H ≥ threshold.
    Ties at the threshold are all kept, so slightly more than ρ of the tokens may be selected.
    """
    if top_quantile >= 1.0:
        return mask
    real = entropies.detach()[mask]
    if real.numel() == 0:
        return torch.zeros_like(mask)
    threshold = torch.quantile(real.float(), 1.0 - top_quantile)
    return (entropies.detach() * mask >= threshold) & mask

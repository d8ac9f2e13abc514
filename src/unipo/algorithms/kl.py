"""Per-token estimators of KL(π_θ ‖ π_ref) from log-probs of the sampled token.

With δ = ℓ − ℓ_ref (ℓ = log π_θ of the sampled token):
  k1 = δ                   unbiased, high variance, can be negative
  k2 = δ² / 2              biased, always ≥ 0
  k3 = e^{−δ} + δ − 1      unbiased value, always ≥ 0 (Schulman); TRL's GRPO writes it as
                           exp(ref − ℓ) − (ref − ℓ) − 1, which is the same expression.
Unlike verl we never clamp k3 (TRL does not either), so values match TRL exactly.
"""
from __future__ import annotations

import torch


def kl_k1(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    return logprobs - ref_logprobs


def kl_k2(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    return 0.5 * (logprobs - ref_logprobs) ** 2


def kl_k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    ref_minus_current = ref_logprobs - logprobs
    return torch.exp(ref_minus_current) - ref_minus_current - 1


KL_ESTIMATORS = {"k1": kl_k1, "k2": kl_k2, "k3": kl_k3}

"""Trust-region rules: how the ratio r and the advantage A make the per-token surrogate u.

Each rule returns a ClipResult. Flags are bool tensors broadcastable to [N, T]:
  clipped_low / clipped_high  the rule cut (or, for CISPO, truncated) the ratio's influence below / above
  min_branch                  the capped branch of min() is the one in force
and `fractions` holds the bool tensors whose masked means are logged as metrics, with TRL's
definitions (clip_ratio/low_mean etc.) where TRL logs one.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class ClipResult:
    surrogate: torch.Tensor
    clipped_low: torch.Tensor | None = None
    clipped_high: torch.Tensor | None = None
    min_branch: torch.Tensor | None = None
    fractions: dict[str, torch.Tensor] = field(default_factory=dict)


def ppo_clip(ratio, advantages, logprobs, hp) -> ClipResult:
    """u = min(r·A, clip(r, 1−ε_low, 1+ε_high)·A), optionally with the dual clip.

    Dual clip (TRL `delta`, verl `clip_ratio_c`): the unclipped branch uses min(r, δ), which for
    A < 0 caps the loss at −δ·A when r > δ; for A > 0 it changes nothing since δ > 1 + ε_high.
    """
    eps_low, eps_high, delta = hp["epsilon"], hp["epsilon_high"], hp["delta"]
    clipped_ratio = torch.clamp(ratio, 1 - eps_low, 1 + eps_high)
    capped_ratio = ratio if delta is None else torch.clamp(ratio, max=delta)
    surrogate = torch.min(capped_ratio * advantages, clipped_ratio * advantages)
    with torch.no_grad():
        negative, positive = advantages < 0, advantages > 0
        low = (ratio < 1 - eps_low) & negative
        high = (ratio > 1 + eps_high) & positive
        fractions = {"clip_fraction_low": low, "clip_fraction_high": high, "clip_fraction_region": low | high}
        if delta is not None:
            dual = (ratio > delta) & negative
            fractions["dual_clip_fraction"] = dual
            high = high | dual
    return ClipResult(surrogate, low, high, low | high, fractions)


def cispo_truncation(ratio, advantages, logprobs, hp) -> ClipResult:
    """u = sg(min(r, ε_max))·A·ℓ (TRL loss_type="cispo", ε_max = epsilon_high).

    The ratio becomes a constant weight on the REINFORCE term A·ℓ: no token's gradient is ever cut,
    large ratios are only truncated. The value carries ℓ because TRL's loss does.
    """
    cap = hp["epsilon_high"]
    weight = torch.clamp(ratio, max=cap).detach()
    surrogate = weight * advantages * logprobs
    with torch.no_grad():
        truncated = ratio > cap
        fractions = {"clip_fraction_high": truncated & (advantages > 0)}  # TRL cispo_clip_ratio
    return ClipResult(surrogate, None, truncated, truncated, fractions)


def sapo_soft_gate(ratio, advantages, logprobs, hp) -> ClipResult:
    """u = σ(τ(r−1))·(4/τ)·A, τ = τ_pos if A > 0 else τ_neg (TRL loss_type="sapo").

    A smooth trust region: the gradient factor σ'(τ(r−1))·4 is 1 at r = 1 and decays as r leaves 1.
    """
    temperature = torch.where(advantages > 0, hp["sapo_temperature_pos"], hp["sapo_temperature_neg"])
    surrogate = torch.sigmoid(temperature * (ratio - 1)) * 4 / temperature * advantages
    return ClipResult(surrogate)


def no_clip(ratio, advantages, logprobs, hp) -> ClipResult:
    """u = r·A: unconstrained importance-weighted policy gradient."""
    return ClipResult(ratio * advantages)


CLIPS = {"ppo": ppo_clip, "cispo": cispo_truncation, "sapo": sapo_soft_gate, "none": no_clip}

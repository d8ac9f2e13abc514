"""Trust-region rules: how the ratio r and the advantage A make the per-token surrogate u.

Each rule is a surrogate (differentiable) plus a flag function. Flags are 0/1 float tensors,
broadcastable to [N, T]:
  clipped_low / clipped_high  the rule cut (or, for CISPO, truncated) the ratio's influence below / above
  min_branch                  the capped branch of min() is the one in force
  clipped                     either of the two
and `fractions` holds the flag tensors whose masked means are logged as metrics, with TRL's
definitions (clip_ratio/low_mean etc.) where TRL logs one.

A surrogate may return (u, shared) when its flags need what it decided (a batch-level choice); the
flag function is then called with shared=. A flag function receives the (detached) ratio twice: `below` is compared with lower bounds and
`above` with upper ones. The objective passes the per-token ratio with its padding set to +max
and to 0 respectively, so that no comparison fires on padding and the flags come out already
masked (every bound is ≤ 1 below and ≥ 0 above); `CLIPS` passes the plain ratio for both.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class ClipResult:
    surrogate: torch.Tensor | None
    clipped_low: torch.Tensor | None = None
    clipped_high: torch.Tensor | None = None
    min_branch: torch.Tensor | None = None
    fractions: dict[str, torch.Tensor] = field(default_factory=dict)
    clipped: torch.Tensor | None = None
    terms: dict[str, torch.Tensor] = field(default_factory=dict)  # extra per-token terms the rule stores


def _less(x, bound, dtype):
    """(x < bound) as 0/1 of `dtype`, written straight into a float tensor (no bool pass)."""
    return torch.lt(x, bound, out=torch.empty(x.shape, dtype=dtype, device=x.device))


def _greater(x, bound, dtype):
    return torch.gt(x, bound, out=torch.empty(x.shape, dtype=dtype, device=x.device))


def _both(flags, condition):
    """flags ∧ condition for 0/1 floats; in place when the shapes allow it."""
    if flags.shape == torch.broadcast_shapes(flags.shape, condition.shape):
        return flags.mul_(condition)
    return flags * condition


def ppo_surrogate(ratio, advantages, logprobs, hp):
    """u = min(r·A, clip(r, 1−ε_low, 1+ε_high)·A), optionally with the dual clip.

    Dual clip (TRL `delta`, verl `clip_ratio_c`): the unclipped branch uses min(r, δ), which for
    A < 0 caps the loss at −δ·A when r > δ; for A > 0 it changes nothing since δ > 1 + ε_high.
    """
    clipped_ratio = torch.clamp(ratio, 1 - hp["epsilon"], 1 + hp["epsilon_high"])
    capped_ratio = ratio if hp["delta"] is None else torch.clamp(ratio, max=hp["delta"])
    return torch.min(capped_ratio * advantages, clipped_ratio * advantages)


def ppo_flags(below, above, advantages, hp, dtype):
    delta = hp["delta"]
    negative = _less(advantages, 0.0, dtype)
    positive = _greater(advantages, 0.0, dtype)
    low = _both(_less(below, 1 - hp["epsilon"], dtype), negative)
    high = _both(_greater(above, 1 + hp["epsilon_high"], dtype), positive)
    region = low + high  # disjoint (A < 0 vs A > 0): the sum is the union
    fractions = {"clip_fraction_low": low, "clip_fraction_high": high, "clip_fraction_region": region}
    either = region
    if delta is not None:
        dual = _both(_greater(above, delta, dtype), negative)  # disjoint from high (A < 0) and low (r > δ > 1)
        fractions["dual_clip_fraction"] = dual
        high = high + dual
        either = region + dual
    return ClipResult(None, low, high, either, fractions, either)


def cispo_surrogate(ratio, advantages, logprobs, hp):
    """u = sg(min(r, ε_max))·A·ℓ (TRL loss_type="cispo", ε_max = epsilon_high).

    The ratio becomes a constant weight on the REINFORCE term A·ℓ: no token's gradient is ever cut,
    large ratios are only truncated. The value carries ℓ because TRL's loss does.
    """
    weight = torch.clamp(ratio, max=hp["epsilon_high"]).detach()
    return weight * advantages * logprobs


def cispo_flags(below, above, advantages, hp, dtype):
    truncated = _greater(above, hp["epsilon_high"], dtype)
    fractions = {"clip_fraction_high": truncated * _greater(advantages, 0.0, dtype)}  # TRL cispo_clip_ratio
    return ClipResult(None, None, truncated, truncated, fractions, truncated)


def sapo_surrogate(ratio, advantages, logprobs, hp):
    """u = σ(τ(r−1))·(4/τ)·A, τ = τ_pos if A > 0 else τ_neg (TRL loss_type="sapo").

    A smooth trust region: the gradient factor σ'(τ(r−1))·4 is 1 at r = 1 and decays as r leaves 1.
    """
    temperature = torch.where(advantages > 0, hp["sapo_temperature_pos"], hp["sapo_temperature_neg"])
    return torch.sigmoid(temperature * (ratio - 1)) * 4 / temperature * advantages


def no_clip_surrogate(ratio, advantages, logprobs, hp):
    """u = r·A: unconstrained importance-weighted policy gradient."""
    return ratio * advantages


def no_flags(below, above, advantages, hp, dtype):
    return ClipResult(None)


# (surrogate, flags) pairs the registry's clip components point at (components/clip.py).
PPO = (ppo_surrogate, ppo_flags)
CISPO = (cispo_surrogate, cispo_flags)
SAPO = (sapo_surrogate, no_flags)
NO_CLIP = (no_clip_surrogate, no_flags)
RULES = {"ppo": PPO, "cispo": CISPO, "sapo": SAPO, "none": NO_CLIP}


def rule(name):
    """clip(ratio, advantages, logprobs, hp) -> ClipResult for a registered clip component."""
    from unipo.algorithms import registry
    surrogate, flags = registry.get("clip", name).load()

    def clip(ratio, advantages, logprobs, hp) -> ClipResult:
        result = surrogate(ratio, advantages, logprobs, hp)
        result, shared = result if isinstance(result, tuple) else (result, None)
        with torch.no_grad():
            r = ratio.detach()
            out = flags(r, r, advantages, hp, r.dtype, **({} if shared is None else {"shared": shared}))
        out.surrogate = result
        return out

    clip.__name__ = f"{name}_clip"
    clip.__doc__ = surrogate.__doc__
    return clip


CLIPS = {name: rule(name) for name in RULES}
"""name → clip(ratio, advantages, logprobs, hp) -> ClipResult (surrogate and unmasked flags)."""

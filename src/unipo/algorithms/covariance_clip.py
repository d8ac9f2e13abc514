"""Clip-Cov and KL-Cov (Cui et al., The Entropy Mechanism of RL for Reasoning LMs, arXiv:2505.22617),
written as verl 0.9.1's compute_policy_loss_clip_cov / compute_policy_loss_kl_cov compute them.

Both pick tokens by the centred product of advantage and log-prob over the update's real tokens,
    Cov_it = (Â_it − mean Â)·(ℓ_it − mean ℓ),
the per-token contribution to Cov(ℓ, Â) that drives the entropy collapse, and act on those tokens:
- Clip-Cov: among tokens with lb < Cov < ub that PPO's clip has not already cut, a random
  max(⌊ratio·ΣM⌋, 1) of them have their gradient detached (their surrogate is multiplied by 0);
  everything else is PPO's min(r·Â, clip(r)·Â) (no dual clip).
- KL-Cov: the top max(1, ⌊ratio·n⌋) tokens by Cov get the penalty −c·|log r|; nothing is clipped,
  every other token is the plain r·Â.

Randomness (Clip-Cov). verl draws torch.randperm(#candidates) from torch's global CPU generator.
UNIPO draws the same permutation from a private CPU generator seeded with `clip_cov_seed` on every
call, so the choice is a deterministic function of the batch (and can be replayed from stored
columns); `clip_cov_seed=None` uses the global generator exactly as verl does. Either way the
draw is the one torch.randperm call verl makes, so the two sides agree whenever they start from the
same generator state (the parity tests seed verl's global generator with the same seed).

The loss mask. These two rules need the loss mask (and KL-Cov the differentiable log-ratio): their
descriptors list "mask" (and "log_ratio") among their inputs, so the objective passes them as
keywords. Without a mask they raise, since a covariance over padding would pick wrong tokens.

Each surrogate returns (u, {"chosen": …}); the objective hands that to the flag function of the same
call (shared=). Both store the chosen tokens as the term `cov_selected` (Clip-Cov also counts them in
`clipped`, since their gradient is cut) and log `cov_selected_fraction`.
"""
from __future__ import annotations

import torch

from unipo.algorithms.clipping import ClipResult, ppo_flags



def _objective_inputs(shape, mask, log_ratio):
    """The loss mask (the objective passes it: the descriptor lists "mask" among its inputs)."""
    if mask is None:
        raise ValueError("clip_cov/kl_cov: the loss mask is needed to take the covariance over real tokens; "
                         "call the surrogate with mask=[N, T] (the objective passes it)")
    return mask, log_ratio


def _require_token_level(ratio, logprobs, name):
    if ratio.shape != logprobs.shape:
        raise ValueError(f"clip_mode={name!r} needs per-token ratios (importance_sampling_level='token'); "
                         f"got a ratio of shape {tuple(ratio.shape)} for log-probs {tuple(logprobs.shape)}")


def _masked_mean(values, valid, maskf):
    """verl_F.masked_mean: Σ(x·m) / (Σm + 1e-8) (values outside the mask count as 0)."""
    return torch.where(valid, values * maskf, torch.zeros_like(values)).sum() / (maskf.sum() + 1e-8)


def covariance(advantages, logprobs, maskf):
    """Cov_it = (Â − mean_M Â)(ℓ − mean_M ℓ), means over real tokens (verl's masked_mean); [N, T]."""
    valid = maskf > 0
    a = advantages.expand_as(logprobs)
    lp = logprobs.detach()
    return (a - _masked_mean(a, valid, maskf)) * (lp - _masked_mean(lp, valid, maskf))


def clip_cov_generator(hp):
    """The CPU generator the Clip-Cov draw uses: seeded with clip_cov_seed, or None (torch's global one)."""
    seed = hp["clip_cov_seed"]
    return None if seed is None else torch.Generator().manual_seed(int(seed))


def clip_cov_selection(ratio, advantages, logprobs, maskf, hp, generator=None):
    """0/1 [N, T]: the tokens Clip-Cov detaches (verl's corr == 0), drawn with `generator`."""
    with torch.no_grad():
        a = advantages.expand_as(logprobs)
        r = ratio.detach()
        valid = maskf > 0
        loss_unclipped = -a * r
        loss_clipped = -a * torch.clamp(r, 1 - hp["epsilon"], 1 + hp["epsilon_high"])
        clip_by_origin = (loss_clipped > loss_unclipped) & valid
        cov = covariance(a, logprobs, maskf)
        cov = cov.masked_fill(~valid, -torch.inf).masked_fill(clip_by_origin, -torch.inf)
        count = max(int(hp["clip_cov_ratio"] * maskf.sum().item()), 1)
        candidates = torch.nonzero((cov < hp["clip_cov_ub"]) & (cov > hp["clip_cov_lb"]) & valid)
        chosen = torch.zeros_like(maskf)
        if len(candidates) > 0:
            perm = torch.randperm(len(candidates), generator=generator).to(candidates.device)
            picked = candidates[perm[: min(count, len(candidates))]]
            chosen[picked[:, 0], picked[:, 1]] = 1.0
        return chosen


def kl_cov_selection(advantages, logprobs, maskf, hp):
    """0/1 [N, T]: the top max(1, ⌊kl_cov_ratio·n⌋) real tokens by Cov (plain means over them, as verl)."""
    with torch.no_grad():
        a = advantages.expand_as(logprobs)
        valid = maskf > 0
        flat_index = torch.nonzero(valid.reshape(-1), as_tuple=True)[0]
        chosen = torch.zeros_like(maskf)
        if len(flat_index) == 0:
            return chosen
        va, vl = a[valid].detach().reshape(-1), logprobs[valid].detach().reshape(-1)
        cov = (va - va.mean()) * (vl - vl.mean())
        k = max(1, int(len(cov) * hp["kl_cov_ratio"]))
        top = flat_index[torch.topk(cov, k, largest=True).indices]
        chosen.view(-1)[top] = 1.0
        return chosen


def clip_cov_surrogate(ratio, advantages, logprobs, hp, *, mask=None, log_ratio=None, generator=None):
    """u = min(r·Â, clip(r, 1−ε_low, 1+ε_high)·Â) · (1 − c), c = Clip-Cov's detached tokens."""
    _require_token_level(ratio, logprobs, "clip_cov")
    maskf, _ = _objective_inputs(logprobs.shape, mask, log_ratio if log_ratio is not None else ratio)
    chosen = clip_cov_selection(ratio, advantages, logprobs, maskf, hp,
                                generator if generator is not None else clip_cov_generator(hp))
    clipped = torch.clamp(ratio, 1 - hp["epsilon"], 1 + hp["epsilon_high"])
    return torch.min(ratio * advantages, clipped * advantages) * (1.0 - chosen), {"chosen": chosen}


def clip_cov_flags(below, above, advantages, hp, dtype, shared=None):
    base = ppo_flags(below, above, advantages, {**hp, "delta": None}, dtype)  # Clip-Cov has no dual clip
    chosen = None if shared is None else shared["chosen"]
    if chosen is None:
        return base
    chosen = chosen.to(dtype)
    base.fractions["cov_selected_fraction"] = chosen
    base.terms["cov_selected"] = chosen
    base.min_branch = base.clipped  # PPO's own clip: the clipped branch of min() is in force
    base.clipped = base.clipped + chosen  # disjoint: Clip-Cov never picks a token PPO already clipped
    return base


def kl_cov_surrogate(ratio, advantages, logprobs, hp, *, mask=None, log_ratio=None):
    """u = r·Â − c·|log r|·k, k = KL-Cov's top-covariance tokens (no clipping anywhere)."""
    _require_token_level(ratio, logprobs, "kl_cov")
    maskf, log_ratio = _objective_inputs(logprobs.shape, mask, log_ratio)
    if log_ratio is None:
        log_ratio = torch.log(ratio)
    chosen = kl_cov_selection(advantages, logprobs, maskf, hp)
    return ratio * advantages - hp["ppo_kl_coef"] * log_ratio.abs() * chosen, {"chosen": chosen}


def kl_cov_flags(below, above, advantages, hp, dtype, shared=None):
    chosen = None if shared is None else shared["chosen"]
    if chosen is None:
        return ClipResult(None)
    chosen = chosen.to(dtype)
    # KL-Cov clips nothing: its chosen tokens are penalised, stored as their own term.
    return ClipResult(None, None, None, None, {"cov_selected_fraction": chosen}, None, {"cov_selected": chosen})


CLIP_COV = (clip_cov_surrogate, clip_cov_flags)
KL_COV = (kl_cov_surrogate, kl_cov_flags)

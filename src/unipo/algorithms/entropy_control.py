"""Adaptive entropy control (Skywork-OR1, arXiv:2505.22312; TRL 1.16 `use_adaptive_entropy`).

The entropy-bonus coefficient is a controller state, not a constant: after every optimizer step the
measured mean token entropy H̄ moves it by Δ toward keeping H̄ at a target, and the bonus only acts
while the entropy is at or below the target:

    c_{k+1} = min(c_k + Δ, c_max)  if H̄_k ≤ H*      (TRL; Skywork: H̄_k < H*, and clip to [c_min, c_max])
              max(c_k − Δ, c_min)  otherwise
    β_H at step k+1 = c_{k+1} · [H̄_k ≤ H*]

The running value lives in the spec's per-spec state dict (the same dict the moving-average
baseline uses), under COEF_KEY and LAST_KEY: exactly the two numbers TRL checkpoints
(`entropy_coef`, `last_world_entropy`).
"""
from __future__ import annotations

import math

import torch

COEF_KEY = "adaptive_entropy_coef"   # c_k, TRL's `self.entropy_coef` (starts at hp["entropy_coef"])
LAST_KEY = "adaptive_entropy_last"   # H̄ of the last optimizer step, TRL's `_last_world_entropy`


def _below_target(entropy: float, hp: dict) -> bool:
    if hp["adaptive_entropy_rule"] == "skywork":
        return entropy < hp["entropy_target"]   # Skywork EntController: current_ent < target_ent
    return entropy <= hp["entropy_target"]      # TRL: world_entropy <= entropy_target


def current_entropy_coef(state: dict, hp: dict) -> float:
    """The coefficient the next objective applies (0 while the gate is closed).

    Before any update: TRL starts from last entropy = +inf, so its first step applies no bonus; Skywork's
    `entropy_loss_enabled` starts at 1, so it applies the initial coefficient."""
    coef = float(state.get(COEF_KEY, hp["entropy_coef"]))
    last = state.get(LAST_KEY)
    gate = (hp["adaptive_entropy_rule"] == "skywork") if last is None else _below_target(float(last), hp)
    return coef if gate else 0.0


def next_entropy_coef(state: dict, batch_entropy_mean, hp: dict) -> float:
    """One controller update after an optimizer step; returns the coefficient the next step applies.

    `batch_entropy_mean` is the step's mean token entropy (a float or 0-d tensor): under the "trl" rule
    TRL's window entropy Σ H·m_eff / max(Σ m_eff, 1) over the optimizer step's tokens (see
    window_entropy); under "skywork" the paper's −mean(old log-prob) of the rollout's tokens.
    Mutates `state` (COEF_KEY, LAST_KEY)."""
    entropy = float(batch_entropy_mean)
    if math.isnan(entropy):
        raise ValueError("batch_entropy_mean: expected a number, got NaN")
    low, high, step = hp["entropy_coef_min"], hp["entropy_coef_max"], hp["entropy_coef_delta"]
    if low > high:
        raise ValueError(f"entropy_coef_min ({low}) must not exceed entropy_coef_max ({high})")
    coef = float(state.get(COEF_KEY, hp["entropy_coef"]))
    below = _below_target(entropy, hp)
    if hp["adaptive_entropy_rule"] == "skywork":
        coef = min(max(coef + step if below else coef - step, low), high)  # float(np.clip(value, min, max))
    else:
        coef = min(coef + step, high) if below else max(coef - step, low)
    state[COEF_KEY] = coef
    state[LAST_KEY] = entropy
    return current_entropy_coef(state, hp)


def window_entropy(entropies: torch.Tensor, selected: torch.Tensor) -> float:
    """TRL's measured entropy of one optimizer step: Σ H·m_eff / clamp(Σ m_eff, 1), where m_eff is the
    tokens the bonus acts on (the objective's `selected` term: real tokens, minus truncated responses
    under mask_truncated_completions, times the top-entropy selection when top_entropy_quantile < 1).
    Under gradient accumulation sum both parts over the window's micro-batches before dividing."""
    weights = selected.to(entropies.dtype)
    stats = torch.stack([(entropies.detach() * weights).sum(), weights.sum()])
    return (stats[0] / stats[1].clamp(min=1.0)).item()

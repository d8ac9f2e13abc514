"""VESPO (TRL loss_type="vespo"): a smooth Gamma weight of the sequence importance ratio on a REINFORCE term.

    w_i = exp(clamp(Σ_t m_it · clamp(ℓ_it − ℓ_old,it, −20, 20), log 1e-8, 20))     (sequence_product_ratio)
    φ(w) = e^λ · w^k · e^{−λw}   (k, λ = vespo_k_pos, vespo_lambda_pos if A ≥ 0, else the _neg pair; φ(1) = 1)
    u_it = sg(φ(w_i)) · A_i · ℓ_it                                                  (vespo_surrogate)

exactly GRPOTrainer.get_gamma_weights and the vespo branch of GRPOTrainer._compute_loss in TRL 1.16:
log-space evaluation, λ clamped to ≥ 1e-4, NaN/±Inf weights set to 0. The weight is a constant of the
update, so the gradient is φ·A·∇ℓ; the value carries ℓ because TRL's loss does.
"""
from __future__ import annotations

import math

import torch

from unipo.algorithms.clipping import no_flags

LOG_W_MIN = math.log(1e-8)   # TRL's lower clamp of log w (≈ −18.42)
LOG_W_MAX = 20.0
TOKEN_LOG_RATIO_BOUND = 20.0  # TRL clamps each token's log-ratio to ±20 before summing


def sequence_product_ratio(logprobs, old_logprobs, mask, *, lengths=None):
    """w_i = Π_t r_it over real tokens (a SUM of log-ratios, not GSPO's mean), clamped as TRL's VESPO: [N, 1]."""
    maskf = mask if mask.is_floating_point() else mask.to(logprobs.dtype)
    token = torch.clamp(logprobs - old_logprobs, -TOKEN_LOG_RATIO_BOUND, TOKEN_LOG_RATIO_BOUND)
    log_ratio = torch.clamp((token * maskf).sum(-1, keepdim=True), LOG_W_MIN, LOG_W_MAX)
    return log_ratio, torch.exp(log_ratio)


def _shape_parameters(advantages, hp):
    nonneg = advantages >= 0
    k = torch.where(nonneg, advantages.new_tensor(hp["vespo_k_pos"]), advantages.new_tensor(hp["vespo_k_neg"]))
    lam = torch.where(nonneg, advantages.new_tensor(hp["vespo_lambda_pos"]),
                      advantages.new_tensor(hp["vespo_lambda_neg"])).clamp(min=1e-4)
    return k, lam


@torch.no_grad()
def gamma_weight(ratio, advantages, hp):
    """φ(w) = exp(λ + k·log w − λ·w), log w clamped to [log 1e-8, 20]; non-finite values become 0 (as TRL)."""
    log_w = torch.clamp(torch.log(ratio.detach()), LOG_W_MIN, LOG_W_MAX)
    k, lam = _shape_parameters(advantages, hp)
    log_phi = lam + k * log_w - lam * torch.exp(log_w)
    return torch.exp(log_phi).nan_to_num(nan=0.0, posinf=0.0, neginf=0.0)


def vespo_surrogate(ratio, advantages, logprobs, hp):
    """u = sg(φ(w))·A·ℓ: the ratio only sets a constant weight; no token's gradient is cut."""
    return gamma_weight(ratio, advantages, hp) * advantages * logprobs


VESPO = (vespo_surrogate, no_flags)

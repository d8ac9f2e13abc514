"""GTPO (arXiv 2508.03772): conflict-token advantage weights and the entropy completion filter.

Reference code: github winstonsmith1897/GTPO, gtpo/gtpo_training.py (build_conflict_mask, the
entropy shaping in UnslothEfficientGTPO.forward). The descriptor is components/gtpo.py.

Positions are counted over real tokens: the k-th real token of a completion (forward) and the k-th
from its end (backward), so a stored step (padding dropped) gives the same positions.
"""
from __future__ import annotations

import torch


def _conflicts(ids, real, positions, group, positive, negative):
    """[N, T] bool: the token's (group, position, id) occurs in a positive and in a negative completion
    of its group. Only real tokens of active (Â ≠ 0) completions take part."""
    active = (positive | negative).unsqueeze(1) & real
    raw = torch.zeros_like(real)
    rows, cols = active.nonzero(as_tuple=True)
    if rows.numel() == 0:
        return raw
    keys = torch.stack([group[rows], positions[rows, cols], ids[rows, cols]], dim=1)
    _, inverse = torch.unique(keys, dim=0, return_inverse=True)
    count = int(inverse.max()) + 1
    has_pos = torch.bincount(inverse[positive[rows]], minlength=count) > 0
    has_neg = torch.bincount(inverse[negative[rows]], minlength=count) > 0
    raw[rows, cols] = has_pos[inverse] & has_neg[inverse]
    return raw


def conflict_runs(ids, mask, group, advantages):
    """(leading, trailing) [N, T] bool: the conflict tokens of GTPO's forward pass (the run of
    conflicts from the first token) and backward pass (the run ending at the last token)."""
    real = mask > 0
    k = torch.cumsum(real.long(), dim=1) - 1
    length = real.long().sum(1, keepdim=True)
    positive, negative = advantages > 0, advantages < 0
    raw_fwd = _conflicts(ids, real, k, group, positive, negative)
    raw_bwd = _conflicts(ids, real, length - 1 - k, group, positive, negative)
    leading = real & (torch.cumsum((real & ~raw_fwd).long(), dim=1) == 0)
    breaks_bwd = (real & ~raw_bwd).long().flip(1)
    trailing = real & (torch.cumsum(breaks_bwd, dim=1).flip(1) == 0)
    return leading, trailing


def gtpo_modifier(advantages, context, hp, state):
    """Â_it = δ_it · Â'_i, with δ the conflict weights (code's product of the forward and backward
    passes: W on a positive completion's conflict token, 0 on a negative one's, 1 elsewhere) and
    Â'_i = Â_i − s·H̄_i when H̄_i ≤ τ_H, else 0 (the completion is filtered out)."""
    if context.token_ids is None or context.mask is None:
        raise ValueError("token_ids, mask: required ([N, T]) by the GTPO advantage modifier "
                         "(conflict tokens are the same token id at the same position)")
    if advantages.dim() != 1:
        raise ValueError(f"advantages: GTPO expects per-response advantages [N] from the estimator, got "
                         f"shape {tuple(advantages.shape)}")
    mask = context.mask
    if tuple(context.token_ids.shape) != tuple(mask.shape):
        raise ValueError(f"token_ids: expected shape {tuple(mask.shape)} (like mask), got {tuple(context.token_ids.shape)}")
    a = advantages.detach()
    maskf = mask.to(a.dtype)
    real = mask > 0
    leading, trailing = conflict_runs(context.token_ids.long(), mask, context.groups.index, a)
    w = hp["gtpo_conflict_weight"]
    positive = (a > 0).unsqueeze(1)
    fwd = torch.where(leading, torch.where(positive, w, 0.0), 1.0)
    bwd = torch.where(trailing, torch.where(positive, w, 0.0), 1.0)
    delta = (fwd * bwd).to(a.dtype) * maskf
    conflict = (leading | trailing).to(a.dtype)
    n_conflict = conflict.sum(1)
    lengths = maskf.sum(1)
    terms = {"gtpo_conflict": conflict, "gtpo_delta": delta, "gtpo_conflict_count": n_conflict}
    metrics = {"gtpo_conflict_fraction": float(conflict.sum() / lengths.sum().clamp(min=1.0))}
    adjusted = a
    if hp["gtpo_entropy_filter"]:
        if context.entropies is None:
            raise ValueError("entropies: required ([N, T]) by GTPO's entropy filter (gtpo_entropy_filter)")
        mean_entropy = (context.entropies.detach().to(a.dtype) * maskf).sum(1) / lengths.clamp(min=1.0)
        filtered = mean_entropy > hp["gtpo_entropy_threshold"]
        adjusted = torch.where(filtered, torch.zeros_like(a), a - hp["gtpo_entropy_scale"] * mean_entropy)
        terms.update(gtpo_entropy=mean_entropy, gtpo_filtered=filtered.to(a.dtype))
        metrics.update(gtpo_filtered_fraction=float(filtered.to(a.dtype).mean()),
                       gtpo_entropy_mean=float(mean_entropy.mean()))
    token_advantages = delta * adjusted.unsqueeze(1)
    if hp["gtpo_divide_by_conflicts"]:  # the reference code's 1/n_conf per completion
        token_advantages = token_advantages / n_conflict.clamp(min=1.0).unsqueeze(1)
    return torch.where(real, token_advantages, torch.zeros_like(token_advantages)), terms, metrics

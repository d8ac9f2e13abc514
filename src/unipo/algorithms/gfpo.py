"""GFPO, Group Filtered Policy Optimization (Shrivastava et al., arXiv:2508.09726): sample G responses
per prompt, train only on the k of each group that score best on a metric, the shortest (length) or
the highest reward per token (token efficiency). Rollout-side: the engine drops the other G − k before
advantages, so the group statistics μ_S, σ_S are those of the kept set S only, and the dropped
responses never enter the loss (the paper's zero advantage with a mask m_i = [i ∈ S])."""
from __future__ import annotations

import torch

METRICS = ("length", "token_efficiency")


def filter_scores(rewards: torch.Tensor, lengths: torch.Tensor, hp: dict) -> torch.Tensor:
    """[N] the filter's score, lower is better: L_i (keep shortest), or −R_i / max(L_i, 1) (keep the most
    reward per token)."""
    lengths = lengths.to(torch.float64)
    if hp["gfpo_metric"] == "length":
        return lengths
    if hp["gfpo_metric"] == "token_efficiency":
        return -(rewards.to(torch.float64) / lengths.clamp(min=1.0))
    raise ValueError(f"gfpo_metric: expected one of {', '.join(METRICS)}, got {hp['gfpo_metric']!r}")


def keep_responses(rewards: torch.Tensor, lengths: torch.Tensor, group_index: torch.Tensor, hp: dict) -> torch.Tensor:
    """[N] bool: the `gfpo_keep` best responses of every group (ties go to the earlier-sampled response).

    rewards [N] float, lengths [N] response lengths in tokens, group_index [N] integer group labels (any
    values, not necessarily contiguous). Every group keeps exactly k, so every group must hold ≥ k."""
    k = int(hp["gfpo_keep"])
    for name, value in (("rewards", rewards), ("lengths", lengths), ("group_index", group_index)):
        if not isinstance(value, torch.Tensor) or value.dim() != 1:
            raise ValueError(f"{name}: expected a 1-D tensor, got {getattr(value, 'shape', type(value))}")
    n = rewards.shape[0]
    if lengths.shape[0] != n or group_index.shape[0] != n:
        raise ValueError(f"rewards, lengths, group_index: expected the same length, got {n}, "
                         f"{lengths.shape[0]}, {group_index.shape[0]}")
    if group_index.is_floating_point() or group_index.dtype == torch.bool:
        raise ValueError(f"group_index: expected an integer tensor, got {group_index.dtype}")
    if not bool(torch.isfinite(rewards).all()):
        raise ValueError("rewards: expected finite values")
    if bool((lengths < 0).any()):
        raise ValueError("lengths: expected values ≥ 0")
    if k < 1:
        raise ValueError(f"gfpo_keep: expected ≥ 1 when GFPO filtering runs, got {k}")
    if n == 0:
        return torch.zeros(0, dtype=torch.bool, device=rewards.device)
    _, groups, counts = torch.unique(group_index, return_inverse=True, return_counts=True)
    if bool((counts < k).any()):
        raise ValueError(f"gfpo_keep = {k}: every group must hold at least k responses; the smallest holds "
                         f"{int(counts.min())} (sample a larger group)")
    score = filter_scores(rewards, lengths, hp)
    # Order by score (stable: ties keep sampling order), then stably by group: within a group, best first.
    by_score = torch.sort(score, stable=True).indices
    order = by_score[torch.sort(groups[by_score], stable=True).indices]
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(n, device=rewards.device) - starts[groups[order]]
    keep = torch.zeros(n, dtype=torch.bool, device=rewards.device)
    keep[order] = rank < k
    return keep


def filter_stats(rewards: torch.Tensor, lengths: torch.Tensor, group_index: torch.Tensor, keep: torch.Tensor,
                 hp: dict) -> dict[str, float]:
    """Rollout statistics of one filtering (what the gfpo relation checks, since the dropped responses
    are not stored): gfpo_margin = min over groups of (best dropped score − worst kept score) ≥ 0 when
    the kept are the best (0 on a tie); absent when nothing was dropped."""
    _, groups, counts = torch.unique(group_index, return_inverse=True, return_counts=True)
    score = filter_scores(rewards, lengths, hp)
    lengths = lengths.to(torch.float64)
    rewards = rewards.to(torch.float64)
    kept_per_group = torch.bincount(groups, weights=keep.to(torch.float64), minlength=len(counts))
    stats = {
        "gfpo_sampled_per_group": float(counts.to(torch.float64).mean()),
        "gfpo_kept_per_group": float(kept_per_group.mean()),
        "gfpo_dropped_responses": float((~keep).sum()),
        "gfpo_length_mean_sampled": float(lengths.mean()),
        "gfpo_length_mean_kept": float(lengths[keep].mean()) if bool(keep.any()) else float("nan"),
        "gfpo_reward_mean_sampled": float(rewards.mean()),
        "gfpo_reward_mean_kept": float(rewards[keep].mean()) if bool(keep.any()) else float("nan"),
    }
    if bool((~keep).any()):
        inf = torch.tensor(float("inf"), dtype=torch.float64)
        worst_kept = torch.full((len(counts),), -float("inf"), dtype=torch.float64).scatter_reduce(
            0, groups, torch.where(keep, score, -inf), reduce="amax")
        best_dropped = torch.full((len(counts),), float("inf"), dtype=torch.float64).scatter_reduce(
            0, groups, torch.where(keep, inf, score), reduce="amin")
        has = torch.bincount(groups, weights=(~keep).to(torch.float64), minlength=len(counts)) > 0
        stats["gfpo_margin"] = float((best_dropped - worst_kept)[has].min())
    return stats


def gfpo_filter(rewards: torch.Tensor, lengths: torch.Tensor, group_index: torch.Tensor, hp: dict):
    """The sample_filter component's call: (keep [N] bool, rollout statistics)."""
    keep = keep_responses(rewards, lengths, group_index, hp)
    return keep, filter_stats(rewards, lengths, group_index, keep, hp)

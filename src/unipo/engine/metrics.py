"""Per-update scalar metrics, read off the logged terms (no formula of its own: a masked mean of what
the algorithm computed)."""
from __future__ import annotations

import math

import torch

from unipo.engine.minibatches import MiniBatch
from unipo.engine.rollout import Rollout
from unipo.engine.update import UpdateResult, pick_rows


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> float:
    total = float(mask.sum())
    return float((values * mask).sum()) / total if total else 0.0


def update_metrics(rollout: Rollout, batch: MiniBatch, result: UpdateResult, *, lr: float,
                   seconds: float, rollout_share_seconds: float) -> dict[str, float]:
    rows = result.rows
    width = result.logprobs.shape[1]
    mask = pick_rows(rollout.mask, rows, width)
    rewards = rollout.rewards.index_select(0, rows)
    lengths = mask.sum(-1)
    tokens = float(mask.sum())
    metrics: dict[str, float] = {
        "rollout": rollout.index, "epoch": batch.epoch, "minibatch": batch.minibatch,
        "reward_mean": float(rewards.mean()),
        "reward_std": float(rewards.std()) if len(rewards) > 1 else 0.0,
        "accuracy": float(rollout.correct.index_select(0, rows).float().mean()),
        "rollout_reward_mean": float(rollout.rewards.mean()),
        "rollout_accuracy": float(rollout.correct.float().mean()),
        "response_length_mean": float(lengths.mean()),
        "truncated_fraction": float(rollout.truncated.index_select(0, rows).float().mean()),
        "entropy": masked_mean(result.entropies, mask),
        "loss": result.loss,
        "policy_loss": result.policy_loss,
        "grad_norm": result.grad_norm,
        "lr": lr,
        "update_seconds": seconds,
        "tokens_per_second": tokens / max(seconds + rollout_share_seconds, 1e-9),
    }
    if result.value_loss is not None:
        metrics["value_loss"] = result.value_loss
    for column, term in (("kl", "kl"), ("clip_fraction", "clipped"), ("clip_fraction_low", "clipped_low"),
                         ("clip_fraction_high", "clipped_high"), ("ratio_mean", "ratio")):
        if term in result.terms:
            metrics[column] = masked_mean(result.terms[term], mask)
    for name, value in rollout.stats.items():
        metrics[name] = float(value)
    # The algorithm's own metrics keep their names; an engine name wins a clash, the other is prefixed.
    for source in (rollout.advantage_metrics, result.objective_metrics):
        for name, value in source.items():
            metrics[name if name not in metrics else f"algo_{name}"] = float(value)
    return {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}

"""Per-update scalar metrics: the engine's own (rewards, lengths, timing, grad norm) and the
algorithm's, each under one name with one meaning. The engine computes no statistic of the
algorithm's terms (clip fractions, ratio, KL, entropy): those are the algorithm's metrics, taken over
the tokens the loss used (after truncation filtering), exactly as TRL logs them."""
from __future__ import annotations

import math


from unipo.engine.minibatches import MiniBatch
from unipo.engine.rollout import Rollout
from unipo.engine.update import UpdateResult, pick_rows


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
        "loss": result.loss,
        "policy_loss": result.policy_loss,
        "grad_norm": result.grad_norm,
        "lr": lr,
        "update_seconds": seconds,
        "tokens_per_second": tokens / max(seconds + rollout_share_seconds, 1e-9),
    }
    if result.value_loss is not None:
        metrics["value_loss"] = result.value_loss
    for name, value in rollout.stats.items():
        metrics[name] = float(value)
    for name, value in result.objective_metrics.items():
        if name in metrics:
            raise ValueError(f"metric {name!r} is both the engine's and the algorithm's")
        metrics[name] = float(value)
    # The advantage statistics describe the whole rollout, the update's describe this mini-batch:
    # where both exist, the rollout's are named as such.
    for name, value in rollout.advantage_metrics.items():
        key = name if name not in metrics else f"rollout_{name}"
        if key in metrics and metrics[key] != float(value):
            key = f"rollout_advantage_{name}"
        metrics[key] = float(value)
    return {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}

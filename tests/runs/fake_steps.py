"""Deterministic StepRecords for the run-store tests and benchmark."""
from __future__ import annotations

import numpy as np

from unipo.runs import StepRecord

TERM_NAMES = ("log_ratio", "ratio", "advantage", "clipped_low", "clipped_high", "clipped", "min_branch",
              "surrogate", "kl", "kl_penalty", "entropy_bonus", "selected", "weight", "token_objective")


def fake_record(n: int = 6, t: int = 9, *, seed: int = 0, group_size: int = 3, empty: tuple[int, ...] = ()) -> StepRecord:
    """n responses to n // group_size prompts; lengths vary; responses listed in `empty` have no token."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, t + 1, size=n)
    lengths[list(empty)] = 0
    mask = np.arange(t)[None, :] < lengths[:, None]
    prompt = np.arange(n) // group_size
    logprob = -rng.gamma(0.5, 1.0, size=(n, t)).astype(np.float32)
    old = logprob + rng.normal(0, 0.01, size=(n, t)).astype(np.float32)
    ref = logprob + rng.normal(0, 0.05, size=(n, t)).astype(np.float32)
    reward = rng.integers(0, 2, size=n).astype(np.float32)
    advantage = np.repeat((reward - reward.mean())[:, None], t, axis=1) * mask
    ratio = np.exp(logprob - old) * mask
    vocab = np.array([f"tok{i}" for i in range(50)])
    token_ids = rng.integers(0, 50, size=(n, t))
    terms = {
        "log_ratio": (logprob - old) * mask, "ratio": ratio, "advantage": advantage,
        "clipped_low": np.zeros((n, t)), "clipped_high": (ratio > 1.01) * mask, "clipped": (ratio > 1.01) * mask,
        "min_branch": np.zeros((n, t)), "surrogate": ratio * advantage, "kl": np.abs(ref - logprob) * mask,
        "kl_penalty": 0.04 * np.abs(ref - logprob) * mask, "entropy_bonus": np.zeros((n, t)),
        "selected": mask * 1.0, "weight": mask / np.maximum(lengths, 1)[:, None] / n,
        "token_objective": ratio * advantage - 0.04 * np.abs(ref - logprob) * mask,
    }
    return StepRecord(
        prompt_index=prompt, group_id=prompt + 100, prompt_text=[f"prompt {p}: what is {p}+{p}?" for p in prompt],
        response_text=[f"answer {i}" for i in range(n)], reward=reward, mask=mask, token_ids=token_ids,
        tokens=[list(vocab[row]) for row in token_ids], truncated=lengths == t, length=lengths,
        reward_components={"correct": reward, "format": np.ones(n)},
        logprob=logprob, old_logprob=old, ref_logprob=ref, value=rng.normal(size=(n, t)),
        returns=rng.normal(size=(n, t)), entropy=rng.random((n, t)), terms=terms,
        rollout=2, epoch=1, minibatch=3,
    )


def part_of(record: StepRecord, start: int, stop: int) -> StepRecord:
    """Responses start..stop of a record (per-response and per-token arrays sliced alike)."""
    def cut(value):
        return None if value is None else np.asarray(value)[start:stop]
    return StepRecord(
        prompt_index=cut(record.prompt_index), group_id=cut(record.group_id),
        prompt_text=list(record.prompt_text)[start:stop], response_text=list(record.response_text)[start:stop],
        reward=cut(record.reward), mask=cut(record.mask), token_ids=cut(record.token_ids),
        tokens=list(record.tokens)[start:stop], truncated=cut(record.truncated), length=cut(record.length),
        reward_components={k: cut(v) for k, v in record.reward_components.items()},
        logprob=cut(record.logprob), old_logprob=cut(record.old_logprob), ref_logprob=cut(record.ref_logprob),
        value=cut(record.value), returns=cut(record.returns), entropy=cut(record.entropy),
        terms={k: cut(v) for k, v in record.terms.items()}, rollout=record.rollout, epoch=record.epoch,
        minibatch=record.minibatch, response_terms={k: cut(v) for k, v in record.response_terms.items()})

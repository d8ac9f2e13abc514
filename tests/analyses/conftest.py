"""A constructed run for the analyses tests: engine-like (every column) or imported-like (few)."""
from __future__ import annotations

import numpy as np
import pytest

from unipo.analyses.data import ReaderSource
from unipo.runs import RunReader, RunWriter, StepRecord

N, T = 4, 5


def write_run(path, *, steps=3, full=True, metrics_extra=None, mismatch=0.05, vary_clip=False, length_mean=None,
              algorithm="grpo", sampling=True):
    """Two prompts × two responses. `full`: the engine's columns (grad_coef, grad_contribution, ...);
    otherwise an imported-like run: tokens, rewards and log-probs only. `mismatch`: how much higher the
    sampler scored each last-position token; `vary_clip`: step s also clips s − 1 tokens of response 3
    (A < 0) on the upper side; `length_mean`: the metric response_length_mean per step; `sampling`:
    whether the sampler's log-probs are stored."""
    rng = np.random.default_rng(0)
    mask = np.ones((N, T))
    mask[1, 3:] = 0  # response 1 is 3 tokens long
    with RunWriter.create(path, {"name": path.name, "algorithm": {"name": algorithm, "hparams": {"epsilon": 0.2}}}) as w:
        for step in range(1, steps + 1):
            grad_coef = rng.normal(0, 0.01, (N, T)) * mask
            contribution = np.abs(grad_coef) * 0.5
            contribution[2, 1] = 9.0  # the dominant token: response 2, position 1
            advantage = np.array([1.0, -1.0, 0.5, -0.5])[:, None] * np.ones((N, T))
            clipped_high = np.zeros((N, T)); clipped_high[0, 0] = 1   # A > 0, upper side
            clipped_low = np.zeros((N, T)); clipped_low[1, 1] = 1     # A < 0, lower side
            if vary_clip:
                clipped_high[3, :step - 1] = 1                          # A < 0, upper side
            entropy = np.linspace(0.1, 2.0, N * T).reshape(N, T)
            logprob = -rng.uniform(0.1, 2.0, (N, T))
            terms = {"sampling_logprob": logprob + mismatch * (np.arange(T)[None, :] == 4)} if sampling else {}
            if full:
                terms.update(grad_coef=grad_coef, grad_contribution=contribution, advantage=advantage,
                             clipped_high=clipped_high, clipped_low=clipped_low, ratio=np.ones((N, T)),
                             weight=mask / (N * mask.sum(1, keepdims=True)))
            record = StepRecord(prompt_index=[0, 0, 1, 1], group_id=[0, 0, 1, 1], prompt_text=["p0"] * 2 + ["p1"] * 2,
                                response_text=["a", "b", "c", "d"], reward=[1.0, 1.0, 0.0, 1.0], mask=mask,
                                token_ids=np.ones((N, T), int), tokens=[list("abcde")] * N, logprob=logprob,
                                old_logprob=logprob if full else None, entropy=entropy if full else None, terms=terms,
                                response_terms={"response_grad_norm": np.array([0.1, 0.2, 9.5, 0.3])} if full else {})
            metrics = {"grad_norm": [1.0, 1.1, 50.0][step - 1] if steps == 3 else 1.0, "tokens": float(mask.sum()),
                       "entropy_mean": 1.0 - 0.1 * step, "response_length_mean": 4.5 if length_mean is None else length_mean[step - 1], **(metrics_extra or {})}
            w.write_update(step, record, metrics)
    return ReaderSource(RunReader(path))



@pytest.fixture(scope="session")
def analysis_run():
    """write_run(path, steps=3, full=True): a ReaderSource over the run written there."""
    return write_run

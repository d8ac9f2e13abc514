"""Real run directories written with RunWriter (test helpers)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from support.live_server import LiveServer  # noqa: F401  (re-exported for the server tests)
from unipo.algorithms import get_preset
from unipo.runs import RunWriter, StepRecord

HOSTILE_PROMPT = "What is 2+2? <img src=x onerror=alert(1)>"
N_PROMPTS, GROUP, T = 2, 3, 5
ALGORITHM = "grpo"  # what the fixture runs were "trained" with


def step_inputs(seed: int, *, empty_response: int | None = 4, with_ref: bool = True) -> dict:
    """Two prompts x three responses, five padded positions; response `empty_response` has no token."""
    rng = np.random.default_rng(seed)
    n = N_PROMPTS * GROUP
    lengths = rng.integers(1, T + 1, size=n)
    if empty_response is not None:
        lengths[empty_response] = 0
    mask = (np.arange(T)[None, :] < lengths[:, None]).astype(np.float32)
    logprob = -rng.random((n, T)).astype(np.float32)
    return {
        "mask": mask,
        "rewards": rng.integers(0, 2, size=n).astype(np.float32),
        "prompt": np.repeat(np.arange(N_PROMPTS), GROUP),
        "truncated": lengths == T,
        "logprob": logprob,
        "old_logprob": logprob + rng.normal(0, 0.1, (n, T)).astype(np.float32),
        "ref_logprob": logprob + rng.normal(0, 0.2, (n, T)).astype(np.float32) if with_ref else None,
        "entropy": rng.random((n, T)).astype(np.float32),
        "token_ids": rng.integers(0, 16, size=(n, T)),
    }


def train_terms(algo, inputs: dict):
    """What the engine does for one update (engine/rollout.py + engine/update.py), on these inputs."""
    from unipo.algorithms import StepInputs, recompute
    from unipo.algorithms.pipeline import recompute_advantages

    t = {k: (torch.as_tensor(v) if v is not None else None) for k, v in inputs.items()}
    step = StepInputs(logprobs=t["logprob"], mask=t["mask"], rewards=t["rewards"], group_ids=t["prompt"],
                      old_logprobs=t["old_logprob"], ref_logprobs=t["ref_logprob"], entropies=t["entropy"],
                      truncated=t["truncated"])
    details = recompute_advantages(algo, step)
    step.advantages = details.advantages
    return details, recompute(algo, step)


def make_record(seed: int, *, algo=None, **options) -> StepRecord:
    algo = algo or get_preset(ALGORITHM)
    inputs = step_inputs(seed, **options)
    _, out = train_terms(algo, inputs)
    n = len(inputs["rewards"])
    token_ids = inputs["token_ids"]
    tokens = [[f"t{token_ids[i, t]}" for t in range(T)] for i in range(n)]
    tokens[0][0] = "<script>alert(1)</script>"
    return StepRecord(
        prompt_index=inputs["prompt"],
        group_id=inputs["prompt"] + 10 * seed,
        prompt_text=[HOSTILE_PROMPT] * GROUP + ["What is 3+4?"] * GROUP,
        response_text=[f"answer {i}" for i in range(n)],
        reward=inputs["rewards"], truncated=inputs["truncated"],
        mask=inputs["mask"], token_ids=token_ids, tokens=tokens,
        logprob=inputs["logprob"], old_logprob=inputs["old_logprob"], ref_logprob=inputs["ref_logprob"],
        entropy=inputs["entropy"], terms=out.terms,
        rollout=seed, epoch=0, minibatch=0,
    )


def write_run(path: Path, steps: int = 3, *, finish: bool = True, name: str | None = None) -> RunWriter:
    header = {"name": name or path.name, "algorithm": get_preset(ALGORITHM).to_dict(),
              "task": {"name": "add"}, "model": {"name": "tiny"}, "seed": 0,
              "config": {"prompts_per_step": N_PROMPTS, "group_size": GROUP, "minibatches": 1}}
    writer = RunWriter.create(path, header)
    for step in range(1, steps + 1):
        writer.write_update(step, make_record(step), {"loss": 0.5 / step, "reward_mean": step * 0.1,
                                                      "rollout": step, "epoch": 0, "minibatch": 0})
    if finish:
        writer.close("finished")
    return writer



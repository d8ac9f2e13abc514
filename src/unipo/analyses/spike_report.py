"""Spikes over a run: every update's grad norm judged by the rule the engine uses (spikes.SpikeRule)."""
from __future__ import annotations

import math

import numpy as np

from unipo.analyses.attribution import GRADLOC
from unipo.analyses.registry import Param, analysis
from unipo.analyses.spikes import SpikeRule, scan


def estimated_tokens(run) -> list | None:
    """Tokens per update from the mean response length and the configured responses per update."""
    config = run.header.get("config") or {}
    lengths = run.metric("response_length_mean")
    try:
        responses = config["prompts_per_step"] * config["group_size"] / max(1, config.get("minibatches", 1))
    except (KeyError, TypeError):
        return None
    if lengths is None:
        return None
    return [None if not math.isfinite(v) else v * responses for v in lengths[1]]


@analysis(
    "spikes", title="Gradient-norm spikes", level="run", requires=("metrics.grad_norm",),
    optional=("metrics.tokens", "metrics.gradloc_response"), paper=GRADLOC,
    params={"threshold": Param(None, "τ of grad_norm > τ/√tokens (default: the run's --spike-threshold)", float, 0),
            "z": Param(3.0, "rolling z-score that flags a spike", float, 0),
            "window": Param(20, "updates in the rolling window", int, 2, 10000)},
    explanation="""A spike is an update whose gradient norm jumps. GradLoc triggers on a grad-norm
    threshold; because a token-mean loss averages n token gradients, an ordinary update's norm falls
    like 1/√n, so the threshold is scaled by 1/√tokens (a step is flagged when grad_norm·√tokens > τ).
    Without a threshold, a rolling z-score against the previous updates flags the outliers. The
    engine applies the same rule at train time (it decides where bisection runs).""",
)
def spikes(run, threshold=None, z: float = 3.0, window: int = 20) -> dict:
    steps, norms = run.metric("grad_norm")
    if threshold is None:
        threshold = (run.header.get("config") or {}).get("spike_threshold")
    found_tokens = run.metric("tokens")
    notes = []
    tokens = None if found_tokens is None else [None if not math.isfinite(t) else t for t in found_tokens[1]]
    if tokens is None:
        tokens = estimated_tokens(run)
        if tokens is not None:
            notes.append("metrics.tokens is not logged: each update's token count is taken as response_length_mean × "
                         "responses per update (prompts_per_step × group_size / minibatches from the run's config).")
    rule = SpikeRule(threshold=threshold, z=z, window=int(window))
    verdicts = scan([None if not math.isfinite(v) else v for v in norms], tokens, rule)
    culprits = {}
    located = run.metric("gradloc_response")
    if located is not None:
        positions = run.metric("gradloc_position")[1]
        for s, r, p in zip(located[0], located[1], positions):
            if math.isfinite(r):
                culprits[int(s)] = {"response": int(r), "position": int(p)}
    stored = set(run.steps())
    flagged = [{"step": int(s), "grad_norm": float(norms[i]), "z": None if math.isnan(v.z) else v.z,
                "scaled": v.scaled, "reasons": list(v.reasons), "stored": int(s) in stored,
                "gradloc": culprits.get(int(s))}
               for i, (s, v) in enumerate(zip(steps, verdicts)) if v.spike]
    if threshold is not None and tokens is None:
        notes.append("metrics.tokens is not logged: the threshold rule needs each update's token count, "
                     "so only the z-score rule was applied.")
    return {"threshold": threshold, "z": z, "window": int(window), "spikes": flagged,
            "updates": int(len(steps)), "notes": notes,
            "max_grad_norm": float(np.nanmax(norms)) if np.isfinite(norms).any() else None}

"""Length bias of the aggregation: each response's total weight against its length."""
from __future__ import annotations

import numpy as np

from unipo.analyses.registry import analysis

PAPER = ("Liu et al., Understanding R1-Zero-Like Training: A Critical Perspective (Dr. GRPO, 2025); "
         "Yu et al., DAPO (2025): token-level vs sequence-level aggregation")
MODES = ("seq-mean-token-mean", "token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm")


def log_slope(lengths: np.ndarray, totals: np.ndarray) -> float | None:
    """Slope of log(total weight) against log(length): 0 = every response weighs the same, 1 = a
    response weighs in proportion to its length."""
    keep = (lengths > 0) & (totals > 0)
    if keep.sum() < 2 or np.unique(lengths[keep]).size < 2:
        return None
    return float(np.polyfit(np.log(lengths[keep]), np.log(totals[keep]), 1)[0])


@analysis(
    "length_bias", title="Length bias of the aggregation", level="step", requires=("weight",),
    optional=("grad_coef",), paper=PAPER,
    explanation="""How per-token objectives become one loss decides how much a long response counts.
    Sequence-mean-token-mean gives every response the same total weight (each token 1/(N·L_i), so a long
    wrong answer is punished less per token); token-mean weighs responses by their length; Dr. GRPO's
    constant normaliser removes the 1/L_i. Here: each response's total weight Σ_t w against its length
    under the stored aggregation, with the log-log slope (0: length-neutral per response, 1: proportional
    to length); the other modes are the same rollout re-aggregated by the what-if path.""",
)
def length_bias(data) -> dict:
    response = data.ints("response")
    ids, index = np.unique(response, return_inverse=True)
    weight = np.nan_to_num(data.floats("weight"), nan=0.0)
    totals = np.bincount(index, weights=weight, minlength=len(ids))
    lengths = np.bincount(index, minlength=len(ids)).astype(float)
    push = None
    if data.has("grad_coef"):
        push = np.bincount(index, weights=np.abs(np.nan_to_num(data.floats("grad_coef"), nan=0.0)), minlength=len(ids))
    return {"responses": ids.tolist(), "length": lengths.tolist(), "total_weight": totals.tolist(),
            "push": None if push is None else push.tolist(), "slope": log_slope(lengths, totals),
            "modes": [{"label": m, "algo": None, "hparams": {"loss_aggregation": m}} for m in MODES]}


@analysis(
    "length_over_run", title="Response length over the run", level="run",
    requires=("metrics.response_length_mean",), paper=PAPER,
    explanation="""Response-length drift update by update; select runs of several algorithms trained on the
    demo's identical data to compare how their aggregation lets length grow or shrink.""",
)
def length_over_run(run) -> dict:
    steps, values = run.metric("response_length_mean")
    keep = np.isfinite(values)
    return {"algorithm": (run.header.get("algorithm") or {}).get("name"),
            "loss_aggregation": ((run.header.get("algorithm") or {}).get("hparams") or {}).get("loss_aggregation"),
            "step": steps[keep].tolist(), "response_length_mean": values[keep].tolist()}

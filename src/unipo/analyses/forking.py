"""Forking tokens (Wang et al., 2025): the high-entropy minority and its share of the update."""
from __future__ import annotations

import numpy as np

from unipo.analyses.registry import Param, analysis

PAPER = ("Wang et al., Beyond the 80/20 Rule: High-Entropy Minority Tokens Drive Effective Reinforcement "
         "Learning for LLM Reasoning (arXiv 2506.01939, 2025)")
INDEX_LIMIT = 5000


@analysis(
    "forking", title="Forking tokens", level="step", requires=("entropy",), optional=("grad_coef",), paper=PAPER,
    params={"rho": Param(0.2, "fraction ρ of highest-entropy tokens", float, 0.0, 1.0),
            "bins": Param(24, "histogram bins", int, 2, 200)},
    explanation="""Most tokens of a chain of thought are generated with low entropy; a minority with high
    entropy are forks where the reasoning can go several ways. Wang et al. find that RLVR mostly changes
    these tokens and that training on the top 20% by entropy alone matches or beats full updates. Here:
    the step's entropy distribution, its top-ρ tokens (highlighted), and how much of the push Σ|g| they
    received compared with their share of the tokens.""",
)
def forking(data, rho: float = 0.2, bins: int = 24) -> dict:
    entropy = data.floats("entropy")
    real = np.isfinite(entropy)
    values = entropy[real]
    cut = float(np.quantile(values, 1.0 - rho)) if rho > 0 else float("inf")
    top = real & (np.nan_to_num(entropy, nan=-np.inf) >= cut) if rho > 0 else np.zeros_like(real)
    counts, edges = np.histogram(values, bins=bins)
    share = None
    if data.has("grad_coef"):
        push = np.abs(np.nan_to_num(data.floats("grad_coef"), nan=0.0))
        total = float(push.sum())
        share = float(push[top].sum() / total) if total > 0 else None
    indices = np.flatnonzero(top)
    return {"rho": rho, "threshold": cut, "top_count": int(top.sum()), "token_count": int(real.sum()),
            "token_share": float(top.sum() / max(1, real.sum())), "push_share": share,
            "mean_entropy": float(values.mean()) if len(values) else None,
            "histogram": {"counts": counts.tolist(), "edges": edges.tolist()},
            "top_indices": indices[:INDEX_LIMIT].tolist()}


@analysis(
    "entropy_over_run", title="Entropy over the run", level="run", requires=("metrics.entropy_mean",), paper=PAPER,
    explanation="""Entropy collapse: the policy's mean token entropy update by update. A fast fall means the
    model stops exploring its forks; compare runs of different algorithms on the same data by selecting
    them together.""",
)
def entropy_over_run(run) -> dict:
    steps, values = run.metric("entropy_mean")
    keep = np.isfinite(values)
    first, last = (float(values[keep][0]), float(values[keep][-1])) if keep.any() else (None, None)
    return {"algorithm": (run.header.get("algorithm") or {}).get("name"), "step": steps[keep].tolist(),
            "entropy_mean": values[keep].tolist(), "first": first, "last": last,
            "relative_change": None if not first else (last - first) / first}

"""Length bias of the aggregation: each response's total weight against its length."""
from __future__ import annotations

import numpy as np

from unipo.analyses.registry import analysis

PAPER = ("Liu et al., Understanding R1-Zero-Like Training: A Critical Perspective (Dr. GRPO, 2025); "
         "Yu et al., DAPO (2025): token-level vs sequence-level aggregation")
# Every mode of unipo.algorithms.aggregation.AGGREGATIONS (named here: importing it would load torch;
# tests/analyses checks the two lists agree).
MODES = ("seq-mean-token-mean", "token-mean", "token-mean-local", "seq-mean-token-sum", "seq-mean-token-sum-norm")


def log_slope(lengths: np.ndarray, totals: np.ndarray) -> float | None:
    """Slope of log(total weight) against log(length): 0 = every response weighs the same, 1 = a
    response weighs in proportion to its length."""
    keep = (lengths > 0) & (totals > 0)
    if keep.sum() < 2 or np.unique(lengths[keep]).size < 2:
        return None
    return float(np.polyfit(np.log(lengths[keep]), np.log(totals[keep]), 1)[0])


def fit(lengths: np.ndarray, totals: np.ndarray) -> dict:
    """Σweight against length: least-squares slope (weight per extra token), Pearson correlation and
    the log-log slope; None where the responses do not vary enough to fit."""
    keep = np.isfinite(lengths) & np.isfinite(totals)
    x, y = lengths[keep], totals[keep]
    varied = x.size >= 2 and np.ptp(x) > 0
    slope = float(np.polyfit(x, y, 1)[0]) if varied else None
    # Σ weight equal across responses up to float32 round-off has no meaningful correlation.
    spread = np.ptp(y) > 1e-6 * np.abs(y).max() if y.size else False
    correlation = float(np.corrcoef(x, y)[0, 1]) if varied and spread else None
    return {"slope": slope, "correlation": correlation, "log_slope": log_slope(x, y)}


def response_totals(data) -> dict[int, tuple[int, float]]:
    """{response id: (length in tokens, Σ weight)} of one step (stored, or a what-if payload's)."""
    response = data.ints("response")
    ids, index = np.unique(response, return_inverse=True)
    weight = np.nan_to_num(data.floats("weight"), nan=0.0) if data.has("weight") else np.zeros(len(response))
    totals = np.bincount(index, weights=weight, minlength=len(ids))
    lengths = np.bincount(index, minlength=len(ids))
    return {int(r): (int(n), float(w)) for r, n, w in zip(ids, lengths, totals)}


def compare_modes(stored, variants: list[tuple[str, object]]) -> dict:
    """The per-mode length-bias table: per response its length and Σ weight under the stored
    aggregation and each what-if mode (`variants`: (mode, StepData of its payload)); per mode the fit
    of Σ weight against length."""
    base = response_totals(stored)
    ids = sorted(base)
    lengths = np.asarray([base[r][0] for r in ids], dtype=float)
    modes = []
    for label, data in [("stored", stored)] + list(variants):
        missing = data.missing(("weight",))
        found = {} if missing else response_totals(data)
        totals = np.asarray([found[r][1] if r in found else np.nan for r in ids], dtype=float)
        modes.append({"mode": label, "missing": missing,
                      "total_weight": [None if v != v else float(v) for v in totals],
                      **(fit(lengths, totals) if not missing else {"slope": None, "correlation": None, "log_slope": None})})
    return {"responses": ids, "length": lengths.tolist(), "modes": modes}


def folder_drift(runs: list[tuple[str, object]]) -> list[dict]:
    """Response-length drift of each run (`runs`: (id, RunData)), for runs of several algorithms on
    the same data: the series, first → last and the least-squares trend per 100 updates."""
    out = []
    for run_id, run in runs:
        found = run.metric("response_length_mean")
        algorithm = run.header.get("algorithm") or {}
        row = {"run": run_id, "algorithm": algorithm.get("name"),
               "loss_aggregation": (algorithm.get("hparams") or {}).get("loss_aggregation"),
               "step": [], "response_length_mean": [], "first": None, "last": None, "trend_per_100": None}
        if found is not None:
            steps, values = found
            keep = np.isfinite(values)
            steps, values = steps[keep], values[keep]
            row.update(step=steps.tolist(), response_length_mean=values.tolist())
            if len(values):
                row.update(first=float(values[0]), last=float(values[-1]))
            if len(values) >= 2 and np.ptp(steps) > 0:
                # A constant series has no trend (polyfit would give round-off, e.g. −1.8e−14).
                row["trend_per_100"] = (0.0 if np.ptp(values) == 0 else
                                        float(np.polyfit(steps.astype(float), values, 1)[0] * 100))
        out.append(row)
    return out


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

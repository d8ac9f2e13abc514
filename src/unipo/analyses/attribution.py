"""Gradient attribution: the step's tokens and responses ranked by what they did to the update."""
from __future__ import annotations

import numpy as np

from unipo.analyses.registry import Param, analysis

GRADLOC = ("GradLoc (Tencent Hunyuan, 2026): Stabilizing RLVR via Token-level Gradient Diagnosis and "
           "Layerwise Clipping; github.com/Tencent-Hunyuan/GradLoc")


def clip_state(low: float, high: float) -> str:
    if high == high and high > 0:
        return "high"
    if low == low and low > 0:
        return "low"
    return "none"


def _value(array, k):
    if array is None:
        return None
    value = float(array[k])
    return value if value == value else None


def token_row(data, k: int, score: np.ndarray, total: float) -> dict:
    """One token of the ranking, with what explains it: ratio, advantage, clip state, probability."""
    logprob = _value(data.floats("logprob"), k)
    return {
        "index": int(k), "response": int(data.ints("response")[k]), "position": int(data.ints("position")[k]),
        "token": data.strings("token")[k], "score": float(score[k]), "share": float(score[k] / total) if total > 0 else None,
        "grad_coef": _value(data.floats("grad_coef"), k), "ratio": _value(data.floats("ratio"), k),
        "advantage": _value(data.floats("advantage"), k),
        "clip": clip_state(*(np.nan if data.floats(c) is None else data.floats(c)[k] for c in ("clipped_low", "clipped_high"))),
        "probability": None if logprob is None else float(np.exp(logprob)),
    }


@analysis(
    "attribution", title="Gradient attribution", level="step", requires=("grad_coef",),
    optional=("grad_contribution", "response_grad_norm", "ratio", "advantage", "clipped_low", "clipped_high",
              "logprob", "metrics.gradloc_response"),
    paper=GRADLOC,
    params={"top": Param(20, "tokens and responses listed", int, 1, 1000)},
    explanation="""The update's gradient is a sum over tokens: ∇θL = Σ c_t with c_t = −g_t·∇θℓ_t, g the push on
    the token's log-prob. With `--attribution exact` the engine stores ‖c_t‖ of every token
    (grad_contribution) and ranks by it; otherwise tokens are ranked by |g| alone, which ignores how
    strongly each token's log-prob moves the weights. GradLoc localises a gradient spike to the token
    behind it by bisection over the batch; with `--attribution bisect` the engine runs that search on
    the steps it flags as spikes, and its culprit is shown beside the ranking.""",
)
def attribution(data, top: int = 20) -> dict:
    exact = data.has("grad_contribution")
    score = data.floats("grad_contribution") if exact else np.abs(data.floats("grad_coef"))
    score = np.nan_to_num(score, nan=0.0)
    total = float(score.sum())
    order = np.argsort(-score, kind="stable")[:top]
    tokens = [token_row(data, int(k), score, total) for k in order if score[k] > 0]
    response = data.ints("response")
    ids = np.unique(response)
    if data.has("response_grad_norm"):
        rids, rscore = data.per_response("response_grad_norm")
        response_method = "exact"
    else:
        rids = ids
        rscore = np.array([score[response == r].sum() for r in ids])
        response_method = "sum of token scores"
    rscore = np.nan_to_num(rscore, nan=0.0)
    rorder = np.argsort(-rscore, kind="stable")[:top]
    rtotal = float(rscore.sum())
    responses = [{"response": int(rids[i]), "score": float(rscore[i]),
                  "share": float(rscore[i] / rtotal) if rtotal > 0 else None,
                  "tokens": int((response == rids[i]).sum())} for i in rorder]
    gradloc = None
    if data.has("metrics.gradloc_response"):
        m = data.metrics
        gradloc = {"response": int(m["gradloc_response"]), "position": int(m["gradloc_position"]),
                   "grad_norm": m.get("gradloc_grad_norm"), "share": m.get("gradloc_share"),
                   "probes": m.get("gradloc_probes"),
                   "agrees_with_ranking": bool(tokens) and tokens[0]["response"] == int(m["gradloc_response"])
                   and tokens[0]["position"] == int(m["gradloc_position"])}
    culprit = tokens[0] if tokens else None
    if gradloc is not None and not exact:
        # Bisection measured real gradients: its token beats a ranking by |g| alone.
        rows = np.flatnonzero((response == gradloc["response"]) & (data.ints("position") == gradloc["position"]))
        if len(rows):
            culprit = token_row(data, int(rows[0]), score, total)
    return {"method": "exact" if exact else "coefficient", "response_method": response_method,
            "score_label": "‖c_t‖ = |g|·‖∇θℓ‖" if exact else "|g| (push only)",
            "tokens": tokens, "responses": responses, "gradloc": gradloc, "culprit": culprit,
            "grad_norm": data.metrics.get("grad_norm"), "total_score": total}

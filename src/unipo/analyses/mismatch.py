"""Training–inference mismatch: |ℓ_train − ℓ_sample| per token, where it sits, and what TIS/MIS would do."""
from __future__ import annotations

import numpy as np

from unipo.analyses.registry import Param, analysis

PAPER = ("Yao et al., Your Efficient RL Framework Secretly Brings You Off-Policy RL Training (2025, TIS); "
         "Liu et al., When Speed Kills Stability: Demystifying RL Collapse from the Training-Inference Mismatch (2025, MIS)")
NO_CORRECTION = {"label": "no correction", "algo": None, "hparams": {"is_correction": "none"}}
CORRECTIONS = [
    {"label": "TIS (token, truncate at 2)", "algo": None,
     "hparams": {"is_correction": "importance_sampling", "vllm_importance_sampling_mode": "token_truncate",
                 "vllm_importance_sampling_clip_max": 2.0}},
    {"label": "MIS (token, mask outside [0.5, 2])", "algo": None,
     "hparams": {"is_correction": "importance_sampling", "vllm_importance_sampling_mode": "token_mask",
                 "vllm_importance_sampling_clip_min": 0.5, "vllm_importance_sampling_clip_max": 2.0}},
    {"label": "MIS (sequence, mask outside [0.5, 2])", "algo": None,
     "hparams": {"is_correction": "importance_sampling", "vllm_importance_sampling_mode": "sequence_mask",
                 "vllm_importance_sampling_clip_min": 0.5, "vllm_importance_sampling_clip_max": 2.0}},
]


@analysis(
    "mismatch", title="Training–inference mismatch", level="step", requires=("sampling_logprob",),
    optional=("old_logprob", "logprob", "entropy"), paper=PAPER,
    params={"top": Param(20, "tokens listed", int, 1, 1000), "buckets": Param(10, "position buckets", int, 1, 100)},
    explanation="""The sampler (vLLM, SGLang, a KV-cache decode) and the trainer score the same tokens
    slightly differently, so even the first update is off-policy. Per token: |ℓ_train − ℓ_sample| with
    ℓ_train the training engine's rollout-time log-prob (old_logprob, else logprob); where it
    concentrates (by position in the response and by entropy); and the truncated (TIS) and masked (MIS)
    importance corrections, recomputed on this step by the what-if path.""",
)
def mismatch(data, top: int = 20, buckets: int = 10) -> dict:
    train_name = "old_logprob" if data.has("old_logprob") else "logprob"
    if not data.has(train_name):
        return {"train_column": None, "note": "neither old_logprob nor logprob is stored: nothing to compare with"}
    delta = np.abs(data.floats(train_name) - data.floats("sampling_logprob"))
    real = np.isfinite(delta)
    values = delta[real]
    order = np.argsort(-np.nan_to_num(delta, nan=-1.0), kind="stable")[:top]
    response, position = data.ints("response"), data.ints("position")
    tokens = data.strings("token")
    # Position as a fraction of the response (start → end), so short and long responses share buckets.
    ids, index = np.unique(response, return_inverse=True)
    lengths = np.bincount(index, minlength=len(ids))[index]
    fraction = np.minimum((position / np.maximum(lengths, 1) * buckets).astype(int), buckets - 1)
    by_position = [float(np.nanmean(delta[(fraction == b) & real])) if ((fraction == b) & real).any() else None
                   for b in range(buckets)]
    by_entropy, entropy_buckets = None, None
    if data.has("entropy"):
        entropy = data.floats("entropy")
        both = real & np.isfinite(entropy)
        if both.sum() >= 2 and np.std(entropy[both]) > 0 and np.std(delta[both]) > 0:
            by_entropy = float(np.corrcoef(entropy[both], delta[both])[0, 1])
        entropy_buckets = by_quantile(entropy[both], delta[both], buckets)
    return {
        "train_column": train_name, "tokens": int(real.sum()),
        "mean": float(values.mean()) if len(values) else None, "max": float(values.max()) if len(values) else None,
        "quantiles": {str(q): float(np.quantile(values, q)) for q in (0.5, 0.9, 0.99)} if len(values) else None,
        "top": [{"index": int(k), "response": int(response[k]), "position": int(position[k]), "token": tokens[k],
                 "delta": float(delta[k])} for k in order if real[k]],
        "by_position": by_position, "entropy_correlation": by_entropy, "by_entropy": entropy_buckets,
        "histogram": histogram(values, buckets), "corrections": [NO_CORRECTION] + CORRECTIONS,
    }


def histogram(values: np.ndarray, bins: int) -> dict:
    """Counts of |Δℓ| in `bins` equal-width bins from 0 to the largest value."""
    top = float(values.max()) if len(values) else 0.0
    counts, edges = np.histogram(values, bins=bins, range=(0.0, top if top > 0 else 1.0))
    return {"counts": counts.tolist(), "edges": edges.tolist()}


def by_quantile(key: np.ndarray, values: np.ndarray, buckets: int) -> list[dict]:
    """Mean of `values` in `buckets` equal-count bins of `key` (e.g. |Δℓ| by entropy, low → high)."""
    if len(key) == 0:
        return []
    order = np.argsort(key, kind="stable")
    out = []
    for part in np.array_split(order, min(buckets, len(key))):
        out.append({"low": float(key[part].min()), "high": float(key[part].max()), "tokens": int(len(part)),
                    "mean": float(values[part].mean()), "share": float(values[part].sum() / max(values.sum(), 1e-300))})
    return out


def compare_corrections(base, variants: list[tuple[str, dict]]) -> dict:
    """What each correction does to this step against no correction (`base`: its what-if payload;
    `variants`: (label, what-if payload)): loss, tokens whose push g changes sign, |Δg| and the tokens
    a mask zeroes; every number from the payloads' recomputed terms."""
    def push(payload):
        return np.asarray(payload["tokens"]["grad_coef"], dtype=np.float64)

    g0 = push(base)
    rows = [{"label": "no correction", "loss": base["metrics"].get("loss"), "push_flips": 0, "abs_dg_mean": 0.0,
             "abs_dg_max": 0.0, "relative_dg": 0.0, "zeroed": 0, "is_weight": None}]
    scale = float(np.abs(g0).sum())
    for label, payload in variants:
        g = push(payload)
        dg = np.abs(g - g0)
        rho = payload["tokens"].get("is_weight")
        rho = None if rho is None else np.asarray(rho, dtype=np.float64)
        rows.append({
            "label": label, "loss": payload["metrics"].get("loss"),
            "push_flips": int((np.sign(g) * np.sign(g0) < 0).sum()),
            "abs_dg_mean": float(dg.mean()) if len(dg) else 0.0, "abs_dg_max": float(dg.max()) if len(dg) else 0.0,
            # Σ|Δg| / Σ|g|: how much of the update the correction moves.
            "relative_dg": float(dg.sum() / scale) if scale > 0 else None,
            "zeroed": int(((g == 0) & (g0 != 0)).sum()),
            "is_weight": None if rho is None or not len(rho) else
            {"min": float(np.nanmin(rho)), "mean": float(np.nanmean(rho)), "max": float(np.nanmax(rho))},
        })
    return {"tokens": int(len(g0)), "rows": rows}

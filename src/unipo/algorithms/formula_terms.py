"""The glossary of formula terms: one LaTeX symbol, stored field and owning card per key.

One notation across every preset, so that two specs can be diffed term by term.
"""
from __future__ import annotations

# key: (latex symbol, stored field or None, card that explains it, description)
GLOSSARY: dict[str, tuple[str, str | None, str, str]] = {
    "loss": (r"\mathcal{L}", None, "aggregation", "step loss the optimizer minimises"),
    "weight": (r"w_{i,t}", "weight", "aggregation", "the token's aggregation weight"),
    "mask": (r"m_{i,t}", None, "aggregation", "1 for a real completion token, 0 for padding"),
    "length": (r"L_i", "response_length", "aggregation", "number of real tokens of response i"),
    "num_responses": (r"N", None, "aggregation", "number of responses in the batch"),
    "max_length": (r"L_{\max}", None, "aggregation", "max_completion_length (Dr. GRPO's constant)"),
    "num_tokens": (r"T_{\text{batch}}", None, "aggregation", "completion tokens in the (global) batch"),
    "token_objective": (r"o_{i,t}", "token_objective", "token_objective", "per-token objective (loss = −Σ w·o)"),
    "surrogate": (r"u_{i,t}", "surrogate", "clip", "policy-gradient surrogate of the token"),
    "ratio": (r"r_{i,t}", "ratio", "ratio", "importance ratio π_θ / π_old"),
    "log_ratio": (r"\log r_{i,t}", "log_ratio", "ratio", "ℓ − ℓ_old"),
    "logprob": (r"\ell_{i,t}", "logprob", "ratio", "log-probability of the token under the current policy"),
    "old_logprob": (r"\ell^{\text{old}}_{i,t}", "old_logprob", "ratio", "log-probability under the policy that sampled it"),
    "ref_logprob": (r"\ell^{\text{ref}}_{i,t}", "ref_logprob", "kl", "log-probability under the reference policy"),
    "advantage": (r"\hat{A}_{i,t}", "advantage", "advantage", "advantage of the token"),
    "reward": (r"R_i", "reward", "advantage", "reward of response i"),
    "group_mean": (r"\bar{R}_{g(i)}", "group_mean", "advantage", "mean reward of the prompt's group"),
    "group_std": (r"\sigma_{g(i)}", "group_std", "advantage", "reward std of the prompt's group (unbiased)"),
    "advantage_scale": (r"\alpha_i", "advantage_scale", "advantage", "scale applied to the centred reward"),
    "baseline": (r"b_i", "baseline", "advantage", "baseline subtracted from the reward"),
    "token_reward": (r"\rho_{i,t}", "token_reward", "advantage", "token reward: R_i on the last token, plus KL reward"),
    "return": (r"G_{i,t}", "return", "advantage", "discounted return from token t"),
    "value": (r"V_{i,t}", "value", "value", "critic's value estimate"),
    "td_error": (r"\delta_{i,t}", "td_error", "advantage", "temporal-difference error"),
    "epsilon_low": (r"\varepsilon_{\text{low}}", None, "clip", "lower clip range (epsilon)"),
    "epsilon_high": (r"\varepsilon_{\text{high}}", None, "clip", "upper clip range (epsilon_high)"),
    "epsilon_max": (r"\varepsilon_{\max}", None, "clip", "CISPO truncation cap (epsilon_high)"),
    "delta": (r"\delta_{\text{dual}}", None, "clip", "dual-clip cap (delta)"),
    "temperature": (r"\tau_{i}", None, "clip", "SAPO temperature (τ_pos if Â > 0 else τ_neg)"),
    "min_branch": (r"\mathrm{clip}", "min_branch", "clip", "1 where the clipped branch of min() is in force"),
    "kl": (r"\mathrm{KL}_{i,t}", "kl", "kl", "per-token KL estimate to the reference"),
    "kl_penalty": (r"\beta\,\mathrm{KL}_{i,t}", "kl_penalty", "kl", "KL penalty as it enters the objective"),
    "kl_reward": (r"r^{\mathrm{KL}}_{i,t}", "kl_reward", "kl", "reward the KL penalty adds to the token, −β_r·KL (≤ 0 when KL ≥ 0)"),
    "advantage_estimate": (r"\hat{A}^{\text{est}}_i", "advantage_estimate", "advantage",
                           "the estimator's advantage, before any advantage modifier"),
    "shaped_reward": (r"R'_i", "shaped_reward", "advantage", "reward after shaping, R_i + Σ_t r^KL_{i,t}"),
    "grad_coef": (r"g_{i,t}", "grad_coef", "grad_coef", "push on the token's log-prob, −∂L/∂ℓ (sign: up or down)"),
    "entropy": (r"\mathcal{H}_{i,t}", "entropy", "entropy", "entropy of the policy at the token"),
    "entropy_bonus": (r"\beta_{\mathcal{H}}\,\mathcal{H}_{i,t}", "entropy_bonus", "entropy", "entropy bonus as it enters the objective"),
    "selected": (r"m^{\text{sel}}_{i,t}", "selected", "selection", "1 when the token carries the policy gradient"),
}


def define_term(key: str, latex: str, field: str | None, card: str, description: str) -> None:
    """Add a term to the glossary (components outside UNIPO declare their own symbols this way)."""
    existing = GLOSSARY.get(key)
    if existing is not None and existing != (latex, field, card, description):
        raise ValueError(f"formula term {key!r} is already defined differently: {existing}")
    GLOSSARY[key] = (latex, field, card, description)


def t(key: str, latex: str | None = None) -> str:
    """Wrap a term so the UI can highlight and bind it."""
    return rf"\htmlClass{{t-{key}}}{{{GLOSSARY[key][0] if latex is None else latex}}}"


def term_entries(keys: list[str]) -> list[dict]:
    entries = []
    for key in dict.fromkeys(keys):
        latex, field, card, description = GLOSSARY[key]
        entries.append({"key": key, "latex": latex, "field": field, "card": card, "description": description})
    return entries

"""How a spec's per-token objective is composed, and the push g = −∂L/∂ℓ (torch-free).

`composition(hp)` is the one statement of o_it = Σ sign·part that the objective computes, the server's
step checks verify and the browser draws. The g card's relation recomputes each token's push from the
stored terms and the chosen components' derivatives (registry `derivative`).
"""
from __future__ import annotations

import numpy as np

from unipo.algorithms import registry
from unipo.algorithms.cards import card, t
from unipo.algorithms.stored import compare, missing, unchecked
from unipo.algorithms.components._shared import surrogate_factor


def composition(hp: dict) -> list[dict]:
    """[{"term", "sign"}]: o = Σ sign · term (the stored columns of the same names)."""
    parts = [{"term": "surrogate", "sign": 1}]
    if hp["beta"] != 0.0:
        parts.append({"term": "kl_penalty", "sign": -1})
    if hp["entropy_coef"] != 0.0 or hp.get("adaptive_entropy"):
        parts.append({"term": "entropy_bonus", "sign": 1})
    return parts


def token_objective_card(hp):
    selected = hp["top_entropy_quantile"] < 1.0
    weighted = [c for c in registry.active("token_weight", hp)]
    surrogate = "".join(t(term) + r"\," for c in weighted for term in c.terms[:1])
    surrogate += (t("selected") + r"\," if selected else "") + t("surrogate")
    latex = rf"{t('token_objective')} = {surrogate}"
    parts, variant = ["the policy-gradient surrogate"], ["surrogate"]
    if hp["beta"] != 0.0:
        latex += rf" - {t('kl_penalty')}"
        parts.append(f"minus β = {hp['beta']:g} times the KL estimate")
        variant.append("kl")
    if hp["entropy_coef"] != 0.0 or hp.get("adaptive_entropy"):
        latex += rf" + {t('entropy_bonus')}"
        parts.append(f"plus β_H = {hp['entropy_coef']:g} times the token entropy")
        variant.append("entropy")
    text = "Each token's objective is " + ", ".join(parts) + "."
    if selected:
        text += " Only selected tokens carry the surrogate."
    return card("token_objective", "+".join(variant), "Per-token objective", latex, text)


def token_objective_relation(step, hp) -> list:
    objective = step.token("token_objective")
    parts = composition(hp)
    values = [step.token(p["term"]) for p in parts]
    if objective is None or any(v is None for v in values):
        absent = ["token_objective"] * (objective is None) + [p["term"] for p, v in zip(parts, values) if v is None]
        return [missing("token_objective", "o = Σ sign·part", *absent)]
    composed = sum(p["sign"] * v for p, v in zip(parts, values))
    scale = sum(np.abs(v) for v in values)
    return [compare("token_objective", "o = " + " ".join(("+ " if p["sign"] > 0 else "− ") + p["term"]
                                                         for p in parts).lstrip("+ "), objective, composed, scale=scale)]


def grad_coef_card(hp):
    return card("grad_coef", "autograd", "Push on each token",
                rf"{t('grad_coef')} = -\frac{{\partial {t('loss')}}}{{\partial {t('logprob')}}}"
                rf" = \sum_{{s}} {t('weight', 'w_{i,s}')}\,\frac{{\partial {t('token_objective', 'o_{i,s}')}}}{{\partial {t('logprob')}}}",
                "How the update moves this token's log-probability: g > 0 pushes it up, g < 0 down, and |g| is how "
                "hard. It is what autograd gives the log-probs. The objective's sign is not the push: CISPO's o = "
                "sg(r)·Â·ℓ is negative for Â > 0 (ℓ < 0) yet pushes the token up.")


def grad_coef_relation(step, hp) -> list:
    name = "g = w·∂o/∂ℓ from the stored terms"
    g = step.token("grad_coef")
    needed = {"grad_coef": g, "weight": step.token("weight"), "ratio": step.token("ratio"),
              "advantage": step.token("advantage"), "logprob": step.token("logprob")}
    absent = [k for k, v in needed.items() if v is None]
    if absent:
        return [missing("grad_coef", name, *absent)]
    weight, r, a, lp = needed["weight"], needed["ratio"], needed["advantage"], needed["logprob"]
    clip = registry.selected("clip", hp)
    if clip.derivative is None:
        return [unchecked("grad_coef", name, f"clip component {clip.name!r} declares no derivative")]
    slope, wrt = clip.derivative(r, a, lp, hp)
    per_token = weight * surrogate_factor(step) * slope
    # Tolerance scale: the magnitude of each part of g (the surrogate's push, then the KL's below).
    scale = np.abs(weight * slope)
    level = hp["importance_sampling_level"]
    if level == "sequence" and wrt == "log_ratio":
        # ∂ log s_i / ∂ℓ_it = m_it / L_i: each token gets its response's summed push, shared out evenly.
        kept = step.kept()
        lengths = np.maximum(step.response_sum(kept), 1.0)
        expected = step.per_token(step.response_sum(per_token) / lengths) * kept
    else:
        expected = per_token
    if hp["beta"] != 0.0:
        ref = step.token("ref_logprob")
        if ref is None:
            return [missing("grad_coef", name, "ref_logprob")]
        kl = registry.selected("kl", hp)
        kl_slope = kl.derivative(lp, ref, hp)
        expected = expected - weight * hp["beta"] * kl_slope
        # The KL push is a difference of O(1) parts (k3: 1 − e^{ℓ_ref−ℓ}) that cancel where ℓ ≈ ℓ_ref;
        # float32 rounding of those parts, not of their tiny difference, sets the residual.
        scale = scale + np.abs(weight) * abs(hp["beta"]) * (1.0 + np.abs(kl_slope))
    if any(c.name != "drop_truncated" for c in registry.active("selection", hp)) and step.token("selected") is None:
        return [missing("grad_coef", name, "selected")]
    return [compare("grad_coef", name, g, expected, scale=scale, rtol=1e-5, atol=1e-12)]

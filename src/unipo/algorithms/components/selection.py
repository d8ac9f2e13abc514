"""Which tokens carry the policy gradient (axis "selection"; each rule switched by its own parameter)."""
from __future__ import annotations

import numpy as np

from unipo.algorithms.cards import card, t
from unipo.algorithms.registry import component
from unipo.algorithms.stored import compare, missing, unchecked


def _drop_truncated_relation(step, hp):
    truncated = step.response("truncated")
    if truncated is None:
        return [missing("filter_truncated", "truncated responses carry no weight", "truncated")]
    dropped = step.per_token(truncated) > 0
    checks = []
    for name in ("weight", "selected", "token_objective"):
        stored = step.token(name)
        if stored is not None:
            checks.append(compare("filter_truncated", f"{name} = 0 on truncated responses", stored, 0.0,
                                  where=dropped, atol=0.0))
    return checks


@component("selection", "drop_truncated", summary="DAPO overlong filtering: responses cut at the length limit drop out",
           compute="unipo.algorithms.selection:drop_truncated", inputs=("truncated", "mask"), terms=("selected",),
           level="response", active=lambda hp: bool(hp["mask_truncated_completions"]),
           relation=_drop_truncated_relation, citation="Yu et al., DAPO, arXiv:2503.14476")
def drop_truncated_card(hp):
    return card("filter_truncated", "drop-truncated", "Overlong filtering",
                r"m_{i,t} \leftarrow m_{i,t}\cdot[\text{response } i \text{ not truncated}]",
                "Responses cut off at the length limit are dropped entirely: their tokens get zero weight and "
                "leave every denominator, so an unfinished answer is neither rewarded nor punished.")


def _top_entropy_relation(step, hp):
    entropy, selected = step.token("entropy"), step.token("selected")
    if entropy is None or selected is None:
        return [missing("selection", "sel = [H ≥ q_{1−ρ}(H)]", "entropy", "selected")]
    kept = step.kept() > 0
    if not kept.any():
        return [unchecked("selection", "sel = [H ≥ q_{1−ρ}(H)]", "no real token in this step")]
    values = entropy[kept].astype(np.float32)
    threshold = float(np.quantile(values, 1.0 - hp["top_entropy_quantile"]))
    expected = (entropy >= threshold) & kept
    # Tokens within float32 rounding of the threshold may fall on either side of it.
    near = np.abs(entropy - threshold) <= 4 * 2.0 ** -23 * max(abs(threshold), 1e-30)
    return [compare("selection", f"sel = [H ≥ q_{{1−ρ}}(H)], ρ = {hp['top_entropy_quantile']:g}", selected,
                    expected.astype(np.float64), where=~near, atol=0.0)]


@component("selection", "top_entropy", summary="80/20: only the top-ρ highest-entropy tokens carry the policy gradient",
           compute="unipo.algorithms.selection:high_entropy_tokens", inputs=("entropy", "mask"), terms=("selected",),
           level="batch", active=lambda hp: hp["top_entropy_quantile"] < 1.0,
           batch_dependent=lambda hp: "the entropy threshold is a quantile over the update's tokens",
           relation=_top_entropy_relation,
           citation="Wang et al., Beyond the 80/20 Rule: High-Entropy Minority Tokens, arXiv:2506.01939")
def top_entropy_card(hp):
    rho = hp["top_entropy_quantile"]
    return card("selection", f"top-entropy-{rho:g}", "Token selection",
                rf"{t('selected')} = m_{{i,t}}\cdot\big[{t('entropy')} \ge q_{{1-{rho:g}}}(\mathcal{{H}})\big]",
                f"Only the top {rho:.0%} highest-entropy tokens of the batch carry the policy gradient (the others "
                "keep their weight but contribute no surrogate; the KL term still acts on them).")


def _entropy_relation(step, hp):
    entropy, bonus = step.token("entropy"), step.token("entropy_bonus")
    if entropy is None or bonus is None:
        return [missing("entropy", "bonus = β_H·H", "entropy", "entropy_bonus")]
    selected = step.token("selected")
    factor = step.kept() if selected is None else selected
    return [compare("entropy", "bonus = β_H·H", bonus, hp["entropy_coef"] * entropy * factor)]


@component("entropy_control", "bonus", summary="entropy bonus β_H·H, aggregated with the policy weights",
           compute=None, inputs=("entropy",), terms=("entropy_bonus",),
           active=lambda hp: hp["entropy_coef"] != 0.0 and not hp.get("adaptive_entropy"), relation=_entropy_relation)
def entropy_card(hp):
    return card("entropy", "bonus", "Entropy bonus", rf"{t('entropy_bonus')} = {hp['entropy_coef']:g}\cdot{t('entropy')}",
                "Entropy bonus, aggregated with the same weights as the policy term (verl's convention; TRL "
                "instead adds a plain token-mean of the entropy).")

"""Trust regions: how the ratio r and the advantage Â make the surrogate u (axis "clip", clip_mode)."""
from __future__ import annotations

import numpy as np

from unipo.algorithms.cards import card, t
from unipo.algorithms.components._shared import surrogate_factor
from unipo.algorithms.registry import component
from unipo.algorithms.stored import compare, missing

_INPUTS = ("ratio", "advantage")
_FLAGS = ("clipped_low", "clipped_high", "clipped", "min_branch")


def _ra(step):
    return step.token("ratio"), step.token("advantage")


def _ppo_value(r, a, hp):
    low, high = 1 - hp["epsilon"], 1 + hp["epsilon_high"]
    capped = r if hp["delta"] is None else np.minimum(r, hp["delta"])
    return np.minimum(capped * a, np.clip(r, low, high) * a)


def _ppo_flags(r, a, hp):
    low = (r < 1 - hp["epsilon"]) & (a < 0)
    high = (r > 1 + hp["epsilon_high"]) & (a > 0)
    if hp["delta"] is not None:
        high = high | ((r > hp["delta"]) & (a < 0))
    return low, high


def _ppo_relation(step, hp):
    r, a = _ra(step)
    if r is None or a is None:
        return [missing("clip", "u = min(r·Â, clip(r)·Â)", "ratio", "advantage")]
    factor = surrogate_factor(step)
    checks = [compare("clip", "u = min(r·Â, clip(r, 1−ε_low, 1+ε_high)·Â)", step.token("surrogate"),
                      _ppo_value(r, a, hp) * factor)]
    low, high = _ppo_flags(r, a, hp)
    kept = step.kept() > 0
    for name, flag in (("clipped_low", low), ("clipped_high", high), ("clipped", low | high)):
        stored = step.token(name)
        if stored is not None:
            checks.append(compare("clip", f"{name} = [clip fired]", stored, flag & kept, atol=0.0))
    return checks


def _ppo_derivative(r, a, logprob, hp):
    """∂u/∂log r: r·Â on the unclipped branch, 0 where the clip (or the dual-clip cap) holds u."""
    low, high = _ppo_flags(r, a, hp)
    return np.where(low | high, 0.0, r * a), "log_ratio"


@component("clip", "ppo", summary="PPO clip min(r·Â, clip(r, 1−ε_low, 1+ε_high)·Â), optional dual clip δ",
           compute="unipo.algorithms.clipping:PPO", inputs=_INPUTS, terms=("surrogate",) + _FLAGS,
           relation=_ppo_relation, derivative=_ppo_derivative,
           citation="Schulman et al., Proximal Policy Optimization Algorithms, arXiv:1707.06347")
def ppo_card(hp):
    r, a, u = t("ratio"), t("advantage"), t("surrogate")
    low, high = hp["epsilon"], hp["epsilon_high"]
    capped = r if hp["delta"] is None else rf"\min({r}, {t('delta')})"
    latex = (rf"{u} = \min\!\Big({capped}\,{a},\ {t('min_branch')}\big({r}, 1-{t('epsilon_low')}, "
             rf"1+{t('epsilon_high')}\big)\,{a}\Big)")
    text = (f"PPO clip with ε_low = {low:g}, ε_high = {high:g}: once r leaves [1−ε_low, 1+ε_high] in the "
            "direction the advantage pushes, the clipped branch wins and the token's gradient is cut.")
    variant = "ppo-symmetric" if low == high else "ppo-asymmetric"
    if hp["delta"] is not None:
        text += f" Dual clip: for Â < 0 the objective is capped at δ·Â once r > δ = {hp['delta']:g}."
        variant += "+dual"
    return card("clip", variant, "Surrogate and trust region", latex, text)


def _cispo_relation(step, hp):
    r, a, lp = step.token("ratio"), step.token("advantage"), step.token("logprob")
    if r is None or a is None or lp is None:
        return [missing("clip", "u = sg(min(r, ε_max))·Â·ℓ", "ratio", "advantage", "logprob")]
    expected = np.minimum(r, hp["epsilon_high"]) * a * lp * surrogate_factor(step)
    return [compare("clip", "u = sg(min(r, ε_max))·Â·ℓ", step.token("surrogate"), expected)]


def _cispo_derivative(r, a, logprob, hp):
    return np.minimum(r, hp["epsilon_high"]) * a, "logprob"


@component("clip", "cispo", summary="CISPO: the truncated, stop-gradient ratio weights the REINFORCE term Â·ℓ",
           compute="unipo.algorithms.clipping:CISPO", inputs=_INPUTS + ("logprob",),
           terms=("surrogate", "clipped_high", "clipped"), relation=_cispo_relation, derivative=_cispo_derivative,
           citation="MiniMax-M1, arXiv:2506.13585")
def cispo_card(hp):
    r, a, u = t("ratio"), t("advantage"), t("surrogate")
    return card("clip", "cispo", "Surrogate and trust region",
                rf"{u} = \mathrm{{sg}}\big(\min({r}, {t('epsilon_max')})\big)\,{a}\,{t('logprob')}",
                f"CISPO: the ratio, truncated at ε_max = {hp['epsilon_high']:g} and stop-gradient, weights the "
                "REINFORCE term Â·ℓ; no token's gradient is ever cut, large ratios only shrink it. The value "
                "carries ℓ (negative), so the objective's sign is not the push direction: see g.")


def _sapo_gate(r, a, hp):
    tau = np.where(a > 0, hp["sapo_temperature_pos"], hp["sapo_temperature_neg"])
    return 1.0 / (1.0 + np.exp(-tau * (r - 1))), tau


def _sapo_relation(step, hp):
    r, a = _ra(step)
    if r is None or a is None:
        return [missing("clip", "u = sigmoid(τ(r−1))·4/τ·Â", "ratio", "advantage")]
    gate, tau = _sapo_gate(r, a, hp)
    return [compare("clip", "u = sigmoid(τ(r−1))·4/τ·Â", step.token("surrogate"),
                    gate * 4 / tau * a * surrogate_factor(step))]


def _sapo_derivative(r, a, logprob, hp):
    gate, _ = _sapo_gate(r, a, hp)
    return 4 * gate * (1 - gate) * r * a, "log_ratio"


@component("clip", "sapo", summary="SAPO: a smooth sigmoid gate on the ratio instead of a hard clip",
           compute="unipo.algorithms.clipping:SAPO", inputs=_INPUTS, terms=("surrogate",),
           relation=_sapo_relation, derivative=_sapo_derivative,
           citation="Soft Adaptive Policy Optimization, arXiv:2511.20347")
def sapo_card(hp):
    r, a, u = t("ratio"), t("advantage"), t("surrogate")
    return card("clip", "sapo", "Surrogate and trust region",
                rf"{u} = \mathrm{{sigmoid}}\!\big({t('temperature')}({r}-1)\big)\,\frac{{4}}{{{t('temperature')}}}\,{a}",
                f"SAPO soft gate (τ_pos = {hp['sapo_temperature_pos']:g}, τ_neg = {hp['sapo_temperature_neg']:g}): "
                "the gradient factor is 1 at r = 1 and fades smoothly as r moves away, instead of a hard cut.")


def _none_relation(step, hp):
    r, a = _ra(step)
    if r is None or a is None:
        return [missing("clip", "u = r·Â", "ratio", "advantage")]
    return [compare("clip", "u = r·Â", step.token("surrogate"), r * a * surrogate_factor(step))]


def _none_derivative(r, a, logprob, hp):
    return r * a, "log_ratio"


@component("clip", "none", summary="no trust region: the importance-weighted advantage r·Â",
           compute="unipo.algorithms.clipping:NO_CLIP", inputs=_INPUTS, terms=("surrogate",),
           relation=_none_relation, derivative=_none_derivative)
def none_card(hp):
    return card("clip", "none", "Surrogate and trust region", rf"{t('surrogate')} = {t('ratio')}\,{t('advantage')}",
                "No trust region: the importance-weighted advantage.")

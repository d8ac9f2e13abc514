"""BAPO (arXiv:2510.18927): PPO clip whose bounds are searched per batch.

Torch-free descriptor; tensor code in unipo.algorithms.bapo."""
from __future__ import annotations

import math

import numpy as np

from unipo.algorithms.cards import card, t
from unipo.algorithms.components._shared import surrogate_factor
from unipo.algorithms.formula_terms import define_term
from unipo.algorithms.hparams import HParam
from unipo.algorithms.registry import component
from unipo.algorithms.stored import compare, missing, unchecked

BAPO_CITATION = "Xi et al., BAPO: Balanced Policy Optimization with Adaptive Clipping, arXiv:2510.18927"

define_term("bapo_clip_low", r"c_{\text{low}}", None, "clip", "BAPO's searched lower ratio bound (metric bapo_clip_low)")
define_term("bapo_clip_high", r"c_{\text{high}}", None, "clip", "BAPO's searched upper ratio bound (metric bapo_clip_high)")


# -- BAPO ----------------------------------------------------------------------------------------

def bapo_contributions(r, a, w, low, high, mode):
    if mode == "clamped":
        effective = np.where(a >= 0, np.minimum(r, high), np.maximum(r, low)) * a * w
    else:
        effective = np.where(np.where(a >= 0, r <= high, r >= low), r * a, 0.0) * w
    return float(np.clip(effective, 0, None).sum()), float(np.clip(-effective, 0, None).sum())


def bapo_search(r, a, w, hp):
    """The reference loop: raise the lower bound by δ until pos/neg ≥ ρ0/(1 − ρ0) or it reaches its
    max, then the upper bound; (c_low, c_high, positive share). The surrogate (unipo.algorithms.bapo)
    runs this same function on its detached ratios and advantages."""
    r = np.clip(r, math.exp(-20.0), math.exp(20.0))
    rho = hp["bapo_positive_share"]
    target, step, mode = rho / (1.0 - rho), hp["bapo_step"], hp["bapo_contribution"]
    low, high = hp["bapo_lower_start"], hp["bapo_upper_start"]
    low_max, high_max = max(hp["bapo_lower_max"], low), max(hp["bapo_upper_max"], high)

    def ratio(pos, neg):
        return math.inf if neg <= 0 else pos / (neg + 1e-8)

    pos, neg = bapo_contributions(r, a, w, low, high, mode)
    while ratio(pos, neg) < target and low < low_max and step > 0:
        low = min(low + step, low_max)
        pos, neg = bapo_contributions(r, a, w, low, high, mode)
    while ratio(pos, neg) < target and high < high_max and step > 0:
        high = min(high + step, high_max)
        pos, neg = bapo_contributions(r, a, w, low, high, mode)
    return low, high, (pos / (pos + neg) if pos + neg > 0 else 1.0)


def _bapo_loss_bounds(r, a, hp):
    """The bounds the surrogate used. A stored step holds real tokens only, and tokens its loss left
    out (filtered responses) store Â = 0, which contributes nothing to the search: weight 1 for all."""
    return bapo_search(r, a, np.ones_like(r), hp)


def _bapo_flags(r, a, low, high, hp):
    clipped_low = (r < low) & (a < 0)
    clipped_high = (r > high) & (a > 0)
    if hp["delta"] is not None:
        clipped_high = clipped_high | ((r > hp["delta"]) & (a < 0))
    return clipped_low, clipped_high


def _bapo_relation(step, hp):
    r, a = step.token("ratio"), step.token("advantage")
    if r is None or a is None:
        return [missing("clip", "u = min(r·Â, clip(r, c_low, c_high)·Â)", "ratio", "advantage")]
    if hp["importance_sampling_level"] != "token":
        return [unchecked("clip", "u = min(r·Â, clip(r, c_low, c_high)·Â)",
                          "BAPO's bound search is recomputed for token-level ratios only")]
    low, high, share = _bapo_loss_bounds(r, a, hp)
    checks = []
    all_low, all_high, all_share = bapo_search(r, a, np.ones_like(r), hp)
    for metric, value in (("bapo_clip_low", all_low), ("bapo_clip_high", all_high), ("bapo_positive_share", all_share)):
        stored = step.metrics.get(metric)
        if isinstance(stored, (int, float)):
            checks.append(compare("clip", f"{metric} = the bound search on the step's r, Â", np.array([stored]),
                                  np.array([value]), rtol=1e-5, atol=1e-6))
    capped = r if hp["delta"] is None else np.minimum(r, hp["delta"])
    expected = np.minimum(capped * a, np.clip(r, low, high) * a) * surrogate_factor(step)
    checks.append(compare("clip", f"u = min(r·Â, clip(r, c_low = {low:.4g}, c_high = {high:.4g})·Â)",
                          step.token("surrogate"), expected))
    clipped_low, clipped_high = _bapo_flags(r, a, all_low, all_high, hp)
    kept = step.kept() > 0
    for name, flag in (("clipped_low", clipped_low), ("clipped_high", clipped_high),
                       ("clipped", clipped_low | clipped_high)):
        stored = step.token(name)
        if stored is not None:
            checks.append(compare("clip", f"{name} = [clip fired]", stored, flag & kept, atol=0.0))
    return checks


def _bapo_derivative(r, a, logprob, hp):
    low, high, _ = _bapo_loss_bounds(r, a, hp)
    clipped_low, clipped_high = _bapo_flags(r, a, low, high, hp)
    return np.where(clipped_low | clipped_high, 0.0, r * a), "log_ratio"


@component("clip", "bapo", summary="BAPO: PPO clip with bounds searched per batch until positive tokens carry a share ρ0",
           compute="unipo.algorithms.bapo:BAPO", inputs=("ratio", "advantage", "logprob", "mask"),
           terms=("surrogate", "clipped_low", "clipped_high", "clipped", "min_branch"),
           batch_dependent=lambda hp: "BAPO's clip bounds are searched over the update's tokens",
           relation=_bapo_relation, derivative=_bapo_derivative, citation=BAPO_CITATION,
           hparams={
               "bapo_positive_share": HParam(0.5, "BAPO ρ0: target share of positive contributions (code target pos/neg = ρ0/(1−ρ0))", minimum=0.0, maximum=0.99),
               "bapo_lower_start": HParam(0.6, "BAPO a⁻: lower ratio bound c_low starts here (absolute ratio)", minimum=0.0, maximum=1.0),
               "bapo_lower_max": HParam(0.9, "BAPO b⁻: c_low is raised at most to this (paper 0.9; repo yaml 0.8)", minimum=0.0, maximum=1.0),
               "bapo_upper_start": HParam(1.2, "BAPO a⁺: upper ratio bound c_high starts here (absolute ratio)", minimum=1.0),
               "bapo_upper_max": HParam(3.0, "BAPO b⁺: c_high is raised at most to this (paper 3.0; repo yaml 2.0)", minimum=1.0),
               "bapo_step": HParam(0.05, "BAPO δ: step of the bound search", minimum=0.0),
               "bapo_contribution": HParam("unclipped", "what a token contributes to the balance: r·Â if the clip leaves it a gradient "
                                           "(unclipped), or the verl recipe's clamped-ratio·Â (clamped)", ("unclipped", "clamped"), str),
           })
def bapo_card(hp):
    r, a, u = t("ratio"), t("advantage"), t("surrogate")
    low, high = t("bapo_clip_low"), t("bapo_clip_high")
    capped = r if hp["delta"] is None else rf"\min({r}, {t('delta')})"
    rho = hp["bapo_positive_share"]
    if hp["bapo_contribution"] == "clamped":
        positive = rf"\sum_{{{a}>0}} \min({r}, {high})\,{a}"
        share = rf"\frac{{{positive}}}{{{positive} + \sum_{{{a}<0}} \max({r}, {low})\,|{a}|}}"
        how = "a token contributes its clamped ratio times Â (the verl recipe's proxy)"
    else:
        share = (rf"\frac{{\sum_{{{a}>0,\ {r}\le {high}}} {r}{a}}}{{\sum_{{{a}>0,\ {r}\le {high}}} {r}{a} + "
                 rf"\sum_{{{a}<0,\ {r}\ge {low}}} {r}|{a}|}}")
        how = "a token contributes r·Â when the clip leaves it a gradient"
    latex = (rf"{u} = \min\!\Big({capped}\,{a},\ {t('min_branch')}\big({r}, {low}, {high}\big)\,{a}\Big),\quad "
             rf"({low}, {high}) = \text{{first with }} {share} \ge {rho:g}")
    text = (f"BAPO: before each loss, c_low is raised from {hp['bapo_lower_start']:g} towards {hp['bapo_lower_max']:g} "
            f"and then c_high from {hp['bapo_upper_start']:g} towards {hp['bapo_upper_max']:g} in steps of "
            f"{hp['bapo_step']:g} until positive-advantage tokens make up a share ρ0 = {rho:g} of the batch's "
            f"contributions ({how}); the bounds restart every update and are logged as bapo_clip_low / "
            "bapo_clip_high / bapo_positive_share.")
    if hp["delta"] is not None:
        text += f" Dual clip at δ = {hp['delta']:g} for Â < 0."
    return card("clip", f"bapo-{hp['bapo_contribution']}", "Surrogate and adaptive trust region", latex, text,
                citation=BAPO_CITATION)

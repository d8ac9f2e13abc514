"""Adaptive entropy control (Skywork-OR1 / TRL use_adaptive_entropy; axis "entropy_control") and GFPO
group filtering (axis "sample_filter", rollout-side). Torch-free descriptors; the tensor code is in
unipo.algorithms.entropy_control and unipo.algorithms.gfpo."""
from __future__ import annotations

import math

import numpy as np

from unipo.algorithms.cards import card, t
from unipo.algorithms.formula_terms import define_term
from unipo.algorithms.hparams import HParam
from unipo.algorithms.registry import component
from unipo.algorithms.stored import compare, missing, unchecked

ENTROPY_COEF_METRIC = "entropy_coef"  # the coefficient the objective applied at this step
GFPO_MARGIN_METRIC = "gfpo_margin"    # rollout stat: min_g (best dropped score − worst kept score)

define_term("entropy_coef_adaptive", r"\beta^{(k)}_{\mathcal{H}}", None, "entropy",
            "entropy coefficient the adaptive controller applied at this step (metric entropy_coef)")


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


# ------------------------------------------------------------------ adaptive entropy control

def _adaptive_relation(step, hp):
    name = "bonus = β_H^(k)·H, β_H^(k) = the step's entropy_coef"
    entropy, bonus = step.token("entropy"), step.token("entropy_bonus")
    if entropy is None or bonus is None:
        return [missing("entropy", name, "entropy", "entropy_bonus")]
    coef = _number(step.metrics.get(ENTROPY_COEF_METRIC))
    if coef is None:
        return [unchecked("entropy", name, "the step's metrics carry no entropy_coef (the coefficient the "
                          "adaptive controller applied was not passed to the objective)")]
    selected = step.token("selected")
    factor = step.kept() if selected is None else selected
    upper = max(hp["entropy_coef_max"], hp["entropy_coef"])
    return [
        compare("entropy", name, bonus, coef * entropy * factor),
        compare("entropy", f"0 ≤ β_H^(k) ≤ max(c_max, c_0) = {upper:g}", np.array([min(max(coef, 0.0), upper)]),
                np.array([coef]), atol=0.0),
        unchecked("entropy", "β_H^(k) = c_k·[H̄_(k−1) ≤ H*], c_k = clip(c_(k−1) ± Δ)",
                  "the controller's update reads the previous optimizer step's coefficient and entropy, which "
                  "one stored step does not hold"),
    ]


@component("entropy_control", "adaptive",
           summary="adaptive entropy bonus: the coefficient moves by Δ per step to hold the entropy at a target",
           compute="unipo.algorithms.entropy_control:next_entropy_coef", inputs=("entropy",), terms=("entropy_bonus",),
           level="batch", active=lambda hp: bool(hp["adaptive_entropy"]), relation=_adaptive_relation,
           batch_dependent=lambda hp: "the coefficient is set from the previous optimizer step's mean entropy",
           hparams={
               "adaptive_entropy": HParam(False, "adaptive entropy control (Skywork-OR1; TRL use_adaptive_entropy): "
                                                 "entropy_coef is the initial coefficient, updated every optimizer step", kind=bool),
               "entropy_target": HParam(0.2, "target mean token entropy H* of adaptive entropy control", minimum=0.0),
               "entropy_coef_delta": HParam(0.005, "step Δ of the adaptive entropy coefficient per optimizer step (TRL 0.005; Skywork 1e-4)", minimum=0.0),
               "entropy_coef_min": HParam(0.0, "lower bound of the adaptive entropy coefficient", minimum=0.0),
               "entropy_coef_max": HParam(1.0, "upper bound of the adaptive entropy coefficient (TRL 1.0; Skywork 5e-3)", minimum=0.0),
               "adaptive_entropy_rule": HParam("trl", "controller variant: trl (H ≤ H* increments, first step gated off) "
                                                      "or skywork (H < H*, clipped both ways, first step gated on)",
                                               choices=("trl", "skywork"), kind=str),
           },
           citation="He et al., Skywork Open Reasoner 1 Technical Report, arXiv:2505.22312")
def adaptive_entropy_card(hp):
    low, high = hp["entropy_coef_min"], hp["entropy_coef_max"]
    if low > high:
        raise ValueError(f"entropy_coef_min ({low}) must not exceed entropy_coef_max ({high})")
    strict = hp["adaptive_entropy_rule"] == "skywork"
    cmp = "<" if strict else r"\le"
    target = hp["entropy_target"]
    delta = f"{hp['entropy_coef_delta']:g}"
    head = (rf"{t('entropy_bonus')} = {t('entropy_coef_adaptive')}\,{t('entropy')},\quad "
            rf"{t('entropy_coef_adaptive')} = c_k\,\big[\bar{{\mathcal{{H}}}}_{{k-1}} {cmp} {target:g}\big],\quad ")
    if strict:  # Skywork: float(np.clip(c ± Δ, c_min, c_max))
        latex = head + (rf"c_k = \mathrm{{clip}}\big(c_{{k-1}} \pm {delta},\ [{low:g}, {high:g}]\big),\ "
                        rf"+ \text{{ iff }} \bar{{\mathcal{{H}}}}_{{k-1}} < {target:g}")
    else:
        latex = head + (rf"c_k = \begin{{cases}}\min(c_{{k-1}} + {delta},\ {high:g}) & "
                        rf"\bar{{\mathcal{{H}}}}_{{k-1}} \le {target:g}\\ \max(c_{{k-1}} - {delta},\ {low:g}) & "
                        rf"\text{{otherwise}}\end{{cases}}")
    first = ("on, with the initial coefficient" if strict else
             "off: TRL starts from an infinite last entropy")
    return card("entropy", "adaptive", "Adaptive entropy bonus", latex,
                f"Adaptive entropy control ({'Skywork-OR1' if strict else 'TRL'} rule): after every optimizer step "
                f"the coefficient c moves up by Δ when the step's mean token entropy H̄ is "
                f"{'below' if strict else 'at or below'} the target H* = {target:g}, down by Δ otherwise, "
                f"within [{low:g}, {high:g}] (c₀ = entropy_coef = {hp['entropy_coef']:g}); the bonus only acts "
                f"while H̄ is under the target. The first step's gate is {first}. H̄ is what the engine measures "
                f"({'the paper: −mean of the rollout log-probs' if strict else 'TRL: the mean policy entropy of the step’s selected tokens'}). "
                "The coefficient applied at this step is logged as entropy_coef.")


# ------------------------------------------------------------------ GFPO

def _gfpo_relation(step, hp):
    k = hp["gfpo_keep"]
    groups = step.groups()
    checks = []
    if groups is None:
        checks.append(missing("gfpo", f"each group keeps k = {k} responses", "group"))
    else:
        counts = np.bincount(groups).astype(np.float64)
        checks.append(compare("gfpo", f"each group keeps k = {k} responses", counts, np.full(len(counts), float(k)),
                              atol=0.0))
    best = "shortest" if hp["gfpo_metric"] == "length" else "most token-efficient (R/L)"
    name = f"the kept responses are the {best} of their sampled group"
    margin = _number(step.metrics.get(GFPO_MARGIN_METRIC))
    if margin is None:
        checks.append(unchecked("gfpo", name, "the dropped responses are not stored in the step and its metrics "
                                "carry no gfpo_margin (the rollout's best-dropped − worst-kept score)"))
    else:
        # Only the rollout's summary of the filtering is stored: this checks the filter's own record.
        checks.append(compare("gfpo", name + " (rollout gfpo_margin ≥ 0)", np.array([min(margin, 0.0)]),
                              np.array([0.0]), atol=0.0))
    sampled = _number(step.metrics.get("gfpo_sampled_per_group"))
    if sampled is not None:
        checks.append(compare("gfpo", f"k = {k} ≤ G sampled per group", np.array([min(sampled, k)]),
                              np.array([float(k)]), atol=0.0))
    return checks


@component("sample_filter", "gfpo",
           summary="GFPO: sample G responses per prompt, train on the k shortest (or most reward per token)",
           compute="unipo.algorithms.gfpo:gfpo_filter", inputs=("reward", "response_length", "group"),
           level="response", rollout_side=True, active=lambda hp: hp["gfpo_keep"] > 0, relation=_gfpo_relation,
           hparams={
               "gfpo_keep": HParam(0, "GFPO: responses k kept per group out of the G sampled (0 = off; the paper "
                                      "keeps 4–8 of 16–24)", kind=int, minimum=0),
               "gfpo_metric": HParam("length", "GFPO filter: keep the shortest (length) or the highest reward per "
                                               "token (token_efficiency)", choices=("length", "token_efficiency"), kind=str),
           },
           citation="Shrivastava et al., Sample More to Think Less: Group Filtered Policy Optimization, arXiv:2508.09726")
def gfpo_card(hp):
    k = hp["gfpo_keep"]
    if hp["gfpo_metric"] == "length":
        score, words = t("length"), "shortest"
        rule = rf"\mathcal{{S}}_g = \text{{the }} {k} \text{{ responses of }} g \text{{ with the smallest }} {score}"
    else:
        score, words = rf"{t('reward')}/{t('length')}", "with the most reward per token"
        rule = rf"\mathcal{{S}}_g = \text{{the }} {k} \text{{ responses of }} g \text{{ with the largest }} {score}"
    latex = rule + rf",\quad \hat{{A}}_i \text{{ from }} \{{{t('reward', 'R_j')} : j \in \mathcal{{S}}_g\}} \text{{ only}}"
    return card("gfpo", f"{hp['gfpo_metric']}-{k}", "Group filtering (GFPO)", latex,
                f"GFPO: each prompt's G sampled responses (G = the engine's group size) are ranked and only the {k} {words} "
                "are kept (ties to the earlier sample); the others are dropped before advantages, so the group "
                "statistics are those of the kept set and the dropped responses never enter the loss.")

"""HA-DW (arXiv:2601.08521): history-aware difficulty weights on group-relative advantages.

Torch-free descriptor; tensor code in unipo.algorithms.hadw."""
from __future__ import annotations

import numpy as np

from unipo.algorithms.cards import card, t
from unipo.algorithms.formula_terms import define_term
from unipo.algorithms.hparams import HParam
from unipo.algorithms.registry import component
from unipo.algorithms.stored import compare, missing

HADW_CITATION = "Yang et al., Your Group-Relative Advantage Is Biased (HA-DW), arXiv:2601.08521"

define_term("hadw_weight", r"\Phi_i", "hadw_weight", "hadw", "HA-DW difficulty weight of response i")
define_term("hadw_anchor", r"C^{-}", "hadw_anchor", "hadw", "HA-DW difficulty anchor: running belief of the batch accuracy")
define_term("hadw_group_accuracy", r"\hat{p}_{g(i)}", "hadw_group_accuracy", "hadw", "accuracy of the prompt's group")


# -- HA-DW ---------------------------------------------------------------------------------------

def _hadw_relation(step, hp):
    name = "Â'_i = Φ_i·Â_i, Φ_i = λ·exp(−sgn(Â)·sgn(p̂ − C⁻)·|p̂ − C⁻|)"
    reward, groups = step.response_value("reward"), step.groups()
    estimate, advantage = step.response_value("advantage_estimate"), step.response_value("advantage")
    anchor = step.response_value("hadw_anchor")
    absent = [n for n, v in (("reward", reward), ("group", groups), ("advantage_estimate", estimate),
                             ("advantage", advantage), ("hadw_anchor", anchor)) if v is None]
    if absent:
        return [missing("hadw", name, *absent)]
    correct = (reward > hp["hadw_correct_threshold"]).astype(np.float64)
    accuracy = (np.bincount(groups, weights=correct) / np.bincount(groups))[groups]
    checks = []
    stored_accuracy = step.response_value("hadw_group_accuracy")
    if stored_accuracy is not None:
        checks.append(compare("hadw", "p̂_g = group mean of [R > threshold]", stored_accuracy, accuracy))
    checks.append(compare("hadw", "C⁻ is one value for the whole rollout", anchor, np.full_like(anchor, anchor[0])))
    diff = accuracy - anchor
    weight = hp["hadw_lambda"] * np.exp(-np.sign(estimate) * np.sign(diff) * np.abs(diff))
    stored_weight = step.response_value("hadw_weight")
    if stored_weight is not None:
        checks.append(compare("hadw", "Φ_i = λ·exp(D_i·M_g)", stored_weight, weight, rtol=1e-6))
    keep = step.lengths > 0
    truncated = step.response("truncated")
    if truncated is not None and hp["mask_truncated_completions"]:
        keep = keep & (truncated == 0)
    return checks + [compare("hadw", name, advantage, weight * estimate, where=keep, rtol=1e-6)]


@component("advantage_modifier", "hadw", summary="HA-DW: re-weight group-relative advantages by the prompt's "
           "difficulty relative to a running accuracy anchor", compute="unipo.algorithms.hadw:hadw_modifier",
           inputs=("reward", "group", "advantage"), response_terms=("hadw_weight", "hadw_anchor", "hadw_group_accuracy"),
           level="response", active=lambda hp: bool(hp["use_hadw"]), relation=_hadw_relation, citation=HADW_CITATION,
           batch_dependent=lambda hp: "HA-DW's anchor C is a running average of earlier batches' accuracies",
           hparams={
               "use_hadw": HParam(False, "HA-DW: multiply advantages by the history-aware difficulty weight Φ", kind=bool),
               "hadw_eta": HParam(0.1, "HA-DW η: anchor step size, η_t = η·σ_t", minimum=0.0, maximum=1.0),
               "hadw_lambda": HParam(1.0, "HA-DW λ_scale in Φ = λ·exp(D·M)", minimum=0.0),
               "hadw_window": HParam(10, "HA-DW: number of recent batch accuracies whose std is σ_t", kind=int, minimum=1),
               "hadw_correct_threshold": HParam(0.5, "HA-DW: a response counts as correct when its reward exceeds this", kind=float),
           })
def hadw_card(hp):
    a, est = t("advantage"), t("advantage_estimate")
    phi, c, p = t("hadw_weight"), t("hadw_anchor"), t("hadw_group_accuracy")
    latex = (rf"{a} = {phi}\,{est},\quad {phi} = {hp['hadw_lambda']:g}\,\exp\!\big(-\mathrm{{sgn}}({est})\,"
             rf"\mathrm{{sgn}}({p} - {c})\,|{p} - {c}|\big),\quad C^{{+}} = (1-\eta_t)\,{c} + \eta_t\,y,\ "
             rf"\eta_t = {hp['hadw_eta']:g}\,\sigma_t")
    text = ("HA-DW: a prompt's group accuracy p̂ is compared with a running belief C of the model's accuracy. "
            "On a prompt harder than C (p̂ < C) positive advantages grow and negative ones shrink by exp(|p̂ − C|); on "
            "an easier one the reverse, undoing the group-relative estimate's bias. After each rollout C moves towards "
            f"the batch accuracy y by η_t = η·σ_t (σ_t: std of the last {hp['hadw_window']} batch accuracies). "
            f"Choices where the paper is not explicit: correct = reward > {hp['hadw_correct_threshold']:g}; C starts at "
            "the first batch's accuracy; σ_t is the population std including the current batch (0 for the first, so C "
            "stays put until there is a spread); C is updated after the rollout's weights are computed.")
    return card("hadw", "hadw", "HA-DW difficulty weights", latex, text, citation=HADW_CITATION)

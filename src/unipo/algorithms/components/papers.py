"""Components from papers without a framework implementation (torch-free descriptors):

- GTPO (advantage_modifier "gtpo"): conflict-token weights and the entropy completion filter;
- BAPO (clip "bapo"): PPO clip with per-batch adaptive bounds;
- HA-DW (advantage_modifier "hadw"): history-aware difficulty weights on group-relative advantages.

Tensor code: unipo.algorithms.gtpo / bapo / hadw. Each relation recomputes its card from stored columns.
"""
from __future__ import annotations

import math

import numpy as np

from unipo.algorithms.cards import card, t
from unipo.algorithms.components._shared import surrogate_factor
from unipo.algorithms.formula_terms import GLOSSARY, define_term
from unipo.algorithms.hparams import HParam
from unipo.algorithms.registry import component
from unipo.algorithms.stored import compare, missing, unchecked

GTPO_CITATION = "Simoni et al., GTPO: Trajectory-Based Policy Optimization in LLMs, arXiv:2508.03772"
BAPO_CITATION = "Xi et al., BAPO: Balanced Policy Optimization with Adaptive Clipping, arXiv:2510.18927"
HADW_CITATION = "Yang et al., Your Group-Relative Advantage Is Biased (HA-DW), arXiv:2601.08521"

if "advantage_estimate" not in GLOSSARY:
    define_term("advantage_estimate", r"\hat{A}^{\text{est}}_i", "advantage_estimate", "advantage",
                "the estimator's advantage, before any advantage modifier")
define_term("gtpo_conflict", r"c_{i,t}", "gtpo_conflict", "gtpo",
            "1 on a conflict token: its id sits at the same position in a positive and a negative completion of the group")
define_term("gtpo_delta", r"\delta_{i,t}", "gtpo_delta", "gtpo", "GTPO conflict weight of the token (W, 0 or 1)")
define_term("gtpo_entropy", r"\bar{\mathcal{H}}_i", "gtpo_entropy", "gtpo", "mean token entropy of completion i")
define_term("bapo_clip_low", r"c_{\text{low}}", None, "clip", "BAPO's searched lower ratio bound (metric bapo_clip_low)")
define_term("bapo_clip_high", r"c_{\text{high}}", None, "clip", "BAPO's searched upper ratio bound (metric bapo_clip_high)")
define_term("hadw_weight", r"\Phi_i", "hadw_weight", "hadw", "HA-DW difficulty weight of response i")
define_term("hadw_anchor", r"C^{-}", "hadw_anchor", "hadw", "HA-DW difficulty anchor: running belief of the batch accuracy")
define_term("hadw_group_accuracy", r"\hat{p}_{g(i)}", "hadw_group_accuracy", "hadw", "accuracy of the prompt's group")


# -- GTPO ----------------------------------------------------------------------------------------

def _gtpo_active(hp):
    return bool(hp["gtpo_conflict_masking"] or hp["gtpo_entropy_filter"])


def _runs_from_raw(raw, offsets, reverse):
    """Per token: True when every token from its response's start (or, reversed, up to its end) is raw."""
    breaks = (~raw).astype(np.int64)
    if reverse:
        breaks = breaks[::-1]
        offsets = (len(raw) - offsets)[::-1]
    running = np.cumsum(breaks)
    start = np.repeat(np.concatenate([[0], running])[offsets[:-1]], np.diff(offsets))
    inside = running - start == 0
    return inside[::-1] if reverse else inside


def gtpo_conflicts(token_ids, groups, advantages, step):
    """(leading, trailing) conflict flags of the stored tokens (numpy twin of gtpo.conflict_runs)."""
    resp = step.token_response
    a = advantages[resp]
    positive, negative = a > 0, a < 0
    active = positive | negative
    k = step.position
    lengths = np.diff(step.offsets)[resp]
    flags = []
    for positions in (k, lengths - 1 - k):
        raw = np.zeros(len(resp), dtype=bool)
        if active.any():
            keys = np.stack([groups[resp], positions, token_ids.astype(np.int64)], axis=1)[active]
            _, inverse = np.unique(keys, axis=0, return_inverse=True)
            inverse = inverse.reshape(-1)
            has_pos = np.bincount(inverse[positive[active]], minlength=inverse.max() + 1) > 0
            has_neg = np.bincount(inverse[negative[active]], minlength=inverse.max() + 1) > 0
            raw[active] = has_pos[inverse] & has_neg[inverse]
        flags.append(raw)
    offsets = np.asarray(step.offsets)
    return (_runs_from_raw(flags[0], offsets, False) & active,
            _runs_from_raw(flags[1], offsets, True) & active)


def _gtpo_relation(step, hp):
    name = "Â_it = δ_it·Â'_i"
    estimate, advantage = step.response_value("advantage_estimate"), step.token("advantage")
    if estimate is None or advantage is None:
        return [missing("gtpo", name, "advantage_estimate", "advantage")]
    checks = []
    resp = step.token_response
    delta = np.ones(len(resp))
    count = np.zeros(step.num_responses)
    if hp["gtpo_conflict_masking"]:
        ids, groups = step.token("token_id"), step.groups()
        if ids is None or groups is None:
            return [missing("gtpo", name, "token_id", "group")]
        leading, trailing = gtpo_conflicts(ids, groups, estimate, step)
        positive = estimate[resp] > 0
        w = hp["gtpo_conflict_weight"]
        delta = np.where(leading, np.where(positive, w, 0.0), 1.0) * np.where(trailing, np.where(positive, w, 0.0), 1.0)
        conflict = (leading | trailing).astype(np.float64)
        count = step.response_sum(conflict)
        for column, expected in (("gtpo_conflict", conflict), ("gtpo_delta", delta)):
            stored = step.token(column)
            if stored is not None:
                checks.append(compare("gtpo", f"{column} from token ids, groups and signs of Â", stored, expected,
                                      atol=0.0))
    adjusted = estimate
    if hp["gtpo_entropy_filter"]:
        mean_entropy = step.response_value("gtpo_entropy")
        if mean_entropy is None:
            return checks + [missing("gtpo", name, "gtpo_entropy")]
        entropy, lp, old = step.token("entropy"), step.token("logprob"), step.token("old_logprob")
        if entropy is not None and lp is not None and old is not None and np.array_equal(lp, old):
            # On-policy update: the stored entropies are the rollout policy's, the ones the filter read.
            expected_h = step.response_sum(entropy) / np.maximum(step.lengths, 1.0)
            checks.append(compare("gtpo", "H̄_i = mean_t H_it", mean_entropy, expected_h, rtol=1e-5,
                                  where=step.lengths > 0))
        else:
            checks.append(unchecked("gtpo", "H̄_i = mean_t H_it", "the stored entropies are not the rollout "
                                    "policy's (an off-policy update) or are not stored"))
        adjusted = np.where(mean_entropy > hp["gtpo_entropy_threshold"], 0.0,
                            estimate - hp["gtpo_entropy_scale"] * mean_entropy)
    expected = delta * adjusted[resp]
    if hp["gtpo_divide_by_conflicts"]:
        expected = expected / np.maximum(count, 1.0)[resp]
    kept = step.kept() > 0
    return checks + [compare("gtpo", name, advantage, expected, where=kept, scale=np.abs(estimate[resp]) + 1.0)]


@component("advantage_modifier", "gtpo", summary="GTPO: conflict tokens (same id, same position, opposite-sign "
           "completions) skip negative updates and amplify positive ones; high-entropy completions are filtered",
           compute="unipo.algorithms.gtpo:gtpo_modifier", inputs=("advantage", "group", "token_id", "mask", "entropy"),
           terms=("gtpo_conflict", "gtpo_delta", "advantage"),
           response_terms=("gtpo_entropy", "gtpo_filtered", "gtpo_conflict_count"), level="token",
           active=_gtpo_active, relation=_gtpo_relation, citation=GTPO_CITATION,
           hparams={
               "gtpo_conflict_masking": HParam(False, "GTPO conflict tokens: skip their negative updates, weight positive ones by W", kind=bool),
               "gtpo_conflict_weight": HParam(2.0, "GTPO W: weight of a conflict token in a positive completion (code W_RAW)", minimum=0.0),
               "gtpo_entropy_filter": HParam(False, "GTPO entropy filter: Â ← Â − s·H̄ if H̄ ≤ τ_H, else 0", kind=bool),
               "gtpo_entropy_threshold": HParam(0.7, "GTPO τ_H: completions with mean entropy above it get Â = 0 (code ENT_THRESHOLD)", minimum=0.0),
               "gtpo_entropy_scale": HParam(0.1, "GTPO s: entropy penalty on the advantage (code ENT_SCALE)", minimum=0.0),
               "gtpo_divide_by_conflicts": HParam(False, "divide each completion's advantages by its conflict-token count (the reference code's quirk; the paper normalises by |o_i| only)", kind=bool),
           })
def gtpo_card(hp):
    a, est = t("advantage"), t("advantage_estimate")
    parts, text = [], []
    if hp["gtpo_conflict_masking"]:
        w = hp["gtpo_conflict_weight"]
        parts.append(rf"{t('gtpo_delta')} = \prod_{{\text{{fwd, bwd}}}} \begin{{cases}}{w:g} & {t('gtpo_conflict')} = 1,\ {est} > 0\\ "
                     rf"0 & {t('gtpo_conflict')} = 1,\ {est} < 0\\ 1 & \text{{otherwise}}\end{{cases}}")
        text.append(f"A conflict token has the same id at the same position (counted from the start, and from the end) "
                    f"in a positive and a negative completion of the group; only the unbroken run of conflicts from the "
                    f"first (last) token counts. Its negative update is skipped (δ = 0) and its positive one weighted "
                    f"by W = {w:g}; a token in both runs gets the product, W² (as the reference code).")
    adjusted = est
    if hp["gtpo_entropy_filter"]:
        adjusted = r"\hat{A}'_i"
        parts.append(rf"\hat{{A}}'_i = \begin{{cases}}{est} - {hp['gtpo_entropy_scale']:g}\,{t('gtpo_entropy')} & "
                     rf"{t('gtpo_entropy')} \le {hp['gtpo_entropy_threshold']:g}\\ 0 & \text{{otherwise}}\end{{cases}}")
        text.append(f"Completions whose mean token entropy exceeds τ_H = {hp['gtpo_entropy_threshold']:g} are filtered "
                    f"(Â = 0); the others pay an entropy penalty s·H̄ (s = {hp['gtpo_entropy_scale']:g}).")
    delta = t("gtpo_delta") + r"\," if hp["gtpo_conflict_masking"] else ""
    head = rf"{a} = {delta}{adjusted}"
    if hp["gtpo_divide_by_conflicts"] and hp["gtpo_conflict_masking"]:
        head += r" / \max(n^{\text{conf}}_i, 1)"
        text.append("Each completion is also divided by its conflict-token count, as the reference code does.")
    else:
        text.append("Normalised by |o_i| only, as the paper's formula (the reference code also divides each completion "
                    "by its conflict-token count: gtpo_divide_by_conflicts).")
    variant = "+".join(p for p, on in (("conflict", hp["gtpo_conflict_masking"]), ("entropy", hp["gtpo_entropy_filter"]),
                                        ("per-conflict", hp["gtpo_divide_by_conflicts"])) if on)
    return card("gtpo", variant, "GTPO advantage weights", r",\quad ".join([head] + parts), " ".join(text),
                citation=GTPO_CITATION)


# -- BAPO ----------------------------------------------------------------------------------------

def bapo_contributions(r, a, w, low, high, mode):
    if mode == "clamped":
        effective = np.where(a >= 0, np.minimum(r, high), np.maximum(r, low)) * a * w
    else:
        effective = np.where(np.where(a >= 0, r <= high, r >= low), r * a, 0.0) * w
    return float(np.clip(effective, 0, None).sum()), float(np.clip(-effective, 0, None).sum())


def bapo_search(r, a, w, hp):
    """numpy twin of bapo.search_bounds: (c_low, c_high, positive share)."""
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


def _bapo_loss_bounds(r, a, lp, hp):
    """The bounds the surrogate used: its search skips tokens it takes for padding (ℓ = 0 and r = 1)."""
    real = ~((lp == 0) & (r == 1)) if lp is not None else np.ones_like(r, dtype=bool)
    return bapo_search(r, a, real.astype(np.float64), hp)


def _bapo_flags(r, a, low, high, hp):
    clipped_low = (r < low) & (a < 0)
    clipped_high = (r > high) & (a > 0)
    if hp["delta"] is not None:
        clipped_high = clipped_high | ((r > hp["delta"]) & (a < 0))
    return clipped_low, clipped_high


def _bapo_relation(step, hp):
    r, a, lp = step.token("ratio"), step.token("advantage"), step.token("logprob")
    if r is None or a is None:
        return [missing("clip", "u = min(r·Â, clip(r, c_low, c_high)·Â)", "ratio", "advantage")]
    if hp["importance_sampling_level"] != "token":
        return [unchecked("clip", "u = min(r·Â, clip(r, c_low, c_high)·Â)",
                          "BAPO's bound search is recomputed for token-level ratios only")]
    low, high, share = _bapo_loss_bounds(r, a, lp, hp)
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
    low, high, _ = _bapo_loss_bounds(r, a, logprob, hp)
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

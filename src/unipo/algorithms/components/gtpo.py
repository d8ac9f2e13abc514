"""GTPO (arXiv:2508.03772): conflict tokens and the entropy filter, an advantage modifier.

Torch-free descriptor; tensor code in unipo.algorithms.gtpo."""
from __future__ import annotations

import numpy as np

from unipo.algorithms.cards import card, t
from unipo.algorithms.formula_terms import define_term
from unipo.algorithms.hparams import HParam
from unipo.algorithms.registry import component
from unipo.algorithms.stored import compare, missing, unchecked

GTPO_CITATION = "Simoni et al., GTPO: Trajectory-Based Policy Optimization in LLMs, arXiv:2508.03772"

define_term("gtpo_conflict", r"c_{i,t}", "gtpo_conflict", "gtpo",
            "1 on a conflict token: its id sits at the same position in a positive and a negative completion of the group")
define_term("gtpo_delta", r"\delta_{i,t}", "gtpo_delta", "gtpo", "GTPO conflict weight of the token (W, 0 or 1)")
define_term("gtpo_entropy", r"\bar{\mathcal{H}}_i", "gtpo_entropy", "gtpo", "mean token entropy of completion i")


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

"""Aggregation of per-token objectives into one step loss, as per-token weights (axis "aggregation").

loss = −Σ_it w_it · o_it. Relations recompute w from the stored lengths and truncation flags."""
from __future__ import annotations

import numpy as np

from unipo.algorithms.cards import card, t
from unipo.algorithms.registry import component
from unipo.algorithms.stored import compare, missing

_LOSS = rf"{t('loss')} = -\sum_{{i,t}} {t('weight')}\,{t('token_objective')},\quad {t('weight')} = "


def _relation(weight_of, name):
    def relation(step, hp):
        stored = step.token("weight")
        if stored is None:
            return [missing("aggregation", name, "weight")]
        kept = step.kept()
        lengths = step.response_sum(kept)
        return [compare("aggregation", name, stored, weight_of(step, kept, lengths, hp) * kept)]
    return relation


def _register(mode, summary, weight_latex, text, weight_of, *, function, trl, verl, extra=None):
    def aggregation_card(hp):
        explanation = text
        if extra is not None:
            explanation += extra(hp)
        return card("aggregation", mode, "Step-level objective", _LOSS + weight_latex(), explanation)
    aggregation_card.__name__ = f"{mode.replace('-', '_')}_card"
    component("aggregation", mode, summary=f"{summary} (TRL {trl}, verl {verl})",
              compute=f"unipo.algorithms.aggregation:{function}",
              inputs=("mask",), terms=("weight",), level="batch" if "token-mean" in mode else "response",
              relation=_relation(weight_of, f"w = {summary}"))(aggregation_card)


def _num_items(step, kept):
    given = step.metrics.get("num_items_in_batch")
    return float(given) if isinstance(given, (int, float)) and given > 0 else max(float(kept.sum()), 1.0)


_register("seq-mean-token-mean", "m/(N·L_i)",
          lambda: rf"\frac{{{t('mask')}}}{{{t('num_responses')}\,{t('length')}}}",
          "Average over each response's tokens, then over responses: every response counts equally, so a token "
          "of a short response weighs more than a token of a long one (weight 1/(N·L_i)); long wrong answers are "
          "penalised less per token.",
          lambda step, kept, lengths, hp: 1.0 / (step.num_responses * np.maximum(step.per_token(lengths), 1.0)),
          function="seq_mean_token_mean", trl="grpo/sapo", verl="seq-mean-token-mean")
_register("token-mean", "m/T_batch",
          lambda: rf"\frac{{{t('mask')}}}{{{t('num_tokens')}}}",
          "Every token of the whole (global) batch weighs the same, 1/(tokens in the batch): no length bias "
          "between responses; long responses contribute proportionally more tokens.",
          lambda step, kept, lengths, hp: 1.0 / _num_items(step, kept),
          function="token_mean_global", trl="dapo/cispo", verl="token-mean")
_register("token-mean-local", "m/Σ m (this micro-batch)",
          lambda: rf"\frac{{{t('mask')}}}{{\sum_{{j,s}} m_{{j,s}}}}",
          "Every token of this micro-batch weighs 1/(tokens in the micro-batch); under gradient accumulation, "
          "micro-batches with fewer tokens give each of their tokens more weight.",
          lambda step, kept, lengths, hp: 1.0 / max(float(kept.sum()), 1.0),
          function="token_mean_local", trl="bnpo", verl="legacy token-mean")
_register("seq-mean-token-sum", "m/N",
          lambda: rf"\frac{{{t('mask')}}}{{{t('num_responses')}}}",
          "Sum over each response's tokens, mean over responses: every token weighs 1/N, so a response's total "
          "weight grows with its length.",
          lambda step, kept, lengths, hp: 1.0 / step.num_responses,
          function="seq_mean_token_sum", trl="luspo", verl="seq-mean-token-sum")
_register("seq-mean-token-sum-norm", "m/(N·L_max)",
          lambda: rf"\frac{{{t('mask')}}}{{{t('num_responses')}\,{t('max_length')}}}",
          "Dr. GRPO's constant: every token weighs 1/(N·L_max) whatever its response's length, which removes the "
          "length bias of the per-response mean.",
          lambda step, kept, lengths, hp: 1.0 / (step.num_responses * (
              hp["max_completion_length"] or max(float(step.lengths.max(initial=1)), 1.0))),
          function="seq_mean_token_sum_norm", trl="dr_grpo", verl="seq-mean-token-sum-norm (without 1/N)",
          extra=lambda hp: f" Here L_max = {hp['max_completion_length'] if hp['max_completion_length'] is not None else 'the padded length T'}.")

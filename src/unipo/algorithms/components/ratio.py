"""Importance ratios (axis "ratio", chosen by importance_sampling_level)."""
from __future__ import annotations

import numpy as np

from unipo.algorithms.cards import card, t
from unipo.algorithms.registry import component
from unipo.algorithms.stored import compare, missing

_INPUTS = ("logprob", "old_logprob", "mask")


def _log_ratio(step):
    lp, old = step.token("logprob"), step.token("old_logprob")
    return None if lp is None or old is None else lp - old


def _token_relation(step, hp):
    log_ratio, kept = _log_ratio(step), step.kept()
    if log_ratio is None:
        return [missing("ratio", "r = exp(ℓ − ℓ_old)", "logprob", "old_logprob")]
    checks = [compare("ratio", "r = exp(ℓ − ℓ_old)", step.token("ratio"), np.exp(log_ratio) * kept)]
    if step.token("log_ratio") is not None:
        checks.append(compare("ratio", "log r = ℓ − ℓ_old", step.token("log_ratio"), log_ratio * kept,
                              scale=step.token("logprob")))
    return checks


@component("ratio", "token", summary="r = exp(ℓ − ℓ_old) per token (TRL 'token', verl 'vanilla')",
           compute="unipo.algorithms.ratio:token_ratio", inputs=_INPUTS, terms=("log_ratio", "ratio"),
           relation=_token_relation)
def token_card(hp):
    return card("ratio", "token", "Importance ratio",
                rf"{t('ratio')} = \exp\!\big({t('logprob')} - {t('old_logprob')}\big)",
                "How much more (or less) likely the token is now than when it was sampled; 1 on the first "
                "update of a rollout.")


def _sequence_relation(step, hp):
    log_ratio, kept = _log_ratio(step), step.kept()
    if log_ratio is None:
        return [missing("ratio", "s_i = exp(mean_t(ℓ − ℓ_old))", "logprob", "old_logprob")]
    lengths = step.lengths
    mean = step.response_sum(log_ratio) / np.maximum(lengths, 1.0)
    return [compare("ratio", "s_i = exp(mean_t(ℓ − ℓ_old))", step.token("ratio"),
                    np.exp(step.per_token(mean)) * kept)]


@component("ratio", "sequence", summary="GSPO's geometric-mean sequence ratio s_i, shared by the response's tokens",
           compute="unipo.algorithms.ratio:sequence_ratio", inputs=_INPUTS, terms=("log_ratio", "ratio"),
           level="sequence", relation=_sequence_relation,
           citation="Zheng et al., Group Sequence Policy Optimization, arXiv:2507.18071")
def sequence_card(hp):
    return card("ratio", "sequence", "Importance ratio",
                rf"{t('ratio')} = s_i = \exp\!\Big(\frac{{1}}{{{t('length')}}}\sum_{{t}} m_{{i,t}}"
                rf"\big({t('logprob')} - {t('old_logprob')}\big)\Big)",
                "One ratio per response, the geometric mean of its token ratios (GSPO); every token of the "
                "response shares it, and the clip acts on the whole sequence.")


def _none_relation(step, hp):
    return [compare("ratio", "r = 1", step.token("ratio"), step.kept())]


@component("ratio", "none", summary="no ratio: r = exp(ℓ − sg(ℓ)) = 1 with gradient ∇ℓ (plain policy gradient)",
           compute="unipo.algorithms.ratio:no_ratio", inputs=("logprob", "mask"), terms=("ratio",),
           relation=_none_relation)
def none_card(hp):
    return card("ratio", "none", "Importance ratio",
                rf"{t('ratio')} = \exp\!\big({t('logprob')} - \mathrm{{sg}}({t('logprob')})\big) = 1",
                "No importance ratio: r has value 1 and gradient ∇ℓ, so r·Â is the plain policy gradient Â·∇ℓ "
                "(REINFORCE). Only valid on-policy.")

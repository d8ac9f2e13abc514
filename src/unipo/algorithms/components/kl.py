"""KL estimators to the reference policy (axis "kl", kl_estimator), placed in the loss (beta) and/or
in the reward (kl_coef). δ = ℓ − ℓ_ref."""
from __future__ import annotations

import numpy as np

from unipo.algorithms.cards import card, t
from unipo.algorithms.registry import component
from unipo.algorithms.stored import compare, missing

# The KL reward is computed at rollout time from the rollout's scores; the stored old_logprob of the
# first update of a rollout is the update-time score of the same weights, equal up to float noise of
# another batch shape (engine/update.py). Absolute slack on ℓ for that one relation:
ROLLOUT_SCORE_NOISE = 1e-4


def kl_in_loss(hp) -> bool:
    return hp["beta"] != 0.0


def kl_in_reward(hp) -> bool:
    return hp["kl_coef"] != 0.0


def _values(name, lp, ref):
    delta = lp - ref
    if name == "k1":
        return delta
    if name == "k2":
        return 0.5 * delta ** 2
    return np.exp(-delta) + delta - 1


def _scale(name, lp, ref):
    """Magnitude of the parts an estimator adds up: float32 rounds those, not their (possibly tiny) sum.
    k3 = e^{−δ} + δ − 1 is ~δ²/2 near ℓ = ℓ_ref while its parts are ~1 each."""
    if name == "k3":
        return np.exp(ref - lp) + np.abs(lp - ref) + 1.0
    return np.abs(lp) + np.abs(ref)


def _derivative(name):
    def d(lp, ref, hp):
        if name == "k1":
            return np.ones_like(lp)
        if name == "k2":
            return lp - ref
        return 1 - np.exp(ref - lp)
    return d


def _relation(name):
    def relation(step, hp):
        lp, ref = step.token("logprob"), step.token("ref_logprob")
        if ref is None or lp is None:
            return [missing("kl", "KL = k(ℓ, ℓ_ref)", "logprob", "ref_logprob")]
        kept = step.kept()
        checks = []
        if step.token("kl") is not None:
            checks.append(compare("kl", f"KL = {name}(ℓ, ℓ_ref)", step.token("kl"), _values(name, lp, ref) * kept,
                                  scale=_scale(name, lp, ref)))
        if kl_in_loss(hp) and step.token("kl_penalty") is not None and step.token("kl") is not None:
            checks.append(compare("kl", "β·KL = β × KL", step.token("kl_penalty"), hp["beta"] * step.token("kl")))
        if kl_in_reward(hp):
            stored, old = step.token("kl_reward"), step.token("old_logprob")
            if stored is None or old is None:
                checks.append(missing("kl", "r^KL = −β_r·KL(ℓ_old, ℓ_ref)", "kl_reward", "old_logprob"))
            else:
                expected = -hp["kl_coef"] * _values(name, old, ref)
                slope = np.abs(_derivative(name)(old, ref, hp))
                checks.append(compare("kl", "r^KL = −β_r·KL(ℓ_old, ℓ_ref)", stored, expected,
                                      atol=hp["kl_coef"] * ROLLOUT_SCORE_NOISE * (1 + float(slope.max(initial=0)))))
        return checks
    return relation


_LATEX = {
    "k1": lambda: rf"{t('logprob')} - {t('ref_logprob')}",
    "k2": lambda: rf"\tfrac{{1}}{{2}}\big({t('logprob')} - {t('ref_logprob')}\big)^2",
    "k3": lambda: rf"e^{{{t('ref_logprob')} - {t('logprob')}}} - \big({t('ref_logprob')} - {t('logprob')}\big) - 1",
}
_SUMMARY = {"k1": "k1 = δ: unbiased, can be negative", "k2": "k2 = δ²/2: biased, ≥ 0",
            "k3": "k3 = e^{−δ} + δ − 1: unbiased value, ≥ 0, biased gradient (not clamped, as TRL)"}


def _card_for(name):
    def kl_card(hp):
        if not (kl_in_loss(hp) or kl_in_reward(hp)):
            return None
        places, latex = [], rf"{t('kl')} = {_LATEX[name]()}"
        if kl_in_loss(hp):
            places.append(f"in the loss with β = {hp['beta']:g} (per token, before aggregation)")
        if kl_in_reward(hp):
            places.append(f"in the reward with coefficient β_r = {hp['kl_coef']:g} (token reward r^KL = −β_r·KL)")
            latex += rf",\quad {t('kl_reward')} = -\beta_{{\text{{r}}}}\,{t('kl')}"
        text = f"{name} estimate of KL(π_θ‖π_ref), placed " + " and ".join(places) + "."
        if name == "k3":
            text += " Never negative; its value is unbiased but its gradient is not. Not clamped (as TRL)."
        variant = name + ("-in-loss" if kl_in_loss(hp) else "") + ("-in-reward" if kl_in_reward(hp) else "")
        return card("kl", variant, "KL to the reference", latex, text)
    kl_card.__name__ = f"{name}_card"
    return kl_card


for _name in ("k1", "k2", "k3"):
    component("kl", _name, summary=_SUMMARY[_name], compute=f"unipo.algorithms.kl:kl_{_name}",
              inputs=("logprob", "ref_logprob"), terms=("kl", "kl_penalty", "kl_reward"),
              relation=_relation(_name), derivative=_derivative(_name),
              citation="Schulman, Approximating KL Divergence (2020)")(_card_for(_name))

"""verl's covariance trust regions (Clip-Cov, KL-Cov) and its ReMax / OPO advantage baselines
(torch-free descriptors; tensor code in covariance_clip.py and advantages_baselines.py).

Formulas are verl 0.9.1's (verl/trainer/ppo/core_algos.py): compute_policy_loss_clip_cov,
compute_policy_loss_kl_cov, compute_remax_outcome_advantage, compute_opo_outcome_advantage; the
parity tests (tests/algorithms/test_verl_parity.py) call those functions.
"""
from __future__ import annotations

import numpy as np

from unipo.algorithms.cards import card, t
from unipo.algorithms.components._shared import surrogate_factor
from unipo.algorithms.formula_terms import define_term
from unipo.algorithms.hparams import HParam
from unipo.algorithms.registry import component
from unipo.algorithms.stored import compare, missing, unchecked

_COV_CITATION = "Cui et al., The Entropy Mechanism of Reinforcement Learning for Reasoning Language Models, arXiv:2505.22617"
_COV_BATCH = "the covariance and the token budget are taken over the update's tokens"
_FLAGS = ("clipped_low", "clipped_high", "clipped", "min_branch")

define_term("cov", r"\mathrm{Cov}_{i,t}", None, "clip",
            "centred product (Â − mean Â)(ℓ − mean ℓ) over the update's real tokens")
define_term("cov_selected", r"c_{i,t}", "cov_selected", "clip",
            "1 where the covariance rule picked the token (Clip-Cov: gradient detached; KL-Cov: KL penalty); "
            "stored as the term cov_selected")


# -- numpy mirrors of the selection (flat columns: the step's real tokens) ----------------------

def _cov(a, lp):
    return (a - a.mean()) * (lp - lp.mean())


def _origin_clipped(r, a, hp):
    """verl's clip_by_origin: −Â·clip(r) > −Â·r."""
    return (-a * np.clip(r, 1 - hp["epsilon"], 1 + hp["epsilon_high"])) > (-a * r)


def _clip_cov_candidates(r, a, lp, hp):
    cov = _cov(a, lp)
    return (~_origin_clipped(r, a, hp)) & (cov > hp["clip_cov_lb"]) & (cov < hp["clip_cov_ub"]), cov


def _clip_cov_count(n, hp):
    return max(int(hp["clip_cov_ratio"] * n), 1)


def _kl_cov_count(n, hp):
    return max(1, int(n * hp["kl_cov_ratio"])) if n else 0


def _clip_cov_replay(r, a, lp, hp):
    """The detached tokens, replayed from the seeded draw (None if unseeded and the draw mattered)."""
    candidates, _ = _clip_cov_candidates(r, a, lp, hp)
    index = np.flatnonzero(candidates)
    chosen = np.zeros(len(r), dtype=bool)
    count = _clip_cov_count(len(r), hp)
    if len(index) <= count:
        chosen[index] = True
        return chosen
    if hp["clip_cov_seed"] is None:
        return None
    import torch  # only to replay torch.randperm's permutation for this seed
    perm = torch.randperm(len(index), generator=torch.Generator().manual_seed(int(hp["clip_cov_seed"]))).numpy()
    chosen[index[perm[:count]]] = True
    return chosen


def _kl_cov_replay(a, lp, hp):
    cov = _cov(a, lp)
    chosen = np.zeros(len(a), dtype=bool)
    chosen[np.argsort(-cov, kind="stable")[:_kl_cov_count(len(a), hp)]] = True
    return chosen


def _real(step):
    """Columns of the tokens that enter the loss (response filtering applied)."""
    kept = step.kept() > 0
    return kept, {name: step.token(name) for name in ("ratio", "advantage", "logprob", "surrogate", "clipped",
                                                         "min_branch", "log_ratio", "cov_selected")}


# -- Clip-Cov -------------------------------------------------------------------------------------

def _clip_cov_relation(step, hp):
    kept, c = _real(step)
    need = ("ratio", "advantage", "logprob", "surrogate", "clipped", "min_branch", "cov_selected")
    if any(c[k] is None for k in need):
        return [missing("clip", "u = min(r·Â, clip(r)·Â)·(1 − c)", *[k for k in need if c[k] is None])]
    r, a, lp = c["ratio"], c["advantage"], c["logprob"]
    chosen = c["cov_selected"] > 0.5
    ppo = np.minimum(r * a, np.clip(r, 1 - hp["epsilon"], 1 + hp["epsilon_high"]) * a)
    checks = [compare("clip", "u = min(r·Â, clip(r, 1−ε_low, 1+ε_high)·Â)·(1 − c)", c["surrogate"],
                      ppo * (1.0 - chosen) * surrogate_factor(step))]
    if not kept.any():
        return checks
    candidates, cov = _clip_cov_candidates(r[kept], a[kept], lp[kept], hp)
    # Stored columns are float32: a token within rounding of lb or ub may fall on either side.
    tolerance = 1e-5 * (np.abs(cov) + 1.0)
    near = (np.abs(cov - hp["clip_cov_lb"]) <= tolerance) | (np.abs(cov - hp["clip_cov_ub"]) <= tolerance)
    name = "c ⊆ {lb < Cov < ub, not clipped by PPO}, |c| = min(max(⌊ratio·n⌋, 1), #candidates)"
    if near.any():
        return checks + [unchecked("clip", name, "a covariance lies within float32 rounding of lb or ub")]
    picked = chosen[kept]
    expected_count = min(_clip_cov_count(int(kept.sum()), hp), int(candidates.sum()))
    checks.append(compare("clip", "c ⊆ candidates (lb < Cov < ub, not clipped by PPO)",
                          (picked & ~candidates).astype(float), 0.0, atol=0.0))
    checks.append(compare("clip", "|c| = min(max(⌊ratio·n⌋, 1), #candidates)", np.array([float(picked.sum())]),
                          np.array([float(expected_count)]), atol=0.0))
    return checks


def _clip_cov_derivative(r, a, logprob, hp):
    """∂u/∂log r = r·Â off PPO's clip and off the detached tokens, 0 on them (the draw is replayed
    with clip_cov_seed; with clip_cov_seed = None and more candidates than the budget it is unknown: NaN)."""
    slope = np.where(_origin_clipped(r, a, hp), 0.0, r * a)
    chosen = _clip_cov_replay(r, a, logprob, hp)
    if chosen is None:
        candidates, _ = _clip_cov_candidates(r, a, logprob, hp)
        return np.where(candidates, np.nan, slope), "log_ratio"
    return np.where(chosen, 0.0, slope), "log_ratio"


_CLIP_COV_HPARAMS = {
    "clip_cov_ratio": HParam(0.0002, "Clip-Cov: fraction of the update's tokens whose gradient is detached "
                             "(at least 1; verl policy_loss.clip_cov_ratio)", minimum=1e-12, maximum=1.0),
    "clip_cov_lb": HParam(1.0, "Clip-Cov: lower bound of the covariance window (verl policy_loss.clip_cov_lb)"),
    "clip_cov_ub": HParam(5.0, "Clip-Cov: upper bound of the covariance window (verl policy_loss.clip_cov_ub)"),
    "clip_cov_seed": HParam(0, "Clip-Cov: seed of the generator that draws the detached tokens among the "
                            "candidates, re-seeded every step (none = torch's global generator, as verl)",
                            kind=(int, None)),
}


@component("clip", "clip_cov", summary="Clip-Cov: PPO clip, plus a random few tokens with large Cov(ℓ, Â) get no gradient",
           compute="unipo.algorithms.covariance_clip:CLIP_COV", inputs=("ratio", "advantage", "logprob", "mask"),
           terms=("surrogate", "cov_selected") + _FLAGS, level="batch", batch_dependent=lambda hp: _COV_BATCH,
           hparams=_CLIP_COV_HPARAMS, relation=_clip_cov_relation, derivative=_clip_cov_derivative,
           citation=_COV_CITATION)
def clip_cov_card(hp):
    r, a, u, c = t("ratio"), t("advantage"), t("surrogate"), t("cov_selected")
    latex = (rf"{u} = \min\!\big({r}\,{a},\ {t('min_branch')}({r}, 1-{t('epsilon_low')}, 1+{t('epsilon_high')})\,{a}\big)"
             rf"\,(1-{c}),\quad {t('cov')} = ({a}-\overline{{{a}}})({t('logprob')}-\overline{{{t('logprob')}}}),\quad "
             rf"{c} \sim \mathrm{{Uniform}}_{{k}}\{{(i,t): {hp['clip_cov_lb']:g} < {t('cov')} < {hp['clip_cov_ub']:g},"
             rf"\ \text{{not clipped}}\}}")
    seed = hp["clip_cov_seed"]
    draw = ("torch's global generator (as verl)" if seed is None else
            f"a generator seeded with {seed} each step (deterministic given the batch)")
    text = (f"Clip-Cov (ε_low = {hp['epsilon']:g}, ε_high = {hp['epsilon_high']:g}): PPO's clip, and among the "
            f"tokens PPO did not clip whose covariance Cov = (Â − mean Â)(ℓ − mean ℓ) lies in "
            f"({hp['clip_cov_lb']:g}, {hp['clip_cov_ub']:g}), k = max(⌊{hp['clip_cov_ratio']:g}·n⌋, 1) are drawn "
            f"at random ({draw}) and their gradient is detached. High-covariance tokens are what collapse "
            "the entropy. No dual clip (δ is ignored). Means and n are over the update's real tokens.")
    return card("clip", "clip-cov", "Surrogate and trust region", latex, text)


# -- KL-Cov ---------------------------------------------------------------------------------------

def _kl_cov_relation(step, hp):
    kept, c = _real(step)
    need = ("ratio", "advantage", "logprob", "surrogate", "cov_selected", "log_ratio")
    if any(c[k] is None for k in need):
        return [missing("clip", "u = r·Â − c_KL·|log r|·k", *[k for k in need if c[k] is None])]
    r, a, chosen = c["ratio"], c["advantage"], c["cov_selected"] > 0.5
    checks = [compare("clip", f"u = r·Â − {hp['ppo_kl_coef']:g}·|log r|·k", c["surrogate"],
                      (r * a - hp["ppo_kl_coef"] * np.abs(c["log_ratio"]) * chosen) * surrogate_factor(step))]
    if not kept.any():
        return checks
    cov, picked = _cov(a[kept], c["logprob"][kept]), chosen[kept]
    checks.append(compare("clip", "|k| = max(1, ⌊ratio·n⌋)", np.array([float(picked.sum())]),
                          np.array([float(_kl_cov_count(int(kept.sum()), hp))]), atol=0.0))
    if picked.any() and (~picked).any():
        # top-k: every picked token's Cov is at least every other token's (up to float32 rounding)
        lowest, highest = cov[picked].min(), cov[~picked].max()
        checks.append(compare("clip", "k = the top tokens by Cov", np.array([min(lowest - highest, 0.0)]),
                              np.array([0.0]), scale=np.array([abs(lowest) + abs(highest)]), rtol=1e-5))
    return checks


def _kl_cov_derivative(r, a, logprob, hp):
    """∂u/∂log r = r·Â − c_KL·sign(log r)·k, k replayed as the top tokens by Cov."""
    chosen = _kl_cov_replay(a, logprob, hp)
    return r * a - hp["ppo_kl_coef"] * np.sign(np.log(r)) * chosen, "log_ratio"


_KL_COV_HPARAMS = {
    "kl_cov_ratio": HParam(0.0002, "KL-Cov: fraction of the update's tokens (top by covariance) that get the KL "
                           "penalty (at least 1; verl policy_loss.kl_cov_ratio)", minimum=1e-12, maximum=1.0),
    "ppo_kl_coef": HParam(0.1, "KL-Cov: coefficient of the |log r| penalty on the selected tokens "
                          "(verl policy_loss.ppo_kl_coef)", minimum=0.0),
}


@component("clip", "kl_cov", summary="KL-Cov: no clip; the top tokens by Cov(ℓ, Â) get a |log r| penalty",
           compute="unipo.algorithms.covariance_clip:KL_COV", inputs=("ratio", "advantage", "logprob", "mask", "log_ratio"),
           terms=("surrogate", "cov_selected"), level="batch", batch_dependent=lambda hp: _COV_BATCH,
           hparams=_KL_COV_HPARAMS, relation=_kl_cov_relation, derivative=_kl_cov_derivative,
           citation=_COV_CITATION)
def kl_cov_card(hp):
    r, a, u, c = t("ratio"), t("advantage"), t("surrogate"), t("cov_selected")
    latex = (rf"{u} = {r}\,{a} - {hp['ppo_kl_coef']:g}\,\big|{t('log_ratio')}\big|\,{c},\quad "
             rf"{c} = \big[{t('cov')} \in \mathrm{{top}}_k\big],\quad "
             rf"{t('cov')} = ({a}-\overline{{{a}}})({t('logprob')}-\overline{{{t('logprob')}}})")
    text = (f"KL-Cov: no clipping; the k = max(1, ⌊{hp['kl_cov_ratio']:g}·n⌋) tokens with the largest covariance "
            f"Cov = (Â − mean Â)(ℓ − mean ℓ) over the update's real tokens get the penalty "
            f"{hp['ppo_kl_coef']:g}·|log r|, which pulls their ratio back to 1 and slows the entropy collapse.")
    return card("clip", "kl-cov", "Surrogate and trust region", latex, text)


# -- ReMax ----------------------------------------------------------------------------------------

def _rewards_for(step, hp):
    reward = step.response_value("shaped_reward") if hp["kl_coef"] != 0.0 else None
    return step.response_value("reward") if reward is None else reward


def _finish(step, hp, name, expected):
    advantage = step.response_value("advantage_estimate")
    if advantage is None:
        advantage = step.response_value("advantage")
    if advantage is None:
        return [missing("advantage", name, "advantage")]
    if hp["normalize_advantages"]:
        return [unchecked("advantage", name, "normalize_advantages whitens over the whole rollout")]
    keep = step.lengths > 0
    truncated = step.response("truncated")
    if truncated is not None:
        keep = keep & (truncated == 0)
    return [compare("advantage", name, advantage, expected, where=keep)]


def _remax_relation(step, hp):
    reward, baseline = _rewards_for(step, hp), step.response_value("baseline")
    if reward is None or baseline is None:
        return [missing("advantage", "Â = R − b (greedy response's reward)", "reward", "baseline")]
    return _finish(step, hp, "Â = R − b (greedy response's reward)", reward - baseline)


@component("advantage", "remax", summary="ReMax: R − b, b = reward of the greedy response to the same prompt",
           compute="unipo.algorithms.advantages_baselines:remax", inputs=("reward", "baseline_rewards", "context"),
           response_terms=("baseline",), level="response", relation=_remax_relation,
           citation="Li et al., ReMax: A Simple, Effective, and Efficient RL Method for Aligning LLMs, arXiv:2310.10505")
def remax_card(hp):
    reward = t("shaped_reward") if hp["kl_coef"] != 0.0 else t("reward")
    latex = rf"{t('advantage')} = {reward} - {t('baseline')},\quad {t('baseline')} = R(\text{{greedy response}})"
    text = ("ReMax: the baseline is the reward of the greedy (argmax-decoded) response to the same prompt, a "
            "per-prompt control variate that needs no critic. The engine must generate and score that greedy "
            "response and pass its reward as baseline_rewards.")
    return card("advantage", "remax", "Advantage", latex, text)


# -- OPO ------------------------------------------------------------------------------------------

def _opo_relation(step, hp):
    name = "Â = R − Σ_g L·R / Σ_g L"
    reward, groups = _rewards_for(step, hp), step.groups()
    if reward is None or groups is None:
        return [missing("advantage", name, "reward", "group")]
    lengths = step.lengths
    count = np.bincount(groups).astype(float)
    total = np.bincount(groups, weights=lengths)
    weighted = np.bincount(groups, weights=lengths * reward)
    with np.errstate(invalid="ignore", divide="ignore"):
        baseline = np.where((count == 1) | (total == 0), 0.0, weighted / np.where(total == 0, 1.0, total))[groups]
    checks = []
    stored = step.response_value("baseline")
    if stored is not None:
        checks.append(compare("advantage", "b_g = Σ_g L·R / Σ_g L (length-weighted group mean)", stored, baseline))
    return checks + _finish(step, hp, name, reward - baseline)


@component("advantage", "opo", summary="OPO: R − length-weighted group mean Σ L·R / Σ L, no std division",
           compute="unipo.algorithms.advantages_baselines:opo", inputs=("reward", "group", "mask", "context"),
           response_terms=("baseline",), level="response", relation=_opo_relation,
           citation="Hao et al., On-Policy RL with Optimal Reward Baseline, arXiv:2505.23585")
def opo_card(hp):
    reward = t("shaped_reward") if hp["kl_coef"] != 0.0 else t("reward")
    latex = (rf"{t('advantage')} = {reward} - {t('baseline')},\quad "
             rf"{t('baseline')} = \frac{{\sum_{{j \in g(i)}} {t('length', 'L_j')}\,R_j}}{{\sum_{{j \in g(i)}} {t('length', 'L_j')}}}")
    text = ("OPO: the optimal baseline for a sequence-level policy gradient weights each sibling's reward by its "
            "length (the gradient's norm grows with it); no std division. A group of one gets b = 0.")
    return card("advantage", "opo", "Advantage", latex, text)

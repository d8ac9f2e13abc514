"""Advantage estimators (axis "advantage", chosen by advantage_estimator).

Per-response estimators ("response" level) return one Â per response from the (possibly KL-shaped)
rewards; per-token ones ("token" level) work on token rewards. Relations recompute each card's
equation from the stored reward, group and intermediate columns.
"""
from __future__ import annotations

import numpy as np

from unipo.algorithms.cards import card, t
from unipo.algorithms.registry import component
from unipo.algorithms.stored import Relation, compare, group_mean_std, missing, unchecked

ZERO_STD = 1e-8  # torch.isclose(std, 0): TRL's zero-variance test


def _kl_in_reward(hp) -> bool:
    return hp["kl_coef"] != 0.0


def _reward_symbol(hp) -> str:
    return t("shaped_reward") if _kl_in_reward(hp) else t("reward")


def _shaped_reward_latex(hp) -> str:
    if not _kl_in_reward(hp):
        return ""
    return rf",\quad {t('shaped_reward')} = {t('reward')} + \sum_t {t('kl_reward')}"


def _rewards(step, hp):
    """(R' per response, relations about the shaping) — R' = R + Σ_t r^KL when KL is in the reward."""
    reward = step.response_value("reward")
    if reward is None or not _kl_in_reward(hp):
        return reward, []
    shaped, kl_reward = step.response_value("shaped_reward"), step.token("kl_reward")
    if shaped is None or kl_reward is None:
        return None, [missing("advantage", "R' = R + Σ_t r^KL", "shaped_reward", "kl_reward")]
    return shaped, [compare("advantage", "R' = R + Σ_t r^KL", shaped, reward + step.response_sum(kl_reward),
                            scale=step.response_sum(np.abs(kl_reward)))]


def _stored_advantage(step):
    """Per-response Â where it is stored unmasked (responses dropped by truncation store 0)."""
    advantage = step.response_value("advantage_estimate")  # before any advantage modifier
    if advantage is None:
        advantage = step.response_value("advantage")
    keep = step.lengths > 0
    truncated = step.response("truncated")
    if truncated is not None:
        keep = keep & (truncated == 0)
    return advantage, keep


def _whitened_note(hp, step) -> Relation | None:
    if hp["normalize_advantages"] and step.whole_rollout is not True:
        return unchecked("advantage", "Â = whiten(·)", "whitening uses the whole rollout's statistics; "
                         "this step may hold only part of it")
    return None


def _whiten(values, epsilon, weights=None):
    weights = np.ones_like(values) if weights is None else weights
    count = weights.sum()
    mean = (values * weights).sum() / max(count, 1.0)
    std = np.sqrt((((values - mean) ** 2) * weights).sum() / max(count - 1, 1.0))
    return (values - mean) / (std + epsilon)


def _finish(step, hp, checks, expected, name):
    """Compare stored Â with the estimator's value (after whitening when asked and checkable)."""
    advantage, keep = _stored_advantage(step)
    if advantage is None:
        return checks + [missing("advantage", name, "advantage")]
    if hp["normalize_advantages"]:
        note = _whitened_note(hp, step)
        if note is not None:
            return checks + [note]
        expected = _whiten(expected, hp["advantage_epsilon"])
    return checks + [compare("advantage", name, advantage, expected, where=keep)]


def _group_norm_relation(step, hp):
    rewards, checks = _rewards(step, hp)
    groups = step.groups()
    if rewards is None or groups is None:
        return checks + [missing("advantage", "Â = (R − mean_g)/(scale + ε)", "reward", "group")]
    mean, std, _ = group_mean_std(rewards, groups)
    for name, expected in (("group_mean", mean), ("group_std", std)):
        stored = step.response_value(name)
        if stored is not None:
            checks.append(compare("advantage", f"{name} over the group's stored rewards", stored, expected))
    mode = hp["scale_rewards"]
    if mode == "none":
        scale, epsilon = np.ones_like(rewards), 0.0
    else:
        scale = step.response_value("advantage_scale") if mode == "batch" else std
        epsilon = hp["advantage_epsilon"]
        if scale is None:
            return checks + [missing("advantage", "Â = (R − mean_g)/(σ_batch + ε)", "advantage_scale")]
    zero = np.abs(std) <= ZERO_STD
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.where(zero, 0.0, (rewards - mean) / (scale + epsilon))
    return _finish(step, hp, checks, expected, f"Â = (R − mean_g)/({'σ_g' if mode == 'group' else 'σ_batch' if mode == 'batch' else '1'} + ε)")


@component("advantage", "group_norm", summary="GRPO family: (R − mean_g)/(scale + ε), scale = group std, batch std or 1",
           compute="unipo.algorithms.advantages_sequence:group_norm", inputs=("reward", "group"),
           response_terms=("group_mean", "group_std", "advantage_scale"), level="response",
           batch_dependent=lambda hp: ("scale_rewards='batch' divides by the batch's reward std"
                                      if hp["scale_rewards"] == "batch" else None),
           relation=_group_norm_relation,
           citation="Shao et al., DeepSeekMath (GRPO), arXiv:2402.03300; Liu et al., Dr. GRPO, arXiv:2503.20783")
def group_norm_card(hp):
    a, reward, eps = t("advantage"), _reward_symbol(hp), hp["advantage_epsilon"]
    mode = hp["scale_rewards"]
    centred = rf"{reward} - {t('group_mean')}"
    if mode == "group":
        latex = rf"{a} = \frac{{{centred}}}{{{t('group_std')} + \epsilon}}"
        text = (f"Group z-score (ε = {eps:g}): how much better the response is than its siblings, in units of "
                "the group's std. Groups that are nearly all right or all wrong get amplified.")
    elif mode == "batch":
        latex = rf"{a} = \frac{{{centred}}}{{{t('advantage_scale')} + \epsilon}}"
        text = f"Group-centred reward divided by the batch's reward std α (ε = {eps:g}): no per-group amplification."
    else:
        latex = rf"{a} = {centred}"
        text = "Group-centred reward, no std division (Dr. GRPO): no difficulty bias."
    text += " A zero-variance group gives every member zero advantage."
    return card("advantage", f"group_norm-{mode}", "Advantage", _whitened(hp, latex + _shaped_reward_latex(hp)),
                _whitened_text(hp, text))


def _whitened(hp, latex):
    return latex + r",\ \text{then whitened}" if hp["normalize_advantages"] else latex


def _whitened_text(hp, text):
    return text + " Advantages are then whitened over the batch." if hp["normalize_advantages"] else text


def _rloo_relation(step, hp):
    rewards, checks = _rewards(step, hp)
    groups = step.groups()
    if rewards is None or groups is None:
        return checks + [missing("advantage", "Â = R − mean of the others", "reward", "group")]
    mean, std, count = group_mean_std(rewards, groups)
    baseline = (mean * count - rewards) / (count - 1)
    stored = step.response_value("baseline")
    if stored is not None:
        checks.append(compare("advantage", "b_i = (Σ_g R' − R'_i)/(G − 1)", stored, baseline))
    expected = np.where(np.abs(std) <= ZERO_STD, 0.0, rewards - baseline)
    return _finish(step, hp, checks, expected, "Â = R' − b_i")


@component("advantage", "rloo", summary="RLOO: R − mean of the other responses to the same prompt",
           compute="unipo.algorithms.advantages_sequence:rloo", inputs=("reward", "group"),
           response_terms=("group_mean", "group_std", "baseline"), level="response", relation=_rloo_relation,
           citation="Ahmadian et al., Back to Basics: Revisiting REINFORCE (RLOO), arXiv:2402.14740")
def rloo_card(hp):
    a, reward, b = t("advantage"), _reward_symbol(hp), t("baseline")
    latex = (rf"{a} = {reward} - {b},\quad {b} = \frac{{1}}{{G-1}}\sum_{{j \ne i,\, g(j) = g(i)}} "
             + (r"R'_j" if _kl_in_reward(hp) else "R_j") + _shaped_reward_latex(hp))
    text = "Leave-one-out: the baseline is the mean " + ("KL-shaped " if _kl_in_reward(hp) else "") + \
           "reward of the other responses to the same prompt."
    return card("advantage", "rloo", "Advantage", _whitened(hp, latex), _whitened_text(hp, text))


def _reinforce_relation(step, hp):
    rewards, checks = _rewards(step, hp)
    baseline = step.response_value("baseline")
    if rewards is None or baseline is None:
        return checks + [missing("advantage", "Â = R − b", "reward", "baseline")]
    if hp["reinforce_baseline"] == "batch_mean" and step.whole_rollout:
        checks.append(compare("advantage", "b = mean of the batch's rewards", baseline,
                              np.full_like(rewards, rewards.mean())))
    return _finish(step, hp, checks, rewards - baseline, "Â = R − b")


@component("advantage", "reinforce", summary="REINFORCE with a baseline b: batch mean or moving average",
           compute="unipo.algorithms.advantages_sequence:reinforce", inputs=("reward",),
           response_terms=("baseline",), level="response", relation=_reinforce_relation,
           batch_dependent=lambda hp: "REINFORCE's baseline is the batch's mean reward",
           citation="Williams, Simple statistical gradient-following algorithms (1992)")
def reinforce_card(hp):
    kind = hp["reinforce_baseline"]
    text = ("Baseline = this batch's mean reward." if kind == "batch_mean" else
            f"Baseline = moving average of batch mean rewards (momentum {hp['baseline_momentum']:g}).")
    latex = rf"{t('advantage')} = {_reward_symbol(hp)} - {t('baseline')}" + _shaped_reward_latex(hp)
    return card("advantage", f"reinforce-{kind}", "Advantage", _whitened(hp, latex), _whitened_text(hp, text))


def _gpg_relation(step, hp):
    rewards, checks = _rewards(step, hp)
    groups, alpha = step.groups(), step.response_value("advantage_scale")
    if rewards is None or groups is None or alpha is None:
        return checks + [missing("advantage", "Â = α(R − mean_g)", "reward", "group", "advantage_scale")]
    mean, std, _ = group_mean_std(rewards, groups)
    if step.whole_rollout:
        checks.append(compare("advantage", "α = N / #(R ≠ 0)", alpha,
                              np.full_like(rewards, len(rewards) / max(int((rewards != 0).sum()), 1))))
    expected = np.where(np.abs(std) <= ZERO_STD, 0.0, alpha * (rewards - mean))
    return _finish(step, hp, checks, expected, "Â = α(R − mean_g)")


@component("advantage", "gpg", summary="GPG: α(R − mean_g), α = N / #(R ≠ 0)",
           compute="unipo.algorithms.advantages_sequence:gpg", inputs=("reward", "group"),
           response_terms=("group_mean", "group_std", "advantage_scale"), level="response",
           batch_dependent=lambda hp: "GPG's α counts non-zero rewards over the whole batch",
           relation=_gpg_relation, citation="Chu et al., GPG: A Simple and Strong RL Baseline, arXiv:2504.02546")
def gpg_card(hp):
    a, alpha = t("advantage"), t("advantage_scale")
    latex = (rf"{a} = {alpha}\big({_reward_symbol(hp)} - {t('group_mean')}\big),\quad "
             rf"{alpha} = \frac{{N}}{{\#\{{R_j \ne 0\}}}}" + _shaped_reward_latex(hp))
    return card("advantage", "gpg", "Advantage", _whitened(hp, latex),
                _whitened_text(hp, "GPG: group-centred reward, rescaled by the share of responses with a non-zero reward."))


# -- token-level estimators ----------------------------------------------------------------------

def _token_reward_relation(step, hp):
    """ρ_t = R_i on the last real token + r^KL_t (the KL reward on every token)."""
    token_reward, reward = step.token("token_reward"), step.response_value("reward")
    if token_reward is None or reward is None:
        return None, [missing("advantage", "ρ = R·[t = L] + r^KL", "token_reward", "reward")]
    last = np.zeros(len(token_reward))
    ends = step.offsets[1:][step.lengths > 0] - 1
    last[ends] = 1.0
    expected = last * step.per_token(reward)
    kl_reward = step.token("kl_reward")
    if _kl_in_reward(hp):
        if kl_reward is None:
            return token_reward, [missing("advantage", "ρ = R·[t = L] + r^KL", "kl_reward")]
        expected = expected + kl_reward
    return token_reward, [compare("advantage", "ρ = R·[t = L] + r^KL", token_reward, expected)]


def _block_length(discount: float) -> int:
    """Tokens per block such that discount^block stays above 1e-200 (no underflow in the powers)."""
    if discount in (0.0, 1.0):
        return 4096
    return int(max(1, min(4096, 200 / -np.log10(discount))))


def _discounted(values, step, discount):
    """G_t = Σ_{k≥t} discount^{k−t} x_k within each response, vectorised per block of tokens."""
    out = np.zeros_like(values)
    block = _block_length(discount)
    for start, end in zip(step.offsets[:-1], step.offsets[1:]):
        carry = 0.0
        for block_end in range(end, start, -block):
            block_start = max(start, block_end - block)
            x = values[block_start:block_end]
            if discount == 1.0:
                g = np.cumsum(x[::-1])[::-1] + carry
            elif discount == 0.0:
                g = x.copy()
                g[-1] += 0.0 * carry
            else:
                powers = discount ** np.arange(len(x))
                g = np.cumsum((x * powers)[::-1])[::-1] / powers + carry * discount ** (len(x) - np.arange(len(x)))
            out[block_start:block_end] = g
            carry = g[0]
    return out


def _token_finish(step, hp, checks, raw, name):
    advantage = step.token("advantage_estimate")
    if advantage is None:
        advantage = step.token("advantage")
    if advantage is None:
        return checks + [missing("advantage", name, "advantage")]
    kept = step.kept() > 0
    if hp["normalize_advantages"]:
        if step.whole_rollout is not True:
            # The rollout's mean and std are unknown here, but Â must still be one increasing affine
            # map of the raw values over the whole step: fit it and check every token against it.
            x, y = raw[kept], advantage[kept]
            if x.size < 2 or np.ptp(x) == 0:
                return checks + [unchecked("advantage", name, "too few distinct values to fit the whitening")]
            slope, intercept = np.polyfit(x, y, 1)
            fit = compare("advantage", name + " (one affine whitening map over the step)", y, slope * x + intercept,
                          rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(y).max())))
            if slope <= 0:
                fit.status = "fails"
                fit.reason = "whitening must keep the order (positive slope)"
            return checks + [fit]
        raw = _whiten(raw, hp["advantage_epsilon"], kept.astype(np.float64))
    return checks + [compare("advantage", name, advantage, raw * kept, where=kept)]


def _reinforce_pp_relation(step, hp):
    token_reward, checks = _token_reward_relation(step, hp)
    if token_reward is None:
        return checks
    returns = _discounted(token_reward, step, hp["gamma"])
    stored = step.token("return")
    if stored is not None:
        checks.append(compare("advantage", "G_t = Σ_k γ^{k−t} ρ_k", stored, returns))
    return _token_finish(step, hp, checks, returns, "Â = whiten(G)" if hp["normalize_advantages"] else "Â = G")


@component("advantage", "reinforce_pp", summary="REINFORCE++: discounted token return incl. KL reward, batch-whitened",
           compute="unipo.algorithms.advantages_token:reinforce_pp", inputs=("reward", "mask"),
           terms=("token_reward", "return"), level="token",
           batch_dependent=lambda hp: "normalize_advantages whitens over the whole batch" if hp["normalize_advantages"] else None,
           relation=_reinforce_pp_relation, citation="Hu, REINFORCE++, arXiv:2501.03262")
def reinforce_pp_card(hp):
    latex = (rf"{t('advantage')} = \mathrm{{whiten}}\big({t('return')}\big),\quad {t('return')} = \sum_{{k \ge t}} "
             rf"\gamma^{{k-t}} {t('token_reward')},\quad {t('token_reward')} = {t('reward')}\,[k = L_i]"
             + (rf" + {t('kl_reward')}" if _kl_in_reward(hp) else ""))
    return card("advantage", "reinforce_pp", "Advantage", latex,
                f"REINFORCE++: discounted return (γ = {hp['gamma']:g}) of the token rewards, whitened over every "
                "real token of the batch.")


def _reinforce_pp_baseline_relation(step, hp):
    rewards, checks = _rewards(step, hp)
    groups = step.groups()
    if rewards is None or groups is None:
        return checks + [missing("advantage", "Â = whiten(R' − mean_g)", "reward", "group")]
    mean, _, _ = group_mean_std(rewards, groups)
    return _token_finish(step, hp, checks, step.per_token(rewards - mean), "Â = whiten(R' − mean_g)")


@component("advantage", "reinforce_pp_baseline", summary="REINFORCE++-baseline: (R' − mean_g) per token, batch-whitened",
           compute="unipo.algorithms.advantages_token:reinforce_pp_baseline", inputs=("reward", "group", "mask"),
           response_terms=("group_mean", "shaped_reward"), level="token",
           batch_dependent=lambda hp: "normalize_advantages whitens over the whole batch" if hp["normalize_advantages"] else None,
           relation=_reinforce_pp_baseline_relation, citation="Hu, REINFORCE++, arXiv:2501.03262")
def reinforce_pp_baseline_card(hp):
    return card("advantage", "reinforce_pp_baseline", "Advantage",
                rf"{t('advantage')} = \mathrm{{whiten}}\big({_reward_symbol(hp)} - {t('group_mean')}\big)"
                + _shaped_reward_latex(hp),
                "REINFORCE++-baseline: group-centred reward broadcast to every token, whitened over the batch.")


def _gae_relation(step, hp):
    token_reward, checks = _token_reward_relation(step, hp)
    values, returns, td = step.token("value"), step.token("return"), step.token("td_error")
    if token_reward is None or values is None or returns is None:
        return checks + [missing("advantage", "GAE", "token_reward", "value", "return")]
    gamma, lam = hp["gamma"], hp["lam"]
    next_values = np.append(values[1:], 0.0)
    next_values[step.offsets[1:][step.lengths > 0] - 1] = 0.0
    deltas = token_reward + gamma * next_values - values
    if td is not None:
        checks.append(compare("advantage", "δ_t = ρ_t + γV_{t+1} − V_t", td, deltas, scale=values))
    raw = _discounted(deltas, step, gamma * lam)
    checks.append(compare("advantage", "G_t − V_t = Σ_l (γλ)^l δ_{t+l}", returns - values, raw,
                          scale=np.abs(returns) + np.abs(values)))
    return _token_finish(step, hp, checks, raw, "Â = whiten(GAE)" if hp["normalize_advantages"] else "Â = GAE")


@component("advantage", "gae", summary="GAE(γ, λ) with a critic; returns = Â + V",
           compute="unipo.algorithms.advantages_token:gae", inputs=("reward", "mask", "value"),
           terms=("token_reward", "td_error", "return"), level="token",
           batch_dependent=lambda hp: "normalize_advantages whitens over the whole batch" if hp["normalize_advantages"] else None,
           relation=_gae_relation, citation="Schulman et al., High-Dimensional Continuous Control Using GAE, arXiv:1506.02438")
def gae_card(hp):
    future_delta, next_value = t("td_error", r"\delta_{i,t+l}"), t("value", r"V_{i,t+1}")
    latex = (rf"{t('advantage')} = \sum_{{l \ge 0}} (\gamma\lambda)^l {future_delta},\quad "
             rf"{t('td_error')} = {t('token_reward')} + \gamma {next_value} - {t('value')}")
    text = (f"GAE with γ = {hp['gamma']:g}, λ = {hp['lam']:g} from the critic's values; the token reward is R_i on "
            "the last token" + (" plus the KL reward on every token" if _kl_in_reward(hp) else "") + ".")
    return card("advantage", "gae", "Advantage", _whitened(hp, latex), _whitened_text(hp, text))

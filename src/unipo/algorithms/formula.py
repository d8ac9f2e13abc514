"""A spec's description of itself: one card per axis, in the unipo/1 notation.

Cards are built from the same hyper-parameters that drive the computation, and a card is present
only when its part takes part in the loss (no KL card when β = 0 and kl_coef = 0, and so on).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from unipo.algorithms.formula_terms import t, term_entries

_TERM = re.compile(r"\\htmlClass\{t-([a-z_]+)\}")


@dataclass(frozen=True)
class Formula:
    cards: tuple[dict, ...]

    def to_dict(self) -> dict:
        return {"notation": "unipo/1", "cards": [dict(card) for card in self.cards]}

    def card(self, card_id: str) -> dict | None:
        return next((c for c in self.cards if c["id"] == card_id), None)


def _card(card_id, variant, title, latex, explanation) -> dict:
    return {"id": card_id, "variant": variant, "title": title, "latex": latex, "explanation": explanation,
            "terms": term_entries(_TERM.findall(latex))}


def build_formula(hp: dict) -> Formula:
    cards = [_aggregation(hp), _token_objective(hp), _ratio(hp), _clip(hp), _advantage(hp)]
    if kl_in_loss(hp) or kl_in_reward(hp):
        cards.append(_kl(hp))
    if hp["entropy_coef"] != 0.0:
        cards.append(_entropy(hp))
    if hp["top_entropy_quantile"] < 1.0 or hp["mask_truncated_completions"]:
        cards.append(_selection(hp))
    if hp["advantage_estimator"] == "gae":
        cards.append(_value(hp))
    return Formula(tuple(cards))


def kl_in_loss(hp) -> bool:
    return hp["beta"] != 0.0


def kl_in_reward(hp) -> bool:
    return hp["kl_coef"] != 0.0


_AGGREGATION_TEXT = {
    "seq-mean-token-mean": (rf"\frac{{{t('mask')}}}{{{t('num_responses')}\,{t('length')}}}",
                            "Average over each response's tokens, then over responses: every response counts "
                            "equally, so a token of a short response weighs more than a token of a long one "
                            "(weight 1/(N·L_i)); long wrong answers are penalised less per token."),
    "token-mean": (rf"\frac{{{t('mask')}}}{{{t('num_tokens')}}}",
                   "Every token of the whole (global) batch weighs the same, 1/(tokens in the batch): no length bias "
                   "between responses; long responses contribute proportionally more tokens."),
    "token-mean-local": (rf"\frac{{{t('mask')}}}{{\sum_{{j,s}} m_{{j,s}}}}",
                         "Every token of this micro-batch weighs 1/(tokens in the micro-batch); under gradient "
                         "accumulation, micro-batches with fewer tokens give each of their tokens more weight."),
    "seq-mean-token-sum": (rf"\frac{{{t('mask')}}}{{{t('num_responses')}}}",
                           "Sum over each response's tokens, mean over responses: every token weighs 1/N, so a "
                           "response's total weight grows with its length."),
    "seq-mean-token-sum-norm": (rf"\frac{{{t('mask')}}}{{{t('num_responses')}\,{t('max_length')}}}",
                                "Dr. GRPO's constant: every token weighs 1/(N·L_max) whatever its response's "
                                "length, which removes the length bias of the per-response mean."),
}


def _aggregation(hp):
    mode = hp["loss_aggregation"]
    weight, text = _AGGREGATION_TEXT[mode]
    latex = (rf"{t('loss')} = -\sum_{{i,t}} {t('weight')}\,{t('token_objective')},\quad "
             rf"{t('weight')} = {weight}")
    if mode == "seq-mean-token-sum-norm":
        limit = hp["max_completion_length"]
        text += f" Here L_max = {limit if limit is not None else 'the padded length T'}."
    return _card("aggregation", mode, "Step-level objective", latex, text)


def _token_objective(hp):
    selected = hp["top_entropy_quantile"] < 1.0
    surrogate = (t("selected") + r"\," if selected else "") + t("surrogate")
    latex = rf"{t('token_objective')} = {surrogate}"
    parts = ["the policy-gradient surrogate"]
    variant = ["surrogate"]
    if kl_in_loss(hp):
        latex += rf" - {t('kl_penalty')}"
        parts.append(f"minus β = {hp['beta']:g} times the KL estimate")
        variant.append("kl")
    if hp["entropy_coef"] != 0.0:
        latex += rf" + {t('entropy_bonus')}"
        parts.append(f"plus β_H = {hp['entropy_coef']:g} times the token entropy")
        variant.append("entropy")
    text = "Each token's objective is " + ", ".join(parts) + "."
    if selected:
        text += " Only selected tokens carry the surrogate."
    return _card("token_objective", "+".join(variant), "Per-token objective", latex, text)


def _ratio(hp):
    level = hp["importance_sampling_level"]
    lp, old = t("logprob"), t("old_logprob")
    if level == "token":
        latex = rf"{t('ratio')} = \exp\!\big({lp} - {old}\big)"
        text = "How much more (or less) likely the token is now than when it was sampled; 1 on the first update of a rollout."
    elif level == "sequence":
        latex = rf"{t('ratio')} = s_i = \exp\!\Big(\frac{{1}}{{{t('length')}}}\sum_{{t}} m_{{i,t}}\big({lp} - {old}\big)\Big)"
        text = ("One ratio per response, the geometric mean of its token ratios (GSPO); every token of the "
                "response shares it, and the clip acts on the whole sequence.")
    else:
        latex = rf"{t('ratio')} = \exp\!\big({lp} - \mathrm{{sg}}({lp})\big) = 1"
        text = ("No importance ratio: r has value 1 and gradient ∇ℓ, so r·Â is the plain policy gradient Â·∇ℓ "
                "(REINFORCE). Only valid on-policy.")
    return _card("ratio", level, "Importance ratio", latex, text)


def _clip(hp):
    mode = hp["clip_mode"]
    r, a, u = t("ratio"), t("advantage"), t("surrogate")
    if mode == "ppo":
        low, high = hp["epsilon"], hp["epsilon_high"]
        capped = r if hp["delta"] is None else rf"\min({r}, {t('delta')})"
        latex = (rf"{u} = \min\!\Big({capped}\,{a},\ {t('min_branch')}\big({r}, 1-{t('epsilon_low')}, "
                 rf"1+{t('epsilon_high')}\big)\,{a}\Big)")
        text = (f"PPO clip with ε_low = {low:g}, ε_high = {high:g}: once r leaves [1−ε_low, 1+ε_high] in the "
                "direction the advantage pushes, the clipped branch wins and the token's gradient is cut.")
        variant = "ppo-symmetric" if low == high else "ppo-asymmetric"
        if hp["delta"] is not None:
            text += f" Dual clip: for Â < 0 the objective is capped at δ·Â once r > δ = {hp['delta']:g}."
            variant += "+dual"
    elif mode == "cispo":
        latex = rf"{u} = \mathrm{{sg}}\big(\min({r}, {t('epsilon_max')})\big)\,{a}\,{t('logprob')}"
        text = (f"CISPO: the ratio, truncated at ε_max = {hp['epsilon_high']:g} and stop-gradient, weights the "
                "REINFORCE term Â·ℓ; no token's gradient is ever cut, large ratios only shrink it.")
        variant = "cispo"
    elif mode == "sapo":
        latex = rf"{u} = \sigma\!\big({t('temperature')}({r}-1)\big)\,\frac{{4}}{{{t('temperature')}}}\,{a}"
        text = (f"SAPO soft gate (τ_pos = {hp['sapo_temperature_pos']:g}, τ_neg = {hp['sapo_temperature_neg']:g}): "
                "the gradient factor is 1 at r = 1 and fades smoothly as r moves away, instead of a hard cut.")
        variant = "sapo"
    else:
        latex = rf"{u} = {r}\,{a}"
        text = "No trust region: the importance-weighted advantage."
        variant = "none"
    return _card("clip", variant, "Surrogate and trust region", latex, text)


def _shaped_reward():
    return rf"{t('reward')} - \sum_t {t('kl_reward')}"


def _advantage(hp):
    estimator = hp["advantage_estimator"]
    a, reward = t("advantage"), t("reward")
    if kl_in_reward(hp) and estimator not in ("reinforce_pp", "gae"):
        reward = rf"\big({_shaped_reward()}\big)"
    eps = hp["advantage_epsilon"]
    if estimator == "group_norm":
        mode = hp["scale_rewards"]
        centred = rf"{reward} - {t('group_mean')}"
        if mode == "group":
            latex = rf"{a} = \frac{{{centred}}}{{{t('group_std')} + \epsilon}}"
            text = (f"Group z-score (ε = {eps:g}): how much better the response is than its siblings, in units of "
                    "the group's std. Groups that are nearly all right or all wrong get amplified.")
        elif mode == "batch":
            latex = rf"{a} = \frac{{{centred}}}{{\sigma_{{\text{{batch}}}} + \epsilon}}"
            text = f"Group-centred reward divided by the batch's reward std (ε = {eps:g}): no per-group amplification."
        else:
            latex = rf"{a} = {centred}"
            text = "Group-centred reward, no std division (Dr. GRPO): no difficulty bias."
        text += " A zero-variance group gives every member zero advantage."
        variant = f"group_norm-{mode}"
    elif estimator == "rloo":
        latex = rf"{a} = {reward} - {t('baseline')},\quad {t('baseline')} = \frac{{1}}{{G-1}}\sum_{{j \ne i}} R_j"
        text = "Leave-one-out: the baseline is the mean reward of the other responses to the same prompt."
        variant = "rloo"
    elif estimator == "reinforce":
        kind = hp["reinforce_baseline"]
        latex = rf"{a} = {reward} - {t('baseline')}"
        text = ("Baseline = this batch's mean reward." if kind == "batch_mean" else
                f"Baseline = moving average of batch mean rewards (momentum {hp['baseline_momentum']:g}).")
        variant = f"reinforce-{kind}"
    elif estimator == "gpg":
        latex = (rf"{a} = {t('advantage_scale')}\big({reward} - {t('group_mean')}\big),\quad "
                 rf"{t('advantage_scale')} = \frac{{N}}{{\#\{{R_j \ne 0\}}}}")
        text = "GPG: group-centred reward, rescaled by the share of responses with a non-zero reward."
        variant = "gpg"
    elif estimator == "reinforce_pp":
        latex = (rf"{a} = \mathrm{{whiten}}\big({t('return')}\big),\quad {t('return')} = \sum_{{k \ge t}} "
                 rf"\gamma^{{k-t}} {t('token_reward')},\quad {t('token_reward')} = {t('reward')}\,[k = L_i]"
                 + (rf" - {t('kl_reward')}" if kl_in_reward(hp) else ""))
        text = (f"REINFORCE++: discounted return (γ = {hp['gamma']:g}) of the token rewards, whitened over every "
                "real token of the batch.")
        variant = "reinforce_pp"
    elif estimator == "reinforce_pp_baseline":
        latex = rf"{a} = \mathrm{{whiten}}\big({reward} - {t('group_mean')}\big)"
        text = "REINFORCE++-baseline: group-centred reward broadcast to every token, whitened over the batch."
        variant = "reinforce_pp_baseline"
    else:
        future_delta, next_value = t("td_error", r"\delta_{i,t+l}"), t("value", r"V_{i,t+1}")
        latex = (rf"{a} = \sum_{{l \ge 0}} (\gamma\lambda)^l {future_delta},\quad "
                 rf"{t('td_error')} = {t('token_reward')} + \gamma {next_value} - {t('value')}")
        text = (f"GAE with γ = {hp['gamma']:g}, λ = {hp['lam']:g} from the critic's values; the token reward is R_i on "
                "the last token" + (" minus the KL reward on every token" if kl_in_reward(hp) else "") + ".")
        variant = "gae"
    if hp["normalize_advantages"] and estimator not in ("reinforce_pp", "reinforce_pp_baseline"):
        latex = latex + r",\ \text{then whitened}"
        text += " Advantages are then whitened over the batch."
    return _card("advantage", variant, "Advantage", latex, text)


_KL_LATEX = {
    "k1": lambda: rf"{t('logprob')} - {t('ref_logprob')}",
    "k2": lambda: rf"\tfrac{{1}}{{2}}\big({t('logprob')} - {t('ref_logprob')}\big)^2",
    "k3": lambda: rf"e^{{{t('ref_logprob')} - {t('logprob')}}} - \big({t('ref_logprob')} - {t('logprob')}\big) - 1",
}


def _kl(hp):
    estimator = hp["kl_estimator"]
    latex = rf"{t('kl')} = {_KL_LATEX[estimator]()}"
    places = []
    if kl_in_loss(hp):
        places.append(f"in the loss with β = {hp['beta']:g} (per token, before aggregation)")
    if kl_in_reward(hp):
        places.append(f"in the reward with coefficient {hp['kl_coef']:g} (per-token reward −coef·KL)")
    text = f"{estimator} estimate of KL(π_θ‖π_ref), placed " + " and ".join(places) + "."
    if estimator == "k3":
        text += " Never negative; its value is unbiased but its gradient is not. Not clamped (as TRL)."
    variant = estimator + "".join(["-in-loss" if kl_in_loss(hp) else "", "-in-reward" if kl_in_reward(hp) else ""])
    return _card("kl", variant, "KL to the reference", latex, text)


def _entropy(hp):
    latex = rf"{t('entropy_bonus')} = {hp['entropy_coef']:g}\cdot{t('entropy')}"
    text = ("Entropy bonus, aggregated with the same weights as the policy term (verl's convention; TRL "
            "instead adds a plain token-mean of the entropy).")
    return _card("entropy", "bonus", "Entropy bonus", latex, text)


def _selection(hp):
    parts, variant = [], []
    latex = rf"{t('selected')} = m_{{i,t}}"
    if hp["mask_truncated_completions"]:
        latex += r"\cdot[\text{response } i \text{ not truncated}]"
        parts.append("responses cut off at the length limit are dropped entirely (they also leave every denominator)")
        variant.append("drop-truncated")
    if hp["top_entropy_quantile"] < 1.0:
        rho = hp["top_entropy_quantile"]
        latex += rf"\cdot\big[{t('entropy')} \ge q_{{1-{rho:g}}}(\mathcal{{H}})\big]"
        parts.append(f"only the top {rho:.0%} highest-entropy tokens of the batch carry the policy gradient "
                     "(the others keep their weight but contribute no surrogate)")
        variant.append(f"top-entropy-{rho:g}")
    return _card("selection", "+".join(variant), "Token selection", latex, "; ".join(parts).capitalize() + ".")


def _value(hp):
    latex = (rf"\mathcal{{L}}_V = c_V\,\overline{{\tfrac{{1}}{{2}}\max\!\big(({t('value')} - {t('return')})^2,\ "
             rf"(\mathrm{{clip}}_{{\pm c}}({t('value')}) - {t('return')})^2\big)}}")
    text = (f"Critic loss: clipped squared error to the returns (c = {hp['cliprange_value']:g}, "
            f"c_V = {hp['vf_coef']:g}), token-mean over real tokens, added to the policy loss.")
    return _card("value", "clipped-mse", "Value function", latex, text)

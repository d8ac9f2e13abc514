"""A spec's description of itself: the cards of every component it uses, in the unipo/1 notation.

Each card comes from its component's descriptor (registry), built from the same hyper-parameters
that drive the computation; a card is present only when its part takes part (no KL card when β = 0
and kl_coef = 0, and so on). The order follows the data flow read backwards from the loss.
"""
from __future__ import annotations

from dataclasses import dataclass

from unipo.algorithms import registry
from unipo.algorithms.cards import card as _card
from unipo.algorithms.cards import t
from unipo.algorithms.composition import grad_coef_card, token_objective_card


@dataclass(frozen=True)
class Formula:
    cards: tuple[dict, ...]

    def to_dict(self) -> dict:
        return {"notation": "unipo/1", "cards": [dict(card) for card in self.cards]}

    def card(self, card_id: str) -> dict | None:
        return next((c for c in self.cards if c["id"] == card_id), None)


# Card order: the loss, the token objective, then the parts it is made of, then rollout-side parts.
CARD_AXES = ("ratio", "clip", "token_weight", "advantage", "advantage_modifier", "kl", "entropy_control",
             "selection", "reward_shaping", "sample_filter")


def build_formula(hp: dict) -> Formula:
    cards = [registry.selected("aggregation", hp).card(hp), token_objective_card(hp)]
    for axis in CARD_AXES:
        for component in registry.active(axis, hp):
            made = component.card(hp)
            if made is not None:
                if component.citation and "citation" not in made:
                    made = {**made, "citation": component.citation}
                cards.append(made)
    if registry.selected("advantage", hp).name == "gae":
        cards.append(_value(hp))
    cards.append(grad_coef_card(hp))
    return Formula(tuple(cards))


def kl_in_loss(hp) -> bool:
    return hp["beta"] != 0.0


def kl_in_reward(hp) -> bool:
    return hp["kl_coef"] != 0.0


def _value(hp):
    latex = (rf"\mathcal{{L}}_V = c_V\,\overline{{\tfrac{{1}}{{2}}\max\!\big(({t('value')} - {t('return')})^2,\ "
             rf"(\mathrm{{clip}}_{{\pm c}}({t('value')}) - {t('return')})^2\big)}}")
    text = (f"Critic loss: clipped squared error to the returns (c = {hp['cliprange_value']:g}, "
            f"c_V = {hp['vf_coef']:g}), token-mean over real tokens, added to the policy loss.")
    return _card("value", "clipped-mse", "Value function", latex, text)

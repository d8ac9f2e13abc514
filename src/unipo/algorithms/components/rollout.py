"""Rollout-side parts of an algorithm: reward shaping and sample filtering, run by the engine before
advantages (axes "reward_shaping", "sample_filter"). They belong to the preset (DAPO has both) and each
is switched by its own parameter."""
from __future__ import annotations

import numpy as np

from unipo.algorithms.cards import card
from unipo.algorithms.hparams import HParam
from unipo.algorithms.registry import component
from unipo.algorithms.stored import compare, missing, unchecked

OVERLONG_COLUMN = "reward_overlong"


def overlong_penalty(lengths: np.ndarray, max_length: int, buffer: int, factor: float) -> np.ndarray:
    threshold = max_length - buffer
    penalty = np.where(lengths <= threshold, 0.0, (threshold - lengths) / buffer)
    return np.where(lengths > max_length, -1.0, penalty) * factor


def overlong_buffer_tokens(hp) -> int:
    """L_c in tokens: the fraction of the completion budget L_max (DAPO: 4096 of 20480 = 0.2)."""
    return max(1, round(hp["overlong_buffer_fraction"] * hp["max_completion_length"]))


def _overlong_relation(step, hp):
    stored, lengths = step.response_value(OVERLONG_COLUMN), step.response_value("response_length")
    if stored is None or lengths is None:
        return [missing("reward_shaping", "overlong penalty", OVERLONG_COLUMN, "response_length")]
    if hp["max_completion_length"] is None:
        return [unchecked("reward_shaping", "overlong penalty", "max_completion_length is not set in the spec")]
    expected = overlong_penalty(lengths, hp["max_completion_length"], overlong_buffer_tokens(hp),
                                hp["overlong_penalty_factor"])
    return [compare("reward_shaping", "R_overlong = soft overlong penalty(L)", stored, expected)]


@component("reward_shaping", "soft_overlong", summary="DAPO soft overlong punishment: a linear penalty inside the last L_cache tokens",
           compute="unipo.algorithms.reward_shaping:soft_overlong_shaping", inputs=("response_length",),
           response_terms=(OVERLONG_COLUMN,), level="response", rollout_side=True,
           active=lambda hp: hp["overlong_buffer_fraction"] > 0, relation=_overlong_relation,
           hparams={"overlong_buffer_fraction": HParam(0.0, "DAPO soft overlong punishment: buffer L_cache as a fraction of max_completion_length (0 = off; DAPO 0.2)", minimum=0.0, maximum=1.0),
                    "overlong_penalty_factor": HParam(1.0, "scale of the soft overlong penalty", minimum=0.0)},
           citation="Yu et al., DAPO, arXiv:2503.14476")
def overlong_card(hp):
    buffer = (f"{overlong_buffer_tokens(hp)} tokens" if hp["max_completion_length"] else
              f"{hp['overlong_buffer_fraction']:.0%} of L_max")
    return card("reward_shaping", "soft-overlong", "Reward shaping",
                r"R_i \leftarrow R_i + \begin{cases}0 & L_i \le L_{\max} - L_c\\ \frac{L_{\max} - L_c - L_i}{L_c} & "
                r"L_{\max} - L_c < L_i \le L_{\max}\\ -1 & L_i > L_{\max}\end{cases}",
                f"DAPO soft overlong punishment (L_c = {buffer}, factor {hp['overlong_penalty_factor']:g}): responses "
                "running into the last L_c tokens of the budget lose reward linearly, stored as reward_overlong.")


def _dynamic_relation(step, hp):
    reward, groups = step.response_value("reward"), step.groups()
    if reward is None or groups is None:
        return [missing("sample_filter", "kept groups have differing rewards", "reward", "group")]
    flat = np.array([np.ptp(reward[groups == g]) == 0 for g in range(groups.max(initial=-1) + 1)])
    filled = step.metrics.get("dynamic_sampling_filled_groups")
    if not isinstance(filled, (int, float)):
        return [unchecked("sample_filter", "kept groups have differing rewards",
                          "the step's metrics do not say how many groups were filled in")]
    # A step is one mini-batch of the rollout, so it holds at most the rollout's filled-in groups.
    count = int(flat.sum())
    relation = compare("sample_filter", "zero-spread groups ≤ groups filled in after the tries ran out",
                       np.array([min(count, filled)]), np.array([count]), atol=0.0)
    return [relation]


@component("sample_filter", "dynamic_sampling", summary="DAPO dynamic sampling: drop groups whose rewards are all equal, refill",
           compute=None, inputs=("reward", "group"), level="batch", rollout_side=True,
           active=lambda hp: bool(hp["dynamic_sampling"]), relation=_dynamic_relation,
           hparams={"dynamic_sampling": HParam(False, "DAPO dynamic sampling: drop zero-spread groups and draw new prompts", kind=bool),
                    "dynamic_sampling_max_tries": HParam(4, "extra generation rounds per rollout before filling with dropped groups", kind=int, minimum=0)},
           citation="Yu et al., DAPO, arXiv:2503.14476")
def dynamic_sampling_card(hp):
    return card("sample_filter", "dynamic-sampling", "Sample filtering",
                r"\text{keep group } g \iff \exists\, i, j \in g:\ R_i \ne R_j",
                "Dynamic sampling: a group whose responses all got the same reward has zero advantage everywhere "
                "and teaches nothing, so it is dropped and new prompts are drawn (up to "
                f"{hp['dynamic_sampling_max_tries']} extra rounds; then dropped groups fill the batch).")

"""Policy-optimization algorithms as composable, pure tensor components (contracts §1).

    algo = get_preset("dapo", epsilon_high=0.28)
    adv = algo.advantages(rewards, group_ids)
    out = algo.objective(logprobs, old_logprobs, mask, advantages=adv)
    out.loss.backward()
"""
from unipo.algorithms.advantages import AdvantageDetails
from unipo.algorithms.hparams import HPARAMS
from unipo.algorithms.objective import ObjectiveOutput
from unipo.algorithms.presets import PresetInfo, list_presets
from unipo.algorithms.reward_shaping import soft_overlong_penalty
from unipo.algorithms.spec import AlgorithmSpec, get_preset

__all__ = ["AdvantageDetails", "AlgorithmSpec", "HPARAMS", "ObjectiveOutput", "PresetInfo", "get_preset",
           "list_presets", "soft_overlong_penalty"]

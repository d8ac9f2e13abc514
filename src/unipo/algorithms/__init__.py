"""Policy-optimization algorithms as registered, self-describing components (contracts §1).

    algo = get_preset("dapo", epsilon_high=0.28)
    adv = algo.advantages(rewards, group_ids)
    out = algo.objective(logprobs, old_logprobs, mask, advantages=adv)
    out.loss.backward()

Importing this package loads no torch: names, presets, hyper-parameters, formula cards and relations
are plain Python; tensor code is imported by the first computation.
"""
from unipo.algorithms.hparams import all_hparams
from unipo.algorithms.presets import PresetInfo, list_presets
from unipo.algorithms.registry import component
from unipo.algorithms.spec import AlgorithmSpec, get_preset

_LAZY = {
    "AdvantageDetails": ("unipo.algorithms.advantages", "AdvantageDetails"),
    "ObjectiveOutput": ("unipo.algorithms.objective", "ObjectiveOutput"),
    "soft_overlong_penalty": ("unipo.algorithms.reward_shaping", "soft_overlong_penalty"),
    "StepInputs": ("unipo.algorithms.pipeline", "StepInputs"),
    "StepResult": ("unipo.algorithms.pipeline", "StepResult"),
    "recompute": ("unipo.algorithms.pipeline", "recompute"),
}


def __getattr__(name):
    if name == "HPARAMS":
        return all_hparams()
    if name in _LAZY:
        import importlib
        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'unipo.algorithms' has no attribute {name!r}")


__all__ = ["AdvantageDetails", "AlgorithmSpec", "HPARAMS", "ObjectiveOutput", "PresetInfo", "StepInputs",
           "StepResult", "component", "get_preset", "list_presets", "recompute", "soft_overlong_penalty"]

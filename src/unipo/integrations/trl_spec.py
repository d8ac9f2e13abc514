"""TRL GRPOConfig → UNIPO AlgorithmSpec: the same loss, written as UNIPO components.

Every option of TRL 1.16's `_compute_loss` that changes the loss is mapped; the ones UNIPO composes
differently are listed in `TrlSpec.not_recomposed` (they still run in TRL, the per-step check then
shows the difference instead of a ✓). Which aggregation / clip rule each loss_type means is proven
by tests/algorithms/test_trl_loss_parity.py (float64, 1e-8) on TRL's own code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unipo.algorithms import AlgorithmSpec
from unipo.errors import UnipoError

# loss_type → (preset name shown in the UI, the hyper-parameters that make it TRL's loss)
LOSS_TYPES: dict[str, tuple[str, dict[str, Any]]] = {
    "grpo": ("grpo", {"loss_aggregation": "seq-mean-token-mean", "clip_mode": "ppo"}),
    "bnpo": ("bnpo", {"loss_aggregation": "token-mean-local", "clip_mode": "ppo"}),
    "dr_grpo": ("dr_grpo", {"loss_aggregation": "seq-mean-token-sum-norm", "clip_mode": "ppo"}),
    "dapo": ("dapo", {"loss_aggregation": "token-mean", "clip_mode": "ppo"}),
    "cispo": ("cispo", {"loss_aggregation": "token-mean", "clip_mode": "cispo"}),
    "sapo": ("sapo", {"loss_aggregation": "seq-mean-token-mean", "clip_mode": "sapo"}),
    "luspo": ("luspo", {"loss_aggregation": "seq-mean-token-sum", "clip_mode": "ppo"}),
    "vespo": ("vespo", {"loss_aggregation": "token-mean", "clip_mode": "vespo",
                        "importance_sampling_level": "sequence_product"}),
}

# Losses TRL divides by gradient_accumulation_steps; the token-mean ones divide by a token count instead.
MEAN_OVER_MICRO_BATCHES = {"grpo", "bnpo", "dr_grpo", "sapo", "luspo"}


@dataclass
class TrlSpec:
    spec: AlgorithmSpec
    loss_type: str
    options: dict[str, Any]                              # the GRPOConfig values read (the run header keeps them)
    not_recomposed: list[str] = field(default_factory=list)   # TRL options UNIPO's loss does not include

    def header(self) -> dict[str, Any]:
        return {"loss_type": self.loss_type, "config": self.options, "not_recomposed": self.not_recomposed}


def _get(config, name, default=None):
    return getattr(config, name, default)


def spec_from_config(config) -> TrlSpec:
    """The UNIPO spec of a GRPOConfig (or any object with its attribute names)."""
    loss_type = _get(config, "loss_type", "dapo")
    if loss_type not in LOSS_TYPES:
        raise UnipoError(f"GRPOConfig.loss_type: {loss_type!r} has no UNIPO mapping; known: {', '.join(LOSS_TYPES)}")
    name, base = LOSS_TYPES[loss_type]
    epsilon = float(_get(config, "epsilon", 0.2))
    epsilon_high = _get(config, "epsilon_high")
    epsilon_high = epsilon if epsilon_high is None else float(epsilon_high)
    beta = float(_get(config, "beta", 0.0))
    scale_rewards = _get(config, "scale_rewards", "group")
    scale_rewards = {True: "group", False: "none"}.get(scale_rewards, scale_rewards)
    level = _get(config, "importance_sampling_level", "token")
    hp: dict[str, Any] = dict(base)
    hp.setdefault("importance_sampling_level", level)
    hp.update(advantage_estimator="group_norm", scale_rewards=scale_rewards, epsilon=epsilon,
              epsilon_high=epsilon_high, beta=beta, kl_estimator="k3",
              top_entropy_quantile=float(_get(config, "top_entropy_quantile", 1.0)),
              mask_truncated_completions=bool(_get(config, "mask_truncated_completions", False)))
    delta = _get(config, "delta")
    if delta is not None and base["clip_mode"] == "ppo":
        hp["delta"] = float(delta)
    if loss_type == "dr_grpo":
        hp["max_completion_length"] = int(_get(config, "max_completion_length", 256))
    if loss_type == "sapo":
        hp["sapo_temperature_pos"] = float(_get(config, "sapo_temperature_pos", 1.0))
        hp["sapo_temperature_neg"] = float(_get(config, "sapo_temperature_neg", 1.05))
    if loss_type == "vespo":
        for key in ("vespo_k_pos", "vespo_lambda_pos", "vespo_k_neg", "vespo_lambda_neg"):
            if _get(config, key) is not None:
                hp[key] = float(_get(config, key))
    use_is = bool(_get(config, "use_vllm", False)) and bool(_get(config, "vllm_importance_sampling_correction", False))
    if use_is and loss_type != "vespo":  # TRL folds it into VESPO's φ instead (see the VESPO card)
        hp.update(is_correction="importance_sampling",
                  vllm_importance_sampling_mode=_get(config, "vllm_importance_sampling_mode", "sequence_mask"),
                  vllm_importance_sampling_clip_min=_get(config, "vllm_importance_sampling_clip_min"),
                  vllm_importance_sampling_clip_max=_get(config, "vllm_importance_sampling_clip_max", 3.0))
    not_recomposed = []
    if beta != 0.0 and bool(_get(config, "use_bias_correction_kl", False)):
        not_recomposed.append("use_bias_correction_kl (TRL multiplies the KL by the ratio; UNIPO's KL is not reweighted)")
    if _get(config, "off_policy_mask_threshold") is not None:
        not_recomposed.append("off_policy_mask_threshold (DeepSeek-V3.2 off-policy sequence mask)")
    if float(_get(config, "entropy_coef", 0.0) or 0.0) != 0.0 or bool(_get(config, "use_adaptive_entropy", False)):
        not_recomposed.append("entropy_coef / use_adaptive_entropy (TRL's bonus is a plain token mean per micro-batch)")
    if use_is and loss_type == "vespo":
        not_recomposed.append("vllm_importance_sampling_correction with loss_type='vespo'")
    if _get(config, "multi_objective_aggregation", "sum_then_normalize") != "sum_then_normalize":
        not_recomposed.append("multi_objective_aggregation='normalize_then_sum' (advantages are TRL's, stored as given)")
    try:
        spec = AlgorithmSpec(name, **hp)
    except ValueError as exc:
        raise UnipoError(f"GRPOConfig: no UNIPO spec for these options ({exc})") from None
    options = {key: _plain(_get(config, key)) for key in _OPTIONS}
    return TrlSpec(spec=spec, loss_type=loss_type, options=options, not_recomposed=not_recomposed)


_OPTIONS = ("loss_type", "epsilon", "epsilon_high", "beta", "scale_rewards", "importance_sampling_level",
            "top_entropy_quantile", "delta", "mask_truncated_completions", "max_completion_length",
            "num_generations", "num_iterations", "steps_per_generation", "gradient_accumulation_steps",
            "per_device_train_batch_size", "use_vllm", "vllm_importance_sampling_correction",
            "vllm_importance_sampling_mode", "vllm_importance_sampling_clip_min", "vllm_importance_sampling_clip_max",
            "use_bias_correction_kl", "off_policy_mask_threshold", "entropy_coef", "temperature", "learning_rate",
            "sapo_temperature_pos", "sapo_temperature_neg", "multi_objective_aggregation")


def _plain(value):
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)

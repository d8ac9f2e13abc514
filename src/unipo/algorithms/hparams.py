"""Every hyper-parameter a spec can carry: default, allowed values and meaning.

Names follow TRL's GRPOConfig where TRL has the option (epsilon, epsilon_high, delta, beta,
scale_rewards, importance_sampling_level, top_entropy_quantile, mask_truncated_completions,
entropy_coef, sapo_temperature_*, max_completion_length), verl's otherwise (gamma, lam, kl_coef).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unipo.algorithms import registry


@dataclass(frozen=True)
class HParam:
    default: Any
    description: str
    choices: tuple | str | None = None  # a tuple, or the name of a registry axis (its component names)
    kind: type | tuple = float  # for numbers: float; bools: bool; optional numbers: (float, None)
    minimum: float | None = None
    maximum: float | None = None


# The parameters every spec carries; components add their own (registry.component_hparams()).
CORE_HPARAMS: dict[str, HParam] = {
    "importance_sampling_level": HParam("token", "importance ratio per token, per sequence (GSPO), or none (plain policy gradient)", "ratio", str),
    "clip_mode": HParam("ppo", "trust-region rule applied to the ratio", "clip", str),
    "loss_aggregation": HParam("seq-mean-token-mean", "how per-token objectives become one step loss", "aggregation", str),
    "advantage_estimator": HParam("group_norm", "how advantages are computed from rewards", "advantage", str),
    "scale_rewards": HParam("group", "group_norm divisor: group std, batch std, or none (Dr. GRPO)", ("group", "batch", "none"), str),
    "advantage_epsilon": HParam(1e-4, "ε added to the std when dividing by it (TRL 1e-4, verl 1e-6)", minimum=0.0),
    "normalize_advantages": HParam(False, "whiten advantages over the batch (over real tokens when token-level)", kind=bool),
    "reinforce_baseline": HParam("batch_mean", "REINFORCE baseline: this batch's mean reward or a moving average", ("batch_mean", "moving_average"), str),
    "baseline_momentum": HParam(0.9, "moving-average baseline momentum m in b ← m·b + (1−m)·mean R", minimum=0.0, maximum=1.0),
    "gamma": HParam(1.0, "discount γ for token-level returns and GAE", minimum=0.0, maximum=1.0),
    "lam": HParam(1.0, "GAE λ", minimum=0.0, maximum=1.0),
    "epsilon": HParam(0.2, "lower clip range ε_low: ratios below 1−ε_low are clipped when A < 0", minimum=0.0),
    "epsilon_high": HParam(None, "upper clip range ε_high (clip-higher); defaults to epsilon. CISPO: absolute cap ε_max", kind=(float, None), minimum=0.0),
    "delta": HParam(None, "dual-clip cap δ (> 1 + epsilon_high): for A < 0 the loss is capped at −δ·A; none = off", kind=(float, None), minimum=1.0),
    "sapo_temperature_pos": HParam(1.0, "SAPO gate temperature τ for A > 0", minimum=1e-12),
    "sapo_temperature_neg": HParam(1.05, "SAPO gate temperature τ for A ≤ 0", minimum=1e-12),
    "beta": HParam(0.0, "KL coefficient β in the loss (per token, before aggregation)", minimum=0.0),
    "kl_coef": HParam(0.0, "KL coefficient in the reward (per-token reward −kl_coef·KL)", minimum=0.0),
    "kl_estimator": HParam("k3", "KL estimator: k1 = δ, k2 = δ²/2, k3 = e^{−δ}+δ−1 with δ = ℓ − ℓ_ref", "kl", str),
    "entropy_coef": HParam(0.0, "entropy bonus coefficient β_H (aggregated with the policy weights)", minimum=0.0),
    "top_entropy_quantile": HParam(1.0, "fraction ρ of highest-entropy tokens that carry the policy gradient", minimum=0.0, maximum=1.0),
    "mask_truncated_completions": HParam(False, "drop every token of responses cut off at the length limit", kind=bool),
    "max_completion_length": HParam(None, "L_max of Dr. GRPO's constant Σ/(N·L_max); none = padded length T", kind=(int, None), minimum=1),
    "cliprange_value": HParam(0.2, "value-function clip range (critic)", minimum=0.0),
    "vf_coef": HParam(0.1, "value-loss coefficient (critic)", minimum=0.0),
}


def all_hparams() -> dict[str, HParam]:
    """The core parameters plus every registered component's own, in declaration order."""
    return {**CORE_HPARAMS, **registry.component_hparams()}


def __getattr__(name):  # HPARAMS stays importable; it is built once the registry has loaded
    if name == "HPARAMS":
        return all_hparams()
    raise AttributeError(name)


def choices_of(spec: HParam) -> tuple | None:
    return registry.names(spec.choices) if isinstance(spec.choices, str) else spec.choices


def validate_hparams(values: dict[str, Any]) -> dict[str, Any]:
    """Complete `values` with defaults, check every entry, and resolve epsilon_high = epsilon."""
    known = all_hparams()
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown hyper-parameter(s) {', '.join(map(repr, unknown))}; valid: {', '.join(known)}")
    resolved = {name: values.get(name, spec.default) for name, spec in known.items()}
    for name, value in resolved.items():
        resolved[name] = _check_one(name, known[name], value)
    if resolved["epsilon_high"] is None:
        resolved["epsilon_high"] = resolved["epsilon"]
    if resolved["delta"] is not None and resolved["delta"] <= 1 + resolved["epsilon_high"]:
        raise ValueError(f"delta: expected a value > 1 + epsilon_high = {1 + resolved['epsilon_high']}, got {resolved['delta']}")
    return resolved


def _check_one(name: str, spec: HParam, value: Any) -> Any:
    choices = choices_of(spec)
    if choices is not None:
        if value not in choices:
            raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {value!r}")
        return value
    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    if value is None:
        if None in kinds:
            return None
        raise ValueError(f"{name}: expected a number, got None")
    if bool in kinds:
        if not isinstance(value, bool):
            raise ValueError(f"{name}: expected true or false, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    if int in kinds:
        if float(value) != int(value):
            raise ValueError(f"{name}: expected an integer, got {value!r}")
        value = int(value)
    else:
        value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    if spec.minimum is not None and value < spec.minimum:
        raise ValueError(f"{name}: expected a value ≥ {spec.minimum}, got {value!r}")
    if spec.maximum is not None and value > spec.maximum:
        raise ValueError(f"{name}: expected a value ≤ {spec.maximum}, got {value!r}")
    return value

"""Named presets: each is a one-line summary plus the hyper-parameters that differ from the defaults."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PresetInfo:
    name: str
    summary: str


# DAPO is the whole algorithm: clip-higher, token-mean, overlong filtering, soft overlong punishment
# (L_cache = 20% of the budget, the paper's 4096 of 20480) and dynamic sampling; each part can be
# switched off (e.g. dynamic_sampling=False).
_DAPO = {
    "loss_aggregation": "token-mean", "epsilon": 0.2, "epsilon_high": 0.28, "mask_truncated_completions": True,
    "overlong_buffer_fraction": 0.2, "dynamic_sampling": True,
}

PRESETS: dict[str, tuple[str, dict]] = {
    "reinforce": ("REINFORCE with a batch-mean baseline: −(R − b)·Σ log π per response, no ratio, no clip.", {
        "importance_sampling_level": "none", "clip_mode": "none", "advantage_estimator": "reinforce",
        "loss_aggregation": "seq-mean-token-sum"}),
    "rloo": ("RLOO: leave-one-out baseline, PPO clip, k1 KL in the reward, token-mean.", {
        "advantage_estimator": "rloo", "loss_aggregation": "token-mean", "kl_estimator": "k1", "kl_coef": 0.05}),
    "reinforce_pp": ("REINFORCE++: token returns incl. k1 KL reward, whitened over the batch, PPO clip.", {
        "advantage_estimator": "reinforce_pp", "normalize_advantages": True, "loss_aggregation": "token-mean",
        "kl_estimator": "k1", "kl_coef": 0.01}),
    "ppo": ("PPO: GAE with a critic, PPO clip, k1 KL in the reward, entropy bonus, clipped value loss.", {
        "advantage_estimator": "gae", "gamma": 1.0, "lam": 0.95, "normalize_advantages": True,
        "loss_aggregation": "token-mean", "kl_estimator": "k1", "kl_coef": 0.05, "entropy_coef": 0.001}),
    "grpo": ("GRPO (DeepSeekMath): group z-score advantages, ε = 0.2, k3 KL in the loss (β = 0.04), per-sequence mean.", {
        "advantage_estimator": "group_norm", "scale_rewards": "group", "loss_aggregation": "seq-mean-token-mean",
        "kl_estimator": "k3", "beta": 0.04}),
    "dapo": ("DAPO: clip-higher (0.2 / 0.28), token-mean over the global batch, no KL, truncated responses dropped, "
             "soft overlong punishment, dynamic sampling.", dict(_DAPO)),
    "dr_grpo": ("Dr. GRPO: no std division, constant normaliser Σ/(N·L_max): no length or difficulty bias.", {
        "scale_rewards": "none", "loss_aggregation": "seq-mean-token-sum-norm"}),
    "bnpo": ("BNPO (TRL naming): GRPO advantages with a token-mean over the local micro-batch.", {
        "loss_aggregation": "token-mean-local"}),
    "gspo": ("GSPO: sequence-level geometric-mean ratio, tiny clip range (3e-4 / 4e-4), per-sequence mean.", {
        "importance_sampling_level": "sequence", "epsilon": 3e-4, "epsilon_high": 4e-4,
        "loss_aggregation": "seq-mean-token-mean"}),
    "cispo": ("CISPO: REINFORCE term weighted by the truncated, stop-gradient ratio sg(min(r, 5)); token-mean.", {
        "clip_mode": "cispo", "epsilon_high": 5.0, "loss_aggregation": "token-mean"}),
    "sapo": ("SAPO: a smooth sigmoid gate on the ratio instead of a hard clip; per-sequence mean.", {
        "clip_mode": "sapo", "loss_aggregation": "seq-mean-token-mean"}),
    "gpg": ("GPG: plain policy gradient with α(R − mean_g) advantages, no ratio, no clip, token-mean.", {
        "importance_sampling_level": "none", "clip_mode": "none", "advantage_estimator": "gpg",
        "loss_aggregation": "token-mean"}),
    "high_entropy": ("80/20: DAPO where only the top-20% highest-entropy tokens carry the policy gradient.", {
        **_DAPO, "top_entropy_quantile": 0.2}),
    "skywork_or1": ("Skywork-OR1 (MAGIC): GRPO advantages, ε = 0.2, token-mean, no KL, adaptive entropy control "
                    "(target 0.2, Δ = 1e-4, coefficient in [0, 5e-3], starting at 0).", {
        "advantage_estimator": "group_norm", "scale_rewards": "group", "loss_aggregation": "token-mean",
        "epsilon": 0.2, "beta": 0.0, "entropy_coef": 0.0, "adaptive_entropy": True, "entropy_target": 0.2,
        "entropy_coef_delta": 1e-4, "entropy_coef_min": 0.0, "entropy_coef_max": 5e-3,
        "adaptive_entropy_rule": "skywork"}),
    "gfpo": ("GFPO: GRPO on the 4 shortest of each group's sampled responses (raise the group size to sample "
             "more: the paper keeps 8 of 16), advantages over the kept set, token-mean.", {
        "advantage_estimator": "group_norm", "scale_rewards": "group", "loss_aggregation": "token-mean",
        "gfpo_keep": 4, "gfpo_metric": "length"}),
    "vespo": ("VESPO: a smooth Gamma weight φ(w) of the sequence weight w = Π r (sum of log-ratios) on the "
              "REINFORCE term Â·ℓ instead of a hard clip; token-mean (TRL loss_type=\"vespo\").", {
        "importance_sampling_level": "sequence_product", "clip_mode": "vespo", "loss_aggregation": "token-mean"}),
    "luspo": ("LUSPO: GSPO's sequence ratio and clip (3e-4 / 4e-4), each response's loss scaled by its length: "
              "Σ over tokens, mean over responses (TRL loss_type=\"luspo\").", {
        "importance_sampling_level": "sequence", "epsilon": 3e-4, "epsilon_high": 4e-4,
        "loss_aggregation": "seq-mean-token-sum"}),
    "gtpo": ("GTPO: GRPO advantages; conflict tokens (same id, same position, opposite-sign completions of a group) skip "
             "negative updates and double positive ones; completions with mean entropy > 0.7 are filtered; no KL.", {
        "advantage_estimator": "group_norm", "scale_rewards": "group", "loss_aggregation": "seq-mean-token-mean",
        "beta": 0.0, "gtpo_conflict_masking": True, "gtpo_entropy_filter": True}),
    "bapo": ("BAPO: PPO clip whose bounds c_low ∈ [0.6, 0.9], c_high ∈ [1.2, 3.0] are searched per batch until "
             "positive tokens carry half the contributions; dual clip 3, token-mean.", {
        "clip_mode": "bapo", "delta": 3.0, "loss_aggregation": "token-mean"}),
    "hadw": ("HA-DW: GRPO whose advantages are re-weighted by prompt difficulty against a running accuracy anchor.", {
        "advantage_estimator": "group_norm", "scale_rewards": "group", "loss_aggregation": "seq-mean-token-mean",
        "kl_estimator": "k3", "beta": 0.04, "use_hadw": True}),
    "clip_cov": ("Clip-Cov (verl): PPO clip, and a random 0.02% of tokens with Cov(ℓ, Â) in (1, 5) get no gradient; token-mean.", {
        "clip_mode": "clip_cov", "loss_aggregation": "token-mean"}),
    "kl_cov": ("KL-Cov (verl): no clip; the top 0.02% tokens by Cov(ℓ, Â) get a 0.1·|log r| penalty; token-mean.", {
        "clip_mode": "kl_cov", "loss_aggregation": "token-mean"}),
    "remax": ("ReMax: R − reward of the greedy response (the engine supplies baseline_rewards), PPO clip, token-mean.", {
        "advantage_estimator": "remax", "loss_aggregation": "token-mean"}),
    "opo": ("OPO: R − length-weighted group mean reward, no std division, PPO clip, token-mean.", {
        "advantage_estimator": "opo", "loss_aggregation": "token-mean"}),
}


def preset_overrides(name: str) -> dict:
    if name not in PRESETS:
        raise ValueError(f"unknown algorithm preset {name!r}; valid: {', '.join(PRESETS)}")
    return dict(PRESETS[name][1])


def list_presets() -> list[PresetInfo]:
    return [PresetInfo(name, summary) for name, (summary, _) in PRESETS.items()]

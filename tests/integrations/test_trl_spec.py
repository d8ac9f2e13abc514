"""GRPOConfig options → UNIPO AlgorithmSpec (no TRL import: the mapping reads attributes)."""
from types import SimpleNamespace

import pytest

from unipo.errors import UnipoError
from unipo.integrations.trl_spec import spec_from_config


def config(**options):
    base = dict(loss_type="dapo", epsilon=0.2, epsilon_high=None, beta=0.0, scale_rewards="group",
                importance_sampling_level="token", top_entropy_quantile=1.0, delta=None,
                mask_truncated_completions=False, max_completion_length=64, use_vllm=False,
                vllm_importance_sampling_correction=True, use_bias_correction_kl=True, entropy_coef=0.0)
    return SimpleNamespace(**{**base, **options})


@pytest.mark.parametrize("loss_type,aggregation,clip", [
    ("grpo", "seq-mean-token-mean", "ppo"), ("bnpo", "token-mean-local", "ppo"),
    ("dr_grpo", "seq-mean-token-sum-norm", "ppo"), ("dapo", "token-mean", "ppo"), ("cispo", "token-mean", "cispo"),
    ("sapo", "seq-mean-token-mean", "sapo"), ("luspo", "seq-mean-token-sum", "ppo"), ("vespo", "token-mean", "vespo")])
def test_each_loss_type_maps_to_its_aggregation_and_clip(loss_type, aggregation, clip):
    hp = spec_from_config(config(loss_type=loss_type)).spec.hparams
    assert (hp["loss_aggregation"], hp["clip_mode"]) == (aggregation, clip)


def test_options_are_carried_over():
    mapped = spec_from_config(config(epsilon=0.1, epsilon_high=0.3, beta=0.04, scale_rewards=False,
                                     importance_sampling_level="sequence", top_entropy_quantile=0.2, delta=2.0,
                                     mask_truncated_completions=True))
    hp = mapped.spec.hparams
    assert (hp["epsilon"], hp["epsilon_high"], hp["beta"], hp["kl_estimator"]) == (0.1, 0.3, 0.04, "k3")
    assert hp["scale_rewards"] == "none" and hp["importance_sampling_level"] == "sequence"
    assert (hp["top_entropy_quantile"], hp["delta"], hp["mask_truncated_completions"]) == (0.2, 2.0, True)
    assert hp["is_correction"] == "none"  # TRL applies the correction only with use_vllm
    # TRL's default use_bias_correction_kl reweights the KL: named, so the step check can explain a difference
    assert any(note.startswith("use_bias_correction_kl") for note in mapped.not_recomposed)


def test_vllm_importance_sampling_correction_is_mapped():
    hp = spec_from_config(config(use_vllm=True, vllm_importance_sampling_mode="token_truncate",
                                 vllm_importance_sampling_clip_max=2.0)).spec.hparams
    assert (hp["is_correction"], hp["vllm_importance_sampling_mode"], hp["vllm_importance_sampling_clip_max"]) == \
        ("importance_sampling", "token_truncate", 2.0)


def test_dr_grpo_uses_the_configured_length_and_unknown_losses_are_refused():
    assert spec_from_config(config(loss_type="dr_grpo", max_completion_length=48)).spec.hparams["max_completion_length"] == 48
    with pytest.raises(UnipoError, match="loss_type: 'ppo' has no UNIPO mapping"):
        spec_from_config(config(loss_type="ppo"))

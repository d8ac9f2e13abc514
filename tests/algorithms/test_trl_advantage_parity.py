"""Advantages equal TRL 1.16's formulas (GRPOTrainer scale_rewards group/batch/none, RLOOTrainer),
written with TRL's own nanstd on contiguous groups of G, as TRL lays them out.

TRL's nanstd computes Bessel's correction n/(n−1) in float32 even for float64 input, so results
that divide by its std agree to ~1e-8 relative, not to float64 precision: those use atol 1e-7."""
import pytest
import torch

from unipo.algorithms import get_preset

pytestmark = pytest.mark.slow

G = 4


@pytest.fixture(scope="module")
def nanstd():
    return pytest.importorskip("trl.trainer.utils").nanstd


def rewards_batch():
    g = torch.Generator().manual_seed(3)
    rewards = torch.randn(12, generator=g, dtype=torch.float64)
    rewards[4:8] = 1.0  # one zero-variance group
    return rewards, torch.arange(12) // G


def trl_grpo_advantages(rewards, scale_rewards, nanstd):
    mean = torch.nanmean(rewards.view(-1, G), dim=1).repeat_interleave(G)
    if scale_rewards == "batch":
        std = nanstd(rewards).expand_as(rewards)
    else:
        std = nanstd(rewards.view(-1, G), dim=1).repeat_interleave(G)
    advantages = rewards - mean
    if scale_rewards != "none":
        advantages = advantages / (std + 1e-4)
    return advantages


@pytest.mark.parametrize("scale_rewards", ["group", "batch", "none"])
def test_group_advantages_match_trl(scale_rewards, nanstd):
    rewards, groups = rewards_batch()
    ours = get_preset("grpo", scale_rewards=scale_rewards).advantage_details(rewards, groups)
    theirs = trl_grpo_advantages(rewards, scale_rewards, nanstd)
    assert torch.allclose(ours.advantages, theirs, atol=1e-7, rtol=0)
    assert ours.metrics["zero_std_group_fraction"] == pytest.approx(1 / 3)


def test_rloo_advantages_match_trl(nanstd):
    rewards, groups = rewards_batch()
    grouped = rewards.view(-1, G)
    baselines = ((grouped.sum(1, keepdim=True) - grouped) / (G - 1)).view(-1)
    theirs = rewards - baselines
    ours = get_preset("rloo", kl_coef=0.0).advantages(rewards, groups)
    assert torch.allclose(ours, theirs, atol=1e-12, rtol=0)
    normalised = (theirs - theirs.mean()) / (nanstd(theirs) + 1e-4)
    ours_normalised = get_preset("rloo", kl_coef=0.0, normalize_advantages=True).advantages(rewards, groups)
    assert torch.allclose(ours_normalised, normalised, atol=1e-7, rtol=0)


def test_rloo_kl_in_reward_matches_trl():
    rewards, groups = rewards_batch()
    g = torch.Generator().manual_seed(5)
    old = -torch.rand(12, 5, generator=g, dtype=torch.float64)
    ref = -torch.rand(12, 5, generator=g, dtype=torch.float64)
    mask = torch.ones(12, 5, dtype=torch.bool)
    mask[0, 3:] = False
    beta = 0.05
    shaped = rewards - beta * ((old - ref) * mask).sum(-1)  # TRL RLOO: k1 summed per sequence
    grouped = shaped.view(-1, G)
    theirs = shaped - ((grouped.sum(1, keepdim=True) - grouped) / (G - 1)).view(-1)
    ours = get_preset("rloo", kl_coef=beta).advantages(rewards, groups, mask=mask, logprobs=old, ref_logprobs=ref)
    # TRL does not force zero-variance groups to 0; after KL shaping no group has zero variance here.
    assert torch.allclose(ours, theirs, atol=1e-12, rtol=0)

"""Small hand-computed cases for each component (numbers checkable with a pencil)."""
import math

import pytest
import torch

from unipo.algorithms import AlgorithmSpec, get_preset
from unipo.algorithms.aggregation import AGGREGATIONS
from unipo.algorithms.clipping import CLIPS
from unipo.algorithms.kl import KL_ESTIMATORS
from unipo.algorithms.ratio import RATIOS
from unipo.algorithms.selection import high_entropy_tokens

D = torch.float64


def tensor(values):
    return torch.tensor(values, dtype=D)


def test_kl_estimators_at_delta_log_two():
    lp, ref = tensor([math.log(2.0)]), tensor([0.0])  # δ = ln 2
    assert KL_ESTIMATORS["k1"](lp, ref).item() == pytest.approx(math.log(2))
    assert KL_ESTIMATORS["k2"](lp, ref).item() == pytest.approx(0.5 * math.log(2) ** 2)
    assert KL_ESTIMATORS["k3"](lp, ref).item() == pytest.approx(0.5 + math.log(2) - 1)  # e^{−δ} = 1/2


def test_sequence_ratio_is_geometric_mean_over_real_tokens():
    lp = tensor([[0.0, 0.0, 5.0]])
    old = tensor([[-0.2, -0.4, 0.0]])  # log ratios 0.2, 0.4 (third token is padding)
    mask = torch.tensor([[True, True, False]])
    log_ratio, ratio = RATIOS["sequence"](lp, old, mask)
    assert log_ratio.item() == pytest.approx(0.3)
    assert ratio.item() == pytest.approx(math.exp(0.3))


def test_no_ratio_has_value_one_and_gradient_of_logprob():
    lp = tensor([[-1.5]]).requires_grad_()
    _, ratio = RATIOS["none"](lp, None, None)
    assert ratio.item() == 1.0
    ratio.sum().backward()
    assert lp.grad.item() == 1.0


HP = {"epsilon": 0.2, "epsilon_high": 0.28, "delta": None, "sapo_temperature_pos": 1.0, "sapo_temperature_neg": 1.05}


def test_ppo_clip_cases():
    ratio = tensor([1.5, 0.5, 1.5, 0.5, 1.1])
    adv = tensor([1.0, -1.0, -1.0, 1.0, 2.0])
    result = CLIPS["ppo"](ratio, adv, None, HP)
    # A>0,r>1.28 → 1.28; A<0,r<0.8 → −0.8; A<0,r high → −1.5 (unclipped); A>0,r low → 0.5; inside → 2.2
    assert result.surrogate.tolist() == pytest.approx([1.28, -0.8, -1.5, 0.5, 2.2])
    assert result.clipped_high.tolist() == [True, False, False, False, False]
    assert result.clipped_low.tolist() == [False, True, False, False, False]
    assert result.min_branch.tolist() == [True, True, False, False, False]


def test_dual_clip_caps_negative_advantage_at_delta():
    result = CLIPS["ppo"](tensor([4.0, 2.0]), tensor([-1.0, -1.0]), None, {**HP, "delta": 3.0})
    assert result.surrogate.tolist() == pytest.approx([-3.0, -2.0])
    assert result.clipped_high.tolist() == [True, False]
    assert result.fractions["dual_clip_fraction"].tolist() == [True, False]


def test_cispo_truncates_the_stop_gradient_weight():
    lp = tensor([-2.0, -2.0]).requires_grad_()
    result = CLIPS["cispo"](tensor([7.0, 0.5]), tensor([1.0, 1.0]), lp, {**HP, "epsilon_high": 5.0})
    assert result.surrogate.tolist() == pytest.approx([-10.0, -1.0])  # 5·1·(−2), 0.5·1·(−2)
    result.surrogate.sum().backward()
    assert lp.grad.tolist() == pytest.approx([5.0, 0.5])


def test_sapo_gate_at_ratio_one():
    ratio = tensor([1.0]).requires_grad_()
    result = CLIPS["sapo"](ratio, tensor([1.0]), None, HP)
    assert result.surrogate.item() == pytest.approx(2.0)  # σ(0)·4/τ with τ = 1
    result.surrogate.sum().backward()
    assert ratio.grad.item() == pytest.approx(1.0)  # σ'(0)·4 = 1


def test_aggregation_weights():
    mask = tensor([[1, 1, 1, 1], [1, 0, 0, 0]])  # L = 4 and 1, N = 2
    assert AGGREGATIONS["seq-mean-token-mean"](mask)[:, 0].tolist() == pytest.approx([1 / 8, 1 / 2])
    assert AGGREGATIONS["token-mean"](mask)[:, 0].tolist() == pytest.approx([1 / 5, 1 / 5])
    assert AGGREGATIONS["token-mean"](mask, num_items_in_batch=10)[:, 0].tolist() == pytest.approx([0.1, 0.1])
    assert AGGREGATIONS["token-mean-local"](mask)[:, 0].tolist() == pytest.approx([1 / 5, 1 / 5])
    assert AGGREGATIONS["seq-mean-token-sum"](mask)[:, 0].tolist() == pytest.approx([1 / 2, 1 / 2])
    assert AGGREGATIONS["seq-mean-token-sum-norm"](mask, max_completion_length=8)[:, 0].tolist() == pytest.approx([1 / 16, 1 / 16])
    assert AGGREGATIONS["seq-mean-token-sum-norm"](mask)[1, 1].item() == 0.0


def test_high_entropy_selection_keeps_top_quantile_of_real_tokens():
    entropies = tensor([[0.1, 0.9, 0.5, 7.0], [0.3, 0.7, 0.2, 0.8]])
    mask = torch.tensor([[True, True, True, False], [True, True, True, True]])
    # 7 real tokens; quantile(0.5) of {0.1,0.2,0.3,0.5,0.7,0.8,0.9} = 0.5 → keep ≥ 0.5
    selected = high_entropy_tokens(entropies, mask, 0.5)
    assert selected.tolist() == [[False, True, True, False], [False, True, False, True]]


def test_group_norm_advantages():
    rewards, groups = tensor([1.0, 0.0, 1.0, 1.0]), torch.tensor([0, 0, 1, 1])
    det = get_preset("grpo", advantage_epsilon=0.0).advantage_details(rewards, groups)
    s = math.sqrt(0.5)  # unbiased std of {1, 0}
    assert det.advantages.tolist() == pytest.approx([0.5 / s, -0.5 / s, 0.0, 0.0])
    assert det.terms["group_mean"].tolist() == pytest.approx([0.5, 0.5, 1.0, 1.0])
    assert det.metrics["zero_std_group_fraction"] == 0.5
    dr = get_preset("dr_grpo").advantages(rewards, groups)
    assert dr.tolist() == pytest.approx([0.5, -0.5, 0.0, 0.0])


def test_groups_need_not_be_contiguous():
    rewards, groups = tensor([1.0, 3.0, 0.0, 5.0]), torch.tensor([7, 2, 7, 2])
    adv = get_preset("dr_grpo").advantages(rewards, groups)
    assert adv.tolist() == pytest.approx([0.5, -1.0, -0.5, 1.0])


def test_rloo_and_gpg_and_reinforce():
    rewards, groups = tensor([1.0, 0.0, 0.0, 0.0]), torch.zeros(4, dtype=torch.long)
    assert get_preset("rloo", kl_coef=0.0).advantages(rewards, groups).tolist() == pytest.approx([1.0, -1 / 3, -1 / 3, -1 / 3])
    # GPG: α = 4 / 1 non-zero reward; mean 0.25
    assert get_preset("gpg").advantages(rewards, groups).tolist() == pytest.approx([3.0, -1.0, -1.0, -1.0])
    assert get_preset("reinforce").advantages(rewards, groups).tolist() == pytest.approx([0.75, -0.25, -0.25, -0.25])


def test_moving_average_baseline_uses_previous_batches():
    algo = get_preset("reinforce", reinforce_baseline="moving_average", baseline_momentum=0.5)
    groups = torch.zeros(2, dtype=torch.long)
    assert algo.advantages(tensor([1.0, 3.0]), groups).tolist() == pytest.approx([-1.0, 1.0])  # b = 2
    # b = 0.5·2 + 0.5·2 = 2 after the first batch; the second batch is judged against it
    assert algo.advantages(tensor([0.0, 0.0]), groups).tolist() == pytest.approx([-2.0, -2.0])


def test_reinforce_pp_returns_with_discount_and_kl_reward():
    algo = get_preset("reinforce_pp", normalize_advantages=False, gamma=0.5, kl_coef=1.0)
    mask = torch.tensor([[True, True, False]])
    logprobs, ref = tensor([[-1.0, -1.0, 0.0]]), tensor([[-1.5, -1.0, 0.0]])  # k1 = 0.5, 0
    det = algo.advantage_details(tensor([2.0]), torch.tensor([0]), mask=mask, logprobs=logprobs, ref_logprobs=ref)
    # token rewards: −0.5, 2 → returns: −0.5 + 0.5·2 = 0.5, 2
    assert torch.allclose(det.advantages, tensor([[0.5, 2.0, 0.0]]))
    assert torch.allclose(det.returns, tensor([[0.5, 2.0, 0.0]]))


def test_gae_matches_hand_recursion():
    algo = get_preset("ppo", kl_coef=0.0, normalize_advantages=False, gamma=1.0, lam=0.5)
    mask = torch.tensor([[True, True, False]])
    values = tensor([[0.5, 1.0, 9.0]])
    det = algo.advantage_details(tensor([2.0]), torch.tensor([0]), mask=mask, values=values)
    # δ1 = 2 + 0 − 1 = 1; δ0 = 0 + 1 − 0.5 = 0.5; Â1 = 1; Â0 = 0.5 + 0.5·1 = 1
    assert torch.allclose(det.advantages, tensor([[1.0, 1.0, 0.0]]))
    assert torch.allclose(det.returns, tensor([[1.5, 2.0, 0.0]]))


def test_value_loss_clips_toward_old_values():
    algo = get_preset("ppo", cliprange_value=0.2, vf_coef=1.0)
    values, old, returns = tensor([[1.0, 0.0]]), tensor([[0.0, 0.0]]), tensor([[1.0, 1.0]])
    loss, terms = algo.value_loss(values, old, returns, torch.ones(1, 2, dtype=torch.bool))
    # token 0: unclipped 0, clipped (0.2−1)² = 0.64 → 0.5·0.64; token 1: both 1 → 0.5
    assert torch.allclose(terms["value_loss"], tensor([[0.32, 0.5]]))
    assert loss.item() == pytest.approx(0.41)


def test_grpo_objective_by_hand():
    algo = AlgorithmSpec(loss_aggregation="seq-mean-token-mean", beta=0.5, kl_estimator="k1")
    lp = tensor([[0.0, 0.0]]).requires_grad_()
    old = tensor([[0.0, math.log(2.0)]])  # r = 1, 0.5
    ref = tensor([[-1.0, 0.0]])  # k1 = 1, 0
    mask = torch.ones(1, 2, dtype=torch.bool)
    out = algo.objective(lp, old, mask, advantages=tensor([1.0]), ref_logprobs=ref)
    # surrogate: 1, 0.5 (A>0, r<0.8 is not clipped); objective 1 − 0.5, 0.5 − 0; weights 1/2
    assert torch.allclose(out.terms["token_objective"], tensor([[0.5, 0.5]]))
    assert out.loss.item() == pytest.approx(-0.5)


def test_truncated_responses_leave_the_denominator():
    algo = get_preset("dapo")
    lp = tensor([[0.0, 0.0], [0.0, 0.0]]).requires_grad_()
    out = algo.objective(lp, None, torch.ones(2, 2, dtype=torch.bool), advantages=tensor([1.0, 1.0]),
                         truncated=torch.tensor([True, False]))
    assert torch.allclose(out.terms["weight"], tensor([[0.0, 0.0], [0.5, 0.5]]))
    assert out.loss.item() == pytest.approx(-1.0)


def test_all_padding_row_has_zero_weight_and_counts_in_n():
    algo = get_preset("grpo", beta=0.0)
    mask = torch.tensor([[True, True], [False, False]])
    out = algo.objective(tensor([[0.0, 0.0], [0.0, 0.0]]).requires_grad_(), None, mask, advantages=tensor([1.0, 1.0]))
    assert torch.allclose(out.terms["weight"], tensor([[0.25, 0.25], [0.0, 0.0]]))
    assert out.loss.item() == pytest.approx(-0.5)

"""Bad input raises ValueError naming the argument and what was expected."""
import pytest
import torch

from unipo.algorithms import AlgorithmSpec, get_preset

D = torch.float64


def objective(algo="dapo", **changes):
    args = dict(logprobs=torch.zeros(2, 3, dtype=D), old_logprobs=None, mask=torch.ones(2, 3, dtype=torch.bool),
                advantages=torch.ones(2, dtype=D), truncated=torch.zeros(2, dtype=torch.bool))
    args.update(changes)
    return get_preset(algo).objective(args.pop("logprobs"), args.pop("old_logprobs"), args.pop("mask"), **args)


def test_unknown_preset_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown algorithm preset 'grpoo'.*grpo.*dapo"):
        get_preset("grpoo")


def test_unknown_hyper_parameter_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown hyper-parameter\(s\) 'epsilon_hi'.*epsilon_high"):
        get_preset("dapo", epsilon_hi=0.3)


@pytest.mark.parametrize("name,value,pattern", [
    ("epsilon", -0.1, "epsilon: expected a value ≥ 0"),
    ("scale_rewards", "std", "scale_rewards: expected one of"),
    ("top_entropy_quantile", 1.5, "top_entropy_quantile: expected a value ≤ 1"),
    ("mask_truncated_completions", 1, "mask_truncated_completions: expected true or false"),
    ("delta", 1.1, "delta: expected a value > 1 \\+ epsilon_high"),
    ("max_completion_length", 2.5, "max_completion_length: expected an integer"),
    ("beta", float("nan"), "beta: expected a finite number"),
])
def test_bad_hyper_parameter_values(name, value, pattern):
    with pytest.raises(ValueError, match=pattern):
        get_preset("grpo", **{name: value})


def test_mismatched_shapes():
    with pytest.raises(ValueError, match=r"mask: expected shape \(2, 3\)"):
        objective(mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="old_logprobs: expected shape"):
        objective(old_logprobs=torch.zeros(3, 3, dtype=D))
    with pytest.raises(ValueError, match="advantages: expected 2 values"):
        objective(advantages=torch.ones(3, dtype=D))
    with pytest.raises(ValueError, match="logprobs: expected a 2-d tensor"):
        objective(logprobs=torch.zeros(6, dtype=D))


def test_non_finite_values_are_rejected_with_position():
    bad = torch.zeros(2, 3, dtype=D)
    bad[1, 2] = float("nan")
    with pytest.raises(ValueError, match=r"logprobs: contains NaN or Inf .*first at index \(1, 2\)"):
        objective(logprobs=bad)
    with pytest.raises(ValueError, match="advantages: contains NaN"):
        objective(advantages=torch.tensor([1.0, float("inf")], dtype=D))
    with pytest.raises(ValueError, match="rewards: contains NaN"):
        get_preset("grpo").advantages(torch.tensor([1.0, float("nan")], dtype=D), torch.tensor([0, 0]))


def test_missing_inputs_the_spec_needs():
    with pytest.raises(ValueError, match="ref_logprobs: required because beta"):
        objective("grpo")
    with pytest.raises(ValueError, match="entropies: required"):
        objective("high_entropy")
    with pytest.raises(ValueError, match="truncated: required"):
        objective(truncated=None)
    with pytest.raises(ValueError, match="values: advantage estimator 'gae' needs"):
        get_preset("ppo", kl_coef=0.0).advantages(torch.ones(2, dtype=D), torch.tensor([0, 0]),
                                                  mask=torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="logprobs, ref_logprobs: both required"):
        get_preset("rloo").advantages(torch.ones(2, dtype=D), torch.tensor([0, 0]), mask=torch.ones(2, 3, dtype=torch.bool))


def test_groups_of_one_are_rejected_for_group_estimators():
    with pytest.raises(ValueError, match="group_ids: .*'group_norm' needs at least 2 responses per group; 1 group"):
        get_preset("grpo").advantages(torch.ones(3, dtype=D), torch.tensor([0, 0, 1]))
    # unequal group sizes are fine: groups need not divide the batch evenly
    adv = get_preset("dr_grpo").advantages(torch.tensor([1.0, 0.0, 2.0, 2.0, 5.0], dtype=D), torch.tensor([0, 0, 1, 1, 1]))
    assert adv.tolist() == pytest.approx([0.5, -0.5, -1.0, -1.0, 2.0])


def test_group_ids_must_be_integers_of_the_right_length():
    with pytest.raises(ValueError, match="group_ids: expected an integer tensor"):
        get_preset("grpo").advantages(torch.ones(2, dtype=D), torch.zeros(2))
    with pytest.raises(ValueError, match="group_ids: expected 2 values"):
        get_preset("grpo").advantages(torch.ones(2, dtype=D), torch.zeros(3, dtype=torch.long))


def test_value_loss_only_for_critic_specs_and_bad_spec_dicts():
    with pytest.raises(ValueError, match="value_loss: algorithm 'grpo' has no critic"):
        get_preset("grpo").value_loss(torch.zeros(1, 1), torch.zeros(1, 1), torch.zeros(1, 1), torch.ones(1, 1))
    with pytest.raises(ValueError, match="algorithm: expected a dict with format"):
        AlgorithmSpec.from_dict({"name": "grpo"})

"""For every preset: loss == −Σ weight·token_objective, the gradient through the logged terms is the
loss's gradient, terms are zero on padding, formulas bind to real fields, specs round-trip."""
import json

import pytest
import torch

from unipo.algorithms import AlgorithmSpec, get_preset, list_presets

PRESET_NAMES = [p.name for p in list_presets()]


def inputs(seed=0, n=8, t=6):
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(n, t, dtype=torch.bool)
    mask[0, 4:] = False
    mask[5, 1:] = False
    logprobs = -torch.rand(n, t, generator=g, dtype=torch.float64) * 2
    return dict(
        rewards=torch.rand(n, generator=g, dtype=torch.float64), group_ids=torch.arange(n) // 4, mask=mask,
        # Padding log-probs are 0, as the engine's score_completions writes them (BAPO's bound search
        # recognises padding by ℓ = ℓ_old = 0).
        logprobs=logprobs * mask, old=(logprobs + 0.3 * torch.randn(n, t, generator=g, dtype=torch.float64)) * mask,
        ref=logprobs + 0.2 * torch.randn(n, t, generator=g, dtype=torch.float64),
        entropies=torch.rand(n, t, generator=g, dtype=torch.float64), values=torch.randn(n, t, generator=g, dtype=torch.float64),
        truncated=torch.tensor([False, True] + [False] * (n - 2)),
        token_ids=torch.randint(0, 3, (n, t), generator=torch.Generator().manual_seed(seed + 100)),  # GTPO
        baseline_rewards=torch.rand(n, generator=torch.Generator().manual_seed(seed + 200), dtype=torch.float64),  # ReMax: the engine's greedy-response reward
    )


def run(name, **overrides):
    x = inputs()
    algo = get_preset(name, **overrides)
    adv = algo.advantages(x["rewards"], x["group_ids"], mask=x["mask"], values=x["values"], logprobs=x["old"],
                          ref_logprobs=x["ref"], token_ids=x["token_ids"], entropies=x["entropies"],
                          baseline_rewards=x["baseline_rewards"])
    lp = x["logprobs"].clone().requires_grad_()
    entropies = x["entropies"].clone().requires_grad_()
    out = algo.objective(lp, x["old"], x["mask"], advantages=adv, ref_logprobs=x["ref"], entropies=entropies,
                         truncated=x["truncated"])
    return algo, x, lp, out


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_loss_is_weighted_sum_of_token_objectives(name):
    _, _, _, out = run(name)
    recomputed = -(out.terms["weight"] * out.terms["token_objective"]).sum()
    assert out.loss.item() == pytest.approx(recomputed.item(), abs=1e-12)
    assert out.loss.item() != 0.0


STOP_GRADIENT_PRESETS = {"reinforce", "gpg", "cispo", "vespo"}  # their value is not their gradient's antiderivative


@pytest.mark.parametrize("name", sorted(set(PRESET_NAMES) - STOP_GRADIENT_PRESETS))
def test_gradient_matches_finite_difference_of_the_logged_sum(name):
    _, x, lp, out = run(name)
    (grad,) = torch.autograd.grad(out.loss, lp)
    direction = torch.randn(lp.shape, generator=torch.Generator().manual_seed(1), dtype=lp.dtype)
    step = 1e-6

    def logged_sum(lp_value):
        o = get_preset(name).objective(lp_value, x["old"], x["mask"], advantages=out.terms["advantage"],
                                       ref_logprobs=x["ref"], entropies=x["entropies"], truncated=x["truncated"])
        return -(o.terms["weight"] * o.terms["token_objective"]).sum()

    numeric = (logged_sum(lp.detach() + step * direction) - logged_sum(lp.detach() - step * direction)) / (2 * step)
    assert (grad * direction).sum().item() == pytest.approx(numeric.item(), rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("name", sorted(STOP_GRADIENT_PRESETS))
def test_stop_gradient_presets_push_each_token_by_weight_times_advantage(name):
    _, x, lp, out = run(name)
    (grad,) = torch.autograd.grad(out.loss, lp)
    terms = out.terms
    # ratio none: u = A·exp(ℓ − sg ℓ) → du/dℓ = A; CISPO: u = sg(min(r, ε))·A·ℓ → du/dℓ = min(r, ε)·A
    push = terms["advantage"] if name != "cispo" else torch.clamp(terms["ratio"], max=5.0) * terms["advantage"]
    if name == "vespo":  # u = sg(φ(w))·A·ℓ → du/dℓ = φ(w)·A
        from unipo.algorithms.vespo import gamma_weight
        push = gamma_weight(terms["ratio"].clamp(min=1e-300), terms["advantage"], get_preset("vespo").hparams) * terms["advantage"]
    expected = -terms["weight"] * terms["selected"] * push
    assert torch.allclose(grad, expected, atol=1e-12, rtol=0)
    assert float(grad.abs().sum()) > 0


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_terms_have_contract_names_shapes_and_zero_padding(name):
    _, x, _, out = run(name)
    expected = {"log_ratio", "ratio", "advantage", "clipped_low", "clipped_high", "clipped", "min_branch",
                "surrogate", "kl", "kl_penalty", "entropy", "entropy_bonus", "selected", "weight", "token_objective"}
    # Every preset stores the contract's terms; a component may add its own (its descriptor lists them).
    spec = get_preset(name)
    declared = {term for component in spec.components for term in component.terms}
    assert expected <= set(out.terms) and set(out.terms) - expected <= declared
    padding = ~x["mask"]
    for name_, term in out.terms.items():
        assert term.shape == x["mask"].shape, name_
        assert not term.requires_grad, name_
        assert float(term[padding].abs().sum()) == 0.0, name_


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_formula_binds_terms_and_round_trips_through_json(name):
    algo = get_preset(name)
    formula = json.loads(json.dumps(algo.formula.to_dict()))
    assert formula["notation"] == "unipo/1"
    ids = [card["id"] for card in formula["cards"]]
    assert ids[:5] == ["aggregation", "token_objective", "ratio", "clip", "advantage"]
    for card in formula["cards"]:
        keys = {term["key"] for term in card["terms"]}
        for key in keys:
            assert rf"\htmlClass{{t-{key}}}" in card["latex"]
        assert card["explanation"] and card["variant"]
    assert ("kl" in ids) == algo.uses_reference
    assert ("value" in ids) == algo.uses_values
    assert AlgorithmSpec.from_dict(json.loads(json.dumps(algo.to_dict()))) == algo


def test_formula_shows_kl_only_when_it_is_in_the_loss():
    with_kl = get_preset("grpo").formula.card("token_objective")["latex"]
    without_kl = get_preset("grpo", beta=0.0).formula.card("token_objective")["latex"]
    assert "t-kl_penalty" in with_kl and "t-kl_penalty" not in without_kl
    assert get_preset("grpo", beta=0.0).formula.card("kl") is None


def test_flags_and_fields():
    assert get_preset("ppo").uses_values and get_preset("ppo").token_level_advantages
    assert get_preset("grpo").uses_reference and not get_preset("dapo").uses_reference
    assert get_preset("reinforce_pp").token_level_advantages and not get_preset("grpo").token_level_advantages
    assert get_preset("dapo", epsilon_high=0.3).hparams["epsilon_high"] == 0.3
    assert get_preset("grpo").hparams["epsilon_high"] == 0.2  # defaults to epsilon, as TRL


def test_first_update_ratio_is_one_and_nothing_clips():
    x = inputs()
    lp = x["logprobs"].clone().requires_grad_()
    adv = torch.randn(8, dtype=torch.float64)
    out = get_preset("dapo").objective(lp, None, x["mask"], advantages=adv, truncated=x["truncated"])
    assert out.metrics["ratio_min"] == out.metrics["ratio_max"] == 1.0
    assert out.metrics["clip_fraction_region"] == 0.0

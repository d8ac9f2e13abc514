"""Clip-Cov, KL-Cov, ReMax and OPO equal verl 0.9.1's own functions (verl.trainer.ppo.core_algos),
in float64: loss and gradient within 1e-8, with the covariance selection firing.

verl is imported by verl_oracle.py (installed by scripts/setup.sh, or UNIPO_VERL_PATH); without it
these tests skip with the reason.

Clip-Cov's random draw: verl calls torch.randperm(#candidates) on torch's global CPU generator;
UNIPO makes the same single call on a generator seeded with clip_cov_seed. The tests seed verl's
global generator with that seed right before verl's call, so both draw the same permutation, and
check separately that clip_cov_seed=None reproduces verl from the same global state, and that the
draw matters (more candidates than the budget) in the cases that claim it.

ReMax: UNIPO does not generate the greedy baseline; the engine must pass its reward as
baseline_rewards, as here.
"""
import inspect

import pytest
from support.modules import load_sibling
from support.parity_report import report
import torch

from unipo.algorithms import get_preset

D = torch.float64
TOL = 1e-8


oracle = load_sibling(__file__, "verl_oracle")


@pytest.fixture(scope="module")
def ca():
    try:
        return oracle.load()
    except ImportError as exc:
        pytest.skip(f"verl 0.9 is not importable: {exc}")


def batch(seed=0, n=8, t=12, spread=2.0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(n, t, dtype=torch.bool)
    mask[0, 7:] = False
    mask[3, 2:] = False
    mask[6, 10:] = False
    logprobs = -torch.rand(n, t, generator=g, dtype=D) * 4.0
    old = logprobs + 0.3 * torch.randn(n, t, generator=g, dtype=D)
    advantages = spread * torch.randn(n, generator=g, dtype=D)
    return logprobs, old, mask, advantages


def unipo_loss(preset, logprobs, old, mask, advantages, **hp):
    lp = logprobs.clone().requires_grad_()
    out = get_preset(preset, **hp).objective(lp, old, mask, advantages=advantages)
    (grad,) = torch.autograd.grad(out.loss, lp)
    return out, grad


def verl_loss(fn, logprobs, old, mask, advantages, config, seed=None):
    lp = logprobs.clone().requires_grad_()
    m = mask.to(D)
    if seed is not None:
        torch.manual_seed(seed)
    loss, metrics = fn(old, lp, advantages.unsqueeze(1) * m, m, loss_agg_mode="token-mean", config=config)
    (grad,) = torch.autograd.grad(loss, lp)
    return loss, grad, metrics


def candidates_and_budget(logprobs, old, mask, advantages, *, eps, eps_high, ratio, lb=1.0, ub=5.0):
    m = mask.to(D)
    a = advantages.unsqueeze(1).expand_as(logprobs)
    r = torch.exp(logprobs - old)
    origin = (-a * torch.clamp(r, 1 - eps, 1 + eps_high)) > (-a * r)
    mean_a, mean_l = (a * m).sum() / m.sum(), (logprobs * m).sum() / m.sum()
    cov = (a - mean_a) * (logprobs - mean_l)
    cand = mask & ~origin & (cov > lb) & (cov < ub)
    return int(cand.sum()), max(int(ratio * m.sum()), 1)


CLIP_COV_CASES = [  # (data seed, clip_cov_ratio, epsilon_high, clip_cov_seed); ratio 0.05 → budget 3 of the ~70 real tokens
    (0, 0.05, 0.28, 0),
    (1, 0.05, 0.2, 7),
    (2, 0.0002, 0.28, 3),   # verl's default ratio: budget 1
    (3, 0.5, 0.28, 11),     # budget larger than the candidates: every candidate is detached
]


@pytest.mark.parametrize("data_seed,ratio,eps_high,seed", CLIP_COV_CASES)
def test_clip_cov_loss_and_gradient_match_verl(ca, data_seed, ratio, eps_high, seed):
    logprobs, old, mask, adv = batch(data_seed)
    out, grad = unipo_loss("clip_cov", logprobs, old, mask, adv, epsilon=0.2, epsilon_high=eps_high,
                           clip_cov_ratio=ratio, clip_cov_seed=seed)
    config = oracle.actor_config(epsilon=0.2, epsilon_high=eps_high, clip_cov_ratio=ratio)
    loss, vgrad, metrics = verl_loss(ca.compute_policy_loss_clip_cov, logprobs, old, mask, adv, config, seed=seed)
    n_cand, budget = candidates_and_budget(logprobs, old, mask, adv, eps=0.2, eps_high=eps_high, ratio=ratio)
    chosen = out.terms["cov_selected"]
    assert n_cand > 0 and chosen.sum().item() == min(n_cand, budget)  # the selection fires
    if ratio < 0.5:
        assert n_cand > budget  # ... and the random draw decides which
    assert out.terms["min_branch"].sum().item() > 0  # PPO's own clip fires too
    assert abs(out.loss.item() - loss.item()) <= TOL
    assert torch.allclose(grad, vgrad, atol=TOL, rtol=0)
    assert out.metrics["cov_selected_fraction"] == pytest.approx(metrics["actor/pg_clipfrac"], rel=1e-7)
    assert torch.all(grad[chosen > 0] == 0)
    report(f"verl clip_cov seed={data_seed} ratio={ratio}", out.loss.item() - loss.item(), float((grad - vgrad).abs().max()))


def test_clip_cov_unseeded_draws_from_the_global_generator_like_verl(ca):
    logprobs, old, mask, adv = batch(0)
    torch.manual_seed(123)
    out, grad = unipo_loss("clip_cov", logprobs, old, mask, adv, epsilon_high=0.28, clip_cov_ratio=0.05,
                           clip_cov_seed=None)
    config = oracle.actor_config(epsilon_high=0.28, clip_cov_ratio=0.05)
    loss, vgrad, _ = verl_loss(ca.compute_policy_loss_clip_cov, logprobs, old, mask, adv, config, seed=123)
    assert abs(out.loss.item() - loss.item()) <= TOL
    assert torch.allclose(grad, vgrad, atol=TOL, rtol=0)


def test_clip_cov_seed_makes_the_choice_deterministic():
    logprobs, old, mask, adv = batch(0)
    picks = []
    for _ in range(2):
        torch.manual_seed(len(picks))  # the global generator must not matter
        out, _ = unipo_loss("clip_cov", logprobs, old, mask, adv, clip_cov_ratio=0.05, clip_cov_seed=5)
        picks.append(out.terms["cov_selected"])
    assert torch.equal(picks[0], picks[1]) and picks[0].sum() > 0


@pytest.mark.parametrize("data_seed,ratio,coef", [(0, 0.05, 0.1), (1, 0.0002, 0.1), (2, 0.1, 1.0)])
def test_kl_cov_loss_and_gradient_match_verl(ca, data_seed, ratio, coef):
    logprobs, old, mask, adv = batch(data_seed)
    out, grad = unipo_loss("kl_cov", logprobs, old, mask, adv, kl_cov_ratio=ratio, ppo_kl_coef=coef)
    config = oracle.actor_config(kl_cov_ratio=ratio, ppo_kl_coef=coef)
    loss, vgrad, _ = verl_loss(ca.compute_policy_loss_kl_cov, logprobs, old, mask, adv, config)
    selected = out.terms["cov_selected"]
    assert selected.sum().item() == max(1, int(int(mask.sum()) * ratio))  # the selection fires
    assert abs(out.loss.item() - loss.item()) <= TOL
    assert torch.allclose(grad, vgrad, atol=TOL, rtol=0)
    # the penalty is what changes the gradient of the selected tokens
    _, plain = unipo_loss("kl_cov", logprobs, old, mask, adv, kl_cov_ratio=ratio, ppo_kl_coef=0.0)
    assert not torch.allclose(grad[selected > 0], plain[selected > 0])
    report(f"verl kl_cov seed={data_seed} ratio={ratio} coef={coef}", out.loss.item() - loss.item(),
           float((grad - vgrad).abs().max()))


def _advantage_details(spec, rewards, group_ids, mask, baseline_rewards=None):
    """spec.advantage_details(..., baseline_rewards=...) once the spec takes it; compute_advantages until then."""
    if baseline_rewards is None or "baseline_rewards" in inspect.signature(spec.advantage_details).parameters:
        extra = {} if baseline_rewards is None else {"baseline_rewards": baseline_rewards}
        return spec.advantage_details(rewards, group_ids, mask=mask, **extra)
    from unipo.algorithms.advantages import compute_advantages
    return compute_advantages(spec.hparams, spec._advantage_state, rewards, group_ids, mask=mask,
                              baseline_rewards=baseline_rewards)


def token_rewards(rewards, mask):
    """verl's token_level_rewards: the score on the last real token."""
    out = torch.zeros(mask.shape, dtype=D)
    lengths = mask.sum(-1)
    for i in range(len(rewards)):
        if lengths[i] > 0:
            out[i, lengths[i] - 1] = rewards[i]
    return out


def test_remax_advantages_and_loss_match_verl(ca):
    logprobs, old, mask, _ = batch(4)
    g = torch.Generator().manual_seed(9)
    rewards = torch.rand(8, generator=g, dtype=D)
    greedy = torch.rand(8, generator=g, dtype=D)  # what the engine's greedy rollout scored
    group_ids = torch.arange(8) // 4
    spec = get_preset("remax")
    details = _advantage_details(spec, rewards, group_ids, mask, baseline_rewards=greedy)
    m = mask.to(D)
    adv_v, _ = ca.compute_remax_outcome_advantage(token_rewards(rewards, mask), greedy, m)
    assert torch.allclose(details.advantages.unsqueeze(1) * m, adv_v, atol=1e-12, rtol=0)
    assert torch.equal(details.terms["baseline"], greedy)
    # the whole loss: ReMax advantages through PPO's clip, token-mean (verl "vanilla", ratios far from its dual clip)
    out, grad = unipo_loss("remax", logprobs, old, mask, details.advantages)
    lp = logprobs.clone().requires_grad_()
    loss, _ = ca.compute_policy_loss_vanilla(old, lp, adv_v, m, loss_agg_mode="token-mean", config=oracle.actor_config())
    (vgrad,) = torch.autograd.grad(loss, lp)
    assert abs(out.loss.item() - loss.item()) <= TOL
    assert torch.allclose(grad, vgrad, atol=TOL, rtol=0)
    report("verl remax (advantages, then loss)", out.loss.item() - loss.item(), float((grad - vgrad).abs().max()))


def test_remax_without_baseline_rewards_says_the_engine_must_supply_them():
    _, _, mask, _ = batch(4)
    with pytest.raises(ValueError, match="baseline_rewards"):
        get_preset("remax").advantage_details(torch.rand(8, dtype=D), torch.arange(8) // 4, mask=mask)


def test_opo_advantages_match_verl(ca):
    _, _, mask, _ = batch(5)
    g = torch.Generator().manual_seed(2)
    rewards = torch.rand(9, generator=g, dtype=D)
    mask = torch.cat([mask, torch.ones(1, mask.shape[1], dtype=torch.bool)])
    group_ids = torch.tensor([0, 0, 0, 1, 1, 1, 1, 2, 3])  # groups 2 and 3 have one response: b = 0
    index = group_ids.numpy()
    adv_v, _ = ca.compute_opo_outcome_advantage(token_rewards(rewards, mask), mask.to(D), index)
    details = _advantage_details(get_preset("opo"), rewards, group_ids, mask)
    assert torch.allclose(details.advantages.unsqueeze(1) * mask.to(D), adv_v, atol=1e-12, rtol=0)
    report("verl opo advantages", float((details.advantages.unsqueeze(1) * mask.to(D) - adv_v).abs().max()), 0.0)
    lengths = mask.to(D).sum(-1)
    in_group = group_ids == 1
    expected = (lengths[in_group] * rewards[in_group]).sum() / lengths[in_group].sum()
    assert details.terms["baseline"][3].item() == pytest.approx(expected.item(), abs=1e-15)
    assert details.terms["baseline"][7].item() == 0.0


@pytest.mark.parametrize("preset", ["clip_cov", "kl_cov"])
def test_cards_relations_hold_on_a_stored_step(preset):
    from unipo.algorithms.stored import StoredStep
    logprobs, old, mask, adv = batch(0)
    spec = get_preset(preset, clip_cov_ratio=0.05, kl_cov_ratio=0.05)
    from unipo.algorithms import StepInputs, recompute
    result = recompute(spec, StepInputs(logprobs=logprobs, mask=mask, old_logprobs=old, advantages=adv))
    keep = mask.reshape(-1)
    tokens = {name: value.reshape(-1)[keep].numpy() for name, value in result.terms.items()}
    tokens["logprob"] = logprobs.reshape(-1)[keep].numpy()
    lengths = mask.sum(-1)
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)]).numpy()
    step = StoredStep(tokens=tokens, responses={}, offsets=offsets)
    relations = spec.relations(step)
    clip = [r for r in relations if r.card in ("clip", "grad_coef")]
    assert clip and all(r.status == "holds" for r in clip), [r.to_dict() for r in clip if not r.holds]
    card = spec.formula.card("clip")
    assert card["citation"].startswith("Cui et al.") and "2505.22617" in card["citation"]

"""GTPO, BAPO and HA-DW: hand-computed small cases, and each preset's loss and card relations."""
import math

import numpy as np
import pytest
import torch

from unipo.algorithms import get_preset
from unipo.algorithms.pipeline import StepInputs, recompute
from unipo.algorithms.stored import StoredStep

D = torch.float64
SQRT3_2 = math.sqrt(3) / 2  # GRPO advantage of a 2-right / 2-wrong group (ε = 0)


def advantages_of(spec, rewards, groups, mask=None, token_ids=None, entropies=None):
    return spec.advantage_details(rewards, groups, mask=mask, token_ids=token_ids, entropies=entropies)


def stored_step(mask, rewards, groups, details, result, *, logprobs, old_logprobs, token_ids=None, ref_logprobs=None):
    """A StoredStep as the run store holds it: real tokens flat (response-major), per-response columns."""
    real = mask.bool()
    flat = lambda x: x.detach()[real].double().numpy()  # noqa: E731
    tokens = {name: flat(value) for name, value in result.terms.items() if value.dim() == 2}
    for name, value in details.terms.items():
        if value.dim() == 2 and name not in tokens:
            tokens[name] = flat(value)
    tokens["logprob"], tokens["old_logprob"] = flat(logprobs), flat(old_logprobs)
    if ref_logprobs is not None:
        tokens["ref_logprob"] = flat(ref_logprobs)
    if token_ids is not None:
        tokens["token_id"] = flat(token_ids)
    responses = {name: value.detach().double().numpy() for name, value in details.terms.items() if value.dim() == 1}
    responses["group"] = groups.numpy()
    responses["reward"] = rewards.double().numpy()
    lengths = real.sum(1).numpy()
    responses["response_length"] = lengths.astype(np.float64)
    return StoredStep(tokens, responses, np.concatenate([[0], np.cumsum(lengths)]), dict(result.metrics), True)


# -- GTPO ------------------------------------------------------------------------------------------

#               c0 (+)         c1 (+)          c2 (−)         c3 (−)
TOKENS = torch.tensor([[5, 7, 9, 2], [5, 8, 9, 0], [5, 7, 3, 2], [6, 7, 9, 0]])
GTPO_MASK = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 1, 0]], dtype=D)
GTPO_REWARDS = torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=D)
GTPO_GROUPS = torch.tensor([0, 0, 0, 0])
# mean entropies 0.5, 0.2, 0.9 (> τ_H = 0.7: filtered), 0.1
GTPO_ENTROPIES = torch.tensor([[0.5] * 4, [0.2] * 3 + [0.0], [0.9] * 4, [0.1] * 3 + [0.0]], dtype=D)


def test_gtpo_conflict_tokens_and_their_advantages():
    spec = get_preset("gtpo", advantage_epsilon=0.0)
    details = advantages_of(spec, GTPO_REWARDS, GTPO_GROUPS, GTPO_MASK, TOKENS, GTPO_ENTROPIES)
    # Forward: position 0 id 5 is in c0, c1 (+) and c2 (−); position 1 id 7 in c0 (+) and c2, c3 (−);
    # position 2 id 9 in c0, c1 (+) and c3 (−); position 3 id 2 in c0 (+) and c2 (−). Only the run
    # from the first token counts: c0 all four, c1 t0, c2 t0–t1, c3 none (id 6 at t0 is in no + completion).
    # Backward: the last tokens (c0, c2: 2; c1, c3: 9) conflict; the second-to-last ones do not.
    conflict = details.terms["gtpo_conflict"] * GTPO_MASK
    assert conflict.tolist() == [[1, 1, 1, 1], [1, 0, 1, 0], [1, 1, 0, 1], [0, 0, 1, 0]]
    # δ: W = 2 on a positive completion's conflict tokens (c0's last token is in both runs: W² = 4), 0 on a
    # negative one's, 1 elsewhere.
    assert details.terms["gtpo_delta"].tolist() == [[2, 2, 2, 4], [2, 1, 2, 0], [0, 0, 1, 0], [1, 1, 0, 0]]
    assert details.terms["gtpo_filtered"].tolist() == [0, 0, 1, 0]
    a0, a1, a3 = SQRT3_2 - 0.1 * 0.5, SQRT3_2 - 0.1 * 0.2, -SQRT3_2 - 0.1 * 0.1  # Â − s·H̄
    expected = [[2 * a0, 2 * a0, 2 * a0, 4 * a0], [2 * a1, a1, 2 * a1, 0], [0, 0, 0, 0], [a3, a3, 0, 0]]
    assert details.advantages.tolist() == [pytest.approx(row) for row in expected]
    assert details.terms["advantage_estimate"].tolist() == pytest.approx([SQRT3_2, SQRT3_2, -SQRT3_2, -SQRT3_2])


def test_gtpo_divide_by_conflicts_reproduces_the_code_normalisation():
    spec = get_preset("gtpo", advantage_epsilon=0.0, gtpo_divide_by_conflicts=True, gtpo_entropy_filter=False)
    details = advantages_of(spec, GTPO_REWARDS, GTPO_GROUPS, GTPO_MASK, TOKENS, GTPO_ENTROPIES)
    assert details.terms["gtpo_conflict_count"].tolist() == [4, 2, 3, 1]
    a = SQRT3_2
    assert details.advantages[0].tolist() == pytest.approx([2 * a / 4, 2 * a / 4, 2 * a / 4, 4 * a / 4])
    assert details.advantages[3].tolist() == pytest.approx([-a, -a, 0, 0])


def test_gtpo_needs_token_ids():
    spec = get_preset("gtpo")
    with pytest.raises(ValueError, match="token_ids"):
        advantages_of(spec, GTPO_REWARDS, GTPO_GROUPS, GTPO_MASK, None, GTPO_ENTROPIES)


# -- BAPO ------------------------------------------------------------------------------------------

def _bapo_batch(pos_ratios, neg_ratios):
    """Two responses of 3 slots: Â = +1 (2 tokens, then padding) and Â = −1 (3 tokens); ℓ_old = −1."""
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=D)
    ratios = torch.tensor([list(pos_ratios) + [1.0], list(neg_ratios)], dtype=D)
    old = -mask
    logprobs = (old + torch.log(ratios)) * mask  # padding: ℓ = ℓ_old = 0, as the engine writes it
    return mask, logprobs, old, torch.tensor([1.0, -1.0], dtype=D)


def test_bapo_stops_in_the_lower_bound_loop():
    # (0.6, 1.2): pos = 1 + 1.1 = 2.1, neg = 1 + 0.72 + 0.62 = 2.34 → 0.90 < 1. c_low = 0.65 cuts the 0.62
    # token: neg = 1.72, pos/neg = 1.22 ≥ 1 → stop.
    mask, lp, old, adv = _bapo_batch([1.0, 1.1], [1.0, 0.72, 0.62])
    out = get_preset("bapo").objective(lp.requires_grad_(), old, mask, advantages=adv)
    assert out.metrics["bapo_clip_low"] == pytest.approx(0.65)
    assert out.metrics["bapo_clip_high"] == pytest.approx(1.2)
    assert out.metrics["bapo_positive_share"] == pytest.approx(2.1 / 3.82)
    assert out.terms["clipped_low"].tolist() == [[0, 0, 0], [0, 0, 1]]
    assert out.terms["surrogate"].flatten().tolist() == pytest.approx([1.0, 1.1, 0.0, -1.0, -0.72, -0.65])


def test_bapo_raises_the_upper_bound_after_the_lower_one_maxes_out():
    # c_low 0.75 cuts 0.72 too (neg = 1), still pos/neg = 1/(1 + 1e-8) < 1, so c_low runs to 0.9; then c_high
    # rises 1.25, 1.30, 1.35, 1.40: at 1.40 the 1.37 token counts, pos = 2.37 → stop.
    mask, lp, old, adv = _bapo_batch([1.0, 1.37], [1.0, 0.72, 0.62])
    out = get_preset("bapo").objective(lp.requires_grad_(), old, mask, advantages=adv)
    assert out.metrics["bapo_clip_low"] == pytest.approx(0.9)
    assert out.metrics["bapo_clip_high"] == pytest.approx(1.4)
    assert out.metrics["bapo_positive_share"] == pytest.approx(2.37 / 3.37)
    assert out.terms["surrogate"].flatten().tolist() == pytest.approx([1.0, 1.37, 0.0, -1.0, -0.9, -0.9])
    assert out.terms["clipped_low"].tolist() == [[0, 0, 0], [0, 1, 1]]
    # The verl recipe's clamped proxy: raising c_low only adds negative mass (max(r, c_low)·|Â|), so c_low
    # goes to 0.9, and pos = 1 + min(1.37, c_high) ≤ 2.37 never reaches neg = 2.8: c_high goes to 3.0.
    out = get_preset("bapo", bapo_contribution="clamped").objective(lp, old, mask, advantages=adv)
    assert (out.metrics["bapo_clip_low"], out.metrics["bapo_clip_high"]) == pytest.approx((0.9, 3.0))


# -- HA-DW -----------------------------------------------------------------------------------------

def test_hadw_weights_easy_and_hard_prompts_over_two_rollouts():
    spec = get_preset("hadw", advantage_epsilon=0.0)
    groups = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    # Rollout 1: easy prompt p̂ = 0.75, hard p̂ = 0.25; batch accuracy 0.5 = C (first batch).
    first = advantages_of(spec, torch.tensor([1, 1, 1, 0, 1, 0, 0, 0], dtype=D), groups)
    e = math.exp(0.25)
    # Easy (p̂ − C = +0.25): positive Â shrink by e^{−0.25}, the negative one grows by e^{0.25}; hard: the reverse.
    assert first.terms["hadw_weight"].tolist() == pytest.approx([1 / e] * 3 + [e] + [e] + [1 / e] * 3)
    assert first.advantages.tolist() == pytest.approx([0.5 / e] * 3 + [-1.5 * e, 1.5 * e] + [-0.5 / e] * 3)
    assert first.metrics["hadw_anchor"] == 0.5
    assert spec._advantage_state["hadw"]["anchor"] == 0.5  # one accuracy: σ = 0, C stays
    # Rollout 2: same easy prompt, the other one now p̂ = 0.5 = C (weight 1); y = 5/8.
    second = advantages_of(spec, torch.tensor([1, 1, 1, 0, 1, 1, 0, 0], dtype=D), groups)
    assert second.terms["hadw_weight"].tolist() == pytest.approx([1 / e] * 3 + [e] + [1.0] * 4)
    assert second.metrics["hadw_anchor"] == 0.5
    # σ = std(0.5, 0.625) = 0.0625, η_t = 0.1·0.0625: C⁺ = 0.5 + 0.00625·(0.625 − 0.5)
    assert spec._advantage_state["hadw"]["anchor"] == pytest.approx(0.50078125)
    assert spec._advantage_state["hadw"]["history"] == [0.5, 0.625]


# -- every preset: the loss backpropagates and the cards' relations hold on its stored step --------

def _random_step(seed):
    g = torch.Generator().manual_seed(seed)
    n, width = 8, 6
    lengths = torch.tensor([6, 4, 5, 6, 3, 6, 5, 2])
    mask = (torch.arange(width)[None, :] < lengths[:, None]).to(D)
    logprobs = -torch.rand(n, width, generator=g, dtype=D) * 2 * mask
    old = (logprobs + 0.3 * torch.randn(n, width, generator=g, dtype=D)) * mask
    ref = (logprobs + 0.1 * torch.randn(n, width, generator=g, dtype=D)) * mask
    entropies = torch.rand(n, width, generator=g, dtype=D) * 1.4 * mask
    token_ids = torch.randint(0, 3, (n, width), generator=g)
    rewards = torch.tensor([1, 0, 1, 0, 0, 0, 1, 1], dtype=D)
    return mask, logprobs, old, ref, entropies, token_ids, rewards, torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])


@pytest.mark.parametrize("name", ["gtpo", "bapo", "hadw"])
@pytest.mark.parametrize("on_policy", [True, False])
def test_preset_backpropagates_and_relations_hold(name, on_policy):
    spec = get_preset(name)
    mask, logprobs, old, ref, entropies, token_ids, rewards, groups = _random_step(3)
    if on_policy:
        old = logprobs.clone()
    details = advantages_of(spec, rewards, groups, mask, token_ids, entropies)
    leaf = logprobs.clone().requires_grad_(True)
    loss = spec.objective(leaf, old, mask, advantages=details.advantages, ref_logprobs=ref, entropies=entropies).loss
    loss.backward()
    assert leaf.grad is not None and torch.isfinite(leaf.grad).all() and leaf.grad.abs().sum() > 0
    result = recompute(spec, StepInputs(logprobs=logprobs, mask=mask, old_logprobs=old, ref_logprobs=ref,
                                        entropies=entropies, advantages=details.advantages))
    assert torch.allclose(result.push, -leaf.grad * mask)
    step = stored_step(mask, rewards, groups, details, result, logprobs=logprobs, old_logprobs=old,
                       token_ids=token_ids, ref_logprobs=ref)
    relations = spec.relations(step)
    failed = [r.to_dict() for r in relations if r.status == "fails"]
    assert not failed
    cards = {r.card for r in relations if r.holds}
    own = {"gtpo": "gtpo", "bapo": "clip", "hadw": "hadw"}[name]
    assert {own, "grad_coef", "token_objective", "advantage"} <= cards
    if name == "gtpo":
        assert details.advantages.shape == mask.shape and step.token("gtpo_conflict").sum() > 0
    if name == "bapo":
        assert 0.6 - 1e-12 <= step.metrics["bapo_clip_low"] <= 0.9 + 1e-12
        assert 1.2 - 1e-12 <= step.metrics["bapo_clip_high"] <= 3.0 + 1e-12


def test_relations_catch_a_wrong_advantage():
    spec = get_preset("gtpo")
    mask, logprobs, _, _, entropies, token_ids, rewards, groups = _random_step(5)
    details = advantages_of(spec, rewards, groups, mask, token_ids, entropies)
    result = recompute(spec, StepInputs(logprobs=logprobs, mask=mask, entropies=entropies,
                                        advantages=details.advantages))
    step = stored_step(mask, rewards, groups, details, result, logprobs=logprobs, old_logprobs=logprobs,
                       token_ids=token_ids)
    step.tokens["gtpo_delta"] = np.ones_like(step.tokens["gtpo_delta"])
    assert any(r.status == "fails" and r.card == "gtpo" for r in spec.relations(step))


def test_cards_carry_citations():
    for name, card_id in (("gtpo", "gtpo"), ("bapo", "clip"), ("hadw", "hadw")):
        made = get_preset(name).formula.card(card_id)
        assert made is not None and "arXiv:" in made["citation"]

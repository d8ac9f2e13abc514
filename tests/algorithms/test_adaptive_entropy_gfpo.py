"""Adaptive entropy control (Skywork-OR1 / TRL use_adaptive_entropy) and GFPO group filtering.

The controller is checked against TRL 1.16's own GRPOTrainer._compute_loss driven over a sequence of
optimizer steps (its coefficient, gate, loss and gradients), and against a transcription of Skywork-OR1's
EntController; GFPO's filter on hand-made groups; both cards' relations on stored steps."""

import numpy as np
import pytest
import torch

from unipo.algorithms import AlgorithmSpec, get_preset, registry
from unipo.algorithms.entropy_control import (COEF_KEY, LAST_KEY, current_entropy_coef, next_entropy_coef,
                                              window_entropy)
from unipo.algorithms.gfpo import filter_stats, keep_responses
from unipo.algorithms.objective import compute_objective
from unipo.algorithms.stored import StoredStep

D = torch.float64


# ----------------------------------------------------------------------------------- helpers

def stored_step(out, mask, metrics=None, responses=None):
    """The objective's terms as a StoredStep: flat, response-major, padding dropped."""
    keep = mask.bool()
    tokens = {name: value[keep].detach().numpy() for name, value in out.terms.items()}
    lengths = keep.sum(-1).numpy()
    return StoredStep(tokens=tokens, responses=responses or {}, offsets=np.concatenate([[0], np.cumsum(lengths)]),
                      metrics=dict(out.metrics if metrics is None else metrics))


def batch(seed, n=4, t=4, entropy=None):
    g = torch.Generator().manual_seed(seed)
    logprobs = -torch.rand(n, t, generator=g, dtype=D) * 2
    old = logprobs + 0.3 * torch.randn(n, t, generator=g, dtype=D)
    mask = torch.ones(n, t, dtype=torch.bool)
    advantages = torch.randn(n, generator=g, dtype=D)
    if entropy is None:
        entropies = torch.rand(n, t, generator=g, dtype=D)
    else:  # constant: with 16 real tokens the mean of 0.25 is exactly 0.25
        entropies = torch.full((n, t), float(entropy), dtype=D)
    return logprobs, old, mask, advantages, entropies


def adaptive_hp(**overrides):
    return AlgorithmSpec(loss_aggregation="token-mean", adaptive_entropy=True, **overrides).hparams


# ----------------------------------------------------------------------- TRL 1.16 parity

class TRLController:
    """A bare TRL GRPOTrainer (loss_type="dapo", use_adaptive_entropy=True) kept across steps."""

    def __init__(self, trl_oracle, hp):
        accelerator = trl_oracle._SingleProcessAccelerator()
        accelerator.sync_gradients = True  # one micro-batch per optimizer step
        trainer = trl_oracle.bare_trainer(
            args=dict(delta=None, sapo_temperature_pos=1.0, sapo_temperature_neg=1.05,
                      entropy_target=hp["entropy_target"], entropy_coef_delta=hp["entropy_coef_delta"],
                      entropy_coef_min=hp["entropy_coef_min"], entropy_coef_max=hp["entropy_coef_max"]),
            loss_type="dapo", beta=0.0, epsilon_low=hp["epsilon"], epsilon_high=hp["epsilon"],
            importance_sampling_level="token", top_entropy_quantile=hp["top_entropy_quantile"],
            max_completion_length=None, accelerator=accelerator)
        # What GRPOTrainer.__init__ sets for adaptive entropy (grpo_trainer.py ~846-857).
        trainer.entropy_coef = hp["entropy_coef"]
        trainer.use_adaptive_entropy = True
        trainer._entropy_bonus_enabled = True
        trainer._last_world_entropy = float("inf")
        trainer._entropy_window_stats = None
        self.trainer = trainer

    def step(self, logprobs, old, mask, advantages, entropies):
        trainer = self.trainer
        trainer._get_per_token_logps_and_entropies = lambda *args, **kwargs: (logprobs, entropies, None)
        n, t = logprobs.shape
        inputs = {"prompt_ids": torch.zeros(n, 1, dtype=torch.long), "prompt_mask": torch.ones(n, 1, dtype=torch.long),
                  "completion_ids": torch.zeros(n, t, dtype=torch.long), "completion_mask": mask.long(),
                  "advantages": advantages, "old_per_token_logps": old,
                  "num_items_in_batch": torch.as_tensor(mask.sum(), dtype=logprobs.dtype)}
        return trainer._compute_loss(None, inputs)


# Window entropies across the target 0.25 (exactly at it on the constant steps), so the coefficient rises,
# hits c_max, falls to c_min and the gate opens and closes.
ENTROPY_SEQUENCE = [0.9, None, 0.25, None, 0.05, 0.25, 0.9, 0.9, 0.9, 0.25, 0.25]


@pytest.mark.slow
@pytest.mark.parametrize("quantile", [1.0, 0.5])
def test_controller_matches_trl_over_a_sequence_of_steps(trl_oracle, quantile):
    hp = adaptive_hp(entropy_target=0.25, entropy_coef_delta=0.0625, entropy_coef_min=0.0625,
                     entropy_coef_max=0.1875, entropy_coef=0.0, top_entropy_quantile=quantile)
    theirs, state = TRLController(trl_oracle, hp), {}
    applied_history = []
    for step, entropy in enumerate(ENTROPY_SEQUENCE):
        logprobs, old, mask, advantages, entropies = batch(step, entropy=entropy)
        if entropy is None:
            entropies = entropies * 0.4  # a random batch around 0.2
        coef = current_entropy_coef(state, hp)
        applied_history.append(coef)
        ours_lp, ours_h = logprobs.clone().requires_grad_(), entropies.clone().requires_grad_()
        out = compute_objective(hp, ours_lp, old, mask, advantages, entropies=ours_h, entropy_coef=coef)
        theirs_lp, theirs_h = logprobs.clone().requires_grad_(), entropies.clone().requires_grad_()
        their_loss = theirs.step(theirs_lp, old, mask, advantages, theirs_h)
        if quantile == 1.0:
            # token-mean with N = Σm: our bonus Σ c·H·m/Σm is TRL's c·mean_m(H); same loss and gradients.
            out.loss.backward()
            their_loss.backward()
            assert out.loss.item() == pytest.approx(their_loss.item(), abs=1e-12)
            assert torch.allclose(ours_lp.grad, theirs_lp.grad, atol=1e-12, rtol=0)
            ours_h_grad = torch.zeros_like(entropies) if ours_h.grad is None else ours_h.grad  # c = 0: no bonus node
            assert torch.allclose(ours_h_grad, theirs_h.grad, atol=1e-12, rtol=0)
        assert out.metrics["entropy_coef"] == coef
        # The controller, fed the same window entropy (TRL measures it over mask·entropy_mask).
        measured = window_entropy(entropies, out.terms["selected"])
        assert measured == theirs.trainer._last_world_entropy
        next_entropy_coef(state, measured, hp)
        assert state[COEF_KEY] == theirs.trainer.entropy_coef  # exactly: the same float operations
        assert state[LAST_KEY] == theirs.trainer._last_world_entropy
        assert theirs.trainer._metrics["train"]["entropy_coef"][-1] == state[COEF_KEY]
    assert applied_history[0] == 0.0  # TRL: first step gated off (last entropy = +inf)
    assert len(set(applied_history)) > 2  # the sequence exercised rises, caps and gate changes


def test_trl_rule_by_hand():
    hp = adaptive_hp(entropy_target=0.2, entropy_coef_delta=0.25, entropy_coef_min=0.0, entropy_coef_max=0.5,
                     entropy_coef=0.25)
    state = {}
    assert current_entropy_coef(state, hp) == 0.0           # gate closed before any measurement
    assert next_entropy_coef(state, 0.2, hp) == 0.5         # H = H*: ≤ → up (0.25 + 0.25), gate open
    assert next_entropy_coef(state, 0.1, hp) == 0.5         # capped at c_max
    assert next_entropy_coef(state, 0.3, hp) == 0.0         # above: down to 0.25, gate closed
    assert state[COEF_KEY] == 0.25
    assert next_entropy_coef(state, torch.tensor(0.3), hp) == 0.0 and state[COEF_KEY] == 0.0
    assert next_entropy_coef(state, 0.3, hp) == 0.0 and state[COEF_KEY] == 0.0  # floored at c_min


def test_trl_defaults():
    hp = AlgorithmSpec().hparams
    assert (hp["adaptive_entropy"], hp["entropy_target"], hp["entropy_coef_delta"], hp["entropy_coef_min"],
            hp["entropy_coef_max"], hp["entropy_coef"], hp["adaptive_entropy_rule"]) == (False, 0.2, 0.005, 0.0, 1.0, 0.0, "trl")


def _skywork_ent_controller(init, max_c, min_c, delta, target, entropies):
    """Transcription of Skywork-OR1 verl/trainer/ppo/core_algos.py::EntController (value, entropy_loss_enabled);
    the loss applies value·entropy_loss_enabled."""
    value, enabled, applied = init, 1, []
    for current in entropies:
        applied.append(value * enabled)
        value = value + delta if current < target else value - delta
        value = float(np.clip(value, min_c, max_c))
        enabled = int(current < target)
    applied.append(value * enabled)
    return applied


def test_skywork_rule_matches_ent_controller():
    entropies = [0.3, 0.1, 0.2, 0.19, 0.05, 0.05, 0.25, 0.2, 0.1]
    for init in (0.0, 0.004, 0.01):  # 0.01 > c_max: Skywork clips both ways at once
        hp = adaptive_hp(adaptive_entropy_rule="skywork", entropy_target=0.2, entropy_coef_delta=1e-3,
                         entropy_coef_min=0.001, entropy_coef_max=0.005, entropy_coef=init)
        state = {}
        ours = [current_entropy_coef(state, hp)] + [next_entropy_coef(state, h, hp) for h in entropies]
        assert ours == _skywork_ent_controller(init, 0.005, 0.001, 1e-3, 0.2, entropies)


def test_rules_differ_at_the_target_and_on_the_first_step():
    trl = adaptive_hp(entropy_coef=0.01, entropy_coef_delta=0.001, entropy_coef_max=0.005)
    sky = adaptive_hp(entropy_coef=0.01, entropy_coef_delta=0.001, entropy_coef_max=0.005, adaptive_entropy_rule="skywork")
    assert current_entropy_coef({}, trl) == 0.0 and current_entropy_coef({}, sky) == 0.01
    a, b = {}, {}
    assert next_entropy_coef(a, 0.2, trl) == 0.005        # H = H*: TRL increments (min(0.011, 0.005))
    assert next_entropy_coef(b, 0.2, sky) == 0.0          # Skywork: not < target → down, gate closed
    assert b[COEF_KEY] == 0.005                           # 0.009 clipped into [0, 0.005]
    c = {}
    next_entropy_coef(c, 0.5, trl)                        # TRL decrement only floors: 0.009 stays above c_max
    assert c[COEF_KEY] == pytest.approx(0.009)


def test_controller_rejects_bad_values():
    with pytest.raises(ValueError, match="NaN"):
        next_entropy_coef({}, float("nan"), adaptive_hp())
    with pytest.raises(ValueError, match="entropy_coef_min"):
        AlgorithmSpec(adaptive_entropy=True, entropy_coef_min=0.5, entropy_coef_max=0.1)
    logprobs, old, mask, advantages, _ = batch(0)
    with pytest.raises(ValueError, match="entropies: required"):
        compute_objective(adaptive_hp(), logprobs, old, mask, advantages)  # coefficient 0, yet the controller needs H
    with pytest.raises(ValueError, match="entropy_coef"):
        compute_objective(adaptive_hp(), logprobs, old, mask, advantages, entropies=old.exp(), entropy_coef=float("inf"))


# --------------------------------------------------------------- objective hook and card

def test_objective_uses_the_given_coefficient_and_the_relation_proves_it():
    hp = adaptive_hp(top_entropy_quantile=0.5)
    logprobs, old, mask, advantages, entropies = batch(3)
    mask[1, 2:] = False
    out = compute_objective(hp, logprobs.requires_grad_(), old, mask, advantages, entropies=entropies, entropy_coef=0.03)
    assert out.metrics["entropy_coef"] == 0.03
    expected = 0.03 * entropies * out.terms["selected"]
    assert torch.allclose(out.terms["entropy_bonus"], expected, atol=1e-15)
    relations = registry.get("entropy_control", "adaptive").relation(stored_step(out, mask), hp)
    assert [r.status for r in relations] == ["holds", "holds", "unchecked"]
    wrong = stored_step(out, mask, metrics={**out.metrics, "entropy_coef": 0.02})
    assert registry.get("entropy_control", "adaptive").relation(wrong, hp)[0].status == "fails"
    none = stored_step(out, mask, metrics={})
    assert registry.get("entropy_control", "adaptive").relation(none, hp)[0].status == "unchecked"
    # Without the argument the constant hp["entropy_coef"] applies and no entropy_coef metric is logged.
    plain = compute_objective(hp, logprobs, old, mask, advantages, entropies=entropies)
    assert "entropy_coef" not in plain.metrics and float(plain.terms["entropy_bonus"].abs().sum()) == 0.0


def test_skywork_preset_and_card():
    algo = get_preset("skywork_or1")
    hp = algo.hparams
    assert hp["adaptive_entropy"] and hp["adaptive_entropy_rule"] == "skywork" and hp["beta"] == 0.0
    assert (hp["entropy_target"], hp["entropy_coef_delta"], hp["entropy_coef_max"]) == (0.2, 1e-4, 5e-3)
    names = [(c.axis, c.name) for c in algo.components]
    assert ("entropy_control", "adaptive") in names and ("entropy_control", "bonus") not in names
    entropy_card = algo.formula.card("entropy")
    assert entropy_card["variant"] == "adaptive" and "t-entropy_coef_adaptive" in entropy_card["latex"]
    assert "<" in entropy_card["latex"] and r"\le" in AlgorithmSpec(adaptive_entropy=True).formula.card("entropy")["latex"]


# ----------------------------------------------------------------------------------- GFPO

GFPO = {"gfpo_keep": 2, "gfpo_metric": "length"}


def test_gfpo_keeps_the_shortest_per_group_ties_to_the_earlier():
    rewards = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    lengths = torch.tensor([9, 3, 5, 3, 7, 2, 2, 8])
    groups = torch.tensor([4, 4, 4, 4, 1, 1, 1, 1])  # labels need not be 0..G−1
    keep = keep_responses(rewards, lengths, groups, GFPO)
    assert keep.tolist() == [False, True, False, True, False, True, True, False]
    assert keep.dtype == torch.bool


def test_gfpo_token_efficiency_keeps_most_reward_per_token():
    rewards = torch.tensor([1.0, 1.0, 0.0, 0.5, 2.0, 0.0])
    lengths = torch.tensor([10, 4, 1, 1, 8, 0])  # R/L: 0.1, 0.25, 0, 0.5, 0.25, 0 (L clamped to 1)
    groups = torch.tensor([0, 0, 0, 1, 1, 1])
    keep = keep_responses(rewards, lengths, groups, {"gfpo_keep": 2, "gfpo_metric": "token_efficiency"})
    assert keep.tolist() == [True, True, False, True, True, False]
    one = keep_responses(rewards, lengths, groups, {"gfpo_keep": 1, "gfpo_metric": "token_efficiency"})
    assert one.tolist() == [False, True, False, True, False, False]


def test_gfpo_every_group_keeps_the_same_count_and_rejects_small_groups():
    g = torch.Generator().manual_seed(0)
    groups = torch.arange(6).repeat_interleave(8)[torch.randperm(48, generator=g)]  # interleaved groups
    lengths = torch.randint(1, 20, (48,), generator=g)
    keep = keep_responses(torch.rand(48, generator=g), lengths, groups, {"gfpo_keep": 3, "gfpo_metric": "length"})
    assert torch.bincount(groups[keep]).tolist() == [3] * 6
    for label in range(6):
        inside = groups == label
        kept, dropped = lengths[inside & keep], lengths[inside & ~keep]
        assert int(kept.max()) <= int(dropped.min())
    with pytest.raises(ValueError, match="at least k"):
        keep_responses(torch.zeros(3), torch.ones(3), torch.tensor([0, 0, 1]), GFPO)
    with pytest.raises(ValueError, match="integer"):
        keep_responses(torch.zeros(2), torch.ones(2), torch.tensor([0.0, 0.0]), GFPO)


def test_gfpo_relation_checks_the_kept_groups_and_the_filter_record():
    rewards = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    lengths = torch.tensor([9, 3, 5, 3, 7, 2, 2, 8])
    groups = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    hp = get_preset("gfpo", gfpo_keep=2).hparams
    keep = keep_responses(rewards, lengths, groups, hp)
    stats = filter_stats(rewards, lengths, groups, keep, hp)
    assert stats["gfpo_margin"] == 2.0  # group 0: dropped 5 vs kept 3; group 1: dropped 7 vs kept 2
    assert (stats["gfpo_sampled_per_group"], stats["gfpo_kept_per_group"], stats["gfpo_dropped_responses"]) == (4.0, 2.0, 4.0)
    # The stored step holds only the kept responses (the engine drops the rest before advantages).
    kept_lengths = lengths[keep]
    offsets = np.concatenate([[0], np.cumsum(kept_lengths.numpy())])
    step = StoredStep(tokens={}, responses={"group": groups[keep].numpy()}, offsets=offsets, metrics=stats)
    relation = registry.get("sample_filter", "gfpo").relation
    assert [r.status for r in relation(step, hp)] == ["holds", "holds", "holds"]
    step.metrics = {}
    assert [r.status for r in relation(step, hp)] == ["holds", "unchecked"]
    step.metrics = {**stats, "gfpo_margin": -1.0}
    assert relation(step, hp)[1].status == "fails"
    assert relation(step, {**hp, "gfpo_keep": 3})[0].status == "fails"


def test_gfpo_preset_card_and_descriptor():
    algo = get_preset("gfpo")
    gfpo = registry.get("sample_filter", "gfpo")
    assert gfpo.rollout_side and gfpo in algo.components
    assert gfpo not in get_preset("grpo").components
    card = algo.formula.card("gfpo")
    assert card["variant"] == "length-4" and "t-length" in card["latex"]
    eff = get_preset("gfpo", gfpo_metric="token_efficiency").formula.card("gfpo")
    assert "t-reward" in eff["latex"] and eff["variant"] == "token_efficiency-4"

"""Loss and gradient w.r.t. log-probs equal TRL 1.16's GRPOTrainer._compute_loss (float64, 1e-8)."""
import pytest
from support.parity_report import report
import torch

from unipo.algorithms import AlgorithmSpec, StepInputs, recompute

pytestmark = pytest.mark.slow  # importing trl takes several seconds

# TRL loss_type → (our aggregation, clip rule)
LOSS_TYPES = {
    "grpo": ("seq-mean-token-mean", "ppo"),
    "bnpo": ("token-mean-local", "ppo"),
    "dr_grpo": ("seq-mean-token-sum-norm", "ppo"),
    "dapo": ("token-mean", "ppo"),
    "cispo": ("token-mean", "cispo"),
    "sapo": ("seq-mean-token-mean", "sapo"),
}


def batch(seed=0, n=6, t=7, spread=0.4):
    g = torch.Generator().manual_seed(seed)
    logprobs = -torch.rand(n, t, generator=g, dtype=torch.float64) * 3
    old = logprobs + spread * torch.randn(n, t, generator=g, dtype=torch.float64)
    ref = logprobs + 0.3 * torch.randn(n, t, generator=g, dtype=torch.float64)
    mask = torch.ones(n, t, dtype=torch.bool)
    mask[1, 4:] = False
    mask[3, 2:] = False
    advantages = torch.randn(n, generator=g, dtype=torch.float64)
    entropies = torch.rand(n, t, generator=g, dtype=torch.float64) * 2
    return logprobs, old, ref, mask, advantages, entropies


def both(trl_oracle, loss_type, options, ours_extra=None, seed=0, spread=0.4):
    logprobs, old, ref, mask, advantages, entropies = batch(seed, spread=spread)
    aggregation, clip = LOSS_TYPES[loss_type]
    trl_options = dict(options)
    hp = {"loss_aggregation": aggregation, "clip_mode": clip, **(ours_extra or {})}
    for name in ("beta", "epsilon", "epsilon_high", "delta", "importance_sampling_level", "top_entropy_quantile",
                 "max_completion_length"):
        if name in options:
            hp[name] = options[name]
    ours_lp = logprobs.clone().requires_grad_()
    theirs_lp = logprobs.clone().requires_grad_()
    uses_ref = options.get("beta", 0.0) != 0.0
    out = AlgorithmSpec(**hp).objective(ours_lp, old, mask, advantages=advantages,
                                        ref_logprobs=ref if uses_ref else None, entropies=entropies)
    loss, metrics = trl_oracle.trl_loss(loss_type=loss_type, logprobs=theirs_lp, old_logprobs=old, mask=mask,
                             advantages=advantages, ref_logprobs=ref if uses_ref else None,
                             entropies=entropies, **trl_options)
    out.loss.backward()
    loss.backward()
    # The stored push g through the one recompute path: −(TRL's own gradient) on real tokens.
    pushed = recompute(AlgorithmSpec(**hp), StepInputs(logprobs=logprobs, mask=mask, old_logprobs=old,
                                                       advantages=advantages, ref_logprobs=ref if uses_ref else None,
                                                       entropies=entropies))
    assert torch.allclose(pushed.push, -theirs_lp.grad * mask, atol=1e-8, rtol=0)
    return out, loss, ours_lp.grad, theirs_lp.grad, metrics


CASES = [
    ("grpo", {"beta": 0.04}),
    ("grpo", {}),
    ("bnpo", {}),
    ("dr_grpo", {"max_completion_length": 9}),
    ("dapo", {"epsilon_high": 0.28}),
    ("dapo", {"epsilon_high": 0.28, "beta": 0.1}),
    ("cispo", {"epsilon_high": 1.2}),
    ("sapo", {}),
    ("grpo", {"importance_sampling_level": "sequence", "epsilon": 0.05, "epsilon_high": 0.08}),
    ("dapo", {"top_entropy_quantile": 0.3}),
    ("grpo", {"top_entropy_quantile": 0.5, "beta": 0.04}),
    ("grpo", {"delta": 1.5}),
]


@pytest.mark.parametrize("loss_type,options", CASES, ids=[f"{c[0]}-{'-'.join(c[1])}" for c in CASES])
def test_loss_and_gradient_match_trl(trl_oracle, loss_type, options):
    out, loss, ours_grad, theirs_grad, _ = both(trl_oracle, loss_type, options)
    report(f"TRL {loss_type} {options}", out.loss.item() - loss.item(), float((ours_grad - theirs_grad).abs().max()))
    assert abs(out.loss.item() - loss.item()) < 1e-8
    assert torch.allclose(ours_grad, theirs_grad, atol=1e-8, rtol=0)
    assert float(theirs_grad.abs().sum()) > 0


def test_clipping_fires_and_clip_fractions_match_trl(trl_oracle):
    out, _, _, _, metrics = both(trl_oracle, "dapo", {"epsilon_high": 0.28})
    assert out.metrics["clip_fraction_region"] > 0
    assert out.metrics["clip_fraction_low"] == pytest.approx(metrics["clip_ratio/low_mean"], abs=1e-6)  # TRL averages flags in float32
    assert out.metrics["clip_fraction_high"] == pytest.approx(metrics["clip_ratio/high_mean"], abs=1e-6)  # TRL averages flags in float32
    assert out.metrics["clip_fraction_region"] == pytest.approx(metrics["clip_ratio/region_mean"], abs=1e-6)  # TRL averages flags in float32


def test_kl_and_entropy_metrics_match_trl(trl_oracle):
    out, _, _, _, metrics = both(trl_oracle, "grpo", {"beta": 0.04})
    assert out.metrics["kl_mean"] == pytest.approx(metrics["kl"], abs=1e-6)  # TRL averages flags in float32
    assert out.metrics["entropy_mean"] == pytest.approx(metrics["entropy"], abs=1e-6)  # TRL averages flags in float32


def test_cispo_clip_fraction_matches_trl(trl_oracle):
    out, _, _, _, metrics = both(trl_oracle, "cispo", {"epsilon_high": 1.2})
    assert out.metrics["clip_fraction_high"] > 0
    assert out.metrics["clip_fraction_high"] == pytest.approx(metrics["cispo_clip_ratio"], abs=1e-6)  # TRL averages flags in float32


def test_global_token_count_under_accumulation_matches_trl(trl_oracle):
    logprobs, old, _, mask, advantages, entropies = batch(0)
    theirs_lp = logprobs.clone().requires_grad_()
    loss, _ = trl_oracle.trl_loss(loss_type="dapo", logprobs=theirs_lp, old_logprobs=old, mask=mask,
                                  advantages=advantages, num_items_in_batch=100)
    loss.backward()
    ours_lp = logprobs.clone().requires_grad_()
    ours = AlgorithmSpec(loss_aggregation="token-mean").objective(ours_lp, old, mask, advantages=advantages,
                                                                  num_items_in_batch=100)
    ours.loss.backward()
    assert abs(ours.loss.item() - loss.item()) < 1e-8
    assert torch.allclose(ours_lp.grad, theirs_lp.grad, atol=1e-8, rtol=0)

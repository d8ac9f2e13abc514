"""Exact per-token gradient attribution and GradLoc bisection (engine/attribution.py) on constructed steps."""
from __future__ import annotations

import pytest
import torch

from unipo.algorithms import StepInputs, get_preset, recompute
from unipo.engine.attribution import Attribution, bisect_culprit, exact_contributions, token_gradients
from unipo.analyses.spikes import SpikeRule

VOCAB, N, T = 12, 4, 6


def toy_step(dominant=(2, 3), seed=0):
    """A tiny policy, a GRPO loss with token-level advantages where one token's advantage is 60× the rest."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Embedding(VOCAB, 8), torch.nn.Tanh(), torch.nn.Linear(8, VOCAB))
    tokens = torch.randint(0, VOCAB, (N, T))
    mask = torch.ones(N, T)
    mask[1, 4:] = 0
    logprobs = torch.log_softmax(model(tokens), -1).gather(-1, tokens[..., None])[..., 0]
    advantages = torch.full((N, T), 0.1) * torch.tensor([1.0, -1.0, 1.0, -1.0])[:, None]
    advantages[dominant] = 6.0
    algo = get_preset("grpo", beta=0.0)
    result = recompute(algo, StepInputs(logprobs=logprobs, mask=mask, old_logprobs=logprobs.detach(),
                                        advantages=advantages))
    params = list(model.parameters())
    result.loss.backward(retain_graph=True)
    push = result.collect_push()
    full = torch.cat([p.grad.reshape(-1) for p in params])
    return model, params, logprobs, push, mask, full


def test_per_token_contributions_sum_to_the_step_gradient():
    _, params, logprobs, push, mask, full = toy_step()
    total = torch.zeros_like(full)
    for sel, grads in token_gradients(logprobs, mask, params, chunk=5):
        total += (-push[sel[:, 0], sel[:, 1]][:, None] * grads).sum(0)
    assert torch.allclose(total, full, rtol=1e-4, atol=1e-6 * float(full.abs().max()))


def test_exact_attribution_ranks_the_dominant_token_first():
    _, params, logprobs, push, mask, full = toy_step(dominant=(2, 3))
    norms, response_norms = exact_contributions(logprobs, push, mask, params, chunk=7)
    flat = int(norms.reshape(-1).argmax())
    assert divmod(flat, T) == (2, 3)
    assert int(response_norms.argmax()) == 2
    # A response's partial gradient can't exceed the sum of its tokens' norms (triangle inequality).
    assert bool((response_norms <= norms.sum(1) * (1 + 1e-5) + 1e-9).all())
    assert norms[mask == 0].abs().sum() == 0


@pytest.mark.parametrize("dominant", [(0, 0), (2, 3), (3, 5), (1, 3)])
def test_bisection_finds_the_token_the_exact_computation_ranks_first(dominant):
    _, params, logprobs, push, mask, full = toy_step(dominant=dominant, seed=1)
    norms, _ = exact_contributions(logprobs, push, mask, params)
    exact_top = divmod(int(norms.reshape(-1).argmax()), T)
    found = bisect_culprit(logprobs, push, mask, params)
    assert exact_top == dominant
    assert (found.response, found.position) == exact_top
    n = int(mask.sum())
    # One backward per halving plus the first: between ⌊log2 n⌋ + 1 and ⌈log2 n⌉ + 1.
    assert n.bit_length() <= found.probes <= (n - 1).bit_length() + 1
    assert found.culprit_norm == pytest.approx(float(norms[dominant]), rel=1e-4)
    assert found.step_norm == pytest.approx(float(full.norm()), rel=1e-4)


def test_bisect_mode_runs_only_on_flagged_spikes():
    _, params, logprobs, push, mask, _ = toy_step()
    calm = Attribution("bisect", SpikeRule(threshold=None, z=3.0, min_history=3))
    for _ in range(4):
        out = calm.after_backward(logprobs, push, mask, params, grad_norm=1.0)
        assert out.metrics["spike"] == 0.0 and "gradloc_response" not in out.metrics
    flagged = Attribution("bisect", SpikeRule(threshold=1e-6))
    out = flagged.after_backward(logprobs, push, mask, params, grad_norm=1.0)
    assert out.metrics["spike"] == 1.0
    assert (out.metrics["gradloc_response"], out.metrics["gradloc_position"]) == (2.0, 3.0)
    assert not out.terms  # bisection stores no per-token column


@pytest.mark.slow
def test_exact_on_the_tiny_llama_sums_to_its_gradient():
    from unipo.models.tiny import build_tiny_model
    model, _ = build_tiny_model(seed=0)
    model.eval()
    ids = torch.randint(3, 15, (2, 9))
    logits = model(input_ids=ids).logits[:, :-1]
    targets = ids[:, 1:]
    logprobs = torch.log_softmax(logits.float(), -1).gather(-1, targets[..., None])[..., 0]
    mask = torch.ones_like(logprobs)
    weights = torch.randn(logprobs.shape)
    loss = -(weights * logprobs).sum()
    params = [p for p in model.parameters() if p.requires_grad]
    loss.backward(retain_graph=True)
    full = torch.cat([torch.zeros(p.numel()) if p.grad is None else p.grad.reshape(-1) for p in params])
    total = torch.zeros_like(full)
    for sel, grads in token_gradients(logprobs, mask, params, chunk=6):
        total += (-weights[sel[:, 0], sel[:, 1]][:, None] * grads).sum(0)
    assert torch.allclose(total, full, rtol=1e-3, atol=1e-5 * float(full.abs().max()))

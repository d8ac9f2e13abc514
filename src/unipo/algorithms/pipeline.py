"""The one recompute path: a step's inputs in, every term of the loss and the push g out.

The engine (each update), the server (what-if, checks) and every importer call `recompute(spec,
inputs)`. Advantages are computed from the rewards unless the caller passes them (the engine computes
them once per rollout, over the whole rollout, with `recompute_advantages`).

The push g_it = −∂L/∂ℓ_it is what autograd gives the log-probs: `torch.autograd.grad` of the loss
with respect to the log-prob tensor only walks the loss's own small graph (never the model), and
keeps the graph for the optimizer's backward.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from unipo.algorithms.advantages import AdvantageDetails
from unipo.algorithms.objective import ObjectiveOutput

PUSH_TERM = "grad_coef"


@dataclass
class StepInputs:
    logprobs: torch.Tensor                          # [N, T] current policy (may carry the model's graph)
    mask: torch.Tensor                              # [N, T] completion tokens
    rewards: torch.Tensor | None = None             # [N]
    group_ids: torch.Tensor | None = None           # [N]
    old_logprobs: torch.Tensor | None = None        # [N, T] behaviour policy (default: sg(current))
    ref_logprobs: torch.Tensor | None = None        # [N, T]
    sampling_logprobs: torch.Tensor | None = None   # [N, T] the inference engine's (training–inference mismatch)
    rollout_logprobs: torch.Tensor | None = None    # [N, T] scores the KL reward uses (default: old_logprobs)
    entropies: torch.Tensor | None = None           # [N, T]
    values: torch.Tensor | None = None              # [N, T] critic values at rollout time
    truncated: torch.Tensor | None = None           # [N] bool
    token_ids: torch.Tensor | None = None           # [N, T]
    baseline_rewards: torch.Tensor | None = None    # [N] e.g. ReMax's greedy-response reward
    advantages: torch.Tensor | None = None          # [N] or [N, T] given: skip the estimator
    num_items_in_batch: int | None = None           # global token count for token-mean under accumulation


@dataclass
class StepResult:
    loss: torch.Tensor
    objective: ObjectiveOutput
    advantages: AdvantageDetails | None
    push: torch.Tensor | None                       # [N, T] g = −∂L/∂ℓ (zero on padding)
    terms: dict[str, torch.Tensor] = field(default_factory=dict)   # every per-token term, g included
    metrics: dict[str, float] = field(default_factory=dict)


def recompute_advantages(spec, inputs: StepInputs) -> AdvantageDetails:
    if inputs.rewards is None or inputs.group_ids is None:
        raise ValueError("rewards, group_ids: required to compute advantages (or pass advantages)")
    scores = inputs.rollout_logprobs if inputs.rollout_logprobs is not None else inputs.old_logprobs
    if scores is None:
        scores = inputs.logprobs
    return spec.advantage_details(inputs.rewards, inputs.group_ids, mask=inputs.mask, values=inputs.values,
                                  logprobs=scores.detach(), ref_logprobs=inputs.ref_logprobs,
                                  token_ids=inputs.token_ids, entropies=inputs.entropies,
                                  baseline_rewards=inputs.baseline_rewards)


def recompute(spec, inputs: StepInputs, *, push: bool = True) -> StepResult:
    details = None
    advantages = inputs.advantages
    if advantages is None:
        details = recompute_advantages(spec, inputs)
        advantages = details.advantages
    logprobs = inputs.logprobs
    if push and not logprobs.requires_grad:  # stored log-probs: a leaf just for the push
        logprobs = logprobs.detach().requires_grad_(True)
    with torch.enable_grad():
        out = spec.objective(logprobs, inputs.old_logprobs, inputs.mask, advantages=advantages,
                             ref_logprobs=inputs.ref_logprobs, entropies=inputs.entropies,
                             truncated=inputs.truncated, num_items_in_batch=inputs.num_items_in_batch,
                             sampling_logprobs=inputs.sampling_logprobs)
        g = None
        if push and out.loss.requires_grad:
            (grad,) = torch.autograd.grad(out.loss, logprobs, retain_graph=logprobs is inputs.logprobs,
                                          allow_unused=True)
            maskf = inputs.mask.to(logprobs.dtype)
            g = torch.zeros_like(maskf) if grad is None else -grad * maskf
    terms = dict(out.terms)
    if g is not None:
        terms[PUSH_TERM] = g.detach()
    metrics = dict(out.metrics)
    if g is not None:
        metrics["push_abs_sum"] = float(g.abs().sum())
    return StepResult(out.loss, out, details, g, terms, metrics)

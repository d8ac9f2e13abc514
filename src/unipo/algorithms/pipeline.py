"""The one recompute path: a step's inputs in, every term of the loss and the push g out.

The engine (each update), the server (what-if, checks) and every importer call `recompute(spec,
inputs)`. Advantages are computed from the rewards unless the caller passes them (the engine computes
them once per rollout, over the whole rollout, with `recompute_advantages`).

The push g_it = −∂L/∂ℓ_it is what autograd gives the log-probs. When the log-probs come from a model
(a non-leaf tensor in the model's graph: the engine, a TRL capture), recompute asks autograd to keep
their gradient and the caller reads g with `result.collect_push()` after its own backward — no extra
pass. For stored log-probs (what-if, imports) recompute makes them a leaf and takes the gradient of
the loss alone (`torch.autograd.grad`, which walks only the loss's small graph).
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
    _pending: tuple | None = None                    # (log-probs, mask) whose .grad becomes g after backward

    def collect_push(self) -> torch.Tensor:
        """After the caller's loss.backward(): g from the log-probs' retained gradient."""
        if self._pending is not None:
            logprobs, maskf = self._pending
            grad = logprobs.grad
            g = torch.zeros_like(maskf) if grad is None else -grad.detach() * maskf
            self._set_push(g)
            self._pending = None
        if self.push is None:
            raise ValueError("no push: recompute was called with push=False or the loss has no gradient")
        return self.push

    def _set_push(self, g: torch.Tensor) -> None:
        self.push = g.detach()
        self.terms[PUSH_TERM] = self.push
        self.metrics["push_abs_sum"] = float(self.push.abs().sum())


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
    from_model = logprobs.requires_grad and not logprobs.is_leaf
    if push and not from_model:  # stored log-probs: a leaf just for the push
        logprobs = logprobs.detach().requires_grad_(True)
    elif push:
        logprobs.retain_grad()
    with torch.enable_grad():
        out = spec.objective(logprobs, inputs.old_logprobs, inputs.mask, advantages=advantages,
                             ref_logprobs=inputs.ref_logprobs, entropies=inputs.entropies,
                             truncated=inputs.truncated, num_items_in_batch=inputs.num_items_in_batch,
                             sampling_logprobs=inputs.sampling_logprobs)
    result = StepResult(out.loss, out, details, None, dict(out.terms), dict(out.metrics))
    if push and out.loss.requires_grad:
        maskf = inputs.mask.to(logprobs.dtype)
        if from_model:
            result._pending = (logprobs, maskf)
        else:
            (grad,) = torch.autograd.grad(out.loss, logprobs, allow_unused=True)
            result._set_push(torch.zeros_like(maskf) if grad is None else -grad * maskf)
    return result

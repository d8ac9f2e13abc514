"""One optimizer update on one mini-batch of a rollout. The loss is the algorithm's; nothing is added here
except the algorithm's own value loss when it has a critic."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from unipo.algorithms.pipeline import StepInputs, recompute
from unipo.engine.config import TrainConfig
from unipo.engine.minibatches import MiniBatch
from unipo.engine.policy import Policy
from unipo.engine.rollout import Rollout


@dataclass
class UpdateResult:
    rows: torch.Tensor                    # [n] rollout rows of this mini-batch, in step order
    logprobs: torch.Tensor                # [n, T] detached
    old_logprobs: torch.Tensor            # [n, T] as the objective saw them
    entropies: torch.Tensor               # [n, T] detached
    values: torch.Tensor | None           # [n, T] the critic's current values (detached)
    terms: dict[str, torch.Tensor]        # out.terms (+ value-loss terms)
    objective_metrics: dict[str, float]
    loss: float
    policy_loss: float
    value_loss: float | None
    grad_norm: float
    # Gradient attribution (engine/attribution.py), empty when TrainConfig.attribution is off.
    attribution_terms: dict[str, torch.Tensor] = field(default_factory=dict)       # [n, T]
    attribution_response_terms: dict[str, torch.Tensor] = field(default_factory=dict)  # [n]
    attribution_metrics: dict[str, float] = field(default_factory=dict)


def pick_rows(tensor: torch.Tensor | None, rows: torch.Tensor, width: int) -> torch.Tensor | None:
    """The given rows of a rollout tensor, [n, T] ones cut to the first `width` token columns
    ([n] per-response ones as they are; None stays None)."""
    if tensor is None:
        return None
    picked = tensor.index_select(0, rows)
    return picked[:, :width] if picked.dim() == 2 else picked


def run_update(policy: Policy, algo, optimizer: torch.optim.Optimizer, rollout: Rollout, batch: MiniBatch,
               config: TrainConfig, first_of_rollout: bool, attribution=None) -> UpdateResult:
    rows = torch.tensor(batch.responses, dtype=torch.long)
    mask_full = rollout.mask.index_select(0, rows)
    # Only as wide as the longest completion of this mini-batch: shorter forwards, same values.
    width = int(mask_full.sum(0).nonzero().max()) + 1 if bool(mask_full.any()) else 1
    mask = mask_full[:, :width]
    completion_ids = pick_rows(rollout.completion_ids, rows, width)
    prompt_ids = [rollout.prompt_ids[i] for i in batch.responses]

    scores = policy.score_completions(prompt_ids, completion_ids, mask, temperature=config.temperature,
                                      with_entropy=True, with_values=bool(algo.uses_values))
    if first_of_rollout:
        # The policy has not moved since the rollout was scored, so old == current; the rollout-time
        # values differ from these only by the float noise of another batch shape. Using the detached
        # current log-probs makes r ≡ 1 exactly on this update, as TRL does.
        old_logprobs = scores.logprobs.detach()
    else:
        old_logprobs = pick_rows(rollout.old_logprobs, rows, width)
    advantages = pick_rows(rollout.advantages, rows, width)
    ref_logprobs = pick_rows(rollout.ref_logprobs, rows, width)

    # The one recompute path (unipo.algorithms.pipeline), with the rollout's advantages; it also
    # returns the push g = −∂L/∂ℓ that autograd gives the log-probs, stored with the terms.
    result = recompute(algo, StepInputs(
        logprobs=scores.logprobs, mask=mask, old_logprobs=old_logprobs, advantages=advantages,
        ref_logprobs=ref_logprobs, entropies=scores.entropies, truncated=rollout.truncated.index_select(0, rows),
        token_ids=completion_ids, sampling_logprobs=pick_rows(rollout.sampling_logprobs, rows, width)))
    out = result.objective
    loss = out.loss
    value_loss = None
    critic_terms: dict[str, torch.Tensor] = {}
    if algo.uses_values:
        old_values = pick_rows(rollout.values, rows, width)
        returns = pick_rows(rollout.returns, rows, width)
        critic_loss, value_terms = algo.value_loss(scores.values, old_values, returns, mask)
        loss = loss + critic_loss
        value_loss = float(critic_loss.detach())
        for name, value in (value_terms or {}).items():
            critic_terms[name if name.startswith("value") else f"value_{name}"] = value.detach()

    optimizer.zero_grad(set_to_none=True)
    # Attribution takes further backward passes through this update's graph (no second forward).
    keep_graph = attribution is not None and attribution.needs_graph
    loss.backward(retain_graph=keep_graph)
    result.collect_push()  # g from the same backward, stored with the other terms
    terms = {name: value.detach() for name, value in result.terms.items()}
    for name, value in critic_terms.items():
        terms.setdefault(name, value)
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    grad_norm = torch.nn.utils.clip_grad_norm_(parameters, config.max_grad_norm)
    attributed = None
    if keep_graph:  # before the step: the parameters are still those the gradient was taken at
        def rescore(picked: list[int]) -> torch.Tensor:  # these rows scored again, each in its own graph
            at = torch.tensor(picked, dtype=torch.long)
            return policy.score_completions([prompt_ids[i] for i in picked], completion_ids.index_select(0, at),
                                            mask.index_select(0, at), temperature=config.temperature,
                                            with_entropy=False).logprobs
        attributed = attribution.after_backward(scores.logprobs, result.push, mask, parameters, float(grad_norm),
                                                rescore=rescore)
    optimizer.step()
    state_metrics = algo.after_update(terms, scores.entropies.detach())  # e.g. adaptive entropy control
    return UpdateResult(
        rows=rows,
        logprobs=scores.logprobs.detach(),
        old_logprobs=old_logprobs.detach(),
        entropies=scores.entropies.detach(),
        values=None if scores.values is None else scores.values.detach(),
        terms=terms,
        objective_metrics={**{k: float(v) for k, v in (result.metrics or {}).items()}, **state_metrics},
        loss=float(loss.detach()),
        policy_loss=float(out.loss.detach()),
        value_loss=value_loss,
        grad_norm=float(grad_norm),
        attribution_terms={} if attributed is None else attributed.terms,
        attribution_response_terms={} if attributed is None else attributed.response_terms,
        attribution_metrics={} if attributed is None else attributed.metrics,
    )

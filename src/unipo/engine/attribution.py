"""Which tokens made this update's gradient: exact per-token contributions, and GradLoc bisection.

The policy loss reaches the parameters θ only through the log-probs ℓ (the push g = −∂L/∂ℓ is the
stored `grad_coef`), so the update's gradient splits exactly into one vector per token:

    ∇θ L = Σ_it c_it,    c_it = −g_it ∇θ ℓ_it,    ‖c_it‖ = |g_it|·‖∇θ ℓ_it‖.

`exact` mode computes ‖∇θ ℓ_it‖ for every token of the update (each response scored again on its
own, then one vmapped backward per chunk of its tokens through that small graph) and stores ‖c_it‖ as the token term
`grad_contribution` and ‖Σ_t c_it‖ as the per-response `response_grad_norm`. That is one backward
per token: affordable on small models only (benchmarks/bench_attribution.py measures it).

`bisect` mode is GradLoc's (Tencent Hunyuan, 2026): only on an update flagged as a spike
(unipo.analyses.spikes), halve the set of tokens, keep the half whose partial gradient Σ c is the
larger, and stop at one token: ⌈log2 n⌉ + 1 backward passes. Keeping the current half's vector
gives the other half's for free (c_B = c_S − c_A), so each level costs one backward. The culprit
goes to the step's metrics (`gradloc_*`).

Not covered: gradients that do not pass through ℓ (an entropy bonus's ∂H/∂θ, a critic's value
loss). With those the per-token vectors sum to the policy-through-ℓ part of the gradient only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from unipo.analyses.spikes import SpikeRule

MODES = ("off", "exact", "bisect")
CHUNK = 32  # tokens per vmapped backward: memory ~ CHUNK × parameters


def _flat_grads(grads, params, batch: int | None = None) -> torch.Tensor:
    """Concatenate per-parameter gradients ([batch, P] or [P]); unused parameters count as zeros."""
    parts = []
    for grad, param in zip(grads, params):
        if grad is None:
            shape = (batch, param.numel()) if batch is not None else (param.numel(),)
            parts.append(torch.zeros(shape, dtype=param.dtype, device=param.device))
        else:
            parts.append(grad.reshape(batch, -1) if batch is not None else grad.reshape(-1))
    return torch.cat(parts, dim=-1)


def _batched_grads(logprobs: torch.Tensor, params: list, grad_outputs: torch.Tensor) -> torch.Tensor:
    """[K, P]: the gradient of Σ grad_outputs[k]·ℓ for each k (vmapped over k; per-k loop when the
    model has an operator vmap cannot batch)."""
    try:
        grads = torch.autograd.grad(logprobs, params, grad_outputs=grad_outputs, retain_graph=True,
                                    allow_unused=True, is_grads_batched=True)
        return _flat_grads(grads, params, batch=grad_outputs.shape[0])
    except RuntimeError:
        rows = []
        for k in range(grad_outputs.shape[0]):
            grads = torch.autograd.grad(logprobs, params, grad_outputs=grad_outputs[k], retain_graph=True,
                                        allow_unused=True)
            rows.append(_flat_grads(grads, params))
        return torch.stack(rows)


def token_gradients(logprobs: torch.Tensor, mask: torch.Tensor, params: list, chunk: int = CHUNK):
    """Yield (token coordinates [k, 2], ∇θ ℓ of each [k, P]) over every real token, chunk by chunk."""
    coords = mask.nonzero()
    for start in range(0, len(coords), chunk):
        sel = coords[start:start + chunk]
        outputs = torch.zeros((len(sel), *logprobs.shape), dtype=logprobs.dtype, device=logprobs.device)
        outputs[torch.arange(len(sel)), sel[:, 0], sel[:, 1]] = 1.0
        yield sel, _batched_grads(logprobs, params, outputs)


def exact_contributions(logprobs: torch.Tensor, push: torch.Tensor, mask: torch.Tensor, params: list,
                        chunk: int = CHUNK, rescore=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(‖c_it‖ [n, T], ‖Σ_t c_it‖ [n]) with c_it = −g_it ∇θ ℓ_it.

    Without `rescore` the backward passes walk the graph of `logprobs` (the whole batch). With
    `rescore(rows) -> [len(rows), T] log-probs` each response is scored again on its own and its
    tokens' backward passes walk only that small graph: n extra forwards, each per-token backward
    ~n times cheaper (the values agree with the batch's up to float noise of another batch shape)."""
    real = mask.bool() & (push != 0)
    token_norms = torch.zeros_like(push)
    n = push.shape[0]
    response_norms = torch.zeros(n, dtype=push.dtype)
    weights = (-push * mask).detach()
    for i in range(n) if rescore is not None else ():
        if not bool(real[i].any()):
            continue
        with torch.enable_grad():
            own = rescore([i])  # [1, T] in response i's own graph
        for sel, grads in token_gradients(own, real[i:i + 1], params, chunk):
            t = sel[:, 1]
            token_norms[i, t] = grads.norm(dim=1).to(push.dtype) * push[i, t].abs()
        grads = torch.autograd.grad(own, params, grad_outputs=weights[i:i + 1].to(own.dtype), allow_unused=True)
        response_norms[i] = _flat_grads(grads, params).norm().to(push.dtype)
    if rescore is None:
        for sel, grads in token_gradients(logprobs, real, params, chunk):
            token_norms[sel[:, 0], sel[:, 1]] = grads.norm(dim=1).to(push.dtype) * push[sel[:, 0], sel[:, 1]].abs()
        # Each response's own partial gradient: grad_outputs −g restricted to its row.
        rows = torch.arange(n)
        for start in range(0, n, chunk):
            block = rows[start:start + chunk]
            outputs = torch.zeros((len(block), *push.shape), dtype=logprobs.dtype, device=logprobs.device)
            outputs[torch.arange(len(block)), block] = weights[block].to(logprobs.dtype)
            response_norms[block] = _batched_grads(logprobs, params, outputs).norm(dim=1).to(push.dtype)
    return token_norms.detach(), response_norms.detach()


@dataclass
class BisectResult:
    response: int          # row of the update (its index in the stored step)
    position: int
    culprit_norm: float    # ‖c‖ of the token found
    step_norm: float       # ‖Σ c‖ over the whole update (the policy-through-ℓ gradient)
    probes: int            # backward passes spent
    path: list[int] = field(default_factory=list)  # sizes of the halves kept, for the record


def bisect_culprit(logprobs: torch.Tensor, push: torch.Tensor, mask: torch.Tensor, params: list) -> BisectResult:
    """GradLoc-style binary search for the token whose contribution dominates the update's gradient."""
    coords = (mask.bool() & (push != 0)).nonzero()
    if len(coords) == 0:
        raise ValueError("no token has a non-zero push: nothing to localise")
    weights = (-push).to(logprobs.dtype)

    def partial(subset: torch.Tensor) -> torch.Tensor:
        outputs = torch.zeros_like(logprobs)
        outputs[subset[:, 0], subset[:, 1]] = weights[subset[:, 0], subset[:, 1]]
        grads = torch.autograd.grad(logprobs, params, grad_outputs=outputs, retain_graph=True, allow_unused=True)
        return _flat_grads(grads, params)

    current = coords
    vector = partial(current)
    step_norm = float(vector.norm())
    probes, path = 1, [len(current)]
    while len(current) > 1:
        half = len(current) // 2
        first, second = current[:half], current[half:]
        first_vector = partial(first)
        probes += 1
        second_vector = vector - first_vector
        if float(first_vector.norm()) >= float(second_vector.norm()):
            current, vector = first, first_vector
        else:
            current, vector = second, second_vector
        path.append(len(current))
    return BisectResult(int(current[0, 0]), int(current[0, 1]), float(vector.norm()), step_norm, probes, path)


@dataclass
class AttributionOutput:
    terms: dict = field(default_factory=dict)           # [n, T] token terms
    response_terms: dict = field(default_factory=dict)  # [n] per-response terms
    metrics: dict = field(default_factory=dict)


class Attribution:
    """The engine's per-update attribution (TrainConfig.attribution); keeps the grad-norm history
    the spike rule needs."""

    def __init__(self, mode: str, rule: SpikeRule):
        if mode not in MODES:
            raise ValueError(f"attribution: expected one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self.rule = rule
        self.history: list[float] = []

    @property
    def needs_graph(self) -> bool:
        """The update's graph must outlive its backward (retain_graph)."""
        return self.mode != "off"

    def after_backward(self, logprobs: torch.Tensor, push: torch.Tensor, mask: torch.Tensor, params: list,
                       grad_norm: float, rescore=None) -> AttributionOutput:
        """Called after the update's backward and grad-norm clip, before the optimizer step (θ unchanged).
        `rescore(rows)`: the log-probs of those rows scored again (see exact_contributions)."""
        out = AttributionOutput()
        if self.mode == "off":
            return out
        tokens = int(mask.sum())
        verdict = self.rule.check(self.history, grad_norm, tokens)
        self.history.append(grad_norm)
        out.metrics.update(tokens=float(tokens), spike=float(verdict.spike), spike_z=verdict.z)
        params = [p for p in params if p.requires_grad]
        if self.mode == "exact":
            token_norms, response_norms = exact_contributions(logprobs, push, mask, params, rescore=rescore)
            out.terms["grad_contribution"] = token_norms
            out.response_terms["response_grad_norm"] = response_norms
        elif verdict.spike and bool((mask.bool() & (push != 0)).any()):
            found = bisect_culprit(logprobs, push, mask, params)
            out.metrics.update(gradloc_response=float(found.response), gradloc_position=float(found.position),
                               gradloc_grad_norm=found.culprit_norm, gradloc_step_norm=found.step_norm,
                               gradloc_share=found.culprit_norm / found.step_norm if found.step_norm > 0 else math.nan,
                               gradloc_probes=float(found.probes))
        out.metrics = {k: (None if v is None or v != v else v) for k, v in out.metrics.items()}
        return out

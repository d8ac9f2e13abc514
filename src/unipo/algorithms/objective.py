"""The step objective: compose ratio → clip → selection → KL → entropy → aggregation.

Returns the loss the optimizer backpropagates together with every per-token term that produced
it, so that loss == −Σ weight·token_objective holds by construction.

Cost: the differentiable path is the loss written inline (the ops TRL runs, no masking beyond the
aggregation weights, so backward has no extra nodes). The terms are then derived under no_grad
from the same intermediates, one elementwise pass per stored term; flags are written straight into
float tensors with the padding folded into the compared ratio; terms that are equal by construction
share one tensor; and every metric leaves the device in a single copy.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

from unipo.algorithms import _checks, registry
from unipo.algorithms.clipping import no_flags
from unipo.algorithms.selection import drop_truncated, high_entropy_tokens


@dataclass
class ObjectiveOutput:
    loss: torch.Tensor
    terms: dict[str, torch.Tensor]
    metrics: dict[str, float]


def compute_objective(hp, logprobs, old_logprobs, mask, advantages, *, ref_logprobs=None, entropies=None,
                      truncated=None, num_items_in_batch=None, sampling_logprobs=None,
                      entropy_coef=None) -> ObjectiveOutput:
    # entropy_coef: this step's bonus coefficient when an entropy_control component sets it (adaptive
    # entropy control); None = the constant hp["entropy_coef"]. When given it is logged as a metric.
    coef_given = entropy_coef is not None
    entropy_coef = hp["entropy_coef"] if entropy_coef is None else float(entropy_coef)
    if not math.isfinite(entropy_coef):
        raise ValueError(f"entropy_coef: expected a finite number, got {entropy_coef!r}")
    logprobs, old_logprobs, maskf, advantages, ref_logprobs, entropies, truncated, inputs = _validated(
        hp, logprobs, old_logprobs, mask, advantages, ref_logprobs, entropies, truncated, entropy_coef)
    level = hp["importance_sampling_level"]
    if level == "none":  # no log-ratio to probe ℓ and ℓ_old with (see _metrics): check them now
        _checks.require_all_finite([item for item in inputs if item[0] in ("logprobs", "old_logprobs")])
    if truncated is not None and hp["mask_truncated_completions"]:
        maskf = drop_truncated(maskf, truncated)
    adv = advantages.unsqueeze(1) if advantages.dim() == 1 else advantages
    lengths = maskf.sum(-1, keepdim=True)
    total = lengths.sum()  # integer counts: exactly maskf.sum(), without a second pass
    clip_component = registry.selected("clip", hp)
    surrogate_of, flags_of = clip_component.load()
    token_weights = registry.active("token_weight", hp)
    selecting = hp["top_entropy_quantile"] < 1.0
    beta = hp["beta"]

    # The differentiable path. Padding is left unmasked: the aggregation weights are zero there.
    log_ratio, ratio = registry.selected("ratio", hp).load()(logprobs, old_logprobs, maskf, lengths=lengths)
    # A rule that reads the batch (BAPO's bound search) is given the mask to tell real tokens from padding.
    extra = {}
    if "mask" in clip_component.inputs:
        extra["mask"] = maskf
    if "log_ratio" in clip_component.inputs:
        extra["log_ratio"] = log_ratio
    surrogate = surrogate_of(ratio, adv, logprobs, hp, **extra)
    # A rule whose flags need what its surrogate decided (Clip-Cov's chosen tokens, BAPO's bounds)
    # returns (u, shared); the flags function then receives shared=.
    surrogate, shared = surrogate if isinstance(surrogate, tuple) else (surrogate, None)
    if shared is not None:
        flags_of = functools.partial(flags_of, shared=shared)
    weight_terms, weight_metrics = {}, {}
    for part in token_weights:  # stop-gradient per-token factors (e.g. training–inference mismatch correction)
        factor, extra_metrics = part.load()(logprobs=logprobs.detach(), old_logprobs=old_logprobs,
                                            sampling_logprobs=sampling_logprobs, mask=maskf, lengths=lengths, hp=hp)
        surrogate = surrogate * factor
        weight_terms[part.terms[0]] = factor
        weight_metrics.update(extra_metrics)
    entropy = None if entropies is None else entropies.detach() * maskf
    selected = maskf
    if selecting:
        # Token selection gates only the policy-gradient term, and denominators keep counting every real
        # token: exactly TRL's handling of top_entropy_quantile (its KL term still acts on all tokens).
        selected = high_entropy_tokens(entropies, maskf, hp["top_entropy_quantile"], masked_entropies=entropy)
        surrogate = surrogate * selected
    objective = surrogate
    kl = None
    if ref_logprobs is not None:
        kl_of = registry.selected("kl", hp).load()
        if beta != 0.0:
            kl = kl_of(logprobs, ref_logprobs)
            objective = objective - beta * kl
        else:
            with torch.no_grad():
                kl = kl_of(logprobs.detach(), ref_logprobs)
    bonus = None
    if entropy_coef != 0.0:
        bonus = entropy_coef * entropies
        if selecting:
            bonus = bonus * selected
        objective = objective + bonus
    weight = registry.selected("aggregation", hp).load()(
        maskf, num_items_in_batch=num_items_in_batch, max_completion_length=hp["max_completion_length"],
        lengths=lengths, total=total)
    loss = -(weight * objective).sum()

    with torch.no_grad():
        zeros = torch.zeros_like(maskf)
        big = torch.finfo(maskf.dtype).max
        r = ratio.detach()
        masked = _Masker(maskf)
        # Flags: a `<` bound is compared with the ratio whose padding is +max, a `>` bound with the one
        # whose padding is 0, so the flags come out zero on padding without a masking pass.
        if level == "none":  # r ≡ 1: log r = 0, and the stored ratio is the mask itself
            log_ratio_t, ratio_t = zeros, maskf
            below = None if flags_of is no_flags else _real_or(r, maskf, big)
            extremes = None
            flags = flags_of(below, ratio_t, adv, hp, maskf.dtype)
        elif level == "sequence":  # r is [N, 1]: flags per response, masked once each
            log_ratio_t, ratio_t = log_ratio.detach() * maskf, r * maskf
            rows = torch.gt(lengths, 0.0, out=torch.empty_like(lengths))
            extremes = (_real_or(r, rows, big).min(), (r * rows).max())
            flags = flags_of(r, r, adv, hp, maskf.dtype)
            flags.clipped_low, flags.clipped_high, flags.min_branch, flags.clipped = (
                masked(flags.clipped_low), masked(flags.clipped_high), masked(flags.min_branch), masked(flags.clipped))
            # Per-response flags count L_i tokens each: exact integer sums without an [N, T] pass.
            fraction_sums = {name: (value * lengths).sum() if value.shape[-1] == 1 else masked(value).sum()
                             for name, value in flags.fractions.items()}
            probe = log_ratio.detach().sum()  # [N, 1]: a NaN/Inf anywhere in a row makes its mean non-finite
        else:
            log_ratio_t, ratio_t = log_ratio.detach() * maskf, r * maskf
            below = _real_or(r, maskf, big)  # r on real tokens, +max on padding
            extremes = (below.min(), ratio_t.max())  # r ≥ 0, so the zero padding never wins the max
            flags = flags_of(below, ratio_t, adv, hp, maskf.dtype)
        if level != "sequence":
            fraction_sums = {name: value.sum() for name, value in flags.fractions.items()}
            probe = None if level == "none" else log_ratio_t.sum()
        surrogate_t = surrogate.detach() * maskf
        kl_t = zeros if kl is None else kl.detach() * maskf
        terms = {
            "log_ratio": log_ratio_t,
            "ratio": ratio_t,
            "advantage": adv * maskf,
            "clipped_low": _or(flags.clipped_low, zeros),
            "clipped_high": _or(flags.clipped_high, zeros),
            "clipped": _or(flags.clipped, zeros),
            "min_branch": _or(flags.min_branch, zeros),
            "surrogate": surrogate_t,
            "kl": kl_t,
            "kl_penalty": kl_t * beta if kl is not None and beta != 0.0 else zeros,
            "entropy": zeros if entropy is None else entropy,
            "entropy_bonus": zeros if bonus is None else bonus.detach() * maskf,
            "selected": selected,
            "weight": weight,
            "token_objective": surrogate_t if objective is surrogate else objective.detach() * maskf,
        }
        for name, value in flags.terms.items():  # the rule's own per-token terms (e.g. KL-Cov's selection)
            terms[name] = masked(value) if value.shape != maskf.shape else value * maskf
        for name, value in weight_terms.items():
            terms[name] = value.detach() * maskf  # [N, T] or per-sequence [N, 1], broadcast
        metrics, probes_finite = _metrics(terms, fraction_sums, maskf, lengths, total, adv, extremes, selecting,
                                          kl is not None, entropy is not None, probe)
        metrics.update({name: float(value) for name, value in weight_metrics.items()})
        if coef_given:
            metrics["entropy_coef"] = entropy_coef
    if not probes_finite:
        for name, value in inputs:  # a NaN/Inf in some input (or only an overflow): find it, in argument order
            _checks.require_finite(name, value)
    return ObjectiveOutput(loss, terms, metrics)


def _real_or(x, maskf, value):
    """x where the mask is 1, `value` where it is 0: value − value·mask + x·mask, both terms exact."""
    padding = torch.rsub(maskf, value, alpha=value)
    if padding.dtype == torch.result_type(x, maskf) and padding.shape == torch.broadcast_shapes(x.shape, maskf.shape):
        return padding.addcmul_(x, maskf)
    return torch.addcmul(padding, x, maskf)


def _or(flags, zeros):
    return zeros if flags is None else flags


class _Masker:
    """flags·mask, computed once per distinct flag tensor (several names may share one)."""

    def __init__(self, maskf):
        self.maskf, self.done = maskf, {}

    def __call__(self, flags):
        if flags is None:
            return None
        key = id(flags)
        if key not in self.done:
            self.done[key] = (flags, flags * self.maskf)
        return self.done[key][1]


def _validated(hp, logprobs, old_logprobs, mask, advantages, ref_logprobs, entropies, truncated, entropy_coef):
    """Shapes and types. Returns the inputs and the (name, tensor) list whose values must be finite.

    Finiteness costs no pass of its own: a NaN or Inf anywhere in an [N, T] input, padding included,
    makes the masked sum of a term computed from it non-finite (x·0 is NaN for x = ±Inf or NaN), and
    those sums are metrics anyway (_metrics' probes). Only when a probe is non-finite are the inputs
    checked one by one, so the error names the first bad argument with its position, exactly as
    sequential checks would. When a shape check fails, the inputs before it are checked first."""
    finite = []
    try:
        _checks.require_tensor("logprobs", logprobs, dims=(2,))
        if not logprobs.is_floating_point():
            raise ValueError(f"logprobs: expected a floating-point tensor, got {logprobs.dtype}")
        finite.append(("logprobs", logprobs))
        shape = tuple(logprobs.shape)
        maskf = _checks.mask_weights(mask, shape, logprobs.dtype)
        if old_logprobs is None:
            old_logprobs = logprobs.detach()
        else:
            finite.append(("old_logprobs", _checks.token_shape("old_logprobs", old_logprobs, shape)))
        _checks.require_tensor("advantages", advantages, dims=(1, 2))
        if advantages.dim() == 1:
            _checks.response_shape("advantages", advantages, shape[0])
        else:
            _checks.token_shape("advantages", advantages, shape)
        finite.append(("advantages", advantages))
        if ref_logprobs is not None:
            finite.append(("ref_logprobs", _checks.token_shape("ref_logprobs", ref_logprobs, shape)))
        elif hp["beta"] != 0.0:
            raise ValueError(f"ref_logprobs: required because beta = {hp['beta']} puts a KL term in the loss")
        if entropies is not None:
            finite.append(("entropies", _checks.token_shape("entropies", entropies, shape)))
        elif hp["top_entropy_quantile"] < 1.0 or entropy_coef != 0.0 or registry.active("entropy_control", hp):
            raise ValueError("entropies: required by top_entropy_quantile < 1, entropy_coef > 0 or entropy control")
        if truncated is not None:
            _checks.require_tensor("truncated", truncated, dims=(1,))
            if truncated.shape[0] != shape[0]:
                raise ValueError(f"truncated: expected {shape[0]} values (one per response), got {truncated.shape[0]}")
        elif hp["mask_truncated_completions"]:
            raise ValueError("truncated: required ([N] bool, response hit the length limit) by mask_truncated_completions")
    except ValueError:
        for name, value in finite:
            _checks.require_finite(name, value)
        raise
    return logprobs, old_logprobs, maskf, advantages.detach(), ref_logprobs, entropies, truncated, finite


def _metrics(terms, fraction_sums, maskf, lengths, total, adv, extremes, selecting, has_kl, has_entropy,
             log_ratio_probe):
    """Token means over real tokens (TRL's global_masked_mean), computed in one device→host copy.

    Flags are 0/1 floats already zero on padding, so their sums are exact token counts (below 2²⁴
    tokens in float32), equal to the boolean counts.
    Also returns whether the input probes are finite: the sums of log_ratio·mask (ℓ, ℓ_old), of the
    advantages weighted by length or mask, of kl·mask (ℓ_ref) and of H·mask.
    """
    count = total.clamp(min=1.0)
    fractions = list(fraction_sums)
    names = fractions + ["ratio_mean", "selected_fraction", "token_objective_mean"]
    sums = list(fraction_sums.values())
    sums += [total if terms["ratio"] is maskf else terms["ratio"].sum(),
             terms["selected"].sum() if selecting else total,
             terms["token_objective"].sum()]
    if has_kl:
        names.append("kl_mean")
        sums.append(terms["kl"].sum())
    if has_entropy:
        names.append("entropy_mean")
        sums.append(terms["entropy"].sum())
    if log_ratio_probe is not None:
        names.append("log_ratio_probe")
        sums.append(log_ratio_probe)
    if adv.shape[1] == 1:  # per-response advantages: token statistics from lengths, no [N, T] pass
        adv_mean = (adv * lengths).sum() / count
        adv_var = (((adv - adv_mean) ** 2) * lengths).sum() / count
    else:
        adv_mean = terms["advantage"].sum() / count
        adv_var = (terms["advantage"] - adv_mean).square_().mul_(maskf).sum() / count  # (a − m)²·mask
    if all(s.dtype == count.dtype for s in sums):
        means = torch.stack(sums) / count  # the same float divisions, one call
    else:
        means = torch.stack([(s / count).to(torch.float64) for s in sums])
    rest = [adv_mean, torch.sqrt(adv_var), total]
    if extremes is not None:
        rest += list(extremes)
    values = torch.cat([means.to(torch.float64), torch.stack([v.to(torch.float64) for v in rest])]).tolist()
    by_name = dict(zip(names, values))
    adv_mean_v, adv_std_v, total_v = values[len(names):len(names) + 3]
    if total_v == 0:
        ratio_min = ratio_max = float("nan")
    elif extremes is None:  # r ≡ 1
        ratio_min = ratio_max = 1.0
    else:
        ratio_min, ratio_max = values[len(names) + 3:]
    metrics = {name: by_name[name] for name in fractions}
    metrics.update(ratio_mean=by_name["ratio_mean"], ratio_min=ratio_min, ratio_max=ratio_max,
                   selected_fraction=by_name["selected_fraction"], advantage_mean=adv_mean_v,
                   advantage_std=adv_std_v, token_objective_mean=by_name["token_objective_mean"])
    for name in ("kl_mean", "entropy_mean"):
        if name in by_name:
            metrics[name] = by_name[name]
    probes = [adv_mean_v] + [by_name[name] for name in ("kl_mean", "entropy_mean", "log_ratio_probe") if name in by_name]
    return metrics, all(math.isfinite(v) for v in probes)

"""Aggregation of per-token objectives into one step loss, written as per-token weights.

loss = −Σ_it w_it · o_it, so every mode is just a choice of w (zero on masked tokens). The weights
are what make length bias visible: e.g. seq-mean-token-mean gives each token 1/(N·L_i), so tokens
of short responses weigh more. Denominators follow TRL: lengths and token counts are clamped to ≥ 1,
and N counts every row, including fully masked ones (which get weight 0).

Every mode takes `lengths` (the mask's row sums, [N, 1]) and `total` (its sum) when the caller
already has them; they are computed otherwise.
"""
from __future__ import annotations

import torch


def seq_mean_token_mean(maskf, *, num_items_in_batch=None, max_completion_length=None, lengths=None, total=None):
    """(1/N) Σ_i (1/L_i) Σ_t: TRL loss_type "grpo"/"sapo", verl seq-mean-token-mean."""
    if lengths is None:
        lengths = maskf.sum(-1, keepdim=True)
    return maskf / (lengths.clamp(min=1.0) * maskf.shape[0])


def token_mean_global(maskf, *, num_items_in_batch=None, max_completion_length=None, lengths=None, total=None):
    """Σ / (tokens of the whole batch): TRL "dapo"/"cispo", verl token-mean.

    `num_items_in_batch` is the completion-token count of the batch the step is normalised over
    (under gradient accumulation: every micro-batch of the window). Defaults to this micro-batch's.
    """
    if num_items_in_batch is None:
        total = maskf.sum() if total is None else total
    else:
        total = torch.as_tensor(num_items_in_batch, dtype=maskf.dtype, device=maskf.device)
    return maskf / total.clamp(min=1.0)


def token_mean_local(maskf, *, num_items_in_batch=None, max_completion_length=None, lengths=None, total=None):
    """Σ / (tokens of this micro-batch): TRL "bnpo", verl's legacy token-mean."""
    return maskf / (maskf.sum() if total is None else total).clamp(min=1.0)


def seq_mean_token_sum(maskf, *, num_items_in_batch=None, max_completion_length=None, lengths=None, total=None):
    """(1/N) Σ_i Σ_t: every token weighs 1/N, so long responses dominate (TRL "luspo")."""
    return maskf / maskf.shape[0]


def seq_mean_token_sum_norm(maskf, *, num_items_in_batch=None, max_completion_length=None, lengths=None, total=None):
    """Σ / (N · L_max): Dr. GRPO's constant (TRL "dr_grpo"; verl omits the 1/N).

    L_max is the `max_completion_length` hyper-parameter; when unset, the padded length T.
    """
    length = maskf.shape[1] if max_completion_length is None else max_completion_length
    return maskf / (maskf.shape[0] * length)


AGGREGATIONS = {
    "seq-mean-token-mean": seq_mean_token_mean,
    "token-mean": token_mean_global,
    "token-mean-local": token_mean_local,
    "seq-mean-token-sum": seq_mean_token_sum,
    "seq-mean-token-sum-norm": seq_mean_token_sum_norm,
}

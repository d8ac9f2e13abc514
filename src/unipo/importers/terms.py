"""Algorithm terms of an imported step, through the one recompute path (unipo.algorithms.recompute).

Only where the source holds the inputs: the current log-probs (the behaviour ones default to them,
so the ratio is 1), and either per-token advantages or rewards with groups. Values the source gave
are kept as given; recomputed terms fill only the columns it did not have.
"""
from __future__ import annotations

import numpy as np

from unipo.runs.record import StepRecord


def spec_of(algorithm: dict | None):
    if not algorithm:
        return None
    from unipo.algorithms import AlgorithmSpec
    try:
        return AlgorithmSpec.from_dict(algorithm)
    except (ValueError, TypeError, KeyError):
        return None


def missing_inputs(record: StepRecord) -> list[str]:
    missing = []
    if record.logprob is None or not np.isfinite(_masked(record.logprob, record.mask)).all():
        missing.append("logprob")
    advantage = record.terms.get("advantage")
    has_advantage = advantage is not None and np.isfinite(_masked(advantage, record.mask)).all()
    per_response = record.response_terms.get("response_advantage")
    has_advantage = has_advantage or (per_response is not None and np.isfinite(np.asarray(per_response, dtype=np.float64)).all())
    if not has_advantage and not np.isfinite(np.asarray(record.reward, dtype=np.float64)).all():
        missing.append("advantage or reward")
    return missing


def recompute_terms(spec, record: StepRecord) -> tuple[dict[str, np.ndarray], list[str]]:
    """({term: [N, T] float32}, []) or ({}, [why not]); never raises for the data's sake."""
    mask = np.asarray(record.mask, dtype=bool)
    if not mask.any():
        return {}, ["no tokens"]
    missing = missing_inputs(record)
    if missing:
        return {}, [f"missing {', '.join(missing)}"]
    import torch
    from unipo.algorithms import StepInputs, recompute

    def tensor(values):
        return None if values is None else torch.as_tensor(np.nan_to_num(np.asarray(values, dtype=np.float32)))

    advantage = record.terms.get("advantage")
    use_given = advantage is not None and np.isfinite(_masked(advantage, mask)).all()
    per_response = record.response_terms.get("response_advantage")
    if not use_given and per_response is not None and np.isfinite(np.asarray(per_response, dtype=np.float64)).all():
        advantage, use_given = np.asarray(per_response, dtype=np.float32), True
    old = record.old_logprob
    inputs = StepInputs(
        logprobs=tensor(record.logprob), mask=torch.as_tensor(mask),
        rewards=torch.as_tensor(np.asarray(record.reward, dtype=np.float32)),
        group_ids=torch.as_tensor(np.asarray(record.group_id, dtype=np.int64)),
        old_logprobs=tensor(old) if old is not None and np.isfinite(_masked(old, mask)).all() else None,
        ref_logprobs=tensor(record.ref_logprob) if record.ref_logprob is not None
        and np.isfinite(_masked(record.ref_logprob, mask)).all() else None,
        entropies=tensor(record.entropy) if record.entropy is not None else None,
        truncated=torch.as_tensor(np.asarray(record.truncated, dtype=bool)),
        token_ids=torch.as_tensor(np.asarray(record.token_ids, dtype=np.int64)),
        advantages=tensor(advantage) if use_given else None,
    )
    try:
        result = recompute(spec, inputs)
    except (ValueError, TypeError, RuntimeError, KeyError, IndexError) as exc:
        return {}, [str(exc)]
    terms = {}
    for name, value in result.terms.items():
        array = value.detach().to(torch.float32).numpy()
        if array.shape == mask.shape:
            terms[name] = np.where(mask, array, np.nan).astype(np.float32)
    return terms, []


def _masked(values, mask) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)[np.asarray(mask, dtype=bool)]

"""A validated canonical entry -> the StepRecord the RunWriter stores."""
from __future__ import annotations

import numpy as np

from unipo.errors import UnipoError

from unipo.runs.canonical.fields import TOKEN_FLOAT_FIELDS
from unipo.runs.canonical.validate import Entry
from unipo.runs.record import StepRecord

# Canonical fields stored in StepRecord's own arrays; every other float goes to terms.
RECORD_FIELDS = {"log_probs": "logprob", "old_log_probs": "old_logprob", "ref_log_probs": "ref_logprob",
                 "values": "value", "returns": "returns", "entropy": "entropy"}


def entry_to_record(entry: Entry) -> StepRecord:
    responses = entry.responses
    if all(r.index is not None for r in responses):
        responses = sorted(responses, key=lambda r: r.index)
    n = len(responses)
    t = max((token.position + 1 for r in responses for token in r.tokens), default=1)
    mask = np.zeros((n, t), dtype=bool)
    token_ids = np.zeros((n, t), dtype=np.int64)
    tokens: list[list[str | None]] = []
    floats: dict[str, np.ndarray] = {}
    for i, response in enumerate(responses):
        ordered = sorted(response.tokens, key=lambda token: token.position)
        tokens.append([token.text for token in ordered])
        for token in ordered:
            mask[i, token.position] = True
            token_ids[i, token.position] = token.id
            for name, value in token.floats.items():
                if value is not None:
                    floats.setdefault(name, np.full((n, t), np.nan, dtype=np.float32))[i, token.position] = value

    record_arrays = {RECORD_FIELDS[name]: floats.pop(name) for name in list(floats) if name in RECORD_FIELDS}
    terms = {TOKEN_FLOAT_FIELDS.get(name, name): values for name, values in floats.items()}
    component_names = sorted({name for r in responses for name in r.components})
    response_term_names = list(dict.fromkeys(name for r in responses for name in r.terms))
    for name in response_term_names:
        if name in terms:
            raise UnipoError(f"step {entry.step}: term {name!r} is given both per response and per token")
    any_text = any(text is not None for row in tokens for text in row)
    return StepRecord(
        prompt_index=np.array([r.prompt for r in responses], dtype=np.int32),
        group_id=np.array([r.group for r in responses], dtype=np.int32),
        prompt_text=[r.prompt_text for r in responses],
        response_text=[r.text for r in responses],
        reward=np.array([np.nan if r.reward is None else r.reward for r in responses], dtype=np.float32),
        mask=mask, token_ids=token_ids, tokens=tokens if any_text else None,
        truncated=np.array([r.truncated for r in responses], dtype=bool),
        length=np.array([len(r.tokens) if r.length is None else r.length for r in responses], dtype=np.int32),
        reward_components={name: np.array([_or_nan(r.components.get(name)) for r in responses], dtype=np.float32)
                           for name in component_names},
        terms=terms, rollout=entry.rollout, epoch=entry.epoch, minibatch=entry.minibatch, **record_arrays,
        response_terms={name: np.array([_or_nan(r.terms.get(name)) for r in responses], dtype=np.float32)
                        for name in response_term_names},
    )


def _or_nan(value: float | None) -> float:
    return np.nan if value is None else value

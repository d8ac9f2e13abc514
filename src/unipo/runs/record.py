"""StepRecord: everything the engine logs for one update, and its flattening to token rows."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pyarrow as pa

from unipo.errors import UnipoError
from unipo.runs.arrays import per_response, per_token, to_numpy
from unipo.runs.schema import (
    RESERVED_COLUMNS, RESPONSE_TERMS_KEY, REWARD_COMPONENT_PREFIX,
    TOKEN_FLOAT_COLUMNS, is_valid_column_name,
)

ArrayLike = Any  # torch.Tensor | numpy.ndarray | nested lists


@dataclass
class StepRecord:
    """One update. N responses, T padded completion length; per-token arrays are [N, T].

    Per-token values are stored only where ``mask`` is non-zero. ``tokens`` may hold, per response,
    either T strings (padded) or exactly the strings of its real tokens. Optional arrays left as
    None are stored as null columns. ``terms`` holds every algorithm term (``out.terms``); a term
    named like a per-token column (``entropy``) fills that column when it was not given.
    ``response_terms`` holds per-response [N] float terms (the advantage estimator's group_mean,
    group_std, baseline, advantage_scale, shaped_reward): stored as per-response columns (one value
    per response, also on an empty response's placeholder row) and listed as such in the file.
    """

    prompt_index: ArrayLike
    group_id: ArrayLike
    prompt_text: Sequence[str]
    response_text: Sequence[str]
    reward: ArrayLike
    mask: ArrayLike
    token_ids: ArrayLike
    tokens: Sequence[Sequence[str]] | None = None
    truncated: ArrayLike | None = None
    length: ArrayLike | None = None
    reward_components: Mapping[str, ArrayLike] = field(default_factory=dict)
    logprob: ArrayLike | None = None
    old_logprob: ArrayLike | None = None
    ref_logprob: ArrayLike | None = None
    value: ArrayLike | None = None
    returns: ArrayLike | None = None
    entropy: ArrayLike | None = None
    terms: Mapping[str, ArrayLike] = field(default_factory=dict)
    rollout: int = 0
    epoch: int = 0
    minibatch: int = 0
    response_terms: Mapping[str, ArrayLike] = field(default_factory=dict)

    def to_table(self, step: int) -> pa.Table:
        """The logical step rows: one per completion token (plus one placeholder row per empty
        response), sorted by response then position — as RunReader.step(n) returns them."""
        from unipo.runs.parts import join

        return join(*self.to_parts(step))

    def to_parts(self, step: int, *, response_offset: int = 0) -> tuple[pa.Table, pa.Table]:
        """(responses, tokens): one row per response (texts, rewards, per-response terms,
        token_count) and one row per real completion token (token columns and per-token terms).
        Responses are numbered from `response_offset` (parts of one streamed step continue it)."""
        return _split(self, step, response_offset)


def _split(record: StepRecord, step: int, response_offset: int) -> tuple[pa.Table, pa.Table]:
    mask = to_numpy(record.mask, "mask")
    if mask.ndim != 2:
        raise UnipoError(f"StepRecord.mask: expected shape [N, T], got {list(mask.shape)}")
    mask = mask.astype(bool)
    n, t = mask.shape
    token_counts = mask.sum(axis=1).astype(np.int32)
    # Token coordinates of real tokens, in row-major (response, position) order.
    token_r, token_t = np.nonzero(mask)
    tokens_total = len(token_r)
    response_ids = np.arange(response_offset, response_offset + n, dtype=np.int32)

    per: dict[str, pa.Array] = {}
    for name, value in (("step", step), ("rollout", record.rollout), ("epoch", record.epoch),
                        ("minibatch", record.minibatch)):
        per[name] = pa.array(np.full(n, int(value), dtype=np.int32))
    per["response"] = pa.array(response_ids)
    per["prompt"] = pa.array(per_response(record.prompt_index, "prompt_index", n, np.int32))
    per["group"] = pa.array(per_response(record.group_id, "group_id", n, np.int32))
    per["prompt_text"] = _texts(record.prompt_text, "prompt_text", n)
    per["response_text"] = _texts(record.response_text, "response_text", n)
    per["reward"] = _float_column(per_response(record.reward, "reward", n, np.float32))
    lengths = token_counts if record.length is None else per_response(record.length, "length", n, np.int32)
    per["response_length"] = pa.array(lengths)
    truncated = np.zeros(n, dtype=bool) if record.truncated is None else per_response(record.truncated, "truncated", n, bool)
    per["truncated"] = pa.array(truncated)

    tok: dict[str, pa.Array] = {}
    tok["response"] = pa.array(response_ids[token_r])
    tok["position"] = pa.array(token_t.astype(np.int32))
    token_ids = per_token(record.token_ids, "token_ids", (n, t), np.int64)
    tok["token_id"] = pa.array(token_ids[mask].astype(np.int32))
    tok["token"] = _token_strings(record.tokens, mask, token_counts, tokens_total)

    def gather(values: np.ndarray) -> np.ndarray:
        return values[mask]  # row-major, the order of np.nonzero

    terms = dict(record.terms)
    for name, source in zip(TOKEN_FLOAT_COLUMNS, (record.logprob, record.old_logprob, record.ref_logprob,
                                                 record.value, record.returns, record.entropy)):
        if source is None:
            source = terms.get(name)
        tok[name] = _per_token_float(source, name, (n, t), tokens_total, gather)
    terms.pop("entropy", None)

    taken = {**per, **tok}
    for name, values in record.reward_components.items():
        column = REWARD_COMPONENT_PREFIX + str(name)
        _check_extra_name(column, f"reward_components[{name!r}]", taken)
        per[column] = taken[column] = _float_column(per_response(values, f"reward_components[{name!r}]", n, np.float32))
    response_terms = []
    for name, values in record.response_terms.items():
        _check_extra_name(name, f"response_terms[{name!r}]", taken)
        if name in terms:
            raise UnipoError(f"StepRecord.response_terms[{name!r}]: also given in terms (a term is per "
                             "response [N] or per token [N, T], not both)")
        per[name] = taken[name] = _float_column(per_response(values, f"response_terms[{name!r}]", n, np.float32))
        response_terms.append(name)
    for name, values in terms.items():
        _check_extra_name(name, f"terms[{name!r}]", taken)
        tok[name] = taken[name] = _per_token_float(values, f"terms[{name!r}]", (n, t), tokens_total, gather)
    per["token_count"] = pa.array(token_counts)

    responses = pa.table(per, metadata={RESPONSE_TERMS_KEY: json.dumps(response_terms).encode()})
    return responses, pa.table(tok)


def _per_token_float(source, field_name: str, shape, rows: int, gather) -> pa.Array:
    if source is None:
        return pa.nulls(rows, type=pa.float32())
    values = per_token(source, field_name, shape, np.float32)
    return _float_column(gather(values))


def _float_column(values: np.ndarray) -> pa.Array:
    # NaN means "no value" in this store (None in lists): stored as null.
    values = np.ascontiguousarray(values, dtype=np.float32)
    nan = np.isnan(values)
    return pa.array(values, type=pa.float32(), mask=nan if nan.any() else None)


def _texts(texts: Sequence[str], field_name: str, n: int) -> pa.Array:
    texts = list(texts)
    if len(texts) != n:
        raise UnipoError(f"StepRecord.{field_name}: expected {n} strings (one per response), got {len(texts)}")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise UnipoError(f"StepRecord.{field_name}[{i}]: expected a string, got {type(text).__name__}")
    return _safe_strings(texts, field_name)


def _token_strings(tokens, mask: np.ndarray, token_counts: np.ndarray, rows: int) -> pa.Array:
    if tokens is None:
        return pa.nulls(rows, type=pa.string())
    n, t = mask.shape
    if len(tokens) != n:
        raise UnipoError(f"StepRecord.tokens: expected {n} lists (one per response), got {len(tokens)}")
    flat: list = []
    for i, response_tokens in enumerate(tokens):
        response_tokens = list(response_tokens)
        if len(response_tokens) == t:
            flat.extend(response_tokens[j] for j in np.flatnonzero(mask[i]))
        elif len(response_tokens) == token_counts[i]:
            flat.extend(response_tokens)
        else:
            raise UnipoError(f"StepRecord.tokens[{i}]: expected {t} (padded) or {int(token_counts[i])} "
                             f"(real tokens) strings, got {len(response_tokens)}")
    return _safe_strings(flat, "tokens")


def _safe_strings(values, field_name: str) -> pa.Array:
    try:
        return pa.array(list(values), type=pa.string())
    except (pa.ArrowException, UnicodeEncodeError) as exc:
        raise UnipoError(f"StepRecord.{field_name}: not storable as text ({exc})") from None


def _check_extra_name(column: str, field_name: str, columns: Mapping[str, object]) -> None:
    if not is_valid_column_name(column):
        raise UnipoError(f"StepRecord.{field_name}: column name {column!r} must be letters, digits and _")
    if column in RESERVED_COLUMNS or column in columns:
        raise UnipoError(f"StepRecord.{field_name}: column name {column!r} collides with a stored column")

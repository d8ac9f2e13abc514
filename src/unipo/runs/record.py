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
    EMPTY_RESPONSE_POSITION, RESERVED_COLUMNS, RESPONSE_TERMS_KEY, REWARD_COMPONENT_PREFIX,
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
        """The step file's rows: one per completion token, sorted by response then position."""
        return _flatten(self, step)


def _flatten(record: StepRecord, step: int) -> pa.Table:
    mask = to_numpy(record.mask, "mask")
    if mask.ndim != 2:
        raise UnipoError(f"StepRecord.mask: expected shape [N, T], got {list(mask.shape)}")
    mask = mask.astype(bool)
    n, t = mask.shape
    token_counts = mask.sum(axis=1)
    empty = token_counts == 0
    # Empty responses keep one placeholder row (see schema.EMPTY_RESPONSE_POSITION).
    rows_per_response = np.maximum(token_counts, 1)
    row_response = np.repeat(np.arange(n, dtype=np.int32), rows_per_response)
    rows = len(row_response)

    # Token coordinates of real tokens, in row-major (response, position) order.
    token_r, token_t = np.nonzero(mask)
    token_rows = _token_row_slots(rows_per_response, empty, token_counts)
    columns: dict[str, pa.Array] = {}

    def repeat_per_response(values: np.ndarray) -> np.ndarray:
        return np.repeat(values, rows_per_response)

    def scatter_tokens(values: np.ndarray, fill) -> np.ndarray:
        out = np.full(rows, fill, dtype=values.dtype)
        out[token_rows] = values[token_r, token_t]
        return out

    for name, value in (("step", step), ("rollout", record.rollout), ("epoch", record.epoch),
                        ("minibatch", record.minibatch)):
        columns[name] = pa.array(np.full(rows, int(value), dtype=np.int32))

    columns["response"] = pa.array(row_response)
    columns["prompt"] = pa.array(repeat_per_response(per_response(record.prompt_index, "prompt_index", n, np.int32)))
    columns["group"] = pa.array(repeat_per_response(per_response(record.group_id, "group_id", n, np.int32)))
    columns["prompt_text"] = _repeated_strings(record.prompt_text, "prompt_text", n, rows_per_response)
    columns["response_text"] = _repeated_strings(record.response_text, "response_text", n, rows_per_response)
    columns["reward"] = _float_column(repeat_per_response(per_response(record.reward, "reward", n, np.float32)))
    lengths = token_counts.astype(np.int32) if record.length is None else per_response(record.length, "length", n, np.int32)
    columns["response_length"] = pa.array(repeat_per_response(lengths))
    truncated = np.zeros(n, dtype=bool) if record.truncated is None else per_response(record.truncated, "truncated", n, bool)
    columns["truncated"] = pa.array(repeat_per_response(truncated))

    position = np.full(rows, EMPTY_RESPONSE_POSITION, dtype=np.int32)
    position[token_rows] = token_t.astype(np.int32)
    columns["position"] = pa.array(position)
    token_ids = per_token(record.token_ids, "token_ids", (n, t), np.int64)
    columns["token_id"] = pa.array(scatter_tokens(token_ids.astype(np.int32), 0), mask=~_token_row_mask(rows, token_rows))
    columns["token"] = _token_strings(record.tokens, mask, token_counts, rows, token_rows)

    terms = dict(record.terms)
    for name, source in zip(TOKEN_FLOAT_COLUMNS, (record.logprob, record.old_logprob, record.ref_logprob,
                                                 record.value, record.returns, record.entropy)):
        if source is None:
            source = terms.get(name)
        columns[name] = _per_token_float(source, name, (n, t), rows, scatter_tokens)
    terms.pop("entropy", None)

    for name, values in record.reward_components.items():
        column = REWARD_COMPONENT_PREFIX + str(name)
        _check_extra_name(column, f"reward_components[{name!r}]", columns)
        columns[column] = _float_column(repeat_per_response(per_response(values, f"reward_components[{name!r}]", n, np.float32)))
    response_terms = []
    for name, values in record.response_terms.items():
        _check_extra_name(name, f"response_terms[{name!r}]", columns)
        if name in terms:
            raise UnipoError(f"StepRecord.response_terms[{name!r}]: also given in terms (a term is per "
                             "response [N] or per token [N, T], not both)")
        columns[name] = _float_column(repeat_per_response(per_response(values, f"response_terms[{name!r}]", n, np.float32)))
        response_terms.append(name)
    for name, values in terms.items():
        _check_extra_name(name, f"terms[{name!r}]", columns)
        columns[name] = _per_token_float(values, f"terms[{name!r}]", (n, t), rows, scatter_tokens)

    return pa.table(columns, metadata={RESPONSE_TERMS_KEY: json.dumps(response_terms).encode()})


def _token_row_slots(rows_per_response: np.ndarray, empty: np.ndarray, token_counts: np.ndarray) -> np.ndarray:
    """Row index of each real token (placeholder rows of empty responses are skipped)."""
    starts = np.concatenate(([0], np.cumsum(rows_per_response)[:-1]))
    starts_of_tokens = np.repeat(starts, token_counts)
    offsets_within = np.arange(int(token_counts.sum())) - np.repeat(np.cumsum(token_counts) - token_counts, token_counts)
    return (starts_of_tokens + offsets_within).astype(np.int64)


def _token_row_mask(rows: int, token_rows: np.ndarray) -> np.ndarray:
    is_token = np.zeros(rows, dtype=bool)
    is_token[token_rows] = True
    return is_token


def _per_token_float(source, field_name: str, shape, rows: int, scatter_tokens) -> pa.Array:
    if source is None:
        return pa.nulls(rows, type=pa.float32())
    values = per_token(source, field_name, shape, np.float32)
    return _float_column(scatter_tokens(values, np.nan))


def _float_column(values: np.ndarray) -> pa.Array:
    # NaN means "no value" in this store (placeholder rows, None in lists): stored as null.
    return pa.array(values, type=pa.float32(), from_pandas=True)


def _repeated_strings(texts: Sequence[str], field_name: str, n: int, rows_per_response: np.ndarray) -> pa.Array:
    texts = list(texts)
    if len(texts) != n:
        raise UnipoError(f"StepRecord.{field_name}: expected {n} strings (one per response), got {len(texts)}")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise UnipoError(f"StepRecord.{field_name}[{i}]: expected a string, got {type(text).__name__}")
    response_of_row = pa.array(np.repeat(np.arange(n, dtype=np.int32), rows_per_response))
    return _safe_strings(texts, field_name).take(response_of_row)


def _token_strings(tokens, mask: np.ndarray, token_counts: np.ndarray, rows: int, token_rows: np.ndarray) -> pa.Array:
    if tokens is None:
        return pa.nulls(rows, type=pa.string())
    n, t = mask.shape
    if len(tokens) != n:
        raise UnipoError(f"StepRecord.tokens: expected {n} lists (one per response), got {len(tokens)}")
    flat: list = [None] * rows
    k = 0
    for i, response_tokens in enumerate(tokens):
        response_tokens = list(response_tokens)
        if len(response_tokens) == t:
            chosen = [response_tokens[j] for j in np.flatnonzero(mask[i])]
        elif len(response_tokens) == token_counts[i]:
            chosen = response_tokens
        else:
            raise UnipoError(f"StepRecord.tokens[{i}]: expected {t} (padded) or {int(token_counts[i])} "
                             f"(real tokens) strings, got {len(response_tokens)}")
        for text in chosen:
            flat[token_rows[k]] = text
            k += 1
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

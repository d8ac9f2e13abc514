"""Turns a step table (one row per completion token, contract §2) into the columnar step payload (§3).

The payload is built from numpy arrays that orjson serialises natively: no per-value Python loop
except for strings. NaN (a null in the table) becomes JSON null.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from unipo.runs.schema import EMPTY_RESPONSE_POSITION, STEP_COLUMNS, per_response_columns
from unipo.server.step_checks import card_relations, external_checks, step_checks


def order_by_response(table: pa.Table) -> pa.Table:
    """Rows in (response, position) order, as the flat token arrays promise; a no-op when already so."""
    if table.num_rows < 2 or "response" not in table.column_names:
        return table
    response = table.column("response").to_numpy()
    position = (table.column("position").to_numpy() if "position" in table.column_names
                else np.zeros(len(response), dtype=np.int64))
    # position + 1 so an empty response's placeholder row (position -1) sorts inside its response.
    key = response.astype(np.int64) * (int(position.max(initial=0)) + 2) + position + 1
    if np.all(key[1:] >= key[:-1]):
        return table
    return table.take(pa.array(np.argsort(key, kind="stable")))


def column_values(column: pa.ChunkedArray):
    """A column as something orjson writes fast: numpy for numbers/booleans, a list for the rest."""
    kind = column.type
    if pa.types.is_floating(kind):
        # Nulls become NaN, which orjson writes as null.
        return column.to_numpy().astype(np.float32 if kind.bit_width <= 32 else np.float64, copy=False)
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        if column.null_count:
            return pc.cast(column, pa.float64()).to_numpy()
        return column.to_numpy()
    if pa.types.is_dictionary(kind):
        return column.cast(kind.value_type).to_pylist()
    return column.to_pylist()


def compact_flags(values):
    """Float 0/1 indicator columns (clipped, selected, ...) as int8: a third of the bytes, faster to write."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "f" and len(values):
        if np.all((values == 0) | (values == 1)):  # NaN fails both comparisons
            return values.astype(np.int8)
    return values


def response_starts(table: pa.Table) -> np.ndarray:
    """Row index where each response begins (rows already in response order)."""
    if table.num_rows == 0:
        return np.zeros(0, dtype=np.int64)
    response = table.column("response").to_numpy()
    return np.flatnonzero(np.concatenate([[True], response[1:] != response[:-1]])).astype(np.int64)


def token_rows(table: pa.Table) -> np.ndarray:
    """Boolean mask of rows that are real tokens (not an empty response's placeholder)."""
    if "position" not in table.column_names:
        return np.ones(table.num_rows, dtype=bool)
    return table.column("position").to_numpy() != EMPTY_RESPONSE_POSITION


def entropy_rank(entropy: np.ndarray) -> np.ndarray:
    """Rank quantile of each entropy among the non-null ones, in [0, 1]: (number of strictly smaller
    values) / (count - 1), so ties share the lower rank; NaN (null) where the entropy is null, and 0
    when only one entropy is non-null."""
    values = np.asarray(entropy, dtype=np.float64)
    rank = np.full(len(values), np.nan)
    present = ~np.isnan(values)
    real = values[present]
    if len(real) > 1:
        rank[present] = np.searchsorted(np.sort(real), real, side="left") / (len(real) - 1)
    elif len(real) == 1:
        rank[present] = 0.0
    return rank


def with_entropy_rank(table: pa.Table) -> pa.Table:
    """The table plus an `entropy_rank` column (§3) ranked over all its real tokens; unchanged when it
    has no `entropy` column or already has `entropy_rank`. Call it on the whole step before taking a
    subset (one response, one prompt group) so the subset keeps the whole step's ranks."""
    names = table.column_names
    if "entropy" not in names or "entropy_rank" in names:
        return table
    is_token = token_rows(table)
    entropy = pc.cast(table.column("entropy"), pa.float64()).to_numpy(zero_copy_only=False)
    rank = np.full(table.num_rows, np.nan)
    rank[is_token] = entropy_rank(entropy[is_token])
    return table.append_column("entropy_rank", pa.array(rank, type=pa.float64()))


def step_identity(table: pa.Table) -> dict:
    """The step's place in the schedule ({rollout, epoch, minibatch}), read off its first row;
    None for a column the table lacks."""
    return {key: (table.column(key)[0].as_py() if key in table.column_names and table.num_rows else None)
            for key in STEP_COLUMNS[1:]}


def step_payload(table: pa.Table, step: int, metrics: dict | None = None, *,
                 loss_columns: tuple | None = None, spec=None, whole_rollout: bool | None = None,
                 header: dict | None = None) -> dict:
    """The §3 step shape: identity, step metrics, per-response columns, flat per-token columns and
    the invariant `checks` (step_checks.py).

    `tokens.offsets` has one entry per response plus a final entry equal to the token count, so
    response i's tokens are [offsets[i], offsets[i+1]). `loss_columns`: (weight, token_objective)
    of the whole step when `table` holds only part of it (the loss is a whole-step quantity); likewise
    pass such a part through `with_entropy_rank` on the whole step first, so `entropy_rank` is the
    whole step's. `header`: the run header, whose declared metric checks (step_checks.external_checks,
    e.g. TRL loss = UNIPO loss) are evaluated on this step's metrics.
    """
    table = order_by_response(with_entropy_rank(table))
    starts = response_starts(table)
    is_token = token_rows(table)
    tokens_before = np.concatenate([[0], np.cumsum(is_token)]).astype(np.int64)
    offsets = np.append(tokens_before[starts], tokens_before[-1])
    first_rows = pa.array(starts)
    token_table = table if is_token.all() else table.filter(pa.array(is_token))
    payload: dict = {"step": step, **step_identity(table)}
    payload["metrics"] = metrics or {}

    responses: dict = {}
    tokens: dict = {"offsets": offsets}
    # Identity sent once at the top; per-response columns (unipo.runs.schema: response, reward,
    # reward_<name>, the file's per-response terms...) once per response; the rest per token.
    per_response = set(per_response_columns(table.schema))
    for name in table.column_names:
        if name in STEP_COLUMNS:
            continue
        if name in per_response:
            responses[name] = column_values(table.column(name).take(first_rows))
        else:
            tokens[name] = compact_flags(column_values(token_table.column(name)))
    payload["responses"] = responses
    payload["tokens"] = tokens
    payload["checks"] = step_checks(tokens, metrics, loss_columns=loss_columns,
                                    composition=None if spec is None else spec.composition)
    if spec is not None and loss_columns is None:  # card relations need the whole step
        payload["checks"]["relations"] = card_relations(spec, tokens, responses, offsets, metrics, whole_rollout)
    payload["checks"]["external"] = external_checks(header, metrics)
    return payload

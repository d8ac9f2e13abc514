"""The two halves of a step (responses, tokens) and the logical step table readers see.

A layout-2 step keeps per-response values once per response (responses table) and per-token values
once per token (tokens table). `join` rebuilds the logical table of layout 1 — one row per token,
per-response values repeated (texts as dictionary arrays, so a long text exists once in memory),
one placeholder row (position -1) per response without tokens — and `split` goes the other way.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from unipo.runs.schema import (
    EMPTY_RESPONSE_POSITION, RESPONSE_COLUMNS, RESPONSE_TERMS_KEY, STEP_COLUMNS, TEXT_COLUMNS,
    TOKEN_COUNT_COLUMN, TOKEN_FLOAT_COLUMNS, TOKEN_ID_COLUMNS, per_response_columns,
)

# Columns of the logical table before the token columns (the rest of the per-response ones follow them).
_LEADING = STEP_COLUMNS + RESPONSE_COLUMNS


def logical_order(response_names: list[str], token_names: list[str]) -> list[str]:
    """Column order of the logical step table (as layout 1 stored it)."""
    leading = [n for n in _LEADING if n in response_names]
    fixed_tokens = [n for n in TOKEN_ID_COLUMNS + TOKEN_FLOAT_COLUMNS if n in token_names]
    extra_response = [n for n in response_names if n not in _LEADING and n != TOKEN_COUNT_COLUMN]
    terms = [n for n in token_names if n not in fixed_tokens and n != "response"]
    return leading + fixed_tokens + extra_response + terms


def join(responses: pa.Table, tokens: pa.Table, *, include_empty: bool = True,
         columns: list[str] | None = None) -> pa.Table:
    """The logical rows of these responses. `tokens` holds all token rows of the responses in
    `responses` (both sorted by response); `columns` limits the result (logical order kept)."""
    response_ids = responses.column("response").to_numpy()
    token_response = tokens.column("response").to_numpy()
    owner = np.searchsorted(response_ids, token_response).astype(np.int64)
    counts = np.bincount(owner, minlength=len(response_ids)) if len(owner) else np.zeros(len(response_ids), np.int64)
    if include_empty and (counts == 0).any():
        rows_per = np.maximum(counts, 1)
        row_owner = np.repeat(np.arange(len(response_ids)), rows_per)
        starts = np.cumsum(rows_per) - rows_per
        token_slot = np.full(len(row_owner), -1, dtype=np.int64)
        has = counts > 0
        # Token rows fill their response's slots in order; a placeholder slot keeps -1.
        token_rows_at = np.repeat(starts[has], counts[has]) + (
            np.arange(len(owner)) - np.repeat(np.cumsum(counts[has]) - counts[has], counts[has]))
        token_slot[token_rows_at] = np.arange(len(owner))
    else:
        row_owner, token_slot = owner, None

    names = logical_order(responses.column_names, tokens.column_names)
    if columns is not None:
        wanted = set(columns)
        names = [n for n in names if n in wanted]
    owner_index = pa.array(row_owner, pa.int64())
    out: dict[str, pa.Array | pa.ChunkedArray] = {}
    for name in names:
        if name in tokens.column_names and name != "response":
            column = tokens.column(name)
            if token_slot is not None:
                column = column.take(pa.array(np.maximum(token_slot, 0), mask=token_slot < 0))
                if name == "position":
                    column = pc.fill_null(column, np.int32(EMPTY_RESPONSE_POSITION))
            out[name] = column
        elif name in TEXT_COLUMNS:
            texts = responses.column(name).combine_chunks()
            if pa.types.is_dictionary(texts.type):
                texts = texts.cast(texts.type.value_type)
            out[name] = pa.DictionaryArray.from_arrays(pa.array(row_owner, pa.int32()), texts)
        else:
            out[name] = responses.column(name).take(owner_index)
    schema_metadata = {RESPONSE_TERMS_KEY: (responses.schema.metadata or {}).get(RESPONSE_TERMS_KEY, b"[]")}
    return pa.table(out).replace_schema_metadata(schema_metadata)


def split(table: pa.Table) -> tuple[pa.Table, pa.Table]:
    """(responses, tokens) of a logical step table (placeholder rows become token_count 0)."""
    per = per_response_columns(table.schema)
    response = table.column("response").to_numpy()
    firsts = np.flatnonzero(np.r_[True, response[1:] != response[:-1]]) if len(response) else np.array([], np.int64)
    is_token = pc.greater_equal(table.column("position"), 0).to_numpy(zero_copy_only=False)
    counts = np.add.reduceat(is_token.astype(np.int32), firsts) if len(firsts) else np.array([], np.int32)
    responses = table.select([c for c in table.column_names if c in STEP_COLUMNS or c in per]).take(pa.array(firsts))
    for name in TEXT_COLUMNS:
        if name in responses.column_names and pa.types.is_dictionary(responses.schema.field(name).type):
            index = responses.schema.get_field_index(name)
            responses = responses.set_column(index, pa.field(name, pa.string()),
                                             responses.column(name).cast(pa.string()))
    responses = responses.append_column(TOKEN_COUNT_COLUMN, pa.array(counts.astype(np.int32), pa.int32()))
    responses = responses.replace_schema_metadata(
        {RESPONSE_TERMS_KEY: (table.schema.metadata or {}).get(RESPONSE_TERMS_KEY, b"[]")})
    token_names = ["response"] + [c for c in table.column_names if c not in STEP_COLUMNS and c not in per]
    tokens = table.select(token_names)
    if not is_token.all():
        tokens = tokens.filter(pa.array(is_token))
    return responses, tokens.replace_schema_metadata(None)

"""Lossless prediction of derived float columns, so they cost almost nothing on disk.

Many terms are exact float32 functions of earlier columns (old_logprob == logprob on the first
minibatch, log_ratio = logprob - old_logprob, kl_penalty = beta * kl, token_objective = surrogate -
kl_penalty, ...). Such a column is stored as the XOR of its bits with the prediction's bits: zero
where the prediction is exact (dictionary/RLE-encoded to almost nothing), and still exact where it is
not. Only IEEE-exact float32 operations (copy, -, +, * by a float32 constant) are used, so decoding
gives back the same bits on any machine.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa

METADATA_KEY = b"unipo.predicted"
# A prediction is kept when at least this share of a column's sample rows match it bit for bit.
MIN_EXACT_SHARE = 0.5
SAMPLE_ROWS = 512


def _predict(spec: list, columns: dict[str, np.ndarray]) -> np.ndarray:
    op = spec[0]
    if op == "copy":
        return columns[spec[1]]
    if op == "sub":
        return columns[spec[1]] - columns[spec[2]]
    if op == "add":
        return columns[spec[1]] + columns[spec[2]]
    if op == "scale":
        return np.float32(spec[2]) * columns[spec[1]]
    raise ValueError(f"unknown prediction {spec!r}")


def _candidates(earlier: list[str], target: np.ndarray, columns: dict[str, np.ndarray]):
    for a in earlier:
        yield ["copy", a]
        source = columns[a]
        nonzero = source != 0
        if nonzero.any():
            ratios = target[nonzero] / source[nonzero]
            yield ["scale", a, float(np.float32(np.median(ratios)))]
    for i, a in enumerate(earlier):
        for b in earlier:
            if a != b:
                yield ["sub", a, b]
                if b > a:
                    yield ["add", a, b]


def encode(table: pa.Table, float_columns: list[str]) -> pa.Table:
    """Replace predictable float32 columns by uint32 residuals; the recipe goes in schema metadata."""
    full: dict[str, np.ndarray] = {}
    valid: dict[str, np.ndarray] = {}
    for name in float_columns:
        column = table.column(name)
        if column.null_count == len(column):
            continue
        full[name] = column.to_numpy(zero_copy_only=False).astype(np.float32)  # nulls -> NaN
        valid[name] = ~np.isnan(full[name])
    if not full:
        return table
    rows = len(table)
    sample = np.linspace(0, rows - 1, num=min(rows, SAMPLE_ROWS)).astype(np.int64)
    small = {name: values[sample] for name, values in full.items()}
    recipes: dict[str, list] = {}
    earlier: list[str] = []
    with np.errstate(all="ignore"):
        for name in full:
            # Inputs must be present wherever the target is, so NaN payloads never enter the bits.
            usable = [a for a in earlier if not (valid[name] & ~valid[a]).any()]
            best, best_share = None, MIN_EXACT_SHARE
            target_bits = small[name].view(np.uint32)
            for spec in _candidates(usable, small[name], small):
                share = float(np.mean(_predict(spec, small).astype(np.float32).view(np.uint32) == target_bits))
                if share > best_share:
                    best, best_share = spec, share
            if best is not None:
                recipes[name] = best
            earlier.append(name)
        if not recipes:
            return table
        for name, spec in recipes.items():
            residual = full[name].view(np.uint32) ^ _predict(spec, full).astype(np.float32).view(np.uint32)
            index = table.schema.get_field_index(name)
            array = pa.array(residual, type=pa.uint32(), mask=~valid[name])
            table = table.set_column(index, pa.field(name, pa.uint32()), array)
    metadata = dict(table.schema.metadata or {})
    metadata[METADATA_KEY] = json.dumps(recipes).encode()
    return table.replace_schema_metadata(metadata)


def recipes_of(schema: pa.Schema) -> dict[str, list]:
    raw = (schema.metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


def inputs_of(recipes: dict[str, list], wanted: list[str]) -> list[str]:
    """wanted plus every column needed (transitively) to decode it."""
    needed = list(wanted)
    i = 0
    while i < len(needed):
        spec = recipes.get(needed[i])
        if spec:
            for name in spec[1:]:
                if isinstance(name, str) and name not in needed:
                    needed.append(name)
        i += 1
    return needed


def _decoded_column(name: str, table: pa.Table, recipes: dict[str, Any], values: dict[str, np.ndarray]) -> np.ndarray:
    """One column as float32, restoring its prediction inputs first (memoised in `values`).

    A module-level function rather than a recursive closure: the closure's reference to itself
    made a cycle that kept every decoded step alive until the next full garbage collection.
    """
    if name not in values:
        raw = table.column(name)
        if name in recipes:
            bits = raw.to_numpy(zero_copy_only=False)
            bits = np.nan_to_num(bits, nan=0).astype(np.uint32) if bits.dtype != np.uint32 else bits
            inputs = {a: _decoded_column(a, table, recipes, values)
                      for a in recipes[name][1:] if isinstance(a, str)}
            with np.errstate(all="ignore"):
                predicted = _predict(recipes[name], inputs).astype(np.float32)
            values[name] = (bits ^ predicted.view(np.uint32)).view(np.float32)
        else:
            values[name] = raw.to_numpy(zero_copy_only=False).astype(np.float32)
    return values[name]


def decode(table: pa.Table, recipes: dict[str, Any]) -> pa.Table:
    """Restore predicted columns to float32 (in the order they were encoded)."""
    if not recipes:
        return table
    encoded = table
    values: dict[str, np.ndarray] = {}

    for name in recipes:
        if name in table.column_names:
            index = table.schema.get_field_index(name)
            raw = table.column(name)
            restored = pa.array(_decoded_column(name, encoded, recipes, values), type=pa.float32(),
                                mask=raw.is_null().to_numpy(zero_copy_only=False))
            table = table.set_column(index, pa.field(name, pa.float32()), restored)
    return table.replace_schema_metadata({k: v for k, v in (table.schema.metadata or {}).items() if k != METADATA_KEY})

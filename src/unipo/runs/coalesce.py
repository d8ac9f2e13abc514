"""Predicted float columns stored so that SQL sees their logical values: coalesce(stored, recipe).

Layout-2 token files keep every logical column as a physical float32 column, but a column that is
an exact float32 function of earlier columns (a copy, a-b, a+b, a*b, c*a, ½(a-b)², a constant;
recipes found by `unipo.runs.prediction`) stores only the rows where that function misses:

- stored is null  -> the logical value is the recipe's value (exact, bit for bit);
- stored is a number -> that number is the logical value (the recipe missed on this row);
- stored is NaN   -> the logical value is null (the recipe would have given a number).

So `logical = nullif(coalesce(stored, recipe(logical inputs)), NaN)`, which DuckDB, polars or any SQL
engine evaluates; `unipo.runs.query` builds those views. Every recipe operation (each of ½(a-b)²'s
three rounded to float32 by a CAST) is one IEEE float32 operation (two float32 operands give the
same bits whether an engine computes it in float32 or in double then rounds), so decoding is exact
on any machine. The recipes go in the file's key-value
metadata under `unipo.coalesce` as {column: [op, ...]}.
"""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from unipo.runs import prediction

METADATA_KEY = b"unipo.coalesce"
_U32 = np.uint32


# -- choosing recipes -------------------------------------------------------------------------------
def choose_recipes(table: pa.Table, float_columns: list[str],
                   memory: prediction.EncodingMemory | None = None) -> dict[str, list]:
    """{column: recipe} for the float columns an earlier column (or a constant) predicts well."""
    memory = memory if memory is not None else prediction.EncodingMemory()
    rows = table.num_rows
    full: dict[str, np.ndarray] = {}
    valid: dict[str, np.ndarray] = {}
    for name in float_columns:
        column = table.column(name)
        if column.null_count == len(column):
            continue  # an all-null column stores (almost) nothing as it is
        values = column.to_numpy(zero_copy_only=False)
        full[name] = values if values.dtype == np.float32 else values.astype(np.float32)
        valid[name] = ~np.isnan(full[name])
    recipes: dict[str, list] = {}
    if not full:
        return recipes
    sample = np.unique(np.linspace(0, rows - 1, num=min(rows, prediction.SAMPLE_ROWS)).astype(np.int64))
    small = {name: values[sample] for name, values in full.items()}
    screen = np.unique(np.linspace(0, len(sample) - 1,
                                   num=min(len(sample), prediction.SCREEN_ROWS)).astype(np.int64))
    earlier: list[str] = []
    with np.errstate(all="ignore"):
        for name in full:
            # Inputs valid wherever the target is: a null input would only make the recipe miss.
            usable = [a for a in earlier if not (valid[name] & ~valid[a]).any()]
            spec = prediction._choose(name, full[name], valid[name], usable, small, screen, memory)
            if spec is not None:
                recipes[name] = spec
            earlier.append(name)
    return recipes


def inputs(spec: list) -> list[str]:
    return prediction._inputs(spec)


# -- encoding and decoding (numpy) ------------------------------------------------------------------
def _floats(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    values = column.to_numpy(zero_copy_only=False)
    return values if values.dtype == np.float32 else values.astype(np.float32)


def encode(table: pa.Table, recipes: dict[str, list]) -> pa.Table:
    """The logical table as stored: each predicted column keeps only the rows its recipe misses."""
    if not recipes:
        return table.replace_schema_metadata({**(table.schema.metadata or {}), METADATA_KEY: b"{}"})
    logical = {name: _floats(table.column(name)) for name in _needed(recipes, table.column_names)}
    rows = table.num_rows
    for name, spec in recipes.items():
        target = logical[name]
        with np.errstate(all="ignore"):
            predicted = prediction._predict(spec, logical, rows).astype(np.float32, copy=False)
        exact = target.view(_U32) == predicted.view(_U32)
        target_null = np.isnan(target)
        predicted_null = np.isnan(predicted)
        stored = target.copy()
        stored[target_null & ~predicted_null] = np.nan   # "null although the recipe gives a number"
        is_null = exact | (target_null & predicted_null)  # "the recipe's value"
        index = table.schema.get_field_index(name)
        table = table.set_column(index, pa.field(name, pa.float32()),
                                 pa.array(stored, type=pa.float32(), mask=is_null))
    metadata = {**(table.schema.metadata or {}), METADATA_KEY: _compact(recipes)}
    return table.replace_schema_metadata(metadata)


def _needed(recipes: dict[str, list], present: list[str]) -> list[str]:
    names = set(recipes)
    for spec in recipes.values():
        names.update(inputs(spec))
    return [n for n in present if n in names]


def recipes_of(schema: pa.Schema) -> dict[str, list]:
    raw = (schema.metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


def needed_for(recipes: dict[str, list], wanted: list[str]) -> list[str]:
    """wanted plus every column needed (transitively) to decode it."""
    return prediction.inputs_of(recipes, wanted)


def decode(table: pa.Table, recipes: dict[str, list]) -> pa.Table:
    """Logical values of the predicted columns present in `table` (their inputs must be present)."""
    present = [name for name in recipes if name in table.column_names]
    if not present:
        return table
    values: dict[str, np.ndarray] = {}
    decoded = {name: _logical(name, table, recipes, values) for name in present}
    for name in present:
        index = table.schema.get_field_index(name)
        table = table.set_column(index, pa.field(name, pa.float32()),
                                 pa.array(decoded[name], type=pa.float32(), mask=np.isnan(decoded[name])))
    return table


def _logical(name: str, table: pa.Table, recipes: dict[str, list], values: dict[str, np.ndarray]) -> np.ndarray:
    # A module-level function, not a recursive closure: that closure's reference to itself made a
    # cycle that kept each decoded step alive until the next full garbage collection.
    if name not in values:
        stored = table.column(name)
        raw = _floats(stored)
        if name in recipes:
            spec = recipes[name]
            arguments = {a: _logical(a, table, recipes, values) for a in inputs(spec)}
            with np.errstate(all="ignore"):
                predicted = prediction._predict(spec, arguments, table.num_rows).astype(np.float32, copy=False)
            missing = stored.is_null().to_numpy(zero_copy_only=False)
            raw = np.where(missing, predicted, raw).astype(np.float32, copy=False)
        values[name] = raw
    return values[name]


def _compact(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


# -- SQL ---------------------------------------------------------------------------------------------
def sql_layers(recipes: dict[str, list], quote=lambda n: '"' + n.replace('"', '""') + '"') -> list[dict[str, str]]:
    """[{column: SQL expression}] to apply in order (`SELECT * REPLACE (...) FROM previous`): each
    layer's expressions read only columns already decoded by earlier layers (or not predicted)."""
    depth: dict[str, int] = {}

    def level(name: str) -> int:
        if name not in recipes:
            return -1
        if name not in depth:
            depth[name] = 1 + max((level(a) for a in inputs(recipes[name])), default=-1)
        return depth[name]

    layers: list[dict[str, str]] = []
    for name in recipes:
        k = level(name)
        while len(layers) <= k:
            layers.append({})
        layers[k][name] = (f"nullif(coalesce({quote(name)}, {recipe_sql(recipes[name], quote)}), "
                           "CAST('nan' AS FLOAT))")
    return layers


def recipe_sql(spec: list, quote) -> str:
    op = spec[0]
    if op == "const":
        return _float_literal(np.array([int(spec[1])], dtype=_U32).view(np.float32)[0])
    if op == "copy":
        return quote(spec[1])
    if op == "scale":
        return f"CAST({_float_literal(np.float32(spec[2]))} * {quote(spec[1])} AS FLOAT)"
    if op == "halfsq":  # each operation rounded to float32, as the numpy decoder does
        difference = f"CAST({quote(spec[1])} - {quote(spec[2])} AS FLOAT)"
        return f"CAST({_float_literal(np.float32(0.5))} * CAST({difference} * {difference} AS FLOAT) AS FLOAT)"
    symbol = {"sub": "-", "add": "+", "mul": "*"}[op]
    return f"CAST({quote(spec[1])} {symbol} {quote(spec[2])} AS FLOAT)"


def _float_literal(value: np.float32) -> str:
    # The double nearest the decimal text is exactly this float32: no rounding anywhere.
    text = repr(float(value)) if np.isfinite(value) else ("'inf'" if value > 0 else "'-inf'")
    if np.isfinite(value):
        text = f"'{text}'"
    return f"CAST(CAST({text} AS DOUBLE) AS FLOAT)"

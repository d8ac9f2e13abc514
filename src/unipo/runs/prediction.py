"""Lossless prediction of derived columns: the recipe search and the recipes themselves.

Many terms are exact float32 functions of earlier columns (old_logprob == logprob on the first
minibatch, log_ratio = logprob - old_logprob, kl_penalty = beta * kl, token_objective = surrogate -
kl_penalty, ...) or constants (entropy_bonus = 0, selected = 1 on every token). The store keeps such a
column only where its recipe misses (unipo.runs.coalesce, readable in SQL). Step files of the first
layout (unipo-run/1) held it as the XOR of its bits with the prediction's (`unipo.predicted`) or not
at all (`unipo.virtual`); `decode` still reads them.

Only IEEE-exact float32 operations (copy, -, +, * by a float32 constant or another column, a constant) are used, so
decoding gives back the same bits on any machine. A virtual column's entry holds its logical index,
so the logical column order is restored.

The search for a column's prediction is vectorised (copy/scale over all earlier columns at once,
a/b pairs screened on a small sub-sample) and remembered across the steps of a run
(`EncodingMemory`): a remembered recipe is only re-checked on the new step's sample.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

METADATA_KEY = b"unipo.predicted"
VIRTUAL_KEY = b"unipo.virtual"
INTERNAL_KEYS = (METADATA_KEY, VIRTUAL_KEY)
# A prediction is kept when at least this share of a column's sample rows match it bit for bit.
MIN_EXACT_SHARE = 0.5
SAMPLE_ROWS = 512
# a (op) b pairs are first screened on this many of the sample's rows.
SCREEN_ROWS = 32
SCREEN_KEEP = 12
# A virtual column's nulls are those of this stored column (null exactly on placeholder rows).
TOKEN_VALIDITY_COLUMN = "token_id"
# A column found unpredictable is searched again after this many steps (remembered meanwhile).
RESEARCH_EVERY = 16

_U32 = np.uint32
_HALF = np.float32(0.5)


def _predict(spec: list, columns: dict[str, np.ndarray], rows: int | None = None) -> np.ndarray:
    op = spec[0]
    if op == "copy":
        return columns[spec[1]]
    if op == "sub":
        return columns[spec[1]] - columns[spec[2]]
    if op == "add":
        return columns[spec[1]] + columns[spec[2]]
    if op == "mul":
        return columns[spec[1]] * columns[spec[2]]
    if op == "scale":
        return np.float32(spec[2]) * columns[spec[1]]
    if op == "halfsq":  # ½·(a − b)², three float32 operations in this order (a squared error)
        difference = columns[spec[1]] - columns[spec[2]]
        return _HALF * (difference * difference)
    if op == "const":
        if rows is None:
            raise ValueError("a constant prediction needs the row count")
        return np.full(rows, int(spec[1]), dtype=_U32).view(np.float32)
    raise ValueError(f"unknown prediction {spec!r}")


def _inputs(spec: list | None) -> list[str]:
    if not spec or spec[0] == "const":
        return []
    return [a for a in spec[1:] if isinstance(a, str)]


@dataclass
class EncodingMemory:
    """Recipes chosen on earlier steps of one run (one per RunWriter); any content decodes exactly."""
    specs: dict[str, list | None] = field(default_factory=dict)
    shares: dict[str, float] = field(default_factory=dict)  # sample share exact when chosen
    misses: dict[str, int] = field(default_factory=dict)


# -- encoding ---------------------------------------------------------------------------------------
def _share(spec: list, small: dict[str, np.ndarray], target_bits: np.ndarray) -> float:
    predicted = _predict(spec, small, len(target_bits)).astype(np.float32, copy=False)
    return float(np.mean(predicted.view(_U32) == target_bits))


def _choose(name: str, values: np.ndarray, valid: np.ndarray, usable: list[str], small: dict[str, np.ndarray],
            screen: np.ndarray, memory: EncodingMemory) -> list | None:
    present = values[valid]
    if len(present) == 0:
        return None
    bits = present.view(_U32)
    if (bits == bits[0]).all():
        return ["const", int(bits[0])]
    target_bits = small[name].view(_U32)
    remembered, remembered_share = None, MIN_EXACT_SHARE
    if name in memory.specs:
        remembered = memory.specs[name]
        if remembered is None:
            memory.misses[name] = memory.misses.get(name, 0) + 1
            if memory.misses[name] % RESEARCH_EVERY:
                return None
        elif set(_inputs(remembered)) <= set(usable):
            remembered_share = _share(remembered, small, target_bits)
            if remembered_share >= min(memory.shares.get(name, 1.0), 1.0):
                return remembered  # as good as when it was chosen: no search
        else:
            remembered = None
    spec = _search(small[name], usable, small, screen)
    share = _share(spec, small, target_bits) if spec is not None else 0.0
    if remembered is not None and remembered_share > MIN_EXACT_SHARE and share <= remembered_share:
        spec, share = remembered, remembered_share
    memory.specs[name] = spec
    memory.shares[name] = share
    return spec


def _search(target: np.ndarray, usable: list[str], small: dict[str, np.ndarray], screen: np.ndarray) -> list | None:
    """The best of copy / scale / a-b / a+b / a*b / ½(a-b)² over earlier columns, all candidates
    scored at once."""
    # Constant inputs (a copy of one is a constant, found before any search) and exact duplicates
    # of an earlier input only multiply the candidates.
    distinct: list[str] = []
    seen: set[bytes] = set()
    for a in usable:
        bits = small[a].view(_U32)
        key = bits.tobytes()
        if (bits == bits[0]).all() or key in seen:
            continue
        seen.add(key)
        distinct.append(a)
    usable = distinct
    if not usable:
        return None
    target_bits = target.view(_U32)
    inputs = np.stack([small[a] for a in usable])                      # [k, s] float32
    k = len(usable)
    # Screen on rows where the target is non-zero when there are enough (zeros match too easily).
    informative = np.flatnonzero((target != 0) & np.isfinite(target))
    if len(informative) >= 8:
        screen = informative[np.unique(np.linspace(0, len(informative) - 1, num=min(len(informative), SCREEN_ROWS)).astype(np.int64))]
    candidates: list[list] = []
    shares: list[float] = []

    copy = (inputs.view(_U32) == target_bits).mean(axis=1)
    scale = _scale_constants(target, inputs)
    scaled = (scale[:, None] * inputs).astype(np.float32)
    scale_share = np.where(np.isfinite(scale), (scaled.view(_U32) == target_bits).mean(axis=1), 0.0)
    for i, a in enumerate(usable):
        candidates.append(["copy", a]); shares.append(float(copy[i]))
    for i, a in enumerate(usable):
        if np.isfinite(scale[i]):
            candidates.append(["scale", a, float(scale[i])]); shares.append(float(scale_share[i]))

    if k > 1:
        # Screen a (op) b pairs on a few rows, then score the best few on the whole sample.
        few = inputs[:, screen]
        few_target = target_bits[screen]
        sub = ((few[:, None, :] - few[None, :, :]).view(_U32) == few_target).mean(axis=2)
        add = ((few[:, None, :] + few[None, :, :]).view(_U32) == few_target).mean(axis=2)
        mul = ((few[:, None, :] * few[None, :, :]).view(_U32) == few_target).mean(axis=2)
        difference = few[:, None, :] - few[None, :, :]
        halfsq = ((_HALF * (difference * difference)).view(_U32) == few_target).mean(axis=2)
        np.fill_diagonal(sub, -1.0)
        add[np.tril_indices(k)] = -1.0
        mul[np.tril_indices(k, -1)] = -1.0  # a*b == b*a; a*a is allowed
        halfsq[np.tril_indices(k)] = -1.0  # ½(a−b)² == ½(b−a)²
        pair_scores = np.concatenate([sub.ravel(), add.ravel(), mul.ravel(), halfsq.ravel()])
        order = np.argsort(-pair_scores, kind="stable")[:SCREEN_KEEP]
        for flat in order:
            if pair_scores[flat] <= MIN_EXACT_SHARE * 0.5:
                break
            op = ("sub", "add", "mul", "halfsq")[int(flat) // (k * k)]
            i, j = divmod(int(flat) % (k * k), k)
            spec = [op, usable[i], usable[j]]
            candidates.append(spec)
            shares.append(_share(spec, small, target_bits))

    best = int(np.argmax(shares))  # first of equals: copy before scale before pairs
    return candidates[best] if shares[best] > MIN_EXACT_SHARE else None


def _scale_constants(target: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """Per input column, the median of target / input over rows where the input is non-zero."""
    ratios = np.where(inputs != 0, target[None, :] / inputs, np.nan).astype(np.float32)
    ratios[~np.isfinite(ratios)] = np.nan
    ordered = np.sort(ratios, axis=1)  # NaN last
    counts = np.isfinite(ordered).sum(axis=1)
    picked = ordered[np.arange(len(ordered)), np.maximum(counts - 1, 0) // 2]
    picked[counts == 0] = np.nan
    return picked.astype(np.float32)


# -- decoding ---------------------------------------------------------------------------------------
@dataclass
class StepLayout:
    """How a step file's stored (physical) columns map to the logical columns readers see."""
    predicted: dict[str, list]
    virtual: dict[str, dict]
    columns: list[str] | None  # logical order; None when the file stores every column

    @classmethod
    def of(cls, schema: pa.Schema) -> "StepLayout":
        metadata = schema.metadata or {}
        predicted = json.loads(metadata[METADATA_KEY]) if metadata.get(METADATA_KEY) else {}
        packed = json.loads(metadata[VIRTUAL_KEY]) if metadata.get(VIRTUAL_KEY) else {}
        virtual = {name: {"type": "int32" if kind == "i" else "float32", "spec": spec,
                          "valid": {"": "all", "*": "none"}.get(nulls, nulls)}
                   for name, (_, kind, spec, nulls) in packed.items()}
        columns = None
        if packed:
            # Physical columns keep their order; virtual ones go back to their logical index.
            physical = [n for n in schema.names if n not in packed]
            columns = physical
            for name, entry in sorted(packed.items(), key=lambda item: item[1][0]):
                columns.insert(min(int(entry[0]), len(columns)), name)
        return cls(predicted, virtual, columns)

    def logical_names(self, physical: list[str]) -> list[str]:
        return list(self.columns) if self.columns is not None else list(physical)

    def logical_schema(self, physical: pa.Schema) -> pa.Schema:
        fields = {f.name: (pa.field(f.name, pa.float32()) if f.name in self.predicted else f) for f in physical}
        for name, info in self.virtual.items():
            fields[name] = pa.field(name, pa.int32() if info["type"] == "int32" else pa.float32())
        names = self.logical_names(physical.names)
        return pa.schema([fields[n] for n in names if n in fields], metadata=_public_metadata(physical.metadata))

    def inputs_of(self, wanted: list[str]) -> list[str]:
        """wanted plus every column needed (transitively) to decode it."""
        needed = list(wanted)
        i = 0
        while i < len(needed):
            name = needed[i]
            more = _inputs(self.predicted.get(name))
            if name in self.virtual:
                info = self.virtual[name]
                more = _inputs(info["spec"]) + ([info["valid"]] if info["valid"] not in ("all", "none") else [])
            for other in more:
                if other not in needed:
                    needed.append(other)
            i += 1
        return needed

    def physical(self, names: list[str]) -> list[str]:
        return [n for n in names if n not in self.virtual]


def inputs_of(recipes: dict[str, list], wanted: list[str]) -> list[str]:
    return StepLayout(recipes, {}, None).inputs_of(wanted)


def _public_metadata(metadata) -> dict | None:
    if not metadata:
        return None
    kept = {k: v for k, v in metadata.items() if k not in INTERNAL_KEYS and k != b"ARROW:schema"}
    return kept or None


def _decoded_column(name: str, table: pa.Table, layout: StepLayout, values: dict[str, np.ndarray]) -> np.ndarray:
    """One float column as float32, restoring its prediction inputs first (memoised in `values`).

    A module-level function rather than a recursive closure: the closure's reference to itself
    made a cycle that kept every decoded step alive until the next full garbage collection.
    """
    if name not in values:
        rows = table.num_rows
        if name in layout.virtual:
            spec = layout.virtual[name]["spec"]
            if spec is None:
                values[name] = np.full(rows, np.nan, dtype=np.float32)
            else:
                inputs = {a: _decoded_column(a, table, layout, values) for a in _inputs(spec)}
                with np.errstate(all="ignore"):
                    values[name] = _predict(spec, inputs, rows).astype(np.float32)
        elif name in layout.predicted:
            spec = layout.predicted[name]
            bits = table.column(name).to_numpy(zero_copy_only=False)
            bits = np.nan_to_num(bits, nan=0).astype(_U32) if bits.dtype != _U32 else bits
            inputs = {a: _decoded_column(a, table, layout, values) for a in _inputs(spec)}
            with np.errstate(all="ignore"):
                predicted = _predict(spec, inputs, rows).astype(np.float32)
            values[name] = (bits ^ predicted.view(_U32)).view(np.float32)
        else:
            values[name] = table.column(name).to_numpy(zero_copy_only=False).astype(np.float32)
    return values[name]


def _virtual_nulls(info: dict, table: pa.Table) -> np.ndarray | None:
    rule = info["valid"]
    if rule == "all":
        return None
    if rule == "none":
        return np.ones(table.num_rows, dtype=bool)
    return table.column(rule).is_null().to_numpy(zero_copy_only=False)


def decode(table: pa.Table, layout: StepLayout | dict[str, Any]) -> pa.Table:
    """Restore residual columns to float32 and add the virtual columns the layout can build.

    `table` holds physical columns (all or some, with the inputs of what is wanted); the result
    holds the logical columns that could be restored, in logical order, and no internal metadata.
    """
    if not isinstance(layout, StepLayout):
        layout = StepLayout(layout, {}, None)
    if not layout.predicted and not layout.virtual:
        return table
    encoded = table
    values: dict[str, np.ndarray] = {}
    present = set(table.column_names)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {name: table.column(name) for name in table.column_names}
    fields = {f.name: f for f in table.schema}
    for name in layout.predicted:
        if name in present:
            raw = table.column(name)
            columns[name] = pa.array(_decoded_column(name, encoded, layout, values), type=pa.float32(),
                                     mask=raw.is_null().to_numpy(zero_copy_only=False))
            fields[name] = pa.field(name, pa.float32())
    for name, info in layout.virtual.items():
        if not set(layout.physical(layout.inputs_of([name]))) <= present:
            continue
        if info["type"] == "int32":
            columns[name] = pa.array(np.full(table.num_rows, int(info["spec"][1]), dtype=np.int32))
            fields[name] = pa.field(name, pa.int32())
        else:
            columns[name] = pa.array(_decoded_column(name, encoded, layout, values), type=pa.float32(),
                                     mask=_virtual_nulls(info, table))
            fields[name] = pa.field(name, pa.float32())
    order = [n for n in layout.logical_names(table.column_names) if n in columns]
    order += [n for n in columns if n not in order]
    schema = pa.schema([fields[n] for n in order], metadata=_public_metadata(table.schema.metadata))
    return pa.Table.from_arrays([columns[n] for n in order], schema=schema)

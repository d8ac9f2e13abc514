"""Pages of a step: the responses in a server-side sort/filter order, and token columns of chosen
responses as an Arrow IPC stream (contract §3 "Paged steps")."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from unipo.server.errors import bad_request
from unipo.server.step_summary import SORT_KEYS, StepSummary

ARROW_STREAM = "application/vnd.apache.arrow.stream"
MAX_PAGE_ROWS = 1000           # responses per page of the order
MAX_PAGE_RESPONSES = 512       # responses per token page
MAX_PAGE_TOKENS = 1_000_000    # tokens per token page (a page is at most a few MB of Arrow)
ROW_COLUMNS = ("response", "prompt", "group", "reward", "advantage", "length", "token_count", "truncated",
               "weight_sum", "grad_coef_abs_sum", "clip_count", "clip_low_count", "clip_high_count",
               "objective_abs")


def parse_filters(params) -> dict:
    """`min_<key>=x` / `max_<key>=x` over SORT_KEYS and `truncated=true|false` from a query mapping."""
    filters: dict = {}
    for name, text in params.items():
        for bound in ("min_", "max_"):
            if name.startswith(bound):
                key = name[len(bound):]
                if key not in SORT_KEYS:
                    raise bad_request(f"{name}: unknown filter key {key!r} (keys: {', '.join(SORT_KEYS)})")
                try:
                    value = float(text)
                except ValueError:
                    raise bad_request(f"{name}: not a number: {text[:40]!r}") from None
                if np.isnan(value):
                    raise bad_request(f"{name}: not a number: {text[:40]!r}")
                filters[(bound[:-1], key)] = value
        if name == "truncated":
            if text.lower() not in ("true", "false"):
                raise bad_request(f"truncated: expected true or false, got {text[:40]!r}")
            filters[("truncated", None)] = text.lower() == "true"
    return filters


def response_order(summary: StepSummary, sort: str = "response", descending: bool = False,
                   filters: dict | None = None) -> np.ndarray:
    """Row numbers (into summary.rows) of the responses passing `filters`, sorted by `sort` over
    the whole step; ties keep response order; a null key (NaN) sorts last either way and fails any
    min/max filter on it."""
    if sort not in SORT_KEYS:
        raise bad_request(f"sort: unknown key {sort!r} (keys: {', '.join(SORT_KEYS)})")
    rows = summary.rows
    keep = np.ones(len(rows["response"]), dtype=bool)
    for (kind, key), value in (filters or {}).items():
        if kind == "truncated":
            keep &= rows["truncated"] == value
            continue
        column = rows[key].astype(np.float64)
        with np.errstate(invalid="ignore"):
            keep &= (column >= value) if kind == "min" else (column <= value)
    chosen = np.flatnonzero(keep)
    key = rows[sort].astype(np.float64)[chosen]
    present = ~np.isnan(key)
    ranked = chosen[present][np.argsort(-key[present] if descending else key[present], kind="stable")]
    return np.concatenate([ranked, chosen[~present]]).astype(np.int64)


def rows_page(summary: StepSummary, order: np.ndarray, offset: int, limit: int) -> dict:
    """Per-response rows of order[offset:offset+limit] (numbers as the summary computed them)."""
    if limit < 1 or limit > MAX_PAGE_ROWS:
        raise bad_request(f"limit: must be 1..{MAX_PAGE_ROWS}, got {limit}")
    if offset < 0:
        raise bad_request(f"offset: must be >= 0, got {offset}")
    at = order[offset:offset + limit]
    rows = {name: summary.rows[name][at] for name in ROW_COLUMNS}
    rows["truncated"] = rows["truncated"].astype(bool)
    rows["prompt_text"] = [summary.prompt_text[i] for i in at]
    return {"total": int(len(order)), "offset": offset, "limit": limit, "rows": rows}


def parse_ids(text: str | None, name: str = "responses") -> list[int]:
    if not text:
        raise bad_request(f"{name}: required (comma-separated response numbers)")
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise bad_request(f"{name}: expected comma-separated integers, got {text[:40]!r}") from None
    if len(ids) > MAX_PAGE_RESPONSES:
        raise bad_request(f"{name}: at most {MAX_PAGE_RESPONSES} responses per page, got {len(ids)}")
    if any(i < 0 or i >= 2**31 for i in ids):
        raise bad_request(f"{name}: response numbers must be in 0..2**31-1")
    return list(dict.fromkeys(ids))


def parse_columns(text: str | None, available: list[str]) -> list[str] | None:
    if not text:
        return None
    names = [name for name in text.split(",") if name]
    unknown = [name for name in names if name not in available]
    if unknown:
        raise bad_request(f"columns: not in this step: {', '.join(unknown[:5])} (columns: {', '.join(available)})")
    return names


def _wire(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Columns as the browser reads them: float32 numbers, int8 0/1 flags, plain strings."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        return column.cast(kind.value_type)
    if pa.types.is_floating(kind):
        as32 = pc.cast(column, pa.float32()) if kind.bit_width != 32 else column
        values = as32.to_numpy(zero_copy_only=False)
        if len(values) and column.null_count == 0 and np.all((values == 0) | (values == 1)):
            return pa.chunked_array([pa.array(values.astype(np.int8))])
        return as32
    if pa.types.is_boolean(kind):
        return pc.cast(column, pa.int8())
    return column


def token_page_table(summary: StepSummary, table: pa.Table, columns: list[str] | None) -> pa.Table:
    """The page with `entropy_rank` (ranked over the whole step) added and wire types applied;
    `response` and `position` always first."""
    names = columns if columns is not None else [c for c in summary.token_columns]
    sketch = summary.extra.get("entropy_sketch")
    if summary.entropy_sorted is None and sketch is not None and "entropy_rank" in names \
            and "entropy" in table.column_names:
        # Ranks from the stored whole-step sketch (exact when it holds every value, else interpolated).
        ranks = sketch.ranks(table.column("entropy").to_numpy(zero_copy_only=False))
        table = table.append_column("entropy_rank", pa.array(ranks, pa.float32()))
    elif summary.entropy_sorted is not None and "entropy_rank" in names and "entropy" in table.column_names:
        entropy = np.asarray(table.column("entropy").to_numpy(zero_copy_only=False), dtype=np.float64)
        rank = np.full(len(entropy), np.nan)
        present = np.isfinite(entropy)
        count = len(summary.entropy_sorted)
        if count > 1:
            rank[present] = np.searchsorted(summary.entropy_sorted, entropy[present].astype(np.float32),
                                            side="left") / (count - 1)
        elif count == 1:
            rank[present] = 0.0
        table = table.append_column("entropy_rank", pa.array(rank, pa.float32()))
    keep = [c for c in dict.fromkeys(["response", "position", *names]) if c in table.column_names]
    return pa.table({name: _wire(table.column(name)) for name in keep})


def ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()

"""A step's summary, computed over the whole step on the server (contract §3 "Paged steps").

Per response (one row each, empty responses included): reward, advantage, length, token count,
Σ weight, Σ |g| (grad_coef), clip counts and |Σ weight · token_objective| (the size of the
response's share of the step loss). Per token column, when first asked for: quantiles and a
histogram. The invariant checks and the card relations (build_checks), reduced to their results (no
per-token array). The browser gets this first, then token columns by page (step_pages.py); it never
receives the whole step.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from unipo.runs.aggregates import HISTOGRAM_BINS, QUANTILES, ColumnSketch, column_stats  # noqa: F401 - re-exported
from unipo.server.step_checks import external_checks, loss_check, objective_check
from unipo.server.step_source import (
    LazyColumns, response_rows, token_schema, whole_step_batches, whole_step_columns,
)

# Columns the per-response sums read (each optional).
SUM_COLUMNS = ("weight", "grad_coef", "clipped", "clipped_low", "clipped_high", "token_objective", "advantage")
# Sortable / filterable per-response keys, in the order the UI lists them.
SORT_KEYS = ("response", "reward", "advantage", "length", "clip_count", "objective_abs", "grad_coef_abs_sum",
             "weight_sum")
IDENTITY_TOKEN_COLUMNS = ("response", "position", "token_id", "token")
# Token columns with quantiles and histograms: what colours tokens (legend ranges) and the terms a
# user compares; the others are one token page away.
STAT_COLUMNS = ("grad_coef", "token_objective", "surrogate", "advantage", "ratio", "log_ratio", "kl", "kl_penalty",
                "entropy", "entropy_bonus", "logprob", "weight", "grad_contribution", "value", "return")
# Token-column stats computed in the summary's own pass: the colours of the first paint.
FIRST_PAINT_STATS = ("grad_coef", "token_objective")
# Per-response sums and the token columns each needs.
_SUM_KEYS = {"weight_sum": {"weight"}, "grad_coef_abs_sum": {"grad_coef"},
             "objective_abs": {"weight", "token_objective"}, "clip_low_count": {"clipped_low"},
             "clip_high_count": {"clipped_high"}}
# Whole-step columns are read a few at a time: at most this many bytes of them at once.
READ_BATCH_BYTES = 128 * 2**20
# Whole-step columns kept while the summary is built (re-read from the file past this).
LAZY_CACHE_BYTES = 160 * 2**20


@dataclass
class StepSummary:
    step: int
    identity: dict
    rows: dict[str, np.ndarray]                 # per response, response order
    prompt_text: list                           # per response
    token_count: int
    token_columns: list[str]                    # numeric and string per-token columns of the step
    stats: dict[str, dict]
    checks: dict
    entropy_sorted: np.ndarray | None = None    # finite entropies, sorted: whole-step entropy ranks
    extra: dict = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        size = sum(v.nbytes for v in self.rows.values()) + sum(len(t or "") for t in self.prompt_text)
        return size + (self.entropy_sorted.nbytes if self.entropy_sorted is not None else 0) + 4096


def _numeric(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def _per_response(rows: pa.Table, name: str, n: int) -> np.ndarray:
    if name not in rows.column_names:
        return np.full(n, np.nan)
    return _numeric(rows.column(name))


def build_summary(entry, step: int) -> StepSummary:
    """The part of the summary a first paint needs: per-response rows and their stats, the token
    columns, the sorted entropies (whole-step entropy ranks) and the stats of the colour columns
    (FIRST_PAINT_STATS), all from one streamed pass — or, when every shard stored them at write
    time (unipo.runs.aggregates), from those with no token read (entropy ranks then come from the
    stored sample: step_pages.token_page_table). Other token-column stats (column_stats_of) and
    the checks (build_checks) are computed when first asked for."""
    responses = response_rows(entry, step)
    n = responses.num_rows
    response_ids = responses.column("response").to_numpy().astype(np.int64)
    counts = responses.column("token_count").to_numpy().astype(np.int64)
    schema = token_schema(entry, step, responses)
    per_token = [name for name in schema.names if name != "response"]
    numeric = [name for name in per_token
               if pa.types.is_floating(schema.field(name).type) or pa.types.is_integer(schema.field(name).type)
               or pa.types.is_boolean(schema.field(name).type)]
    wanted = list(dict.fromkeys(c for c in (*SUM_COLUMNS, "entropy", *FIRST_PAINT_STATS) if c in numeric))
    stored = _stored(entry, step, n, response_ids, wanted)
    if stored is not None:
        wanted = []  # the first paint reads no token column
    # One streamed pass over the step's tokens, a row group at a time: per-response sums are added
    # per batch (float64 only for a batch's rows), and nothing of the tokens is kept but the
    # entropies (whole-step ranks) and the first paint's colour columns (their stats).
    nan = np.full(n, np.nan)
    numbered = bool(np.array_equal(response_ids, np.arange(n)))  # rows' ids are their own indices
    sums = {key: np.zeros(n) for key in _SUM_KEYS if _SUM_KEYS[key] <= set(wanted)}
    either_names = [c for c in ("clipped", "clipped_low", "clipped_high") if c in wanted]
    clip_total = np.zeros(n) if either_names else None
    first_advantage, assigned = nan.copy(), np.zeros(n, dtype=bool)
    kept: dict[str, list[np.ndarray]] = {name: [] for name in ("entropy", *FIRST_PAINT_STATS) if name in wanted}
    for batch in whole_step_batches(entry, step, wanted) if wanted else ():
        if batch.num_rows == 0:
            continue
        ids = batch.column("response").to_numpy()
        at = ids.astype(np.int64) if numbered else np.searchsorted(response_ids, ids)
        low = int(at.min())
        local, width = at - low, int(at.max()) - low + 1
        values = {name: batch.column(name).to_numpy(zero_copy_only=False) for name in wanted}

        def add(key: str, weights) -> None:
            sums[key][low:low + width] += np.bincount(local, weights=np.nan_to_num(weights), minlength=width)

        if "weight_sum" in sums:
            add("weight_sum", values["weight"])
        if "grad_coef_abs_sum" in sums:
            add("grad_coef_abs_sum", np.abs(values["grad_coef"]))
        if "objective_abs" in sums:
            add("objective_abs", values["weight"].astype(np.float64) * values["token_objective"])
        for side in ("low", "high"):
            if f"clip_{side}_count" in sums:
                add(f"clip_{side}_count", values[f"clipped_{side}"] > 0)
        if clip_total is not None:
            either = np.logical_or.reduce([values[c] > 0 for c in either_names])
            clip_total[low:low + width] += np.bincount(local, weights=either, minlength=width)
        if "advantage" in values:
            where, starts = np.unique(local, return_index=True)
            fresh = ~assigned[low + where]
            first_advantage[low + where[fresh]] = values["advantage"][starts[fresh]]
            assigned[low + where] = True
        for name, found in kept.items():
            column = values[name]
            found.append(column[np.isfinite(column)].astype(np.float32) if name == "entropy" else column)
        del batch, values
    found = {key: (np.abs(total) if key == "objective_abs" else total) for key, total in sums.items()}
    entropy_sorted = np.sort(np.concatenate(kept.pop("entropy"))) if "entropy" in kept else None
    first_stats = {name: column_stats(np.concatenate(parts) if parts else np.array([], np.float32))
                   for name, parts in kept.items()}
    kept.clear()
    entropy_sketch = None
    if stored is not None:
        found, clip_total, first_advantage, first_stats, entropy_sketch = stored

    rows: dict[str, np.ndarray] = {
        "response": response_ids,
        "prompt": _per_response(responses, "prompt", n),
        "group": _per_response(responses, "group", n),
        "reward": _per_response(responses, "reward", n),
        "length": (_per_response(responses, "response_length", n) if "response_length" in responses.column_names
                   else counts.astype(np.float64)),
        "token_count": counts,
        "truncated": (_numeric(responses.column("truncated")) > 0 if "truncated" in responses.column_names
                      else np.zeros(n, dtype=bool)),
    }
    for key in ("weight_sum", "grad_coef_abs_sum", "clip_low_count", "clip_high_count", "objective_abs"):
        rows[key] = found.get(key, nan)
    rows["clip_count"] = clip_total if clip_total is not None else nan
    # Response level: every token holds the response's advantage; token level (GAE): the first
    # token's, as the whole-step inspector shows it.
    rows["advantage"] = (_per_response(responses, "advantage", n) if "advantage" in responses.column_names
                         else first_advantage)
    stats = {name: column_stats(rows[name]) for name in SORT_KEYS if name != "response"}
    stats.update(first_stats)
    if entropy_sorted is not None:
        stats["entropy"] = column_stats(entropy_sorted, already_sorted=True)
        stats["entropy_rank"] = {"count": int(len(entropy_sorted)), "fixed_domain": [0.0, 1.0]}
    elif entropy_sketch is not None:
        stats["entropy_rank"] = {"count": int(entropy_sketch.count), "fixed_domain": [0.0, 1.0],
                                 **({} if entropy_sketch.exact else {"approximate": True})}
    prompt_text = (responses.column("prompt_text").to_pylist() if "prompt_text" in responses.column_names
                   else [None] * n)
    identity = {key: (responses.column(key)[0].as_py() if key in responses.column_names and n else None)
                for key in ("rollout", "epoch", "minibatch")}
    columns = [c for c in per_token if c not in ("response",)]
    if "entropy" in columns:
        columns.append("entropy_rank")
    return StepSummary(step=step, identity=identity, rows=rows, prompt_text=prompt_text,
                       token_count=int(counts.sum()), token_columns=columns, stats=stats, checks={},
                       entropy_sorted=entropy_sorted,
                       extra={"numeric": numeric, "entropy_sketch": entropy_sketch, "stored": stored is not None})


def _stored(entry, step: int, n: int, response_ids: np.ndarray, wanted: list[str]):
    """The stored aggregates (unipo.runs.aggregates) in build_summary's shapes, or None when the
    step has none for what the scan would compute (legacy runs, shards written before them)."""
    read = getattr(entry.reader, "step_aggregates", None)
    found = read(step) if read is not None else None
    if found is None:
        return None
    table, sketches = found
    if table.num_rows != n or not np.array_equal(table.column("response").to_numpy(), response_ids):
        return None
    keys = set(table.column_names)
    needs = {"weight_sum": {"weight"}, "grad_coef_abs_sum": {"grad_coef"}, "objective_sum": {"weight", "token_objective"},
             "clip_low_count": {"clipped_low"}, "clip_high_count": {"clipped_high"}, "first_advantage": {"advantage"}}
    if any(need <= set(wanted) and key not in keys for key, need in needs.items()):
        return None
    colour = [c for c in ("entropy", *FIRST_PAINT_STATS) if c in wanted]
    if any(c not in sketches for c in colour):
        return None
    values = {key: _numeric(table.column(key)) for key in table.column_names if key != "response"}
    sums = {("objective_abs" if key == "objective_sum" else key): (np.abs(v) if key == "objective_sum" else v)
            for key, v in values.items() if key in needs and key != "first_advantage"}
    clip_total = values.get("clip_count")
    first_advantage = values.get("first_advantage", np.full(n, np.nan))
    stats, entropy = {}, None
    for name in colour:
        per_rank = sketches[name]
        merged = ColumnSketch.merged([sketch for sketch, _ in per_rank])
        # One rank written in one part: the stats computed at write time are exact.
        stats[name] = _single(per_rank) or merged.stats()
        if name == "entropy":
            entropy = merged
    return sums, clip_total, first_advantage, stats, entropy


def _single(per_rank):
    return per_rank[0][1] if len(per_rank) == 1 and per_rank[0][1] is not None else None


def column_stats_of(entry, summary: StepSummary, names: list[str]) -> None:
    """Adds the whole-step stats of token columns `names` (numeric, not computed yet) to summary.stats."""
    missing = [n for n in names if n in summary.extra["numeric"] and n not in summary.stats]
    per_batch = max(1, READ_BATCH_BYTES // max(1, 4 * summary.token_count))
    for at in range(0, len(missing), per_batch):
        batch = whole_step_columns(entry, summary.step, missing[at:at + per_batch])
        for name in missing[at:at + per_batch]:
            summary.stats[name] = column_stats(batch.column(name).to_numpy(zero_copy_only=False))


def build_checks(entry, summary: StepSummary, metrics: dict | None, *, spec=None, whole_rollout=None) -> dict:
    """The §3 checks over the whole step (objective, loss, card relations), results only."""
    responses = response_rows(entry, summary.step)
    lazy = LazyColumns(entry, summary.step, summary.extra["numeric"], max_bytes=LAZY_CACHE_BYTES)
    try:
        checks = summary_checks(lazy, metrics, spec, summary.rows, summary.rows["token_count"], whole_rollout,
                                responses)
        checks["external"] = external_checks(entry.header, metrics)  # header-declared metric checks
        return checks
    finally:
        lazy.drop()


def summary_checks(lazy: LazyColumns, metrics, spec, rows, counts, whole_rollout, responses: pa.Table) -> dict:
    """The §3 checks over the whole step, reduced to their results (no per-token residual array)."""
    composition = list(spec.composition) if spec is not None else None
    from unipo.server.step_checks import DEFAULT_COMPOSITION
    parts = composition if composition is not None else list(DEFAULT_COMPOSITION)
    objective = objective_check(lazy, parts)
    objective.pop("objective_residual", None)
    loss = loss_check(lazy.get("weight"), lazy.get("token_objective"), metrics)
    missing = {"objective": objective.pop("missing_objective"), "loss": loss.pop("missing_loss")}
    checks = {"objective_residual": None, **objective, **loss, "missing": missing, "composition": parts}
    if spec is not None:
        checks["relations"] = _relations(spec, lazy, responses, counts, metrics, whole_rollout)
    return checks


def _relations(spec, lazy: LazyColumns, responses: pa.Table, counts, metrics, whole_rollout) -> list[dict]:
    from unipo.algorithms.stored import StoredStep
    numeric = {name: _numeric(responses.column(name)) for name in responses.column_names
               if name != "token_count" and (pa.types.is_floating(responses.column(name).type)
                                             or pa.types.is_integer(responses.column(name).type)
                                             or pa.types.is_boolean(responses.column(name).type))}
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    stored = StoredStep(tokens=lazy, responses=numeric, offsets=offsets, metrics=metrics or {},
                        whole_rollout=whole_rollout)
    found = []
    for relation in spec.relations(stored):
        item = relation.to_dict()
        if item["max_abs_residual"] is not None and not np.isfinite(item["max_abs_residual"]):
            item["max_abs_residual"] = None
        found.append(item)
    return found


def summary_payload(summary: StepSummary, metrics: dict | None, stats: list[str] | None = None) -> dict:
    """The summary route's answer: stats of the per-response keys, entropy (and entropy_rank) and of
    the token columns asked for (`stats`)."""
    rows = summary.rows
    shown = set(SORT_KEYS) | {"entropy", "entropy_rank"} | set(stats or ())
    return {
        "step": summary.step, **summary.identity,
        "metrics": metrics or {},
        "paged": True,
        "response_count": int(len(rows["response"])),
        "prompt_count": int(len(np.unique(rows["prompt"][np.isfinite(rows["prompt"])]))),
        "token_count": summary.token_count,
        "truncated_count": int(np.sum(rows["truncated"])),
        "token_columns": summary.token_columns,
        "stat_columns": [c for c in STAT_COLUMNS if c in summary.extra["numeric"]],
        "sort_keys": list(SORT_KEYS),
        # A copy first: another request may be adding a column's stats on a heavy thread.
        "stats": {name: value for name, value in dict(summary.stats).items() if name in shown},
    }

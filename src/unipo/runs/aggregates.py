"""Per-response and per-column aggregates stored with a shard at write time (docs/store.md
"Stored aggregates"), so a step summary's first paint reads no token column.

Per response: the sums a step summary shows (Σ weight, Σ |g|, clip counts, Σ weight · objective,
the first token's advantage), as extra responses.parquet columns named `AGGREGATE_PREFIX` + key
and listed in the `unipo.aggregates` metadata (readers leave them out of `responses()`).
Per token column (COLOUR_COLUMNS): count, nulls, min, max, sum and a bounded sorted sample (every
finite value up to SAMPLE_SIZE, else SAMPLE_SIZE evenly spaced order statistics, each standing for
count / SAMPLE_SIZE values). A sample of every value gives exact quantiles; merged or thinned
samples give approximate ones (the stats say `approximate`).
"""
from __future__ import annotations

import base64
import json

import numpy as np
import pyarrow as pa

AGGREGATE_PREFIX = "agg_"
AGGREGATES_KEY = b"unipo.aggregates"
TOKEN_STATS_KEY = b"unipo.token_stats"
# The token columns whose whole-step stats colour the first paint (and entropy: ranks).
COLOUR_COLUMNS = ("grad_coef", "token_objective", "entropy")
SAMPLE_SIZE = 4096
# Shards with fewer token rows store no column sketch (their footer would outweigh the scan it
# saves: a small step's summary scans its tokens in milliseconds).
MIN_SKETCH_TOKENS = 65536
QUANTILES = (0.0, 0.01, 0.02, 0.05, 0.25, 0.5, 0.75, 0.95, 0.98, 0.99, 1.0)
HISTOGRAM_BINS = 40
# Per-response keys and the token columns each needs.
SUM_KEYS = {"weight_sum": ("weight",), "grad_coef_abs_sum": ("grad_coef",),
            "objective_sum": ("weight", "token_objective"), "clip_low_count": ("clipped_low",),
            "clip_high_count": ("clipped_high",)}
CLIP_COLUMNS = ("clipped", "clipped_low", "clipped_high")


def column_stats(values: np.ndarray, *, already_sorted: bool = False) -> dict:
    """count, nulls, min, max, mean, quantiles (numpy's linear definition) and a histogram over
    [p01, p99] with the counts beyond it; None where nothing is finite. One sort of the finite
    values gives them all (the quantiles are read off it, the histogram is a binary search)."""
    values = np.asarray(values)
    if values.dtype.kind != "f":
        values = values.astype(np.float64)
    finite = values if already_sorted else values[np.isfinite(values)]
    out: dict = {"count": int(len(finite)), "nulls": int(len(values) - len(finite)) if not already_sorted else 0}
    if len(finite) == 0:
        return {**out, "min": None, "max": None, "mean": None, "quantiles": None, "histogram": None}
    position = np.asarray(QUANTILES) * (len(finite) - 1)
    low_i, high_i = np.floor(position).astype(np.int64), np.ceil(position).astype(np.int64)
    if not already_sorted:
        # The order statistics the quantiles need, without sorting everything (a 10M-token
        # column: a partition is a few times cheaper than a sort).
        finite = np.partition(finite, np.unique(np.concatenate([low_i, high_i])))
    lo, hi = finite[low_i].astype(np.float64), finite[high_i].astype(np.float64)
    qs = lo + (hi - lo) * (position - low_i)
    edges = _edges(qs)
    # Bins [e_k, e_k+1), the last one closed (numpy.histogram's bins).
    if already_sorted:
        cuts = np.searchsorted(finite, edges[:-1], side="left")
        end = np.searchsorted(finite, edges[-1], side="right")
        counts, below, above = np.diff(np.append(cuts, end)), int(cuts[0]), int(len(finite) - end)
    else:
        counts, _ = np.histogram(finite, bins=HISTOGRAM_BINS, range=(edges[0], edges[-1]))
        below, above = int(np.count_nonzero(finite < edges[0])), int(np.count_nonzero(finite > edges[-1]))
    return {**out, "min": float(qs[0]), "max": float(qs[-1]), "mean": float(np.mean(finite, dtype=np.float64)),
            "quantiles": {f"{q:g}": float(v) for q, v in zip(QUANTILES, qs)},
            "histogram": {"edges": edges.tolist(), "counts": counts.tolist(), "below": below, "above": above}}


def _edges(qs: np.ndarray) -> np.ndarray:
    low, high = float(qs[1]), float(qs[-2])
    if not high > low:
        low, high = float(qs[0]), float(qs[-1])
    if not high > low:
        high = low + 1.0
    return np.linspace(low, high, HISTOGRAM_BINS + 1)


# -- per response -------------------------------------------------------------------------------
def response_aggregates(response_ids: np.ndarray, tokens: pa.Table) -> dict[str, np.ndarray]:
    """{key: per-response value} for the responses `response_ids` (sorted) from their token rows;
    the same reductions as a step summary's scan (float64 sums of the float32 values, nulls as 0)."""
    n = len(response_ids)
    names = set(tokens.column_names)
    if "position" in names and tokens.num_rows:
        position = tokens.column("position").to_numpy(zero_copy_only=False)
        if position.min() < 0:  # placeholder rows of empty responses hold no token
            tokens = tokens.filter(pa.array(position >= 0))
    at = np.searchsorted(response_ids, tokens.column("response").to_numpy(zero_copy_only=False))
    wanted = {c for c in (*CLIP_COLUMNS, "weight", "grad_coef", "token_objective", "advantage") if c in names}
    values = {c: tokens.column(c).to_numpy(zero_copy_only=False) for c in wanted}

    def total(weights) -> np.ndarray:
        return np.bincount(at, weights=np.nan_to_num(np.asarray(weights, dtype=np.float64)), minlength=n)

    out: dict[str, np.ndarray] = {}
    if "weight" in values:
        out["weight_sum"] = total(values["weight"])
    if "grad_coef" in values:
        out["grad_coef_abs_sum"] = total(np.abs(values["grad_coef"]))
    if "weight" in values and "token_objective" in values:
        out["objective_sum"] = total(values["weight"].astype(np.float64) * values["token_objective"])
    for side in ("low", "high"):
        if f"clipped_{side}" in values:
            out[f"clip_{side}_count"] = total(values[f"clipped_{side}"] > 0)
    either = [values[c] > 0 for c in CLIP_COLUMNS if c in values]
    if either:
        out["clip_count"] = total(np.logical_or.reduce(either))
    if "advantage" in values:
        first = np.full(n, np.nan)
        where, starts = np.unique(at, return_index=True)
        first[where] = values["advantage"][starts]
        out["first_advantage"] = first
    return out


def aggregate_columns(schema: pa.Schema) -> dict[str, str]:
    """{key: stored column} of the aggregates a responses file's metadata lists ({} for none)."""
    raw = (schema.metadata or {}).get(AGGREGATES_KEY)
    return {} if raw is None else {k: AGGREGATE_PREFIX + k for k in json.loads(raw)}


# -- per token column ---------------------------------------------------------------------------
class ColumnSketch:
    """count, nulls, min, max, sum and a weighted sorted sample of one token column (mergeable)."""

    def __init__(self, count=0, nulls=0, low=None, high=None, total=0.0, values=None, weights=None):
        self.count, self.nulls, self.low, self.high, self.total = count, nulls, low, high, total
        self.values = np.zeros(0, np.float64) if values is None else values
        self.weights = np.zeros(0, np.float64) if weights is None else weights

    @classmethod
    def of(cls, column: np.ndarray) -> "ColumnSketch":
        column = np.asarray(column)
        if column.dtype.kind != "f":
            column = column.astype(np.float64)
        finite = np.sort(column[np.isfinite(column)]).astype(np.float64)
        sketch = cls(len(finite), len(column) - len(finite), float(finite[0]) if len(finite) else None,
                     float(finite[-1]) if len(finite) else None, float(np.sum(finite)), finite, np.ones(len(finite)))
        return sketch.thinned()

    @property
    def exact(self) -> bool:
        return len(self.values) == self.count and bool(np.all(self.weights == 1.0))

    def thinned(self) -> "ColumnSketch":
        """At most SAMPLE_SIZE points: the order statistics at evenly spaced cumulative weights."""
        if len(self.values) <= SAMPLE_SIZE:
            return self
        middle = np.cumsum(self.weights) - self.weights / 2
        targets = (np.arange(SAMPLE_SIZE) + 0.5) * (self.weights.sum() / SAMPLE_SIZE)
        picked = self.values[np.minimum(np.searchsorted(middle, targets), len(self.values) - 1)]
        return ColumnSketch(self.count, self.nulls, self.low, self.high, self.total, picked,
                            np.full(SAMPLE_SIZE, self.weights.sum() / SAMPLE_SIZE))

    @staticmethod
    def merged(sketches: list["ColumnSketch"]) -> "ColumnSketch":
        lows = [s.low for s in sketches if s.low is not None]
        highs = [s.high for s in sketches if s.high is not None]
        values = np.concatenate([s.values for s in sketches]) if sketches else np.zeros(0)
        weights = np.concatenate([s.weights for s in sketches]) if sketches else np.zeros(0)
        order = np.argsort(values, kind="stable")
        return ColumnSketch(sum(s.count for s in sketches), sum(s.nulls for s in sketches),
                            min(lows) if lows else None, max(highs) if highs else None,
                            float(sum(s.total for s in sketches)), values[order], weights[order])

    def stats(self) -> dict:
        """column_stats' shape; exact when the sample holds every value, else `approximate: true`
        (count, nulls, min, max and mean stay exact)."""
        if self.exact:
            found = column_stats(self.values, already_sorted=True)
            return {**found, "nulls": int(self.nulls), "mean": (self.total / self.count) if self.count else None}
        if self.count == 0:
            return column_stats(np.zeros(0))
        middle = (np.cumsum(self.weights) - self.weights / 2) / self.weights.sum()
        qs = np.interp(QUANTILES, np.r_[0.0, middle, 1.0], np.r_[self.low, self.values, self.high])
        edges = _edges(qs)
        cuts = np.searchsorted(self.values, edges[:-1], side="left")
        end = np.searchsorted(self.values, edges[-1], side="right")
        cumulative = np.r_[0.0, np.cumsum(self.weights)]
        at = np.append(cuts, end)
        counts = np.rint(np.diff(cumulative[at])).astype(np.int64)
        below, above = int(round(cumulative[cuts[0]])), int(round(cumulative[-1] - cumulative[end]))
        return {"count": int(self.count), "nulls": int(self.nulls), "min": self.low, "max": self.high,
                "mean": self.total / self.count, "approximate": True,
                "quantiles": {f"{q:g}": float(v) for q, v in zip(QUANTILES, qs)},
                "histogram": {"edges": edges.tolist(), "counts": counts.tolist(), "below": below, "above": above}}

    def ranks(self, values: np.ndarray) -> np.ndarray:
        """Whole-column rank in [0, 1] of each value (searchsorted over an exact sample, as the
        scanned ranks; interpolated over a thinned one); NaN stays NaN."""
        values = np.asarray(values, dtype=np.float64)
        out = np.full(len(values), np.nan)
        present = np.isfinite(values)
        if self.count == 0:
            return out
        if self.exact:
            sample = self.values.astype(np.float32)
            out[present] = (np.searchsorted(sample, values[present].astype(np.float32), side="left")
                            / (self.count - 1) if self.count > 1 else 0.0)
            return out
        middle = (np.cumsum(self.weights) - self.weights / 2) / self.weights.sum()
        out[present] = np.interp(values[present], np.r_[self.low, self.values, self.high], np.r_[0.0, middle, 1.0])
        return out

    def to_json(self) -> dict:
        # The sample's values are float32 column values (exactly representable); a stored sample's
        # weights are uniform (every value, or thinned), so one number says them.
        uniform = len(self.weights) and bool(np.all(self.weights == self.weights[0]))
        weights = float(self.weights[0]) if uniform else _b64(self.weights, "<f8")
        return {"count": int(self.count), "nulls": int(self.nulls), "min": self.low, "max": self.high,
                "sum": self.total, "values": _b64(self.values, "<f4"), "weights": weights}

    @classmethod
    def from_json(cls, data: dict) -> "ColumnSketch":
        values = _unb64(data["values"], "<f4")
        weights = data["weights"]
        weights = np.full(len(values), float(weights)) if isinstance(weights, (int, float)) else _unb64(weights, "<f8")
        return cls(data["count"], data["nulls"], data["min"], data["max"], data["sum"], values, weights)


def _b64(values: np.ndarray, kind: str) -> str:
    return base64.b64encode(np.asarray(values, kind).tobytes()).decode()


def _unb64(text: str, kind: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), kind).astype(np.float64)


def token_sketches(tokens: pa.Table) -> dict[str, ColumnSketch]:
    """Sketches of the COLOUR_COLUMNS a part's (raw, undecoded) token rows hold."""
    if "position" in tokens.column_names and tokens.num_rows:
        position = tokens.column("position").to_numpy(zero_copy_only=False)
        if position.min() < 0:
            tokens = tokens.filter(pa.array(position >= 0))
    return {name: ColumnSketch.of(tokens.column(name).to_numpy(zero_copy_only=False))
            for name in COLOUR_COLUMNS if name in tokens.column_names}


def sketches_of(schema: pa.Schema) -> dict[str, ColumnSketch] | None:
    raw = (schema.metadata or {}).get(TOKEN_STATS_KEY)
    return None if raw is None else {k: ColumnSketch.from_json(v) for k, v in json.loads(raw).items()}

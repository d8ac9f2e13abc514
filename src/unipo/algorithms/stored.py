"""A stored step as numpy columns, and the relations that formula cards assert about them (torch-free).

`StoredStep` is what a card's relation reads: the flat per-token columns of one update (response-major,
padding excluded), the per-response columns and the step's logged metrics. A `Relation` is one
equation of a card evaluated on those columns: it holds, fails (with the worst token), or could not be
checked (with the reason: a column not stored, a batch statistic outside this step, ...).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Stored columns are float32; a relation is recomputed in float64 from them. Eight float32 unit
# round-offs of the magnitudes involved, plus a floor for values that should be exactly zero,
# leave margin for the few roundings any term went through (see docs/algorithms.md, card proofs).
RTOL = 8 * 2.0 ** -23
ATOL = 1e-7


@dataclass
class StoredStep:
    tokens: dict[str, np.ndarray]                 # flat per-token columns, [n_tokens]
    responses: dict[str, np.ndarray]              # per-response columns, [N]
    offsets: np.ndarray                           # [N + 1] start of each response's tokens
    metrics: dict = field(default_factory=dict)
    whole_rollout: bool | None = None             # True when the step trained on its whole rollout
    drops_truncated: bool = False                 # the spec filters truncated responses out of the loss

    @property
    def num_responses(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets).astype(np.float64)

    @property
    def token_response(self) -> np.ndarray:
        return np.repeat(np.arange(self.num_responses), np.diff(self.offsets))

    @property
    def position(self) -> np.ndarray:
        return np.arange(len(self.token_response)) - np.repeat(self.offsets[:-1], np.diff(self.offsets))

    def token(self, name: str) -> np.ndarray | None:
        values = self.tokens.get(name)
        if values is None:
            return None
        values = np.asarray(values, dtype=np.float64)
        return None if values.size and np.isnan(values).all() else values

    def response(self, name: str) -> np.ndarray | None:
        values = self.responses.get(name)
        if values is None:
            return None
        values = np.asarray(values, dtype=np.float64)
        return None if values.size and np.isnan(values).all() else values

    def per_token(self, per_response: np.ndarray) -> np.ndarray:
        return np.asarray(per_response, dtype=np.float64)[self.token_response]

    def response_sum(self, per_token: np.ndarray) -> np.ndarray:
        return np.bincount(self.token_response, weights=per_token, minlength=self.num_responses)

    def response_value(self, name: str) -> np.ndarray | None:
        """A per-response value, from its response column or (constant per response) a token column."""
        found = self.response(name)
        if found is not None:
            return found
        values = self.token(name)
        if values is None or self.num_responses == 0:
            return None
        first = np.full(self.num_responses, np.nan)
        has = np.diff(self.offsets) > 0
        first[has] = values[self.offsets[:-1][has]]
        return first

    def groups(self) -> np.ndarray | None:
        group = self.responses.get("group")
        return None if group is None else np.unique(np.asarray(group), return_inverse=True)[1]

    def kept(self) -> np.ndarray:
        """Per token 1.0 where the token takes part in the loss after response filtering (truncation)."""
        truncated = self.response("truncated") if self.drops_truncated else None
        return np.ones(len(self.token_response)) if truncated is None else 1.0 - self.per_token(truncated)


@dataclass
class Relation:
    card: str
    name: str                  # the equation, in words or plain notation
    status: str                # "holds" | "fails" | "unchecked"
    checked: int = 0           # values compared
    max_abs_residual: float | None = None
    worst: int | None = None   # flat token (or response) index of the largest violation
    reason: str = ""

    @property
    def holds(self) -> bool:
        return self.status == "holds"

    def to_dict(self) -> dict:
        return {"card": self.card, "name": self.name, "status": self.status, "checked": self.checked,
                "max_abs_residual": self.max_abs_residual, "worst": self.worst, "reason": self.reason}


def unchecked(card: str, name: str, reason: str) -> Relation:
    return Relation(card, name, "unchecked", reason=reason)


def missing(card: str, name: str, *columns: str) -> Relation:
    return unchecked(card, name, "not stored: " + ", ".join(columns))


def compare(card: str, name: str, stored, expected, *, where=None, rtol: float = RTOL, atol: float = ATOL,
            scale=None) -> Relation:
    """stored ≈ expected elementwise: |stored − expected| ≤ rtol·(|stored| + |expected| + |scale|) + atol."""
    stored = np.asarray(stored, dtype=np.float64)
    expected = np.broadcast_to(np.asarray(expected, dtype=np.float64), stored.shape)
    if where is not None:
        where = np.broadcast_to(np.asarray(where, dtype=bool), stored.shape)
        stored, expected = stored[where], expected[where]
        index = np.flatnonzero(where)
    else:
        index = np.arange(stored.size)
    magnitude = np.abs(stored) + np.abs(expected)
    if scale is not None:
        s = np.broadcast_to(np.asarray(scale, dtype=np.float64), where.shape if where is not None else stored.shape)
        magnitude = magnitude + np.abs(s[where] if where is not None else s)
    with np.errstate(invalid="ignore"):
        residual = np.abs(stored - expected)
        both_nan = np.isnan(stored) & np.isnan(expected)
        bad = ~((residual <= rtol * magnitude + atol) | both_nan)
    if stored.size == 0:
        return Relation(card, name, "unchecked", reason="no value to compare in this step (all filtered out)")
    finite = np.where(np.isfinite(residual), residual, np.inf)
    worst_local = int(np.argmax(np.where(bad, finite, -1.0))) if bad.any() else int(np.argmax(finite))
    largest = float(finite[worst_local]) if np.isfinite(finite[worst_local]) else float("inf")
    return Relation(card, name, "fails" if bad.any() else "holds", int(stored.size), largest,
                    int(index[worst_local]) if bad.any() else None)


def group_mean_std(values: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per response: its group's mean, unbiased std and size."""
    count = np.bincount(groups).astype(np.float64)
    mean = np.bincount(groups, weights=values) / count
    centred = values - mean[groups]
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.sqrt(np.bincount(groups, weights=centred ** 2) / (count - 1))
    return mean[groups], std[groups], count[groups]

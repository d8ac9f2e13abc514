"""What an importer yields: the run's header, then one Step at a time (everything of one update)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Header:
    fields: dict[str, Any]                        # run.json keys this importer maps (name, task, model, ...)
    source_header: dict[str, Any] | None = None   # the source's header as given, unknown keys included
    algorithm: Any = None                         # the source's algorithm (a name or an object), mapped later
    hparams: dict[str, Any] | None = None         # the source's hyper-parameters (free-form names)


@dataclass
class Response:
    """One completion. Token arrays are aligned, one value per completion token (length L)."""
    where: str                                    # "file line N" of the record, for problems
    prompt_text: str = ""
    response_text: str = ""
    reward: float = float("nan")
    group: Any = None                             # any hashable: the prompt's group key
    prompt_index: int | None = None               # stored numbers when the source gives them (UNIPO's own log)
    group_id: int | None = None
    token_ids: np.ndarray | None = None           # int64 [L]; None: a text-only (response-level) record
    tokens: list | None = None                    # L strings (or None each) when the source decoded them
    positions: np.ndarray | None = None           # int64 [L] when the source gives them (default 0..L-1)
    floats: dict[str, np.ndarray] = field(default_factory=dict)   # stored column -> float64 [L]
    components: dict[str, float] = field(default_factory=dict)    # reward function -> value
    response_terms: dict[str, float] = field(default_factory=dict)
    truncated: bool = False
    length: int | None = None


@dataclass
class Step:
    step: int
    where: str
    responses: list[Response] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    rollout: int = 0
    epoch: int = 0
    minibatch: int = 0
    step_at: str = ""                             # location of the step number (default "<where>: step")
    # Per-token columns the source located on its own (GradLoc's culprit tokens): name -> {(response, position): value}
    marks: dict[str, dict[tuple[int, int], float]] = field(default_factory=dict)

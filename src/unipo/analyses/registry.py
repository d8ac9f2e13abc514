"""The analyses registry: each analysis declares what it reads; `run_analysis` says what is missing.

An analysis is a function of a stored step (`level="step"`, gets a StepData) or of a whole run
(`level="run"`, gets a RunData). `requires` names the step columns (or `metrics.<name>` for a
metrics.jsonl key) without which it cannot run; `optional` the ones that make it more exact. A run
lacking a required input gets `{"missing": [...], "result": null}`, never an error.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from unipo.analyses.data import RunData, StepData, RunSource

ANALYSES: dict[str, "Analysis"] = {}


@dataclass(frozen=True)
class Param:
    default: Any
    help: str
    kind: type = float
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Analysis:
    name: str
    title: str
    level: str                       # "step" | "run"
    requires: tuple[str, ...]
    optional: tuple[str, ...]
    paper: str                       # the method's citation, shown with the panel
    explanation: str                 # one paragraph, shown with the panel
    fn: Callable
    params: dict[str, Param] = field(default_factory=dict)

    def describe(self) -> dict:
        return {"name": self.name, "title": self.title, "level": self.level, "requires": list(self.requires),
                "optional": list(self.optional), "paper": self.paper, "explanation": self.explanation,
                "params": {k: {"default": p.default, "help": p.help, "min": p.min, "max": p.max}
                           for k, p in self.params.items()}}


def analysis(name: str, *, title: str, level: str, requires: tuple[str, ...], paper: str, explanation: str,
             optional: tuple[str, ...] = (), params: dict[str, Param] | None = None):
    """Register `fn(data, **params) -> dict` as an analysis."""
    if level not in ("step", "run"):
        raise ValueError(f"analysis {name!r}: level must be 'step' or 'run'")

    def register(fn):
        if name in ANALYSES:
            raise ValueError(f"analysis {name!r} is registered twice")
        ANALYSES[name] = Analysis(name, title, level, tuple(requires), tuple(optional), paper,
                                  " ".join(explanation.split()), fn, dict(params or {}))
        return fn
    return register


def _load() -> None:
    # The analyses register themselves on import.
    from unipo.analyses import (  # noqa: F401
        attribution, clip_asymmetry, difficulty, forking, length_bias, mismatch, spike_report,
    )


def catalogue() -> list[dict]:
    _load()
    return [a.describe() for a in ANALYSES.values()]


def get(name: str) -> Analysis:
    _load()
    try:
        return ANALYSES[name]
    except KeyError:
        raise KeyError(f"no analysis {name!r}; known: {', '.join(ANALYSES)}") from None


def check_params(found: Analysis, given: dict[str, Any]) -> dict[str, Any]:
    """Defaults completed, each value checked; ValueError naming the parameter otherwise."""
    unknown = sorted(set(given) - set(found.params))
    if unknown:
        raise ValueError(f"{unknown[0]}: not a parameter of analysis {found.name!r} "
                         f"(parameters: {', '.join(found.params) or 'none'})")
    values = {}
    for key, spec in found.params.items():
        value = given.get(key, spec.default)
        if value is not None:
            try:
                value = spec.kind(value)
            except (TypeError, ValueError):
                raise ValueError(f"{key}: expected a number, got {value!r}") from None
            if value != value or (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
                raise ValueError(f"{key}: expected a value in [{spec.min}, {spec.max}], got {value!r}")
        values[key] = value
    return values


def run_analysis(name: str, source: RunSource, step: int | None = None, **params) -> dict:
    """{name, title, level, paper, explanation, step, requires, missing, result}."""
    found = get(name)
    values = check_params(found, params)
    run = RunData(source)
    if found.level == "step":
        if step is None:
            raise ValueError(f"analysis {name!r} is per step: give a step")
        data: StepData | RunData = run.step(step)
    else:
        data = run
    missing = data.missing(found.requires)
    answer = {**found.describe(), "step": step, "missing": missing,
              "optional_missing": data.missing(found.optional), "result": None}
    if not missing:
        answer["result"] = found.fn(data, **values)
    return answer

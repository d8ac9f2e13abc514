"""The component registry: one self-describing descriptor per algorithm component (torch-free).

A component is one choice on one axis (a ratio, a trust region, an advantage estimator, a KL
estimator, an aggregation, a token selection rule, an advantage modifier, a per-token weight, a
reward shaping, a sample filter). Its descriptor says everything the rest of UNIPO needs to know
about it without running it:

- `compute`: "module:attribute" of the tensor code, imported only when something is computed, so
  that names, presets, hyper-parameters and formula cards load without torch;
- `card`: hp -> the formula card (LaTeX bound to stored columns), or None when it adds no card;
- `relation`: (StoredStep, hp) -> Relation results: the card's equations evaluated on the stored
  columns of a real step (tests prove every card with it; the server serves it as a check);
- `inputs`, `terms`, `level`, `batch_dependent`, `hparams`, `citation`.

Register with the `@component(...)` decorator on the card function. Built-in descriptors live in
`unipo.algorithms.components` (every module there is imported); another package registers its own
by naming a module in the `unipo.components` entry-point group, e.g. in its pyproject.toml:

    [project.entry-points."unipo.components"]
    my_estimator = "my_package.unipo_components"

Single-choice axes are selected by one hyper-parameter (AXIS_PARAMETERS); on multi-choice axes every
component whose `active(hp)` holds takes part, in registration order.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from unipo.plugins import load_plugins

ENTRY_POINT_GROUP = "unipo.components"

# Axis -> the hyper-parameter that picks its one component.
AXIS_PARAMETERS = {
    "ratio": "importance_sampling_level",
    "clip": "clip_mode",
    "advantage": "advantage_estimator",
    "kl": "kl_estimator",
    "aggregation": "loss_aggregation",
}
# Axes where any number of components can be active at once (each switched by its own parameters).
MULTI_AXES = ("reward_shaping", "sample_filter", "advantage_modifier", "token_weight", "selection",
              "entropy_control")
AXES = tuple(AXIS_PARAMETERS) + MULTI_AXES
LEVELS = ("token", "response", "sequence", "batch")


@dataclass(frozen=True)
class Component:
    axis: str
    name: str
    summary: str
    compute: str | None                      # "module:attribute"; None for a component without tensor code
    card: Callable[[dict], dict | None]
    inputs: tuple[str, ...] = ()             # stored columns / engine inputs it reads
    terms: tuple[str, ...] = ()              # per-token terms it produces
    response_terms: tuple[str, ...] = ()     # per-response terms it produces
    level: str = "token"
    batch_dependent: Callable[[dict], str | None] | None = None  # reason it needs the whole batch, or None
    hparams: dict = field(default_factory=dict)   # name -> HParam owned by this component
    active: Callable[[dict], bool] | None = None  # multi-choice axes: does it take part under hp?
    relation: Callable[[Any, dict], list] | None = None
    # numpy ∂(its term)/∂(log r or ℓ), for the relation of the push card g = −∂L/∂ℓ (clip and KL axes)
    derivative: Callable | None = None
    citation: str = ""
    rollout_side: bool = False               # runs in the engine's rollout, not in the loss

    def load(self):
        """The tensor code (imports torch on first use)."""
        found = _LOADED.get(self.compute)
        if found is None:
            if self.compute is None:
                raise ValueError(f"component {self.axis}/{self.name} has no tensor code")
            module, _, attribute = self.compute.partition(":")
            found = _LOADED[self.compute] = getattr(importlib.import_module(module), attribute)
        return found

    def is_active(self, hp: dict) -> bool:
        if self.axis in AXIS_PARAMETERS:
            return hp.get(AXIS_PARAMETERS[self.axis]) == self.name
        return bool(self.active(hp)) if self.active is not None else False

    def describe(self) -> dict:
        return {"axis": self.axis, "name": self.name, "summary": self.summary, "inputs": list(self.inputs),
                "terms": list(self.terms), "response_terms": list(self.response_terms), "level": self.level,
                "hparams": sorted(self.hparams), "citation": self.citation, "rollout_side": self.rollout_side,
                "has_relation": self.relation is not None}


_REGISTRY: dict[tuple[str, str], Component] = {}
_LOADED: dict[str, Any] = {}
_loaded = False


def component(axis: str, name: str, *, summary: str, compute: str | None = None, **details):
    """Decorator for a card function hp -> card dict (or None): registers the component."""
    if axis not in AXES:
        raise ValueError(f"component {name!r}: unknown axis {axis!r}; valid: {', '.join(AXES)}")
    if details.get("level", "token") not in LEVELS:
        raise ValueError(f"component {axis}/{name}: level must be one of {', '.join(LEVELS)}")
    if axis in MULTI_AXES and details.get("active") is None:
        raise ValueError(f"component {axis}/{name}: an `active(hp)` predicate is required on axis {axis!r}")

    def register(card: Callable[[dict], dict | None]):
        key = (axis, name)
        if key in _REGISTRY and _REGISTRY[key].card is not card:
            raise ValueError(f"component {axis}/{name} is registered twice "
                             f"({_REGISTRY[key].card.__module__} and {card.__module__})")
        _REGISTRY[key] = Component(axis=axis, name=name, summary=summary, compute=compute, card=card, **details)
        return card

    return register


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import unipo.algorithms.components as builtin
    load_plugins(builtin, ENTRY_POINT_GROUP, "component")


def components(axis: str | None = None) -> list[Component]:
    _load()
    return [c for (a, _), c in _REGISTRY.items() if axis is None or a == axis]


def names(axis: str) -> tuple[str, ...]:
    return tuple(c.name for c in components(axis))


def get(axis: str, name: str) -> Component:
    _load()
    found = _REGISTRY.get((axis, name))
    if found is None:
        raise ValueError(f"unknown {axis} component {name!r}; valid: {', '.join(names(axis))}")
    return found


def selected(axis: str, hp: dict) -> Component:
    """The component a single-choice axis uses under hp."""
    return get(axis, hp[AXIS_PARAMETERS[axis]])


def active(axis: str, hp: dict) -> list[Component]:
    """The components of an axis that take part under hp (one for single-choice axes)."""
    if axis in AXIS_PARAMETERS:
        return [selected(axis, hp)]
    return [c for c in components(axis) if c.is_active(hp)]


def in_use(hp: dict) -> list[Component]:
    """Every component the spec uses, axis by axis."""
    return [c for axis in AXES for c in active(axis, hp)]


def component_hparams() -> dict:
    """name -> HParam declared by registered components (merged into the spec's parameters)."""
    merged: dict = {}
    for c in components():
        for name, spec in c.hparams.items():
            if name in merged and merged[name] != spec:
                raise ValueError(f"hyper-parameter {name!r} is declared differently by two components")
            merged[name] = spec
    return merged

"""The run's own algorithm as a spec (torch-free), and what a stored step says about its rollout."""
from __future__ import annotations


import numpy as np
import pyarrow as pa


# Keys under which imported headers (canonical export, TRL-style logs) keep hyper-parameters.
HPARAM_KEYS = ("hparams", "hyperparameters")


class AlgorithmError(ValueError):
    """A run's header algorithm cannot be rebuilt or mapped onto a preset (the message says why)."""


class HeaderAlgorithm:
    """A header's algorithm as a spec, and how it was obtained.

    `source`: "header" (a unipo-algorithm/1 spec, rebuilt exactly) or "preset" (`{name,
    hyperparameters}` without a format, e.g. an imported run: the preset of that name with the
    hyper-parameters it knows); `ignored`: {hyper-parameter: why it was not applied}."""

    def __init__(self, spec, source: str, ignored: dict[str, str], notes: list[str]):
        self.spec, self.source, self.ignored, self.notes = spec, source, ignored, notes


def header_algorithm(stored) -> HeaderAlgorithm:
    """The spec of a header's `algorithm` value; AlgorithmError (with the reason) when there is none."""
    from unipo.algorithms import AlgorithmSpec, get_preset, list_presets
    from unipo.algorithms.spec import SPEC_FORMAT

    if not isinstance(stored, dict):
        raise AlgorithmError(f"expected an object, got {type(stored).__name__}")
    if "format" in stored:
        try:
            return HeaderAlgorithm(AlgorithmSpec.from_dict(stored), "header", {}, [])
        except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
            raise AlgorithmError(str(exc)) from None
    name = stored.get("name")
    presets = [info.name for info in list_presets()]
    preset = name.strip().lower().replace("-", "_") if isinstance(name, str) else None
    if preset not in presets:
        raise AlgorithmError(f"no format {SPEC_FORMAT!r} and name {name!r} is not a preset "
                             f"(presets: {', '.join(presets)})")
    given = next((stored[key] for key in HPARAM_KEYS if isinstance(stored.get(key), dict)), {})
    known = set(get_preset(preset).hparams)
    ignored = {key: "not a UNIPO hyper-parameter" for key in given if key not in known}
    applied = {}
    for key, value in given.items():
        if key not in known:
            continue
        try:
            get_preset(preset, **applied, **{key: value})
        except (ValueError, TypeError, ArithmeticError) as exc:
            ignored[key] = f"not applied: {exc}"
        else:
            applied[key] = value
    notes = [f"the header has no {SPEC_FORMAT!r} spec: described as the {preset!r} preset"
             + (f" with {', '.join(sorted(applied))} from the header" if applied else "")]
    if ignored:
        notes.append(f"not applied from the header: {', '.join(sorted(ignored))}")
    return HeaderAlgorithm(get_preset(preset, **applied), "preset", ignored, notes)


_specs: dict[bytes, object] = {}


def _spec_from_stored(key: bytes, stored: dict):
    if key not in _specs:
        if len(_specs) > 256:
            _specs.clear()
        try:
            _specs[key] = header_algorithm(stored).spec
        except AlgorithmError:
            _specs[key] = None
    return _specs[key]


def run_spec(header: dict):
    """The header's AlgorithmSpec (rebuilt, or mapped onto a preset), or None when there is none."""
    stored = header.get("algorithm") if isinstance(header, dict) else None
    if not isinstance(stored, dict):
        return None
    from unipo.server.algorithm_catalog import algorithm_key
    return _spec_from_stored(algorithm_key(stored), stored)


def step_is_whole_rollout(table: pa.Table, header: dict) -> bool | None:
    """True when the step trained on every group of its rollout (one mini-batch), None if unknown."""
    config = header.get("config") if isinstance(header.get("config"), dict) else {}
    groups_here = len(np.unique(table.column("prompt").to_numpy())) if "prompt" in table.column_names else None
    if isinstance(config.get("prompts_per_step"), int) and groups_here is not None:
        return groups_here >= config["prompts_per_step"]
    if isinstance(config.get("minibatches"), int):
        return config["minibatches"] == 1
    return None

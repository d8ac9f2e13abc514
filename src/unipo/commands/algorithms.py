"""`unipo algorithms [NAME] [--set key=value ...] [--components] [--json]`: list presets, list every
registered component, or show one preset's components, composition, hyper-parameters and formula.

Torch-free: names, components, cards and compositions are plain Python (unipo.algorithms.registry)."""
from __future__ import annotations

import argparse
import json

from unipo.errors import UnipoError


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("algorithms", help="list algorithm presets or components, or explain one preset",
                                   description="List the algorithm presets, list every registered component "
                                               "(--components), or show one preset's components, composition, "
                                               "hyper-parameters and formula.")
    parser.add_argument("name", nargs="?", help="preset to explain (omit to list all)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a hyper-parameter, e.g. --set epsilon_high=0.3 (repeatable)")
    parser.add_argument("--components", action="store_true",
                        help="list every registered component, grouped by axis (built-in and plug-ins)")
    parser.add_argument("--json", action="store_true", help="print as JSON")
    return parser


def run(args) -> int:
    from unipo.algorithms import get_preset, list_presets

    if args.components:
        if args.name or args.overrides:
            raise UnipoError("--components lists every component; give it without a preset name or --set")
        print(json.dumps(components_json(), indent=2) if args.json else describe_components())
        return 0
    if not args.name:
        presets = list_presets()
        if args.json:
            print(json.dumps([{"name": p.name, "summary": p.summary} for p in presets], indent=2))
            return 0
        width = max(len(p.name) for p in presets)
        for preset in presets:
            print(f"{preset.name:<{width}}  {preset.summary}")
        return 0
    try:
        algo = get_preset(args.name, **_parse_overrides(args.overrides))
    except ValueError as exc:
        raise UnipoError(str(exc)) from exc
    if args.json:
        print(json.dumps({**algo.to_dict(), "summary": algo.summary,
                          "components": [{"axis": c.axis, "name": c.name, "level": c.level, "summary": c.summary}
                                         for c in algo.components],
                          "composition": algo.composition, "batch_dependent": algo.batch_dependent(),
                          "formula": algo.formula.to_dict()}, indent=2))
    else:
        print(describe(algo))
    return 0


def _parse_overrides(items: list[str]) -> dict:
    overrides = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UnipoError(f"--set: expected KEY=VALUE, got {item!r}")
        overrides[key.strip()] = _parse_value(text.strip())
    return overrides


def _parse_value(text: str):
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def composition_text(parts: list[dict]) -> str:
    """[{"term", "sign"}] as `o = surrogate − kl_penalty + entropy_bonus`."""
    text = ""
    for i, part in enumerate(parts):
        if i == 0:
            text = part["term"] if part["sign"] > 0 else f"−{part['term']}"
        else:
            text += f" {'+' if part['sign'] > 0 else '−'} {part['term']}"
    return f"o = {text}"


def describe(algo) -> str:
    from unipo.algorithms.registry import AXIS_PARAMETERS

    hp = algo.hparams
    choosers = set(AXIS_PARAMETERS.values())  # shown as components, not again as hyper-parameters
    used = algo.components
    axis_width = max(len(c.axis) for c in used)
    name_width = max(len(c.name) for c in used)
    lines = [f"{algo.name}: {algo.summary}", "", "Components:"]
    for c in used:
        unused = " (unused: beta = 0 and kl_coef = 0)" if c.axis == "kl" and not algo.uses_reference else ""
        lines.append(f"  {c.axis:<{axis_width}}  {c.name:<{name_width}}  {c.summary}{unused}")
    lines += ["", "Composition (per token):", f"  {composition_text(algo.composition)}", ""]
    reasons = algo.batch_dependent()
    if reasons:
        lines += ["Batch-dependent (a step holding part of its rollout cannot reproduce these exactly):"]
        lines += [f"  - {reason}" for reason in reasons]
    else:
        lines += ["Batch-dependent: none declared by its components"]
    lines += ["", f"  {'uses_reference':<26} {algo.uses_reference}", f"  {'uses_values':<26} {algo.uses_values}",
              f"  {'token_level_advantages':<26} {algo.token_level_advantages}", "", "Hyper-parameters:"]
    lines += [f"  {name:<26} {value}" for name, value in hp.items() if name not in choosers]
    lines += ["", "Formula (one card per axis; LaTeX):"]
    for card in algo.formula.cards:
        lines += [f"  [{card['id']}] {card['title']}  ({card['variant']})",
                  f"    {_plain_latex(card['latex'])}", f"    {card['explanation']}"]
    return "\n".join(lines)


def _axis_heading(axis: str) -> str:
    from unipo.algorithms.hparams import CORE_HPARAMS
    from unipo.algorithms.registry import AXIS_PARAMETERS

    if axis in AXIS_PARAMETERS:
        parameter = AXIS_PARAMETERS[axis]
        return f"{axis}  (one, chosen by {parameter}; default {CORE_HPARAMS[parameter].default})"
    return f"{axis}  (any number; each takes part when its own parameters switch it on)"


def _hparam_text(name: str, spec) -> str:
    bounds = []
    if spec.minimum is not None:
        bounds.append(f"≥ {spec.minimum:g}")
    if spec.maximum is not None:
        bounds.append(f"≤ {spec.maximum:g}")
    choices = f"; one of {', '.join(map(str, spec.choices))}" if isinstance(spec.choices, tuple) else ""
    extra = f" ({', '.join(bounds)}{choices})" if bounds else (f" ({choices[2:]})" if choices else "")
    return f"{name} = {spec.default}{extra}: {spec.description}"


def describe_components() -> str:
    from unipo.algorithms import registry

    lines: list[str] = []
    for axis in registry.AXES:
        found = registry.components(axis)
        if not found:
            continue
        if lines:
            lines.append("")
        lines.append(_axis_heading(axis))
        width = max(len(c.name) for c in found)
        for c in found:
            flags = c.level + (", rollout-side" if c.rollout_side else "")
            lines.append(f"  {c.name:<{width}}  [{flags}]  {c.summary}")
            pad = " " * (width + 4)
            for name, spec in c.hparams.items():
                lines.append(f"{pad}hparam {_hparam_text(name, spec)}")
            if c.citation:
                lines.append(f"{pad}cite   {c.citation}")
            origin = c.card.__module__
            if not origin.startswith("unipo.algorithms.components."):
                lines.append(f"{pad}from   {origin}")
    return "\n".join(lines)


def _kind_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return "|".join("none" if k is None else k.__name__ for k in kinds)


def components_json() -> list[dict]:
    from unipo.algorithms import registry

    out = []
    for axis in registry.AXES:
        for c in registry.components(axis):
            entry = c.describe()
            entry["hparams"] = {name: {"default": spec.default, "description": spec.description,
                                       "choices": list(spec.choices) if isinstance(spec.choices, tuple) else spec.choices,
                                       "kind": _kind_name(spec.kind), "minimum": spec.minimum, "maximum": spec.maximum}
                                for name, spec in c.hparams.items()}
            entry["chosen_by"] = registry.AXIS_PARAMETERS.get(axis)
            entry["module"] = c.card.__module__
            out.append(entry)
    return out


def _plain_latex(latex: str) -> str:
    """Drop the \\htmlClass{t-key}{...} wrappers, which only matter to the web app."""
    out, i = [], 0
    marker = "\\htmlClass{"
    while i < len(latex):
        if latex.startswith(marker, i):
            i = latex.index("}", i) + 1  # skip the class argument; the body's braces stay balanced
            continue
        out.append(latex[i])
        i += 1
    return "".join(out)

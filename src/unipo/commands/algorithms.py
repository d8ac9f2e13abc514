"""`unipo algorithms [NAME] [--set key=value ...]`: list presets, or show one preset's components,
hyper-parameters and formula."""
from __future__ import annotations

import argparse
import json

from unipo.errors import UnipoError


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("algorithms", help="list algorithm presets or explain one",
                                   description="List the algorithm presets, or show one preset's components, "
                                               "hyper-parameters and formula.")
    parser.add_argument("name", nargs="?", help="preset to explain (omit to list all)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a hyper-parameter, e.g. --set epsilon_high=0.3 (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the spec and formula as JSON")
    return parser


def run(args) -> int:
    from unipo.algorithms import get_preset, list_presets

    if not args.name:
        presets = list_presets()
        width = max(len(p.name) for p in presets)
        for preset in presets:
            print(f"{preset.name:<{width}}  {preset.summary}")
        return 0
    try:
        algo = get_preset(args.name, **_parse_overrides(args.overrides))
    except ValueError as exc:
        raise UnipoError(str(exc)) from exc
    if args.json:
        print(json.dumps({**algo.to_dict(), "summary": algo.summary, "formula": algo.formula.to_dict()}, indent=2))
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


_COMPONENTS = ("importance_sampling_level", "clip_mode", "advantage_estimator", "loss_aggregation")


def describe(algo) -> str:
    hp = algo.hparams
    lines = [f"{algo.name}: {algo.summary}", "", "Components:"]
    lines += [f"  {name:<26} {hp[name]}" for name in _COMPONENTS]
    lines += [f"  {'uses_reference':<26} {algo.uses_reference}", f"  {'uses_values':<26} {algo.uses_values}",
              f"  {'token_level_advantages':<26} {algo.token_level_advantages}", "", "Hyper-parameters:"]
    lines += [f"  {name:<26} {value}" for name, value in hp.items() if name not in _COMPONENTS]
    lines += ["", "Formula (one card per axis; LaTeX):"]
    for card in algo.formula.cards:
        lines += [f"  [{card['id']}] {card['title']}  ({card['variant']})",
                  f"    {_plain_latex(card['latex'])}", f"    {card['explanation']}"]
    return "\n".join(lines)


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

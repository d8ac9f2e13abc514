"""A source's algorithm (a string such as "grpo", or an object) and free-form hyper-parameters -> a
UNIPO algorithm spec for run.json, with what was mapped, what was not given and what was not applied."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALIASES = {"drgrpo": "dr_grpo", "dr.grpo": "dr_grpo", "reinforce++": "reinforce_pp",
           "reinforce_plus_plus": "reinforce_pp", "reinforcepp": "reinforce_pp", "reinforce_baseline": "reinforce"}
# Hyper-parameters whose value a preset takes from the source when it gives them (the rest are kept
# as the run's config, shown in its details, but change no formula).
KEY_HPARAMS = ("epsilon", "epsilon_high", "beta", "kl_coef", "kl_estimator", "gamma", "lam", "entropy_coef")


@dataclass
class MappedAlgorithm:
    spec: dict | None                          # unipo-algorithm/1 dict, or None when unmapped
    source: dict[str, Any] = field(default_factory=dict)   # what run.json keeps as algorithm_source
    notes: list[str] = field(default_factory=list)


def preset_name(name: str) -> str | None:
    from unipo.algorithms.presets import PRESETS
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key, key)
    return key if key in PRESETS else None


def _translate(hparams: dict[str, Any], preset: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Source names -> UNIPO names (clip_eps [low, high] -> epsilon/epsilon_high, kl_coef -> beta when
    the KL is in the loss); {source key: why not} for those that are not algorithm settings."""
    out: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    kl_in_loss = preset.get("kl_estimator", "k3") != "k1" or hparams.get("use_kl_loss") is True
    for key, value in hparams.items():
        if key in ("clip_eps", "clip_range", "cliprange", "epsilon", "eps_clip"):
            if isinstance(value, list) and len(value) == 2:
                out["epsilon"], out["epsilon_high"] = value
            else:
                out["epsilon"] = value
        elif key in ("epsilon_high", "clip_eps_high"):
            out["epsilon_high"] = value
        elif key in ("kl_coef", "init_kl_coef", "beta", "kl_beta"):
            if value is not None:
                out["beta" if kl_in_loss and preset.get("kl_estimator") != "k1" else "kl_coef"] = value
        elif key in ("kl_estimator", "gamma", "entropy_coef"):
            out[key] = value
        elif key in ("lam", "gae_lambda", "lambd", "lambda"):
            out["lam"] = value
        else:
            skipped[key] = "kept in the run's config (not an algorithm setting)"
    return out, skipped


def map_algorithm(algorithm: Any, hparams: dict[str, Any] | None, override: str | None = None) -> MappedAlgorithm:
    from unipo.algorithms import get_preset
    from unipo.algorithms.presets import PRESETS, preset_overrides
    from unipo.algorithms.spec import SPEC_FORMAT

    if override is None and isinstance(algorithm, dict) and algorithm.get("format") == SPEC_FORMAT:
        return MappedAlgorithm(algorithm)  # a UNIPO spec: kept exactly
    name = override or (algorithm.get("name") if isinstance(algorithm, dict) else algorithm)
    given = dict(hparams or {})
    if isinstance(algorithm, dict):
        for key in ("hparams", "hyperparameters"):
            if isinstance(algorithm.get(key), dict):
                given = {**algorithm[key], **given}
    source = {"name": algorithm if not isinstance(algorithm, dict) else algorithm.get("name")}
    if not isinstance(name, str) or not name.strip():
        return MappedAlgorithm(None, source, ["the source names no algorithm: formula cards and what-ifs need "
                                              "--algorithm PRESET"])
    preset = preset_name(name)
    if preset is None:
        return MappedAlgorithm(None, source, [f"algorithm {name!r} is not a UNIPO preset ({', '.join(PRESETS)}): "
                                              "formula cards and what-ifs need --algorithm PRESET"])
    translated, skipped = _translate(given, preset_overrides(preset))
    applied: dict[str, Any] = {}
    not_applied: dict[str, str] = {}
    for key, value in translated.items():
        try:
            get_preset(preset, **applied, **{key: value})
        except (ValueError, TypeError, ArithmeticError, KeyError) as exc:
            not_applied[key] = str(exc)
        else:
            applied[key] = value
    spec = get_preset(preset, **applied)
    not_given = [key for key in KEY_HPARAMS if key not in applied and key in _relevant(spec.hparams)]
    source.update({"preset": preset, "applied": applied, "not_given": not_given,
                   "not_applied": {**not_applied, **skipped}})
    notes = [f"algorithm {name!r} -> preset {preset!r}" + (f" with {', '.join(sorted(applied))} from the source"
                                                          if applied else "")]
    if not_given:
        notes.append("hyper-parameters the source does not give (preset defaults used): "
                     + ", ".join(f"{key}={spec.hparams[key]!r}" for key in not_given))
    for key, why in not_applied.items():
        notes.append(f"{key}: not applied ({why})")
    return MappedAlgorithm(spec.to_dict(), source, notes)


def _relevant(hp: dict[str, Any]) -> set[str]:
    """The key hyper-parameters this spec's formula actually reads."""
    relevant = set()
    if hp.get("clip_mode") not in (None, "none"):
        relevant |= {"epsilon", "epsilon_high"}
    if hp.get("beta"):
        relevant |= {"beta", "kl_estimator"}
    if hp.get("kl_coef"):
        relevant |= {"kl_coef", "kl_estimator"}
    if hp.get("advantage_estimator") == "gae":
        relevant |= {"gamma", "lam"}
    return relevant

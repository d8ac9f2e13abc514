"""AlgorithmSpec: a named choice on every axis plus its hyper-parameters, and the entry points
the engine and the server call (advantages, objective, value_loss, formula, recompute).

Torch-free: describing a spec (its components, formula, composition, needs) loads no tensor code;
the compute methods import it on first use."""
from __future__ import annotations

from typing import Any

from unipo.algorithms import registry
from unipo.algorithms.composition import composition
from unipo.algorithms.formula import Formula, build_formula, kl_in_loss, kl_in_reward
from unipo.algorithms.hparams import validate_hparams
from unipo.algorithms.presets import PRESETS, preset_overrides

SPEC_FORMAT = "unipo-algorithm/1"


class AlgorithmSpec:
    """Compose by hand with AlgorithmSpec(name="custom", **hparams) or start from get_preset()."""

    def __init__(self, name: str = "custom", **hparams: Any):
        self.name = name
        self.hparams = validate_hparams(hparams)
        self.formula: Formula = build_formula(self.hparams)
        self._advantage_state: dict = {}  # moving-average baseline; not part of the spec's identity

    @property
    def summary(self) -> str:
        return PRESETS[self.name][0] if self.name in PRESETS else "Custom composition of components."

    @property
    def uses_reference(self) -> bool:
        return kl_in_loss(self.hparams) or kl_in_reward(self.hparams)

    @property
    def uses_values(self) -> bool:
        return self.hparams["advantage_estimator"] == "gae"

    @property
    def token_level_advantages(self) -> bool:
        return registry.selected("advantage", self.hparams).level == "token"

    @property
    def components(self) -> list:
        """Every registered component this spec uses (registry.Component descriptors)."""
        return registry.in_use(self.hparams)

    @property
    def composition(self) -> list[dict]:
        """o = Σ sign·term: [{"term", "sign"}] (what the step checks verify and the UI draws)."""
        return composition(self.hparams)

    def batch_dependent(self) -> list[str]:
        """Why this spec's terms need responses outside one prompt group (empty: per group only)."""
        reasons = []
        for component in self.components:
            reason = component.batch_dependent(self.hparams) if component.batch_dependent else None
            if reason and reason not in reasons:
                reasons.append(reason)
        if self.hparams["normalize_advantages"] and not self.token_level_advantages:
            reasons.append("normalize_advantages whitens over the whole batch")
        return reasons

    def relations(self, step) -> list:
        """Every card's equations evaluated on a StoredStep (stored.Relation each)."""
        from unipo.algorithms.composition import grad_coef_relation, token_objective_relation
        step.drops_truncated = bool(self.hparams["mask_truncated_completions"])
        found = token_objective_relation(step, self.hparams) + grad_coef_relation(step, self.hparams)
        for component in self.components:
            if component.relation is not None:
                found += component.relation(step, self.hparams)
        return found

    def advantages(self, rewards, group_ids, **inputs):
        """[N] or [N, T] advantages; see advantage_details for the intermediate values."""
        return self.advantage_details(rewards, group_ids, **inputs).advantages

    def advantage_details(self, rewards, group_ids, *, mask=None, values=None, logprobs=None,
                          ref_logprobs=None, token_ids=None, entropies=None, baseline_rewards=None):
        from unipo.algorithms.advantages import compute_advantages
        return compute_advantages(self.hparams, self._advantage_state, rewards, group_ids, mask=mask,
                                  values=values, logprobs=logprobs, ref_logprobs=ref_logprobs,
                                  token_ids=token_ids, entropies=entropies, baseline_rewards=baseline_rewards)

    def objective(self, logprobs, old_logprobs, mask, *, advantages, ref_logprobs=None, entropies=None,
                  values=None, truncated=None, num_items_in_batch=None, sampling_logprobs=None, token_ids=None,
                  entropy_coef=None):
        """Step loss and every per-token term (contracts §1).

        truncated: [N] bool, the response hit the length limit (needed by mask_truncated_completions).
        num_items_in_batch: completion tokens of the whole batch the "token-mean" aggregation divides
        by (TRL's dapo/cispo normaliser under gradient accumulation); defaults to this micro-batch's.
        `values` is accepted for symmetry and unused: the critic's loss is value_loss().
        """
        from unipo.algorithms.objective import compute_objective
        if entropy_coef is None and self.hparams.get("adaptive_entropy"):
            from unipo.algorithms.entropy_control import current_entropy_coef
            entropy_coef = current_entropy_coef(self._advantage_state, self.hparams)
        return compute_objective(self.hparams, logprobs, old_logprobs, mask, advantages,
                                 ref_logprobs=ref_logprobs, entropies=entropies, truncated=truncated,
                                 num_items_in_batch=num_items_in_batch, sampling_logprobs=sampling_logprobs,
                                 entropy_coef=entropy_coef)

    def after_update(self, terms: dict, entropies) -> dict[str, float]:
        """Advance the spec's state after an optimizer step (adaptive entropy control); its metrics."""
        if not self.hparams.get("adaptive_entropy"):
            return {}
        from unipo.algorithms.entropy_control import next_entropy_coef, window_entropy
        selected = terms.get("selected")
        measured = window_entropy(entropies, selected)
        return {"entropy_coef_next": float(next_entropy_coef(self._advantage_state, measured, self.hparams))}

    def value_loss(self, values, old_values, returns, mask):
        if not self.uses_values:
            raise ValueError(f"value_loss: algorithm '{self.name}' has no critic "
                             f"(advantage_estimator={self.hparams['advantage_estimator']!r})")
        from unipo.algorithms.value import clipped_value_loss
        return clipped_value_loss(values, old_values, returns, mask, cliprange_value=self.hparams["cliprange_value"],
                                  vf_coef=self.hparams["vf_coef"])

    def to_dict(self) -> dict:
        return {"format": SPEC_FORMAT, "name": self.name, "hparams": dict(self.hparams)}

    @classmethod
    def from_dict(cls, data: dict) -> "AlgorithmSpec":
        if not isinstance(data, dict) or data.get("format") != SPEC_FORMAT:
            raise ValueError(f"algorithm: expected a dict with format {SPEC_FORMAT!r}, got {data!r:.200}")
        if not isinstance(data.get("hparams"), dict) or not isinstance(data.get("name"), str):
            raise ValueError("algorithm: expected keys 'name' (str) and 'hparams' (dict)")
        return cls(data["name"], **data["hparams"])

    def __eq__(self, other) -> bool:
        return isinstance(other, AlgorithmSpec) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"AlgorithmSpec(name={self.name!r}, hparams={self.hparams!r})"


def get_preset(name: str, **overrides: Any) -> AlgorithmSpec:
    """A named preset, with any hyper-parameter overridden; unknown names raise ValueError."""
    return AlgorithmSpec(name, **{**preset_overrides(name), **overrides})

"""Every formula card is proven on the stored columns of real steps.

Each preset trains on the tiny random model with the real engine (2 epochs × 2 mini-batches, so
ratios move and clipping can fire); every stored step is read back from Parquet and every card's
relation (registry descriptors: `AlgorithmSpec.relations`) is evaluated by the server's own code,
as `/api/runs/{id}/steps/{n}` serves it. No relation may fail; one that cannot be checked must say
why. Every registered component must be covered by a preset or by EXTRA_SPECS below.
"""
import pytest
from engine_helpers import make_trainer, small_config

from unipo.algorithms import get_preset, list_presets, registry
from unipo.runs import RunReader
from unipo.server.run_algorithm import run_spec, step_is_whole_rollout
from unipo.server.step_payload import step_payload

# Inputs the engine produces (for a component that needs them: rollout entropies, ReMax's greedy
# baseline, the generation's own log-probs); a component needing anything else is proven on
# recomputed steps in tests/algorithms only.
ENGINE_INPUTS = {"logprob", "old_logprob", "ref_logprob", "mask", "ratio", "advantage", "reward", "group",
                 "entropy", "value", "truncated", "response_length", "token_id", "log_ratio", "sampling_logprob", "baseline_rewards", "context"}

# Specs that switch on components no preset uses, so that every card is proven somewhere.
EXTRA_SPECS = {
    "grpo+k1-in-loss": ("grpo", {"kl_estimator": "k1"}),
    "grpo+k2-in-loss": ("grpo", {"kl_estimator": "k2"}),
    "grpo+batch-scale": ("grpo", {"scale_rewards": "batch", "beta": 0.0}),
    "rloo+whitened": ("rloo", {"normalize_advantages": True}),
    "reinforce_pp_baseline": ("reinforce_pp", {"advantage_estimator": "reinforce_pp_baseline"}),
    "ppo+dual-clip": ("ppo", {"delta": 3.0}),
    "seq-token-sum": ("grpo", {"loss_aggregation": "seq-mean-token-sum", "beta": 0.0}),
    "reinforce+moving-average": ("reinforce", {"reinforce_baseline": "moving_average"}),
    # The engine's generation log-probs (KV-cache sampling) against its full-forward scores.
    "dapo+token-truncate-is": ("dapo", {"is_correction": "importance_sampling",
                                        "vllm_importance_sampling_mode": "token_truncate"}),
    "grpo+sequence-mask-is": ("grpo", {"is_correction": "importance_sampling",
                                       "vllm_importance_sampling_mode": "sequence_mask"}),
}


def _needs(spec) -> set:
    return {name for component in spec.components for name in component.inputs}


def _cases():
    cases = {p.name: (p.name, {}) for p in list_presets()}
    cases["gfpo"] = ("gfpo", {"gfpo_keep": 2})  # groups of 4 here: keep the best 2
    cases.update(EXTRA_SPECS)
    return cases


CASES = _cases()


def _engine_can_run(name):
    preset, overrides = CASES[name]
    return _needs(get_preset(preset, **overrides)) <= ENGINE_INPUTS


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_card_holds_on_stored_steps(tmp_path, case):
    preset, overrides = CASES[case]
    spec = get_preset(preset, **overrides)
    if not _engine_can_run(case):
        pytest.skip(f"{case} needs {sorted(_needs(spec) - ENGINE_INPUTS)}, which the engine does not produce "
                    "(proven on recomputed steps in tests/algorithms)")
    # 16 new tokens: most random-model responses end (EOS) before the limit, so truncation filters
    # leave tokens to check.
    config = small_config(algo=preset, algo_params=overrides, steps=4, epochs=2, minibatches=2,
                          prompts_per_step=2, group_size=4, max_new_tokens=16)
    make_trainer(tmp_path / case, config).run()
    reader = RunReader(tmp_path / case)
    rebuilt = run_spec(reader.header)
    assert rebuilt == get_preset(preset, **{**overrides, "max_completion_length": config.max_new_tokens})
    metrics = reader.metrics()
    seen: dict[str, set] = {}
    for index, step in enumerate(reader.steps()):
        table = reader.step(step, include_empty_responses=True)
        row = {name: values[index] for name, values in metrics.items()}
        payload = step_payload(table, step, row, spec=rebuilt, whole_rollout=step_is_whole_rollout(table, reader.header))
        relations = payload["checks"]["relations"]
        failed = [r for r in relations if r["status"] == "fails"]
        assert not failed, f"step {step}: {failed}"
        for relation in relations:
            seen.setdefault(relation["card"], set()).add(relation["status"])
            if relation["status"] == "unchecked":
                assert relation["reason"], relation
    cards = {card["id"] for card in rebuilt.formula.cards}
    # Every card but the critic's (its current values are not stored) is proven on at least one step.
    proven = {card for card, statuses in seen.items() if "holds" in statuses}
    assert cards - {"value"} <= proven, f"cards never proven: {sorted(cards - {'value'} - proven)}; seen {seen}"


def test_every_registered_component_is_covered_and_has_a_relation():
    covered = set()
    for preset, overrides in CASES.values():
        covered |= {(c.axis, c.name) for c in get_preset(preset, **overrides).components}
    registered = {(c.axis, c.name) for c in registry.components()}
    assert registered - covered == set(), "components no preset or EXTRA_SPECS entry uses"
    without = [(c.axis, c.name) for c in registry.components() if c.relation is None]
    assert without == [], "cards without a relation"

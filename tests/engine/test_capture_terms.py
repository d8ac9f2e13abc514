"""The advantage estimator's intermediates are stored as step columns under the names the formula
cards bind to (algo.advantage_details(...).terms), per-response values repeated on each token."""
import numpy as np
import pytest
from engine_helpers import make_trainer, small_config

from unipo.algorithms import get_preset
from unipo.runs import RunReader

EXPECTED = {
    "grpo": {"group_mean", "group_std", "advantage_scale"},
    "dr_grpo": {"group_mean", "group_std", "advantage_scale"},
    "reinforce": {"baseline"},
    "rloo": {"group_mean", "group_std", "baseline", "kl_reward", "shaped_reward"},
    "ppo": {"token_reward", "td_error", "kl_reward"},
}


def stored_fields(preset):
    """Every `field` the preset's formula binds to."""
    return {term["field"] for card in get_preset(preset).formula.to_dict()["cards"] for term in card["terms"]
            if term["field"]}


@pytest.mark.parametrize("preset", sorted(EXPECTED))
def test_advantage_terms_are_stored_columns(tmp_path, preset):
    config = small_config(algo=preset, steps=2, epochs=1, minibatches=2, prompts_per_step=2, group_size=3)
    make_trainer(tmp_path / preset, config).run()
    reader = RunReader(tmp_path / preset)
    table = reader.step(1).to_pydict()
    assert EXPECTED[preset] <= set(table), EXPECTED[preset] - set(table)
    # Nothing the formula binds to is missing from the stored step.
    assert stored_fields(preset) <= set(table), stored_fields(preset) - set(table)
    responses = np.array(table["response"])
    for name in EXPECTED[preset] & {"group_mean", "group_std", "advantage_scale", "baseline", "shaped_reward"}:
        values = np.array(table[name], dtype=np.float64)
        for r in set(responses.tolist()):
            assert len(set(values[responses == r].tolist())) == 1, f"{name} must be constant within a response"


def test_stored_group_terms_reproduce_the_stored_advantage(tmp_path):
    config = small_config(algo="grpo", steps=1, prompts_per_step=3, group_size=4)
    make_trainer(tmp_path / "run", config).run()
    table = RunReader(tmp_path / "run").step(1).to_pydict()
    reward, mean, std, adv = (np.array(table[k], dtype=np.float64) for k in ("reward", "group_mean", "group_std", "advantage"))
    eps = get_preset("grpo").hparams["advantage_epsilon"]
    expected = np.where(std > 0, (reward - mean) / (std + eps), 0.0)
    assert np.allclose(adv, expected, atol=1e-5)

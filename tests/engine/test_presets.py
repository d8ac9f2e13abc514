"""Every preset trains on a tiny random model; the stored tokens reproduce the loss it backpropagated."""
import numpy as np
import pytest
from engine_helpers import make_trainer, small_config

from unipo.algorithms import list_presets
from unipo.runs import RunReader

PRESETS = [p.name for p in list_presets()]
# The tiny test rollouts have groups of 3 and a random model: GFPO keeps 2 of them, and GTPO's
# entropy filter (τ_H = 0.7 nats, for trained models) would zero every advantage of a random model.
TEST_PARAMS = {"gfpo": {"gfpo_keep": 2}, "gtpo": {"gtpo_entropy_threshold": 10.0}}


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_trains_and_logged_terms_aggregate_to_the_loss(tmp_path, preset):
    # 2 epochs × 2 mini-batches: ratios move after the first update, so clipping can fire.
    config = small_config(algo=preset, steps=4, epochs=2, minibatches=2, prompts_per_step=2, group_size=3,
                          algo_params=TEST_PARAMS.get(preset, {}))
    make_trainer(tmp_path / preset, config).run()
    reader = RunReader(tmp_path / preset)
    assert reader.steps() == [1, 2, 3, 4]
    metrics = reader.metrics()
    for index, step in enumerate(reader.steps()):
        table = reader.step(step).to_pydict()
        weight = np.array(table["weight"], dtype=np.float64)
        objective = np.array(table["token_objective"], dtype=np.float64)
        # Invariant 1: the policy loss is the weighted sum of the logged per-token objectives.
        assert metrics["policy_loss"][index] == pytest.approx(-(weight * objective).sum(), rel=1e-4, abs=1e-6)
        assert set(table["rollout"]) == {0 if step <= 4 else 1}
    first = reader.step(1).to_pydict()
    # First mini-batch of the first epoch: old == current, so r ≡ 1 exactly and nothing is clipped.
    assert first["old_logprob"] == first["logprob"]
    in_loss = [i for i, s in enumerate(first["selected"]) if s == 1.0]
    assert {first["ratio"][i] for i in in_loss} <= {1.0}
    assert {first["clipped"][i] for i in in_loss} <= {0.0}
    later = reader.step(4).to_pydict()
    moved = [abs(later["ratio"][i] - 1.0) for i, s in enumerate(later["selected"]) if s == 1.0]
    if reader.header["algorithm"]["hparams"]["importance_sampling_level"] != "none" and moved:
        assert max(moved) > 1e-7  # three updates later the policy has moved away from the behaviour policy

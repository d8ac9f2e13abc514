"""Pure pieces of the engine: LR schedule, mini-batch plan, dynamic sampling."""
import pytest
import torch
from engine_helpers import make_trainer, small_config

from unipo.engine.minibatches import plan_minibatches
from unipo.engine.schedule import lr_multiplier
from unipo.runs import RunReader


def test_learning_rate_schedules():
    assert [lr_multiplier(s, 10, "constant", 2) for s in (0, 1, 2, 9)] == [0.5, 1.0, 1.0, 1.0]
    assert lr_multiplier(2, 10, "linear", 2) == 1.0 and lr_multiplier(6, 10, "linear", 2) == 0.5
    assert lr_multiplier(6, 10, "cosine", 2) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        lr_multiplier(0, 10, "exponential", 0)


def test_minibatch_plan_covers_every_group_once_per_epoch_and_keeps_groups_whole():
    plan = plan_minibatches(num_groups=4, group_size=3, epochs=2, num_minibatches=2, seed=0, rollout=5)
    assert [(b.epoch, b.minibatch) for b in plan] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for epoch in (0, 1):
        groups = sorted(g for b in plan if b.epoch == epoch for g in b.groups)
        assert groups == [0, 1, 2, 3]
    for batch in plan:
        assert batch.responses == tuple(g * 3 + k for g in batch.groups for k in range(3))
    assert plan == plan_minibatches(4, 3, 2, 2, seed=0, rollout=5)  # rebuilt identically on resume


def test_dynamic_sampling_keeps_only_groups_with_different_rewards(tmp_path):
    config = small_config(steps=2, max_new_tokens=8, algo_params={
        "dynamic_sampling": True, "dynamic_sampling_max_tries": 3, "overlong_buffer_fraction": 0.5})
    make_trainer(tmp_path / "run", config).run()
    reader = RunReader(tmp_path / "run")
    metrics = reader.metrics()
    assert "dynamic_sampling_dropped_groups" in metrics
    for step in reader.steps():
        table = reader.step(step).to_pydict()
        rewards_by_group = {}
        for group, response, reward in zip(table["group"], table["response"], table["reward"]):
            rewards_by_group.setdefault(group, {})[response] = reward
        filled = metrics["dynamic_sampling_filled_groups"][step - 1]
        varied = sum(len(set(r.values())) > 1 for r in rewards_by_group.values())
        assert varied >= len(rewards_by_group) - filled
        # The overlong component is stored per response and is part of the reward.
        assert all(-1.0 <= v <= 0.0 for v in table["reward_overlong"])

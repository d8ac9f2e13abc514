"""Same seed → same run; resume → the run an uninterrupted one would have been; data order is the seed's."""
import pytest
from engine_helpers import make_trainer, small_config

from unipo.runs import RunReader

# Wall-clock measurements are the only metrics allowed to differ between identical runs.
TIMING = {"update_seconds", "tokens_per_second", "generation_seconds", "rollout_seconds"}


def comparable_metrics(path):
    metrics = RunReader(path).metrics()
    return {name: values for name, values in metrics.items() if name not in TIMING}


def token_columns(path, step, names=("token_id", "logprob", "old_logprob", "advantage", "token_objective")):
    table = RunReader(path).step(step).to_pydict()
    return {name: table[name] for name in names}


class StopAfter:
    """Progress callback that interrupts the run after a given update (like Ctrl-C)."""

    def __init__(self, step):
        self.step = step

    def __call__(self, step, total, metrics):
        if step == self.step:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_same_seed_gives_identical_metrics(tmp_path):
    config = small_config(steps=3, epochs=1, minibatches=1)
    make_trainer(tmp_path / "a", config).run()
    make_trainer(tmp_path / "b", config).run()
    assert comparable_metrics(tmp_path / "a") == comparable_metrics(tmp_path / "b")
    assert token_columns(tmp_path / "a", 3) == token_columns(tmp_path / "b", 3)


def test_resume_mid_rollout_reproduces_the_uninterrupted_run(tmp_path):
    # 3 updates per rollout and a checkpoint every 2: the resume point falls inside a rollout.
    config = small_config(algo="ppo", steps=5, epochs=3, minibatches=1, checkpoint_every=2)
    make_trainer(tmp_path / "straight", config).run()

    with pytest.raises(KeyboardInterrupt):
        make_trainer(tmp_path / "resumed", config, progress=StopAfter(3)).run()
    stored = RunReader(tmp_path / "resumed")
    assert stored.steps() == [1, 2, 3] and stored.header["status"] == "failed"
    make_trainer(tmp_path / "resumed", config, resume=True).run()

    assert RunReader(tmp_path / "resumed").steps() == [1, 2, 3, 4, 5]
    assert comparable_metrics(tmp_path / "resumed") == comparable_metrics(tmp_path / "straight")
    for step in (3, 4, 5):
        assert token_columns(tmp_path / "resumed", step) == token_columns(tmp_path / "straight", step)


@pytest.mark.slow
def test_algorithms_see_the_same_prompts_in_the_same_order(tmp_path):
    """Invariant 4: the data order depends on the task and seed, never on the algorithm."""
    seen = {}
    for algo in ("grpo", "dapo", "ppo"):
        make_trainer(tmp_path / algo, small_config(algo=algo, steps=4, epochs=2, minibatches=2)).run()
        reader = RunReader(tmp_path / algo)
        seen[algo] = [(t["rollout"][0], t["minibatch"][0], t["group"], t["prompt_text"])
                      for t in (reader.step(s).select(["rollout", "minibatch", "group", "prompt_text"]).to_pydict()
                                for s in reader.steps())]
        seen[algo] = [(r, m, sorted(set(zip(g, p)))) for r, m, g, p in seen[algo]]
    assert seen["grpo"] == seen["dapo"] == seen["ppo"]
    # ...and a different seed gives different prompts.
    make_trainer(tmp_path / "other", small_config(seed=4, steps=1)).run()
    other = set(RunReader(tmp_path / "other").step(1).column("prompt_text").to_pylist())
    assert other != {p for _, _, pairs in seen["grpo"][:1] for _, p in pairs}

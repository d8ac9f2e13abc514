"""unipo.integrations.trl: a real TRL 1.16 GRPOTrainer (tiny random Llama, CPU) captured token by token.

What must hold: every optimizer update is one stored step; TRL's own loss equals UNIPO's
recomposition on every step (the ✓ the inspector shows); groups survive TRL's shuffle and split
(the stored advantages are the group z-scores of the stored rewards); old ≠ current when
num_iterations > 1; the stored push g is −∂(TRL's loss)/∂ℓ; capturing does not change training.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from support.modules import load_sibling

pytestmark = pytest.mark.slow  # TRL import + a few tiny training steps
pytest.importorskip("trl")
trl_run = load_sibling(__file__, "trl_run", as_name="unipo_tests_integrations_trl_run")

from unipo.algorithms import AlgorithmSpec  # noqa: E402
from unipo.integrations.trl import capture  # noqa: E402
from unipo.runs import RunReader  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def column(table, name, dtype=float):
    return np.array(table.column(name).to_pylist(), dtype=dtype)


def run(tmp_path, **options):
    trainer = trl_run.build_trainer(tmp_path, **options)
    state = capture(trainer, tmp_path / "run")
    trainer.train()
    return trainer, state, RunReader(tmp_path / "run")


def test_each_update_is_a_step_and_trl_loss_equals_unipo_loss(tmp_path):
    trainer, state, reader = run(tmp_path, steps=3, batch=8, group=4, ga=2)
    assert reader.steps() == [0, 1, 2]
    assert reader.header["status"] == "finished"
    assert reader.header["loss_check"]["reference"] == "trl_loss"
    assert reader.header["algorithm"]["hparams"]["loss_aggregation"] == "token-mean"  # TRL's default dapo
    metrics = reader.metrics()
    assert metrics["loss_check_ok"] == [1, 1, 1]
    for trl_loss, unipo_loss in zip(metrics["trl_loss"], metrics["unipo_loss"]):
        assert math.isclose(trl_loss, unipo_loss, rel_tol=1e-4, abs_tol=1e-6)
    # TRL's own logged loss of each update is the sum we compared (its micro-batch losses)
    logged = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert np.allclose(logged, metrics["trl_loss"], rtol=1e-4, atol=1e-6)
    assert metrics["micro_batches"] == [2, 2, 2]

    table = reader.responses(0).to_pylist()
    assert len(table) == 16  # 8 completions per micro-batch x 2 micro-batches
    for row in table:
        assert row["reward"] == pytest.approx(row["reward_reward_correct"] + row["reward_reward_length"], abs=1e-6)
    by_group: dict[int, set] = {}
    for row in table:
        by_group.setdefault(row["group"], set()).add(row["prompt_text"])
    assert all(len(texts) == 1 for texts in by_group.values())


def test_groups_survive_the_shuffle_advantages_are_group_zscores(tmp_path):
    # steps_per_generation=2: one generation of 4 groups split over two updates, shuffled.
    _, _, reader = run(tmp_path, steps=2, batch=8, group=4, spg=2)
    groups = {}
    for n in (0, 1):
        table = reader.step(n)
        seen = set()
        for row in zip(*(table.column(c).to_pylist() for c in ("response", "group", "reward", "advantage"))):
            if row[0] not in seen:  # the first token of each response
                seen.add(row[0])
                groups.setdefault(row[1], []).append((row[2], row[3]))
    assert len(groups) == 4 and all(len(members) == 4 for members in groups.values())
    for members in groups.values():
        rewards = np.array([r for r, _ in members], dtype=np.float64)
        want = (rewards - rewards.mean()) / (rewards.std(ddof=1) + 1e-4)
        assert np.allclose(sorted(want), sorted(a for _, a in members), atol=1e-4)


def test_num_iterations_two_stores_old_different_from_current(tmp_path):
    _, state, reader = run(tmp_path, steps=2, batch=8, group=4, iterations=2)
    assert reader.metrics()["loss_check_ok"] == [1, 1]
    first, second = reader.step(0), reader.step(1)
    assert np.array_equal(column(first, "logprob"), column(first, "old_logprob"))
    assert not np.allclose(column(second, "logprob"), column(second, "old_logprob"), atol=1e-6)
    assert set(first.column("epoch").to_pylist()) == {0} and set(second.column("epoch").to_pylist()) == {1}
    # the same completions, trained on twice
    assert sorted(set(first.column("response_text").to_pylist())) == sorted(set(second.column("response_text").to_pylist()))


def test_stored_push_is_minus_the_gradient_of_trls_loss(tmp_path):
    trainer = trl_run.build_trainer(tmp_path, steps=1, batch=8, group=4, loss_type="grpo")
    capture(trainer, tmp_path / "run")
    trainer.train()
    table = RunReader(tmp_path / "run").step(0)
    # grpo: g = A·r/(N·|o_i|) per unclipped token with r = 1 at the first update
    responses = column(table, "response", int)
    lengths = np.bincount(responses)[responses]
    want = column(table, "advantage") / (8 * lengths)
    push = column(table, "grad_coef")
    assert np.allclose(push, want, atol=1e-6)
    assert float(np.abs(push).sum()) > 0


def test_capture_does_not_change_the_training(tmp_path):
    plain = trl_run.build_trainer(tmp_path / "plain", steps=2, batch=8, group=4)
    plain.train()
    captured, _, _ = run(tmp_path / "captured", steps=2, batch=8, group=4)
    losses = lambda t: [e["loss"] for e in t.state.log_history if "loss" in e]  # noqa: E731
    assert losses(plain) == losses(captured)


def test_capture_refuses_a_non_trl_trainer_and_a_second_capture(tmp_path):
    from unipo.errors import UnipoError
    with pytest.raises(UnipoError, match="expected a trl.GRPOTrainer"):
        capture(object(), tmp_path / "x")
    trainer = trl_run.build_trainer(tmp_path, steps=1)
    capture(trainer, tmp_path / "run")
    with pytest.raises(UnipoError, match="already captured"):
        capture(trainer, tmp_path / "run2")


def test_spec_of_the_run_is_unipo_spec_of_its_config(tmp_path):
    trainer = trl_run.build_trainer(tmp_path, steps=1, loss_type="dr_grpo")
    state = capture(trainer, tmp_path / "run")
    assert state.spec == AlgorithmSpec("dr_grpo", **{**state.spec.hparams})
    assert state.spec.hparams["loss_aggregation"] == "seq-mean-token-sum-norm"
    assert state.spec.hparams["max_completion_length"] == trainer.args.max_completion_length


def test_sampling_logprobs_of_the_generation_engine_are_stored(tmp_path):
    # What vLLM hands TRL (sampling_per_token_logps) becomes the sampling_logprob column.
    trainer = trl_run.build_trainer(tmp_path, steps=1, batch=8, group=4)
    generate = trainer._generate_and_score_completions
    handed = {}

    def with_sampling(inputs):
        output = generate(inputs)
        output["sampling_per_token_logps"] = -0.5 - torch.rand(output["completion_ids"].shape)
        handed["values"] = output["sampling_per_token_logps"].clone()
        handed["mask"] = output["completion_mask"].bool().clone()
        return output

    trainer._generate_and_score_completions = with_sampling
    capture(trainer, tmp_path / "run")
    trainer.train()
    stored = column(RunReader(tmp_path / "run").step(0), "sampling_logprob")
    want = handed["values"][handed["mask"]].numpy()
    assert len(stored) == len(want) and np.allclose(np.sort(stored), np.sort(want), atol=1e-6)


@pytest.mark.parametrize("loss_type,extra", [
    ("grpo", {"beta": 0.04, "extra": {"use_bias_correction_kl": False}}), ("bnpo", {}), ("dr_grpo", {}),
    ("cispo", {}), ("sapo", {}), ("luspo", {"extra": {"importance_sampling_level": "sequence"}}), ("vespo", {}),
    ("dapo", {"extra": {"top_entropy_quantile": 0.5, "mask_truncated_completions": True, "epsilon_high": 0.28}}),
])
def test_every_loss_type_recomposes_trls_loss_when_the_ratio_moves(tmp_path, loss_type, extra):
    # num_iterations=2: the second update trains on the same completions with r != 1 (clipping can fire)
    _, state, reader = run(tmp_path, steps=2, batch=8, group=4, iterations=2, loss_type=loss_type, **extra)
    assert reader.metrics()["loss_check_ok"] == [1, 1], state.checks
    assert state.trl_spec.not_recomposed == []

"""Every column written by RunWriter reads back exactly through RunReader."""
from __future__ import annotations

import numpy as np
import pytest

from unipo.errors import UnipoError
from unipo.runs import RunReader, RunWriter, StepRecord


def _masked(array, mask):
    return np.asarray(array, dtype=np.float32)[np.asarray(mask, bool)]


def test_every_column_round_trips(run_path, fake_record):
    record = fake_record(n=6, t=9, seed=1)
    with RunWriter.create(run_path, {"task": {"name": "add"}, "seed": 7}) as writer:
        writer.write_update(5, record, {"loss": 0.25, "reward_mean": 0.5})

    reader = RunReader(run_path)
    assert reader.header["status"] == "finished"
    assert reader.header["seed"] == 7 and reader.header["format"] == "unipo-run/2" and reader.header["world_size"] == 1
    assert reader.steps() == [5]
    assert reader.metrics() == {"step": [5], "loss": [0.25], "reward_mean": [0.5]}

    table = reader.step(5).to_pydict()
    mask = np.asarray(record.mask, bool)
    rows, cols = np.nonzero(mask)
    assert len(table["token_id"]) == mask.sum()
    assert table["step"] == [5] * len(rows) and set(table["rollout"]) == {2}
    assert set(table["epoch"]) == {1} and set(table["minibatch"]) == {3}
    assert table["response"] == rows.tolist()
    assert table["position"] == cols.tolist()
    assert table["prompt"] == np.asarray(record.prompt_index)[rows].tolist()
    assert table["group"] == (np.asarray(record.group_id)[rows]).tolist()
    assert table["prompt_text"] == [record.prompt_text[r] for r in rows]
    assert table["response_text"] == [record.response_text[r] for r in rows]
    assert table["reward"] == np.asarray(record.reward, np.float32)[rows].tolist()
    assert table["response_length"] == np.asarray(record.length)[rows].tolist()
    assert table["truncated"] == np.asarray(record.truncated)[rows].tolist()
    assert table["reward_correct"] == np.asarray(record.reward, np.float32)[rows].tolist()
    assert table["token_id"] == np.asarray(record.token_ids)[mask].tolist()
    assert table["token"] == [record.tokens[r][c] for r, c in zip(rows, cols)]
    for column, source in (("logprob", record.logprob), ("old_logprob", record.old_logprob),
                           ("ref_logprob", record.ref_logprob), ("value", record.value),
                           ("return", record.returns), ("entropy", record.entropy), *record.terms.items()):
        np.testing.assert_array_equal(np.array(table[column], np.float32), _masked(source, mask), err_msg=column)


def test_torch_tensors_and_missing_optional_columns(run_path):
    torch = pytest.importorskip("torch")
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    record = StepRecord(
        prompt_index=torch.tensor([0, 0]), group_id=torch.tensor([0, 0]), prompt_text=["p", "p"],
        response_text=["ab", "cde"], reward=torch.tensor([1.0, 0.0]), mask=mask,
        token_ids=torch.tensor([[1, 2, 0], [3, 4, 5]]),
        logprob=torch.tensor([[-0.5, -1.0, 0.0], [-0.25, -2.0, -3.0]], dtype=torch.bfloat16),
        terms={"entropy": torch.full((2, 3), 0.5), "token_objective": torch.ones(2, 3, requires_grad=True)},
    )
    writer = RunWriter.create(run_path, {})
    writer.write_step(1, record)
    table = RunReader(run_path).step(1).to_pydict()
    assert table["logprob"] == [-0.5, -1.0, -0.25, -2.0, -3.0]
    assert table["entropy"] == [0.5] * 5  # taken from the term of that name
    assert table["value"] == [None] * 5 and table["token"] == [None] * 5
    assert table["response_length"] == [2, 2, 3, 3, 3]  # defaults to the mask's row sum
    assert table["truncated"] == [False] * 5


def test_empty_response_is_kept_but_has_no_token_rows(run_path, fake_record):
    record = fake_record(n=4, t=5, seed=2, group_size=2, empty=(1,))
    RunWriter.create(run_path, {}).write_step(1, record)
    reader = RunReader(run_path)
    assert 1 not in reader.step(1).column("response").to_pylist()
    assert reader.response(1, 1).num_rows == 0
    responses = reader.responses(1).to_pydict()
    assert responses["response"] == [0, 1, 2, 3]
    assert responses["token_count"][1] == 0 and responses["response_length"][1] == 0
    assert responses["response_text"][1] == "answer 1"
    raw = reader.step(1, include_empty_responses=True).to_pydict()
    placeholder = raw["response"].index(1)
    assert raw["position"][placeholder] == -1 and raw["token_id"][placeholder] is None


def test_nan_is_stored_as_null(run_path, fake_record):
    record = fake_record(n=2, t=3, seed=3, group_size=2)
    record.value = np.full((2, 3), np.nan)
    RunWriter.create(run_path, {}).write_update(1, record, {"kl": float("nan")})
    reader = RunReader(run_path)
    assert set(reader.step(1).column("value").to_pylist()) == {None}
    assert reader.metrics()["kl"] == [None]


@pytest.mark.parametrize("change, field", [
    (dict(reward=[1.0]), "StepRecord.reward"),
    (dict(token_ids=np.zeros((2, 2))), "StepRecord.token_ids"),
    (dict(tokens=[["a"], ["b"]]), "StepRecord.tokens[0]"),
    (dict(terms={"bad name": np.zeros((2, 3))}), "terms['bad name']"),
    (dict(terms={"reward": np.zeros((2, 3))}), "collides"),
    (dict(mask=np.ones(3)), "StepRecord.mask"),
])
def test_bad_record_names_the_field(run_path, fake_record, change, field):
    record = fake_record(n=2, t=3, seed=4, group_size=2)
    for name, value in change.items():
        setattr(record, name, value)
    writer = RunWriter.create(run_path, {})
    with pytest.raises(UnipoError, match=field.replace("[", r"\[").replace("]", r"\]")):
        writer.write_step(1, record)
    assert RunReader(run_path).steps() == []


def test_create_refuses_to_overwrite_unless_asked(run_path, fake_record):
    RunWriter.create(run_path, {}).write_update(1, fake_record(), {"loss": 1})
    with pytest.raises(UnipoError, match="already exists"):
        RunWriter.create(run_path, {})
    RunWriter.create(run_path, {"name": "again"}, exist_ok=True)
    reader = RunReader(run_path)
    assert reader.steps() == [] and reader.metrics() == {"step": []} and reader.header["name"] == "again"

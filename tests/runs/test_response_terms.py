"""Per-response terms (StepRecord.response_terms), compact step files, and runs written before both."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from unipo.errors import UnipoError
from unipo.runs import RunReader, RunWriter
from unipo.runs.prediction import EncodingMemory
from unipo.runs.schema import RESPONSE_TERMS_KEY
from unipo.server.step_payload import step_payload

LEGACY_RUN = Path(__file__).parent / "data" / "legacy-run"


def _with_response_terms(fake_record, **kwargs):
    record = fake_record(**kwargs)
    n = len(record.response_text)
    record.response_terms = {
        "group_mean": np.repeat(np.array([0.5, 0.25, -0.0, 1e-30], np.float32), 3)[:n],
        "group_std": np.linspace(0.1, 0.9, n).astype(np.float32),
        "advantage_scale": np.full(n, 2.0, np.float32),
    }
    return record


def test_response_terms_round_trip_as_per_response_columns(run_path, fake_record):
    record = _with_response_terms(fake_record, n=6, t=9, seed=4, empty=(2,))
    RunWriter.create(run_path, {}).write_step(1, record)
    reader = RunReader(run_path)

    responses = reader.responses(1)
    for name, values in record.response_terms.items():
        stored = responses.column(name).to_numpy().astype(np.float32)
        np.testing.assert_array_equal(stored.view(np.uint32), values.view(np.uint32), err_msg=name)
    # Repeated on each token row (and on the empty response's placeholder row).
    table = reader.step(1, include_empty_responses=True)
    response = table.column("response").to_numpy()
    group_mean = table.column("group_mean").to_numpy()
    np.testing.assert_array_equal(group_mean, record.response_terms["group_mean"][response])
    assert json.loads(table.schema.metadata[RESPONSE_TERMS_KEY]) == list(record.response_terms)
    # One response read alone still carries them.
    one = reader.response(1, 4)
    assert set(one.column("group_std").to_pylist()) == {float(record.response_terms["group_std"][4])}


def test_server_payload_sends_response_terms_under_responses(run_path, fake_record):
    record = _with_response_terms(fake_record, n=6, t=9, seed=4, empty=(2,))
    RunWriter.create(run_path, {}).write_step(1, record)
    table = RunReader(run_path).step(1, include_empty_responses=True)
    payload = step_payload(table, 1, {})
    for name, values in record.response_terms.items():
        assert name in payload["responses"] and name not in payload["tokens"], name
        np.testing.assert_array_equal(np.asarray(payload["responses"][name], np.float32), values)
    assert "advantage" in payload["tokens"] and "logprob" in payload["tokens"]
    # The one-response route filters the same table: still under responses.
    subset = table.filter(table.column("response").to_numpy() == 4)
    assert list(step_payload(subset, 1, {})["responses"]["group_mean"]) == [record.response_terms["group_mean"][4]]


def test_bad_response_terms_are_refused(run_path, fake_record):
    record = fake_record(n=4, t=5, group_size=2)
    writer = RunWriter.create(run_path, {})
    record.response_terms = {"group_mean": np.zeros((4, 5))}
    with pytest.raises(UnipoError, match=r"response_terms\['group_mean'\].*\[4\]"):
        writer.write_step(1, record)
    record.response_terms = {"advantage": np.zeros(4)}  # also a token term of the record
    with pytest.raises(UnipoError, match="advantage"):
        writer.write_step(1, record)
    record.response_terms = {"reward": np.zeros(4)}
    with pytest.raises(UnipoError, match="collides"):
        writer.write_step(1, record)


def test_legacy_run_still_opens(tmp_path):
    # Written by the store before response terms and compact files: Arrow schema in the footer, one
    # predicted residual column, group_mean repeated on token rows only (null on the empty response).
    run = tmp_path / "legacy"
    shutil.copytree(LEGACY_RUN, run)
    reader = RunReader(run)
    table = reader.step(1, include_empty_responses=True)
    assert table.num_rows == 7 and "group_mean" in table.column_names
    assert table.column("group_mean").to_pylist() == [0.5, 0.5, 0.25, 0.25, 0.25, 0.25, None]
    np.testing.assert_array_equal(table.column("old_logprob").to_numpy(), table.column("logprob").to_numpy())
    assert reader.responses(1).column("group_mean").to_pylist() == [0.5, 0.5, 0.25, None]
    assert reader.response(1, 2).num_rows == table.column("response").to_pylist().count(2) > 0
    payload = step_payload(table, 1, {})
    assert list(payload["responses"]["group_mean"][:3]) == [0.5, 0.5, 0.25]


def test_every_value_reads_back_bit_for_bit_across_steps(run_path, fake_record):
    # Steps share one EncodingMemory: a recipe remembered from step 1 that is wrong for step 2 must
    # still give back step 2's exact bits (as a residual) — and -0.0, tiny and huge values survive.
    writer = RunWriter.create(run_path, {})
    records = []
    for step in (1, 2, 3):
        record = _with_response_terms(fake_record, n=9, t=12, seed=step, group_size=3, empty=(4,) if step == 2 else ())
        terms = dict(record.terms)
        if step == 2:
            terms["kl_penalty"] = np.asarray(terms["kl"]) * 0.5 + 1e-3  # no longer 0.04 * kl
            terms["entropy_bonus"] = np.where(np.asarray(record.mask), -0.0, 0.0)
        record.terms = terms
        writer.write_step(step, record)
        records.append(record)
    reader = RunReader(run_path)
    for step, record in zip((1, 2, 3), records):
        table = reader.step(step)
        mask = np.asarray(record.mask, bool)
        for name, source in [("logprob", record.logprob), ("old_logprob", record.old_logprob),
                             ("entropy", record.entropy), *record.terms.items()]:
            expected = np.asarray(source, np.float32)[mask]
            np.testing.assert_array_equal(table.column(name).to_numpy().astype(np.float32).view(np.uint32),
                                          expected.view(np.uint32), err_msg=f"step {step} {name}")
        assert table.column("step").to_pylist() == [step] * table.num_rows


def test_constant_and_copied_columns_store_only_nulls(run_path, fake_record):
    record = fake_record(n=6, t=9, seed=2)
    record.old_logprob = np.asarray(record.logprob, np.float32).copy()
    record.value = None
    RunWriter.create(run_path, {}).write_step(1, record)
    shard = run_path / "steps" / "step=000001" / "rank=00000"
    tokens = pq.read_table(shard / "tokens.parquet")
    # Per-response values live in responses.parquet only; the update's numbers in its metadata.
    for name in ("step", "rollout", "epoch", "minibatch", "prompt_text", "reward", "reward_correct"):
        assert name not in tokens.column_names, name
    responses = pq.read_table(shard / "responses.parquet")
    assert "step" not in responses.column_names and "reward_correct" in responses.column_names
    assert json.loads(responses.schema.metadata[b"unipo.constants"]) == {"step": 1, "rollout": 2, "epoch": 1,
                                                                         "minibatch": 3}
    for name in ("old_logprob", "value", "entropy_bonus", "clipped_low"):
        assert name not in tokens.column_names, name  # exact (or null) on every row: not stored
    table = RunReader(run_path).step(1)
    assert table.column_names[:4] == ["step", "rollout", "epoch", "minibatch"]
    assert table.column("value").null_count == table.num_rows
    assert set(table.column("epoch").to_pylist()) == {1}
    assert table.column("clipped_low").null_count == 0 and set(table.column("clipped_low").to_pylist()) == {0.0}
    # Only the slice filters carry statistics; no Arrow schema copy in the footer.
    for name, expected in (("tokens.parquet", {"response"}), ("responses.parquet", {"response", "prompt"})):
        metadata = pq.ParquetFile(shard / name).metadata
        assert b"ARROW:schema" not in (metadata.metadata or {})
        names = [metadata.row_group(0).column(c).path_in_schema for c in range(metadata.num_columns)]
        with_stats = {name for c, name in enumerate(names) if metadata.row_group(0).column(c).is_stats_set}
        assert with_stats == expected


def test_remembered_recipes_skip_the_search(fake_record, monkeypatch):
    from unipo.runs import coalesce, prediction

    memory = EncodingMemory()
    _, tokens = fake_record(n=8, t=20, seed=1).to_parts(1)
    floats = [f.name for f in tokens.schema if f.type == "float"]
    first = coalesce.choose_recipes(tokens, floats, memory)
    assert first  # something was predicted
    searches = []
    real_search = prediction._search
    monkeypatch.setattr(prediction, "_search", lambda *a: searches.append(a) or real_search(*a))
    second = coalesce.choose_recipes(tokens, floats, memory)
    assert searches == []  # every remembered recipe was exact again; misses wait RESEARCH_EVERY steps
    assert second == first
    assert coalesce.encode(tokens, second).equals(coalesce.encode(tokens, first))


def test_canonical_export_import_keeps_response_terms(tmp_path, fake_record):
    from unipo.runs import export_canonical, import_canonical

    record = _with_response_terms(fake_record, n=6, t=9, seed=4, empty=(2,))
    RunWriter.create(tmp_path / "a", {}).write_update(1, record, {"loss": 1.0})
    out = export_canonical(tmp_path / "a", tmp_path / "a.jsonl")
    entry = json.loads(out.read_text().splitlines()[1])
    response = entry["prompts"][0]["responses"][0]
    assert response["terms"] == {k: float(v[0]) for k, v in record.response_terms.items()}
    assert "group_mean" not in response["tokens"][0].get("terms", {})
    import_canonical(out, tmp_path / "b")
    a, b = RunReader(tmp_path / "a"), RunReader(tmp_path / "b")
    assert b.responses(1).select(list(record.response_terms)).equals(a.responses(1).select(list(record.response_terms)))
    assert json.loads(b.step(1).schema.metadata[RESPONSE_TERMS_KEY]) == list(record.response_terms)

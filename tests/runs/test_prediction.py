"""Derived float columns are stored only where their prediction misses, and read back bit for bit."""
from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq

from unipo.runs import RunReader, RunWriter
from unipo.runs import coalesce


def test_derived_columns_are_predicted_and_exact(run_path, fake_record):
    record = fake_record(n=8, t=40, seed=9, group_size=4)
    logprob = np.asarray(record.logprob, np.float32)
    record.old_logprob = logprob.copy()
    kl = np.asarray(record.terms["kl"], np.float32)
    penalty = np.float32(0.04) * kl
    penalty[0, :3] = [1.5, -0.0, 7.25]  # a few rows the prediction misses must survive too
    record.terms = {**record.terms, "kl": kl, "kl_penalty": penalty}
    RunWriter.create(run_path, {}).write_step(1, record)

    tokens = pq.read_table(run_path / "steps" / "step=000001" / "rank=00000" / "tokens.parquet")
    recipes = coalesce.recipes_of(tokens.schema)
    # Stored only where the recipe misses (null elsewhere); exact on every row of a one-part
    # step: not stored at all, its logical place kept in the metadata.
    assert recipes["old_logprob"] == ["copy", "logprob"]
    assert "old_logprob" not in tokens.column_names
    assert json.loads(tokens.schema.metadata[b"unipo.absent"])["old_logprob"] == 5
    assert recipes["kl_penalty"][:2] == ["scale", "kl"]
    assert tokens.column("kl_penalty").drop_null().to_pylist() == [1.5, -0.0, 7.25]

    table = RunReader(run_path).step(1)
    mask = np.asarray(record.mask, bool)
    for column, expected in (("old_logprob", logprob), ("kl_penalty", penalty)):
        stored = table.column(column).to_numpy().astype(np.float32)
        assert stored.dtype == np.float32
        np.testing.assert_array_equal(stored.view(np.uint32), expected[mask].view(np.uint32))
    one = RunReader(run_path).response(1, 0).column("kl_penalty").to_pylist()
    assert one[:3] == [1.5, -0.0, 7.25]


def test_reading_a_compacted_step_leaves_no_garbage_cycle(run_path, fake_record):
    # A cycle here kept every decoded step (MBs each) alive until a full collection: a server
    # reading steps back to back grew by hundreds of MB.
    import gc

    record = fake_record(n=8, t=40, seed=3, group_size=4)
    record.old_logprob = np.asarray(record.logprob, np.float32).copy()
    RunWriter.create(run_path, {}).write_step(1, record)
    reader = RunReader(run_path)
    reader.step(1)  # first call: imports and caches settle
    gc.collect()
    gc.disable()
    try:
        reader.step(1)
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_a_squared_error_column_is_predicted_and_exact_in_numpy_and_sql(run_path, fake_record):
    # PPO's value_loss is ½·(V − R)² on every token the value clip leaves alone: stored only
    # where it is not (the clipped branch won), read back bit for bit by the reader and by DuckDB.
    from unipo.runs.query import query

    record = fake_record(n=8, t=40, seed=3, group_size=4)
    rng = np.random.default_rng(3)
    value = rng.normal(0, 1, record.mask.shape).astype(np.float32)
    returns = rng.normal(0, 1, record.mask.shape).astype(np.float32)
    difference = value - returns
    loss = np.float32(0.5) * (difference * difference)
    loss[1, :2] = [9.5, 0.125]  # rows where the clipped branch won
    record.value, record.returns = value, returns
    record.terms = {**record.terms, "value_loss": loss}
    RunWriter.create(run_path, {}).write_step(1, record)

    tokens = pq.read_table(run_path / "steps" / "step=000001" / "rank=00000" / "tokens.parquet")
    assert coalesce.recipes_of(tokens.schema)["value_loss"] == ["halfsq", "value", "return"]
    assert tokens.column("value_loss").drop_null().to_pylist() == [9.5, 0.125]
    mask = np.asarray(record.mask, bool)
    expected = loss[mask].view(np.uint32)
    stored = RunReader(run_path).step(1).column("value_loss").to_numpy().astype(np.float32)
    np.testing.assert_array_equal(stored.view(np.uint32), expected)
    sql = query(run_path, "SELECT value_loss FROM tokens ORDER BY response, position").column(0)
    np.testing.assert_array_equal(sql.to_numpy().astype(np.float32).view(np.uint32), expected)

"""SQL over a whole run (DuckDB views with logical values) and `unipo query`."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from unipo.cli import main
from unipo.runs import RankWriter, RunReader, RunWriter
from unipo.runs.query import QueryError, query

DOCS = Path(__file__).resolve().parents[2] / "docs" / "store.md"


def _record(fake_record, seed: int):
    record = fake_record(n=12, t=10, seed=seed, group_size=4, empty=(3,))
    mask = np.asarray(record.mask, bool)
    rng = np.random.default_rng(seed)
    terms = dict(record.terms)
    # Ratios well outside 1 +- eps and a push per token, as a real step has.
    terms["ratio"] = np.where(mask, rng.uniform(0.5, 1.6, mask.shape), 0.0).astype(np.float32)
    terms["grad_coef"] = np.where(mask, rng.normal(size=mask.shape), 0.0).astype(np.float32)
    kl = np.asarray(terms["kl"], np.float32)
    penalty = np.float32(0.04) * kl
    penalty[0, :3] = [1.5, -0.0, 7.25]   # rows the recipe misses
    terms["kl"], terms["kl_penalty"] = kl, penalty
    record.terms = terms
    record.old_logprob = np.asarray(record.logprob, np.float32).copy()  # a copy: stored as nulls
    ref = np.asarray(record.ref_logprob, np.float32).copy()
    ref[1, :2] = np.nan   # null where a recipe could give a number
    record.ref_logprob = ref
    return record


@pytest.fixture
def sharded_run(run_path, fake_record, part_of):
    writer = RunWriter.create(run_path, {"world_size": 2})
    other = RankWriter(run_path, 1)
    for step in (1, 2, 3):
        record = _record(fake_record, step)
        if step == 3:  # streamed in two parts: every column stored (nulls where the recipe is exact)
            with writer.step_stream(step) as sink:
                sink.append(part_of(record, 0, 5))
                sink.append(part_of(record, 5, 12))
            writer.append_metrics(step, {"loss": 0.5 * step})
        else:
            writer.write_update(step, record, {"loss": 0.5 * step})
        other.write_step(step, _record(fake_record, 10 + step))
    writer.close()
    return run_path


def _whole(run_path) -> pa.Table:
    reader = RunReader(run_path)
    return pa.concat_tables([reader.step(s) for s in reader.steps()])


def test_every_logical_column_reads_back_bit_for_bit_in_sql(sharded_run):
    expected = _whole(sharded_run)
    got = query(sharded_run, "SELECT * FROM tokens ORDER BY step, response, position")
    assert got.num_rows == expected.num_rows
    for name in ("step", "response", "position", "token_id", "token"):
        assert got.column(name).to_pylist() == expected.column(name).to_pylist(), name
    floats = [f.name for f in expected.schema if f.type == pa.float32() and f.name in got.column_names]
    assert {"old_logprob", "kl_penalty", "ref_logprob", "clipped_low", "log_ratio"} <= set(floats)
    for name in floats:
        a = expected.column(name).to_numpy(zero_copy_only=False).astype(np.float32)
        b = got.column(name).to_numpy(zero_copy_only=False).astype(np.float32)
        assert got.schema.field(name).type == pa.float32(), name
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=name)
        np.testing.assert_array_equal(a[~np.isnan(a)].view(np.uint32), b[~np.isnan(b)].view(np.uint32), err_msg=name)
    # The recipes really are in use: exact columns are left out of one-part shards, stored as nulls
    # in a streamed one, and a column with misses stores just those.
    raw = pq.read_table(sharded_run / "steps" / "step=000001" / "rank=00000" / "tokens.parquet")
    assert "old_logprob" not in raw.column_names
    assert raw.column("kl_penalty").drop_null().to_pylist() == [1.5, -0.0, 7.25]
    streamed = pq.read_table(sharded_run / "steps" / "step=000003" / "rank=00000" / "tokens.parquet")
    assert streamed.column("old_logprob").null_count == streamed.num_rows
    assert streamed.column("kl_penalty").drop_null().to_pylist() == [1.5, -0.0, 7.25]


def test_the_three_questions_of_the_issue(sharded_run):
    tokens = _whole(sharded_run).select(["step", "response", "position", "ratio", "advantage", "grad_coef",
                                         "clipped"]).to_pandas()
    eps = 0.2
    risky = query(sharded_run, f"SELECT step, response, position FROM tokens WHERE ratio > 1 + {eps} "
                               "AND advantage < 0 ORDER BY step, response, position").to_pylist()
    mask = (tokens.ratio > np.float32(1 + eps)) & (tokens.advantage < 0)
    expected = tokens[mask][["step", "response", "position"]].to_dict("records")
    assert risky == expected and len(risky) > 5

    tokens["push"] = tokens.grad_coef.abs()
    pushed = tokens.groupby(["step", "response"]).push.sum()
    top = query(sharded_run, """
        WITH pushed AS (SELECT step, response, sum(abs(grad_coef)) AS push FROM tokens GROUP BY step, response)
        SELECT step, response, push FROM pushed WHERE push >= (SELECT quantile_disc(push, 0.999) FROM pushed)
        ORDER BY push DESC""").to_pylist()
    assert [(r["step"], r["response"]) for r in top] == [pushed.idxmax()]
    assert top[0]["push"] == pytest.approx(pushed.max(), rel=1e-5)

    clipped = query(sharded_run, "SELECT step, avg(clipped) AS share FROM tokens WHERE advantage < 0 "
                                 "GROUP BY step ORDER BY step").to_pylist()
    negative = tokens[tokens.advantage < 0]
    shares = negative.groupby("step").clipped.mean()
    assert [r["step"] for r in clipped] == list(shares.index)
    np.testing.assert_allclose([r["share"] for r in clipped], shares.to_numpy(), rtol=1e-6)


def test_responses_steps_and_metrics_views(sharded_run):
    reader = RunReader(sharded_run)
    responses = query(sharded_run, "SELECT * FROM responses ORDER BY step, response")
    expected = pa.concat_tables([reader.responses(s) for s in (1, 2, 3)])
    for name in ("step", "response", "prompt", "reward", "response_text", "token_count"):
        assert responses.column(name).to_pylist() == expected.column(name).to_pylist(), name
    assert responses.column("rank").to_pylist()[:24] == [0] * 12 + [1] * 12
    steps = query(sharded_run, "SELECT * FROM steps ORDER BY step").to_pylist()
    assert steps[0] == {"step": 1, "ranks": 2, "responses": 24, "tokens": reader.step(1).num_rows}
    assert query(sharded_run, "SELECT step, loss FROM metrics ORDER BY step").to_pylist() == [
        {"step": s, "loss": 0.5 * s} for s in (1, 2, 3)]
    joined = query(sharded_run, "SELECT count(*) AS n FROM tokens JOIN responses USING (step, response) "
                                "WHERE responses.rank = 1").to_pylist()
    assert joined[0]["n"] == sum(reader.responses(s).column("token_count").to_numpy()[12:].sum() for s in (1, 2, 3))


def test_bad_sql_is_one_clear_error(sharded_run, capsys):
    with pytest.raises(QueryError, match=r'Referenced column "nope" not found'):
        query(sharded_run, "SELECT nope FROM tokens")
    assert main(["query", str(sharded_run), "SELEC 1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("unipo query: error: the query failed: Parser Error") and err.count("\n") == 1


def test_cli_formats(sharded_run, tmp_path, capsys):
    sql = "SELECT step, count(*) AS n FROM responses GROUP BY step ORDER BY step"
    assert main(["query", str(sharded_run), sql]) == 0
    table = capsys.readouterr().out
    assert re.search(r"step\s+│\s+n", table) and "24" in table
    assert main(["query", str(sharded_run), sql, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ['"step","n"', "1,24", "2,24", "3,24"]
    assert main(["query", str(sharded_run), sql, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"step": s, "n": 24} for s in (1, 2, 3)]
    out = tmp_path / "q.parquet"
    assert main(["query", str(sharded_run), sql, "--format", "parquet", "--out", str(out)]) == 0
    assert pq.read_table(out).to_pylist() == [{"step": s, "n": 24} for s in (1, 2, 3)]
    assert main(["query", str(sharded_run), sql, "--format", "parquet"]) == 2
    assert "--format parquet needs --out" in capsys.readouterr().err
    assert main(["query", str(sharded_run), "--schema"]) == 0
    assert "tokens: step INTEGER, rank INTEGER, response INTEGER" in capsys.readouterr().out


def test_the_examples_in_docs_store_md_run(sharded_run):
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.S)
    assert len(blocks) == 3
    found = {}
    for block in blocks:
        scope = {"RUN": str(sharded_run)}
        exec(compile(block, str(DOCS), "exec"), scope)  # noqa: S102 - our own documentation
        found.update(scope)
    assert len(found["clipped"]) == 3 and found["risky"].num_rows > 0 and found["top"].num_rows >= 1
    assert [row[0] for row in found["per_step"]] == [1, 2, 3] and found["per_step"][0][1] == 24
    assert found["lengths"].height == 3 * 22  # two empty responses a step have no token row
    assert found["lengths"]["tokens"].sum() == _whole(sharded_run).num_rows

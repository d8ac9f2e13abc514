"""Layout 2: per-rank shards merged by the reader, streamed steps, paged token reads."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from unipo.errors import UnipoError
from unipo.runs import RankWriter, RunReader, RunWriter, StepNotFoundError, StepRecord


def _plain(table: pa.Table) -> pa.Table:
    return table.cast(pa.schema([pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f
                                 for f in table.schema], metadata=table.schema.metadata))


def test_ranks_write_their_own_shards_and_read_as_one_step(run_path, fake_record):
    # Rank 2 starts before rank 0 has created the run; nobody waits for anybody.
    early = RankWriter(run_path, 2)
    records = {rank: fake_record(n=6, t=9, seed=40 + rank, empty=(1,) if rank == 1 else ()) for rank in range(3)}
    early.write_step(1, records[2])
    writer = RunWriter.create(run_path, {"world_size": 4})
    RankWriter(run_path, 1).write_step(1, records[1])
    writer.write_update(1, records[0], {"loss": 1.0})

    reader = RunReader(run_path)
    assert reader.steps() == [1] and reader.step_ranks(1) == [0, 1, 2]
    assert reader.missing_ranks(1) == [3]  # a dead rank: reported, and the step still reads
    whole = reader.step(1, include_empty_responses=True)
    # Rank-major, response numbers unique across the step; prompt ids as the producers wrote them.
    expected = [records[r].to_table(1) for r in range(3)]
    offset = 0
    for rank, table in enumerate(expected):
        expected[rank] = table.set_column(table.schema.get_field_index("response"), "response",
                                          pc.add(table.column("response"), np.int32(offset)))
        offset += 6
    assert _plain(whole).equals(_plain(pa.concat_tables(expected)))
    responses = reader.responses(1)
    assert responses.column("response").to_pylist() == list(range(18))
    assert responses.column("token_count").to_pylist()[6:12] == np.asarray(records[1].mask).sum(axis=1).tolist()
    assert responses.column("response_text").to_pylist()[12] == records[2].response_text[0]
    one = reader.response(1, 13)
    assert one.num_rows == int(np.asarray(records[2].mask)[1].sum())
    np.testing.assert_array_equal(one.column("logprob").to_numpy(),
                                  np.asarray(records[2].logprob, np.float32)[1][np.asarray(records[2].mask)[1]])
    assert reader.response(1, 7).num_rows == 0  # rank 1's empty response


def test_a_streamed_step_equals_the_whole_step_and_shows_only_when_complete(run_path, fake_record, part_of):
    record = fake_record(n=12, t=9, seed=3, group_size=4, empty=(5,))
    writer = RunWriter.create(run_path, {})
    writer.write_step(1, record)
    reader = RunReader(run_path)
    with writer.step_stream(2) as sink:
        sizes = []
        for start in (0, 4, 8):
            sink.append(part_of(record, start, start + 4))
            # Row groups reach the disk as parts arrive (bounded memory), out of the readers' sight.
            sizes.append(sum(f.stat().st_size for f in (run_path / ".staging").rglob("*.parquet")))
            assert reader.steps() == [1]
        assert sizes[0] == 0 < sizes[1] < sizes[2]  # the first part waits (a one-part step is compacted)
    assert reader.steps() == [1, 2]
    first, second = reader.step(1, include_empty_responses=True), reader.step(2, include_empty_responses=True)
    assert _plain(second.drop_columns(["step"])).equals(_plain(first.drop_columns(["step"])))
    assert reader.responses(2).drop_columns(["step"]).equals(reader.responses(1).drop_columns(["step"]))


def test_a_failed_stream_leaves_nothing_and_the_step_can_be_written_again(run_path, fake_record, part_of):
    record = fake_record(n=8, t=9, seed=4)
    writer = RunWriter.create(run_path, {})
    with pytest.raises(RuntimeError, match="producer died"):
        with writer.step_stream(1) as sink:
            sink.append(part_of(record, 0, 4))
            raise RuntimeError("producer died")
    assert RunReader(run_path).steps() == []
    assert not list((run_path / ".staging").iterdir()) and not list((run_path / "steps").iterdir())
    bad = part_of(record, 4, 8)
    bad.terms = {k: v for k, v in bad.terms.items() if k != "kl"}
    with pytest.raises(UnipoError, match=r"part 2 has other columns or types than the first part \(missing kl\)"):
        with writer.step_stream(1) as sink:
            sink.append(part_of(record, 0, 4))
            sink.append(bad)
    assert RunReader(run_path).steps() == []
    writer.write_step(1, record)
    assert RunReader(run_path).responses(1).num_rows == 8


def test_token_page_reads_the_asked_responses_across_ranks(run_path, fake_record):
    writer = RunWriter.create(run_path, {"world_size": 2})
    records = [fake_record(n=6, t=9, seed=s) for s in (1, 2)]
    writer.write_step(1, records[0])
    RankWriter(run_path, 1).write_step(1, records[1])
    reader = RunReader(run_path)
    whole = reader.step(1)
    page = reader.token_page(1, [8, 2, 7], ["logprob", "advantage", "reward"])
    assert page.column_names == ["response", "position", "logprob", "advantage", "reward"]
    wanted = whole.filter(pc.is_in(whole.column("response"), pa.array([2, 7, 8], pa.int32())))
    assert page.equals(wanted.select(page.column_names))
    every = reader.token_page(1, [0])
    assert "token" in every.column_names and "prompt_text" not in every.column_names
    with pytest.raises(StepNotFoundError, match="no response 12"):
        reader.token_page(1, [12])
    with pytest.raises(StepNotFoundError, match="no column 'nope'"):
        reader.token_page(1, [0], ["nope"])


def test_whole_step_columns_read_every_rank_in_order_and_stream_by_row_group(run_path, fake_record, part_of):
    writer = RunWriter.create(run_path, {"world_size": 2})
    records = [fake_record(n=6, t=9, seed=s) for s in (1, 2)]
    with writer.step_stream(1) as sink:  # rank 0 in three parts: more than one row group
        for start in (0, 2, 4):
            sink.append(part_of(records[0], start, start + 2))
    RankWriter(run_path, 1).write_step(1, records[1])
    reader = RunReader(run_path)
    whole = reader.step(1)
    columns = reader.token_columns(1, ["logprob", "advantage", "old_logprob"])
    assert columns.column_names == ["response", "position", "logprob", "advantage", "old_logprob"]
    assert columns.equals(whole.select(columns.column_names))
    batches = list(reader.token_batches(1, ["logprob", "advantage"]))
    assert len(batches) > 2  # streamed: rank 0's row groups, then rank 1's
    assert all(b.column_names == ["response", "logprob", "advantage"] for b in batches)
    assert pa.concat_tables(batches).equals(whole.select(["response", "logprob", "advantage"]))
    with pytest.raises(StepNotFoundError, match="no token column 'reward'"):
        reader.token_columns(1, ["reward"])


def test_responses_never_read_token_files(run_path, fake_record):
    RunWriter.create(run_path, {}).write_step(1, fake_record(n=6, t=9, seed=1))
    (run_path / "steps" / "step=000001" / "rank=00000" / "tokens.parquet").write_bytes(b"not parquet")
    assert RunReader(run_path).responses(1).column("response").to_pylist() == list(range(6))


def test_truncate_after_drops_every_rank_of_later_steps(run_path, fake_record):
    writer = RunWriter.create(run_path, {"world_size": 2})
    other = RankWriter(run_path, 1)
    for step in (1, 2, 3):
        writer.write_update(step, fake_record(seed=step), {"loss": float(step)})
        other.write_step(step, fake_record(seed=10 + step))
    writer.set_status("failed")
    writer.release()
    resumed = RunWriter.open_for_resume(run_path)
    resumed.truncate_after(1)
    reader = RunReader(run_path)
    assert reader.steps() == [1] and reader.step_ranks(1) == [0, 1] and reader.metrics()["step"] == [1]


@pytest.mark.slow
def test_long_texts_on_many_tokens_are_stored_once_per_response(run_path):
    # 1,024 responses x 640 tokens with 4.5 KB texts: repeating each text on its token rows
    # overflowed Arrow's 2 GiB string capacity (and wrote 3 GB); stored once per response it is small.
    n, t = 1024, 640
    rng = np.random.default_rng(0)
    mask = np.ones((n, t), bool)
    texts = [f"{i:05d} " + "x" * 4500 for i in range(n)]
    record = StepRecord(prompt_index=np.arange(n) // 16, group_id=np.arange(n) // 16, prompt_text=["p" * 4500] * n,
                        response_text=texts, reward=rng.random(n), mask=mask,
                        token_ids=rng.integers(0, 1000, (n, t)), logprob=-rng.random((n, t)))
    RunWriter.create(run_path, {}).write_step(1, record)
    reader = RunReader(run_path)
    assert reader.responses(1).column("response_text").to_pylist()[1000] == texts[1000]
    size = sum(f.stat().st_size for f in (run_path / "steps").rglob("*.parquet"))
    assert size < 20 * 2**20
    table = reader.response(1, 1000)
    assert table.num_rows == t and table.column("response_text")[0].as_py() == texts[1000]


def test_a_shard_file_linked_outside_the_run_is_not_read(tmp_path, run_path, fake_record):
    import os

    writer = RunWriter.create(run_path, {})
    for step in (1, 2):
        writer.write_step(step, fake_record(seed=step))
    planted = run_path / "steps" / "step=000002" / "rank=00000" / "tokens.parquet"
    outside = tmp_path / "outside.parquet"
    planted.rename(outside)
    os.symlink(outside, planted)
    reader = RunReader(run_path)
    assert reader.step(1).num_rows > 0
    with pytest.raises(StepNotFoundError, match="tokens.parquet: missing"):
        reader.step(2)
    assert reader.responses(2).num_rows == 6  # the shard's other file is inside the run

"""group() and response() return exactly one prompt group / one response, read by row group."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from unipo.runs import RunReader, RunWriter, StepNotFoundError, StepRecord


def _plain(table):
    # Texts are dictionary arrays; a slice's dictionary may hold only its own texts.
    return table.cast(pa.schema([pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f
                                 for f in table.schema], metadata=table.schema.metadata))


@pytest.fixture
def big_step(run_path, fake_record):
    record = fake_record(n=40, t=12, seed=5, group_size=4)
    RunWriter.create(run_path, {}).write_step(3, record)
    return RunReader(run_path), record


def test_response_returns_exactly_that_response(big_step):
    reader, record = big_step
    full = reader.step(3)
    for i in (0, 17, 39):
        rows = reader.response(3, i)
        expected = full.filter(np.asarray(full.column("response").to_numpy() == i))
        assert _plain(rows).equals(_plain(expected))
        assert rows.num_rows == int(np.asarray(record.mask)[i].sum())


def test_group_returns_exactly_that_group(big_step):
    reader, _ = big_step
    full = reader.step(3)
    for prompt in (0, 4, 9):
        rows = reader.group(3, prompt)
        assert set(rows.column("response").to_pylist()) == {4 * prompt + k for k in range(4)}
        assert _plain(rows).equals(_plain(full.filter(np.asarray(full.column("prompt").to_numpy() == prompt))))


def test_small_step_is_one_row_group(big_step):
    # Each extra row group repeats a column chunk and a footer entry per column: a small step is one.
    reader, _ = big_step
    metadata = pq.ParquetFile(reader.path / "steps" / "step=000003" / "rank=00000" / "tokens.parquet").metadata
    assert metadata.num_row_groups == 1


def test_large_step_is_cut_at_response_boundaries(run_path):
    # 80 responses x 1000 tokens: a row group closes at the first response start past 32768 rows.
    n, t = 80, 1000
    mask = np.ones((n, t), dtype=bool)
    record = StepRecord(prompt_index=np.arange(n) // 4, group_id=np.arange(n) // 4, prompt_text=["p"] * n,
                        response_text=["r"] * n, reward=np.zeros(n), mask=mask,
                        token_ids=np.arange(n * t).reshape(n, t) % 97, logprob=-np.random.default_rng(0).random((n, t)))
    RunWriter.create(run_path, {}).write_step(1, record)
    metadata = pq.ParquetFile(run_path / "steps" / "step=000001" / "rank=00000" / "tokens.parquet").metadata
    assert [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)] == [33000, 33000, 14000]
    reader = RunReader(run_path)
    rows = reader.response(1, 13)
    assert rows.num_rows == t and set(rows.column("response").to_pylist()) == {13}
    np.testing.assert_array_equal(rows.column("logprob").to_numpy(), np.asarray(record.logprob, np.float32)[13])


def test_missing_step_or_response(big_step):
    reader, _ = big_step
    with pytest.raises(StepNotFoundError, match="no step 4"):
        reader.step(4)
    with pytest.raises(LookupError):
        reader.response(4, 0)
    assert reader.response(3, 99).num_rows == 0

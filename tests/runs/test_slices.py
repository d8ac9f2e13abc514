"""group() and response() return exactly one prompt group / one response, read by row group."""
from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from unipo.runs import RunReader, RunWriter, StepNotFoundError


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
        assert rows.equals(expected)
        assert rows.num_rows == int(np.asarray(record.mask)[i].sum())


def test_group_returns_exactly_that_group(big_step):
    reader, _ = big_step
    full = reader.step(3)
    for prompt in (0, 4, 9):
        rows = reader.group(3, prompt)
        assert set(rows.column("response").to_pylist()) == {4 * prompt + k for k in range(4)}
        assert rows.equals(full.filter(np.asarray(full.column("prompt").to_numpy() == prompt)))


def test_step_file_has_one_row_group_per_16_responses(big_step):
    reader, _ = big_step
    metadata = pq.ParquetFile(reader.path / "steps" / "step-000003.parquet").metadata
    assert metadata.num_row_groups == 3  # responses 0-15, 16-31, 32-39


def test_missing_step_or_response(big_step):
    reader, _ = big_step
    with pytest.raises(StepNotFoundError, match="no step 4"):
        reader.step(4)
    with pytest.raises(LookupError):
        reader.response(4, 0)
    assert reader.response(3, 99).num_rows == 0

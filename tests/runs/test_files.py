"""run.json and metrics.jsonl: corruption, torn lines, resume, discovery, liveness."""
from __future__ import annotations

import os
import time

import pytest

from unipo.runs import RunFormatError, RunReader, RunWriter, list_runs


def _run_with_steps(run_path, fake_record, steps):
    writer = RunWriter.create(run_path, {"task": {"name": "t"}})
    for step in steps:
        writer.write_update(step, fake_record(n=2, t=3, seed=step, group_size=2), {"loss": float(step)})
    return writer


@pytest.mark.parametrize("content, message", [
    ("{not json", r"run\.json: line 1: not valid JSON"),
    ("[1, 2]", r"run\.json: expected a JSON object"),
    ('{"format": "other/9", "status": "running"}', r"run\.json: format: expected 'unipo-run/2' \(or the older 'unipo-run/1'\), got 'other/9'"),
    ('{"format": "unipo-run/1", "status": "paused"}', r"run\.json: status: expected one of"),
])
def test_corrupt_run_json_names_the_file(run_path, fake_record, content, message):
    _run_with_steps(run_path, fake_record, [1])
    (run_path / "run.json").write_text(content)
    with pytest.raises(RunFormatError, match=message):
        RunReader(run_path)


def test_missing_run_json_and_bad_step_file(tmp_path, run_path, fake_record):
    with pytest.raises(RunFormatError, match="run.json: missing"):
        RunReader(tmp_path)
    _run_with_steps(run_path, fake_record, [1])
    (run_path / "steps" / "step=000001" / "rank=00000" / "tokens.parquet").write_bytes(b"PAR1 garbage")
    with pytest.raises(RunFormatError, match="step=000001/rank=00000/tokens.parquet: not a readable step file"):
        RunReader(run_path).step(1)
    assert RunReader(run_path).responses(1).num_rows == 2  # the other half of the step still reads


def test_torn_last_metrics_line_is_ignored_then_repaired_on_resume(run_path, fake_record):
    _run_with_steps(run_path, fake_record, [1, 2])
    with open(run_path / "metrics.jsonl", "ab") as handle:
        handle.write(b'{"step": 3, "lo')  # a crash in the middle of a line
    assert RunReader(run_path).metrics()["step"] == [1, 2]

    writer = RunWriter.open_for_resume(run_path)
    writer.append_metrics(3, {"loss": 3.0})
    assert RunReader(run_path).metrics() == {"step": [1, 2, 3], "loss": [1.0, 2.0, 3.0]}


def test_bad_metrics_line_in_the_middle_names_the_line(run_path, fake_record):
    _run_with_steps(run_path, fake_record, [1])
    with open(run_path / "metrics.jsonl", "ab") as handle:
        handle.write(b"oops\n" + b'{"step": 2}\n')
    with pytest.raises(RunFormatError, match=r"metrics\.jsonl: line 2: not valid JSON"):
        RunReader(run_path).metrics()


def test_resume_truncates_steps_and_metrics_after_the_checkpoint(run_path, fake_record):
    _run_with_steps(run_path, fake_record, [1, 2, 3, 4]).set_status("failed")
    # What a writer killed mid-step (pid 999999999 cannot exist) leaves: a half-written shard.
    half = run_path / ".staging" / "step=000005.rank=00000.999999999.0"
    half.mkdir(parents=True)
    (half / "tokens.parquet").write_bytes(b"half a step")

    writer = RunWriter.open_for_resume(run_path)
    writer.truncate_after(2)
    reader = RunReader(run_path)
    assert reader.header["status"] == "running"
    assert reader.steps() == [1, 2] and reader.metrics()["step"] == [1, 2]
    assert not half.exists()

    writer.write_update(3, fake_record(n=2, t=3, seed=33, group_size=2), {"loss": 33.0})
    assert reader.steps() == [1, 2, 3] and reader.metrics()["loss"] == [1.0, 2.0, 33.0]


def test_list_runs_finds_run_directories(tmp_path, fake_record):
    for name in ("b", "a", "nested/c"):
        _run_with_steps(tmp_path / name, fake_record, [1])
    (tmp_path / "not-a-run").mkdir()
    assert list_runs(tmp_path) == [tmp_path / "a", tmp_path / "b", tmp_path / "nested" / "c"]
    assert list_runs(tmp_path / "a") == [tmp_path / "a"]


def test_is_live_needs_running_status_and_recent_changes(run_path, fake_record):
    writer = _run_with_steps(run_path, fake_record, [1])
    assert RunReader(run_path).is_live
    old = time.time() - 3600
    for file in (run_path / "run.json", run_path / "metrics.jsonl", run_path / "steps"):
        os.utime(file, (old, old))
    assert not RunReader(run_path).is_live
    writer.set_status("finished")
    assert not RunReader(run_path).is_live

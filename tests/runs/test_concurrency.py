"""A reader beside a writer in another process: only complete steps, and kill -9 loses nothing done."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from unipo.runs import RunReader

WRITER = Path(__file__).with_name("writer_process.py")


def _start_writer(run_path, steps, pause, n=32, t=64):
    process = subprocess.Popen([sys.executable, str(WRITER), str(run_path), str(steps), str(pause), str(n), str(t)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    return process


def _assert_consistent(reader: RunReader, n=32):
    """Every listed step reads whole; every metrics line's step is readable."""
    metric_steps = reader.metrics()["step"]  # read first: a line seen implies its step file is in place
    steps = reader.steps()
    for step in steps:
        table = reader.step(step, include_empty_responses=True)
        assert table.column("response").to_pylist()[-1] == n - 1  # all responses of the step present
        assert set(table.column("step").to_pylist()) == {step}
    assert set(metric_steps) <= set(steps)
    return steps


@pytest.mark.slow
def test_reader_sees_only_complete_steps_while_writer_runs(run_path):
    writer = _start_writer(run_path, steps=12, pause=0.05)
    reader = RunReader(run_path)
    seen_counts = []
    try:
        deadline = time.time() + 60
        while writer.poll() is None and time.time() < deadline:
            seen_counts.append(len(_assert_consistent(reader)))
            assert reader.is_live or reader.header["status"] == "finished"
            time.sleep(0.02)
    finally:
        writer.wait(timeout=60)
    assert writer.returncode == 0
    assert seen_counts == sorted(seen_counts)  # steps() only grows
    assert len(set(seen_counts)) > 2  # and was observed growing
    assert _assert_consistent(reader) == list(range(1, 13))
    assert reader.header["status"] == "finished"


@pytest.mark.slow
def test_kill_9_mid_run_leaves_a_readable_run(run_path):
    writer = _start_writer(run_path, steps=0, pause=0.0)
    try:
        deadline = time.time() + 60
        while len(RunReader(run_path).steps()) < 4 and time.time() < deadline:
            time.sleep(0.01)
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
    reader = RunReader(run_path)
    steps = _assert_consistent(reader)
    assert len(steps) >= 4 and steps == list(range(1, len(steps) + 1))
    assert reader.header["status"] == "running" and reader.metrics()["step"] in (steps, steps[:-1])

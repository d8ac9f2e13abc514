"""The capture child process: writes in order, hands its errors back, never hangs the trainer."""
import subprocess
import sys
import time

import pytest
import torch

from unipo.engine.capture_process import CaptureProcessError, ProcessWriter
from unipo.errors import UnipoError
from unipo.runs import RunReader, RunWriter, StepRecord


def record(n=2, t=3, **overrides):
    base = dict(prompt_index=[0] * n, group_id=[0] * n, prompt_text=["1+1="] * n, response_text=["2"] * n,
                reward=torch.ones(n), mask=torch.ones(n, t), token_ids=torch.zeros(n, t, dtype=torch.long),
                logprob=torch.zeros(n, t, dtype=torch.bfloat16), terms={"ratio": torch.ones(n, t)})
    base.update(overrides)
    return StepRecord(**base)


def new_run(tmp_path):
    return RunWriter.create(tmp_path / "run", {"name": "run"})


def test_steps_are_written_in_order_and_flush_waits_for_them(tmp_path):
    new_run(tmp_path)
    writer = ProcessWriter(tmp_path / "run")
    for step in (1, 2, 3):
        writer.submit(step, record(), {"loss": float(step)})
    writer.flush()
    reader = RunReader(tmp_path / "run")
    assert reader.steps() == [1, 2, 3]
    assert reader.metrics()["loss"] == [1.0, 2.0, 3.0]
    writer.submit(4, None, {"loss": 4.0})  # metrics only
    writer.close()
    assert RunReader(tmp_path / "run").metrics()["step"] == [1, 2, 3, 4]


def test_an_error_in_the_child_is_raised_in_the_trainer(tmp_path):
    new_run(tmp_path)
    writer = ProcessWriter(tmp_path / "run")
    writer.submit(1, record(prompt_text=["only one"]), {})
    with pytest.raises(UnipoError, match="prompt_text"):
        writer.flush()
    writer.close()


def test_a_dead_child_is_reported_not_waited_for(tmp_path):
    new_run(tmp_path)
    writer = ProcessWriter(tmp_path / "run")
    writer._process.kill()
    writer._process.wait()
    with pytest.raises(CaptureProcessError):
        for step in range(1, 50):
            writer.submit(step, record(), {})
        writer.flush()
    started = time.monotonic()
    writer.close()  # the error was raised once already (as the thread writer does); close must not hang
    assert time.monotonic() - started < 5


def test_the_child_does_not_import_torch():
    code = "import sys, unipo.engine.capture_process; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_child_that_cannot_start_falls_back_to_the_thread_writer(tmp_path, monkeypatch):
    from engine_helpers import make_trainer, small_config

    from unipo.engine import capture_process
    monkeypatch.setattr(capture_process.sys, "executable", sys.executable + "-missing")  # Popen fails
    make_trainer(tmp_path / "run", small_config(steps=2)).run()
    assert RunReader(tmp_path / "run").steps() == [1, 2]


def test_wait_ready_is_false_when_the_child_dies_at_start(tmp_path, monkeypatch):
    from unipo.engine import capture_process
    new_run(tmp_path)
    monkeypatch.setattr(capture_process.sys, "executable", "/bin/false")  # starts, exits before "ready"
    writer = ProcessWriter(tmp_path / "run")
    assert writer.wait_ready(timeout=30) is False

"""What --resume keeps: train_seconds adds up over segments; a finished run is left as it is; a
second writer (another process) stops the trainer before it touches the run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from engine_helpers import make_trainer, small_config
from unipo.engine import trainer as trainer_module
from unipo.engine.trainer import RunFinishedError
from unipo.errors import UnipoError
from unipo.runs import LOCK_FILE, RunLockedError, RunReader

WRITER = Path(__file__).parents[1] / "runs" / "writer_process.py"


@pytest.fixture
def slow_clock(monkeypatch):
    """The trainer's clock, moved 100 s forward by every progress callback (one per step)."""
    shift = [0.0]
    real = time.perf_counter
    monkeypatch.setattr(trainer_module, "time", types.SimpleNamespace(perf_counter=lambda: real() + shift[0]))

    def progress(step, total, metrics):
        shift[0] += 100.0
    return progress


def test_train_seconds_add_up_over_resumed_segments(tmp_path, slow_clock):
    out = tmp_path / "run"
    make_trainer(out, small_config(steps=2, checkpoint_every=1), progress=slow_clock).run()
    first = RunReader(out).header["train_seconds"]
    assert first >= 200  # two steps of (fake) 100 s
    make_trainer(out, small_config(steps=4, checkpoint_every=1), resume=True, progress=slow_clock).run()
    total = RunReader(out).header["train_seconds"]
    assert total >= first + 200  # not only the last segment's 200 s


def test_train_seconds_after_a_crash_count_up_to_the_checkpoint(tmp_path, slow_clock):
    out = tmp_path / "run"
    config = small_config(steps=4, checkpoint_every=2)
    trainer = make_trainer(out, config, progress=slow_clock)

    def crash_after_step_3(step, total, metrics):
        slow_clock(step, total, metrics)
        if step == 3:
            raise KeyboardInterrupt
    trainer.progress = crash_after_step_3
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    assert RunReader(out).header["status"] == "failed"
    make_trainer(out, config, resume=True, progress=slow_clock).run()
    header = RunReader(out).header
    # Segment 1 up to its checkpoint at step 2 (>= 100 s: the clock moves after each checkpoint),
    # then steps 3 and 4 again (200 s).
    assert header["train_seconds"] >= 300
    assert header["status"] == "finished" and "failure" not in header


def test_resuming_a_finished_run_says_so_and_changes_nothing(tmp_path):
    out = tmp_path / "run"
    config = small_config(steps=2, checkpoint_every=1, eval_prompts=2)
    make_trainer(out, config).run()
    def files():  # the lock file records its latest holder, nothing of the run
        return {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != LOCK_FILE}
    before = files()
    with pytest.raises(RunFinishedError) as caught:
        make_trainer(out, config, resume=True)
    message = str(caught.value)
    assert isinstance(caught.value, UnipoError) and "\n" not in message
    assert message == (f"{out}: the run is already finished (2 of 2 steps done); nothing to resume (give a "
                       f"larger --steps to train it further, or --overwrite to start it again)")
    assert files() == before  # header, status, evaluation, steps, checkpoint: all as they were


def test_resume_with_other_settings_leaves_the_status_alone(tmp_path):
    out = tmp_path / "run"
    make_trainer(out, small_config(steps=2)).run()
    header = (out / "run.json").read_bytes()
    with pytest.raises(UnipoError, match="cannot resume with seed=4"):
        make_trainer(out, small_config(steps=3, seed=4), resume=True)
    assert (out / "run.json").read_bytes() == header


@pytest.mark.parametrize("how", ["overwrite", "resume"])
def test_a_trainer_on_a_run_another_process_writes_is_refused_and_deletes_nothing(tmp_path, how):
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, str(WRITER), str(out), "0", "0.05", "4", "4"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready", holder.stderr.read()
        (out / "checkpoints" / "update-000001.pt").write_bytes(b"the holder's checkpoint")
        while len(RunReader(out).steps()) < 2:
            time.sleep(0.02)
        header = (out / "run.json").read_bytes()
        steps = set(RunReader(out).steps())
        with pytest.raises(RunLockedError, match=f"another process is writing this run \\(pid {holder.pid}"):
            make_trainer(out, small_config(steps=2), **{how: True})
        assert (out / "run.json").read_bytes() == header
        assert steps <= set(RunReader(out).steps())
        assert (out / "checkpoints" / "update-000001.pt").read_bytes() == b"the holder's checkpoint"
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=60)

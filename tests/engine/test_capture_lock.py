"""The capture child writes through the trainer's writer lock: it shares the locked descriptor
(no flock of its own, so no deadlock with its parent), and the lock lasts until both have exited."""
from __future__ import annotations

import pytest

from unipo.engine.capture_process import ProcessWriter
from unipo.runs import RunLockedError, RunReader, RunWriter, WriterLock


def test_the_capture_child_shares_the_trainers_lock(tmp_path):
    run = tmp_path / "run"
    writer = RunWriter.create(run, {"task": {"name": "t"}})
    child = ProcessWriter(run, lock_fd=writer.lock.fd)
    assert child.wait_ready()
    child.submit(1, None, {"loss": 1.0})
    child.flush()  # the child wrote while the parent holds the lock: no deadlock, no refusal
    writer.release()  # the parent lets go; the child still holds the shared lock
    with pytest.raises(RunLockedError):
        WriterLock.acquire(run)
    child.close()  # the child exits: the lock is free
    WriterLock.acquire(run).release()
    assert RunReader(run).metrics()["step"] == [1]

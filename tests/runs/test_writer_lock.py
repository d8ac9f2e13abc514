"""One writer per run directory: a second writer (another process, or the same one) is refused at
once with a message naming the directory and the holder, and touches nothing; kill -9 of the
holder frees the run; readers never need the lock."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from unipo.errors import UnipoError
from unipo.runs import LOCK_FILE, RunLockedError, RunReader, RunWriter, export_canonical, list_runs

HERE = Path(__file__).parent
WRITER = HERE / "writer_process.py"
SECOND = HERE / "second_writer.py"
TIMEOUT = 120


def start_holder(run_path):
    """writer_process.py writing small steps until killed; returns once it holds the run."""
    process = subprocess.Popen([sys.executable, str(WRITER), str(run_path), "0", "0.05", "4", "4"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready", process.stderr.read()
    return process


def kill(process):
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=TIMEOUT)


def snapshot(run_path: Path) -> dict:
    """What a second writer must not change: run.json and the files present at this moment."""
    return {"header": (run_path / "run.json").read_bytes(),
            "steps": sorted(p.name for p in (run_path / "steps").iterdir()),
            "metrics": (run_path / "metrics.jsonl").read_bytes()}


def assert_untouched(run_path: Path, before: dict) -> None:
    after = snapshot(run_path)
    assert after["header"] == before["header"]  # no header rewrite, status unchanged
    assert set(before["steps"]) <= set(after["steps"])  # nothing deleted (the holder may add steps)
    assert after["metrics"].startswith(before["metrics"])  # no truncation, no interleaved lines


def second_writer(run_path, mode):
    return subprocess.run([sys.executable, str(SECOND), str(run_path), mode], capture_output=True, text=True,
                          timeout=TIMEOUT)


@pytest.mark.parametrize("mode", ["resume", "overwrite"])
def test_a_second_writer_process_is_refused_at_once_and_touches_nothing(run_path, mode):
    holder = start_holder(run_path)
    try:
        while len(RunReader(run_path).steps()) < 2:
            assert holder.poll() is None, holder.stderr.read()
            time.sleep(0.02)
        before = snapshot(run_path)
        result = second_writer(run_path, mode)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert str(run_path) in lines[0]
        assert "another process is writing this run" in lines[0]
        assert f"pid {holder.pid}" in lines[0] and "writer_process.py" in lines[0] and "since " in lines[0]
        assert_untouched(run_path, before)
        assert holder.poll() is None  # the holder goes on writing
    finally:
        kill(holder)


def test_kill_9_of_the_holder_frees_the_run_for_the_next_writer(run_path):
    holder = start_holder(run_path)
    try:
        while len(RunReader(run_path).steps()) < 2:
            time.sleep(0.02)
    finally:
        kill(holder)
    assert (run_path / LOCK_FILE).exists()  # left behind, but holding no lock
    result = second_writer(run_path, "resume")
    assert result.returncode == 0, result.stderr
    reader = RunReader(run_path)
    assert reader.header["status"] == "finished"
    assert reader.steps()[-1] == 1000


def test_the_same_process_cannot_open_a_run_twice_and_readers_need_no_lock(run_path, fake_record):
    writer = RunWriter.create(run_path, {"task": {"name": "t"}})
    writer.write_update(1, fake_record(), {"loss": 1.0})
    with pytest.raises(RunLockedError, match=f"pid {os.getpid()}") as caught:
        RunWriter.open_for_resume(run_path)
    assert isinstance(caught.value, UnipoError)
    with pytest.raises(RunLockedError):
        RunWriter.create(run_path, {"task": {"name": "t"}}, exist_ok=True)
    assert RunReader(run_path).steps() == [1]  # read while the writer holds the lock
    assert list_runs(run_path.parent) == [run_path]
    writer.close()
    again = RunWriter.open_for_resume(run_path)  # free once the first writer closed
    again.truncate_after(1)
    again.close()
    assert RunReader(run_path).header["status"] == "finished"


def test_cli_import_into_a_run_being_written_is_one_line_exit_2(tmp_path, fake_record):
    source = tmp_path / "source"
    with RunWriter.create(source, {"task": {"name": "t"}}) as writer:
        writer.write_update(1, fake_record(), {"loss": 1.0})
    log = export_canonical(source, tmp_path / "log.jsonl")
    target = tmp_path / "target"
    holder = start_holder(target)
    try:
        before = snapshot(target)
        result = subprocess.run([sys.executable, "-m", "unipo.cli", "import", str(log), "--out", str(target)],
                                capture_output=True, text=True, timeout=TIMEOUT)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert str(target) in lines[0] and f"pid {holder.pid}" in lines[0]
        assert_untouched(target, before)
    finally:
        kill(holder)
    assert not [p for p in tmp_path.iterdir() if ".importing-" in p.name]


def test_lock_file_names_the_holder(run_path):
    writer = RunWriter.create(run_path, {})
    holder = json.loads((run_path / LOCK_FILE).read_text())
    assert holder["pid"] == os.getpid() and holder["host"] and holder["started"] and "command" in holder
    writer.close()

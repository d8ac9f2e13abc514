"""kill -9 during `unipo import` of a large canonical log: the run directory is absent (the import
writes in a hidden staging folder, renamed into place at the end), nothing is listed as a run, and
the same import run again succeeds without any manual cleanup."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from unipo.runs import RunReader, RunWriter, export_canonical, import_canonical, list_runs

ENTRIES = 80


def _large_log(tmp_path, fake_record):
    source = tmp_path / "source"
    with RunWriter.create(source, {"task": {"name": "big"}}) as writer:
        for step in (1, 2):
            writer.write_update(step, fake_record(n=32, t=48, seed=step, group_size=4), {"loss": float(step)})
    small = export_canonical(source, tmp_path / "small.jsonl").read_text().splitlines()
    header, entries = small[0], [json.loads(line) for line in small[1:]]
    big = tmp_path / "big.jsonl"
    with open(big, "w") as out:
        out.write(header + "\n")
        for step in range(1, ENTRIES + 1):
            entry = entries[step % 2]
            entry["step"] = step
            out.write(json.dumps(entry) + "\n")
    return big


def _stored_steps(run) -> int:
    """Steps with a file in the run's steps/ folder (whatever the store's file layout)."""
    folder = run / "steps"
    return len([p for p in folder.iterdir() if p.name.startswith("step") and not p.name.endswith(".tmp")]) \
        if folder.is_dir() else 0


@pytest.mark.slow
def test_kill_9_during_import_leaves_no_run_and_the_import_can_be_run_again(tmp_path, fake_record):
    log = _large_log(tmp_path, fake_record)
    runs = tmp_path / "runs"
    runs.mkdir()
    target = runs / "imported"
    process = subprocess.Popen([sys.executable, "-m", "unipo.cli", "import", str(log), "--out", str(target)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    staging = runs / f".imported.importing-{process.pid}"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if _stored_steps(staging) >= 3:
                break
            assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.01)
        else:
            pytest.fail("the import stored no 3 steps in 120 s")
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)

    assert not target.exists()  # never a half-imported run under the name asked for
    assert list_runs(runs) == []  # the hidden staging folder is not listed as a run
    assert staging.is_dir()  # what the killed import left (removed by the next one)

    import_canonical(log, target)
    reader = RunReader(target)
    assert reader.steps() == list(range(1, ENTRIES + 1))
    assert reader.metrics()["step"] == reader.steps()
    assert reader.header["status"] == "finished"
    assert sorted(p.name for p in runs.iterdir()) == ["imported"]  # the stale staging folder is gone
    assert list_runs(runs) == [target]

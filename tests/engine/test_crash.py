"""kill -9 in the middle of a run leaves a readable run that --resume completes."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from unipo.runs import RunReader

SCRIPT = Path(__file__).with_name("train_process.py")


@pytest.mark.slow
def test_kill_9_leaves_a_readable_resumable_run(tmp_path):
    out = tmp_path / "run"
    process = subprocess.Popen([sys.executable, str(SCRIPT), str(out), "fresh", "400"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if (out / "steps").is_dir() and len(list((out / "steps").glob("step=*"))) >= 5:
                break
            assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.05)
        else:
            pytest.fail("the training subprocess stored no 5 steps in 120 s")
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

    reader = RunReader(out)
    steps = reader.steps()
    assert steps[:5] == [1, 2, 3, 4, 5]
    for step in steps:
        assert reader.step(step).num_rows > 0
    assert reader.metrics()["step"] == steps[: len(reader.metrics()["step"])]
    checkpoints = list((out / "checkpoints").iterdir())
    assert [p.name for p in checkpoints if not p.name.endswith(".tmp")]

    last = steps[-1]
    finished = subprocess.run([sys.executable, str(SCRIPT), str(out), "resume", str(last + 2)],
                              capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    reader = RunReader(out)
    assert reader.steps() == list(range(1, last + 3))
    assert reader.metrics()["step"] == reader.steps()
    assert reader.header["status"] == "finished"

"""A training stand-in run as a separate process by test_concurrency.py: writes steps in a loop.

usage: python writer_process.py RUN_DIR STEPS PAUSE_S N T   (STEPS 0 = until killed)
"""
import importlib.util
import sys
import time
from pathlib import Path

from unipo.runs import RunWriter

spec = importlib.util.spec_from_file_location("fake_steps", Path(__file__).with_name("fake_steps.py"))
fake_steps = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fake_steps)

run_dir, steps, pause, n, t = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
writer = RunWriter.create(run_dir, {"task": {"name": "concurrency"}})
print("ready", flush=True)
step = 1
while steps == 0 or step <= steps:
    writer.write_update(step, fake_steps.fake_record(n=n, t=t, seed=step, group_size=4), {"loss": float(step)})
    step += 1
    time.sleep(pause)
writer.set_status("finished")

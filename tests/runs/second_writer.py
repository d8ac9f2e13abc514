"""A second writer run as its own process by test_writer_lock.py.

usage: python second_writer.py RUN_DIR resume|overwrite
Exit 0 when it could open the run for writing (it then writes one step and closes), 2 with the
error on one stderr line when it was refused.
"""
import importlib.util
import sys
from pathlib import Path

from unipo.errors import UnipoError
from unipo.runs import RunWriter

spec = importlib.util.spec_from_file_location("fake_steps", Path(__file__).with_name("fake_steps.py"))
fake_steps = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fake_steps)

run_dir, mode = sys.argv[1], sys.argv[2]
try:
    if mode == "resume":
        writer = RunWriter.open_for_resume(run_dir)
    else:
        writer = RunWriter.create(run_dir, {"task": {"name": "second"}}, exist_ok=True)
except UnipoError as exc:
    print(exc, file=sys.stderr)
    sys.exit(2)
writer.write_update(1000, fake_steps.fake_record(n=4, t=4, seed=1, group_size=2), {"loss": 0.0})
writer.close("finished")

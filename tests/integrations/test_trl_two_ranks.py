"""`accelerate launch --num_processes 2` (CPU, gloo): each rank writes its own shard of every step,
the reader merges them, and the merged step holds the rows a 1-process run of the same global batch
stores. Greedy sampling (top_k=1) makes the completions independent of how the batch is split, so
the rows can be compared one for one; each group of 4 completions is split 2 + 2 over the ranks,
so the stored group ids must be global for the groups to come back whole."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from unipo.runs import RunReader

pytestmark = pytest.mark.slow
pytest.importorskip("trl")
pytest.importorskip("accelerate")
SCRIPT = Path(__file__).with_name("trl_run.py")
ROOT = Path(__file__).resolve().parents[2]


def launch(out: Path, processes: int, batch: int) -> None:
    common = [str(SCRIPT), str(out), "--capture", "--steps", "2", "--batch", str(batch), "--group", "4",
              "--top-k", "1"]
    if processes == 1:
        command = [sys.executable, *common]
    else:
        accelerate = Path(sys.executable).with_name("accelerate")
        command = [str(accelerate), "launch", "--multi_gpu", "--num_processes", str(processes), "--num_machines", "1",
                   "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0", *common]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=540, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]


def rows(reader: RunReader, step: int) -> list[tuple]:
    table = reader.responses(step)
    keys = ("group", "prompt", "prompt_text", "response_text", "reward")
    found = sorted(zip(*(table.column(k).to_pylist() for k in keys)))
    return [(g, p, pt, rt, round(r, 5)) for g, p, pt, rt, r in found]


def test_two_ranks_write_shards_that_merge_into_the_one_rank_rows(tmp_path):
    launch(tmp_path / "two", 2, batch=2)
    launch(tmp_path / "one", 1, batch=4)
    two, one = RunReader(tmp_path / "two" / "run"), RunReader(tmp_path / "one" / "run")
    assert two.header["world_size"] == 2 and one.header["world_size"] == 1
    assert two.steps() == one.steps() == [0, 1]
    for step in (0, 1):
        assert two.step_ranks(step) == [0, 1]
        merged = rows(two, step)
        assert len(merged) == 4 and merged == rows(one, step)
        assert len({r[0] for r in merged}) == 1  # one group of 4, two completions from each rank
        tokens_two, tokens_one = two.step(step), one.step(step)
        order_two = np.lexsort((tokens_two.column("position").to_numpy(), tokens_two.column("response_text").to_numpy()))
        order_one = np.lexsort((tokens_one.column("position").to_numpy(), tokens_one.column("response_text").to_numpy()))
        logprob_two = np.array(tokens_two.column("logprob").to_pylist(), dtype=float)[order_two]
        logprob_one = np.array(tokens_one.column("logprob").to_pylist(), dtype=float)[order_one]
        assert np.allclose(logprob_two, logprob_one, atol=1e-4)
    assert two.metrics()["loss_check_ok"] == [1, 1]

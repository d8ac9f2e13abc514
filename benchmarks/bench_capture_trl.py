"""What capturing a TRL GRPOTrainer run costs, measured in one run:

    .venv/bin/python benchmarks/bench_capture_trl.py [--steps 12] [--repeats 2] [--ranks] [--bytes-of RUN]

1. step time with capture on vs off: the same TRL run (tiny random Llama, 8 prompts x 4
   completions, 24 new tokens, dapo), built identically, trained `--repeats` times each way,
   alternating; median seconds per optimizer update (first update of each run excluded);
2. with --ranks: the same under `accelerate launch --num_processes 2` (CPU, gloo, half the batch
   per rank): the capture's overhead at 2 ranks vs at 1 rank;
3. with --bytes-of RUN: bytes per stored completion token of a run directory (e.g. the SmolLM2 run
   of examples/trl_grpo_smollm2.py).
Goal (docs/capture-trl.md): capture on / off <= 1.05. On a shared machine the wall-clock ratio is
noisy (other processes take the cores); the capture's own seconds on the training thread are
printed too (TrlCapture.capture_seconds), which other processes do not inflate much.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "integrations" / "trl_run.py"


def run_once(out: Path, *, capture: bool, steps: int, batch: int, ranks: int, threads: int) -> list[float]:
    args = [str(SCRIPT), str(out), "--steps", str(steps), "--batch", str(batch), "--group", "4"]
    args += ["--capture"] if capture else []
    if ranks == 1:
        command = [sys.executable, *args]
    else:
        command = [str(Path(sys.executable).with_name("accelerate")), "launch", "--multi_gpu", "--num_processes",
                   str(ranks), "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                   "--main_process_port", "0", *args]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"run failed:\n{done.stderr[-3000:]}")
    return json.loads((out / "timings.json").read_text())[1:]


def compare(tmp: Path, *, steps: int, repeats: int, batch: int, ranks: int, threads: int) -> tuple[float, float, float]:
    """(median s/update off, on, the capture's own seconds per update on the training thread)."""
    off, on, own = [], [], []
    for k in range(repeats):
        off += run_once(tmp / f"off-{ranks}-{k}", capture=False, steps=steps, batch=batch, ranks=ranks, threads=threads)
        on += run_once(tmp / f"on-{ranks}-{k}", capture=True, steps=steps, batch=batch, ranks=ranks, threads=threads)
        own.append(json.loads((tmp / f"on-{ranks}-{k}" / "capture_seconds.json").read_text()) / steps)
    return statistics.median(off), statistics.median(on), statistics.median(own)


def bytes_per_token(run: Path) -> tuple[int, int]:
    import pyarrow.parquet as pq
    total = sum(f.stat().st_size for f in (run / "steps").rglob("*.parquet"))
    tokens = sum(pq.ParquetFile(f).metadata.num_rows for f in (run / "steps").rglob("tokens.parquet"))
    return total, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32, help="completions per update (one process)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--ranks", action="store_true", help="also measure 2 ranks (accelerate launch)")
    parser.add_argument("--bytes-of", default=None, help="a run directory: print its bytes per stored token")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        off, on, own = compare(tmp, steps=args.steps, repeats=args.repeats, batch=args.batch, ranks=1,
                               threads=args.threads)
        print(f"1 process, {args.batch} completions/update, {args.steps} updates x {args.repeats} runs each way")
        print(f"  capture off {off * 1000:.1f} ms/update   on {on * 1000:.1f} ms/update   on/off = {on / off:.3f}")
        print(f"  the capture's own time on the training thread: {own * 1000:.1f} ms/update "
              f"= {own / off:.3f} of an uncaptured update (encoding and writes run in a child process)")
        if args.ranks:
            off2, on2, own2 = compare(tmp, steps=args.steps, repeats=args.repeats, batch=args.batch // 2, ranks=2,
                                threads=args.threads)
            print(f"2 ranks, {args.batch // 2} completions/rank/update")
            print(f"  capture off {off2 * 1000:.1f} ms/update   on {on2 * 1000:.1f} ms/update   on/off = {on2 / off2:.3f}")
            print(f"  capture overhead: {(on2 - off2) * 1000:.1f} ms/update at 2 ranks vs {(on - off) * 1000:.1f} ms at 1; "
                  f"own time on rank 0's training thread {own2 * 1000:.1f} ms vs {own * 1000:.1f} ms")
    if args.bytes_of:
        total, tokens = bytes_per_token(Path(args.bytes_of))
        print(f"{args.bytes_of}: {total} bytes of step files for {tokens} tokens = {total / max(tokens, 1):.1f} B/token")


if __name__ == "__main__":
    main()

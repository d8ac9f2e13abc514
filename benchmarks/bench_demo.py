"""`unipo demo --no-serve` measured in one run: time to the first stored update, total wall time,
peak resident memory of the demo and all its children (summed, sampled every 0.1 s), and held-out
accuracy before/after RL per algorithm with the number of eval prompts.

    .venv/bin/python benchmarks/bench_demo.py [--out DIR] [-- extra demo options]

The warm-up of the tiny model is cached by an untimed `load_policy_model` call first, so the figures
are those of a user's second demo (the first adds the warm-up, ~30-60 s on 2 cores).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and every descendant (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields[21]) * PAGE
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None, help="runs folder (default: a temporary one)")
    parser.add_argument("extra", nargs="*", help="extra `unipo demo` options (after --)")
    args = parser.parse_args()

    import torch
    torch.set_num_threads(1)
    from unipo.models import load_policy_model
    load_policy_model("tiny", task="arithmetic", seed=0)  # cache the warm-up (not timed)

    out = Path(args.out or tempfile.mkdtemp(prefix="bench-demo-"))
    command = [sys.executable, "-m", "unipo.cli", "demo", "--no-serve", "--quiet", "--out", str(out), *args.extra]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first_step, peak = None, 0
    while process.poll() is None:
        peak = max(peak, tree_rss_bytes(process.pid))
        if first_step is None and any(out.glob("*/steps/step-*.parquet")):
            first_step = time.perf_counter() - started
        time.sleep(0.1)
    total = time.perf_counter() - started
    output = process.stdout.read()
    if process.returncode != 0:
        print(output)
        raise SystemExit(f"demo failed with exit code {process.returncode}")

    print(f"command: {' '.join(command[1:])}")
    print(f"time to first stored update: {first_step:.1f} s   (goal <= 60 s)")
    print(f"total wall time:             {total:.1f} s   (goal <= 600 s)")
    print(f"peak RSS incl. children:     {peak / 2**20:.0f} MiB   (goal <= 2048 MiB)")
    print()
    print(f"{'algorithm':<10} {'before':>7} {'after':>7} {'change':>8} {'eval n':>7} {'train s':>8}")
    worse = []
    for run in sorted(p for p in out.iterdir() if (p / "run.json").exists()):
        header = json.loads((run / "run.json").read_text())
        evaluation = header.get("evaluation") or {}
        before, after, n = evaluation.get("before"), evaluation.get("after"), evaluation.get("prompts")
        change = (after - before) * 100
        if change <= 0:
            worse.append(run.name)
        print(f"{run.name:<10} {before:>7.1%} {after:>7.1%} {change:>+7.1f}pt {n:>7} {header.get('train_seconds', 0):>8.1f}")
    summary = [line for line in output.splitlines() if re.match(r"^(algorithm|total|[a-z_]+ +\d)", line)]
    print("\ndemo's own summary:\n" + "\n".join(summary))
    print("\nRL improved held-out accuracy for every algorithm" if not worse
          else f"\nRL did NOT improve held-out accuracy for: {', '.join(worse)}")


if __name__ == "__main__":
    main()

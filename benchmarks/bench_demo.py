"""`unipo demo` measured in one run, as a user starts it (server first, runs trained at once):
time to the first view (the web app and its run list answer), to the first run listed, to the first
stored update and to all runs finished; peak resident memory of the demo and all its children
(summed, sampled every 0.1 s); held-out accuracy before/after RL per algorithm.

    .venv/bin/python benchmarks/bench_demo.py [--cold] [--script] [--no-serve] [--out DIR] [-- demo options]

By default the warm-up of the tiny model is cached by an untimed `load_policy_model` call first (a
user's second demo); --cold times it too (a first demo), --script runs `bash scripts/demo.sh`.
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


def _get(url: str, timeout: float = 2.0) -> bytes | None:
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.read() if answer.status == 200 else None
    except OSError:
        return None


def _read_lines(stream, lines: list[str]) -> None:
    for line in stream:
        lines.append(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None, help="runs folder (default: a temporary one)")
    parser.add_argument("--cold", action="store_true",
                        help="empty model cache (UNIPO_CACHE_DIR in a temporary folder): the warm-up is timed too")
    parser.add_argument("--script", action="store_true",
                        help="run `bash scripts/demo.sh` (its set-up check included) instead of `unipo demo`")
    parser.add_argument("--no-serve", action="store_true", help="measure `unipo demo --no-serve` (no web app)")
    parser.add_argument("extra", nargs="*", help="extra `unipo demo` options (after --)")
    args = parser.parse_args()

    env = dict(os.environ)
    if args.cold:
        env["UNIPO_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-demo-cache-")
    else:
        import torch
        torch.set_num_threads(1)
        from unipo.models import load_policy_model
        load_policy_model("tiny", task="arithmetic", seed=0)  # cache the warm-up (not timed)

    out = Path(args.out or tempfile.mkdtemp(prefix="bench-demo-"))
    demo_options = ["--out", str(out), "--quiet", *(["--no-serve"] if args.no_serve else ["--no-browser", "--port", "0"]),
                    *args.extra]
    repo = Path(__file__).resolve().parents[1]
    command = (["bash", str(repo / "scripts" / "demo.sh"), *demo_options] if args.script
               else [sys.executable, "-m", "unipo.cli", "demo", *demo_options])
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                               cwd=repo, start_new_session=True)
    lines: list[str] = []
    import threading
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    marks: dict[str, float] = {}
    peak, url = 0, None
    n_runs = len((dict(zip(args.extra[::2], args.extra[1::2])).get("--algos") or "reinforce,ppo,grpo,dapo,dr_grpo,gspo").split(","))
    while process.poll() is None:
        now = time.perf_counter() - started
        peak = max(peak, tree_rss_bytes(process.pid))
        text = "".join(lines)
        if url is None:
            found = re.search(r"serving \d+ run\(s\) at (http://\S+)", text)
            url = found.group(1).rstrip("/") if found else None
        if url and "first view" not in marks and _get(url + "/") and _get(url + "/api/runs"):
            marks["first view"] = now  # the page and its run list answer
        if url and "first run listed" not in marks and (_get(url + "/api/runs") or b"[]").strip() not in (b"[]", b""):
            marks["first run listed"] = now
        if "first stored update" not in marks and any(out.glob("*/steps/step*")):
            marks["first stored update"] = now
        if "all runs" not in marks and re.search(r"^total \d", text, re.M):
            marks["all runs"] = now
            if not args.no_serve:
                break
        time.sleep(0.1)
    total = time.perf_counter() - started
    if process.poll() is None:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
    elif process.returncode != 0:
        print("".join(lines))
        raise SystemExit(f"demo failed with exit code {process.returncode}")
    output = "".join(lines)

    print(f"command: {' '.join(command)}{'   (model cache empty: warm-up timed)' if args.cold else '   (warm-up cached)'}")
    print(f"cores available: {len(os.sched_getaffinity(0))}")
    for name in ("first view", "first run listed", "first stored update", "all runs"):
        value = marks.get(name)
        print(f"time to {name + ':':<22} {'—' if value is None else f'{value:.1f} s'}")
    print(f"peak RSS incl. children:     {peak / 2**20:.0f} MiB   ({n_runs} runs)")
    print()
    print(f"{'algorithm':<10} {'before':>7} {'after':>7} {'change':>8} {'eval n':>7} {'train s':>8}")
    worse = []
    for run in sorted(p for p in out.iterdir() if (p / "run.json").exists()):
        header = json.loads((run / "run.json").read_text())
        evaluation = header.get("evaluation") or {}
        before, after, n = evaluation.get("before"), evaluation.get("after"), evaluation.get("prompts")
        if before is None or after is None:
            print(f"{run.name:<10} not finished")
            continue
        change = (after - before) * 100
        if change <= 0:
            worse.append(run.name)
        print(f"{run.name:<10} {before:>7.1%} {after:>7.1%} {change:>+7.1f}pt {n:>7} {header.get('train_seconds', 0):>8.1f}")
    summary = [line for line in output.splitlines() if re.match(r"^(algorithm|total|[a-z_]+ +\d)", line)]
    print("\ndemo's own summary:\n" + "\n".join(summary))
    print("\nRL improved held-out accuracy for every algorithm" if not worse
          else f"\nRL did NOT improve held-out accuracy for: {', '.join(worse)}")
    print(f"(measured over {total:.0f} s)")


if __name__ == "__main__":
    main()

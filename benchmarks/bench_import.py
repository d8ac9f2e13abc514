"""Import throughput (MB/s of input), peak RSS and bytes per stored token, per token-level format.

    .venv/bin/python benchmarks/bench_import.py [--mb 1024] [--formats prime-rl,openrlhf,reference,unipo]

Each format gets a generated dump of about --mb megabytes (sequences of 512 completion tokens, groups of
8, 64 sequences per step, values as the frameworks write them), imported by `unipo import` in a child
process; peak RSS is that child's (ru_maxrss). Goal: >= 50 MB/s and <= 500 MB RSS at 1 GB.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

COMPLETION = 512
PROMPT = 128
PER_STEP = 64
GROUP = 8


def _floats(rng, n, scale=1.0):
    return np.round(-rng.random(n) * scale, 6).tolist()


def write_prime_rl(root: Path, target: int, rng) -> int:
    written = step = 0
    while written < target:
        folder = root / "token_exports" / f"step_{step}"
        folder.mkdir(parents=True)
        with open(folder / "rank_0.jsonl", "w") as out:
            for k in range(PER_STEP):
                if k % GROUP == 0:
                    prompt = rng.integers(0, 32000, PROMPT).tolist()
                n = PROMPT + COMPLETION
                trainer = _floats(rng, n)
                line = json.dumps({"schema_version": 1, "step": step, "export_step": step, "rank": 0, "micro_step": 0,
                                   "micro_sequence_idx": k, "export_sequence_idx": k, "run_id": None, "env_name": "math",
                                   "token_ids": prompt + rng.integers(0, 32000, COMPLETION).tolist(),
                                   "position_ids": list(range(n)), "loss_mask": [False] * PROMPT + [True] * COMPLETION,
                                   "advantages": [0.0] * PROMPT + [round(float(rng.normal()), 6)] * COMPLETION,
                                   "rewards": [None] * n, "inference_logprobs": _floats(rng, n),
                                   "trainer_logprobs": trainer, "entropy": _floats(rng, n, -2.0),
                                   "importance_ratio": np.round(1 + rng.normal(0, 0.01, n), 6).tolist(),
                                   "is_masked": [False] * n}, separators=(",", ":"))
                out.write(line + "\n")
                written += len(line) + 1
        step += 1
    return written


def write_openrlhf(root: Path, target: int, rng) -> int:
    root.mkdir(parents=True)
    written = 0
    with open(root / "board.jsonl", "w") as out:
        step = 0
        while written < target:
            for k in range(PER_STEP):
                tokens = rng.integers(0, 32000, COMPLETION).tolist()
                line = json.dumps({"prompt": f"prompt {step}-{k // GROUP}", "response": "x" * COMPLETION,
                                   "response_tokens": tokens, "logprobs": _floats(rng, COMPLETION),
                                   "ref_logprobs": _floats(rng, COMPLETION), "values": _floats(rng, COMPLETION, -1.0),
                                   "token_rewards": [0.0] * (COMPLETION - 1) + [1.0], "reward": float(k % 2),
                                   "step": step}, separators=(",", ":"))
                out.write(line + "\n")
                written += len(line) + 1
            step += 1
    return written


def write_reference(root: Path, target: int, rng) -> int:
    root.mkdir(parents=True)
    written = 0
    with open(root / "run.jsonl", "w") as out:
        header = json.dumps({"type": "header", "algorithm": "grpo", "model_name": "m", "hparams": {"clip_eps": 0.2}})
        out.write(header + "\n")
        step = 0
        while written < target:
            prompts = []
            for p in range(PER_STEP // GROUP):
                responses = []
                for k in range(GROUP):
                    responses.append({"id": f"s{step}p{p}k{k}", "reward": float(k % 2), "advantage": 0.5,
                                      "response_text": "x" * COMPLETION, "response_length": COMPLETION,
                                      "tokens": {"ids": rng.integers(0, 32000, COMPLETION).tolist(),
                                                 "strings": ["x"] * COMPLETION,
                                                 "log_probs": _floats(rng, COMPLETION),
                                                 "old_log_probs": _floats(rng, COMPLETION),
                                                 "ref_log_probs": _floats(rng, COMPLETION),
                                                 "advantages": [0.5] * COMPLETION}})
                prompts.append({"prompt": f"prompt {p}", "responses": responses})
            line = json.dumps({"type": "step", "step": step, "is_first_step_after_rollout_phase": True,
                               "metrics": {"reward": 0.5}, "prompts": prompts}, separators=(",", ":"))
            out.write(line + "\n")
            written += len(line) + 1
            step += 1
    return written


def write_unipo(root: Path, target: int, rng) -> int:
    root.mkdir(parents=True)
    written = 0
    with open(root / "run.jsonl", "w") as out:
        out.write(json.dumps({"header": {"format": "unipo-canonical/1", "name": "bench"}}) + "\n")
        step = 0
        while written < target:
            prompts = []
            for p in range(PER_STEP // GROUP):
                responses = [{"text": "x" * COMPLETION, "reward": float(k % 2),
                              "tokens": {"id": rng.integers(0, 32000, COMPLETION).tolist(),
                                         "log_probs": _floats(rng, COMPLETION), "old_log_probs": _floats(rng, COMPLETION),
                                         "advantages": [0.5] * COMPLETION}} for k in range(GROUP)]
                prompts.append({"text": f"prompt {p}", "responses": responses})
            line = json.dumps({"step": step + 1, "metrics": {"loss": 0.1}, "prompts": prompts}, separators=(",", ":"))
            out.write(line + "\n")
            written += len(line) + 1
            step += 1
    return written


WRITERS = {"prime-rl": write_prime_rl, "openrlhf": write_openrlhf, "reference": write_reference, "unipo": write_unipo}


def source_of(root: Path, fmt: str) -> Path:
    return {"prime-rl": root, "openrlhf": root / "board.jsonl"}.get(fmt, root / "run.jsonl")


def run_import(source: Path, out: Path) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds, peak RSS in MB of that child alone (wait4's rusage), the import's report).
    CPU seconds say what the import costs on a machine shared with other work."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        child = subprocess.Popen([sys.executable, "-m", "unipo.cli", "import", str(source), "--out", str(out),
                                  "--no-progress"], stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        stdout.seek(0)
        stderr.seek(0)
        if child.returncode != 0:
            raise SystemExit(f"import of {source} failed:\n{stderr.read()}")
        return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=1024, help="size of each generated dump in MB (1 GB: the goal's size)")
    parser.add_argument("--formats", default=",".join(WRITERS), help="comma-separated: " + ", ".join(WRITERS))
    parser.add_argument("--keep", action="store_true", help="keep the generated dumps and runs")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    base = Path(tempfile.mkdtemp(prefix="unipo-bench-import-"))
    print(f"{'format':<10} {'input MB':>9} {'wall s':>7} {'MB/s':>6} {'CPU s':>6} {'MB/CPU-s':>9} {'peak RSS MB':>12} "
          f"{'tokens':>11} {'stored B/token':>15}")
    try:
        for fmt in args.formats.split(","):
            root = base / fmt
            size = WRITERS[fmt](root, int(args.mb * 1e6), rng)
            seconds, cpu, rss, report = run_import(source_of(root, fmt), base / f"{fmt}-run")
            tokens = int(next(line.split(":")[1] for line in report.splitlines() if line.strip().startswith("tokens:")))
            stored = sum(p.stat().st_size for p in (base / f"{fmt}-run").rglob("*") if p.is_file())
            print(f"{fmt:<10} {size / 1e6:>9.1f} {seconds:>7.1f} {size / 1e6 / seconds:>6.1f} {cpu:>6.1f} "
                  f"{size / 1e6 / cpu:>9.1f} {rss:>12.0f} "
                  f"{tokens:>11,} {stored / max(tokens, 1):>15.2f}", flush=True)
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print(f"kept in {base}")


if __name__ == "__main__":
    main()

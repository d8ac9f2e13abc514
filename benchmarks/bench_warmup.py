"""Warm-up of the built-in tiny model: wall time, cache-hit time, held-out accuracy before/after.

    .venv/bin/python benchmarks/bench_warmup.py [--task arithmetic] [--seeds 0 1] [--n 256]

Runs the public path (`load_policy_model("tiny", ...)`) into a fresh temporary cache, so the
warm-up really runs, then loads again to time a cache hit. Accuracy is measured on the held-out
split, greedy and sampled at temperature 1, before (the seed's untrained weights) and after.
The load average is printed because these machines' 2 cores are shared: wall times depend on it.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

from unipo.models import build_tiny_model, evaluate_accuracy, load_policy_model
from unipo.tasks import get_task


def accuracies(model, tokenizer, task, n: int) -> tuple[float, float]:
    greedy = evaluate_accuracy(model, tokenizer, task, n=n, seed=0, greedy=True)
    sampled = evaluate_accuracy(model, tokenizer, task, n=n, seed=0, greedy=False, temperature=1.0)
    return greedy, sampled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="arithmetic")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--n", type=int, default=256, help="held-out prompts per accuracy figure")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads for the evaluations")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    task = get_task(args.task)
    print(f"task {task.name} {task.params}; torch threads {torch.get_num_threads()} "
          f"(warm-up: 1); "
          f"load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("seed  steps  warm-up s  cache-hit s  greedy before->after  sampled(T=1) before->after")
    for seed in args.seeds:
        untrained, tokenizer = build_tiny_model(seed)
        before = accuracies(untrained, tokenizer, task, args.n)
        with tempfile.TemporaryDirectory() as cache:
            started = time.perf_counter()
            loaded = load_policy_model("tiny", task=task, seed=seed, cache_dir=cache)
            warm_s = time.perf_counter() - started
            started = time.perf_counter()
            load_policy_model("tiny", task=task, seed=seed, cache_dir=cache)
            hit_s = time.perf_counter() - started
        after = accuracies(loaded.model, loaded.tokenizer, task, args.n)
        steps = loaded.info["warmup"]["steps_run"]
        print(f"{seed:>4}  {steps:>5}  {warm_s:>9.1f}  {hit_s:>11.2f}  "
              f"{before[0]:>9.1%} -> {after[0]:<6.1%}  {before[1]:>13.1%} -> {after[1]:.1%}")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

"""Run-store figures (issue 11), measured in one run with the project's own writer and reader.

usage: .venv/bin/python benchmarks/bench_store.py                    # 1M-token step, presets, 100M query
       .venv/bin/python benchmarks/bench_store.py --big              # also a 10M-token step
       .venv/bin/python benchmarks/bench_store.py --query-steps 20   # run-wide query size (x 1M tokens)
       .venv/bin/python benchmarks/bench_store.py --run RUN_DIR ...  # real runs: where the bytes go
       .venv/bin/python benchmarks/bench_store.py --rewrite RUN ...  # runs (demo runs) stored again: B/token

- Streamed write of a synthetic GRPO step (1,024 responses x ~1,000 tokens, 16 per prompt; texts
  stored once per response) in a child process: writer time (appends + commit, generation
  excluded), the child's peak RSS (ru_maxrss) and its RSS before writing, bytes per token.
- Bytes per token per preset: each preset's own terms (unipo.algorithms.recompute) on a demo-like
  step (64 responses x 32-128 tokens), written as the engine writes it.
- A run-wide DuckDB query (unipo.runs.query) over --query-steps x 1M stored tokens (distinct steps
  written, then copied to more step numbers), warm page cache.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from unipo.runs import RunReader, RunWriter, StepRecord
from unipo.runs.schema import RESERVED_COLUMNS

PART_RESPONSES = 64


def grpo_part(n: int, min_len: int, max_len: int, *, seed: int, first_response: int, group: int = 16) -> StepRecord:
    """n responses of a GRPO step (realistic floats, Zipf token ids, ~5 B of text per token)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_len, max_len + 1, n)
    t = int(lengths.max())
    mask = np.arange(t)[None] < lengths[:, None]
    logprob = np.log(rng.beta(5, 1, (n, t))).astype(np.float32)
    old = (logprob + rng.normal(0, 0.02, (n, t))).astype(np.float32)
    ref = (logprob + rng.normal(0, 0.05, (n, t))).astype(np.float32)
    prompt = (first_response + np.arange(n)) // group
    reward = rng.integers(0, 2, n).astype(np.float32)
    advantage = np.zeros(n, np.float32)
    for g in np.unique(prompt):
        members = prompt == g
        advantage[members] = (reward[members] - reward[members].mean()) / (reward[members].std() + 1e-4)
    adv = (np.repeat(advantage[:, None], t, 1) * mask).astype(np.float32)
    log_ratio = ((logprob - old) * mask).astype(np.float32)
    ratio = (np.exp(log_ratio) * mask).astype(np.float32)
    clipped_low, clipped_high = (ratio < 0.8) * mask * 1.0, (ratio > 1.2) * mask * 1.0
    surrogate = np.minimum(ratio * adv, np.clip(ratio, 0.8, 1.2) * adv)
    kl = (np.exp(ref - logprob) - (ref - logprob) - 1) * mask
    weight = mask / lengths[:, None] / 1024
    terms = dict(log_ratio=log_ratio, ratio=ratio, advantage=adv, clipped_low=clipped_low, clipped_high=clipped_high,
                 clipped=np.maximum(clipped_low, clipped_high), min_branch=np.maximum(clipped_low, clipped_high),
                 surrogate=surrogate, kl=kl, kl_penalty=np.float32(0.04) * kl.astype(np.float32),
                 entropy_bonus=np.zeros((n, t)), selected=mask * 1.0, weight=weight,
                 token_objective=surrogate - 0.04 * kl, grad_coef=weight * adv * ratio)
    token_ids = np.minimum(rng.zipf(1.3, (n, t)), 50_000)
    vocab = np.array([f"\u2581w{i}" for i in range(50_001)])
    tokens = [vocab[row[:length]].tolist() for row, length in zip(token_ids, lengths)]
    return StepRecord(
        prompt_index=prompt, group_id=prompt, prompt_text=[f"Question {g}: " + "lorem ipsum " * 40 for g in prompt],
        response_text=["".join(row) for row in tokens], reward=reward, mask=mask, token_ids=token_ids,
        tokens=tokens, truncated=lengths == max_len, reward_components={"correct": reward},
        logprob=logprob, old_logprob=old, ref_logprob=ref,
        entropy=rng.gamma(1, 0.5, (n, t)).astype(np.float32), terms=terms,
        response_terms={"group_mean": reward * 0 + 0.5, "group_std": reward * 0 + 0.5},
    )


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child_write(out: Path, responses: int, min_len: int, max_len: int, step: int, seed: int) -> None:
    """(in a child process) stream one step; print JSON figures."""
    grpo_part(4, 8, 8, seed=0, first_response=0)  # imports and caches settle before measuring
    if not (out / "run.json").exists():
        RunWriter.create(out, {"task": {"name": "bench"}}).release()
    from unipo.runs.writer import RankWriter

    writer = RankWriter(out, 0)
    before = rss_mb()
    writing = 0.0
    tokens = 0
    stream = writer.step_stream(step)
    for k, start in enumerate(range(0, responses, PART_RESPONSES)):
        part = grpo_part(min(PART_RESPONSES, responses - start), min_len, max_len, seed=seed * 100_003 + k,
                         first_response=start)
        tokens += int(np.asarray(part.mask).sum())
        began = time.perf_counter()
        stream.append(part)
        writing += time.perf_counter() - began
    began = time.perf_counter()
    stream.commit()
    writing += time.perf_counter() - began
    print(json.dumps({"write_s": writing, "tokens": tokens, "rss_before_mb": before, "rss_peak_mb": rss_mb()}))


def spawn_write(out: Path, responses: int, min_len: int, max_len: int, step: int = 1, seed: int = 1) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child-write", str(out), str(responses), str(min_len),
                           str(max_len), str(step), str(seed)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def shard_bytes(run: Path, step: int) -> dict[str, int]:
    folder = run / "steps" / f"step={step:06d}" / "rank=00000"
    return {f.name: f.stat().st_size for f in folder.iterdir()}


def big_step_figures(root: Path, label: str, responses: int, min_len: int, max_len: int) -> None:
    run = root / label
    figures = spawn_write(run, responses, min_len, max_len)
    sizes = shard_bytes(run, 1)
    total = sum(sizes.values())
    reader = RunReader(run)
    began = time.perf_counter()
    summary = reader.responses(1)
    responses_s = time.perf_counter() - began
    began = time.perf_counter()
    page = reader.token_page(1, list(range(100, 150)))
    page_s = time.perf_counter() - began
    print(f"{label}: {figures['tokens']:,} tokens, {responses} responses: write {figures['write_s']:.2f} s "
          f"({figures['tokens'] / figures['write_s'] / 1e6:.2f} M tokens/s), writer peak RSS "
          f"{figures['rss_peak_mb']:.0f} MB (before writing {figures['rss_before_mb']:.0f} MB); "
          f"{total / figures['tokens']:.2f} B/token on disk (tokens.parquet {sizes['tokens.parquet'] / figures['tokens']:.2f}, "
          f"responses.parquet with texts {sizes['responses.parquet'] / figures['tokens']:.2f}); "
          f"read responses() {responses_s * 1000:.0f} ms ({summary.num_rows} rows), "
          f"token_page(50 responses) {page_s * 1000:.0f} ms ({page.num_rows} rows)")


def preset_figures(root: Path) -> None:
    import torch

    from unipo.algorithms import StepInputs, get_preset, list_presets, recompute

    n, group = 64, 8
    rng = np.random.default_rng(0)
    lengths = rng.integers(32, 129, n)
    t = int(lengths.max())
    mask = torch.tensor(np.arange(t)[None] < lengths[:, None], dtype=torch.float32)
    logprob = torch.log(torch.tensor(rng.beta(5, 1, (n, t)), dtype=torch.float32)) * mask
    old = logprob  # the first minibatch of an update: on-policy, as the demo's default
    ref = (logprob + torch.tensor(rng.normal(0, 0.05, (n, t)), dtype=torch.float32)) * mask
    rewards = torch.tensor(rng.integers(0, 2, n), dtype=torch.float32)
    token_ids = torch.tensor(np.minimum(rng.zipf(1.3, (n, t)), 50_000))
    vocab = np.array([f"\u2581w{i}" for i in range(50_001)])
    tokens = [vocab[row[:length]].tolist() for row, length in zip(token_ids.numpy(), lengths)]
    rows = []
    for info in list_presets():
        algo = get_preset(info.name)
        values = torch.tensor(rng.normal(0, 1, (n, t)), dtype=torch.float32) * mask if algo.uses_values else None
        baseline = torch.tensor(rng.integers(0, 2, n), dtype=torch.float32)
        try:
            result = recompute(algo, StepInputs(
                logprob, mask, rewards=rewards, group_ids=torch.arange(n) // group, old_logprobs=old,
                ref_logprobs=ref, entropies=torch.rand(n, t) * mask, values=values,
                truncated=torch.tensor(lengths == 128), token_ids=token_ids, baseline_rewards=baseline))
        except (ValueError, TypeError) as exc:
            print(f"   {info.name:<14} skipped: {exc}")
            continue
        terms = {k: v for k, v in result.terms.items() if v.dim() == 2}
        # As the engine's capture does: [N] estimator terms are per-response columns, unless stored already.
        response_terms = {k: v for k, v in (result.advantages.terms or {}).items()
                          if v.dim() == 1 and k not in terms and k not in RESERVED_COLUMNS}
        for name, value in (result.advantages.terms or {}).items():
            if value.dim() == 2 and name not in terms and name not in RESERVED_COLUMNS:
                terms[name] = value
        record = StepRecord(
            prompt_index=np.arange(n) // group, group_id=np.arange(n) // group,
            prompt_text=[f"What is {i} + {i}?" for i in np.arange(n) // group], response_text=["".join(r) for r in tokens],
            reward=rewards, mask=mask, token_ids=token_ids, tokens=tokens, truncated=torch.tensor(lengths == 128),
            logprob=logprob, old_logprob=old, ref_logprob=ref if algo.uses_reference else None, value=values,
            returns=result.advantages.returns, entropy=None, terms=terms, response_terms=response_terms)
        run = root / f"preset-{info.name}"
        writer = RunWriter.create(run, {})
        for step in (1, 2, 3):
            writer.write_step(step, record)
        size = sum(f.stat().st_size for f in (run / "steps").rglob("*.parquet")) / 3
        rows.append((info.name, size / int(mask.sum()), len(terms)))
    print(f"bytes per stored token, every preset ({n} responses x 32-128 tokens, on-policy, texts included):")
    for name, per_token, count in rows:
        print(f"   {name:<14} {per_token:6.2f} B/token  ({count} per-token terms)")
    print(f"   max {max(r[1] for r in rows):.2f}, median {statistics.median(r[1] for r in rows):.2f} B/token")


def query_figures(root: Path, steps: int, distinct: int) -> None:
    from unipo.runs.query import query

    run = root / "query-run"
    for step in range(1, distinct + 1):
        spawn_write(run, 1024, 500, 1500, step=step, seed=step)
    for step in range(distinct + 1, steps + 1):
        source = (step - 1) % distinct + 1
        shutil.copytree(run / "steps" / f"step={source:06d}", run / "steps" / f"step={step:06d}")
    reader = RunReader(run)
    stored = sum(f.stat().st_size for f in (run / "steps").rglob("*.parquet"))
    questions = {
        "count ratio > 1.2 and A < 0": "SELECT count(*) FROM tokens WHERE ratio > 1.2 AND advantage < 0",
        "clipped share of A<0 per step": "SELECT step, avg(clipped) FROM tokens WHERE advantage < 0 GROUP BY step ORDER BY step",
        "top 0.1% responses by sum|g|": """WITH p AS (SELECT step, response, sum(abs(grad_coef)) AS push FROM tokens GROUP BY ALL)
                                         SELECT count(*) FROM p WHERE push >= (SELECT quantile_disc(push, 0.999) FROM p)""",
    }
    total = query(reader, "SELECT count(*) AS n FROM tokens").column("n")[0].as_py()
    print(f"run-wide queries over {total:,} stored tokens ({len(reader.steps())} steps, {stored / 1e9:.2f} GB, "
          f"warm page cache, {os.cpu_count()} cores):")
    for label, sql in questions.items():
        began = time.perf_counter()
        query(reader, sql)
        print(f"   {label:<32} {time.perf_counter() - began:6.2f} s (views included)")


def run_figures(run: Path, top: int = 40) -> None:
    """Where the bytes of a real layout-2 run go (per stored column, both files)."""
    import pyarrow.parquet as pq

    per_column: collections.Counter = collections.Counter()
    footer = total = tokens = 0
    for file in sorted((run / "steps").rglob("*.parquet")):
        metadata = pq.ParquetFile(file).metadata
        total += file.stat().st_size
        footer += metadata.serialized_size
        if file.name == "tokens.parquet":
            tokens += metadata.num_rows
        for g in range(metadata.num_row_groups):
            for c in range(metadata.num_columns):
                chunk = metadata.row_group(g).column(c)
                per_column[f"{file.name.split('.')[0]}.{chunk.path_in_schema}"] += chunk.total_compressed_size
    tokens = max(tokens, 1)
    print(f"== {run}: {tokens} tokens, {total} B = {total / tokens:.2f} B/token (footers {footer / tokens:.2f})")
    for name, size in per_column.most_common(top):
        print(f"   {name:<32} {size:>10} B {size / tokens:6.2f} B/token")


def rewrite_figures(runs: list[Path]) -> None:
    """Each run's steps written again with this writer (demo runs of every preset): bytes per token."""
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as folder:
        for run in runs:
            reader = RunReader(run)
            out = Path(folder) / run.name
            writer = RunWriter.create(out, {})
            tokens = 0
            for step in reader.steps():
                table = reader.step(step, include_empty_responses=True)
                tokens += int((table.column("position").to_numpy() >= 0).sum())
                writer.write_step(step, table)
            size = sum(f.stat().st_size for f in (out / "steps").rglob("*.parquet"))
            algorithm = reader.header.get("algorithm", {}).get("name", "?")
            print(f"   {run.name:<14} ({algorithm}) {len(reader.steps())} steps, {tokens / max(len(reader.steps()), 1):.0f} "
                  f"tokens/step: {size / max(tokens, 1):6.2f} B/token")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-write":
        out, responses, min_len, max_len, step, seed = sys.argv[2:8]
        child_write(Path(out), int(responses), int(min_len), int(max_len), int(step), int(seed))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, nargs="+", help="real run directories to break down")
    parser.add_argument("--rewrite", type=Path, nargs="+", help="runs (e.g. demo runs) to store again: B/token")
    parser.add_argument("--big", action="store_true", help="also write a 10M-token step")
    parser.add_argument("--query-steps", type=int, default=100, help="steps of ~1M tokens for the run-wide query")
    parser.add_argument("--distinct-steps", type=int, default=4, help="of which written (the rest are copies)")
    parser.add_argument("--skip", nargs="*", default=[], choices=("write", "presets", "query"))
    args = parser.parse_args()
    if args.run:
        for run in args.run:
            run_figures(run)
        return
    if args.rewrite:
        rewrite_figures(args.rewrite)
        return
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as folder:
        root = Path(folder)
        if "write" not in args.skip:
            big_step_figures(root, "1M-token step", 1024, 500, 1500)
            if args.big:
                big_step_figures(root, "10M-token step", 8192, 800, 1640)
        if "presets" not in args.skip:
            preset_figures(root)
        if "query" not in args.skip:
            query_figures(root, args.query_steps, min(args.distinct_steps, args.query_steps))


if __name__ == "__main__":
    main()

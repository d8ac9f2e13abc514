"""Run-store figures, measured in one run: bytes per token, write time, read times.

usage: .venv/bin/python benchmarks/bench_store.py                 # synthetic steps
       .venv/bin/python benchmarks/bench_store.py --run RUN_DIR ... # real runs: where the bytes go
Synthetic but realistic content: 64 responses (8 prompts x 8), full-precision float32 log-probs,
Zipf token ids, ~20 float columns (6 per-token values + 14 algorithm terms), GRPO-like terms.
--run: per stored column the compressed bytes of its chunks (Parquet metadata), the footers, the
canonical JSON size of the same steps, and the re-encoding time of each step (fresh search vs the
recipes remembered across the run's steps).
"""
from __future__ import annotations

import argparse
import collections
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from unipo.runs import RunReader, RunWriter, StepRecord, export_canonical


def realistic_record(n: int, min_len: int, max_len: int, *, on_policy: bool, seed: int = 0) -> StepRecord:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_len, max_len + 1, n)
    t = int(lengths.max())
    mask = np.arange(t)[None] < lengths[:, None]
    logprob = np.log(rng.beta(5, 1, (n, t))).astype(np.float32)
    # First minibatch of an update: the policy is still the rollout policy (old == current).
    old = logprob if on_policy else (logprob + rng.normal(0, 0.02, (n, t))).astype(np.float32)
    ref = (logprob + rng.normal(0, 0.05, (n, t))).astype(np.float32)
    group = np.arange(n) // 8
    reward = rng.integers(0, 2, n).astype(np.float32)
    advantage = np.zeros(n, np.float32)
    for g in np.unique(group):
        members = group == g
        advantage[members] = (reward[members] - reward[members].mean()) / (reward[members].std() + 1e-4)
    adv = (np.repeat(advantage[:, None], t, 1) * mask).astype(np.float32)
    log_ratio = (logprob - old) * mask
    ratio = np.exp(log_ratio) * mask
    clipped_low, clipped_high = (ratio < 0.8) * mask * 1.0, (ratio > 1.2) * mask * 1.0
    surrogate = np.minimum(ratio * adv, np.clip(ratio, 0.8, 1.2) * adv)
    kl = (np.exp(ref - logprob) - (ref - logprob) - 1) * mask
    terms = dict(log_ratio=log_ratio, ratio=ratio, advantage=adv, clipped_low=clipped_low, clipped_high=clipped_high,
                 clipped=np.maximum(clipped_low, clipped_high), min_branch=np.maximum(clipped_low, clipped_high),
                 surrogate=surrogate, kl=kl, kl_penalty=0.04 * kl, entropy_bonus=np.zeros((n, t)),
                 selected=mask * 1.0, weight=mask / lengths[:, None] / n, token_objective=surrogate - 0.04 * kl)
    token_ids = np.minimum(rng.zipf(1.3, (n, t)), 50_000)
    tokens = [[f"\u2581w{i}" for i in row[:length]] for row, length in zip(token_ids, lengths)]
    return StepRecord(
        prompt_index=group, group_id=group, prompt_text=[f"Question {g}: " + "lorem ipsum " * 20 for g in group],
        response_text=["".join(row) for row in tokens], reward=reward, mask=mask, token_ids=token_ids,
        tokens=tokens, truncated=lengths == max_len, reward_components={"correct": reward},
        logprob=logprob, old_logprob=old, ref_logprob=ref,
        entropy=rng.gamma(1, 0.5, (n, t)).astype(np.float32), terms=terms,
    )


def timed(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def size_figures(root: Path, label: str, record: StepRecord) -> None:
    run = root / label
    writer = RunWriter.create(run, {"task": {"name": "bench"}})
    write_s = timed(lambda: writer.write_step(1, record), 3)
    tokens = int(np.asarray(record.mask).sum())
    parquet_bytes = (run / "steps" / "step-000001.parquet").stat().st_size
    json_bytes = export_canonical(run, root / f"{label}.json", fmt="json").stat().st_size
    print(f"{label:<28} tokens={tokens:>6}  parquet {parquet_bytes / tokens:6.2f} B/token ({parquet_bytes / 1e6:.2f} MB)"
          f"  canonical JSON {json_bytes / tokens:7.1f} B/token ({json_bytes / 1e6:.1f} MB)"
          f"  ratio {json_bytes / parquet_bytes:5.1f}x  write {write_s * 1000:.0f} ms/step")


def read_figures(root: Path) -> None:
    record = realistic_record(64, 512, 512, on_policy=False, seed=1)
    run = root / "read-64x512"
    RunWriter.create(run, {}).write_step(1, record)
    reader = RunReader(run)
    print(f"64x512 step: read step {timed(lambda: reader.step(1), 5) * 1000:.1f} ms, "
          f"one response {timed(lambda: reader.response(1, 37), 5) * 1000:.1f} ms, "
          f"one group {timed(lambda: reader.group(1, 4), 5) * 1000:.1f} ms, "
          f"responses() {timed(lambda: reader.responses(1), 5) * 1000:.1f} ms")


def run_figures(run: Path, top: int = 40) -> None:
    import pyarrow.parquet as pq

    from unipo.runs.prediction import EncodingMemory
    from unipo.runs.step_file import encode_step_table, read_step_file, write_step_file

    files = sorted((run / "steps").glob("step-*.parquet"))
    per_column: collections.Counter = collections.Counter()
    encodings: dict[str, str] = {}
    rows = total = footer = groups = 0
    for file in files:
        metadata = pq.ParquetFile(file).metadata
        rows, total, footer, groups = (rows + metadata.num_rows, total + file.stat().st_size,
                                       footer + metadata.serialized_size, groups + metadata.num_row_groups)
        for g in range(metadata.num_row_groups):
            for c in range(metadata.num_columns):
                chunk = metadata.row_group(g).column(c)
                per_column[chunk.path_in_schema] += chunk.total_compressed_size
                encodings[chunk.path_in_schema] = f"{chunk.physical_type} {'/'.join(sorted(set(chunk.encodings)))}"
    rows = max(rows, 1)
    data = sum(per_column.values())
    with tempfile.TemporaryDirectory() as folder:
        json_bytes = export_canonical(run, Path(folder) / "run.json", fmt="json").stat().st_size
        tables = [read_step_file(f) for f in files]
        fresh = [timed(lambda t=t: encode_step_table(t), 5) for t in tables]
        memory = EncodingMemory()
        encode_step_table(tables[0], memory)
        remembered = [timed(lambda t=t: encode_step_table(t, memory), 5) for t in tables]
        write_s = [timed(lambda t=t, i=i: write_step_file(Path(folder) / f"s{i}.parquet", t, memory=memory), 3)
                   for i, t in enumerate(tables)]
    print(f"== {run}: {len(files)} steps, {rows} token rows, {groups} row groups: {total} B = {total / rows:.2f} B/token "
          f"(column chunks {data / rows:.2f}, footers {footer / rows:.2f} B/token); canonical JSON "
          f"{json_bytes / rows:.1f} B/token ({json_bytes / max(total, 1):.0f}x)")
    print(f"   encode per step (median): {statistics.median(fresh) * 1000:.1f} ms searching, "
          f"{statistics.median(remembered) * 1000:.1f} ms with remembered recipes; "
          f"whole write_step_file {statistics.median(write_s) * 1000:.1f} ms")
    for name, size in per_column.most_common(top):
        print(f"   {name:<20} {size:>8} B {size / rows:6.2f} B/token  {encodings[name]}")
    not_stored = [n for n in tables[0].column_names if n not in per_column] if tables else []
    print(f"   not stored (constant / exactly derived / all null): {', '.join(not_stored) or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, nargs="+", help="real run directories to break down")
    args = parser.parse_args()
    if args.run:
        for run in args.run:
            run_figures(run)
        return
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        size_figures(root, "64x[100-500] on-policy", realistic_record(64, 100, 500, on_policy=True))
        size_figures(root, "64x[100-500] off-policy", realistic_record(64, 100, 500, on_policy=False))
        read_figures(root)


if __name__ == "__main__":
    main()

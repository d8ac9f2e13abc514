"""Run-store figures, measured in one run: bytes per token, write time, read times.

usage: .venv/bin/python benchmarks/bench_store.py
Synthetic but realistic content: 64 responses (8 prompts x 8), full-precision float32 log-probs,
Zipf token ids, ~20 float columns (6 per-token values + 14 algorithm terms), GRPO-like terms.
"""
from __future__ import annotations

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


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        size_figures(root, "64x[100-500] on-policy", realistic_record(64, 100, 500, on_policy=True))
        size_figures(root, "64x[100-500] off-policy", realistic_record(64, 100, 500, on_policy=False))
        read_figures(root)


if __name__ == "__main__":
    main()

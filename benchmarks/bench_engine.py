"""Engine costs measured in one run: step time with capture on vs off, bytes per stored token, where
the capture's time goes, and sampling with our KV-cache loop vs `model.generate`.

    .venv/bin/python benchmarks/bench_engine.py [--model DIR] [--steps 8]

Without --model it uses the tiny architecture with random weights (same shapes, same cost per token).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from unipo.algorithms import get_preset
from unipo.engine import TrainConfig, Trainer
from unipo.engine.policy import Policy
from unipo.models.tiny import build_tiny_model
from unipo.tasks import get_task


def load(model_dir: str | None):
    if model_dir is None:
        return build_tiny_model(seed=0)
    from transformers import AutoModelForCausalLM, AutoTokenizer
    return AutoModelForCausalLM.from_pretrained(model_dir).eval(), AutoTokenizer.from_pretrained(model_dir)


def train_seconds(model_dir, out: Path, capture: bool, steps: int,
                  thread_writer: bool = False) -> tuple[float, list[float], Path]:
    """(wall seconds of Trainer.run incl. the final flush, seconds of each rollout's updates).
    thread_writer: capture on the in-process writer thread (the engine's fallback) instead of the
    child process, to show what moving it out of the trainer's process bought."""
    model, tokenizer = load(model_dir)
    config = TrainConfig(algo="grpo", task="arithmetic", steps=steps, prompts_per_step=8, group_size=8, epochs=2,
                         minibatches=2, max_new_tokens=24, eval_prompts=0, checkpoint_every=0, capture=capture)
    stamps: list[float] = []
    trainer = Trainer(config, out, algo=get_preset("grpo"), task=get_task("arithmetic"), model=model,
                      tokenizer=tokenizer, progress=lambda step, total, metrics: stamps.append(time.perf_counter()))
    if thread_writer:
        from unipo.engine.capture import BackgroundWriter
        trainer._open_capture = lambda: BackgroundWriter(trainer.writer)
    wall = trainer.run().wall_seconds
    # One figure per rollout (generation + 4 updates + capture hand-off), first rollout excluded.
    per_rollout = [b - a for a, b in zip(stamps[3::4], stamps[7::4])]
    return wall, per_rollout, out


def writer_profile(run: Path) -> dict[str, float]:
    """Re-write the stored steps in this process and time RunWriter.write_step (the work the capture
    child does: recipe search, encodings, Parquet)."""
    from unipo.runs import RunReader, RunWriter
    reader = RunReader(run)
    tables = [reader.step(n, include_empty_responses=True) for n in reader.steps()]
    timings = {"write_step": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        writer = RunWriter.create(Path(tmp) / "copy", {"algorithm": "profile"})
        for i, table in enumerate(tables):
            start = time.perf_counter()
            writer.write_step(i + 1, table)
            timings["write_step"] += time.perf_counter() - start
        writer.close()
    return {k: v / max(len(tables), 1) for k, v in timings.items()}


def generation_seconds(model_dir, repeats: int = 3) -> tuple[float, float]:
    model, tokenizer = load(model_dir)
    policy = Policy(model, tokenizer)
    prompts = [p.prompt for p in get_task("arithmetic").prompts("train", 8, seed=0)] * 8
    ids = tokenizer(prompts)["input_ids"]
    ours, theirs = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        policy.generate(ids, max_new_tokens=24, generator=torch.Generator().manual_seed(0))
        ours.append(time.perf_counter() - start)
        batch = tokenizer(prompts, return_tensors="pt", padding=True)
        start = time.perf_counter()
        with torch.no_grad():
            model.generate(**batch, max_new_tokens=24, do_sample=True, top_k=0, top_p=1.0,
                           pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        theirs.append(time.perf_counter() - start)
    return statistics.median(ours), statistics.median(theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="saved model directory (default: random tiny model)")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (both sides)")
    args = parser.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        on, off, on_rollouts, off_rollouts, thread, thread_rollouts = [], [], [], [], [], []
        for repeat in range(args.repeats):  # interleaved so machine load hits both alike
            seconds, rollouts, _ = train_seconds(args.model, Path(tmp) / f"off{repeat}", False, args.steps)
            off.append(seconds)
            off_rollouts += rollouts
            seconds, rollouts, run = train_seconds(args.model, Path(tmp) / f"on{repeat}", True, args.steps)
            on.append(seconds)
            on_rollouts += rollouts
            seconds, rollouts, _ = train_seconds(args.model, Path(tmp) / f"thread{repeat}", True, args.steps,
                                                 thread_writer=True)
            thread.append(seconds)
            thread_rollouts += rollouts
        import pyarrow.parquet as pq
        tokens = sum(pq.ParquetFile(f).metadata.num_rows for f in (run / "steps").rglob("tokens.parquet"))
        size = sum(f.stat().st_size for f in (run / "steps").rglob("*.parquet"))
        profile = writer_profile(run)
    ours, theirs = generation_seconds(args.model)
    print(f"updates per run: {args.steps} (8 prompts x 8 completions, 2 epochs x 2 mini-batches, 24 new tokens)")
    print(f"step time capture off: {min(off) / args.steps * 1000:.1f} ms   on: {min(on) / args.steps * 1000:.1f} ms")
    print(f"capture on/off ratio, whole run incl. final flush (best of {args.repeats}): {min(on) / min(off):.3f}"
          f"   (goal <= 1.05)")
    if on_rollouts and off_rollouts:
        med_on, med_off = statistics.median(on_rollouts), statistics.median(off_rollouts)
        print(f"capture on/off ratio, median rollout of 4 updates (steady state, {len(on_rollouts)} vs "
              f"{len(off_rollouts)} rollouts): {med_on / med_off:.3f}   ({med_off * 1000:.0f} vs {med_on * 1000:.0f} ms)")
    if thread_rollouts:
        print(f"  same with the writer on a thread of the trainer's process (the fallback): whole run "
              f"{min(thread) / min(off):.3f}, median rollout {statistics.median(thread_rollouts) / statistics.median(off_rollouts):.3f}")
    print(f"capture child's work per step (re-timed here): whole shard write {profile['write_step'] * 1000:.0f} ms")
    print(f"stored: {tokens} token rows in {size} bytes = {size / max(tokens, 1):.1f} bytes per token")
    print(f"sampling 64 x 24 tokens: KV-cache loop {ours * 1000:.0f} ms, model.generate {theirs * 1000:.0f} ms "
          f"(generate/loop = {theirs / ours:.2f})")


if __name__ == "__main__":
    main()

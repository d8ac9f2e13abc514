"""Supervised warm-up of the tiny model on a task's gold completions.

The loss covers completion tokens (and the closing EOS) only: the prompt is given, not predicted.
With the loss on whole sequences the model spends its capacity memorising random operands and
barely learns to answer (environment.md: 3% vs 35% exact match after 1,000 steps).
"""
from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch

from unipo.models.evaluation import evaluate_accuracy
from unipo.tasks.base import Task

IGNORE_INDEX = -100


@dataclass(frozen=True)
class WarmupSettings:
    """`steps` is the most steps trained; with `target_accuracy` set, training stops at the first
    periodic evaluation whose held-out greedy accuracy reaches it. The aim is a policy that is right
    only part of the time, so that RL groups mix right and wrong answers: the scratchpad tasks are
    learnt quickly (arithmetic 1-2 digits: ~18% greedy at step 100, ~88% at step 200), so a fixed
    step count would overshoot or undershoot the band depending on the task, and evaluations must
    be close together (every 20 steps overshot to 56% greedy on two seeds of three)."""

    steps: int = 400
    target_accuracy: float | None = 0.35
    batch_size: int = 64
    learning_rate: float = 3e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.05
    final_lr_fraction: float = 0.1
    grad_clip: float = 1.0
    log_every: int = 10
    eval_every: int = 10
    eval_size: int = 64

    def to_dict(self) -> dict:
        return asdict(self)


def learning_rate_at(step: int, settings: WarmupSettings) -> float:
    """Linear ramp over the first `warmup_fraction` of steps, then cosine down to `final_lr_fraction`."""
    ramp = max(1, int(settings.steps * settings.warmup_fraction))
    if step < ramp:
        return settings.learning_rate * (step + 1) / ramp
    progress = (step - ramp) / max(1, settings.steps - ramp)
    floor = settings.final_lr_fraction
    return settings.learning_rate * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def supervised_batch(tokenizer, task: Task, examples) -> dict[str, torch.Tensor]:
    """Right-padded BOS + prompt + completion + EOS, with labels only on completion + EOS."""
    prompts = tokenizer([ex.prompt for ex in examples], add_special_tokens=False).input_ids
    answers = tokenizer([task.reference_completion(ex) for ex in examples], add_special_tokens=False).input_ids
    sequences, labels = [], []
    for prompt_ids, answer_ids in zip(prompts, answers):
        sequences.append([tokenizer.bos_token_id, *prompt_ids, *answer_ids, tokenizer.eos_token_id])
        labels.append([IGNORE_INDEX] * (1 + len(prompt_ids)) + [*answer_ids, tokenizer.eos_token_id])
    width = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), width), tokenizer.pad_token_id, dtype=torch.long)
    label_ids = torch.full((len(sequences), width), IGNORE_INDEX, dtype=torch.long)
    attention = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, (seq, lab) in enumerate(zip(sequences, labels)):
        input_ids[row, : len(seq)] = torch.tensor(seq)
        label_ids[row, : len(lab)] = torch.tensor(lab)
        attention[row, : len(seq)] = 1
    return {"input_ids": input_ids, "attention_mask": attention, "labels": label_ids}


# The stopping monitor draws its held-out prompts from a stream of its own, so that the accuracy
# later reported on the eval split (seeded like the run) is not the one training stopped on.
MONITOR_SEED_OFFSET = 7919


def warm_up_tiny_model(
    model,
    tokenizer,
    task: Task,
    *,
    settings: WarmupSettings | None = None,
    seed: int = 0,
    log_path: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    num_threads: int | None = 1,
) -> dict:
    """Train `model` in place on `task`'s train split; returns a summary (losses, accuracy, time).

    Writes one JSON line per `log_every` steps to `log_path` (step, loss = mean over those steps,
    lr, elapsed_s), with `eval_accuracy` (greedy, held-out split) on evaluation steps.

    `num_threads` caps torch's intra-op threads while training (restored afterwards; None leaves
    it alone). The tiny model's matrices are too small to gain from a second thread, and on a
    machine whose cores are busy torch's spinning worker threads made a step 3.5x slower
    (0.82 s vs 0.23 s per step measured on 2 shared cores).
    """
    with _intra_op_threads(num_threads):
        return _warm_up(model, tokenizer, task, settings, seed, log_path, progress)


@contextlib.contextmanager
def _intra_op_threads(count: int | None):
    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _warm_up(model, tokenizer, task, settings, seed, log_path, progress) -> dict:
    settings = settings or WarmupSettings()
    say = progress or (lambda line: None)
    stream = task.iter_prompts("train", seed)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay, betas=(0.9, 0.98)
    )
    log = open(log_path, "w", encoding="utf-8") if log_path else None
    started = time.perf_counter()
    losses: list[float] = []
    logged_upto = 0
    accuracy = None
    reached_target = False
    step = 0
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for step in range(1, settings.steps + 1):
                lr = learning_rate_at(step - 1, settings)
                losses.append(_train_step(model, optimizer, lr, settings.grad_clip,
                                          supervised_batch(tokenizer, task, [next(stream) for _ in range(settings.batch_size)])))
                evaluate_now = step % settings.eval_every == 0 or step == settings.steps
                if step % settings.log_every != 0 and not evaluate_now:
                    continue
                record = {"step": step, "loss": sum(losses[logged_upto:]) / (step - logged_upto), "lr": lr}
                logged_upto = step
                if evaluate_now:
                    accuracy = evaluate_accuracy(model, tokenizer, task, n=settings.eval_size,
                                                 seed=seed + MONITOR_SEED_OFFSET)
                    record["eval_accuracy"] = accuracy
                    reached_target = settings.target_accuracy is not None and accuracy >= settings.target_accuracy
                    say(f"warm-up step {step}/{settings.steps}: loss {record['loss']:.3f}, "
                        f"held-out greedy accuracy {accuracy:.0%}")
                record["elapsed_s"] = round(time.perf_counter() - started, 3)
                if log:
                    log.write(json.dumps(record) + "\n")
                    log.flush()
                if reached_target:
                    break
    finally:
        if log:
            log.close()
    model.eval()
    return {
        "steps_run": step,
        "reached_target": reached_target,
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "eval_accuracy": accuracy,
        "wall_time_s": round(time.perf_counter() - started, 2),
    }


def _train_step(model, optimizer, lr: float, grad_clip: float, batch: dict) -> float:
    model.train()
    for group in optimizer.param_groups:
        group["lr"] = lr
    loss = model(**batch).loss
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.item()

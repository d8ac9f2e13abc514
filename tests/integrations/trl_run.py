"""A tiny TRL GRPOTrainer run on CPU (random 1M-parameter character Llama, 2-digit additions),
optionally captured; also the script `accelerate launch` runs for the 2-rank test.

    python tests/integrations/trl_run.py OUT [--capture] [--steps N] [--ga G] [--spg S] [--iterations K] ...
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def reward_correct(prompts, completions, **kwargs):
    out = []
    for prompt, completion in zip(prompts, completions):
        a, b = prompt.rstrip("=").split("+")
        final = completion.rsplit(":", 1)[-1]
        out.append(float(final.isdigit() and int(final) == int(a) + int(b)))
    return out


def reward_length(prompts, completions, **kwargs):
    return [len(c) / 20.0 for c in completions]


def build_trainer(out: Path, *, steps=2, batch=8, group=4, ga=1, spg=None, iterations=1, loss_type="dapo",
                  beta=0.0, max_len=8, seed=0, top_k=0, extra=None):
    import trl
    sys.modules.pop("transformers", None)  # trl swaps sys.modules["transformers"] (environment.md)
    import torch
    from datasets import Dataset

    from unipo.models.tiny import build_tiny_model
    from unipo.tasks import get_task
    torch.manual_seed(seed)
    model, tokenizer = build_tiny_model(seed=seed)
    if beta != 0.0:  # TRL builds its reference model from the policy's path
        model.save_pretrained(out / "model")
        tokenizer.save_pretrained(out / "model")
        model = str(out / "model")
    prompts = [ex.prompt for ex in get_task("arithmetic").prompts("train", 64, seed=seed)]
    config = trl.GRPOConfig(
        output_dir=str(out / "trl"), per_device_train_batch_size=batch, num_generations=group,
        gradient_accumulation_steps=ga, steps_per_generation=spg, num_iterations=iterations,
        max_completion_length=max_len, max_steps=steps, learning_rate=1e-3, beta=beta, loss_type=loss_type,
        temperature=1.0, top_k=top_k, logging_steps=1, report_to="none", use_cpu=True, save_strategy="no",
        disable_tqdm=True, seed=seed, bf16=False, dataloader_num_workers=0, **(extra or {}))
    return trl.GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=[reward_correct, reward_length],
                           args=config, train_dataset=Dataset.from_dict({"prompt": prompts}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--capture", action="store_true")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--group", type=int, default=4)
    parser.add_argument("--ga", type=int, default=1)
    parser.add_argument("--spg", type=int, default=None)
    parser.add_argument("--iterations", type=int, default=1)
    parser.add_argument("--loss-type", default="dapo")
    parser.add_argument("--beta", type=float, default=0.0)
    parser.add_argument("--top-k", type=int, default=0, help="1 = greedy: the same completions on any number of ranks")
    args = parser.parse_args()
    out = Path(args.out)
    trainer = build_trainer(out, steps=args.steps, batch=args.batch, group=args.group, ga=args.ga, spg=args.spg,
                            iterations=args.iterations, loss_type=args.loss_type, beta=args.beta,
                            top_k=args.top_k)
    state = None
    if args.capture:
        from unipo.integrations.trl import capture
        state = capture(trainer, out / "run")
    stamps = step_timer(trainer)
    trainer.train()
    if trainer.accelerator.process_index == 0:
        (out / "timings.json").write_text(json.dumps([b - a for a, b in zip(stamps, stamps[1:])]))
        if state is not None:
            (out / "checks.json").write_text(json.dumps(state.checks))
            (out / "capture_seconds.json").write_text(json.dumps(state.capture_seconds))


def step_timer(trainer) -> list[float]:
    """Wall-clock stamps: training start, then the end of every optimizer step."""
    import time

    from transformers import TrainerCallback
    stamps: list[float] = []

    class StepTimer(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            stamps.append(time.perf_counter())

        def on_step_end(self, args, state, control, **kwargs):
            stamps.append(time.perf_counter())

    trainer.add_callback(StepTimer())
    return stamps


if __name__ == "__main__":
    main()

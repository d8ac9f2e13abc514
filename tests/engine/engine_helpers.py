"""Build a Trainer on a tiny random model in a temporary directory (no cache, no download)."""
from __future__ import annotations

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from unipo.engine import TrainConfig, Trainer
from unipo.models.tokenizer import build_char_tokenizer
from unipo.tasks import RewardResult, get_task
from unipo.tasks.arithmetic import ArithmeticTask


class DigitShareTask(ArithmeticTask):
    """Arithmetic prompts, rewarded by the share of digits in the completion: a random model's
    responses then get different rewards, so every algorithm has a non-zero gradient from step 1."""

    def __init__(self):
        super().__init__()
        self.name = "digit_share"

    def score(self, example, completion):
        share = sum(ch.isdigit() for ch in completion) / max(1, len(completion))
        return RewardResult(reward=share, components={"digits": share}, correct=share > 0.5)


def tiny_model(seed: int = 0):
    tokenizer = build_char_tokenizer()
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=128,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config).eval()
    return model, tokenizer


def small_config(**overrides) -> TrainConfig:
    base = dict(algo="grpo", task="digit_share", seed=3, steps=2, prompts_per_step=2, group_size=3, epochs=1,
                minibatches=1, lr=1e-3, max_new_tokens=8, eval_prompts=0, checkpoint_every=0)
    base.update(overrides)
    return TrainConfig(**base)


def make_trainer(out, config: TrainConfig, **kwargs) -> Trainer:
    model, tokenizer = tiny_model()
    from unipo.engine.setup import build_algorithm
    algo = build_algorithm(config)  # as `unipo train` builds it (L_max = the generation budget)
    task = DigitShareTask() if config.task == "digit_share" else get_task(config.task, **config.task_params)
    return Trainer(config, out, algo=algo, task=task, model=model, tokenizer=tokenizer, **kwargs)

"""TRL's own log_completions Parquet: produced in the test by TRL's GRPOTrainer (trl/trainer/grpo_trainer.py,
GRPOTrainer.log writes output_dir/completions/completions_{global_step:05d}.parquet) on a tiny random
model on CPU, then imported."""
from __future__ import annotations

import sys

import pytest


def reward_digits(prompts, completions, **kwargs):
    return [float(sum(ch.isdigit() for ch in c)) for c in completions]


def reward_short(prompts, completions, **kwargs):
    return [-len(c) / 10.0 for c in completions]


@pytest.fixture(scope="module")
def trl_output(tmp_path_factory):
    trl = pytest.importorskip("trl")
    sys.modules.pop("transformers", None)  # trl swaps sys.modules["transformers"] (environment.md)
    import torch
    from datasets import Dataset

    from unipo.models.tiny import build_tiny_model
    out = tmp_path_factory.mktemp("trl")
    torch.manual_seed(0)
    model, tokenizer = build_tiny_model(seed=0)
    config = trl.GRPOConfig(
        output_dir=str(out), per_device_train_batch_size=4, num_generations=2, max_completion_length=6,
        max_steps=2, learning_rate=1e-3, beta=0.0, logging_steps=1, report_to="none", use_cpu=True,
        save_strategy="no", disable_tqdm=True, seed=0, bf16=False, dataloader_num_workers=0,
        log_completions=True, temperature=1.0, top_k=0)
    prompts = [f"{a}+{b}=" for a in range(4) for b in range(4)]
    trainer = trl.GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=[reward_digits, reward_short],
                              args=config, train_dataset=Dataset.from_dict({"prompt": prompts}))
    trainer.train()
    tokenizer.save_pretrained(out / "tokenizer")
    return out


@pytest.mark.slow
def test_trl_completions_parquet_imports_as_a_response_level_run(trl_output, tmp_path):
    import pyarrow.parquet as pq

    from unipo.importers import detect
    from unipo.importers.run import import_run
    from unipo.runs import RunReader

    files = sorted((trl_output / "completions").glob("completions_*.parquet"))
    assert [f.name for f in files] == ["completions_00001.parquet", "completions_00002.parquet"]
    assert detect(trl_output).name == "trl"
    report = import_run(trl_output, tmp_path / "run")
    reader = RunReader(tmp_path / "run")
    assert reader.steps() == [1, 2]
    table = pq.read_table(files[0]).to_pydict()
    responses = reader.responses(1)
    assert responses.column("prompt_text").to_pylist() == table["prompt"]
    assert responses.column("response_text").to_pylist() == table["completion"]
    assert responses.column("reward_reward_digits").to_pylist() == pytest.approx(table["reward_digits"])
    sums = [a + b for a, b in zip(table["reward_digits"], table["reward_short"])]
    assert responses.column("reward").to_pylist() == pytest.approx(sums, rel=1e-6, abs=1e-6)
    assert responses.column("response_advantage").to_pylist() == pytest.approx(table["advantage"], rel=1e-5, abs=1e-6)
    groups = responses.column("group").to_pylist()
    assert all(groups[i] == groups[j] for i in range(len(groups)) for j in range(len(groups))
               if table["prompt"][i] == table["prompt"][j])
    assert report.tokens == 0 and "token_id" in report.missing()

    tokenised = import_run(trl_output, tmp_path / "tokenised", tokenizer=str(trl_output / "tokenizer"))
    assert tokenised.tokens == sum(len(c) for f in files for c in pq.read_table(f).column("completion").to_pylist())

import json

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from unipo.models import build_tiny_model, count_parameters, evaluate_accuracy, generate_completions, warm_up_tiny_model
from unipo.tasks import get_task


def test_tiny_model_size_and_seeded_init():
    model, _ = build_tiny_model(seed=0)
    assert 0.8e6 < count_parameters(model) < 1.3e6
    again, _ = build_tiny_model(seed=0)
    other, _ = build_tiny_model(seed=1)
    pairs = list(zip(model.state_dict().values(), again.state_dict().values()))
    assert all(torch.equal(a, b) for a, b in pairs)
    assert not torch.equal(model.model.embed_tokens.weight, other.model.embed_tokens.weight)


def test_save_and_load_through_auto_classes(tmp_path):
    model, tokenizer = build_tiny_model(seed=0)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path)
    loaded_tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    batch = loaded_tokenizer(["12+34=", "5+6="], return_tensors="pt", padding=True)
    with torch.no_grad():
        expected = model(**batch).logits
        got = loaded(**batch).logits
    assert torch.allclose(expected, got, atol=1e-6)


def test_generation_is_seeded_and_stops_at_eos():
    model, tokenizer = build_tiny_model(seed=0)
    prompts = ["12+34=", "5+6=", "sort:321="]
    first = generate_completions(model, tokenizer, prompts, max_new_tokens=6, greedy=False, seed=5)
    assert first == generate_completions(model, tokenizer, prompts, max_new_tokens=6, greedy=False, seed=5)
    assert all(len(text) <= 6 and "<" not in text for text in first)


def test_short_warm_up_lowers_loss_and_writes_its_log(tmp_path, few_steps):
    model, tokenizer = build_tiny_model(seed=0)
    task = get_task("arithmetic")
    torch.set_num_threads(2)
    summary = warm_up_tiny_model(model, tokenizer, task, settings=few_steps, seed=0, log_path=tmp_path / "warmup.jsonl")
    records = [json.loads(line) for line in (tmp_path / "warmup.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 3, 4, 6]
    assert all({"step", "loss", "lr", "elapsed_s"} <= set(r) for r in records)
    assert [r["step"] for r in records if "eval_accuracy" in r] == [3, 6]
    assert records[-1]["loss"] < records[0]["loss"]
    assert summary["final_loss"] < summary["first_loss"]
    assert summary["steps_run"] == 6 and summary["reached_target"] is False
    assert torch.get_num_threads() == 2  # the warm-up's single-thread setting was undone


def test_warm_up_stops_once_the_target_accuracy_is_reached(few_steps):
    from dataclasses import replace

    model, tokenizer = build_tiny_model(seed=0)
    # An untrained model scores 0, which already meets a target of 0: the first evaluation stops it.
    summary = warm_up_tiny_model(model, tokenizer, get_task("sort"), settings=replace(few_steps, target_accuracy=0.0))
    assert summary["steps_run"] == 3 and summary["reached_target"] is True


def test_untrained_model_scores_zero():
    model, tokenizer = build_tiny_model(seed=0)
    assert evaluate_accuracy(model, tokenizer, get_task("arithmetic"), n=16) == 0.0

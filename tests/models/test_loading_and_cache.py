import json
import time

import pytest
import torch

from unipo.errors import UnipoError
from unipo.models import load_policy_model
from unipo.models.cache import resolve_cache_dir


def test_tiny_model_is_warmed_once_then_read_from_the_cache(tmp_path, few_steps):
    lines = []
    first = load_policy_model("tiny", task="arithmetic", seed=0, cache_dir=tmp_path, progress=lines.append, warmup=few_steps)
    assert first.info["cache_hit"] is False and first.name == "tiny"
    assert any("warming up" in line for line in lines)
    log = [json.loads(line) for line in open(first.info["warmup_log"])]
    assert log[-1]["step"] == few_steps.steps

    started = time.perf_counter()
    second = load_policy_model("tiny", task="arithmetic", seed=0, cache_dir=tmp_path, warmup=few_steps)
    assert time.perf_counter() - started < 3.0
    assert second.info["cache_hit"] is True and second.path == first.path
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a, b)
    assert [p.name for p in tmp_path.iterdir()] == [first.path.rsplit("/", 1)[-1]]


def test_a_different_recipe_gets_a_different_checkpoint(tmp_path, few_steps):
    a = load_policy_model("tiny", task="sort", seed=0, cache_dir=tmp_path, warmup=few_steps)
    b = load_policy_model("tiny", task="sort", seed=1, cache_dir=tmp_path, warmup=few_steps)
    assert a.path != b.path


def test_a_failed_warm_up_leaves_no_checkpoint(tmp_path, few_steps):
    def interrupt(line):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        load_policy_model("tiny", task="sort", cache_dir=tmp_path, progress=lambda line: interrupt(line) if "step" in line else None, warmup=few_steps)
    assert list(tmp_path.iterdir()) == []


def test_cache_dir_comes_from_argument_then_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("UNIPO_CACHE_DIR", str(tmp_path / "env"))
    assert resolve_cache_dir() == tmp_path / "env"
    assert resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("UNIPO_CACHE_DIR")
    assert resolve_cache_dir().parts[-3:] == (".cache", "unipo", "models")


def test_a_local_model_directory_loads_like_a_users_model(tmp_path):
    from unipo.models import build_tiny_model

    model, tokenizer = build_tiny_model(seed=3)
    model.save_pretrained(tmp_path / "my-model")
    tokenizer.save_pretrained(tmp_path / "my-model")
    loaded = load_policy_model(str(tmp_path / "my-model"))
    assert loaded.name == "my-model" and loaded.info["parameters"] == 1056896
    assert not loaded.model.training
    assert torch.equal(loaded.model.lm_head.weight, model.lm_head.weight)


def test_bad_model_specs_raise_one_line_errors(tmp_path):
    with pytest.raises(UnipoError, match="no such directory"):
        load_policy_model(str(tmp_path / "absent"))
    with pytest.raises(UnipoError, match="no config.json"):
        load_policy_model(str(tmp_path))
    (tmp_path / "config.json").write_text("{broken")
    with pytest.raises(UnipoError, match="cannot load") as caught:
        load_policy_model(str(tmp_path))
    assert "\n" not in str(caught.value)


def test_tasks_outside_the_alphabet_are_refused_for_the_tiny_model(tmp_path, few_steps):
    path = tmp_path / "caps.jsonl"
    path.write_text('{"prompt": "Capital of France?", "answer": "Paris"}\n{"prompt": "Hi", "answer": "Yo"}\n')
    with pytest.raises(UnipoError, match="alphabet lacks: 'CFP'"):
        load_policy_model("tiny", task=str(path), cache_dir=tmp_path / "cache", warmup=few_steps)

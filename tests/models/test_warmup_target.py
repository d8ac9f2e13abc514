import pytest

from unipo.models import evaluate_accuracy, load_policy_model
from unipo.tasks import get_task


@pytest.mark.slow
def test_default_warm_up_leaves_a_policy_that_is_right_part_of_the_time(tmp_path):
    """The product needs RL groups that mix right and wrong answers (the aim is 30-50%).

    The bounds are a little wider than the aim: the stopping monitor sees 64 prompts, this check
    256 (binomial noise ~3%), and float rounding may differ on another CPU. About 40-60 s on 2
    shared cores."""
    task = get_task("arithmetic")
    loaded = load_policy_model("tiny", task=task, seed=0, cache_dir=tmp_path)
    assert loaded.info["warmup"]["reached_target"] is True
    greedy = evaluate_accuracy(loaded.model, loaded.tokenizer, task, n=256, seed=0)
    sampled = evaluate_accuracy(loaded.model, loaded.tokenizer, task, n=256, seed=0, greedy=False)
    assert 0.25 <= greedy <= 0.6
    assert 0.2 <= sampled <= 0.55

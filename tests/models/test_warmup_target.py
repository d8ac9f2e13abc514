import pytest

from unipo.models import evaluate_accuracy, load_policy_model
from unipo.tasks import get_task


@pytest.mark.slow
def test_default_warm_up_leaves_a_policy_that_is_right_part_of_the_time(tmp_path):
    """The product needs RL groups that mix right and wrong answers (the aim is 30-50%).

    The bounds hold on any machine of this kind, not just one: the same seed gave 52% greedy on one
    CPU and 32.5% greedy / 19.1% sampled on another (float rounding differs between CPUs and the
    warm-up amplifies it), the stopping monitor sees 64 prompts and this check 256 (binomial noise
    ~3%). What the product needs, and what is asserted, is a policy that is right part of the time:
    well away from 0 (groups would all be wrong) and from 1 (all right). About 40-60 s on 2 cores."""
    task = get_task("arithmetic")
    loaded = load_policy_model("tiny", task=task, seed=0, cache_dir=tmp_path)
    assert loaded.info["warmup"]["reached_target"] is True
    greedy = evaluate_accuracy(loaded.model, loaded.tokenizer, task, n=256, seed=0)
    sampled = evaluate_accuracy(loaded.model, loaded.tokenizer, task, n=256, seed=0, greedy=False)
    assert 0.15 <= greedy <= 0.75
    assert 0.08 <= sampled <= 0.7

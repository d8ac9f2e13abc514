import pytest

from unipo.errors import UnipoError
from unipo.tasks import Example, get_task, list_tasks
from unipo.tasks.arithmetic import scratchpad
from unipo.tasks.alphabet import characters_outside_alphabet


@pytest.mark.parametrize("name", ["arithmetic", "sort"])
def test_prompts_are_deterministic_per_seed_and_prefix_stable(name):
    task = get_task(name)
    first = task.prompts("train", 50, seed=3)
    assert first == task.prompts("train", 50, seed=3)
    assert task.prompts("train", 80, seed=3)[:50] == first
    assert [ex.prompt for ex in task.prompts("train", 50, seed=4)] != [ex.prompt for ex in first]


@pytest.mark.parametrize("name", ["arithmetic", "sort"])
def test_train_and_eval_never_share_a_prompt(name):
    task = get_task(name)
    train = {ex.prompt for seed in range(3) for ex in task.prompts("train", 400, seed)}
    held_out = {ex.prompt for seed in range(3) for ex in task.prompts("eval", 400, seed)}
    assert train and held_out
    assert not train & held_out


@pytest.mark.parametrize("name", ["arithmetic", "sort"])
def test_gold_completions_score_correct_and_vary_in_length(name):
    task = get_task(name)
    examples = task.prompts("train", 200, seed=0)
    lengths = set()
    for ex in examples:
        gold = task.reference_completion(ex)
        result = task.score(ex, gold)
        assert result.correct and result.reward == 1.0
        assert not characters_outside_alphabet(ex.prompt + gold)
        lengths.add(len(gold))
    assert max(lengths) - min(lengths) >= 5


def test_arithmetic_scratchpad_writes_carries():
    assert scratchpad(57, 68) == "7+8=15,5+6+1=12"
    assert scratchpad(3, 4) == "3+4=7"
    assert scratchpad(999, 1) == "9+1=10,9+0+1=10,9+0+1=10"


@pytest.mark.parametrize(
    "completion, correct, well_formed",
    [
        ("7+8=15,5+6+1=12:125", True, True),
        ("7+8=15,5+6=11:115", False, True),  # dropped the carry
        ("garbage:125", True, False),  # right number, broken scratchpad
        ("7+8=15,5+6+1=12", False, False),  # never gave the answer
        ("", False, False),
        ("7+8=15:12a", False, False),
    ],
)
def test_arithmetic_reward(completion, correct, well_formed):
    task = get_task("arithmetic", format_weight=0.1)
    ex = Example(prompt="57+68=", answer="125", meta={"a": 57, "b": 68})
    result = task.score(ex, completion)
    assert result.correct is correct
    assert result.components == {"correct": float(correct), "format": 0.1 if well_formed else 0.0}
    assert result.reward == pytest.approx(float(correct) + (0.1 if well_formed else 0.0))


def test_sort_reward_and_format_credit():
    task = get_task("sort", format_weight=0.2)
    ex = task.prompts("eval", 1, seed=0)[0]
    digits = ex.meta["digits"]
    assert ex.prompt == f"sort:{digits}="
    assert task.score(ex, ex.answer).reward == pytest.approx(1.2)
    if len(set(digits)) > 1:  # a wrong order of the right digits earns only the format term
        wrong = ex.answer[::-1]
        assert task.score(ex, wrong).correct is False
        assert task.score(ex, wrong).reward == pytest.approx(0.2)
    assert task.score(ex, "x").reward == 0.0


def test_registry_lists_builtins_and_rejects_unknown_names():
    assert {info.name for info in list_tasks()} >= {"arithmetic", "sort"}
    with pytest.raises(UnipoError, match="valid tasks: arithmetic, sort"):
        get_task("multiplication")
    with pytest.raises(UnipoError, match="unknown parameter 'digits'.*max_digits"):
        get_task("arithmetic", digits=3)
    with pytest.raises(UnipoError, match="min_digits <= max_digits"):
        get_task("arithmetic", min_digits=3, max_digits=2)


def test_string_parameters_from_the_command_line_are_accepted():
    assert get_task("arithmetic", max_digits="3").params["max_digits"] == 3
    with pytest.raises(UnipoError, match="task sort: bad parameter value"):
        get_task("sort", max_length="many")

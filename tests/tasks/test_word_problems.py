"""`word_problems`: English arithmetic questions with a checker that reads the stated answer."""
import pytest

from unipo.errors import UnipoError
from unipo.tasks import get_task, list_tasks
from unipo.tasks.word_problems import parse_answer


def test_gold_completions_score_one_and_answers_are_the_arithmetic():
    task = get_task("word_problems")
    examples = task.prompts("train", 200, seed=3)
    assert {e.meta["work"].split()[1] for e in examples} == {"+", "-", "x"}
    for example in examples:
        assert example.prompt.startswith("Question: ") and example.prompt.endswith("\nAnswer:")
        assert task.score(example, task.reference_completion(example)).reward == 1.0
        a, op, b = example.meta["work"].split()[:3]
        assert int(example.answer) == {"+": int(a) + int(b), "-": int(a) - int(b), "x": int(a) * int(b)}[op]


def test_checker_reads_the_stated_answer_else_the_last_number():
    assert parse_answer(" 3 + 4 = 7. The answer is 7.") == 7
    assert parse_answer(" The answer is 12, not 13") == 12
    assert parse_answer(" She has 1,204 coins") == 1204
    assert parse_answer(" I do not know") is None
    task = get_task("word_problems", format_weight=0.5)
    example = task.prompts("eval", 1, seed=0)[0]
    wrong = task.score(example, f" The answer is {int(example.answer) + 1}.")
    assert (wrong.correct, wrong.reward) == (False, 0.5)


def test_parameters_are_checked_and_listed():
    assert "word_problems" in {info.name for info in list_tasks()}
    assert {e.meta["work"].split()[1] for e in get_task("word_problems", operations="add").prompts("train", 30, 0)} == {"+"}
    with pytest.raises(UnipoError, match="operations must be"):
        get_task("word_problems", operations="divide")

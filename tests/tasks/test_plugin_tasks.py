import json
import textwrap

import pytest

from unipo.errors import UnipoError
from unipo.tasks import Task, get_task


def write_jsonl(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_jsonl_task_samples_splits_and_scores(tmp_path):
    rows = [{"prompt": f"q{i}?", "answer": i} for i in range(40)]
    path = write_jsonl(tmp_path / "qa.jsonl", rows)
    task = get_task(str(path), checker="numeric")
    train = {ex.prompt for ex in task.prompts("train", 200, seed=0)}
    held_out = {ex.prompt for ex in task.prompts("eval", 50, seed=0)}
    assert len(held_out) == 5 and not train & held_out and len(train | held_out) == 40
    ex = task.prompts("eval", 1, seed=0)[0]
    assert task.score(ex, f"the answer is {ex.answer}").correct
    assert not task.score(ex, "the answer is 999").correct
    assert task.prompts("train", 30, seed=1) == task.prompts("train", 30, seed=1)


def test_jsonl_split_field_pins_prompts(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [
        {"prompt": "a", "answer": "x", "split": "eval"},
        {"prompt": "b", "answer": "y", "completion": "so y"},
    ])
    task = get_task("jsonl", path=str(path), checker="contains")
    assert {ex.prompt for ex in task.prompts("eval", 5, 0)} == {"a"}
    train_example = task.prompts("train", 1, 0)[0]
    assert task.reference_completion(train_example) == "so y"
    assert task.score(train_example, "well, y").correct


@pytest.mark.parametrize(
    "lines, message",
    [
        (['{"prompt": "a", "answer": "1"}', "{not json"], r"bad\.jsonl:2: not valid JSON"),
        (['{"prompt": "a", "answer": "1"}', "", '{"answer": "1"}'], r"bad\.jsonl:3: missing field 'prompt'"),
        (['{"prompt": "a"}'], r"bad\.jsonl:1: missing field 'answer'"),
        (['{"prompt": 5, "answer": "1"}'], r"bad\.jsonl:1: field 'prompt' must be"),
        (['{"prompt": "a", "answer": [1]}'], r"bad\.jsonl:1: field 'answer' must be"),
        (['{"prompt": "a", "answer": "1", "split": "test"}'], r"bad\.jsonl:1: field 'split'"),
        (['{"prompt": "a", "answer": "1", "anser": "2"}'], r"bad\.jsonl:1: unknown field 'anser'"),
        (['["a", "1"]'], r"bad\.jsonl:1: expected a JSON object"),
        (['{"prompt": "a", "answer": "seven"}'], r"bad\.jsonl:1: field 'answer' must be a number"),
        ([""], r"bad\.jsonl: the file has no prompts"),
    ],
)
def test_malformed_jsonl_names_file_line_and_field(tmp_path, lines, message):
    path = write_jsonl(tmp_path / "bad.jsonl", lines)
    with pytest.raises(UnipoError, match=message):
        get_task(str(path), checker="numeric")


def test_jsonl_errors_for_missing_file_and_unknown_checker(tmp_path):
    with pytest.raises(UnipoError, match="no such file"):
        get_task(str(tmp_path / "absent.jsonl"))
    path = write_jsonl(tmp_path / "ok.jsonl", [{"prompt": "a", "answer": "1"}])
    with pytest.raises(UnipoError, match="unknown checker 'fuzzy'; valid checkers: contains, exact, numeric"):
        get_task(str(path), checker="fuzzy")


def test_function_plugin_pair_and_task(tmp_path, monkeypatch):
    (tmp_path / "my_tasks.py").write_text(textwrap.dedent('''
        from unipo.tasks.arithmetic import ArithmeticTask

        def make_double(limit=9):
            def generate(rng):
                n = rng.randint(0, int(limit))
                return f"2*{n}=", str(2 * n)
            def check(example, completion):
                """1 if the completion is the doubled number."""
                return completion.strip() == example.answer
            return generate, check

        def make_arithmetic(**params):
            return ArithmeticTask(**params)

        def make_nothing():
            return 42
    '''))
    monkeypatch.chdir(tmp_path)
    task = get_task("my_tasks:make_double", limit=50)
    ex = task.prompts("train", 1, seed=0)[0]
    assert task.score(ex, ex.answer).correct and task.score(ex, ex.answer).reward == 1.0
    assert not task.score(ex, "-1").correct
    assert task.reference_completion(ex) == ex.answer
    assert task.reward_description == "1 if the completion is the doubled number."
    assert not {e.prompt for e in task.prompts("train", 100, 0)} & {e.prompt for e in task.prompts("eval", 20, 0)}
    by_file = get_task(str(tmp_path / "my_tasks.py") + ":make_arithmetic", max_digits=3)
    assert isinstance(by_file, Task) and by_file.params["max_digits"] == 3
    with pytest.raises(UnipoError, match="returned int"):
        get_task("my_tasks:make_nothing")
    with pytest.raises(UnipoError, match="has no function 'missing'"):
        get_task("my_tasks:missing")
    with pytest.raises(UnipoError, match="cannot import module 'no_such_module'"):
        get_task("no_such_module:make")


def test_a_generator_with_too_few_problems_for_a_split_is_a_user_error(tmp_path, monkeypatch):
    (tmp_path / "one_problem.py").write_text(
        "def make():\n    return (lambda rng: ('1+1=', '2')), (lambda ex, c: c == ex.answer)\n"
    )
    monkeypatch.chdir(tmp_path)
    task = get_task("one_problem:make")
    task.max_draws_per_prompt = 50
    from unipo.tasks import split_of

    missing_split = "train" if split_of("1+1=") == "eval" else "eval"
    with pytest.raises(UnipoError, match=f"no '{missing_split}' prompt in 50 draws"):
        task.prompts(missing_split, 1, seed=0)


def test_editing_a_plugin_module_changes_its_cache_identity(tmp_path):
    module = tmp_path / "edited.py"
    module.write_text("def make():\n    return (lambda rng: ('a', 'b')), (lambda ex, c: True)\n")
    before = get_task(f"{module}:make").cache_identity()
    module.write_text("def make():\n    return (lambda rng: ('c', 'd')), (lambda ex, c: True)\n")
    after = get_task(f"{module}:make").cache_identity()
    assert before["source_sha256"] and before != after

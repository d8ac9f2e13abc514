"""A user mistake on `unipo train` is one line on stderr and exit status 2, never a traceback."""
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # each case starts a Python that imports torch (a few seconds)


def run_train(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "unipo.cli", "train", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def assert_one_line_error(result, *needles):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.parametrize("args, needles", [
    (["--algo", "no_such_algo"], ["no_such_algo"]),
    (["--task", "no_such_task"], ["no_such_task"]),
    (["--set", "no_such_hparam=1"], ["no_such_hparam"]),
    (["--model", "/nonexistent/model-dir"], ["/nonexistent/model-dir"]),
    (["--minibatches", "9", "--prompts-per-step", "4"], ["minibatches"]),
])
def test_bad_option_values(tmp_path, args, needles):
    assert_one_line_error(run_train("--out", str(tmp_path / "run"), "--eval-prompts", "0", *args), *needles)


def test_existing_non_empty_output_needs_resume_or_overwrite(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    assert_one_line_error(run_train("--out", str(tmp_path / "run")), "--resume", "--overwrite")


def test_unwritable_output(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert_one_line_error(run_train("--out", str(blocker / "run")), str(blocker))


def test_unknown_option_names_it_without_traceback(tmp_path):
    result = run_train("--out", str(tmp_path / "run"), "--no-such-option")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--no-such-option" in result.stderr.strip().splitlines()[-1]

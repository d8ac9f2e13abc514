"""A user mistake on `unipo train` / `unipo demo` is one line on stderr naming the flag and what was
expected, exit status 2, never a traceback, and nothing written under --out: every option is checked
against its declaration (engine/config.py) before any model is loaded."""
import subprocess
import sys

import pytest

from support.cli import assert_one_line_error, run_cli
from unipo.cli import main


def assert_nothing_written(out):
    assert not out.exists() or not any(out.iterdir()), sorted(out.iterdir())


@pytest.fixture
def no_model_loads(monkeypatch):
    """Any model load (or warm-up) fails the test: every check must come before it."""
    import unipo.engine.setup as setup

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the options were checked")
    monkeypatch.setattr(setup, "load_initial_model", refuse)


BAD_TRAIN_OPTIONS = [
    # From the probe: tracebacks before.
    (["--group-size", "1"], ["--group-size", ">= 2", "group_norm"]),
    (["--algo", "dapo", "--group-size", "1"], ["--group-size", "dynamic_sampling"]),
    (["--algo", "rloo", "--group-size", "1"], ["--group-size", "rloo"]),
    (["--lr", "nan"], ["--lr", "finite"]),
    (["--lr", "inf"], ["--lr", "finite"]),
    (["--lr=-inf"], ["--lr", "finite"]),
    (["--seed", str(2 ** 70)], ["--seed", str(2 ** 70), "2**32"]),
    (["--seed", "-1"], ["--seed", "[0, 2**32)"]),
    # From the probe: nonsense accepted before.
    (["--warmup-steps", "-5"], ["--warmup-steps", ">= 0"]),
    (["--max-grad-norm", "-1"], ["--max-grad-norm", "> 0"]),
    (["--max-grad-norm", "0"], ["--max-grad-norm", "> 0"]),
    (["--max-grad-norm", "nan"], ["--max-grad-norm", "finite"]),
    (["--eval-prompts", "-1"], ["--eval-prompts", ">= 0"]),
    (["--temperature", "inf"], ["--temperature", "finite"]),
    (["--top-p", "nan"], ["--top-p"]),
    (["--overlong-buffer", "-0.5"], ["--overlong-buffer", "[0, 1]"]),
    (["--overlong-buffer", "2"], ["--overlong-buffer", "[0, 1]"]),
    (["--threads", "-1"], ["--threads", ">= 0"]),
    # Checked before as well; one line naming the flag.
    (["--temperature", "0"], ["--temperature", "> 0"]),
    (["--top-p", "2"], ["--top-p", "(0, 1]"]),
    (["--top-p", "0"], ["--top-p", "(0, 1]"]),
    (["--minibatches", "9", "--prompts-per-step", "4"], ["--minibatches", "--prompts-per-step"]),
    (["--steps", "0"], ["--steps", ">= 1"]),
    (["--prompts-per-step", "0"], ["--prompts-per-step", ">= 1"]),
    (["--epochs", "0"], ["--epochs", ">= 1"]),
    (["--max-new-tokens", "0"], ["--max-new-tokens", ">= 1"]),
    (["--checkpoint-every", "-1"], ["--checkpoint-every", ">= 0"]),
    (["--lr", "0"], ["--lr", "> 0"]),
    (["--algo", "no_such_algo"], ["--algo", "no_such_algo"]),
    (["--task", "no_such_task"], ["--task", "no_such_task"]),
    (["--set", "no_such_hparam=1"], ["--set", "no_such_hparam"]),
    (["--set", "epsilon=-1"], ["--set epsilon=-1"]),
    (["--set", "nokey"], ["--set", "KEY=VALUE"]),
    (["--algo", "clip_cov", "--set", f"clip_cov_seed={2 ** 70}"], ["--set", "clip_cov_seed"]),
    (["--algo", "gfpo", "--group-size", "4"], ["gfpo_keep", "--group-size"]),
    (["--task-param", "no_such_param=1"], ["--task-param", "no_such_param"]),
    (["--task-param", "max_digits=abc"], ["--task-param", "max_digits"]),
    (["--model", "/nonexistent/model-dir"], ["--model", "/nonexistent/model-dir"]),
    # argparse's own errors: one line as well.
    (["--seed", "abc"], ["--seed", "integer"]),
    (["--lr", "fast"], ["--lr", "number"]),
    (["--lr-schedule", "exponential"], ["--lr-schedule", "constant"]),
    (["--dynamic-sampling", "maybe"], ["--dynamic-sampling", "on"]),
    (["--no-such-option"], ["--no-such-option"]),
]


@pytest.mark.parametrize("args, needles", BAD_TRAIN_OPTIONS, ids=[" ".join(a) for a, _ in BAD_TRAIN_OPTIONS])
def test_bad_option_values(tmp_path, capsys, no_model_loads, args, needles):
    out = tmp_path / "run"
    assert_one_line_error(*run_cli(capsys, "train", "--out", str(out), "--eval-prompts", "0", *args), *needles)
    assert not out.exists()


def test_cache_dir_under_a_file(tmp_path, capsys, no_model_loads):
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = tmp_path / "run"
    assert_one_line_error(*run_cli(capsys, "train", "--out", str(out), "--cache-dir", str(blocker / "cache")),
                          "--cache-dir", str(blocker), "not a directory")
    assert_one_line_error(*run_cli(capsys, "train", "--out", str(out), "--cache-dir", str(blocker)),
                          "--cache-dir", "not a directory")
    assert not out.exists()


def test_cache_dir_in_a_read_only_directory(tmp_path, capsys, no_model_loads, monkeypatch):
    import os
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # chmod does not stop root: say the folder is not writable the way a read-only mount would.
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) == str(locked) else real_access(p, mode, **kw))
    out = tmp_path / "run"
    assert_one_line_error(*run_cli(capsys, "train", "--out", str(out), "--cache-dir", str(locked / "cache")),
                          "--cache-dir", "not writable")
    assert not out.exists()


def test_group_size_one_is_fine_without_a_group_based_estimator(tmp_path, capsys, no_model_loads):
    # reinforce compares against a batch-wide baseline: its only complaint is the load we refuse here.
    with pytest.raises(AssertionError, match="model was loaded"):
        main(["train", "--out", str(tmp_path / "run"), "--algo", "reinforce", "--group-size", "1"])


def test_existing_non_empty_output_needs_resume_or_overwrite(tmp_path, capsys, no_model_loads):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    assert_one_line_error(*run_cli(capsys, "train", "--out", str(tmp_path / "run")), "--resume", "--overwrite")
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["notes.txt"]


def test_output_under_a_file(tmp_path, capsys, no_model_loads):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert_one_line_error(*run_cli(capsys, "train", "--out", str(blocker / "run")), "--out", str(blocker))
    assert_one_line_error(*run_cli(capsys, "train", "--out", str(blocker)), "--out", "not a directory")
    assert blocker.read_text() == ""


def test_a_failed_model_load_leaves_no_empty_run_directory(tmp_path, capsys, monkeypatch):
    import unipo.engine.setup as setup
    from unipo.errors import UnipoError

    def fail(*args, **kwargs):
        raise UnipoError("model 'x': cannot load")
    monkeypatch.setattr(setup, "load_initial_model", fail)
    out = tmp_path / "new" / "run"
    assert_one_line_error(*run_cli(capsys, "train", "--out", str(out)), "cannot load")
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("args, needles", [
    (["--group-size", "1"], ["--group-size", "'grpo'"]),
    (["--algos", "reinforce,grpo", "--group-size", "1"], ["--group-size", "'grpo'"]),
    (["--lr", "nan"], ["--lr", "finite"]),
    (["--seed", str(2 ** 70)], ["--seed"]),
    (["--warmup-steps", "-5"], ["--warmup-steps"]),
    (["--algos", "grpo,nope"], ["--algo", "nope"]),
    (["--algos", ","], ["--algos"]),
    (["--port", "70000"], ["--port"]),
])
def test_demo_checks_every_run_before_training(tmp_path, capsys, no_model_loads, args, needles):
    out = tmp_path / "demo"
    assert_one_line_error(*run_cli(capsys, "demo", "--out", str(out), "--no-serve", *args), *needles)
    assert not out.exists()


def test_train_help_shows_each_declared_help_text(capsys):
    from unipo.engine.config import training_options
    with pytest.raises(SystemExit) as exited:
        main(["train", "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for declared in training_options():
        assert declared.flag in text
        assert " ".join(declared.help.split()) in text, declared.name


def test_train_defaults_come_from_the_declaration():
    import argparse

    from unipo.commands import train
    from unipo.engine.config import TrainConfig, training_options
    parser = argparse.ArgumentParser()
    train.register(parser.add_subparsers())
    args = parser.parse_args(["train", "--out", "x"])
    config = train.config_from_args(args, args.algo)
    assert config == TrainConfig(cache_dir=None)
    for declared in training_options():
        if declared.kind is not dict:
            assert getattr(args, declared.name) == declared.default, declared.name


def test_declaration_drives_validation():
    from unipo.engine.config import TrainConfig, declared
    assert declared("top_p").expected() == "a finite number in (0, 1]"
    with pytest.raises(ValueError, match=r"--warmup-steps -5: expected an integer >= 0"):
        TrainConfig(warmup_steps=-5).validate()
    with pytest.raises(ValueError, match="adam_betas"):
        TrainConfig(adam_betas=(0.9, 1.5)).validate()
    TrainConfig().validate()


def test_subprocess_error_is_one_line_without_traceback(tmp_path):
    """The real entry point (the interpreter's own traceback handler included)."""
    result = subprocess.run([sys.executable, "-m", "unipo.cli", "train", "--out", str(tmp_path / "run"),
                             "--lr", "inf"], capture_output=True, text=True, timeout=120)
    assert_one_line_error(result.returncode, result.stderr, "--lr inf", "finite")
    assert not (tmp_path / "run").exists()

"""`unipo algorithms`: list, explain, errors as UnipoError (exit 2 via the CLI)."""
import pytest

from unipo.cli import main


def test_lists_every_preset(capsys):
    assert main(["algorithms"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("reinforce ")
    from unipo.algorithms import list_presets
    assert "high_entropy" in out and len(out.splitlines()) == len(list_presets())


def test_explains_a_preset_with_overrides(capsys):
    assert main(["algorithms", "dapo", "--set", "epsilon_high=0.3"]) == 0
    out = capsys.readouterr().out
    assert "epsilon_high               0.3" in out
    assert "[clip] Surrogate and trust region  (ppo-asymmetric)" in out
    assert "htmlClass" not in out


def test_unknown_name_and_bad_override_exit_2(capsys):
    assert main(["algorithms", "grpoo"]) == 2
    assert "unknown algorithm preset 'grpoo'" in capsys.readouterr().err
    assert main(["algorithms", "grpo", "--set", "nokey"]) == 2
    assert "--set: expected KEY=VALUE" in capsys.readouterr().err

"""`unipo demo` options: per-algorithm learning rates, identical data, serving pass-through."""
import argparse

import pytest

from unipo.commands import demo
from unipo.commands.train import config_from_args


def parse(*argv):
    parser = argparse.ArgumentParser()
    demo.register(parser.add_subparsers())
    return parser.parse_args(["demo", *argv])


def test_defaults_keep_two_updates_per_rollout_and_identical_data_across_algorithms():
    args = parse()
    configs = [config_from_args(argparse.Namespace(**{**vars(args), "lr": demo.demo_lr(a, args.lr)}), a)
               for a in demo.DEMO_ALGORITHMS]
    assert all(c.updates_per_rollout >= 2 for c in configs)
    comparable = [{k: v for k, v in c.to_dict().items() if k not in ("algo", "lr")} for c in configs]
    assert all(c == comparable[0] for c in comparable)  # same task, seed, sizes: same prompts in the same order
    lrs = {c.algo: c.lr for c in configs}
    assert lrs["reinforce"] == demo.DEMO_LR_BY_ALGORITHM["reinforce"]
    assert {lr for algo, lr in lrs.items() if algo != "reinforce"} == {demo.DEMO_LR}


def test_a_given_lr_applies_to_every_algorithm():
    args = parse("--lr", "2e-4")
    assert {demo.demo_lr(a, args.lr) for a in demo.DEMO_ALGORITHMS} == {2e-4}


def test_serving_passes_host_port_and_browser_choice(tmp_path, monkeypatch):
    import unipo.server
    calls = []
    monkeypatch.setattr(unipo.server, "serve", lambda paths, host, port, open_browser: calls.append(
        (paths, host, port, open_browser)))
    args = parse("--port", "8123", "--host", "127.0.0.2", "--no-browser")
    runs = [tmp_path / "grpo", tmp_path / "ppo"]
    demo.serve_or_explain(tmp_path, runs, args)
    assert calls == [([str(p) for p in runs], "127.0.0.2", 8123, False)]
    demo.serve_or_explain(tmp_path, runs, parse())
    assert calls[-1][2:] == (8000, True)


@pytest.mark.parametrize("argv", [["--algos", ""], ["--algos", " , "]])
def test_no_algorithm_is_a_user_error(argv, tmp_path):
    from unipo.errors import UnipoError
    with pytest.raises(UnipoError, match="--algos"):
        demo.run(parse(*argv, "--out", str(tmp_path / "demo")))

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


def test_the_server_starts_before_training_and_serves_the_demo_folder(tmp_path, monkeypatch):
    """The web app is up while the runs train (they appear live), not after all six."""
    import threading

    import unipo.server
    training_started, release = threading.Event(), threading.Event()
    calls = []

    def fake_serve(paths, host, port, open_browser):
        # Training is under way (in its thread) and not finished when the server starts.
        assert training_started.wait(5)
        calls.append((paths, host, port, open_browser, finished.is_set()))
        release.set()
    finished = threading.Event()

    def train():
        training_started.set()
        release.wait(5)
        finished.set()
        return []
    monkeypatch.setattr(unipo.server, "serve", fake_serve)
    args = parse("--port", "8123", "--host", "127.0.0.2", "--no-browser")
    assert demo._serve_while_training(tmp_path / "demo", train, args) == 0
    assert calls == [([str(tmp_path / "demo")], "127.0.0.2", 8123, False, False)]


def test_runs_train_at_once_where_cores_allow():
    from unipo.commands.demo_workers import worker_count
    # One core is left to the server and the browser.
    assert worker_count(6, 1, cores=2) == 1
    assert worker_count(6, 1, cores=4) == 3
    assert worker_count(6, 1, cores=16) == 6
    assert worker_count(6, 2, cores=9) == 4
    assert worker_count(6, 1, cores=1) == 1
    assert worker_count(6, 1, requested=3, cores=16) == 3


@pytest.mark.parametrize("argv", [["--algos", ""], ["--algos", " , "]])
def test_no_algorithm_is_a_user_error(argv, tmp_path):
    from unipo.errors import UnipoError
    with pytest.raises(UnipoError, match="--algos"):
        demo.run(parse(*argv, "--out", str(tmp_path / "demo")))

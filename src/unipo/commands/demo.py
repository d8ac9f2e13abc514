"""`unipo demo`: six algorithms trained on the same task, prompts, order and seed, then served side by side."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from unipo.errors import UnipoError

SUMMARY = "train reinforce, ppo, grpo, dapo, dr_grpo and gspo on identical data, then open them"
DEMO_ALGORITHMS = ("reinforce", "ppo", "grpo", "dapo", "dr_grpo", "gspo")


# Learning rate of every demo run, unless --lr is given. REINFORCE differs, by its own convention:
# it has no importance ratio and no clip (nothing bounds how far one update moves the policy), sums
# log-probs over the tokens (seq-mean-token-sum) and subtracts one batch-wide baseline instead of a
# per-prompt one. At 1e-4 its 4 updates per rollout pushed wrong answers' tokens down until the
# policy stopped emitting EOS (held-out 52.5% -> 5.3%, responses at the 24-token limit); at 3e-5 it
# improves like the others (benchmarks/bench_demo.py).
DEMO_LR = 1e-4
DEMO_LR_BY_ALGORITHM = {"reinforce": 3e-5}


def demo_defaults():
    """Sizes chosen to fit the whole demo in a few minutes on 2 CPU cores while RL visibly improves
    the warmed-up tiny model's held-out accuracy for every algorithm (benchmarks/bench_demo.py).

    16 prompts x 8 completions per rollout (fewer made the per-rollout signal too noisy to beat the
    warm-up), 2 epochs x 2 mini-batches (4 updates per rollout: ratios move off 1, clipping fires),
    120 updates = 30 rollouts, temperature 0.7 (samples close to the greedy policy that is
    evaluated; at 1.0 only ~30% of samples are right vs ~50% greedy), 24 new tokens (the longest
    gold scratchpad of 2-digit addition is 19 characters + EOS), greedy held-out evaluation on
    1,000 eval-split draws (420 distinct problems: one-digit operands recur; binomial standard
    error ~1.6 points, a ~2 s evaluation)."""
    from unipo.engine.config import TrainConfig
    return TrainConfig(task="arithmetic", model="tiny", seed=0, steps=120, prompts_per_step=16, group_size=8,
                       epochs=2, minibatches=2, lr=DEMO_LR, max_new_tokens=24, temperature=0.7,
                       checkpoint_every=40, eval_prompts=1000)


def demo_lr(algo: str, requested: float | None) -> float:
    """--lr when given, else the demo's learning rate for this algorithm."""
    if requested is not None:
        return requested
    return DEMO_LR_BY_ALGORITHM.get(algo, DEMO_LR)


def register(subparsers) -> argparse.ArgumentParser:
    from unipo.commands.train import add_training_options
    parser = subparsers.add_parser("demo", help=SUMMARY, description=SUMMARY)
    parser.add_argument("--out", default="runs/demo", help="folder for the runs (one sub-folder per algorithm)")
    parser.add_argument("--algos", default=",".join(DEMO_ALGORITHMS),
                        help="comma-separated presets to train (default: %(default)s)")
    parser.add_argument("--no-serve", action="store_true", help="train and summarise only, do not start the server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="port to serve on (default: %(default)s)")
    parser.add_argument("--no-browser", action="store_true", help="serve without opening a browser tab")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_training_options(parser, defaults=demo_defaults(), skip=("algo", "algo_params"))
    # None = per-algorithm default (see DEMO_LR_BY_ALGORITHM); a given --lr applies to every run.
    parser.set_defaults(lr=None)
    for action in parser._actions:
        if action.dest == "lr":
            action.help = (f"learning rate of every run (default: {DEMO_LR:g}, reinforce "
                           f"{DEMO_LR_BY_ALGORITHM['reinforce']:g})")
    return parser


def _prepare_run_dir(path: Path) -> None:
    """A demo re-run replaces its own earlier runs, never anything else."""
    if path.exists() and not path.is_dir():
        raise UnipoError(f"--out {path.parent}: {path} exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not (path / "run.json").exists():
        raise UnipoError(f"--out {path.parent}: {path} is not empty and not a UNIPO run; choose another --out")


def _format_accuracy(value) -> str:
    return "  n/a" if value is None else f"{value:5.1%}"


def print_summary(rows: list[dict]) -> None:
    print()
    n = rows[0].get("eval_prompts") if rows else None
    print(f"held-out accuracy, greedy decoding, {n} eval prompts (never trained on), same for every run")
    print(f"{'algorithm':<12} {'lr':>7} {'before':>7} {'after':>7} {'change':>9} {'wall time':>10}")
    for row in rows:
        before, after = row["before"], row["after"]
        change = "" if before is None or after is None else f"{(after - before) * 100:+.1f} pt"
        print(f"{row['algo']:<12} {row.get('lr', 0):>7.0e} {_format_accuracy(before):>7} {_format_accuracy(after):>7} {change:>9} "
              f"{row['seconds']:>9.1f}s")


def serve_or_explain(out: Path, run_dirs: list[Path], args) -> None:
    try:
        from unipo.server import serve
    except ImportError:
        print(f"\nRuns stored in {out}. Open them with:  unipo serve {out}")
        return
    print(f"\nOpening the runs in {out} (Ctrl-C to stop)")
    serve([str(p) for p in run_dirs], host=args.host, port=args.port, open_browser=not args.no_browser)


def run(args) -> int:
    from unipo.commands.train import (
        check_output_directory, config_from_args, prepare_run, set_threads,
    )
    from unipo.engine.config import remove_if_empty
    from unipo.engine.progress import ProgressBar
    from unipo.engine.setup import build_trainer

    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    if not algos:
        raise UnipoError("--algos: give at least one algorithm preset")
    if len(set(algos)) != len(algos):
        raise UnipoError(f"--algos {args.algos}: an algorithm is named twice")
    if not 0 <= args.port <= 65535:
        raise UnipoError(f"--port {args.port}: expected an integer in [0, 65535]")
    out = Path(args.out)
    # Every option, every algorithm (group size included) and the task checked before any training.
    configs = [config_from_args(argparse.Namespace(**{**vars(args), "lr": demo_lr(algo, args.lr)}), algo)
               for algo in algos]
    prepared = [prepare_run(config, task_items=args.task_params) for config in configs]
    run_dirs = [out / algo for algo in algos]
    for path in run_dirs:
        _prepare_run_dir(path)
    created = check_output_directory(out, resume=True, overwrite=False)
    set_threads(args.threads, configs[0].model)

    rows, accuracy_before = [], None
    started = time.perf_counter()
    for config, path, ready in zip(configs, run_dirs, prepared):
        bar = ProgressBar(f"{config.algo:<10}", total=config.steps, enabled=not args.quiet)
        run_started = time.perf_counter()
        try:
            try:
                trainer = build_trainer(config, path, overwrite=True, progress=bar.update,
                                        model_progress=bar.note, accuracy_before=accuracy_before, prepared=ready)
            except BaseException:
                if not rows:
                    remove_if_empty(created)
                raise
            bar.start()
            result = trainer.run()
        finally:
            bar.close()
        # Every run starts from the same weights on the same held-out prompts: measure "before" once.
        accuracy_before = result.accuracy_before
        rows.append({"algo": config.algo, "before": result.accuracy_before, "after": result.accuracy_after,
                     "eval_prompts": config.eval_prompts, "lr": config.lr, "seconds": time.perf_counter() - run_started})
    print_summary(rows)
    print(f"total {time.perf_counter() - started:.1f}s")
    if not args.no_serve:
        serve_or_explain(out, run_dirs, args)
    else:
        print(f"\nRuns stored in {out}. Open them with:  unipo serve {out}")
    return 0

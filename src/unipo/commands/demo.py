"""`unipo demo`: six algorithms trained on the same task, prompts, order and seed, then served side by side."""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

from unipo.errors import UnipoError

SUMMARY = ("serve the web app, then train reinforce, ppo, grpo, dapo, dr_grpo and gspo on identical data "
           "(several at once where cores allow); runs appear live as they train")
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
    parser.add_argument("--parallel", type=int, default=0,
                        help="runs trained at once, one process each (default 0: one per available core, "
                             "less one core for the web server)")
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


def _serve_while_training(out: Path, train, args) -> int:
    """Serve `out` at once (runs appear, live, as they start) while `train()` runs in a thread.
    Returns the exit code: 1 when training failed (the server kept showing what was stored)."""
    try:
        from unipo.server import serve
    except ImportError:
        rows = train()
        print(f"\nRuns stored in {out}. Open them with:  unipo serve {out}")
        return 0 if rows is not None else 1
    outcome: dict = {}

    def background():
        try:
            outcome["rows"] = train()
            print(f"\nAll runs stored in {out}; still serving them (Ctrl-C to stop)", flush=True)
        except BaseException as exc:  # noqa: BLE001 - reported to the user; the server keeps running
            outcome["error"] = exc
            print(f"\nunipo demo: training stopped: {exc}", file=sys.stderr, flush=True)

    out.mkdir(parents=True, exist_ok=True)
    thread = threading.Thread(target=background, name="demo-training", daemon=True)
    thread.start()
    print(f"Serving {out} now: each run appears in the web app, live, as soon as it starts training", flush=True)
    serve([str(out)], host=args.host, port=args.port, open_browser=not args.no_browser)
    stop_workers()
    return 1 if "error" in outcome else 0


_executors: list = []


def stop_workers() -> None:
    """Ctrl-C while serving: no training process outlives the demo."""
    from unipo.commands.demo_workers import stop_pool
    for executor in _executors:
        stop_pool(executor)


def run(args) -> int:
    from unipo.commands.demo_workers import Job, train_all, worker_count
    from unipo.commands.train import check_output_directory, config_from_args, prepare_run
    from unipo.engine.config import declared

    from unipo.engine.model_source import apply_demo_sizes
    resized = apply_demo_sizes(args, demo_defaults(), ",".join(DEMO_ALGORITHMS))  # e.g. --model smollm2
    if resized:
        print(f"unipo demo: sizes for --model {args.model}: {', '.join(resized)}", flush=True)
    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    if not algos:
        raise UnipoError("--algos: give at least one algorithm preset")
    if len(set(algos)) != len(algos):
        raise UnipoError(f"--algos {args.algos}: an algorithm is named twice")
    if not 0 <= args.port <= 65535:
        raise UnipoError(f"--port {args.port}: expected an integer in [0, 65535]")
    if args.parallel < 0:
        raise UnipoError(f"--parallel {args.parallel}: expected an integer >= 0 (0 = one run per core, less one)")
    declared("threads").check(args.threads)
    out = Path(args.out)
    # Every option, every algorithm (group size included) and the task checked before any training.
    configs = [config_from_args(argparse.Namespace(**{**vars(args), "lr": demo_lr(algo, args.lr)}), algo)
               for algo in algos]
    for config in configs:
        prepare_run(config, task_items=args.task_params)
    run_dirs = [out / algo for algo in algos]
    for path in run_dirs:
        _prepare_run_dir(path)
    check_output_directory(out, resume=True, overwrite=False)
    threads = args.threads or 1  # the tiny model gains nothing from more threads per run
    workers = worker_count(len(algos), threads, args.parallel)
    jobs = [Job(config, path, tuple(args.task_params or ())) for config, path in zip(configs, run_dirs)]
    print(f"unipo demo: {len(algos)} runs, {workers} at a time ({threads} torch thread(s) each) into {out}",
          flush=True)

    def train():
        started = time.perf_counter()
        rows = train_all(jobs, workers=workers, threads=threads, progress=not args.quiet,
                         executor_ready=_executors.append)
        print_summary(rows)
        print(f"total {time.perf_counter() - started:.1f}s", flush=True)
        return rows

    if args.no_serve:
        train()
        print(f"\nRuns stored in {out}. Open them with:  unipo serve {out}")
        return 0
    return _serve_while_training(out, train, args)

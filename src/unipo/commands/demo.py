"""`unipo demo`: six algorithms trained on the same task, prompts, order and seed, then served side by side."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from unipo.errors import UnipoError

SUMMARY = "train reinforce, ppo, grpo, dapo, dr_grpo and gspo on identical data, then open them"
DEMO_ALGORITHMS = ("reinforce", "ppo", "grpo", "dapo", "dr_grpo", "gspo")


def demo_defaults():
    """Sizes chosen to fit the whole demo in a few minutes on 2 CPU cores while RL still visibly
    improves the warmed-up tiny model's held-out accuracy (benchmarks/bench_demo.py measures it)."""
    from unipo.engine.config import TrainConfig
    return TrainConfig(task="arithmetic", model="tiny", seed=0, steps=24, prompts_per_step=8, group_size=8,
                       epochs=2, minibatches=2, lr=5e-5, max_new_tokens=24, temperature=1.0,
                       checkpoint_every=8, eval_prompts=128)


def register(subparsers) -> argparse.ArgumentParser:
    from unipo.commands.train import add_training_options
    parser = subparsers.add_parser("demo", help=SUMMARY, description=SUMMARY)
    parser.add_argument("--out", default="runs/demo", help="folder for the runs (one sub-folder per algorithm)")
    parser.add_argument("--algos", default=",".join(DEMO_ALGORITHMS),
                        help="comma-separated presets to train (default: %(default)s)")
    parser.add_argument("--no-serve", action="store_true", help="train and summarise only, do not start the server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-browser", action="store_true", help="serve without opening a browser tab")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_training_options(parser, defaults=demo_defaults())
    return parser


def _prepare_run_dir(path: Path) -> None:
    """A demo re-run replaces its own earlier runs, never anything else."""
    if path.exists() and not path.is_dir():
        raise UnipoError(f"{path}: exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not (path / "run.json").exists():
        raise UnipoError(f"{path}: not empty and not a UNIPO run; choose another --out")


def _format_accuracy(value) -> str:
    return "  n/a" if value is None else f"{value:5.1%}"


def print_summary(rows: list[dict]) -> None:
    print()
    print(f"{'algorithm':<12} {'held-out before':>16} {'after':>7} {'change':>8} {'wall time':>10}")
    for row in rows:
        before, after = row["before"], row["after"]
        change = "" if before is None or after is None else f"{(after - before) * 100:+.1f} pt"
        print(f"{row['algo']:<12} {_format_accuracy(before):>16} {_format_accuracy(after):>7} {change:>8} "
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
    from unipo.commands.train import check_output_directory, config_from_args, set_threads
    from unipo.engine.progress import ProgressBar
    from unipo.engine.setup import build_trainer

    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    if not algos:
        raise UnipoError("--algos: give at least one algorithm preset")
    out = Path(args.out)
    configs = [config_from_args(args, algo) for algo in algos]  # every option checked before any training
    set_threads(args.threads, configs[0].model)
    run_dirs = [out / algo for algo in algos]
    for path in run_dirs:
        _prepare_run_dir(path)
    check_output_directory(out, resume=True, overwrite=False)

    rows, accuracy_before = [], None
    started = time.perf_counter()
    for config, path in zip(configs, run_dirs):
        bar = ProgressBar(f"{config.algo:<10}", total=config.steps, enabled=not args.quiet)
        run_started = time.perf_counter()
        try:
            trainer = build_trainer(config, path, overwrite=True, progress=bar.update, model_progress=bar.note,
                                    accuracy_before=accuracy_before)
            bar.start()
            result = trainer.run()
        finally:
            bar.close()
        # Every run starts from the same weights on the same held-out prompts: measure "before" once.
        accuracy_before = result.accuracy_before
        rows.append({"algo": config.algo, "before": result.accuracy_before, "after": result.accuracy_after,
                     "seconds": time.perf_counter() - run_started})
    print_summary(rows)
    print(f"total {time.perf_counter() - started:.1f}s")
    if not args.no_serve:
        serve_or_explain(out, run_dirs, args)
    else:
        print(f"\nRuns stored in {out}. Open them with:  unipo serve {out}")
    return 0

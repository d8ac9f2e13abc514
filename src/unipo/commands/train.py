"""`unipo train`: one RL run of any algorithm preset on a task, every token captured to --out."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from unipo.errors import UnipoError

SUMMARY = "train a policy with one algorithm and capture every token of every update"


def parse_assignment(text: str, option: str) -> tuple[str, object]:
    """KEY=VALUE with VALUE read as JSON when it parses (numbers, true/false, null), else a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UnipoError(f"{option} {text!r}: expected KEY=VALUE")
    lowered = raw.strip().lower()
    if lowered in ("none", "null"):
        return key.strip(), None
    if lowered in ("true", "false"):
        return key.strip(), lowered == "true"
    try:
        return key.strip(), json.loads(raw)
    except json.JSONDecodeError:
        return key.strip(), raw


def add_training_options(parser: argparse.ArgumentParser, *, defaults) -> None:
    """Options shared by `train` and `demo`; `defaults` is a TrainConfig giving their defaults."""
    parser.add_argument("--task", default=defaults.task, help="task name, .jsonl file or module:function")
    parser.add_argument("--task-param", action="append", default=[], metavar="KEY=VALUE",
                        help="task parameter (repeatable), e.g. --task-param max_digits=3")
    parser.add_argument("--model", default=defaults.model, help="'tiny' (built in, cached) or a model directory")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--steps", type=int, default=defaults.steps, help="optimizer updates (stored steps)")
    parser.add_argument("--prompts-per-step", type=int, default=defaults.prompts_per_step,
                        help="prompts per rollout")
    parser.add_argument("--group-size", type=int, default=defaults.group_size, help="completions per prompt")
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="passes over each rollout (μ)")
    parser.add_argument("--minibatches", type=int, default=defaults.minibatches, help="mini-batches per epoch")
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--lr-schedule", default=defaults.lr_schedule, choices=("constant", "linear", "cosine"))
    parser.add_argument("--warmup-steps", type=int, default=defaults.warmup_steps)
    parser.add_argument("--max-grad-norm", type=float, default=defaults.max_grad_norm)
    parser.add_argument("--max-new-tokens", type=int, default=defaults.max_new_tokens)
    parser.add_argument("--temperature", type=float, default=defaults.temperature)
    parser.add_argument("--top-p", type=float, default=defaults.top_p)
    parser.add_argument("--dynamic-sampling", choices=("on", "off"), default=None,
                        help="DAPO dynamic sampling (drop groups whose rewards are all equal and refill); "
                             "default: as the algorithm's preset (on for dapo)")
    parser.add_argument("--overlong-buffer", type=float, default=None, metavar="FRACTION",
                        help="DAPO soft overlong punishment over the last FRACTION of --max-new-tokens "
                             "(0 = off); default: as the preset (0.2 for dapo)")
    parser.add_argument("--checkpoint-every", type=int, default=defaults.checkpoint_every)
    parser.add_argument("--eval-prompts", type=int, default=defaults.eval_prompts,
                        help="held-out prompts scored before and after training (0 = skip)")
    parser.add_argument("--no-capture", action="store_true", help="store metrics only, not the tokens")
    parser.add_argument("--cache-dir", default=None, help="where the warmed-up tiny model is cached")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (0 = 1 for the tiny model, where more threads only add "
                             "synchronisation cost, else torch's default)")


def set_threads(requested: int, model: str) -> None:
    import torch
    if requested < 0:
        raise UnipoError(f"--threads must be >= 0, got {requested}")
    if requested or model == "tiny":
        torch.set_num_threads(requested or 1)


def config_from_args(args, algo: str, **fixed):
    from unipo.engine.config import TrainConfig
    algo_params = dict(parse_assignment(item, "--set") for item in getattr(args, "set", []) or [])
    # Rollout-side parts belong to the algorithm: these flags are shorthands for its parameters.
    if getattr(args, "dynamic_sampling", None) is not None:
        algo_params.setdefault("dynamic_sampling", args.dynamic_sampling == "on")
    if getattr(args, "overlong_buffer", None) is not None:
        algo_params.setdefault("overlong_buffer_fraction", args.overlong_buffer)
    task_params = dict(parse_assignment(item, "--task-param") for item in args.task_param)
    config = TrainConfig(
        algo=algo, algo_params=algo_params, task=args.task, task_params=task_params, model=args.model,
        seed=args.seed, steps=args.steps, prompts_per_step=args.prompts_per_step, group_size=args.group_size,
        epochs=args.epochs, minibatches=args.minibatches, lr=args.lr, lr_schedule=args.lr_schedule,
        warmup_steps=args.warmup_steps, max_grad_norm=args.max_grad_norm, max_new_tokens=args.max_new_tokens,
        temperature=args.temperature, top_p=args.top_p, checkpoint_every=args.checkpoint_every,
        eval_prompts=args.eval_prompts, capture=not args.no_capture, cache_dir=args.cache_dir, **fixed)
    try:
        config.validate()
    except ValueError as exc:
        raise UnipoError(str(exc)) from None
    if config.model != "tiny" and not Path(config.model).is_dir():
        raise UnipoError(f"--model {config.model!r}: not 'tiny' and not an existing directory")
    return config


def check_output_directory(out: Path, *, resume: bool, overwrite: bool) -> None:
    """Fail before any model is loaded when the run could not be written or would clobber one."""
    if out.exists() and not out.is_dir():
        raise UnipoError(f"--out {out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (resume or overwrite):
        raise UnipoError(f"--out {out}: directory is not empty (add --resume to continue the run there "
                         f"or --overwrite to replace it)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".unipo-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UnipoError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None


def register(subparsers) -> argparse.ArgumentParser:
    from unipo.engine.config import TrainConfig
    parser = subparsers.add_parser("train", help=SUMMARY, description=SUMMARY)
    parser.add_argument("--algo", default="grpo", help="algorithm preset (see `unipo algorithms`)")
    parser.add_argument("--out", required=True, help="run directory to write")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="algorithm hyper-parameter override (repeatable), e.g. --set epsilon_high=0.28")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_training_options(parser, defaults=TrainConfig())
    return parser


def run(args) -> int:
    from unipo.engine.progress import ProgressBar
    from unipo.engine.setup import build_trainer

    config = config_from_args(args, args.algo)
    set_threads(args.threads, config.model)
    out = Path(args.out)
    check_output_directory(out, resume=args.resume, overwrite=args.overwrite)
    bar = ProgressBar(f"{config.algo}", total=config.steps, enabled=not args.quiet)
    try:
        trainer = build_trainer(config, out, resume=args.resume, overwrite=args.overwrite, progress=bar.update,
                                model_progress=bar.note)
        bar.start(trainer.step)
        result = trainer.run()
    finally:
        bar.close()
    before = "n/a" if result.accuracy_before is None else f"{result.accuracy_before:.1%}"
    after = "n/a" if result.accuracy_after is None else f"{result.accuracy_after:.1%}"
    print(f"{config.algo}: {result.steps} updates in {result.wall_seconds:.1f}s; held-out accuracy "
          f"{before} -> {after}; run stored in {out}")
    return 0

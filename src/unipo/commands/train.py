"""`unipo train`: one RL run of any algorithm preset on a task, every token captured to --out."""
from __future__ import annotations

import argparse
import json
import os
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


def _number_type(kind: type, noun: str):
    def parse(text: str):
        try:
            return kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
    parse.__name__ = noun
    return parse


def add_option(parser: argparse.ArgumentParser, declared, default) -> None:
    """One flag from its declaration (engine/config.py): name, type, default, help and choices."""
    kwargs = {"dest": declared.name, "help": declared.help}
    if declared.metavar:
        kwargs["metavar"] = declared.metavar
    if declared.kind is bool:
        # The only boolean option is on by default and switched off by its flag (--no-capture).
        kwargs.update(action="store_false" if default else "store_true", default=default)
    elif declared.kind is dict:
        kwargs.update(action="append", default=[])
    else:
        kwargs["default"] = default
        if declared.choices:
            kwargs["choices"] = declared.choices
        elif declared.kind is int:
            kwargs["type"] = _number_type(int, "an integer")
        elif declared.kind is float:
            kwargs["type"] = _number_type(float, "a number")
        if (declared.kind in (int, float) or declared.choices) and default is not None \
                and "default" not in declared.help:
            kwargs["help"] = f"{declared.help} (default: %(default)s)"
    parser.add_argument(declared.flag, **kwargs)


def add_training_options(parser: argparse.ArgumentParser, *, defaults, skip: tuple[str, ...] = ()) -> None:
    """Options shared by `train` and `demo`, built from their declaration (engine/config.py);
    `defaults` is a TrainConfig giving their defaults, `skip` names the options a command leaves out."""
    from unipo.engine.config import training_options
    for declared in training_options():
        if declared.name in skip:
            continue
        default = getattr(defaults, declared.name, declared.default)
        add_option(parser, declared, default)


def set_threads(requested: int, model: str) -> None:
    import torch
    from unipo.engine.config import declared
    declared("threads").check(requested)
    if requested or model == "tiny":
        torch.set_num_threads(requested or 1)


def config_from_args(args, algo: str, **fixed):
    """The run's TrainConfig from parsed flags, every option checked against its declaration (raises
    UnipoError naming the flag). Loads nothing."""
    from dataclasses import fields

    from unipo.engine.config import TrainConfig, declared
    for name in ("dynamic_sampling", "overlong_buffer", "threads"):
        if hasattr(args, name):
            declared(name).check(getattr(args, name))
    algo_params = dict(parse_assignment(item, "--set") for item in getattr(args, "algo_params", None) or [])
    # Rollout-side parts belong to the algorithm: these flags are shorthands for its parameters.
    if getattr(args, "dynamic_sampling", None) is not None:
        algo_params.setdefault("dynamic_sampling", args.dynamic_sampling == "on")
    if getattr(args, "overlong_buffer", None) is not None:
        algo_params.setdefault("overlong_buffer_fraction", args.overlong_buffer)
    task_params = dict(parse_assignment(item, "--task-param") for item in getattr(args, "task_params", None) or [])
    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    values.update(algo=algo, algo_params=algo_params, task_params=task_params, **fixed)
    config = TrainConfig(**values)
    try:
        config.validate()
    except UnipoError:
        raise
    except ValueError as exc:
        raise UnipoError(str(exc)) from None
    from unipo.engine.model_source import BUILT_IN_MODELS
    if config.model not in BUILT_IN_MODELS and not Path(config.model).is_dir():
        raise UnipoError(f"--model {config.model!r}: not one of {', '.join(BUILT_IN_MODELS)} and not an existing directory")
    if config.model == "tiny" and config.cache_dir is None:
        from unipo.engine.config import check_directory_path
        from unipo.models.cache import CACHE_ENV_VAR, resolve_cache_dir
        label = f"--cache-dir (from ${CACHE_ENV_VAR})" if os.environ.get(CACHE_ENV_VAR) else "--cache-dir (default)"
        check_directory_path(label, resolve_cache_dir())
    return config


def prepare_run(config, set_items=(), task_items=()):
    """The algorithm and the task of a checked config, resolved before any model is loaded; a
    mistake is reported with the flag it came from (--set KEY=VALUE, --algo, --task-param, --task)."""
    from unipo.engine.setup import build_algorithm, build_task

    def blame(exc: UnipoError, flag: str, items, fallback: str, prefixes) -> UnipoError:
        message = str(exc)
        if message.startswith("--"):
            return exc  # names its flag already
        for prefix in prefixes:
            message = message.removeprefix(prefix)
        for item in items:
            key = item.partition("=")[0].strip()
            if f"{key}:" in message or f"{key} " in message or repr(key) in message:
                return UnipoError(f"{flag} {item}: {message}")
        if len(items) == 1 and "unknown" not in message:
            return UnipoError(f"{flag} {items[0]}: {message}")
        return UnipoError(f"{fallback}: {message}")

    try:
        algo = build_algorithm(config)
    except UnipoError as exc:
        raise blame(exc, "--set", list(set_items), f"--algo {config.algo}",
                    [f"algorithm {config.algo!r}: "]) from None
    try:
        task = build_task(config)
    except UnipoError as exc:
        raise blame(exc, "--task-param", list(task_items), f"--task {config.task}",
                    [f"task {config.task!r}: ", f"task {config.task}: "]) from None
    return algo, task


def check_output_directory(out: Path, *, resume: bool, overwrite: bool, label: str = "--out") -> list[Path]:
    """Fail before any model is loaded when the run could not be written or would clobber one.

    Creates `out` (and missing parents) to prove it can be written; returns the directories it
    created, for `remove_if_empty` to take back when the run fails before writing anything."""
    from unipo.engine.config import check_directory_path, missing_directories, remove_if_empty
    from unipo.runs import check_no_writer
    from unipo.runs.writer import is_empty_run_directory
    check_directory_path(label, out)
    if out.is_dir():
        check_no_writer(out)  # another process writing this run: refuse before any model is loaded
    if out.is_dir() and not is_empty_run_directory(out) and not (resume or overwrite):
        raise UnipoError(f"{label} {out}: directory is not empty (add --resume to continue the run there "
                         f"or --overwrite to replace it)")
    created = missing_directories(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".unipo-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        remove_if_empty(created)
        raise UnipoError(f"{label} {out}: cannot write there ({exc.strerror or exc})") from None
    return created


def register(subparsers) -> argparse.ArgumentParser:
    from unipo.engine.config import TrainConfig
    parser = subparsers.add_parser("train", help=SUMMARY, description=SUMMARY)
    parser.add_argument("--out", required=True, help="run directory to write")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_training_options(parser, defaults=TrainConfig())
    return parser


def run(args) -> int:
    from unipo.engine.progress import ProgressBar
    from unipo.engine.setup import build_trainer

    # Every option, the algorithm (group size included) and the task are checked before anything
    # is written or loaded.
    config = config_from_args(args, args.algo)
    prepared = prepare_run(config, set_items=args.algo_params, task_items=args.task_params)
    out = Path(args.out)
    created = check_output_directory(out, resume=args.resume, overwrite=args.overwrite)
    set_threads(args.threads, config.model)
    bar = ProgressBar(f"{config.algo}", total=config.steps, enabled=not args.quiet)
    try:
        try:
            trainer = build_trainer(config, out, resume=args.resume, overwrite=args.overwrite,
                                    progress=bar.update, model_progress=bar.note, prepared=prepared)
        except BaseException:
            from unipo.engine.config import remove_if_empty
            remove_if_empty(created)
            raise
        bar.start(trainer.step)
        result = trainer.run()
    finally:
        bar.close()
    before = "n/a" if result.accuracy_before is None else f"{result.accuracy_before:.1%}"
    after = "n/a" if result.accuracy_after is None else f"{result.accuracy_after:.1%}"
    print(f"{config.algo}: {result.steps} updates in {result.wall_seconds:.1f}s; held-out accuracy "
          f"{before} -> {after}; run stored in {out}")
    return 0

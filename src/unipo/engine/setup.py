"""Build a Trainer from a TrainConfig: algorithm, task and initial model resolved by name."""
from __future__ import annotations

from pathlib import Path

from unipo.engine.config import SEED_LIMIT, TrainConfig
from unipo.engine.model_source import load_initial_model
from unipo.engine.trainer import ProgressCallback, Trainer
from unipo.errors import UnipoError


def group_components(algo) -> list[str]:
    """The components of a spec that compare the responses of one prompt's group (their registry
    descriptor reads the "group" input): they need at least two responses per group."""
    return [f"{c.axis}/{c.name}" for c in algo.components if "group" in c.inputs]


def build_algorithm(config: TrainConfig):
    from unipo.algorithms import get_preset
    params = dict(config.algo_params)
    try:
        # L_max (Dr. GRPO's constant, DAPO's overlong buffer) is the generation budget unless set.
        params.setdefault("max_completion_length", config.max_new_tokens)
        algo = get_preset(config.algo, **params)
    except ValueError as exc:
        raise UnipoError(f"algorithm {config.algo!r}: {exc}") from None
    for name, value in algo.hparams.items():
        if name.endswith("_seed") and isinstance(value, int) and not 0 <= value < SEED_LIMIT:
            raise UnipoError(f"algorithm {config.algo!r}: {name} = {value}: expected an integer in [0, 2**32)")
    needs_group = group_components(algo)
    if needs_group and config.group_size < 2:
        raise UnipoError(f"--group-size {config.group_size}: expected >= 2 for algorithm {config.algo!r}, whose "
                         f"{', '.join(needs_group)} compare(s) the responses of each prompt's group")
    keep = algo.hparams.get("gfpo_keep") or 0
    if keep and keep >= config.group_size:
        raise UnipoError(f"algorithm {config.algo!r}: gfpo_keep = {keep} must be below the group size "
                         f"({config.group_size}): GFPO samples the group and keeps the best {keep} "
                         f"(set --group-size or --set gfpo_keep=K)")
    return algo


def build_task(config: TrainConfig):
    from unipo.tasks import get_task
    try:
        return get_task(config.task, **config.task_params)
    except UnipoError:
        raise
    except (ValueError, TypeError) as exc:
        raise UnipoError(f"task {config.task!r}: {exc}") from None


def prepare(config: TrainConfig):
    """Everything about a run that can be checked without loading a model: every option (raises
    UnipoError naming the flag), then the algorithm and the task resolved. Returns (algo, task)."""
    try:
        config.validate()
    except UnipoError:
        raise
    except ValueError as exc:
        raise UnipoError(str(exc)) from None
    return build_algorithm(config), build_task(config)


def build_trainer(config: TrainConfig, out: str | Path, *, resume: bool = False, overwrite: bool = False,
                  progress: ProgressCallback | None = None, model_progress=None,
                  accuracy_before: float | None = None, prepared=None) -> Trainer:
    """`prepared`: (algo, task) from prepare(config) when the caller checked the config already."""
    algo, task = prepared if prepared is not None else prepare(config)
    try:
        initial = load_initial_model(config.model, task=task, seed=config.seed, cache_dir=config.cache_dir,
                                     progress=model_progress)
    except OSError as exc:
        if config.cache_dir is None or exc.filename is None:
            raise
        raise UnipoError(f"--cache-dir {config.cache_dir}: cannot store the tiny model there "
                         f"({exc.strerror or exc}: {exc.filename})") from None
    return Trainer(config, out, algo=algo, task=task, model=initial.model, tokenizer=initial.tokenizer,
                   model_description=initial.description, resume=resume, overwrite=overwrite, progress=progress,
                   accuracy_before=accuracy_before)

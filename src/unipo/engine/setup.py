"""Build a Trainer from a TrainConfig: algorithm, task and initial model resolved by name."""
from __future__ import annotations

from pathlib import Path

from unipo.engine.config import TrainConfig
from unipo.engine.model_source import load_initial_model
from unipo.engine.trainer import ProgressCallback, Trainer
from unipo.errors import UnipoError


def build_algorithm(config: TrainConfig):
    from unipo.algorithms import get_preset
    params = dict(config.algo_params)
    try:
        # L_max (Dr. GRPO's constant, DAPO's overlong buffer) is the generation budget unless set.
        params.setdefault("max_completion_length", config.max_new_tokens)
        algo = get_preset(config.algo, **params)
        keep = algo.hparams.get("gfpo_keep") or 0
        if keep and keep >= config.group_size:
            raise ValueError(f"gfpo_keep = {keep} must be below the group size ({config.group_size}): GFPO "
                             f"samples the group and keeps the best {keep} (set --group-size or --set gfpo_keep=K)")
        return algo
    except ValueError as exc:
        raise UnipoError(f"algorithm {config.algo!r}: {exc}") from None


def build_task(config: TrainConfig):
    from unipo.tasks import get_task
    try:
        return get_task(config.task, **config.task_params)
    except UnipoError:
        raise
    except ValueError as exc:
        raise UnipoError(f"task {config.task!r}: {exc}") from None


def build_trainer(config: TrainConfig, out: str | Path, *, resume: bool = False, overwrite: bool = False,
                  progress: ProgressCallback | None = None, model_progress=None,
                  accuracy_before: float | None = None) -> Trainer:
    try:
        config.validate()
    except ValueError as exc:
        raise UnipoError(str(exc)) from None
    algo = build_algorithm(config)
    task = build_task(config)
    initial = load_initial_model(config.model, task=task, seed=config.seed, cache_dir=config.cache_dir,
                                 progress=model_progress)
    return Trainer(config, out, algo=algo, task=task, model=initial.model, tokenizer=initial.tokenizer,
                   model_description=initial.description, resume=resume, overwrite=overwrite, progress=progress,
                   accuracy_before=accuracy_before)

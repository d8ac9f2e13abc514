"""The RL training engine: rollout, advantages, updates, capture and checkpoints over a Hugging Face LM."""
from unipo.engine.config import TrainConfig
from unipo.engine.trainer import Trainer, TrainResult

__all__ = ["TrainConfig", "Trainer", "TrainResult", "build_trainer"]


def __getattr__(name: str):
    if name == "build_trainer":
        from unipo.engine.setup import build_trainer
        return build_trainer
    raise AttributeError(name)

"""The RL training engine: rollout, advantages, updates, capture and checkpoints over a Hugging Face LM.

Names are imported lazily so that `python -m unipo.engine.capture_process` (the capture child,
numpy + pyarrow only) does not pay for importing torch.
"""
__all__ = ["TrainConfig", "Trainer", "TrainResult", "build_trainer"]


def __getattr__(name: str):
    if name == "TrainConfig":
        from unipo.engine.config import TrainConfig
        return TrainConfig
    if name in ("Trainer", "TrainResult"):
        from unipo.engine import trainer
        return getattr(trainer, name)
    if name == "build_trainer":
        from unipo.engine.setup import build_trainer
        return build_trainer
    raise AttributeError(name)

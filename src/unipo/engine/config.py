"""Every training option of one run; stored whole in the run header's `config`."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass
class TrainConfig:
    algo: str = "grpo"
    algo_params: dict = field(default_factory=dict)
    task: str = "arithmetic"
    task_params: dict = field(default_factory=dict)
    model: str = "tiny"                  # "tiny" or a directory with a Hugging Face causal LM
    seed: int = 0
    steps: int = 20                      # optimizer updates (= stored steps)
    prompts_per_step: int = 8            # prompts per rollout
    group_size: int = 8                  # completions per prompt (num_generations)
    epochs: int = 1                      # passes over each rollout (μ, TRL num_iterations)
    minibatches: int = 1                 # mini-batches per epoch (whole prompt groups each)
    lr: float = 1e-4
    lr_schedule: str = "constant"        # constant | linear | cosine
    warmup_steps: int = 0
    weight_decay: float = 0.0
    adam_betas: tuple = (0.9, 0.99)
    max_grad_norm: float = 1.0
    max_new_tokens: int = 32
    temperature: float = 1.0
    top_p: float = 1.0
    checkpoint_every: int = 10           # updates between checkpoints (the last update always saves)
    capture: bool = True                 # write every token of every update to the run store
    eval_prompts: int = 128              # held-out prompts scored before and after training (0 = skip)
    scoring_batch_size: int = 64         # rows per no-grad forward when scoring a rollout
    cache_dir: str | None = None         # where the warmed-up tiny model is cached

    @property
    def updates_per_rollout(self) -> int:
        return self.epochs * self.minibatches

    def to_dict(self) -> dict:
        d = asdict(self)
        d["adam_betas"] = list(self.adam_betas)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if "adam_betas" in kwargs:
            kwargs["adam_betas"] = tuple(kwargs["adam_betas"])
        return cls(**kwargs)

    def validate(self) -> None:
        """Raise ValueError naming the first option that cannot work."""
        positive = ("steps", "prompts_per_step", "group_size", "epochs", "minibatches", "max_new_tokens",
                    "scoring_batch_size")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.minibatches > self.prompts_per_step:
            raise ValueError(f"minibatches ({self.minibatches}) cannot exceed prompts per step "
                             f"({self.prompts_per_step}): a prompt's group is never split")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0 for sampling, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be >= 0, got {self.checkpoint_every}")

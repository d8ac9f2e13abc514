"""The RL loop: rollout → advantages → μ epochs × mini-batches of updates → capture → checkpoint.

Holds the pieces together and owns the order of operations; each piece lives in its own module
(policy, rollout, minibatches, update, metrics, capture, checkpoint).
"""
from __future__ import annotations

import copy
import datetime as _dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from unipo.analyses.spikes import SpikeRule
from unipo.engine.attribution import Attribution
from unipo.engine.capture import BackgroundWriter, step_record
from unipo.engine.capture_process import CaptureWithFallback
from unipo.engine.checkpoint import (
    latest_checkpoint, load_checkpoint, restore_rng_state, rng_state, save_checkpoint,
)
from unipo.engine.config import TrainConfig
from unipo.engine.data_order import PromptStream
from unipo.engine.metrics import update_metrics
from unipo.engine.minibatches import plan_minibatches
from unipo.engine.policy import Policy
from unipo.engine.rollout import Rollout, collect_rollout
from unipo.engine.schedule import make_scheduler
from unipo.engine.token_text import TokenTexts
from unipo.engine.update import run_update
from unipo.engine.value_head import ValueHead
from unipo.errors import UnipoError
from unipo.runs import RunWriter
from unipo.runs.header import read_header
from unipo.runs.lock import WriterLock
from unipo.runs.schema import CHECKPOINTS_DIR, RUN_JSON
from unipo.runs.space import DiskFullError
from unipo.runs.writer import is_empty_run_directory

# AlgorithmSpec keeps its running advantage state here (no public accessor yet).
ALGORITHM_STATE = "_advantage_state"

ProgressCallback = Callable[[int, int, dict], None]


class RunFinishedError(UnipoError):
    """--resume of a run whose every step is done: nothing was changed."""


@dataclass
class TrainResult:
    path: Path
    steps: int
    accuracy_before: float | None
    accuracy_after: float | None
    wall_seconds: float
    last_metrics: dict


def _evaluate(model, tokenizer, task, config: TrainConfig) -> float | None:
    if config.eval_prompts <= 0:
        return None
    from unipo.models.evaluation import evaluate_accuracy
    return float(evaluate_accuracy(model, tokenizer, task, n=config.eval_prompts, seed=config.seed, greedy=True))


class Trainer:
    def __init__(self, config: TrainConfig, out: str | Path, *, algo, task, model, tokenizer,
                 model_description: dict | None = None, resume: bool = False, overwrite: bool = False,
                 progress: ProgressCallback | None = None, accuracy_before: float | None = None):
        config.validate()
        self.config = config
        self.out = Path(out)
        # One writer per run directory, held until run() ends (or this object is dropped): taken
        # before anything in the directory is read for resuming or deleted by --overwrite.
        self._lock = WriterLock.acquire(self.out)
        try:
            self._setup(config, algo=algo, task=task, model=model, tokenizer=tokenizer,
                        model_description=model_description, resume=resume, overwrite=overwrite,
                        progress=progress, accuracy_before=accuracy_before)
        except BaseException:
            self._lock.release()
            raise

    def _setup(self, config: TrainConfig, *, algo, task, model, tokenizer, model_description, resume, overwrite,
               progress, accuracy_before) -> None:
        self._resumed_header: dict | None = None
        if resume and (self.out / RUN_JSON).exists():
            self._resumed_header = read_header(self.out / RUN_JSON)
            self._check_resumable(self._resumed_header)  # before any set-up work or write
        self.algo = algo
        self.task = task
        self.progress = progress
        self.model_description = model_description or {"name": type(model).__name__}
        torch.manual_seed(config.seed)

        model.eval()  # no dropout anywhere: the ratio must be exactly 1 before the first update
        reference = None
        if algo.uses_reference:
            frozen = copy.deepcopy(model).eval()
            frozen.requires_grad_(False)
            reference = Policy(frozen, tokenizer)
        value_head = ValueHead(model.config.hidden_size) if algo.uses_values else None
        self.policy = Policy(model, tokenizer, value_head)
        self.reference = reference
        self.texts = TokenTexts(tokenizer)
        self.optimizer = torch.optim.AdamW(self.policy.parameters(), lr=config.lr, betas=tuple(config.adam_betas),
                                           weight_decay=config.weight_decay)
        self.scheduler = make_scheduler(self.optimizer, config.steps, config.lr_schedule, config.warmup_steps)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.stream = PromptStream(task, config.seed)
        self.step = 0
        self.rollout: Rollout | None = None
        self.plan_position = 0
        self.rollouts_done = 0
        # Given by a caller that already measured these weights (the demo's six runs share them).
        self.accuracy_before: float | None = accuracy_before
        # Training seconds of earlier segments of this run (a resumed run adds its own to them).
        self.train_seconds_before = 0.0
        self._segment_started: float | None = None
        self.writer = self._open_writer(resume, overwrite)
        # Per-token gradient attribution and the spike rule (a resumed run starts its grad-norm
        # history afresh: the z-score needs a few updates again before it can flag one).
        self.attribution = (Attribution(config.attribution, SpikeRule(threshold=config.spike_threshold))
                            if config.attribution != "off" else None)

    # -- run store ----------------------------------------------------------------------------------
    def _header(self) -> dict:
        return {
            "name": self.out.resolve().name,
            "algorithm": self.algo.to_dict(),
            "task": self.task.describe(),
            "model": self.model_description,
            "seed": self.config.seed,
            "config": self.config.to_dict(),
        }

    def _check_resumable(self, header: dict) -> None:
        """Refuse, changing nothing, a resume with other settings or of a run that is done."""
        saved_config = header.get("config", {})
        current = self.config.to_dict()
        for key in ("algo", "task", "seed", "prompts_per_step", "group_size", "epochs", "minibatches"):
            if key in saved_config and saved_config[key] != current[key]:
                raise UnipoError(f"{self.out}: cannot resume with {key}={current[key]!r}; "
                                 f"the run was started with {key}={saved_config[key]!r}")
        found = latest_checkpoint(self.out / CHECKPOINTS_DIR)
        done = found[0] if found else 0
        if header.get("status") == "finished" and done >= self.config.steps:
            raise RunFinishedError(f"{self.out}: the run is already finished ({done} of {self.config.steps} "
                                   f"steps done); nothing to resume (give a larger --steps to train it further, "
                                   f"or --overwrite to start it again)")

    def _open_writer(self, resume: bool, overwrite: bool) -> RunWriter:
        has_run = (self.out / RUN_JSON).exists()
        if resume and has_run:
            writer = RunWriter.open_for_resume(self.out, lock=self._lock)
            self._restore(writer)
            return writer
        if not is_empty_run_directory(self.out) and not (overwrite or resume):
            raise UnipoError(f"{self.out}: output directory is not empty (use --resume to continue the run "
                             f"there or --overwrite to replace it)")
        try:
            if overwrite:
                for stale in (self.out / CHECKPOINTS_DIR).glob("*"):
                    stale.unlink()
            writer = RunWriter.create(self.out, self._header(), exist_ok=overwrite or resume, lock=self._lock)
        except PermissionError as exc:
            raise UnipoError(f"{self.out}: cannot write the run there ({exc.strerror})") from None
        if self.accuracy_before is None:
            self.accuracy_before = _evaluate(self.policy.model, self.policy.tokenizer, self.task, self.config)
        writer.update_header(evaluation={"split": "eval", "prompts": self.config.eval_prompts,
                                         "before": self.accuracy_before, "after": None})
        return writer

    # -- checkpoints --------------------------------------------------------------------------------
    def _checkpoint_state(self) -> dict:
        return {
            "step": self.step,
            "model": self.policy.model.state_dict(),
            "value_head": None if self.policy.value_head is None else self.policy.value_head.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rng_state(),
            "generator": self.generator.get_state(),
            "stream_position": self.stream.position,
            "rollout": None if self.rollout is None else self.rollout.to_state(),
            "plan_position": self.plan_position,
            "rollouts_done": self.rollouts_done,
            # A moving-average baseline (REINFORCE) lives in the spec; resume must restore it too.
            "algorithm_state": copy.deepcopy(getattr(self.algo, ALGORITHM_STATE, None)),
            "train_seconds": self._train_seconds(),
        }

    def _train_seconds(self) -> float:
        """Training wall time of the whole run so far: earlier segments (up to the checkpoint this one
        resumed from) plus this one."""
        segment = 0.0 if self._segment_started is None else time.perf_counter() - self._segment_started
        return self.train_seconds_before + segment

    def _restore(self, writer: RunWriter) -> None:
        found = latest_checkpoint(self.out / CHECKPOINTS_DIR)
        self.accuracy_before = (writer.header.get("evaluation") or {}).get("before")
        if found is None:
            writer.truncate_after(0)
            return
        step, path = found
        state = load_checkpoint(path)
        self.policy.model.load_state_dict(state["model"])
        if self.policy.value_head is not None and state["value_head"] is not None:
            self.policy.value_head.load_state_dict(state["value_head"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        restore_rng_state(state["rng"])
        self.generator.set_state(state["generator"])
        self.stream = PromptStream(self.task, self.config.seed, position=state["stream_position"])
        self.rollout = None if state["rollout"] is None else Rollout.from_state(state["rollout"])
        self.plan_position = state["plan_position"]
        self.rollouts_done = state["rollouts_done"]
        if state.get("algorithm_state") is not None and hasattr(self.algo, ALGORITHM_STATE):
            setattr(self.algo, ALGORITHM_STATE, state["algorithm_state"])
        self.step = step
        # A finished run (continued with a larger --steps): its header's total, which includes the
        # final evaluation. Else the total up to the checkpoint (time spent after it by a crashed
        # segment is redone, not counted); checkpoints from before this key: the header's total.
        saved = self._resumed_header or {}
        if saved.get("status") == "finished" and isinstance(saved.get("train_seconds"), (int, float)):
            previous = saved["train_seconds"]
        else:
            previous = state.get("train_seconds", saved.get("train_seconds"))
        self.train_seconds_before = float(previous) if isinstance(previous, (int, float)) else 0.0
        writer.truncate_after(step)

    def _save_checkpoint(self, capture: BackgroundWriter) -> None:
        capture.flush()  # the store must hold every step the checkpoint claims
        save_checkpoint(self.out / CHECKPOINTS_DIR, self.step, self._checkpoint_state())

    # -- the loop -----------------------------------------------------------------------------------
    def _plan(self, rollout: Rollout):
        return plan_minibatches(len(rollout.prompt_texts), rollout.group_size, self.config.epochs,
                                self.config.minibatches, self.config.seed, rollout.index)

    def _open_capture(self):
        """Token capture writes in a child process (see capture_process: a writer thread slowed
        the update down through the GIL); metrics only, or no child possible, on a thread."""
        if self.config.capture:
            # The child writes through this process's writer lock (it inherits the descriptor).
            return CaptureWithFallback(self.out, lambda: BackgroundWriter(self.writer), lock_fd=self._lock.fd)
        return BackgroundWriter(self.writer)

    def run(self) -> TrainResult:
        try:
            return self._run()
        finally:
            self._lock.release()  # the run is finished or failed: another writer may take it now

    def _run(self) -> TrainResult:
        config = self.config
        started = time.perf_counter()
        self._segment_started = started
        capture = self._open_capture()
        capture_open = True
        metrics: dict = {}
        try:
            while self.step < config.steps:
                if self.rollout is None or self.plan_position >= config.updates_per_rollout:
                    self.rollout = collect_rollout(self.rollouts_done, self.policy, self.reference, self.algo,
                                                   self.task, self.stream, config, self.generator, self.texts)
                    self.rollouts_done += 1
                    self.plan_position = 0
                batch = self._plan(self.rollout)[self.plan_position]
                lr = self.optimizer.param_groups[0]["lr"]
                update_started = time.perf_counter()
                result = run_update(self.policy, self.algo, self.optimizer, self.rollout, batch, config,
                                    first_of_rollout=self.plan_position == 0, attribution=self.attribution)
                self.scheduler.step()
                seconds = time.perf_counter() - update_started
                self.plan_position += 1
                self.step += 1
                share = self.rollout.stats.get("rollout_seconds", 0.0) / config.updates_per_rollout
                metrics = update_metrics(self.rollout, batch, result, lr=lr, seconds=seconds,
                                         rollout_share_seconds=share)
                metrics.update(result.attribution_metrics)
                record = step_record(self.rollout, batch, result) if config.capture else None
                if record is not None and (result.attribution_terms or result.attribution_response_terms):
                    record.terms = {**record.terms, **result.attribution_terms}
                    record.response_terms = {**record.response_terms, **result.attribution_response_terms}
                capture.submit(self.step, record, metrics)
                if self.step == config.steps or (config.checkpoint_every and self.step % config.checkpoint_every == 0):
                    self._save_checkpoint(capture)
                if self.progress is not None:
                    self.progress(self.step, config.steps, metrics)
            capture_open = False
            capture.close()
            accuracy_after = _evaluate(self.policy.model, self.policy.tokenizer, self.task, config)
            wall = time.perf_counter() - started
            self.writer.update_header(evaluation={"split": "eval", "prompts": config.eval_prompts,
                                                  "before": self.accuracy_before, "after": accuracy_after},
                                      train_seconds=round(self._train_seconds(), 3))
            self.writer.set_status("finished")
        except BaseException as exc:
            self._fail(exc, capture if capture_open else None)
            raise
        return TrainResult(self.out, self.step, self.accuracy_before, accuracy_after, wall, metrics)

    def _fail(self, exc: BaseException, capture) -> None:
        """Stop capture, mark the run failed with a note (what failed, where --resume continues), and
        turn a full disk into one message that says what to do. Errors while stopping are secondary."""
        if capture is not None:
            try:
                capture.close()
            except BaseException as secondary:  # noqa: BLE001 - the first error is the one reported
                exc.add_note(f"(while stopping capture: {type(secondary).__name__}: {secondary})")
        found = latest_checkpoint(self.out / CHECKPOINTS_DIR)
        resume_from = found[0] if found else 0
        text = str(exc).strip().splitlines()
        failure = {"error": (text[0] if text else type(exc).__name__)[:500], "type": type(exc).__name__,
                   "step": self.step, "resumable": True, "resume_from_step": resume_from,
                   "at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        try:
            self.writer.set_status("failed", failure=failure)
            status = "run.json marks it failed"
        except Exception:  # noqa: BLE001 - e.g. no room even for run.json
            status = "run.json could not be updated and still says running"
        if isinstance(exc, DiskFullError):
            where = (f"it continues after step {resume_from}, its last checkpoint" if resume_from
                     else "no checkpoint was written yet, so it starts again from step 1")
            raise DiskFullError(f"{exc}. The run is resumable: free some space, then rerun with --resume "
                                f"({where}; {status}).", exc.path, exc.needed, exc.free) from None

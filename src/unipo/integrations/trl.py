"""Capture a TRL GRPOTrainer run into a UNIPO run store, token by token:

    from unipo.integrations.trl import capture
    capture(trainer, out="runs/my-trl-run")      # before trainer.train()

Why a `capture(trainer)` call and not a subclass: users build GRPOTrainer (or their own subclass of
it) with many arguments; a call on the finished instance works with any subclass and changes
nothing about how it is built. It wraps four methods of that one instance (never the class):

- `_calculate_rewards`: keeps the rewards of every reward function (TRL gathers them over ranks);
- `_generate_and_score_completions`: records each completion's prompt/completion text, global group
  id and rewards, and tags the batch with a row id (`unipo_row`) that survives TRL's shuffle and
  split by `steps_per_generation` (TRL's shuffle draws one randperm whatever the keys, so the
  training trajectory is unchanged);
- `_compute_loss`: catches the log-probs and entropies of TRL's own forward (no second forward),
  and runs `unipo.algorithms.recompute` on TRL's tensors, which asks autograd to keep the
  log-probs' gradient;
- `training_step`: after TRL's backward, reads the push g = −∂L/∂ℓ TRL's loss gave each token,
  and at the end of each gradient-accumulation window hands one StepRecord per optimizer update
  to a background writer.

Records are encoded and written off the training thread (a child process on rank 0, as the
engine does). Every step's metrics line carries `trl_loss` (the sum of TRL's micro-batch losses, what its
backward saw, averaged over ranks), `unipo_loss` (UNIPO's recomposition of the same), their
`loss_check_abs_diff` and `loss_check_ok` (1 when |Δ| ≤ atol + rtol·|trl_loss| on every rank); the
header's `loss_check` entry names these fields and the tolerance.
Distributed: each rank writes its own shard (RunWriter on rank 0, unipo.runs.RankWriter elsewhere);
group and prompt ids are global (TRL's groups are consecutive in the rank-major order of the
gathered generation batch).
"""
from __future__ import annotations

import math
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from unipo.algorithms.pipeline import StepInputs, recompute
from unipo.errors import UnipoError
from unipo.integrations.trl_spec import MEAN_OVER_MICRO_BATCHES, TrlSpec, spec_from_config
from unipo.runs import RunWriter, StepRecord

ROW_KEY = "unipo_row"
LOSS_CHECK = {"reference": "trl_loss", "recomposed": "unipo_loss", "difference": "loss_check_abs_diff",
              "ok": "loss_check_ok", "atol": 1e-6, "rtol": 1e-4,
              "label": "TRL loss = UNIPO loss", "source": "trl"}


@dataclass
class _Row:
    prompt_text: str
    response_text: str
    prompt_index: int          # the group's index within its generation batch (global over ranks)
    group_id: int              # unique over the run
    reward: float
    reward_components: dict[str, float]
    truncated: bool
    generation: int


@dataclass
class _MicroBatch:
    rows: list[int]
    token_ids: torch.Tensor
    mask: torch.Tensor            # what is stored: every generated token (truncated ones included)
    logprob: torch.Tensor
    old_logprob: torch.Tensor
    ref_logprob: torch.Tensor | None
    sampling_logprob: torch.Tensor | None
    entropy: torch.Tensor
    advantages: torch.Tensor
    result: Any                   # StepResult (its push is read after TRL's backward)
    trl_loss: float
    unipo_loss: float
    iteration: int


@dataclass
class TrlCapture:
    """What capture() installed: the writer, the spec, and the per-step loss-check results."""
    trainer: Any
    out: Path
    trl_spec: TrlSpec
    rank: int
    world_size: int
    writer: Any
    sink: Any
    checks: list[dict] = field(default_factory=list)
    capture_seconds: float = 0.0
    _rows: dict[int, _Row] = field(default_factory=dict)
    _window: list[_MicroBatch] = field(default_factory=list)
    _generation: int = 0
    _pending: _MicroBatch | None = None
    _metric_marks: dict[str, int] = field(default_factory=dict)
    _token_texts: Any = None
    closed: bool = False

    @property
    def spec(self):
        return self.trl_spec.spec

    def close(self, status: str = "finished") -> None:
        if self.closed:
            return
        self.closed = True
        self.sink.close()
        if self.rank == 0:
            self.writer.close(status)


def capture(trainer, out: str | Path, *, name: str | None = None, exist_ok: bool = False) -> TrlCapture:
    """Install the capture on `trainer` (a trl.GRPOTrainer) and create the run store at `out`.

    The run is closed ("finished") when trainer.train() returns, "failed" when it raises."""
    import trl

    if not isinstance(trainer, trl.GRPOTrainer):
        raise UnipoError(f"capture: expected a trl.GRPOTrainer, got {type(trainer).__name__}")
    if getattr(trainer, "_unipo_capture", None) is not None:
        raise UnipoError("capture: this trainer is already captured")
    accelerator = trainer.accelerator
    rank, world_size = int(accelerator.process_index), int(accelerator.num_processes)
    trl_spec = spec_from_config(trainer.args)
    out = Path(out)
    header = _header(trainer, trl_spec, name or out.name, world_size)
    writer = None
    if rank == 0:
        writer = RunWriter.create(out, header, exist_ok=exist_ok)
    if world_size > 1:
        accelerator.wait_for_everyone()  # once: the run directory exists before any rank writes a shard
        if rank > 0:
            from unipo import runs
            rank_writer = getattr(runs, "RankWriter", None)
            if rank_writer is None:
                raise UnipoError("capture: this UNIPO has no unipo.runs.RankWriter (per-rank shards) yet")
            writer = rank_writer(out, rank)
    sink = _open_sink(writer, out, rank)
    state = TrlCapture(trainer=trainer, out=out, trl_spec=trl_spec, rank=rank, world_size=world_size,
                       writer=writer, sink=sink)
    from unipo.engine.token_text import TokenTexts
    state._token_texts = TokenTexts(trainer.processing_class)
    trainer._unipo_capture = state
    _install(trainer, state)
    return state


def _open_sink(writer, out: Path, rank: int):
    """Where records go, off the training thread. Rank 0: the engine's child-process writer
    (engine/capture_process.py: Arrow/Parquet encoding holds the GIL, and on a writer thread it
    slowed TRL's update down), falling back to a thread; ranks > 0: a thread writing their shards."""
    from unipo.engine.capture import BackgroundWriter
    if rank == 0:
        from unipo.engine.capture_process import CaptureWithFallback
        lock = writer.lock
        return CaptureWithFallback(out, lambda: BackgroundWriter(writer), lock_fd=None if lock is None else lock.fd)
    return BackgroundWriter(_ShardAdapter(writer))


class _ShardAdapter:
    """Ranks > 0 write step shards only; the metrics line is rank 0's."""

    def __init__(self, writer):
        self.writer = writer

    def write_update(self, step, record, metrics):
        self.writer.write_step(step, record)

    def append_metrics(self, step, metrics):
        pass


def _header(trainer, trl_spec: TrlSpec, name: str, world_size: int) -> dict:
    import trl
    model = trainer.model
    config = getattr(model, "config", None)
    model_name = getattr(config, "_name_or_path", "") or type(model).__name__
    return {
        "name": name,
        "source": "trl",
        "algorithm": trl_spec.spec.to_dict(),
        "trl": {"version": trl.__version__, **trl_spec.header()},
        "model": {"name": str(model_name), "parameters": int(sum(p.numel() for p in model.parameters()))},
        "world_size": world_size,
        "group_size": int(trainer.num_generations),
        "loss_check": dict(LOSS_CHECK),
        "reward_functions": list(trainer.reward_func_names),
    }


# -- the wrapped methods -----------------------------------------------------------------------

def _install(trainer, state: TrlCapture) -> None:
    original_rewards = trainer._calculate_rewards
    original_generate = trainer._generate_and_score_completions
    original_loss = trainer._compute_loss
    original_step = trainer.training_step
    original_train = trainer.train

    def _calculate_rewards(self, *args, **kwargs):
        rewards = original_rewards(*args, **kwargs)
        state._last_rewards = rewards
        return rewards

    def _generate_and_score_completions(self, inputs):
        output = original_generate(inputs)
        if self.model.training:
            started = time.perf_counter()
            _record_generation(state, inputs, output)
            state.capture_seconds += time.perf_counter() - started
        return output

    def _compute_loss(self, model, inputs):
        if not self.model.training or ROW_KEY not in inputs:
            return original_loss(model, {k: v for k, v in inputs.items() if k != ROW_KEY})
        caught = {}
        original_forward = self._get_per_token_logps_and_entropies

        def catching_forward(*args, **kwargs):
            logps, entropies, aux = original_forward(*args, **kwargs)
            caught.setdefault("out", (logps, entropies))
            return logps, entropies, aux

        self._get_per_token_logps_and_entropies = catching_forward
        try:
            loss = original_loss(model, inputs)
        finally:
            del self._get_per_token_logps_and_entropies  # back to the class's method
        started = time.perf_counter()
        state._pending = _recompose(state, inputs, caught["out"], loss)
        state.capture_seconds += time.perf_counter() - started
        return loss

    def training_step(self, model, inputs, num_items_in_batch=None):
        output = original_step(model, inputs, num_items_in_batch)
        if state._pending is not None:
            started = time.perf_counter()
            micro = state._pending
            state._pending = None
            micro.result.collect_push()  # TRL's own backward filled the log-probs' gradient
            state._window.append(micro)
            if self._step % self.current_gradient_accumulation_steps == 0:
                _finish_step(state, self.state.global_step)
            state.capture_seconds += time.perf_counter() - started
        return output

    def train(self, *args, **kwargs):
        try:
            result = original_train(*args, **kwargs)
        except BaseException:
            state.close("failed")
            raise
        state.close("finished")
        return result

    for fn in (_calculate_rewards, _generate_and_score_completions, _compute_loss, training_step, train):
        setattr(trainer, fn.__name__, types.MethodType(fn, trainer))


def _record_generation(state: TrlCapture, inputs, output: dict) -> None:
    trainer = state.trainer
    tokenizer = trainer.processing_class
    completion_ids = output["completion_ids"]
    local = completion_ids.shape[0]
    group_size = int(trainer.num_generations)
    global_batch = local * state.world_size
    groups_per_generation = global_batch // group_size
    generation = state._generation
    state._generation += 1
    rewards_per_func = getattr(state, "_last_rewards", None)
    start = state.rank * local
    if rewards_per_func is not None:
        rewards_per_func = rewards_per_func[start:start + local].detach().float().cpu()
        weights = trainer.reward_weights.to(rewards_per_func.device).float()
        rewards = (rewards_per_func * weights.unsqueeze(0)).nansum(dim=1)
    else:
        rewards = torch.full((local,), float("nan"))
    prompt_ids, prompt_mask = output["prompt_ids"].cpu(), output["prompt_mask"].cpu()
    prompt_texts = [tokenizer.decode(ids[m.bool()].tolist(), skip_special_tokens=False)
                    for ids, m in zip(prompt_ids, prompt_mask)]
    full_mask, truncated = _generated_mask(trainer, completion_ids.cpu())
    response_texts = [tokenizer.decode(ids[m].tolist(), skip_special_tokens=True)
                      for ids, m in zip(completion_ids.cpu(), full_mask)]
    base = generation * local
    names = list(trainer.reward_func_names)
    for i in range(local):
        global_row = start + i
        prompt_index = global_row // group_size
        components = {}
        if rewards_per_func is not None:
            components = {name: float(rewards_per_func[i, k]) for k, name in enumerate(names)}
        state._rows[base + i] = _Row(
            prompt_text=prompt_texts[i], response_text=response_texts[i], prompt_index=prompt_index,
            group_id=generation * groups_per_generation + prompt_index, reward=float(rewards[i]),
            reward_components=components, truncated=bool(truncated[i]), generation=generation)
    output[ROW_KEY] = torch.arange(base, base + local, device=completion_ids.device)
    # Rows of generations two rounds back are no longer referenced by any buffered micro-batch.
    for key in [k for k in state._rows if k < base - local * 2 * max(1, trainer.args.steps_per_generation)]:
        del state._rows[key]


def _generated_mask(trainer, completion_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every generated token up to and including the first EOS (TRL's completion_mask before
    mask_truncated_completions zeroes truncated rows), and which rows never reached an EOS."""
    eos = torch.tensor(list(trainer.eos_token_ids) or [trainer.processing_class.eos_token_id])
    is_eos = torch.isin(completion_ids, eos)
    t = completion_ids.shape[1]
    has_eos = is_eos.any(dim=1)
    first = torch.where(has_eos, is_eos.int().argmax(dim=1), torch.full_like(has_eos, t, dtype=torch.long))
    mask = torch.arange(t).unsqueeze(0) <= first.unsqueeze(1)
    return mask, ~has_eos


def _recompose(state: TrlCapture, inputs: dict, caught, trl_loss: torch.Tensor) -> _MicroBatch:
    """UNIPO's loss and terms on TRL's tensors of this micro-batch (same forward, same dtype)."""
    trainer = state.trainer
    logps, entropies = caught
    loss_mask = inputs["completion_mask"]
    if "tool_mask" in inputs:
        loss_mask = loss_mask * inputs["tool_mask"]
    full_mask, truncated = _generated_mask(trainer, inputs["completion_ids"].detach().cpu())
    full_mask = full_mask.to(loss_mask.device) & (loss_mask.bool() | truncated.to(loss_mask.device).unsqueeze(1))
    old = inputs.get("old_per_token_logps")
    old = logps.detach() if old is None else old
    ga = trainer.current_gradient_accumulation_steps
    spg = trainer.args.steps_per_generation
    num_items = None
    if trainer.loss_type in ("dapo", "cispo", "vespo"):
        num_items = float(inputs["num_items_in_batch"]) / state.world_size * ga / spg
    entropies = entropies.detach() if entropies is not None else None
    result = recompute(state.spec, StepInputs(
        logprobs=logps, mask=loss_mask.bool(), old_logprobs=old, ref_logprobs=inputs.get("ref_per_token_logps"),
        sampling_logprobs=inputs.get("sampling_per_token_logps"), entropies=entropies,
        truncated=truncated.to(loss_mask.device), token_ids=inputs["completion_ids"],
        advantages=inputs["advantages"], num_items_in_batch=num_items))
    unipo_loss = float(result.loss.detach())
    if trainer.loss_type in MEAN_OVER_MICRO_BATCHES:
        unipo_loss /= ga
    iteration = (trainer._step // spg) % max(1, trainer.num_iterations)
    return _MicroBatch(
        rows=inputs[ROW_KEY].tolist(), token_ids=inputs["completion_ids"].detach(), mask=full_mask,
        logprob=logps.detach(), old_logprob=old.detach(), ref_logprob=_detached(inputs.get("ref_per_token_logps")),
        sampling_logprob=_detached(inputs.get("sampling_per_token_logps")), entropy=entropies,
        advantages=inputs["advantages"].detach(), result=result, trl_loss=float(trl_loss.detach()),
        unipo_loss=unipo_loss, iteration=iteration)


def _detached(tensor):
    return None if tensor is None else tensor.detach()


def _finish_step(state: TrlCapture, step: int) -> None:
    window, state._window = state._window, []
    record = _step_record(state, window)
    trl_loss = sum(m.trl_loss for m in window)
    unipo_loss = sum(m.unipo_loss for m in window)
    diff = abs(trl_loss - unipo_loss)
    ok = diff <= LOSS_CHECK["atol"] + LOSS_CHECK["rtol"] * abs(trl_loss)
    if state.world_size > 1:  # one tiny all-gather of numbers; TRL itself gathers metrics every step
        values = torch.tensor([trl_loss, unipo_loss, diff, float(not ok)], dtype=torch.float64,
                              device=state.trainer.accelerator.device)
        gathered = state.trainer.accelerator.gather(values.unsqueeze(0)).view(-1, 4).cpu()
        trl_loss, unipo_loss = float(gathered[:, 0].mean()), float(gathered[:, 1].mean())
        diff, ok = float(gathered[:, 2].max()), bool(gathered[:, 3].sum() == 0)
    check = {"step": step, "trl_loss": trl_loss, "unipo_loss": unipo_loss, "loss_check_abs_diff": diff,
             "loss_check_ok": int(ok)}
    state.checks.append(check)
    metrics = {k: v for k, v in check.items() if k != "step"}
    metrics["micro_batches"] = len(window)
    metrics["grad_coef_abs_sum"] = float(sum(float(m.result.push.abs().sum()) for m in window))
    metrics.update(_trl_metrics(state))
    state.sink.submit(step, record, metrics)


def _trl_metrics(state: TrlCapture) -> dict[str, float]:
    """TRL's own logged metrics of this step (means of what it appended since the last step)."""
    found = {}
    for name, values in state.trainer._metrics["train"].items():
        mark = state._metric_marks.get(name, 0)
        if len(values) < mark:  # TRL cleared its buffer after logging
            mark = 0
        fresh = [float(v) for v in values[mark:] if isinstance(v, (int, float)) and math.isfinite(float(v))]
        state._metric_marks[name] = len(values)
        if fresh:
            found[f"trl/{name}"] = sum(fresh) / len(fresh)
    return found


def _pad(tensors: list[torch.Tensor | None], width: int, fill=0.0):
    if any(t is None for t in tensors):
        return None
    return torch.cat([torch.nn.functional.pad(t.detach().cpu(), (0, width - t.shape[1]), value=fill)
                      for t in tensors])


def _step_record(state: TrlCapture, window: list[_MicroBatch]) -> StepRecord:
    width = max(m.token_ids.shape[1] for m in window)
    rows = [state._rows[r] for m in window for r in m.rows]
    mask = _pad([m.mask.float() for m in window], width).bool()
    token_ids = _pad([m.token_ids for m in window], width, 0).long()
    term_names = set.intersection(*(set(m.result.terms) for m in window))
    terms = {}
    for name in sorted(term_names):
        values = [m.result.terms[name].detach() for m in window]
        if all(v.dim() == 2 for v in values):
            terms[name] = _pad([v.float() if v.dtype == torch.bool else v for v in values], width)
    if "advantage" not in terms:
        terms["advantage"] = _pad([m.advantages.view(-1, 1).expand(-1, m.token_ids.shape[1]) for m in window], width)
    sampling = _pad([m.sampling_logprob for m in window], width)
    if sampling is not None:
        terms.setdefault("sampling_logprob", sampling)
    micro = torch.cat([torch.full((len(m.rows),), float(k)) for k, m in enumerate(window)])
    strings = []
    for i in range(len(rows)):
        ids = token_ids[i][mask[i]].tolist()
        strings.append(state._token_texts.strings(ids))
    names = set(rows[0].reward_components) if rows else set()
    return StepRecord(
        prompt_index=[r.prompt_index for r in rows], group_id=[r.group_id for r in rows],
        prompt_text=[r.prompt_text for r in rows], response_text=[r.response_text for r in rows],
        reward=[r.reward for r in rows], mask=mask, token_ids=token_ids, tokens=strings,
        truncated=[r.truncated for r in rows],
        reward_components={_column(n): [r.reward_components.get(n, float("nan")) for r in rows] for n in names},
        logprob=_pad([m.logprob for m in window], width), old_logprob=_pad([m.old_logprob for m in window], width),
        ref_logprob=_pad([m.ref_logprob for m in window], width), entropy=_pad([m.entropy for m in window], width),
        terms=terms, response_terms={"micro_batch": micro},
        rollout=rows[0].generation if rows else 0, epoch=window[0].iteration, minibatch=0)


def _column(name: str) -> str:
    import re
    return re.sub(r"[^A-Za-z0-9_]", "_", str(name)) or "reward"

"""Capture: every token of every update handed to the run store, off the training thread.

The training thread only slices tensors into a StepRecord (cheap), adding the advantage
estimator's intermediates as columns named as the formula cards bind them: per-response ones
(group_mean, group_std, baseline, advantage_scale, shaped_reward) as response_terms, per-token ones
(token_reward, kl_reward, td_error) as terms. Flattening to Arrow, Parquet encoding and the file writes happen in update
order in a child process (capture_process.ProcessWriter); BackgroundWriter, one thread, is the
fallback and writes metrics-only runs. `flush()` waits for the queue to drain: the engine calls it
before every checkpoint so the store is never behind one. benchmarks/bench_engine.py measures the
step time with capture on vs off.
"""
from __future__ import annotations

import queue
import threading

import torch

from unipo.engine.minibatches import MiniBatch
from unipo.engine.rollout import Rollout
from unipo.engine.update import UpdateResult, pick_rows
from unipo.runs import RunWriter, StepRecord
from unipo.runs.schema import RESERVED_COLUMNS


def step_record(rollout: Rollout, batch: MiniBatch, result: UpdateResult) -> StepRecord:
    rows = result.rows
    width = result.logprobs.shape[1]
    row_list = rows.tolist()

    def pick(tensor: torch.Tensor | None) -> torch.Tensor | None:
        return pick_rows(tensor, rows, width)

    terms = dict(result.terms)
    if rollout.sampling_logprobs is not None:  # the generation's own log-probs (training–inference mismatch)
        terms.setdefault("sampling_logprob", pick(rollout.sampling_logprobs))
    response_terms: dict[str, torch.Tensor] = {}
    for name, value in rollout.advantage_terms.items():
        # `reward` and `advantage` are stored already (the reward column, out.terms["advantage"]).
        if name in terms or name in RESERVED_COLUMNS:
            continue
        picked = pick(value)
        # [N] values (group_mean, group_std, ...) are per-response columns; [N, T] ones token terms.
        (response_terms if picked.dim() == 1 else terms)[name] = picked

    group_size = rollout.group_size
    slots = [i // group_size for i in row_list]
    # "prompt" = index of the prompt group within this step, in step order.
    prompt_in_step = {slot: k for k, slot in enumerate(batch.groups)}
    return StepRecord(
        prompt_index=[prompt_in_step[s] for s in slots],
        group_id=rollout.group_ids.index_select(0, torch.tensor(slots, dtype=torch.long)),
        prompt_text=[rollout.prompt_texts[s] for s in slots],
        response_text=[rollout.response_texts[i] for i in row_list],
        reward=pick(rollout.rewards),
        mask=pick(rollout.mask),
        token_ids=pick(rollout.completion_ids),
        tokens=[rollout.token_strings[i] for i in row_list],
        truncated=pick(rollout.truncated),
        reward_components={name: pick(values) for name, values in rollout.reward_components.items()},
        logprob=result.logprobs,
        old_logprob=result.old_logprobs,
        ref_logprob=pick(rollout.ref_logprobs),
        value=pick(rollout.values),
        returns=pick(rollout.returns),
        entropy=result.entropies,
        terms=terms,
        response_terms=response_terms,
        rollout=rollout.index,
        epoch=batch.epoch,
        minibatch=batch.minibatch,
    )


class BackgroundWriter:
    """Writes (step, record, metrics) in order on one thread; re-raises its error on the next call."""

    def __init__(self, writer: RunWriter, max_pending: int = 8):
        self.writer = writer
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="unipo-capture", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                step, record, metrics = item
                if self._error is None:
                    if record is None:
                        self.writer.append_metrics(step, metrics)
                    else:
                        self.writer.write_update(step, record, metrics)
            except BaseException as exc:  # handed to the training thread by _raise_pending
                self._error = exc
            finally:
                self._queue.task_done()

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def submit(self, step: int, record: StepRecord | None, metrics: dict) -> None:
        self._raise_pending()
        self._queue.put((step, record, metrics))

    def flush(self) -> None:
        self._queue.join()
        self._raise_pending()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._raise_pending()

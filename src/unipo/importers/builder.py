"""A Step (ragged per-response arrays) -> the StepRecord the RunWriter stores ([N, T] padded).

The padded width T is the longest response (or the largest given position + 1). A position far
beyond a response's token count would make the [N, T] arrays huge for a small file (a position of
2^27 in 60 KB took 8.4 GB), so such a step is refused before anything is allocated.
"""
from __future__ import annotations

import numpy as np

from unipo.importers.parts import Step
from unipo.importers.problems import Problems
from unipo.runs.record import StepRecord

# Stored columns that StepRecord holds in named arrays; every other per-token float is a term.
RECORD_ARRAYS = {"logprob": "logprob", "old_logprob": "old_logprob", "ref_logprob": "ref_logprob",
                 "value": "value", "return": "returns", "entropy": "entropy"}
MAX_POSITION = (1 << 24) - 1
SLACK_CELLS = 1 << 16
TEXT_BUDGET = 512 << 20  # characters of prompt + response text in one step


def check_step_shape(step: Step, problems: Problems) -> tuple[int, int] | None:
    """(N, T) of the step, or None after reporting why it cannot be laid out in bounded memory."""
    tokens = 0
    width = 1
    text_bytes = 0
    for response in step.responses:
        count = 0 if response.token_ids is None else len(response.token_ids)
        tokens += count
        extent = count
        if response.positions is not None and len(response.positions):
            top = int(response.positions.max())
            if top > MAX_POSITION or int(response.positions.min()) < 0:
                problems.add(f"{response.where}: position", f"expected positions in [0, {MAX_POSITION}], got {top}")
                return None
            if len(np.unique(response.positions)) != count:
                problems.add(f"{response.where}: position", "a position appears twice in one response")
                return None
            extent = top + 1
        width = max(width, extent)
        text_bytes += len(response.prompt_text) + len(response.response_text)
    n = len(step.responses)
    if n * width > 4 * tokens + SLACK_CELLS:
        where = next(r.where for r in step.responses
                     if r.positions is not None and len(r.positions) and int(r.positions.max()) + 1 == width)
        problems.add(f"{where}: position", f"position {width - 1} with {tokens} tokens in the step would need "
                     f"{n}×{width} cells; positions must be (close to) 0..length-1")
        return None
    if text_bytes > TEXT_BUDGET:
        problems.add(f"{step.where}: prompt", f"prompt and response texts come to {text_bytes >> 20} Mi characters "
                     f"in one step (limit {TEXT_BUDGET >> 20} Mi)")
        return None
    return n, width


def to_record(step: Step, shape: tuple[int, int], extra_terms: dict[str, np.ndarray] | None = None) -> StepRecord:
    n, t = shape
    mask = np.zeros((n, t), dtype=bool)
    token_ids = np.zeros((n, t), dtype=np.int64)
    floats: dict[str, np.ndarray] = {}
    any_text = any(r.tokens is not None for r in step.responses)
    tokens: list[list] = []
    groups: dict = {}
    group_of = []
    for i, response in enumerate(step.responses):
        key = response.group if response.group is not None else ("prompt", response.prompt_text)
        group_of.append(groups.setdefault(key, len(groups)))
        count = 0 if response.token_ids is None else len(response.token_ids)
        where = response.positions if response.positions is not None else np.arange(count)
        if count:
            mask[i, where] = True
            token_ids[i, where] = response.token_ids
        for name, values in response.floats.items():
            if len(values):
                floats.setdefault(name, np.full((n, t), np.nan, dtype=np.float32))[i, where] = values
        if any_text:
            ordered = response.tokens if response.tokens is not None else [None] * count
            if response.positions is not None and count:
                ordered = [ordered[k] for k in np.argsort(response.positions, kind="stable")]
            tokens.append(list(ordered))
    for name, marks in step.marks.items():
        column = floats.setdefault(name, np.full((n, t), np.nan, dtype=np.float32))
        for (i, position), value in marks.items():
            if 0 <= i < n and 0 <= position < t:
                column[i, position] = value
    for name, values in (extra_terms or {}).items():
        floats.setdefault(name, values.astype(np.float32))
    arrays = {RECORD_ARRAYS[name]: floats.pop(name) for name in list(floats) if name in RECORD_ARRAYS}
    components = sorted({name for r in step.responses for name in r.components})
    response_terms = list(dict.fromkeys(name for r in step.responses for name in r.response_terms))
    group = np.array(group_of, dtype=np.int32)
    given = all(r.prompt_index is not None and r.group_id is not None for r in step.responses)
    return StepRecord(
        prompt_index=np.array([r.prompt_index for r in step.responses], dtype=np.int32) if given else group,
        group_id=np.array([r.group_id for r in step.responses], dtype=np.int32) if given else group,
        prompt_text=[r.prompt_text for r in step.responses],
        response_text=[r.response_text for r in step.responses],
        reward=np.array([r.reward for r in step.responses], dtype=np.float32),
        mask=mask, token_ids=token_ids, tokens=tokens if any_text else None,
        truncated=np.array([r.truncated for r in step.responses], dtype=bool),
        length=np.array([mask[i].sum() if r.length is None else r.length for i, r in enumerate(step.responses)],
                        dtype=np.int32),
        reward_components={name: np.array([r.components.get(name, np.nan) for r in step.responses], dtype=np.float32)
                           for name in components},
        terms=floats, rollout=step.rollout, epoch=step.epoch, minibatch=step.minibatch,
        response_terms={name: np.array([r.response_terms.get(name, np.nan) for r in step.responses], dtype=np.float32)
                        for name in response_terms},
        **arrays,
    )

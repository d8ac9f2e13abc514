"""A stored step table back into the padded [N, T] tensors the algorithms take."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch

from unipo.server.step_payload import order_by_response, response_starts, token_rows

# Per-token inputs of advantage_details / objective, by stored column name.
INPUT_COLUMNS = ("logprob", "old_logprob", "ref_logprob", "sampling_logprob", "value", "entropy")


@dataclass
class StepTensors:
    rewards: torch.Tensor          # [N]
    group_ids: torch.Tensor        # [N] int64, one id per prompt group
    truncated: torch.Tensor | None # [N] bool
    mask: torch.Tensor             # [N, T] float, 1 on stored completion tokens
    inputs: dict[str, torch.Tensor | None]   # INPUT_COLUMNS -> [N, T], None when not stored
    stored_terms: dict[str, torch.Tensor]    # every other float column -> [N, T]
    token_ids: torch.Tensor | None # [N, T] int64 sampled token ids, None when not stored
    token_rows: np.ndarray         # flat index (response order) -> (response, position) pairs
    offsets: np.ndarray            # N + 1 token offsets, as in the step payload


def _has_values(column: pa.ChunkedArray) -> bool:
    return column.null_count < len(column)


def step_tensors(table: pa.Table, dtype: torch.dtype = torch.float32) -> StepTensors:
    table = order_by_response(table)
    starts = response_starts(table)
    is_token = token_rows(table)
    n = len(starts)
    tokens = table.filter(pa.array(is_token)) if not is_token.all() else table
    response_of_row = table.column("response").to_numpy()
    # Response indices are 0..N-1 in a step; rank them anyway so a gap cannot shift rows.
    row_response = np.searchsorted(response_of_row[starts], tokens.column("response").to_numpy()).astype(np.int64)
    row_position = tokens.column("position").to_numpy().astype(np.int64)
    t = int(row_position.max(initial=-1)) + 1 or 1

    def per_response(name: str):
        return table.column(name).take(pa.array(starts)).to_numpy(zero_copy_only=False)

    def padded(column: pa.ChunkedArray) -> torch.Tensor:
        out = np.zeros((n, t), dtype=np.float64)
        out[row_response, row_position] = np.nan_to_num(column.to_numpy(zero_copy_only=False).astype(np.float64))
        return torch.as_tensor(out, dtype=dtype)

    mask = np.zeros((n, t), dtype=np.float64)
    mask[row_response, row_position] = 1.0
    inputs = {name: padded(tokens.column(name))
              if name in tokens.column_names and _has_values(tokens.column(name)) else None
              for name in INPUT_COLUMNS}
    skip = set(INPUT_COLUMNS) | {"return"}
    stored_terms = {name: padded(tokens.column(name)) for name in tokens.column_names
                    if name not in skip and pa.types.is_floating(tokens.column(name).type)
                    and not name.startswith("reward")}
    counts = np.bincount(row_response, minlength=n)
    token_ids = None
    if "token_id" in tokens.column_names and _has_values(tokens.column("token_id")):
        ids = np.full((n, t), -1, dtype=np.int64)
        ids[row_response, row_position] = np.nan_to_num(tokens.column("token_id").to_numpy(zero_copy_only=False)
                                                        .astype(np.float64), nan=-1).astype(np.int64)
        token_ids = torch.as_tensor(ids)
    return StepTensors(
        rewards=torch.as_tensor(np.nan_to_num(per_response("reward").astype(np.float64)), dtype=dtype),
        # The engine groups by prompt slot of the rollout; "prompt" (the group's index in the step) is
        # that slot, while "group" ids could repeat if one prompt was drawn twice.
        group_ids=torch.as_tensor(per_response("prompt" if "prompt" in table.column_names else "group").astype(np.int64)),
        truncated=torch.as_tensor(per_response("truncated").astype(bool)) if "truncated" in table.column_names else None,
        mask=torch.as_tensor(mask, dtype=dtype),
        inputs=inputs,
        stored_terms=stored_terms,
        token_ids=token_ids,
        token_rows=np.stack([row_response, row_position], axis=1),
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
    )


def flat(values: torch.Tensor, tensors: StepTensors) -> np.ndarray:
    """A [N, T] tensor back to the flat token order of the step payload."""
    array = values.detach().to(torch.float64).cpu().numpy()
    return array[tensors.token_rows[:, 0], tensors.token_rows[:, 1]].astype(np.float32)

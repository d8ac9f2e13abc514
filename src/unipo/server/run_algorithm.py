"""The run's own algorithm as a spec (torch-free), and what a stored step says about its rollout."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import orjson
import pyarrow as pa


@lru_cache(maxsize=256)
def _spec_from(key: bytes):
    from unipo.algorithms import AlgorithmSpec
    try:
        return AlgorithmSpec.from_dict(orjson.loads(key))
    except (ValueError, TypeError, KeyError):
        return None


def run_spec(header: dict):
    """The header's AlgorithmSpec, or None when the header has none that can be rebuilt."""
    stored = header.get("algorithm") if isinstance(header, dict) else None
    if not isinstance(stored, dict):
        return None
    return _spec_from(orjson.dumps(stored, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS))


def step_is_whole_rollout(table: pa.Table, header: dict) -> bool | None:
    """True when the step trained on every group of its rollout (one mini-batch), None if unknown."""
    config = header.get("config") if isinstance(header.get("config"), dict) else {}
    groups_here = len(np.unique(table.column("prompt").to_numpy())) if "prompt" in table.column_names else None
    if isinstance(config.get("prompts_per_step"), int) and groups_here is not None:
        return groups_here >= config["prompts_per_step"]
    if isinstance(config.get("minibatches"), int):
        return config["minibatches"] == 1
    return None

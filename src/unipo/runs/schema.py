"""Names, types and file layout of a run directory (docs/contracts.md §2)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa

FORMAT = "unipo-run/1"
STATUSES = ("running", "finished", "failed")

RUN_JSON = "run.json"
METRICS_JSONL = "metrics.jsonl"
STEPS_DIR = "steps"
CHECKPOINTS_DIR = "checkpoints"
TMP_SUFFIX = ".tmp"

_STEP_FILE = re.compile(r"^step-(\d{6,})\.parquet$")

# Identify the update; repeated on every row.
STEP_COLUMNS = ("step", "rollout", "epoch", "minibatch")
# Constant within one response; repeated on each of its token rows.
RESPONSE_COLUMNS = (
    "response", "prompt", "group", "prompt_text", "response_text",
    "reward", "response_length", "truncated",
)
# Vary per token.
TOKEN_ID_COLUMNS = ("position", "token_id", "token")
TOKEN_FLOAT_COLUMNS = ("logprob", "old_logprob", "ref_logprob", "value", "return", "entropy")
REWARD_COMPONENT_PREFIX = "reward_"
# Per-response algorithm terms (StepRecord.response_terms) are listed in the step file's schema
# metadata under this key; files written before it existed get KNOWN_RESPONSE_TERMS.
RESPONSE_TERMS_KEY = b"unipo.response_columns"
KNOWN_RESPONSE_TERMS = ("group_mean", "group_std", "baseline", "advantage_scale", "shaped_reward")

RESERVED_COLUMNS = frozenset(STEP_COLUMNS + RESPONSE_COLUMNS + TOKEN_ID_COLUMNS + TOKEN_FLOAT_COLUMNS)

# A response with no completion token is stored as one row with this position and null token
# columns, so its per-response values survive; RunReader.step() hides such rows.
EMPTY_RESPONSE_POSITION = -1

FIXED_TYPES: dict[str, pa.DataType] = {
    **{name: pa.int32() for name in STEP_COLUMNS},
    "response": pa.int32(), "prompt": pa.int32(), "group": pa.int32(),
    "prompt_text": pa.string(), "response_text": pa.string(),
    "reward": pa.float32(), "response_length": pa.int32(), "truncated": pa.bool_(),
    "position": pa.int32(), "token_id": pa.int32(), "token": pa.string(),
    **{name: pa.float32() for name in TOKEN_FLOAT_COLUMNS},
}

_COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_valid_column_name(name: str) -> bool:
    return isinstance(name, str) and bool(_COLUMN_NAME.match(name))


def step_file_name(step: int) -> str:
    return f"step-{step:06d}.parquet"


def step_number(file_name: str) -> int | None:
    """The step number of a completed step file name, None for anything else (temp files...)."""
    match = _STEP_FILE.match(file_name)
    return int(match.group(1)) if match else None


def step_path(run_path: Path, step: int) -> Path:
    return run_path / STEPS_DIR / step_file_name(step)


def response_terms_of(schema: pa.Schema) -> list[str]:
    """The per-response term columns of a step table or file schema (in schema order)."""
    raw = (schema.metadata or {}).get(RESPONSE_TERMS_KEY)
    listed = set(json.loads(raw)) if raw is not None else set(KNOWN_RESPONSE_TERMS)
    return [name for name in schema.names if name in listed]


def per_response_columns(schema: pa.Schema) -> list[str]:
    """Columns holding one value per response (repeated on its rows), in schema order."""
    terms = set(response_terms_of(schema))
    return [name for name in schema.names if name in RESPONSE_COLUMNS or name in terms
            or name.startswith(REWARD_COMPONENT_PREFIX)]

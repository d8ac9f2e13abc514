"""Names, types and file layout of a run directory (docs/contracts.md §2)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa

FORMAT = "unipo-run/2"
# Runs written before per-response/per-token files and rank shards: still readable (not writable).
LEGACY_FORMAT = "unipo-run/1"
READABLE_FORMATS = (FORMAT, LEGACY_FORMAT)
STATUSES = ("running", "finished", "failed")

RUN_JSON = "run.json"
METRICS_JSONL = "metrics.jsonl"
STEPS_DIR = "steps"
CHECKPOINTS_DIR = "checkpoints"
TMP_SUFFIX = ".tmp"

_STEP_FILE = re.compile(r"^step-(\d{6,})\.parquet$")

# Layout 2 (docs/store.md): Hive-style partitions, one shard per (step, rank), two files per shard.
#   steps/step=000012/rank=00000/responses.parquet   one row per response
#   steps/step=000012/rank=00000/tokens.parquet      one row per completion token
# A shard is written in <run>/.staging/ and renamed into place whole: readers (and globs such as
# steps/*/*/tokens.parquet) see complete shards only.
STAGING_DIR = ".staging"
TOKENS_FILE = "tokens.parquet"
RESPONSES_FILE = "responses.parquet"
_STEP_DIR = re.compile(r"^step=(\d{6,})$")
_RANK_DIR = re.compile(r"^rank=(\d{5,})$")

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

# Stored completion tokens of a response (responses files and RunReader.responses()).
TOKEN_COUNT_COLUMN = "token_count"
TEXT_COLUMNS = ("prompt_text", "response_text")

RESERVED_COLUMNS = frozenset(STEP_COLUMNS + RESPONSE_COLUMNS + TOKEN_ID_COLUMNS + TOKEN_FLOAT_COLUMNS
                             + (TOKEN_COUNT_COLUMN,))

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


def legacy_step_path(run_path: Path, step: int) -> Path:
    return run_path / STEPS_DIR / step_file_name(step)


def step_dir_name(step: int) -> str:
    return f"step={step:06d}"


def rank_dir_name(rank: int) -> str:
    return f"rank={rank:05d}"


def step_dir_number(name: str) -> int | None:
    match = _STEP_DIR.match(name)
    return int(match.group(1)) if match else None


def rank_dir_number(name: str) -> int | None:
    match = _RANK_DIR.match(name)
    return int(match.group(1)) if match else None


def shard_path(run_path: Path, step: int, rank: int) -> Path:
    return run_path / STEPS_DIR / step_dir_name(step) / rank_dir_name(rank)


def step_path(run_path: Path, step: int) -> Path:
    """A regular file that exists once step `step` has its rank-0 shard (the server stats it)."""
    return shard_path(run_path, step, 0) / RESPONSES_FILE


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

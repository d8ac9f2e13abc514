"""The canonical log format's field names and the run-store columns they map to.

docs/canonical-format.md is the human description of the same table; keep the two in step.
"""
from __future__ import annotations

CANONICAL_FORMAT = "unipo-canonical/1"

# Per-token float fields: canonical name -> step-file column.
TOKEN_FLOAT_FIELDS: dict[str, str] = {
    "log_probs": "logprob",
    "old_log_probs": "old_logprob",
    "ref_log_probs": "ref_logprob",
    "values": "value",
    "advantages": "advantage",
    "returns": "return",
    "token_kl": "kl",
    "rewards": "token_reward",
    "token_objective": "token_objective",
    "entropy": "entropy",
}
COLUMN_TO_TOKEN_FIELD = {column: name for name, column in TOKEN_FLOAT_FIELDS.items()}

# Token fields that are not floats.
TOKEN_ID_FIELD = "id"          # -> token_id
TOKEN_TEXT_FIELD = "text"      # -> token
TOKEN_POSITION_FIELD = "position"
TOKEN_TERMS_FIELD = "terms"    # {column: number} for every other per-token float column

# Step-file columns that are not per-token floats (never exported under "terms").
NON_TERM_COLUMNS = frozenset({
    "step", "rollout", "epoch", "minibatch", "response", "prompt", "group", "prompt_text", "response_text",
    "reward", "response_length", "truncated", "position", "token_id", "token",
})

HEADER_KEYS = ("name", "task", "dataset", "reward_strategy", "algorithm", "model", "hyperparameters", "seed")

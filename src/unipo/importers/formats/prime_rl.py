"""prime-rl token exports (PrimeIntellect-ai/prime-rl, src/prime_rl/trainer/rl/token_export.py,
schema_version 1): `<output_dir>/token_exports/step_<n>/rank_<r>.jsonl`, one record per packed
sequence with aligned per-token arrays (token_ids, position_ids, loss_mask, advantages,
inference_logprobs, trainer_logprobs, entropy, importance_ratio, is_masked, ...)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np

from unipo.importers.parts import Header, Response, Step
from unipo.importers.problems import kind
from unipo.importers.registry import importer
from unipo.importers.source import Context, first_line, jsonl
from unipo.importers.values import Fields

SCHEMA_VERSION = 1
STEP_DIR = re.compile(r"^step_(\d+)$")
RANK_FILE = re.compile(r"^rank_(\d+)\.jsonl$")
# per-token float arrays -> stored column
FLOATS = {"trainer_logprobs": "logprob", "inference_logprobs": "old_logprob", "advantages": "advantage",
          "entropy": "entropy", "rewards": "token_reward", "mismatch_kl": "mismatch_kl",
          "log_importance_ratio": "log_importance_ratio", "importance_ratio": "importance_ratio",
          "prob_delta": "prob_delta"}
FLAGS = {"is_masked": "is_masked", "is_masked_high": "is_masked_high", "is_masked_low": "is_masked_low"}
MAX_STEP_DIGITS = 10


def _step_dirs(root: Path) -> list[tuple[int, Path]]:
    base = root / "token_exports" if (root / "token_exports").is_dir() else root
    found = []
    for folder in base.iterdir() if base.is_dir() else ():
        match = STEP_DIR.match(folder.name)
        if match and folder.is_dir() and len(match.group(1)) <= MAX_STEP_DIGITS:
            found.append((int(match.group(1)), folder))
    return sorted(found)


def _detect(path: Path) -> float:
    if path.is_file():
        return 0.9 if RANK_FILE.match(path.name) and b'"schema_version"' in first_line(path, 1 << 20) \
            and b'"token_ids"' in first_line(path, 1 << 20) else 0.0
    dirs = _step_dirs(path)
    if not dirs:
        return 0.0
    ranks = [f for _, d in dirs[:3] for f in d.iterdir() if RANK_FILE.match(f.name)]
    return 1.0 if ranks else 0.3


@importer("prime-rl", summary="prime-rl token exports (token_exports/step_<n>/rank_<r>.jsonl, schema_version 1)",
          detect=_detect, source="PrimeIntellect-ai/prime-rl src/prime_rl/trainer/rl/token_export.py",
          maps={"token_ids where loss_mask": "completion tokens (the rest is the prompt)",
                "trainer_logprobs": "logprob", "inference_logprobs": "old_logprob (the behaviour policy)",
                "advantages": "advantage", "entropy": "entropy", "rewards": "token_reward",
                "importance_ratio, log_importance_ratio, mismatch_kl, prob_delta, is_masked*": "same-named terms",
                "identical prompt tokens": "one group"},
          cannot_provide=("prompt and response text (needs --tokenizer)", "reward per response", "ref_logprob", "value"))
def read_prime_rl(source: Path, context: Context) -> Iterator[Header | Step]:
    if source.is_file():
        steps = [(None, [source])]
    else:
        steps = [(n, sorted((f for f in d.iterdir() if RANK_FILE.match(f.name)),
                            key=lambda f: int(RANK_FILE.match(f.name).group(1)))) for n, d in _step_dirs(source)]
    yield Header({"name": source.stem if source.is_file() else source.resolve().name})
    context.note("prime-rl exports no text: prompts and responses are empty unless --tokenizer is given")
    for number, files in steps:
        responses: list[Response] = []
        step_no = number
        where_first = None
        for file in files:
            for where, record in jsonl(context, file):
                where_first = where_first or where
                parsed = _record(record, where, context)
                if parsed is None:
                    continue
                record_step, response = parsed
                if step_no is None:
                    step_no = record_step
                responses.append(response)
        if step_no is None:
            continue
        yield Step(step_no, where_first or f"step_{number}", responses)


def _record(record, where: str, context: Context):
    fields = Fields(context.problems, where)
    if not isinstance(record, dict):
        fields.add("", f"expected an object, got {kind(record)}")
        return None
    version = record.get("schema_version")
    if version != SCHEMA_VERSION:
        fields.add("schema_version", f"expected {SCHEMA_VERSION}, got {version!r}")
        return None
    step = fields.integer(record.get("step"), "step")
    ids = fields.int_array(record.get("token_ids"), "token_ids")
    mask = fields.bool_array(record.get("loss_mask"), "loss_mask")
    if ids is None or mask is None or fields.failed:
        return None
    if len(mask) != len(ids):
        fields.add("loss_mask", f"has {len(mask)} values but token_ids has {len(ids)}")
        return None
    if np.isnan(mask).any():
        fields.add("loss_mask", "null in loss_mask")
        return None
    completion = mask.astype(bool)
    if not completion.any():
        fields.add("loss_mask", "no token is trained on (the exporter skips such sequences)")
        return None
    first = int(np.argmax(completion))
    response = Response(where=where, group=("prompt", ids[:first].tobytes()), token_ids=ids[first:][completion[first:]])
    positions = np.flatnonzero(completion[first:])
    if len(positions) != len(response.token_ids) or (positions != np.arange(len(positions))).any():
        response.positions = positions.astype(np.int64)  # a masked token inside the completion keeps its place
    for name, column in {**FLOATS, **FLAGS}.items():
        values = record.get(name)
        if values is None:
            continue
        array = (fields.bool_array if name in FLAGS else fields.float_array)(values, name)
        if array is None:
            continue
        if len(array) != len(ids):
            fields.add(name, f"has {len(array)} values but token_ids has {len(ids)}")
            continue
        picked = array[first:][completion[first:]]
        if not np.isnan(picked).all():
            response.floats[column] = picked
    if fields.failed:
        return None
    return step, response

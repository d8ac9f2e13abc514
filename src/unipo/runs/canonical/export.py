"""export_canonical: a run directory -> one canonical JSON or JSONL file (written atomically)."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa

from unipo.errors import UnipoError
from unipo.runs.atomic import write_atomically
from unipo.runs.canonical.fields import (
    CANONICAL_FORMAT, COLUMN_TO_TOKEN_FIELD, NON_TERM_COLUMNS, TOKEN_ID_FIELD, TOKEN_POSITION_FIELD,
    TOKEN_TERMS_FIELD, TOKEN_TEXT_FIELD,
)
from unipo.runs.reader import RunReader
from unipo.runs.metrics_log import read_rows
from unipo.runs.schema import METRICS_JSONL, REWARD_COMPONENT_PREFIX, response_terms_of

FORMATS = ("jsonl", "json")


DIALECTS = ("unipo", "reference")


def export_canonical(run_path: str | os.PathLike, out_file: str | os.PathLike, fmt: str = "jsonl",
                     dialect: str = "unipo") -> Path:
    """dialect "unipo": docs/canonical-format.md; "reference": the reference UNIPO app's format
    (poloclub/unipo docs/canonical_schema.json; JSONL lines typed "header" / "step")."""
    if fmt not in FORMATS:
        raise UnipoError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if dialect not in DIALECTS:
        raise UnipoError(f"dialect: expected one of {', '.join(DIALECTS)}, got {dialect!r}")
    reader = RunReader(run_path)
    out_file = Path(out_file)
    if dialect == "reference":
        from unipo.runs.canonical.reference_export import reference_entries, reference_header
        header = reference_header(reader.header, len(reader.steps()))
        entries = lambda: reference_entries(reader)  # noqa: E731
        header_line = {"type": "header", **header}
        step_line = lambda entry: {"type": "step", **entry}  # noqa: E731
    else:
        header = canonical_header(reader.header)
        entries = lambda: canonical_entries(reader)  # noqa: E731
        header_line = {"header": header}
        step_line = lambda entry: entry  # noqa: E731

    def write(tmp_path: Path) -> None:
        with open(tmp_path, "w", encoding="utf-8") as out:
            if fmt == "jsonl":
                out.write(_dumps(header_line) + "\n")
                for entry in entries():
                    out.write(_dumps(step_line(entry)) + "\n")
            else:
                # Streamed so that a large run never has to be held as one object.
                out.write('{"header": ' + _dumps(header) + ',\n"entries": [')
                for i, entry in enumerate(entries()):
                    out.write(("\n" if i == 0 else ",\n") + _dumps(entry))
                out.write("\n]}\n")

    created = _check_out_file(out_file)
    try:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(out_file, write, fsync=False)  # removes its temporary file on failure
    except BaseException as exc:
        for directory in created:  # deepest first; only the ones made for this file, still empty
            try:
                directory.rmdir()
            except OSError:
                break
        if isinstance(exc, OSError):
            raise UnipoError(f"out {out_file}: cannot write there "
                             f"({exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''})") from None
        raise
    return out_file


def _check_out_file(out_file: Path) -> list[Path]:
    """Refuse an out_file that is a directory, lies under a file or in a folder that cannot be
    written, before anything is written. Returns the folders that writing it would create."""
    if out_file.is_dir():
        raise UnipoError(f"out {out_file}: is a directory; expected the path of a file to write")
    missing = []
    parent = Path(os.path.abspath(out_file)).parent
    while not parent.exists() and parent.parent != parent:
        missing.append(parent)
        parent = parent.parent
    if not parent.is_dir():
        raise UnipoError(f"out {out_file}: {parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UnipoError(f"out {out_file}: cannot write there, {parent} is not writable")
    return missing


def canonical_header(run_header: dict[str, Any]) -> dict[str, Any]:
    task = run_header.get("task")
    algorithm = run_header.get("algorithm") or {}
    return {
        "format": CANONICAL_FORMAT,
        "name": run_header.get("name"),
        "task": task,
        "dataset": run_header.get("dataset", (task or {}).get("params") if isinstance(task, dict) else None),
        "reward_strategy": run_header.get("reward_strategy", (task or {}).get("reward") if isinstance(task, dict) else None),
        "algorithm": {"name": algorithm.get("name"), "hyperparameters": algorithm.get("hparams", algorithm.get("hyperparameters"))}
        if isinstance(algorithm, dict) else algorithm,
        "model": run_header.get("model"),
        "hyperparameters": run_header.get("config"),
        "seed": run_header.get("seed"),
        # The full run.json, so that export -> import restores the header exactly.
        "unipo_header": run_header,
    }


def canonical_entries(reader: RunReader) -> Iterator[dict[str, Any]]:
    # Lines as written (a metric absent from a line stays absent; an explicit null stays null).
    metrics_by_step = {row["step"]: {k: v for k, v in row.items() if k != "step"}
                       for row in read_rows(reader.path / METRICS_JSONL)}
    for step in reader.steps():
        yield canonical_entry(step, reader.responses(step), reader.step(step), metrics_by_step.get(step, {}))


def canonical_entry(step: int, responses: pa.Table, tokens: pa.Table, metrics: dict[str, Any]) -> dict[str, Any]:
    per_response = responses.to_pydict()
    response_terms = response_terms_of(responses.schema)
    tokens_of = _tokens_by_response(tokens.drop_columns([c for c in response_terms if c in tokens.column_names]))
    first = 0 if per_response["response"] else None
    entry: dict[str, Any] = {
        "step": step,
        **{key: (per_response[key][first] if first is not None else 0) for key in ("rollout", "epoch", "minibatch")},
        "metrics": metrics,
        "prompts": [],
    }
    prompts: dict[int, dict[str, Any]] = {}
    components = [c for c in per_response if c.startswith(REWARD_COMPONENT_PREFIX)]
    for i, response in enumerate(per_response["response"]):
        prompt_index = per_response["prompt"][i]
        if prompt_index not in prompts:
            prompts[prompt_index] = {"index": prompt_index, "group": per_response["group"][i],
                                     "text": per_response["prompt_text"][i], "responses": []}
            entry["prompts"].append(prompts[prompt_index])
        prompts[prompt_index]["responses"].append({
            "index": response,
            "text": per_response["response_text"][i],
            "reward": _number(per_response["reward"][i]),
            "reward_components": {c[len(REWARD_COMPONENT_PREFIX):]: _number(per_response[c][i]) for c in components},
            "truncated": per_response["truncated"][i],
            "length": per_response["response_length"][i],
            **({TOKEN_TERMS_FIELD: {c: _number(per_response[c][i]) for c in response_terms}} if response_terms else {}),
            "tokens": tokens_of.get(response, []),
        })
    return entry


def _tokens_by_response(tokens: pa.Table) -> dict[int, list[dict[str, Any]]]:
    columns = tokens.to_pydict()
    float_columns = [c for c in tokens.column_names if c not in NON_TERM_COLUMNS
                     and not c.startswith(REWARD_COMPONENT_PREFIX)]
    named = [(COLUMN_TO_TOKEN_FIELD[c], c) for c in float_columns if c in COLUMN_TO_TOKEN_FIELD]
    extra = [c for c in float_columns if c not in COLUMN_TO_TOKEN_FIELD]
    result: dict[int, list[dict[str, Any]]] = {}
    for row, response in enumerate(columns["response"]):
        token = {TOKEN_POSITION_FIELD: columns["position"][row], TOKEN_ID_FIELD: columns["token_id"][row],
                 TOKEN_TEXT_FIELD: columns["token"][row]}
        for field, column in named:
            token[field] = _number(columns[column][row])
        if extra:
            token[TOKEN_TERMS_FIELD] = {column: _number(columns[column][row]) for column in extra}
        result.setdefault(response, []).append(token)
    return result


def _number(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else value


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))

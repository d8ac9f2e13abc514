"""UNIPO's own canonical log (`unipo-canonical/1`, docs/canonical-format.md), JSON and JSONL."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np

from unipo.importers.parts import Header, Response, Step
from unipo.importers.problems import kind
from unipo.importers.registry import importer
from unipo.importers.source import Context, first_line, json_document, jsonl
from unipo.importers.source import head as first_bytes
from unipo.runs.canonical.fields import CANONICAL_FORMAT, HEADER_KEYS, TOKEN_FLOAT_FIELDS
from unipo.runs.canonical.validate import Entry, check_entry, check_header

JSONL_SUFFIXES = (".jsonl", ".ndjson")


def _detect(path: Path) -> float:
    if not path.is_file():
        return 0.0
    head = first_line(path)
    if CANONICAL_FORMAT.encode() in head[:4096] or CANONICAL_FORMAT.encode() in first_bytes(path):
        return 1.0
    if path.suffix.lower() in JSONL_SUFFIXES:
        # Any other .jsonl that no format claims is read as this one, so its problems are reported.
        return 0.6 if head.lstrip().startswith(b'{"header"') else 0.1
    if path.suffix.lower() == ".json":
        return 0.3  # a JSON log without a format marker: the reference format scores higher when it fits
    return 0.0


@importer("unipo", summary="UNIPO canonical log (unipo-canonical/1), JSON or JSONL; what `unipo export` writes",
          detect=_detect, source="docs/canonical-format.md",
          maps={"header": "run.json (unipo_header restores an exported run's header exactly)",
                "entries[].prompts[].responses[].tokens[]": "token rows"},
          cannot_provide=())
def read_unipo(source: Path, context: Context) -> Iterator[Header | Step]:
    return read_entries(source, context, jsonl_form=source.suffix.lower() in JSONL_SUFFIXES)


def read_entries(source: Path, context: Context, jsonl_form: bool) -> Iterator[Header | Step]:
    problems = context.problems
    parts = _jsonl_parts(source, context) if jsonl_form else _json_parts(source, context)
    for role, where, value in parts:
        if role == "header":
            header = check_header(value, where, problems)
            if header is not None:
                yield _header(header, source)
            continue
        entry = check_entry(value, where, problems)
        if entry is not None:
            yield _step(entry, where)


def _jsonl_parts(source: Path, context: Context) -> Iterator[tuple[str, str, Any]]:
    header_seen = False
    for where, value in jsonl(context, source):
        if not header_seen:
            header_seen = True
            if isinstance(value, dict) and set(value) == {"header"}:
                yield "header", f"{where}: header", value["header"]
                continue
            context.problems.add(where, 'missing header: the first line must be {"header": {...}}')
            yield "header", where, {}
        yield "entry", f"{where}: entries", value
    if not header_seen:
        context.problems.add("line 1", "empty file: expected a header line then one line per step")


def _json_parts(source: Path, context: Context) -> Iterator[tuple[str, str, Any]]:
    document = json_document(context, source)
    if document is None:
        return
    if not isinstance(document, dict):
        context.problems.add("document", f'expected an object {{"header": ..., "entries": [...]}}, got {kind(document)}')
        return
    for key in document:
        if key not in ("header", "entries"):
            context.problems.add(key, "unknown field (known: entries, header)")
    if "header" not in document:
        context.problems.add("header", "missing")
    yield "header", "header", document.get("header", {})
    entries = document.get("entries")
    if not isinstance(entries, list):
        context.problems.add("entries", f"expected an array, got {kind(entries)}" if "entries" in document else "missing")
        return
    for i, entry in enumerate(entries):
        yield "entry", f"entries[{i}]", entry


def _header(header: dict[str, Any], source: Path) -> Header:
    original = header.get("unipo_header")
    if isinstance(original, dict):
        # Exported by UNIPO: restore its run.json (status and format are set by the writer).
        fields = {k: v for k, v in original.items() if k not in ("format", "status", "updated")}
        fields["_exact"] = True
        return Header(fields, algorithm=fields.get("algorithm"))
    fields = {key: header[key] for key in HEADER_KEYS if header.get(key) is not None and key != "algorithm"}
    if "hyperparameters" in fields:
        fields["config"] = fields.pop("hyperparameters")
    fields.setdefault("name", source.stem)
    unknown = {k: v for k, v in header.items() if k not in HEADER_KEYS and k != "format"}
    fields["imported_from"] = {"file": source.name, "format": header.get("format", CANONICAL_FORMAT),
                               "importer": "unipo", **({"header": unknown} if unknown else {})}
    return Header(fields, algorithm=header.get("algorithm"))


def _step(entry: Entry, where: str) -> Step:
    responses = entry.responses
    if responses and all(r.index is not None for r in responses):
        responses = sorted(responses, key=lambda r: r.index)
    out = []
    for r in responses:
        ordered = sorted(r.tokens, key=lambda token: token.position)
        floats: dict[str, np.ndarray] = {}
        for k, token in enumerate(ordered):
            for name, value in token.floats.items():
                column = TOKEN_FLOAT_FIELDS.get(name, name)
                floats.setdefault(column, np.full(len(ordered), np.nan))[k] = np.nan if value is None else value
        texts = [token.text for token in ordered]
        out.append(Response(
            where=where, prompt_text=r.prompt_text, response_text=r.text,
            reward=np.nan if r.reward is None else r.reward, group=("group", r.prompt, r.group), prompt_index=r.prompt, group_id=r.group,
            token_ids=np.array([token.id for token in ordered], dtype=np.int64),
            tokens=texts if any(text is not None for text in texts) else None,
            positions=np.array([token.position for token in ordered], dtype=np.int64),
            floats=floats, components={k: np.nan if v is None else v for k, v in r.components.items()},
            response_terms={k: np.nan if v is None else v for k, v in r.terms.items()},
            truncated=r.truncated, length=r.length))
    return Step(entry.step, where, out, entry.metrics, entry.rollout, entry.epoch, entry.minibatch, step_at=f"{where}.step")


def _never(path: Path) -> float:
    return 0.0  # chosen by --format only


@importer("unipo-json", summary="UNIPO canonical log, the JSON container whatever the file's extension",
          detect=_never, source="docs/canonical-format.md")
def read_unipo_json(source: Path, context: Context) -> Iterator[Header | Step]:
    return read_entries(source, context, jsonl_form=False)


@importer("unipo-jsonl", summary="UNIPO canonical log, the JSONL container whatever the file's extension",
          detect=_never, source="docs/canonical-format.md")
def read_unipo_jsonl(source: Path, context: Context) -> Iterator[Header | Step]:
    return read_entries(source, context, jsonl_form=True)

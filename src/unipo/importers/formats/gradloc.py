"""GradLoc dumps (Tencent-Hunyuan/GradLoc, patches/gradloc.patch on verl's actor): on a gradient-norm
spike, `spike_inputs_gs<step>_rank<r>_batch<b>_mb<m>.json` (input_ids [B, P+R], advantages and
response_mask [B, R] of the culprit micro-batch) and `bisect_tokens_gs<step>_rank<r>.json`
(`hit_tokens`: mb_idx, b, s, grad_norm, input_id of each located token). Each spike step becomes a
step whose responses are the micro-batch's rows; located tokens carry their gradient norm in the
`gradloc_grad_norm` column (null elsewhere)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np

from unipo.importers.parts import Header, Response, Step
from unipo.importers.problems import kind
from unipo.importers.registry import importer
from unipo.importers.source import Context, json_document
from unipo.importers.values import INT32_MAX, Fields

SPIKE = re.compile(r"^spike_inputs_gs(\d{1,10})_rank(\d{1,6})_batch(\d{1,6})_mb(\d{1,6})\.json$")
HITS = re.compile(r"^bisect_tokens_gs(\d{1,10})_rank(\d{1,6})\.json$")
MARK = "gradloc_grad_norm"


def _scan(path: Path):
    spikes: dict[int, list[tuple[int, int, int, Path]]] = {}
    hits: dict[int, list[tuple[int, Path]]] = {}
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    for file in files:
        if m := SPIKE.match(file.name):
            spikes.setdefault(int(m.group(1)), []).append((int(m.group(2)), int(m.group(3)), int(m.group(4)), file))
        elif m := HITS.match(file.name):
            hits.setdefault(int(m.group(1)), []).append((int(m.group(2)), file))
    return spikes, hits


def _detect(path: Path) -> float:
    if not path.exists():
        return 0.0
    spikes, hits = _scan(path)
    return 1.0 if spikes else (0.5 if hits else 0.0)


@importer("gradloc", summary="GradLoc spike dumps (spike_inputs_gs*.json + bisect_tokens_gs*.json): located culprit tokens",
          detect=_detect, source="Tencent-Hunyuan/GradLoc patches/gradloc.patch (bisect dump on verl's dp_actor)",
          maps={"spike_inputs.input_ids (response part) where response_mask": "completion tokens",
                "spike_inputs.advantages": "advantage",
                "bisect_tokens.hit_tokens (mb_idx, b, s, grad_norm)": f"{MARK} at the located token"},
          cannot_provide=("text (needs --tokenizer)", "reward", "logprob", "old_logprob", "ref_logprob", "entropy"))
def read_gradloc(source: Path, context: Context) -> Iterator[Header | Step]:
    spikes, hits = _scan(source)
    yield Header({"name": source.stem if source.is_file() else source.resolve().name})
    for step in sorted(set(spikes) | set(hits)):
        out = Step(step, f"step {step}")
        rows_of: dict[tuple[int, int], list[int]] = {}  # (rank, mb) -> response index of each row b
        for rank, _, mb, file in sorted(spikes.get(step, [])):
            rows_of[(rank, mb)] = _spike(file, out, context)
        for rank, file in hits.get(step, []):
            _hits(file, rank, out, rows_of, context)
        if not spikes.get(step):
            context.note(f"step {step}: hit tokens without their spike_inputs file: only counted in metrics")
        yield out


def _spike(file: Path, step: Step, context: Context) -> list[int]:
    where = context.at(file)
    fields = Fields(context.problems, where)
    document = json_document(context, file)
    if document is None:
        return []
    if not isinstance(document, dict):
        fields.add("", f"expected an object, got {kind(document)}")
        return []
    ids = fields.array(document.get("input_ids"), "input_ids")
    masks = fields.array(document.get("response_mask"), "response_mask")
    advantages = document.get("advantages")
    if len(ids) != len(masks):
        fields.add("response_mask", f"has {len(masks)} rows but input_ids has {len(ids)}")
        return []
    rows = []
    for b, (row_ids, row_mask) in enumerate(zip(ids, masks)):
        tokens = fields.int_array(row_ids, f"input_ids[{b}]", lo=0, hi=INT32_MAX)
        mask = fields.float_array(row_mask, f"response_mask[{b}]")
        if tokens is None or mask is None:
            rows.append(-1)
            continue
        width = len(mask)
        if width > len(tokens):
            fields.add(f"response_mask[{b}]", f"has {width} values but input_ids[{b}] only {len(tokens)}")
            rows.append(-1)
            continue
        if not np.isin(mask, (0.0, 1.0)).all():
            bad = int(np.flatnonzero(~np.isin(mask, (0.0, 1.0)))[0])
            fields.add(f"response_mask[{b}][{bad}]", f"expected 0 or 1, got {row_mask[bad]!r}"[:120])
            rows.append(-1)
            continue
        keep = mask > 0
        response = Response(where=f"{where}: input_ids[{b}]", group=("row", file.name, b),
                            token_ids=tokens[len(tokens) - width:][keep],
                            positions=np.flatnonzero(keep).astype(np.int64))
        if isinstance(advantages, list) and b < len(advantages):
            values = fields.float_array(advantages[b], f"advantages[{b}]")
            if values is not None and len(values) == width:
                response.floats["advantage"] = values[keep]
            elif values is not None:
                fields.add(f"advantages[{b}]", f"has {len(values)} values but response_mask[{b}] has {width}")
        rows.append(len(step.responses))
        step.responses.append(response)
    return rows


def _hits(file: Path, rank: int, step: Step, rows_of: dict, context: Context) -> None:
    where = context.at(file)
    fields = Fields(context.problems, where)
    document = json_document(context, file)
    if not isinstance(document, dict):
        if document is not None:
            fields.add("", f"expected an object, got {kind(document)}")
        return
    marks = step.marks.setdefault(MARK, {})
    hits = fields.array(document.get("hit_tokens"), "hit_tokens")
    worst = float("nan")
    for k, hit in enumerate(hits):
        at = f"hit_tokens[{k}]"
        hit = fields.mapping(hit, at)
        mb = fields.integer(hit.get("mb_idx"), f"{at}.mb_idx")
        b = fields.integer(hit.get("b"), f"{at}.b")
        s = fields.integer(hit.get("s"), f"{at}.s")
        norm = fields.number(hit.get("grad_norm"), f"{at}.grad_norm", nullable=False)
        if fields.failed:
            continue
        worst = norm if not worst >= norm else worst
        rows = rows_of.get((rank, mb))
        if rows is None or b >= len(rows) or rows[b] < 0:
            context.note(f"{where}: {at} points at micro-batch {mb} row {b}, not in the dump: counted only")
            continue
        response = step.responses[rows[b]]
        if response.positions is None or s not in set(response.positions.tolist()):
            fields.add(f"{at}.s", f"position {s} is not a response token of row {b}")
            continue
        token = int(response.token_ids[list(response.positions).index(s)])
        if hit.get("input_id") is not None and hit["input_id"] != token:
            fields.add(f"{at}.input_id", f"is {hit['input_id']!r} but the dump has token {token} there")
            continue
        marks[(rows[b], s)] = norm
    step.metrics["gradloc_hit_tokens"] = step.metrics.get("gradloc_hit_tokens", 0) + len(hits)
    if worst == worst:
        step.metrics["gradloc_max_grad_norm"] = worst

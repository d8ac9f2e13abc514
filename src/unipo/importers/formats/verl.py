"""verl rollout / validation dumps (volcengine/verl, verl/trainer/ppo/ray_trainer.py `_dump_generations`,
written under trainer.rollout_data_dir / validation_data_dir): one `{global_steps}.jsonl` per step,
one line per sample with input, output, gts, score, step, every reward_extra_info key, and uid /
request_id when present. Text only: a response-level run (tokenised with --tokenizer)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from unipo.importers.parts import Header, Response, Step
from unipo.importers.problems import kind
from unipo.importers.registry import importer
from unipo.importers.source import Context, first_line, jsonl
from unipo.importers.values import Fields
from unipo.runs.schema import is_valid_column_name

STEP_FILE = re.compile(r"^(\d{1,10})\.jsonl$")
BASE = {"input", "output", "gts", "score", "step", "uid", "request_id"}


def _files(path: Path) -> list[tuple[int, Path]]:
    if path.is_file():
        match = STEP_FILE.match(path.name)
        return [(int(match.group(1)), path)] if match else []
    return sorted((int(m.group(1)), f) for f in path.iterdir() if (m := STEP_FILE.match(f.name)) and f.is_file())


def _detect(path: Path) -> float:
    files = _files(path) if path.exists() else []
    if not files:
        return 0.0
    line = first_line(files[0][1], 1 << 20)
    return 0.9 if b'"input"' in line and b'"output"' in line and b'"score"' in line else 0.0


@importer("verl", summary="verl rollout_data_dir / validation_data_dir JSONL (one {step}.jsonl per step), text only",
          detect=_detect, source="volcengine/verl verl/trainer/ppo/ray_trainer.py (_dump_generations)",
          maps={"input": "prompt text", "output": "response text", "score": "reward",
                "numeric reward_extra_info keys": "reward_<key> components", "uid (else identical input)": "group",
                "gts": "not stored (noted in the report)"},
          cannot_provide=("token ids (give --tokenizer DIR)", "logprob", "old_logprob", "ref_logprob", "value",
                          "entropy", "advantage"))
def read_verl(source: Path, context: Context) -> Iterator[Header | Step]:
    yield Header({"name": source.stem if source.is_file() else source.resolve().name})
    for number, file in _files(source):
        step = Step(number, context.at(file))
        for where, row in jsonl(context, file):
            response = _row(row, where, number, context)
            if response is not None:
                step.responses.append(response)
        yield step


def _row(row, where: str, number: int, context: Context) -> Response | None:
    fields = Fields(context.problems, where)
    if not isinstance(row, dict):
        fields.add("", f"expected an object, got {kind(row)}")
        return None
    if "step" in row and fields.integer(row["step"], "step") != number and not fields.failed:
        fields.add("step", f"is {row['step']} in the file of step {number}")
    response = Response(where=where, prompt_text=fields.text(row.get("input", ""), "input"),
                        response_text=fields.text(row.get("output", ""), "output"),
                        reward=fields.number(row.get("score"), "score"))
    uid = row.get("uid")
    response.group = ("uid", uid) if isinstance(uid, (str, int)) and not isinstance(uid, bool) else ("input", response.prompt_text)
    if row.get("gts") is not None:
        context.note("gts (ground truths) are not stored")
    for key, value in row.items():
        if key in BASE:
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool) and is_valid_column_name(f"reward_{key}"):
            response.components[key] = fields.number(value, key)
        else:
            context.note(f"reward extra {key!r} is not a number: not stored")
    return None if fields.failed else response

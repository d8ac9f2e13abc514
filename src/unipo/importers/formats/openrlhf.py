"""OpenRLHF RL Logging Board JSONL (HarderThenHarder/RLLoggingBoard, the logging of OpenRLHF PR #658):
one row per sample with prompt, response, response_tokens, logprobs, ref_logprobs, values,
token_rewards, reward, step (optional ref_response, ref_reward)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from unipo.importers.parts import Header, Response, Step
from unipo.importers.problems import kind
from unipo.importers.registry import importer
from unipo.importers.source import Context, files_under, first_line, jsonl
from unipo.importers.values import Fields

FLOATS = {"logprobs": "logprob", "ref_logprobs": "ref_logprob", "values": "value", "token_rewards": "token_reward"}
KNOWN = {"prompt", "response", "response_tokens", "reward", "step", "ref_response", "ref_reward", *FLOATS}


def _is_board(file: Path) -> bool:
    line = first_line(file, 1 << 20)
    return b'"response_tokens"' in line and b'"step"' in line


def _detect(path: Path) -> float:
    if path.is_file():
        return 0.9 if _is_board(path) else 0.0
    files = files_under(path, "*.jsonl")
    return 0.8 if files and all(_is_board(f) for f in files[:3]) else 0.0


@importer("openrlhf", summary="OpenRLHF RL Logging Board JSONL (one row per sample)", detect=_detect,
          source="HarderThenHarder/RLLoggingBoard (OpenRLHF PR #658): rollout rows",
          maps={"response_tokens": "token text (ids when integers, or via --tokenizer)", "logprobs": "logprob",
                "ref_logprobs": "ref_logprob", "values": "value", "token_rewards": "token_reward",
                "reward": "reward", "ref_reward": "reward_ref (a reward component)", "identical prompts": "one group"},
          cannot_provide=("old_logprob (ratio = 1)", "entropy", "advantage (recomputed from rewards where possible)"))
def read_openrlhf(source: Path, context: Context) -> Iterator[Header | Step]:
    yield Header({"name": source.stem if source.is_file() else source.resolve().name})
    files = [source] if source.is_file() else files_under(source, "*.jsonl")
    current: Step | None = None
    done: dict[int, str] = {}
    for file in files:
        for where, row in jsonl(context, file):
            parsed = _row(row, where, context)
            if parsed is None:
                continue
            step, response = parsed
            if current is not None and step != current.step:
                done[current.step] = current.where
                yield current
                current = None
            if current is None:
                if step in done:
                    context.problems.add(f"{where}: step", f"step {step} continues here after other steps "
                                         f"(started at {done[step]}); rows of one step must be together")
                    continue
                current = Step(step, where)
            current.responses.append(response)
    if current is not None:
        yield current


def _row(row, where: str, context: Context):
    fields = Fields(context.problems, where)
    if not isinstance(row, dict):
        fields.add("", f"expected an object, got {kind(row)}")
        return None
    for key in row:
        if key not in KNOWN:
            context.note(f"field {key!r} ignored (first at {where})")
    step = fields.integer(row.get("step"), "step")
    tokens = fields.array(row.get("response_tokens"), "response_tokens")
    response = Response(where=where, prompt_text=fields.text(row.get("prompt", ""), "prompt", nullable=True),
                        response_text=fields.text(row.get("response", ""), "response", nullable=True),
                        reward=fields.number(row.get("reward"), "reward"))
    response.group = ("prompt", response.prompt_text)
    if row.get("ref_reward") is not None:
        response.components["ref"] = fields.number(row["ref_reward"], "ref_reward")
    types = set(map(type, tokens))
    if tokens and types <= {int}:
        response.token_ids = fields.int_array(tokens, "response_tokens")
    elif types <= {str}:
        response.tokens = list(tokens)
        tokenizer = context.tokenizer
        if tokenizer is not None:
            response.token_ids = np.asarray(tokenizer.convert_tokens_to_ids(list(tokens)), dtype=np.int64)
        else:
            response.token_ids = np.full(len(tokens), -1, dtype=np.int64)
            context.note("response_tokens are strings: token ids stored as -1 (unknown); give --tokenizer DIR to map them")
    else:
        bad = next((i for i, t in enumerate(tokens) if type(t) not in (int, str)), None)
        if bad is None:
            fields.add("response_tokens", "mixes token ids and token strings")
        else:
            fields.add(f"response_tokens[{bad}]", f"expected a token string or id, got {kind(tokens[bad])}")
        return None
    count = len(tokens)
    for name, column in FLOATS.items():
        if row.get(name) is None:
            continue
        array = fields.float_array(row[name], name)
        if array is None:
            continue
        if len(array) != count:
            fields.add(name, f"has {len(array)} values but response_tokens has {count}")
            continue
        response.floats[column] = array
    if fields.failed or response.token_ids is None:
        return None
    return step, response

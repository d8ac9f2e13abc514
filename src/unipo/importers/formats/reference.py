"""The reference UNIPO canonical format (poloclub/unipo: docs/canonical_schema.json, read by
scripts/build_data.py), JSON `{header, entries, blueprint?}` and JSONL `{"type": "header", ...}` then
`{"type": "step", ...}` lines, verbatim: metrics-only entries, `prob`, a string algorithm and free-form
hparams included."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np

from unipo.importers.parts import Header, Response, Step
from unipo.importers.problems import kind
from unipo.importers.registry import importer
from unipo.importers.schema_fields import metrics_of
from unipo.importers.source import Context, first_line, head, json_document, jsonl
from unipo.importers.values import Fields
from unipo.runs.schema import RESERVED_COLUMNS, is_valid_column_name

# tokens.<field> -> stored column
TOKEN_COLUMNS = {"log_probs": "logprob", "old_log_probs": "old_logprob", "ref_log_probs": "ref_logprob",
                 "values": "value", "advantages": "advantage", "returns": "return", "token_kl": "kl",
                 "rewards": "token_reward", "token_objective": "token_objective", "entropy": "entropy", "prob": "prob"}
HEADER_FIELDS = {"task": "task", "dataset": "dataset", "reward_strategy": "reward_strategy",
                 "model_name": "model", "reference_model_name": "reference_model"}
ENTRY_KEYS = {"type", "step", "is_first_step_after_rollout_phase", "metrics", "prompts", "batch"}
HEADER_KNOWN = {"unipo_header"}
RESPONSE_KEYS = {"id", "reward", "advantage", "response_text", "response_length", "tokens"}


def _detect(path: Path) -> float:
    if not path.is_file():
        return 0.0
    line = first_line(path).lstrip()
    if line.startswith(b"{") and b'"type"' in line and b'"header"' in line:
        return 1.0
    if path.suffix.lower() == ".json":
        start = head(path)
        markers = (b'"model_name"', b'"hparams"', b'"totalSteps"', b'"is_first_step_after_rollout_phase"')
        if b'"header"' in start and any(m in start for m in markers):
            return 0.9
    return 0.0


@importer("reference", summary="reference UNIPO canonical log (poloclub/unipo), JSON or JSONL", detect=_detect,
          source="poloclub/unipo docs/canonical_schema.json, scripts/build_data.py",
          maps={"header.model_name / reference_model_name": "model / reference_model",
                "header.algorithm + hparams": "algorithm (a UNIPO preset) and config",
                "header (every key)": "imported_from.header",
                "entries[].is_first_step_after_rollout_phase": "rollout / minibatch numbering",
                "prompts[].responses[].tokens.{ids,strings,log_probs,...}": "token rows",
                "tokens.prob": "prob, and logprob = log(prob) when log_probs is absent",
                "responses[].advantage": "response_advantage (per response)"},
          cannot_provide=("entropy (unless tokens.entropy)", "truncated flags"))
def read_reference(source: Path, context: Context) -> Iterator[Header | Step]:
    jsonl_form = _detect(source) == 1.0 or source.suffix.lower() in (".jsonl", ".ndjson")
    state = {"rollout": -1, "minibatch": 0}
    if jsonl_form:
        header_seen = False
        for where, value in jsonl(context, source):
            fields = Fields(context.problems, where)
            if not isinstance(value, dict):
                fields.add("", f"expected an object, got {kind(value)}")
                continue
            kind_of = value.get("type")
            if not header_seen:
                header_seen = True
                if kind_of != "header":
                    fields.add("type", 'the first line must be the header ({"type": "header", ...})')
                yield _header({k: v for k, v in value.items() if k != "type"}, source, fields)
                if kind_of == "header":
                    continue
            if kind_of != "step":
                fields.add("type", f'expected "step", got {kind_of!r}' if kind_of is not None else "missing")
                continue
            step = _entry(value, where, fields, None, state, context)
            if step is not None:
                yield step
        if not header_seen:
            context.problems.add("line 1", "empty file: expected a header line then one line per step")
        return
    document = json_document(context, source)
    if document is None:
        return
    fields = Fields(context.problems, context.at(source))
    if not isinstance(document, dict):
        fields.add("", f"expected an object {{header, entries}}, got {kind(document)}")
        return
    yield _header(fields.mapping(document.get("header"), "header"), source, Fields(context.problems, "header"))
    blueprint = document.get("blueprint")
    blueprint_prompts = blueprint.get("prompts") if isinstance(blueprint, dict) else None
    for key in document:
        if key not in ("header", "entries", "blueprint"):
            context.note(f"top-level field {key!r} ignored")
    for i, entry in enumerate(fields.array(document.get("entries"), "entries")):
        where = f"entries[{i}]"
        step = _entry(entry, where, Fields(context.problems, where), blueprint_prompts, state, context)
        if step is not None:
            yield step


def _header(header: dict[str, Any], source: Path, fields: Fields) -> Header:
    original = header.get("unipo_header")
    if isinstance(original, dict):  # written by `unipo export --format reference`: its run.json, as it was
        restored = {k: v for k, v in original.items() if k not in ("format", "status", "updated")}
        return Header({**restored, "_exact": True}, algorithm=restored.get("algorithm"))
    mapped = {ours: header[theirs] for theirs, ours in HEADER_FIELDS.items() if header.get(theirs) is not None}
    name = header.get("name", header.get("run_id"))
    mapped["name"] = name if isinstance(name, str) and name else source.stem
    hparams = header.get("hparams")
    if hparams is not None and not isinstance(hparams, dict):
        fields.add("hparams", f"expected an object, got {kind(hparams)}")
        hparams = None
    if header.get("totalSteps") is not None:
        mapped["total_steps"] = fields.integer(header["totalSteps"], "totalSteps")
    return Header(mapped, source_header=header, algorithm=header.get("algorithm"), hparams=hparams)


def _entry(value: Any, where: str, fields: Fields, blueprint_prompts, state: dict, context: Context) -> Step | None:
    if not isinstance(value, dict):
        fields.add("", f"expected an object, got {kind(value)}")
        return None
    if "step" not in value:
        fields.add("step", "missing")
        return None
    step = fields.integer(value["step"], "step")
    first = fields.boolean(value.get("is_first_step_after_rollout_phase"), "is_first_step_after_rollout_phase",
                           default=state["rollout"] < 0)
    if first or state["rollout"] < 0:
        state["rollout"] += 1
        state["minibatch"] = 0
    else:
        state["minibatch"] += 1
    metrics = metrics_of(value.get("metrics", {}), "metrics", fields)
    if "is_first_step_after_rollout_phase" in value and isinstance(value["is_first_step_after_rollout_phase"], bool):
        metrics["is_first_step_after_rollout_phase"] = value["is_first_step_after_rollout_phase"]
    for key in value:
        if key not in ENTRY_KEYS:
            context.note(f"entry field {key!r} ignored (first at {where})")
    prompts = value.get("prompts", blueprint_prompts)
    responses: list[Response] = []
    if prompts is not None:
        for p, prompt in enumerate(fields.array(prompts, "prompts")):
            responses.extend(_prompt(prompt, p, f"{where}", f"prompts[{p}]", fields, context))
    if fields.failed:
        return None
    return Step(step, where, responses, metrics, rollout=state["rollout"], minibatch=state["minibatch"])


def _prompt(value: Any, p: int, where: str, path: str, fields: Fields, context: Context) -> list[Response]:
    prompt = fields.mapping(value, path)
    text = fields.text(prompt.get("prompt", prompt.get("text", "")), f"{path}.prompt")
    out = []
    for r, response in enumerate(fields.array(prompt.get("responses", []), f"{path}.responses")):
        parsed = _response(response, f"{path}.responses[{r}]", where, fields, context)
        if parsed is not None:
            parsed.prompt_text, parsed.group = text, ("prompt", p)
            out.append(parsed)
    return out


def _response(value: Any, path: str, where: str, fields: Fields, context: Context) -> Response | None:
    obj = fields.mapping(value, path)
    for key in obj:
        if key not in RESPONSE_KEYS:
            context.note(f"response field {key!r} ignored (first at {where}: {path})")
    if "id" in obj and not isinstance(obj["id"], (str, int)):
        fields.add(f"{path}.id", f"expected a string, got {kind(obj['id'])}")
    if "id" in obj:
        context.note("response ids (responses[].id) are not stored: responses are numbered in file order")
    response = Response(where=f"{where}: {path}",
                        response_text=fields.text(obj.get("response_text", ""), f"{path}.response_text", nullable=True),
                        reward=fields.number(obj.get("reward"), f"{path}.reward"))
    if obj.get("advantage") is not None:
        response.response_terms["response_advantage"] = fields.number(obj["advantage"], f"{path}.advantage")
    if obj.get("response_length") is not None:
        response.length = fields.integer(obj["response_length"], f"{path}.response_length")
    tokens = obj.get("tokens")
    if tokens is None:
        return response
    tokens = fields.mapping(tokens, f"{path}.tokens")
    if "ids" not in tokens:
        fields.add(f"{path}.tokens.ids", "missing")
        return None
    ids = fields.int_array(tokens["ids"], f"{path}.tokens.ids")
    if ids is None:
        return None
    count = len(ids)
    response.token_ids = ids
    if tokens.get("strings") is not None:
        strings = fields.array(tokens["strings"], f"{path}.tokens.strings")
        if len(strings) != count:
            fields.add(f"{path}.tokens.strings", f"has {len(strings)} values but ids has {count}")
        elif not set(map(type, strings)) <= {str, type(None)}:
            bad = next(i for i, s in enumerate(strings) if not (type(s) is str or s is None))
            fields.add(f"{path}.tokens.strings[{bad}]", f"expected a string, got {kind(strings[bad])}")
        else:
            response.tokens = strings
    for name, values in tokens.items():
        if name in ("ids", "strings"):
            continue
        column = TOKEN_COLUMNS.get(name, name)
        if column not in TOKEN_COLUMNS.values() and (not is_valid_column_name(column) or column in RESERVED_COLUMNS):
            fields.add(f"{path}.tokens.{name}", "not usable as a column name (letters, digits and _, not a stored column)")
            continue
        array = fields.float_array(values, f"{path}.tokens.{name}")
        if array is None:
            continue
        if len(array) != count:
            fields.add(f"{path}.tokens.{name}", f"has {len(array)} values but ids has {count}")
            continue
        response.floats[column] = array
    prob = response.floats.get("prob")
    if prob is not None:
        known = prob[~np.isnan(prob)]
        if ((known <= 0) | (known > 1)).any():
            bad = int(np.flatnonzero(~np.isnan(prob) & ((prob <= 0) | (prob > 1)))[0])
            fields.add(f"{path}.tokens.prob[{bad}]", f"a probability must be in (0, 1], got {prob[bad]!r}")
        elif "logprob" not in response.floats:
            response.floats["logprob"] = np.log(prob)
            context.note("tokens.prob: logprob = log(prob) (prob kept as the 'prob' column)")
    return response

"""Checking canonical header and entries, reporting every problem with its field path."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unipo.runs.canonical.fields import (
    CANONICAL_FORMAT, TOKEN_FLOAT_FIELDS, TOKEN_ID_FIELD, TOKEN_POSITION_FIELD, TOKEN_TERMS_FIELD, TOKEN_TEXT_FIELD,
)
from unipo.runs.canonical.problems import Problems, kind, shown
from unipo.importers.values import FLOAT32_MAX, MAX_TEXT_BYTES
from unipo.runs.schema import RESERVED_COLUMNS, is_valid_column_name

INT32_LIMIT = 2**31

TOKEN_KEYS = {TOKEN_ID_FIELD, TOKEN_TEXT_FIELD, TOKEN_POSITION_FIELD, TOKEN_TERMS_FIELD, *TOKEN_FLOAT_FIELDS}
RESPONSE_KEYS = {"index", "text", "reward", "reward_components", "truncated", "length", "terms", "tokens"}
PROMPT_KEYS = {"index", "group", "text", "responses"}
ENTRY_KEYS = {"step", "rollout", "epoch", "minibatch", "metrics", "prompts"}


@dataclass
class Token:
    position: int
    id: int
    text: str | None
    floats: dict[str, float | None]  # canonical field or term column -> value


@dataclass
class Response:
    prompt: int
    group: int
    prompt_text: str
    index: int | None
    text: str
    reward: float | None
    components: dict[str, float | None]
    truncated: bool
    length: int | None
    tokens: list[Token] = field(default_factory=list)
    terms: dict[str, float | None] = field(default_factory=dict)  # per-response terms (group_mean, ...)


@dataclass
class Entry:
    step: int
    rollout: int
    epoch: int
    minibatch: int
    metrics: dict[str, Any]
    responses: list[Response]


def check_header(value: Any, where: str, problems: Problems) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        problems.add(where, f"expected an object, got {kind(value)}")
        return None
    if "format" in value and value["format"] != CANONICAL_FORMAT:
        problems.add(f"{where}.format", f"expected {CANONICAL_FORMAT!r}, got {shown(value['format'])}")
    if "unipo_header" in value and not isinstance(value["unipo_header"], dict):
        problems.add(f"{where}.unipo_header", f"expected an object, got {kind(value['unipo_header'])}")
    return value


class _Checker:
    """Field checks that record a problem and return a usable default, so checking goes on."""

    def __init__(self, problems: Problems):
        self.problems = problems
        self.before = len(problems)

    @property
    def failed(self) -> bool:
        return len(self.problems) > self.before

    def object(self, value, where, known: set[str] | None = None) -> dict:
        if not isinstance(value, dict):
            self.problems.add(where, f"expected an object, got {kind(value)}")
            return {}
        if known is not None:
            for key in value:
                if key not in known:
                    self.problems.add(f"{where}.{key}", f"unknown field (known: {', '.join(sorted(known))})")
        return value

    def array(self, value, where) -> list:
        if not isinstance(value, list):
            self.problems.add(where, f"expected an array, got {kind(value)}")
            return []
        return value

    def integer(self, value, where, *, minimum: int | None = 0) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            self.problems.add(where, f"expected an integer, got {shown(value)}")
            return 0
        if minimum is not None and value < minimum:
            self.problems.add(where, f"expected an integer >= {minimum}, got {shown(value)}")
            return 0
        if not -INT32_LIMIT <= value < INT32_LIMIT:  # stored as int32: a larger value would wrap
            self.problems.add(where, f"expected an integer below 2^31, got {shown(value)}")
            return 0
        return value

    def number(self, value, where) -> float | None:
        if value is None:
            return None
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            self.problems.add(where, f"expected a number, got {shown(value)}")
            return None
        try:
            number = float(value)
        except OverflowError:
            number = float("inf")
        if not abs(number) <= FLOAT32_MAX:  # stored as float32: 1e39 would become inf
            self.problems.add(where, f"{shown(value)} is outside float32's range (would be stored as inf)")
            return None
        return number

    def string(self, value, where, *, nullable: bool = False) -> str | None:
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            self.problems.add(where, f"expected a string, got {shown(value)}")
            return ""
        if len(value) > MAX_TEXT_BYTES // 4 and len(value.encode("utf-8", "replace")) > MAX_TEXT_BYTES:
            self.problems.add(where, f"text of {len(value):,} characters is over the {MAX_TEXT_BYTES >> 20} MiB limit")
            return ""
        return value

    def boolean(self, value, where) -> bool:
        if not isinstance(value, bool):
            self.problems.add(where, f"expected true or false, got {shown(value)}")
            return False
        return value

    def required(self, obj: dict, key: str, where: str) -> Any:
        if key not in obj:
            self.problems.add(f"{where}.{key}", "missing")
        return obj.get(key)


def check_entry(value: Any, where: str, problems: Problems) -> Entry | None:
    """A parsed entry, or None when it has problems (all of them added to `problems`)."""
    check = _Checker(problems)
    obj = check.object(value, where, ENTRY_KEYS)
    if not obj and not isinstance(value, dict):
        return None
    step = check.integer(check.required(obj, "step", where), f"{where}.step")
    counters = [check.integer(obj.get(key, 0), f"{where}.{key}") for key in ("rollout", "epoch", "minibatch")]
    metrics = check.object(obj.get("metrics", {}), f"{where}.metrics")
    for name, metric in metrics.items():
        if not (metric is None or isinstance(metric, (int, float, str, bool))):
            problems.add(f"{where}.metrics.{name}", f"expected a number, string, boolean or null, got {kind(metric)}")
    responses: list[Response] = []
    for p, prompt_value in enumerate(check.array(check.required(obj, "prompts", where), f"{where}.prompts")):
        responses.extend(_check_prompt(prompt_value, p, f"{where}.prompts[{p}]", check))
    _check_response_indices(responses, where, check)
    if check.failed:
        return None
    return Entry(step, *counters, metrics=metrics, responses=responses)


def _check_prompt(value, position: int, where: str, check: _Checker) -> list[Response]:
    prompt = check.object(value, where, PROMPT_KEYS)
    index = check.integer(prompt.get("index", position), f"{where}.index")
    group = check.integer(prompt.get("group", index), f"{where}.group", minimum=None)
    text = check.string(prompt.get("text", ""), f"{where}.text")
    responses = []
    for r, response_value in enumerate(check.array(check.required(prompt, "responses", where), f"{where}.responses")):
        responses.append(_check_response(response_value, f"{where}.responses[{r}]", check, index, group, text))
    return responses


def _check_response(value, where: str, check: _Checker, prompt: int, group: int, prompt_text: str) -> Response:
    obj = check.object(value, where, RESPONSE_KEYS)
    components = {}
    for name, component in check.object(obj.get("reward_components", {}), f"{where}.reward_components").items():
        if not is_valid_column_name(f"reward_{name}"):
            check.problems.add(f"{where}.reward_components.{name}", "name must be letters, digits and _")
        components[name] = check.number(component, f"{where}.reward_components.{name}")
    response = Response(
        prompt=prompt, group=group, prompt_text=prompt_text,
        index=check.integer(obj["index"], f"{where}.index") if "index" in obj else None,
        text=check.string(obj.get("text", ""), f"{where}.text"),
        reward=check.number(check.required(obj, "reward", where), f"{where}.reward"),
        components=components,
        truncated=check.boolean(obj.get("truncated", False), f"{where}.truncated"),
        length=check.integer(obj["length"], f"{where}.length") if obj.get("length") is not None else None,
    )
    for name, term in check.object(obj.get(TOKEN_TERMS_FIELD, {}), f"{where}.{TOKEN_TERMS_FIELD}").items():
        if not _usable_term_name(name):
            check.problems.add(f"{where}.{TOKEN_TERMS_FIELD}.{name}", "not usable as a term name "
                               "(letters, digits and _, not a stored column or canonical field)")
            continue
        response.terms[name] = check.number(term, f"{where}.{TOKEN_TERMS_FIELD}.{name}")
    tokens = _token_rows(check.required(obj, "tokens", where), f"{where}.tokens", check)
    positions: set[int] = set()
    for k, token_value in enumerate(tokens):
        token = _check_token(token_value, k, f"{where}.tokens[{k}]", check)
        if token.position in positions:
            check.problems.add(f"{where}.tokens[{k}].position", f"position {token.position} appears twice")
        positions.add(token.position)
        response.tokens.append(token)
    return response


def _token_rows(value, where: str, check: _Checker) -> list:
    """Tokens as a list of objects; the columnar form {field: [values]} is accepted and turned into rows."""
    if isinstance(value, list) or not isinstance(value, dict):
        return check.array(value, where)
    lengths = {}
    for name, column in value.items():
        if not isinstance(column, list):
            check.problems.add(f"{where}.{name}", f"expected an array (columnar tokens), got {kind(column)}")
        else:
            lengths[name] = len(column)
    if not lengths:
        return []
    reference = TOKEN_ID_FIELD if TOKEN_ID_FIELD in lengths else next(iter(lengths))
    for name, length in lengths.items():
        if length != lengths[reference]:
            # The sibling by its name only: the location is already at the start of the line.
            check.problems.add(f"{where}.{name}", f"has {length} values but {reference} has {lengths[reference]}")
    count = min(lengths.values())
    return [{name: value[name][k] for name in lengths} for k in range(count)]


def _check_token(value, k: int, where: str, check: _Checker) -> Token:
    obj = check.object(value, where, TOKEN_KEYS)
    floats = {name: check.number(obj.get(name), f"{where}.{name}") for name in TOKEN_FLOAT_FIELDS if name in obj}
    for name, term in check.object(obj.get(TOKEN_TERMS_FIELD, {}), f"{where}.{TOKEN_TERMS_FIELD}").items():
        if not _usable_term_name(name):
            check.problems.add(f"{where}.{TOKEN_TERMS_FIELD}.{name}", "not usable as a term name "
                               "(letters, digits and _, not a stored column or canonical field)")
            continue
        floats[name] = check.number(term, f"{where}.{TOKEN_TERMS_FIELD}.{name}")
    return Token(
        position=check.integer(obj.get(TOKEN_POSITION_FIELD, k), f"{where}.{TOKEN_POSITION_FIELD}"),
        id=check.integer(check.required(obj, TOKEN_ID_FIELD, where), f"{where}.{TOKEN_ID_FIELD}", minimum=None),
        text=check.string(obj.get(TOKEN_TEXT_FIELD), f"{where}.{TOKEN_TEXT_FIELD}", nullable=True),
        floats=floats,
    )


def _usable_term_name(name: str) -> bool:
    return (is_valid_column_name(name) and name not in RESERVED_COLUMNS and name not in TOKEN_FLOAT_FIELDS
            and name not in TOKEN_FLOAT_FIELDS.values())


def _check_response_indices(responses: list[Response], where: str, check: _Checker) -> None:
    given = [r.index for r in responses if r.index is not None]
    if not given:
        return
    if len(given) != len(responses) or sorted(given) != list(range(len(responses))):
        check.problems.add(f"{where}.prompts", "response 'index' values must be given for all responses "
                           f"and be 0..{len(responses) - 1} without repeats")

"""A run directory -> the reference UNIPO canonical format (poloclub/unipo docs/canonical_schema.json),
so that the reference app (scripts/build_data.py) opens UNIPO's runs. The header also carries the
run's own run.json as `unipo_header` (the reference ignores it; `unipo import` restores it)."""
from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np
import pyarrow as pa

from unipo.runs.metrics_log import read_rows
from unipo.runs.reader import RunReader
from unipo.runs.schema import METRICS_JSONL

# stored column -> tokens.<field> of the reference schema
TOKEN_FIELDS = {"logprob": "log_probs", "old_logprob": "old_log_probs", "ref_logprob": "ref_log_probs",
                "value": "values", "advantage": "advantages", "return": "returns", "kl": "token_kl",
                "token_reward": "rewards", "token_objective": "token_objective", "entropy": "entropy", "prob": "prob"}


def reference_header(run_header: dict[str, Any], total_steps: int) -> dict[str, Any]:
    algorithm = run_header.get("algorithm")
    name = algorithm.get("name") if isinstance(algorithm, dict) else algorithm
    hparams = dict(run_header.get("config") or {}) if isinstance(run_header.get("config"), dict) else {}
    if isinstance(algorithm, dict) and isinstance(algorithm.get("hparams"), dict):
        hparams.update(algorithm["hparams"])
    task = run_header.get("task")
    model = run_header.get("model")
    header = {
        "task": task.get("name") if isinstance(task, dict) else task,
        "dataset": run_header.get("dataset", task.get("params") if isinstance(task, dict) else None),
        "reward_strategy": run_header.get("reward_strategy", task.get("reward") if isinstance(task, dict) else None),
        "algorithm": name if isinstance(name, str) else "unknown",
        "totalSteps": total_steps,
        "model_name": model.get("name") if isinstance(model, dict) else model,
        "reference_model_name": run_header.get("reference_model", model.get("name") if isinstance(model, dict) else model),
        "hparams": hparams,
        "unipo_header": run_header,
    }
    return {key: value for key, value in header.items() if value is not None}


def reference_entries(reader: RunReader) -> Iterator[dict[str, Any]]:
    metrics_by_step = {row["step"]: {k: v for k, v in row.items() if k != "step"}
                       for row in read_rows(reader.path / METRICS_JSONL)}
    stored = set(reader.steps())
    for step in sorted(stored | set(metrics_by_step)):
        metrics = {k: v for k, v in metrics_by_step.get(step, {}).items() if k not in ("rollout", "epoch", "minibatch")}
        entry: dict[str, Any] = {"step": step, "metrics": metrics}
        schedule = metrics_by_step.get(step, {})
        if step in stored:
            responses = reader.responses(step)
            first = responses.slice(0, 1).to_pylist()[0] if responses.num_rows else {}
            schedule = {**schedule, **{k: first.get(k) for k in ("epoch", "minibatch") if k in first}}
            entry["prompts"] = _prompts(step, responses, reader.step(step))
        if schedule.get("epoch") is not None or schedule.get("minibatch") is not None:
            entry["is_first_step_after_rollout_phase"] = not schedule.get("epoch") and not schedule.get("minibatch")
        yield entry


def _prompts(step: int, responses: pa.Table, tokens: pa.Table) -> list[dict[str, Any]]:
    per = responses.to_pydict()
    token_columns = tokens.to_pydict()
    by_response: dict[int, list[int]] = {}
    for row, response in enumerate(token_columns.get("response", [])):
        by_response.setdefault(response, []).append(row)
    present = [(column, field) for column, field in TOKEN_FIELDS.items() if column in token_columns
               and any(v is not None for v in token_columns[column])]
    prompts: dict[int, dict[str, Any]] = {}
    order: list[dict[str, Any]] = []
    for i, response in enumerate(per["response"]):
        p = per["prompt"][i]
        if p not in prompts:
            prompts[p] = {"prompt": per["prompt_text"][i], "responses": []}
            order.append(prompts[p])
        rows = sorted(by_response.get(response, []), key=lambda r: token_columns["position"][r])
        out_tokens = {"ids": [token_columns["token_id"][r] for r in rows],
                      "strings": [token_columns["token"][r] or "" for r in rows]}
        for column, field in present:
            out_tokens[field] = [_number(token_columns[column][r]) for r in rows]
        item = {"id": f"step{step}_p{p}_sample{len(prompts[p]['responses'])}", "reward": _number(per["reward"][i]),
                "response_text": per["response_text"][i], "response_length": per["response_length"][i],
                "tokens": out_tokens}
        advantage = _response_advantage(per, i, out_tokens.get("advantages"))
        if advantage is not None:
            item["advantage"] = advantage
        prompts[p]["responses"].append(item)
    return order


def _response_advantage(per: dict, i: int, token_advantages) -> float | None:
    """The response's own advantage when stored, or the one value all its tokens share (GRPO-like)."""
    if "response_advantage" in per and _number(per["response_advantage"][i]) is not None:
        return _number(per["response_advantage"][i])
    values = [v for v in (token_advantages or []) if v is not None]
    if values and len(set(values)) == 1:
        return values[0]
    return None


def _number(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else value

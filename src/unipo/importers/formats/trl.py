"""TRL GRPOTrainer `log_completions=True` tables (huggingface/trl, trl/trainer/grpo_trainer.py `log`):
`<output_dir>/completions/completions_{global_step:05d}.parquet`, one row per completion with step,
prompt, completion, one column per reward function, extras, advantage. Text only: a response-level
run (tokenised with --tokenizer). Conversational prompts/completions (lists of messages) become
"role: content" lines."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from unipo.importers.parts import Header, Response, Step
from unipo.importers.registry import importer
from unipo.importers.source import Context
from unipo.importers.values import Fields
from unipo.runs.schema import is_valid_column_name

STEP_FILE = re.compile(r"^completions_(\d{1,10})\.parquet$")
BASE = ("step", "prompt", "completion", "advantage")
BATCH_ROWS = 4096


def _files(path: Path) -> list[tuple[int, Path]]:
    if path.is_file():
        match = STEP_FILE.match(path.name)
        return [(int(match.group(1)), path)] if match else []
    folder = path / "completions" if (path / "completions").is_dir() else path
    return sorted((int(m.group(1)), f) for f in folder.iterdir() if (m := STEP_FILE.match(f.name)) and f.is_file())


def _detect(path: Path) -> float:
    return 1.0 if path.exists() and _files(path) else 0.0


@importer("trl", summary="TRL GRPOTrainer log_completions Parquet (completions/completions_{step:05d}.parquet), text only",
          detect=_detect, source="huggingface/trl trl/trainer/grpo_trainer.py (GRPOTrainer.log)",
          maps={"prompt": "prompt text", "completion": "response text", "advantage": "response_advantage",
                "<reward function> columns": "reward_<name> components; reward = their sum",
                "identical prompts": "one group"},
          cannot_provide=("token ids (give --tokenizer DIR)", "logprob", "old_logprob", "ref_logprob", "entropy"))
def read_trl(source: Path, context: Context) -> Iterator[Header | Step]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    yield Header({"name": source.stem if source.is_file() else source.resolve().name})
    context.note("reward = the sum of the reward-function columns (TRL's unweighted default; "
                 "reward_weights are not in the table)")
    for number, file in _files(source):
        label = context.at(file)
        step = Step(number, label)
        try:
            parquet = pq.ParquetFile(file)
            names = parquet.schema_arrow.names
            missing = [c for c in ("prompt", "completion") if c not in names]
            if missing:
                context.problems.add(label, f"missing column(s) {', '.join(missing)}: not a TRL completions table")
                continue
            extras = [c for c in names if c not in BASE and not c.startswith("__")]
            rewards = [c for c in extras if pa.types.is_floating(parquet.schema_arrow.field(c).type)
                       or pa.types.is_integer(parquet.schema_arrow.field(c).type)]
            for c in extras:
                if c not in rewards:
                    context.note(f"column {c!r} is not numeric: not stored")
            row = 0
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
                context.advance(batch.nbytes)
                columns = batch.to_pydict()
                for k in range(batch.num_rows):
                    row += 1
                    response = _row(columns, k, rewards, f"{label} row {row}", number, context)
                    if response is not None:
                        step.responses.append(response)
        except (OSError, pa.ArrowException) as exc:
            context.problems.add(label, f"not a readable Parquet file ({str(exc).splitlines()[0][:200]})")
            continue
        yield step


def _text(value: Any, name: str, fields: Fields) -> str:
    if isinstance(value, list):  # a conversation: [{"role": ..., "content": ...}, ...]
        parts = []
        for message in value:
            if isinstance(message, dict):
                content = message.get("content")
                if isinstance(content, list):  # multimodal parts
                    content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
                parts.append(f"{message.get('role', '?')}: {content if content is not None else ''}")
        return fields.text("\n".join(parts), name)
    return fields.text(value, name)


def _row(columns: dict, k: int, rewards: list[str], where: str, number: int, context: Context) -> Response | None:
    fields = Fields(context.problems, where)
    if "step" in columns and columns["step"][k] is not None and fields.integer(columns["step"][k], "step") != number \
            and not fields.failed:
        fields.add("step", f"is {columns['step'][k]} in the table of step {number}")
    response = Response(where=where, prompt_text=_text(columns["prompt"][k], "prompt", fields),
                        response_text=_text(columns["completion"][k], "completion", fields))
    response.group = ("prompt", response.prompt_text)
    total, given = 0.0, False
    for name in rewards:
        key = name if is_valid_column_name(f"reward_{name}") else None
        value = fields.number(columns[name][k], name)
        if key is None:
            context.note(f"reward column {name!r} is not a usable column name: summed into reward only")
        else:
            response.components[key] = value
        if value == value:  # NaN: the function does not apply to this sample (TRL logs None)
            total, given = total + value, True
    response.reward = total if given else float("nan")
    if "advantage" in columns and columns["advantage"][k] is not None:
        response.response_terms["response_advantage"] = fields.number(columns["advantage"][k], "advantage")
    return None if fields.failed else response

"""A malformed-input corpus, generated per format: every case ends in a one-line-per-problem error that
names file, line and field (or, for the few valid-but-odd inputs, an import that stores exactly what
was given); never a traceback, never a changed value, nothing written, no hidden staging name shown,
and memory bounded before anything is allocated."""
from __future__ import annotations

import json
import re
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from unipo.cli import main

HOLE = "@@HOLE@@"
# raw JSON text put where a value was; each must be refused
BAD_VALUES = {
    "deep_nesting": "[" * 10000 + "]" * 10000,
    "int_2_31": str(2**31),
    "int_5000_digits": "9" * 5000,
    "int_2_40": str(2**40),
    "float_1e39": "1e39",
    "float_1e400": "1e400",
    "nan_literal": "NaN",
    "infinity_literal": "-Infinity",
    "lone_surrogate": '"\\ud800x"',
    "wrong_type_string": '"high"',
    "wrong_type_object": '{"a": 1}',
    "wrong_type_bool": "true",
}


def put(value, path, hole=HOLE):
    """A copy of value with hole at path (keys and indices)."""
    value = json.loads(json.dumps(value))
    target = value
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = hole
    return value


def dumps_with(value, raw: str) -> str:
    return json.dumps(value).replace(json.dumps(HOLE), raw)


# -- one valid record per format and where its fields are ---------------------------------------
def unipo_lines():
    header = {"header": {"format": "unipo-canonical/1", "name": "x"}}
    entry = {"step": 1, "metrics": {"loss": 0.1}, "prompts": [{"text": "q", "responses": [
        {"text": "a", "reward": 1.0, "tokens": [{"id": 3, "text": "a", "position": 0, "log_probs": -0.5}]}]}]}
    return header, entry, {
        "reward": ["prompts", 0, "responses", 0, "reward"], "token_id": ["prompts", 0, "responses", 0, "tokens", 0, "id"],
        "float": ["prompts", 0, "responses", 0, "tokens", 0, "log_probs"], "step": ["step"],
        "text": ["prompts", 0, "text"], "position": ["prompts", 0, "responses", 0, "tokens", 0, "position"]}


def reference_lines():
    header = {"type": "header", "algorithm": "grpo", "model_name": "m", "hparams": {"clip_eps": 0.2}}
    entry = {"type": "step", "step": 0, "is_first_step_after_rollout_phase": True, "metrics": {"reward": 0.5},
             "prompts": [{"prompt": "q", "responses": [{"id": "s0", "reward": 1.0, "advantage": 0.5, "response_text": "a",
                                                        "tokens": {"ids": [3, 4], "strings": ["a", "b"],
                                                                   "log_probs": [-0.5, -0.25]}}]}]}
    return header, entry, {
        "reward": ["prompts", 0, "responses", 0, "reward"], "token_id": ["prompts", 0, "responses", 0, "tokens", "ids", 0],
        "float": ["prompts", 0, "responses", 0, "tokens", "log_probs", 1], "step": ["step"],
        "text": ["prompts", 0, "responses", 0, "response_text"]}


def prime_record():
    n = 4
    return {"schema_version": 1, "step": 2, "token_ids": [7, 8, 9, 10], "position_ids": list(range(n)),
            "loss_mask": [False, True, True, True], "advantages": [0.0, 0.5, 0.5, 0.5],
            "inference_logprobs": [-1.0, -0.5, -0.4, -0.3], "trainer_logprobs": [-1.0, -0.5, -0.4, -0.3],
            "entropy": [0.1] * n}, {"token_id": ["token_ids", 1], "float": ["trainer_logprobs", 2], "step": ["step"],
                                    "reward": ["advantages", 1]}


def openrlhf_record():
    return {"prompt": "q", "response": "ab", "response_tokens": [3, 4], "logprobs": [-0.5, -0.25],
            "ref_logprobs": [-0.5, -0.3], "values": [0.1, 0.2], "token_rewards": [0.0, 1.0], "reward": 1.0, "step": 1}, {
        "token_id": ["response_tokens", 0], "float": ["logprobs", 0], "step": ["step"], "reward": ["reward"], "text": ["prompt"]}


def verl_record():
    return {"input": "q", "output": "a", "gts": "1", "score": 1.0, "step": 3, "acc": 1.0}, {
        "reward": ["score"], "float": ["acc"], "text": ["input"], "step": ["step"]}


def gradloc_spike():
    return {"rank": 0, "global_steps": 5, "input_ids": [[1, 2, 3, 4]], "advantages": [[0.5, 0.5]],
            "response_mask": [[1, 1]]}, {"token_id": ["input_ids", 0, 2], "float": ["advantages", 0, 0],
                                         "mask": ["response_mask", 0, 0]}


def write_case(folder: Path, fmt: str, raw_of) -> Path:
    """raw_of(record, paths) -> the record's text (with the bad value spliced in), per format."""
    if fmt in ("unipo", "reference"):
        header, entry, paths = unipo_lines() if fmt == "unipo" else reference_lines()
        path = folder / "log.jsonl"
        path.write_text(json.dumps(header) + "\n" + raw_of(entry, paths) + "\n")
        return path
    if fmt == "prime-rl":
        record, paths = prime_record()
        rank = folder / "out" / "token_exports" / "step_2"
        rank.mkdir(parents=True)
        (rank / "rank_0.jsonl").write_text(json.dumps(record) + "\n" + raw_of(record, paths) + "\n")
        return folder / "out"
    if fmt == "openrlhf":
        record, paths = openrlhf_record()
        path = folder / "board.jsonl"
        path.write_text(json.dumps(record) + "\n" + raw_of(record, paths) + "\n")
        return path
    if fmt == "verl":
        record, paths = verl_record()
        (folder / "rollouts").mkdir()
        (folder / "rollouts" / "3.jsonl").write_text(json.dumps(record) + "\n" + raw_of(record, paths) + "\n")
        return folder / "rollouts"
    record, paths = gradloc_spike()
    (folder / "dumps").mkdir()
    (folder / "dumps" / "spike_inputs_gs5_rank0_batch0_mb0.json").write_text(raw_of(record, paths))
    return folder / "dumps"


FORMATS = ("unipo", "reference", "prime-rl", "openrlhf", "verl", "gradloc")


def fields_of(fmt: str) -> dict:
    made = {"unipo": unipo_lines, "reference": reference_lines, "prime-rl": prime_record, "openrlhf": openrlhf_record,
            "verl": verl_record, "gradloc": gradloc_spike}[fmt]()
    return made[-1]


def cases():
    for fmt in FORMATS:
        for field in fields_of(fmt):
            for name, raw in BAD_VALUES.items():
                if field == "text" and name in ("wrong_type_string",):
                    continue  # a string is a valid text
                yield pytest.param(fmt, field, name, raw, id=f"{fmt}-{field}-{name}")
        yield pytest.param(fmt, "record", "duplicate_key", None, id=f"{fmt}-duplicate_key")
        yield pytest.param(fmt, "record", "truncated", None, id=f"{fmt}-truncated")
        yield pytest.param(fmt, "record", "not_utf8", None, id=f"{fmt}-not_utf8")
        yield pytest.param(fmt, "record", "wrong_container", None, id=f"{fmt}-wrong_container")


def stored_somewhere(run: Path, value: float) -> bool:
    import pyarrow as pa
    from unipo.runs import RunReader
    reader = RunReader(run)
    for step in reader.steps():
        for table in (reader.step(step), reader.responses(step)):
            for column in table.columns:
                if pa.types.is_floating(column.type) and value in column.to_pylist():
                    return True
    return False


def run_import(capsys, source: Path, out: Path):
    code = main(["import", str(source), "--out", str(out), "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_refused(code, err, out_dir: Path):
    assert code == 2, err
    assert "Traceback" not in err
    assert not out_dir.exists(), "nothing may be written on failure"
    assert not [p for p in out_dir.parent.iterdir() if ".importing-" in p.name]
    assert ".importing-" not in err  # the hidden staging folder is never named
    listed = [line.strip() for line in err.splitlines()[1:] if line.strip() and not line.strip().startswith("...")]
    assert len(listed) == len(set(listed)), "each problem once"
    locations = [line.split(": ")[0] for line in listed]
    assert all(re.search(r"line \d+|entries\[|\.json|\.parquet|row \d+|step", where) for where in locations) or not listed, err
    assert len(err) < 20000  # a hostile value is never echoed in full


@pytest.mark.parametrize("fmt, field, name, raw", list(cases()))
def test_malformed_input_is_refused_with_its_location(tmp_path, capsys, fmt, field, name, raw):
    def raw_of(record, paths):
        if name == "duplicate_key":
            text = json.dumps(record)
            return "{" + '"dup": 1, "dup": 2, ' + text[1:]
        if name == "truncated":
            return json.dumps(record)[: len(json.dumps(record)) // 2]
        if name == "not_utf8":
            return json.dumps(record).replace('"', '"\udcff', 1).encode("utf-8", "surrogateescape").decode("latin-1")
        if name == "wrong_container":
            return json.dumps([record])
        if field not in paths:
            return None
        return dumps_with(put(record, paths[field]), raw)

    if name == "not_utf8":
        source = write_case(tmp_path, fmt, lambda record, paths: json.dumps(record))
        file = source if source.is_file() else next(p for p in source.rglob("*.json*"))
        file.write_bytes(file.read_bytes().replace(b'"', b'"\xff', 1))
    else:
        source = write_case(tmp_path, fmt, raw_of)
    out = tmp_path / "runs" / "imported"
    out.parent.mkdir()
    code, stdout, err = run_import(capsys, source, out)
    if field in ("reward", "float") and name in ("int_2_31", "int_2_40"):
        assert code == 0, err  # a large integer is a valid number, stored exactly (a power of two fits float32)
        assert stored_somewhere(out, float(int(raw)))
        return
    if fmt == "verl" and field == "float" and name.startswith("wrong_type"):
        # verl's reward_extra_info may hold any value: a non-number is not a reward component, and said so
        assert code == 0, err
        assert "is not a number: not stored" in stdout
        return
    assert_refused(code, err, out)


@pytest.mark.parametrize("fmt", ["unipo", "gradloc"])
def test_a_huge_position_is_refused_before_allocating(tmp_path, capsys, fmt):
    if fmt == "unipo":
        header, entry, paths = unipo_lines()
        entry = put(entry, paths["position"], 2**27)
        source = tmp_path / "log.jsonl"
        source.write_text(json.dumps(header) + "\n" + json.dumps(entry) + "\n")
    else:
        record, _ = gradloc_spike()
        record["response_mask"] = [[1, 1] + [0] * 0]
        source = tmp_path / "dumps"
        source.mkdir()
        (source / "spike_inputs_gs5_rank0_batch0_mb0.json").write_text(json.dumps(record))
        (source / "bisect_tokens_gs5_rank0.json").write_text(json.dumps(
            {"hit_tokens": [{"mb_idx": 0, "b": 0, "s": 2**27, "grad_norm": 3.0, "input_id": 3}]}))
    tracemalloc.start()
    try:
        code, _, err = run_import(capsys, source, tmp_path / "run")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_refused(code, err, tmp_path / "run")
    assert "position" in err and peak < 64 << 20


def test_a_50_mb_prompt_is_refused_without_gigabytes(tmp_path, capsys):
    header, entry, paths = unipo_lines()
    entry = put(entry, paths["text"], "x" * (50 << 20))
    source = tmp_path / "log.jsonl"
    source.write_text(json.dumps(header) + "\n" + json.dumps(entry) + "\n")
    tracemalloc.start()
    try:
        code, _, err = run_import(capsys, source, tmp_path / "run")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_refused(code, err, tmp_path / "run")
    assert "MiB limit" in err and peak < 8 * (50 << 20)  # a small multiple of the input


@pytest.mark.parametrize("fmt", ["unipo", "reference"])
def test_an_entry_without_responses_is_a_metrics_only_step(tmp_path, capsys, fmt):
    header, entry, _ = unipo_lines() if fmt == "unipo" else reference_lines()
    entry["prompts"] = []
    source = tmp_path / "log.jsonl"
    source.write_text(json.dumps(header) + "\n" + json.dumps(entry) + "\n")
    code, out, err = run_import(capsys, source, tmp_path / "run")
    assert code == 0, err
    assert "(1 metrics only)" in out
    from unipo.runs import RunReader
    assert RunReader(tmp_path / "run").steps() == []


def test_an_empty_prompt_text_is_stored_as_empty(tmp_path, capsys):
    header, entry, paths = reference_lines()
    entry = put(entry, ["prompts", 0, "prompt"], "")
    source = tmp_path / "log.jsonl"
    source.write_text(json.dumps(header) + "\n" + json.dumps(entry) + "\n")
    assert run_import(capsys, source, tmp_path / "run")[0] == 0
    from unipo.runs import RunReader
    assert RunReader(tmp_path / "run").responses(0).column("prompt_text").to_pylist() == [""]


def test_trl_parquet_corruption_and_out_of_range_values(tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq
    folder = tmp_path / "trl" / "completions"
    folder.mkdir(parents=True)
    good = pa.table({"step": [1, 1], "prompt": ["a", "a"], "completion": ["x", "y"], "r": [1.0, 0.0],
                     "advantage": [0.5, -0.5]})
    pq.write_table(good, folder / "completions_00001.parquet")
    bad = good.set_column(0, "step", pa.array([2, 2])).set_column(3, "r", pa.array([np.inf, 1e39]))
    pq.write_table(bad, folder / "completions_00002.parquet")
    data = (folder / "completions_00001.parquet").read_bytes()
    (folder / "completions_00003.parquet").write_bytes(data[: len(data) // 2])
    code, _, err = run_import(capsys, tmp_path / "trl", tmp_path / "run")
    assert_refused(code, err, tmp_path / "run")
    assert "completions_00002.parquet row 1: r:" in err and "completions_00002.parquet row 2: r:" in err
    assert "completions_00003.parquet: not a readable Parquet file" in err

"""Canonical JSON/JSONL: export -> import round trip, and located errors for malformed files."""
from __future__ import annotations

import json

import numpy as np
import pytest

from unipo.cli import main
from unipo.errors import UnipoError
from unipo.runs import RunReader, RunWriter, export_canonical, import_canonical


@pytest.fixture
def source_run(tmp_path, fake_record):
    path = tmp_path / "source"
    writer = RunWriter.create(path, {"task": {"name": "add", "params": {"digits": 2}, "reward": "exact match"},
                                     "algorithm": {"name": "grpo", "hparams": {"beta": 0.04}}, "seed": 3})
    writer.write_update(1, fake_record(n=6, t=7, seed=1, group_size=3), {"loss": 0.5, "kl": None})
    writer.write_update(2, fake_record(n=6, t=7, seed=2, group_size=3, empty=(4,)), {"loss": 0.25})
    writer.set_status("finished")
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_export_import_round_trip_keeps_every_term(tmp_path, source_run, fmt):
    out = export_canonical(source_run, tmp_path / f"log.{fmt}", fmt=fmt)
    imported = import_canonical(out, tmp_path / "imported")
    before, after = RunReader(source_run), RunReader(imported)
    assert after.header == {**before.header, "updated": after.header["updated"], "created": before.header["created"]}
    assert after.steps() == [1, 2] and after.metrics() == before.metrics()
    for step in (1, 2):
        a = before.step(step, include_empty_responses=True)
        b = after.step(step, include_empty_responses=True)
        assert set(a.column_names) == set(b.column_names)
        for column in a.column_names:
            left, right = a.column(column).to_pylist(), b.column(column).to_pylist()
            if a.schema.field(column).type == "float":
                np.testing.assert_allclose(np.array(right, dtype=float), np.array(left, dtype=float), rtol=1e-7,
                                           err_msg=column)
            else:
                assert left == right, column


def test_import_of_a_hand_written_log_maps_canonical_names(tmp_path):
    lines = [
        {"header": {"task": "gsm8k", "algorithm": {"name": "ppo"}, "model": "tiny", "hyperparameters": {"lr": 1e-5}}},
        {"step": 1, "metrics": {"loss": 1.0}, "prompts": [{"text": "2+2?", "responses": [
            {"text": "4", "reward": 1, "tokens": [
                {"id": 19, "text": "4", "log_probs": -0.1, "token_kl": 0.01, "rewards": 1.0, "advantages": 0.5,
                 "token_objective": 0.4, "values": None}]},
            {"text": "", "reward": 0, "tokens": {"id": [], "log_probs": []}}]}]},
    ]
    source = tmp_path / "log.jsonl"
    source.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    reader = RunReader(import_canonical(source, tmp_path / "run"))
    assert reader.header["config"] == {"lr": 1e-5} and reader.header["status"] == "finished"
    assert reader.header["imported_from"]["file"] == "log.jsonl"
    row = reader.step(1).to_pylist()[0]
    assert row["token_id"] == 19 and row["kl"] == pytest.approx(0.01) and row["token_reward"] == 1.0
    assert row["advantage"] == 0.5 and row["token_objective"] == pytest.approx(0.4)
    assert row["value"] is None and row["old_logprob"] is None  # not in the file: null
    assert reader.responses(1).column("token_count").to_pylist() == [1, 0]


def _write_jsonl(path, *lines):
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


def _token(**changes):
    return {"id": 1, "text": "a", "log_probs": -0.5, **changes}


def _entry(step=1, tokens=None, **changes):
    tokens = tokens if tokens is not None else [_token()]
    return {"step": step, "prompts": [{"text": "q", "responses": [{"text": "a", "reward": 1.0, "tokens": tokens}]}],
            **changes}


def _import_error(tmp_path, source):
    with pytest.raises(UnipoError) as caught:
        import_canonical(source, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".run.importing")]
    return str(caught.value)


def test_every_problem_is_reported_with_line_and_field(tmp_path):
    source = _write_jsonl(
        tmp_path / "bad.jsonl", {"header": {"task": "t"}}, _entry(1),
        "{not json",
        _entry(3, tokens=[_token(), _token(), _token(), _token(log_probs="abc")]),
        _entry(4, tokens={"id": [1, 2, 3], "log_probs": [-0.1, -0.2]}),
        _entry(5, rollout="two"), _entry(1),
    )
    message = _import_error(tmp_path, source)
    assert "5 problems" in message
    assert "line 3 column 2: not valid JSON" in message
    assert 'line 4: entries.prompts[0].responses[0].tokens[3].log_probs: expected a number, got "abc"' in message
    assert "line 5: entries.prompts[0].responses[0].tokens.log_probs: has 2 values but id has 3" in message
    assert message.count("line 5:") == 1  # the location is given once, at the start of its line
    assert 'line 6: entries.rollout: expected an integer, got "two"' in message
    assert "line 7: entries.step: step 1 already given at line 2" in message


def test_missing_header_is_reported(tmp_path):
    message = _import_error(tmp_path, _write_jsonl(tmp_path / "x.jsonl", _entry(1)))
    assert 'line 1: missing header' in message
    message = _import_error(tmp_path, _write_json(tmp_path / "x.json", {"entries": [_entry(1)]}))
    assert "header: missing" in message


def _write_json(path, document):
    path.write_text(json.dumps(document))
    return path


def test_json_errors_name_the_entry_and_field(tmp_path):
    broken = _entry(2, tokens=[{"text": "a", "logprobs": -1}])
    broken["prompts"][0]["responses"][0]["reward"] = "high"
    message = _import_error(tmp_path, _write_json(tmp_path / "x.json", {"header": {}, "entries": [_entry(1), broken]}))
    assert "entries[1].prompts[0].responses[0].reward: expected a number, got \"high\"" in message
    assert "entries[1].prompts[0].responses[0].tokens[0].logprobs: unknown field" in message
    assert "entries[1].prompts[0].responses[0].tokens[0].id: missing" in message


def test_bad_json_document_and_long_lists_are_capped(tmp_path):
    (tmp_path / "x.json").write_text('{"header": {}, "entries": [}')
    assert "line 1 column 28: not valid JSON" in _import_error(tmp_path, tmp_path / "x.json")
    many = [_entry(i, tokens=[_token(log_probs="x")]) for i in range(1, 31)]
    message = _import_error(tmp_path, _write_jsonl(tmp_path / "m.jsonl", {"header": {}}, *many))
    assert "30 problems" in message and "... and 10 more" in message


def test_import_refuses_an_existing_run(tmp_path, source_run):
    out = export_canonical(source_run, tmp_path / "log.jsonl")
    with pytest.raises(UnipoError, match="already exists"):
        import_canonical(out, source_run)


def test_cli_import_and_export(tmp_path, source_run, capsys):
    assert main(["export", str(source_run), "--out", str(tmp_path / "log.json")]) == 0
    assert json.loads((tmp_path / "log.json").read_text())["header"]["format"] == "unipo-canonical/1"
    assert main(["import", str(tmp_path / "log.json"), "--out", str(tmp_path / "copy")]) == 0
    assert RunReader(tmp_path / "copy").steps() == [1, 2]
    (tmp_path / "bad.jsonl").write_text("[]\n")
    assert main(["import", str(tmp_path / "bad.jsonl"), "--out", str(tmp_path / "never")]) == 2
    assert "missing header" in capsys.readouterr().err


def test_each_location_is_reported_once(tmp_path):
    """A missing field is reported as missing, not also as having the wrong type (null)."""
    entry = _entry(1, tokens=[{"text": "a"}, {"id": "x"}])
    del entry["step"]
    message = _import_error(tmp_path, _write_jsonl(tmp_path / "x.jsonl", {"header": {}}, entry))
    assert "3 problems" in message
    assert message.count("line 2: entries.step:") == 1 and "line 2: entries.step: missing" in message
    assert message.count("tokens[0].id:") == 1 and "tokens[0].id: missing" in message
    assert 'tokens[1].id: expected an integer, got "x"' in message

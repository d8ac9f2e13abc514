"""Each built-in importer on a dump written to its framework's schema (the writer in dumps.py names
the framework source file it follows): what is stored, what the header keeps, what the report says."""
from __future__ import annotations

import json

import numpy as np
import pytest

from unipo.cli import main
from unipo.importers import detect, get, importers
from unipo.importers.run import import_run
from unipo.runs import RunReader


def f32(values):
    return np.asarray(values, dtype=np.float32)


def test_every_importer_declares_what_it_maps_and_lacks():
    described = {i.name: i.describe() for i in importers()}
    for name in ("reference", "unipo", "trl", "verl", "prime-rl", "openrlhf", "gradloc"):
        assert described[name]["maps"] and described[name]["source"], name
    assert "logprob" in described["verl"]["cannot_provide"]


def test_each_dump_is_detected_as_its_format(tmp_path, dumps):
    d = dumps
    assert detect(d.reference_json(tmp_path / "r.json", [d.reference_entry(0)])).name == "reference"
    assert detect(d.reference_jsonl(tmp_path / "r.jsonl", [d.reference_entry(0)])).name == "reference"
    assert detect(d.prime_rl(tmp_path / "out")).name == "prime-rl"
    assert detect(tmp_path / "out" / "token_exports" / "step_0" / "rank_0.jsonl").name == "prime-rl"
    assert detect(d.openrlhf(tmp_path / "board.jsonl")).name == "openrlhf"
    assert detect(d.verl(tmp_path / "rollouts")).name == "verl"
    assert detect(d.gradloc(tmp_path / "dumps")).name == "gradloc"


def test_reference_json_verbatim_keeps_every_header_key_and_maps_the_algorithm(tmp_path, dumps):
    source = dumps.reference_json(tmp_path / "ppo.json", [
        dumps.reference_entry(0), dumps.reference_entry(1, first=False), dumps.reference_entry(2, prompts=False)])
    report = import_run(source, tmp_path / "run")
    reader = RunReader(tmp_path / "run")
    header = reader.header
    kept = header["imported_from"]["header"]
    assert kept["run_id"] == "r-17" and kept["hparams"]["clip_eps"] == 0.2 and kept["totalSteps"] == 2
    assert header["model"] == header["reference_model"] == "meta-llama/Llama-3.2-1B-Instruct"
    assert header["task"] == "math reasoning" and header["dataset"] == "GSM8K"
    assert header["algorithm"]["format"] == "unipo-algorithm/1" and header["algorithm"]["name"] == "ppo"
    hp = header["algorithm"]["hparams"]
    assert (hp["epsilon"], hp["gamma"], hp["lam"], hp["kl_coef"]) == (0.2, 1.0, 0.95, 0.04)
    assert header["config"]["learning_rate"] == 1e-6  # free-form hparams kept as the config
    assert reader.steps() == [0, 1]  # entry 2 is metrics only
    assert reader.metrics()["step"] == [0, 1, 2]
    table = reader.step(0)
    tokens = dumps.REFERENCE_TOKENS
    assert table.column("token").to_pylist() == tokens["strings"]
    assert table.column("token_id").to_pylist() == tokens["ids"]
    for field, column in (("log_probs", "logprob"), ("old_log_probs", "old_logprob"), ("ref_log_probs", "ref_logprob"),
                          ("values", "value"), ("advantages", "advantage"), ("returns", "return"), ("token_kl", "kl"),
                          ("rewards", "token_reward"), ("token_objective", "token_objective")):
        assert table.column(column).to_numpy().tolist() == f32(tokens[field]).tolist(), field
    responses = reader.responses(0)
    assert responses.column("response_text").to_pylist() == ["The answer is $4$."]
    assert responses.column("prompt_text").to_pylist() == ["Compute $2 + 2$."]
    assert responses.column("response_advantage").to_pylist() == [pytest.approx(0.35)]
    # is_first_step_after_rollout_phase numbers rollouts and their mini-batches
    assert reader.step(1).column("rollout").to_pylist()[0] == 0 and reader.step(1).column("minibatch").to_pylist()[0] == 1
    assert report.metrics_only_steps == 1 and "entropy" in report.missing()


def test_reference_jsonl_with_prob_and_a_grpo_string_algorithm(tmp_path, dumps):
    tokens = {"ids": [5, 6, 7], "strings": ["a", "b", "c"], "prob": [0.5, 0.25, 1.0]}
    header = dict(dumps.REFERENCE_HEADER, algorithm="GRPO", hparams={"clip_eps": [0.2, 0.28], "kl_coef": 0.0})
    source = dumps.reference_jsonl(tmp_path / "grpo.jsonl", [dumps.reference_entry(3, tokens=tokens),
                                                             dumps.reference_entry(4, prompts=False)], header=header)
    report = import_run(source, tmp_path / "run")
    reader = RunReader(tmp_path / "run")
    table = reader.step(3)
    assert table.column("logprob").to_numpy().tolist() == f32(np.log([0.5, 0.25, 1.0])).tolist()
    assert table.column("prob").to_numpy().tolist() == f32([0.5, 0.25, 1.0]).tolist()  # kept as given
    hp = reader.header["algorithm"]["hparams"]
    assert reader.header["algorithm"]["name"] == "grpo" and (hp["epsilon"], hp["epsilon_high"], hp["beta"]) == (0.2, 0.28, 0.0)
    # the preset's formula recomputed the terms from the stored inputs (response advantage, log-probs)
    assert "ratio" in report.recomputed and table.column("ratio").to_numpy().tolist() == [1.0, 1.0, 1.0]
    assert any("log(prob)" in note for note in report.notes)


def test_an_unknown_algorithm_name_is_kept_and_reported(tmp_path, dumps):
    header = dict(dumps.REFERENCE_HEADER, algorithm="my-own-po")
    report = import_run(dumps.reference_json(tmp_path / "x.json", [dumps.reference_entry(0)], header=header), tmp_path / "run")
    assert RunReader(tmp_path / "run").header["algorithm"] == {"name": "my-own-po"}
    assert any("'my-own-po' is not a UNIPO preset" in note and "--algorithm" in note for note in report.notes)


def test_prime_rl_exports_keep_completion_tokens_and_recompute_the_ratio(tmp_path, dumps):
    root = dumps.prime_rl(tmp_path / "out", steps=(0, 1), ranks=2, group=2)
    report = import_run(root, tmp_path / "run", algorithm="dapo")
    reader = RunReader(tmp_path / "run")
    assert reader.steps() == [0, 1]
    first = json.loads((root / "token_exports" / "step_0" / "rank_0.jsonl").read_text().splitlines()[0])
    table = reader.step(0)
    rows = table.filter(table.column("response").to_numpy() == 0)
    mask = np.array(first["loss_mask"])
    assert rows.column("token_id").to_pylist() == np.array(first["token_ids"])[mask].tolist()
    assert rows.column("logprob").to_numpy().tolist() == f32(np.array(first["trainer_logprobs"])[mask]).tolist()
    assert rows.column("old_logprob").to_numpy().tolist() == f32(np.array(first["inference_logprobs"])[mask]).tolist()
    ratio = table.column("ratio").to_numpy()
    expected = np.exp(table.column("logprob").to_numpy().astype(np.float64) - table.column("old_logprob").to_numpy())
    assert np.allclose(ratio, expected, rtol=1e-5)  # recomputed by unipo.algorithms.recompute
    assert np.allclose(table.column("importance_ratio").to_numpy(), expected, rtol=1e-5)  # prime-rl's own, kept
    groups = reader.responses(0).column("group").to_pylist()
    assert groups == [0, 0, 1, 1]  # the two sequences of each rank share their prompt tokens
    assert report.tokens == 2 * 2 * 2 * 5 and "ref_logprob" in report.missing()


def test_openrlhf_board_rows_with_and_without_a_tokenizer(tmp_path, dumps, tokenizer_dir):
    source = dumps.openrlhf(tmp_path / "board.jsonl", steps=(1, 2), samples=3, length=4)
    report = import_run(source, tmp_path / "run")
    reader = RunReader(tmp_path / "run")
    row = json.loads(source.read_text().splitlines()[0])
    table = reader.step(1)
    first = table.filter(table.column("response").to_numpy() == 0)
    assert first.column("token").to_pylist() == row["response_tokens"]
    assert first.column("token_id").to_pylist() == [-1] * 4  # strings only: ids unknown, and said so
    assert any("--tokenizer" in note for note in report.notes)
    for field, column in (("logprobs", "logprob"), ("ref_logprobs", "ref_logprob"), ("values", "value"),
                          ("token_rewards", "token_reward")):
        assert first.column(column).to_numpy().tolist() == f32(row[field]).tolist()
    assert reader.responses(1).column("reward").to_pylist() == [0.0, 1.0, 2.0]
    import_run(source, tmp_path / "tokenised", tokenizer=str(tokenizer_dir))
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    ids = RunReader(tmp_path / "tokenised").step(1).column("token_id").to_pylist()[:4]
    assert ids == tokenizer.convert_tokens_to_ids(row["response_tokens"])


def test_verl_rollouts_are_a_response_level_run_unless_tokenised(tmp_path, dumps, tokenizer_dir):
    folder = dumps.verl(tmp_path / "rollouts", steps=(1, 2), samples=4)
    report = import_run(folder, tmp_path / "run")
    reader = RunReader(tmp_path / "run")
    responses = reader.responses(2)
    assert responses.column("response_text").to_pylist() == [f"it is {k}." for k in range(4)]
    assert responses.column("reward").to_pylist() == [0.0, 1.0, 0.0, 1.0]
    assert responses.column("reward_acc").to_pylist() == [0.0, 1.0, 0.0, 1.0]
    assert responses.column("group").to_pylist() == [0, 0, 1, 1]  # by uid
    assert reader.step(2).num_rows == 0 and report.tokens == 0
    assert "token_id" in report.missing() and "--tokenizer" in report.missing()["token_id"]
    report = import_run(folder, tmp_path / "tokenised", tokenizer=str(tokenizer_dir))
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    table = RunReader(tmp_path / "tokenised").step(1)
    first = table.filter(table.column("response").to_numpy() == 0)
    assert first.column("token_id").to_pylist() == tokenizer("it is 0.", add_special_tokens=False)["input_ids"]
    assert "".join(first.column("token").to_pylist()) == "it is 0."
    assert report.tokens == sum(len(tokenizer(f"it is {k}.", add_special_tokens=False)["input_ids"]) for k in range(4)) * 2


def test_gradloc_hit_tokens_are_located_on_their_step(tmp_path, dumps):
    folder = dumps.gradloc(tmp_path / "dumps", step=7, rows=2, prompt_len=3, response_len=4)
    import_run(folder, tmp_path / "run")
    reader = RunReader(tmp_path / "run")
    assert reader.steps() == [7]
    table = reader.step(7)
    marked = table.filter(table.column("gradloc_grad_norm").is_valid())
    assert marked.column("response").to_pylist() == [1] and marked.column("position").to_pylist() == [2]
    assert marked.column("gradloc_grad_norm").to_pylist() == [41.5]
    assert marked.column("token_id").to_pylist() == [20 + 3 + 2]
    assert table.num_rows == 2 * 3  # the last response position is masked out
    assert reader.metrics()["gradloc_hit_tokens"] == [1]


def test_format_option_overrides_detection(tmp_path, dumps):
    source = dumps.reference_json(tmp_path / "ppo.json", [dumps.reference_entry(0)])
    with pytest.raises(Exception) as caught:
        import_run(source, tmp_path / "run", format="unipo")
    assert "nothing imported" in str(caught.value) and not (tmp_path / "run").exists()
    assert get("reference").name == "reference"


def test_cli_import_prints_the_report(tmp_path, dumps, capsys):
    source = dumps.verl(tmp_path / "rollouts")
    assert main(["import", str(source), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "steps: 2" in out and "responses: 8" in out and "tokens: 0" in out
    assert "unavailable (input missing):" in out and "logprob:" in out
    assert main(["import", str(source), "--out", str(tmp_path / "other"), "--format", "prime-rl"]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert not (tmp_path / "other").exists()


def test_progress_bar_goes_to_stderr(tmp_path, dumps, capsys):
    import_run(dumps.prime_rl(tmp_path / "out"), tmp_path / "run", progress=True)
    captured = capsys.readouterr()
    assert "import prime-rl" in captured.err and "import prime-rl" not in captured.out


@pytest.mark.parametrize("container", ["json", "jsonl"])
def test_export_reference_then_import_restores_the_run(tmp_path, dumps, container, capsys):
    """`unipo export --format reference` writes what the reference app's build_data.py reads (typed JSONL
    lines / {header, entries}); importing it back gives the same run."""
    source = dumps.reference_json(tmp_path / "ppo.json", [dumps.reference_entry(0), dumps.reference_entry(1, first=False),
                                                          dumps.reference_entry(2, prompts=False)])
    import_run(source, tmp_path / "run")
    out = tmp_path / f"exported.{container}"
    assert main(["export", str(tmp_path / "run"), "--out", str(out), "--format", "reference"]) == 0
    if container == "jsonl":
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        assert lines[0]["type"] == "header" and {line["type"] for line in lines[1:]} == {"step"}
        header, entries = lines[0], lines[1:]
    else:
        document = json.loads(out.read_text())
        header, entries = document["header"], document["entries"]
    assert header["algorithm"] == "ppo" and header["model_name"] == "meta-llama/Llama-3.2-1B-Instruct"
    assert header["totalSteps"] == 2 and header["hparams"]["epsilon"] == 0.2
    assert [e["step"] for e in entries] == [0, 1, 2] and "prompts" not in entries[2]
    tokens = entries[0]["prompts"][0]["responses"][0]["tokens"]
    assert tokens["ids"] == dumps.REFERENCE_TOKENS["ids"] and tokens["strings"] == dumps.REFERENCE_TOKENS["strings"]
    assert tokens["log_probs"] == pytest.approx(dumps.REFERENCE_TOKENS["log_probs"], rel=1e-6)
    assert entries[0]["is_first_step_after_rollout_phase"] is True and entries[1]["is_first_step_after_rollout_phase"] is False
    assert detect(out).name == "reference"
    import_run(out, tmp_path / "back")
    a, b = RunReader(tmp_path / "run"), RunReader(tmp_path / "back")
    assert a.steps() == b.steps() and a.metrics() == b.metrics()
    assert a.header["algorithm"] == b.header["algorithm"] and a.header["imported_from"] == b.header["imported_from"]
    for step in a.steps():
        left, right = a.step(step), b.step(step)
        for column in ("token_id", "token", "logprob", "old_logprob", "ref_logprob", "value", "advantage", "kl"):
            assert left.column(column).to_pylist() == right.column(column).to_pylist(), column


def test_unipo_log_keeps_unknown_header_keys_and_maps_a_string_algorithm(tmp_path):
    source = tmp_path / "log.jsonl"
    entry = {"step": 1, "prompts": [{"text": "q", "responses": [{"text": "a", "reward": 1.0,
                                                                 "tokens": [{"id": 3, "log_probs": -0.5}]}]}]}
    source.write_text(json.dumps({"header": {"name": "x", "algorithm": "dr-grpo", "run_id": "abc",
                                             "model_name": "m"}}) + "\n" + json.dumps(entry) + "\n")
    report = import_run(source, tmp_path / "run")
    header = RunReader(tmp_path / "run").header
    assert header["imported_from"]["header"] == {"run_id": "abc", "model_name": "m"}
    assert header["algorithm"]["format"] == "unipo-algorithm/1" and header["algorithm"]["name"] == "dr_grpo"
    assert any("'dr-grpo' -> preset 'dr_grpo'" in note for note in report.notes)


def test_bad_tokenizer_and_algorithm_options_are_one_line_errors(tmp_path, dumps, capsys):
    source = dumps.verl(tmp_path / "rollouts")
    assert main(["import", str(source), "--out", str(tmp_path / "a"), "--tokenizer", str(tmp_path / "none")]) == 2
    assert "--tokenizer" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["import", str(source), "--out", str(tmp_path / "b"), "--tokenizer", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "cannot be loaded as a tokenizer" in err and "Traceback" not in err
    assert main(["import", str(source), "--out", str(tmp_path / "c"), "--algorithm", "nope"]) == 2
    assert "not a preset" in capsys.readouterr().err
    assert not any((tmp_path / name).exists() for name in "abc")

"""unipo.analyses on constructed stored steps: the numbers they must give, and what they say is missing."""
from __future__ import annotations

import math

import numpy as np
import pytest

from unipo.analyses import catalogue, run_analysis
from unipo.analyses.data import ReaderSource
from unipo.analyses.spikes import SpikeRule, scan

N, T = 4, 5


@pytest.fixture()
def engine_like(tmp_path, analysis_run):
    return analysis_run(tmp_path / "engine-like")


@pytest.fixture()
def imported_like(tmp_path, analysis_run):
    return analysis_run(tmp_path / "imported-like", full=False)


def test_attribution_ranks_the_dominant_token_first_with_its_context(engine_like):
    answer = run_analysis("attribution", engine_like, step=2)
    result = answer["result"]
    assert answer["missing"] == [] and result["method"] == "exact"
    top = result["tokens"][0]
    assert (top["response"], top["position"]) == (2, 1)
    assert top["advantage"] == pytest.approx(0.5) and top["ratio"] == pytest.approx(1.0)
    assert top["clip"] == "none" and 0 < top["probability"] < 1
    assert top["share"] > 0.9
    assert result["responses"][0]["response"] == 2 and result["response_method"] == "exact"
    assert result["culprit"]["index"] == top["index"] == 2 * T - 2 + 1  # response 1 has 3 tokens


def test_attribution_falls_back_to_the_push_and_says_so(tmp_path, analysis_run):
    source = analysis_run(tmp_path / "no-contrib")
    # Same run read without the exact column: rank by |g|.
    table = source.step_table(1).drop_columns(["grad_contribution", "response_grad_norm"])
    class Source(ReaderSource):
        def step_table(self, n):
            return table
    answer = run_analysis("attribution", Source(source.reader), step=1)
    assert answer["result"]["method"] == "coefficient"
    assert "grad_contribution" in answer["optional_missing"]
    g = np.abs(table.column("grad_coef").to_numpy())
    assert answer["result"]["tokens"][0]["score"] == pytest.approx(float(g.max()), rel=1e-6)


def test_every_analysis_on_an_imported_like_run_says_what_is_missing(imported_like):
    expected = {"attribution": ["grad_coef"], "forking": ["entropy"], "length_bias": ["weight"],
                "difficulty": ["advantage"], "clip_asymmetry": ["advantage", "clipped_low", "clipped_high"],
                "spikes": [], "mismatch": []}
    for name, missing in expected.items():
        level = next(a["level"] for a in catalogue() if a["name"] == name)
        answer = run_analysis(name, imported_like, step=1 if level == "step" else None)
        assert answer["missing"] == missing, name
        assert (answer["result"] is None) == bool(missing), name
        assert answer["paper"] and answer["explanation"]


def test_spikes_by_threshold_over_sqrt_tokens_and_by_z_score(engine_like):
    tokens = 18.0
    # grad_norm 50 > τ/√18 for τ = 100 (100/4.24 = 23.6); 1.1 is not.
    result = run_analysis("spikes", engine_like, threshold=100.0)["result"]
    assert [s["step"] for s in result["spikes"]] == [3]
    assert result["spikes"][0]["scaled"] == pytest.approx(50.0 * math.sqrt(tokens))
    verdicts = scan([1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 8.0], None, SpikeRule(z=3.0, min_history=5))
    assert [v.spike for v in verdicts] == [False] * 6 + [True]
    assert verdicts[-1].z > 3.0 and math.isnan(verdicts[0].z)


def test_forking_tokens_share_of_the_push(engine_like):
    result = run_analysis("forking", engine_like, step=1, rho=0.25)["result"]
    table = engine_like.step_table(1)
    entropy = table.column("entropy").to_numpy()
    g = np.abs(table.column("grad_coef").to_numpy())
    top = entropy >= np.quantile(entropy, 0.75)
    assert result["top_count"] == int(top.sum())
    assert result["push_share"] == pytest.approx(g[top].sum() / g.sum())
    assert sum(result["histogram"]["counts"]) == len(entropy)


def test_difficulty_per_prompt(engine_like):
    result = run_analysis("difficulty", engine_like, step=1)["result"]
    rows = {r["prompt"]: r for r in result["prompts"]}
    assert rows[0]["accuracy"] == 1.0 and rows[0]["bucket"] == "easy"
    assert rows[1]["accuracy"] == 0.5 and rows[1]["bucket"] == "medium"
    assert rows[1]["advantage_scale"] == pytest.approx(0.5)
    assert sum(r["push_share"] for r in rows.values()) == pytest.approx(1.0)
    assert {v["label"] for v in result["variants"]} >= {"HA-DW"}


def test_length_bias_slope_is_zero_for_sequence_mean(engine_like):
    result = run_analysis("length_bias", engine_like, step=1)["result"]
    assert result["length"] == [5.0, 3.0, 5.0, 5.0]
    assert result["total_weight"] == pytest.approx([0.25] * 4)
    assert result["slope"] == pytest.approx(0.0, abs=1e-5)  # float32 weights
    assert any(m["hparams"]["loss_aggregation"] == "token-mean" for m in result["modes"])


def test_mismatch_concentrates_where_it_was_put(engine_like):
    result = run_analysis("mismatch", engine_like, step=1, buckets=5)["result"]
    assert result["train_column"] == "old_logprob"
    assert result["max"] == pytest.approx(0.05, rel=1e-3)
    assert all(t["position"] == 4 for t in result["top"][:3])
    assert result["by_position"][-1] > 0.01 and result["by_position"][0] == pytest.approx(0.0, abs=1e-6)


def test_clip_asymmetry_splits_by_sign_and_side(engine_like):
    result = run_analysis("clip_asymmetry", engine_like)["result"]
    tokens = 18
    assert result["step"] == [1, 2, 3]
    assert result["pos_high"] == pytest.approx([1 / tokens] * 3)
    assert result["neg_low"] == pytest.approx([1 / tokens] * 3)
    assert result["pos_low"] == [0.0] * 3 and result["neg_high"] == [0.0] * 3


def test_bad_parameters_name_themselves(engine_like):
    with pytest.raises(ValueError, match="rho"):
        run_analysis("forking", engine_like, step=1, rho=3)
    with pytest.raises(ValueError, match="bogus"):
        run_analysis("forking", engine_like, step=1, bogus=1)

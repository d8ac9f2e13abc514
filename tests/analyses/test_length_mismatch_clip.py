"""Length bias under every aggregation mode, TIS/MIS on a step, length drift across a runs folder and
clip asymmetry over a run: the server's numbers against a direct computation on the stored data."""
from __future__ import annotations

import math

import numpy as np
import pytest
from fastapi.testclient import TestClient

from unipo.analyses.length_bias import MODES, fit
from unipo.runs import RunReader


def test_modes_are_every_aggregation_of_the_algorithms():
    from unipo.algorithms.aggregation import AGGREGATIONS
    assert set(MODES) == set(AGGREGATIONS)


def test_fit_of_weight_against_length():
    lengths = np.array([2.0, 4.0, 8.0])
    found = fit(lengths, lengths * 0.1)
    assert found["slope"] == pytest.approx(0.1) and found["correlation"] == pytest.approx(1.0)
    assert found["log_slope"] == pytest.approx(1.0)
    flat = fit(lengths, np.full(3, 0.25) + np.array([0, 1e-9, 0]))  # float32 round-off, not a trend
    assert flat["correlation"] is None and flat["slope"] == pytest.approx(0.0, abs=1e-8)
    assert fit(np.array([3.0, 3.0]), np.array([1.0, 2.0]))["slope"] is None


@pytest.fixture(scope="module")
def served(tmp_path_factory, analysis_run):
    write_run = analysis_run
    from unipo.server import create_app
    root = tmp_path_factory.mktemp("runs")
    write_run(root / "small-mismatch")
    write_run(root / "large-mismatch", mismatch=1.0, vary_clip=True, length_mean=[4.0, 5.0, 7.0])
    write_run(root / "other-algo", algorithm="dr_grpo", length_mean=[6.0, 5.0, 4.0])
    write_run(root / "imported", full=False)
    write_run(root / "no-sampler", sampling=False)
    with TestClient(create_app([root])) as client:
        yield root, client


@pytest.mark.slow
def test_length_bias_table_under_every_aggregation_mode(served):
    root, client = served
    answer = client.get("/api/runs/small-mismatch/analyses/length_bias/modes?step=1")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # The stored mask, read directly: response 1 has 3 tokens, the others 5.
    table = RunReader(root / "small-mismatch").step(1)
    lengths = np.bincount(table.column("response").to_numpy(), minlength=4).astype(float)
    assert body["responses"] == [0, 1, 2, 3] and body["length"] == lengths.tolist()
    n, total, t = len(lengths), lengths.sum(), lengths.max()
    expected = {"seq-mean-token-mean": np.full(n, 1 / n), "token-mean": lengths / total,
                "token-mean-local": lengths / total, "seq-mean-token-sum": lengths / n}
    by_mode = {m["mode"]: m for m in body["modes"]}
    assert set(by_mode) == {"stored", *MODES}
    for mode, totals in expected.items():
        assert by_mode[mode]["total_weight"] == pytest.approx(totals.tolist(), rel=1e-5), mode
    # Dr. GRPO's constant normaliser: Σ weight ∝ length (same weight per token in every response).
    per_token = np.asarray(by_mode["seq-mean-token-sum-norm"]["total_weight"]) / lengths
    assert np.ptp(per_token) < 1e-6 * per_token.max()
    # Fits: sequence-mean is length-neutral; token-mean has slope 1/total and correlation 1.
    assert by_mode["seq-mean-token-mean"]["slope"] == pytest.approx(0.0, abs=1e-6)
    assert by_mode["seq-mean-token-mean"]["correlation"] is None
    assert by_mode["token-mean"]["slope"] == pytest.approx(1 / total, rel=1e-4)
    assert by_mode["token-mean"]["correlation"] == pytest.approx(1.0, abs=1e-6)
    assert by_mode["seq-mean-token-sum"]["log_slope"] == pytest.approx(1.0, abs=1e-4)
    # The stored column is the stored weights, summed directly.
    stored = np.bincount(table.column("response").to_numpy(), weights=table.column("weight").to_numpy(), minlength=4)
    assert by_mode["stored"]["total_weight"] == pytest.approx(stored.tolist(), rel=1e-6)


def _push(client, run, step, **hparams):
    query = "&".join(f"{k}={v}" for k, v in hparams.items())
    payload = client.get(f"/api/runs/{run}/steps/{step}/whatif?algo=grpo&{query}").json()
    assert "tokens" in payload, payload
    return np.asarray(payload["tokens"]["grad_coef"], dtype=float), payload["tokens"]["offsets"]


@pytest.mark.slow
def test_tis_and_mis_against_the_mismatch_weight_computed_directly(served):
    root, client = served
    body = client.get("/api/runs/large-mismatch/analyses/mismatch/corrections?step=1").json()
    rows = {r["label"]: r for r in body["rows"]}
    g0, offsets = _push(client, "large-mismatch", 1)  # grpo: is_correction defaults to none
    # The sampler scored every last-position (4) token 1 nat higher: ρ = e^(ℓ_old − ℓ_samp) = e^−1 there.
    position = np.concatenate([np.arange(b - a) for a, b in zip(offsets[:-1], offsets[1:])])
    last = position == 4
    rho = math.exp(-1.0)
    # TIS (token, truncate at C_max = 2): ρ = e^−1 stays; g scales by ρ on those tokens only.
    tis = rows["TIS (token, truncate at 2)"]
    assert tis["abs_dg_max"] == pytest.approx(np.abs(g0[last]).max() * (1 - rho), rel=1e-4)
    assert tis["relative_dg"] == pytest.approx(np.abs(g0[last]).sum() * (1 - rho) / np.abs(g0).sum(), rel=1e-4)
    assert tis["push_flips"] == 0 and tis["zeroed"] == 0
    assert tis["is_weight"]["min"] == pytest.approx(rho, rel=1e-5)
    # MIS (token, mask outside [0.5, 2]): e^−1 < 0.5, so those tokens' push is zeroed.
    mis = rows["MIS (token, mask outside [0.5, 2])"]
    assert mis["zeroed"] == int((last & (g0 != 0)).sum()) and mis["zeroed"] > 0
    assert mis["abs_dg_max"] == pytest.approx(np.abs(g0[last]).max(), rel=1e-5)
    # MIS per sequence: a 5-token response's ρ_i = e^−1 (masked whole); the 3-token one keeps ρ = 1.
    seq = rows["MIS (sequence, mask outside [0.5, 2])"]
    full = np.repeat(np.diff(offsets) == 5, np.diff(offsets))
    assert seq["zeroed"] == int((full & (g0 != 0)).sum())
    assert rows["no correction"]["push_flips"] == 0


def test_corrections_say_when_the_sampler_log_probs_are_missing(served):
    root, client = served
    answer = client.get("/api/runs/no-sampler/analyses/mismatch/corrections?step=1")
    assert answer.status_code == 200
    assert answer.json()["missing"] == ["sampling_logprob"] and answer.json()["rows"] == []
    assert client.get("/api/runs/no-sampler/analyses/mismatch?step=1").json()["missing"] == ["sampling_logprob"]


def test_mismatch_distribution_by_entropy_and_histogram(served):
    root, client = served
    result = client.get("/api/runs/large-mismatch/analyses/mismatch?step=1&buckets=4").json()["result"]
    table = RunReader(root / "large-mismatch").step(1)
    delta = np.abs(table.column("old_logprob").to_numpy() - table.column("sampling_logprob").to_numpy())
    entropy = table.column("entropy").to_numpy()
    assert sum(result["histogram"]["counts"]) == len(delta)
    assert result["histogram"]["counts"][-1] == int((delta > 0.75 * delta.max()).sum())
    order = np.argsort(entropy, kind="stable")
    expected = [float(delta[part].mean()) for part in np.array_split(order, 4)]
    assert [b["mean"] for b in result["by_entropy"]] == pytest.approx(expected, rel=1e-5)
    assert sum(b["share"] for b in result["by_entropy"]) == pytest.approx(1.0)


def test_length_drift_across_the_runs_folder(served):
    root, client = served
    runs = {r["run"]: r for r in client.get("/api/runs/small-mismatch/analyses/length_over_run/folder").json()["runs"]}
    assert set(runs) == {"small-mismatch", "large-mismatch", "other-algo", "imported", "no-sampler"}
    assert runs["other-algo"]["algorithm"] == "dr_grpo"
    for name, values in (("large-mismatch", [4.0, 5.0, 7.0]), ("other-algo", [6.0, 5.0, 4.0])):
        assert runs[name]["response_length_mean"] == values
        assert runs[name]["trend_per_100"] == pytest.approx(np.polyfit([1, 2, 3], values, 1)[0] * 100)
        assert (runs[name]["first"], runs[name]["last"]) == (values[0], values[-1])


def test_clip_asymmetry_over_the_run_against_the_stored_columns(served):
    root, client = served
    result = client.get("/api/runs/large-mismatch/analyses/clip_asymmetry").json()["result"]
    reader = RunReader(root / "large-mismatch")
    assert result["step"] == reader.steps()
    for i, n in enumerate(reader.steps()):
        t = reader.step(n)
        a, hi, lo = (t.column(c).to_numpy() for c in ("advantage", "clipped_high", "clipped_low"))
        total = len(a)
        assert result["pos_high"][i] == pytest.approx(((a > 0) & (hi > 0)).sum() / total)
        assert result["neg_high"][i] == pytest.approx(((a < 0) & (hi > 0)).sum() / total)
        assert result["neg_low"][i] == pytest.approx(((a < 0) & (lo > 0)).sum() / total)
        assert result["pos_low"][i] == pytest.approx(((a > 0) & (lo > 0)).sum() / total)
    assert result["neg_high"] == pytest.approx([0.0, 1 / 18, 2 / 18])  # vary_clip: s − 1 tokens at step s

"""Paged steps: the summary computed over the whole step, pages of the server-sorted response order,
and token columns as Arrow IPC (decoded here with pyarrow), checked against the whole-step JSON."""
import importlib.util
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from unipo.runs import RunWriter
from unipo.server import create_app

ARROW = "application/vnd.apache.arrow.stream"


def _fake_record(**options):
    spec = importlib.util.spec_from_file_location("fake_steps", Path(__file__).parents[1] / "runs" / "fake_steps.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.fake_record(**options)


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory) -> Path:
    """One step of 60 responses (some empty) with every term, rewards 0/1 and varied lengths."""
    root = tmp_path_factory.mktemp("wide") / "runs"
    with RunWriter.create(root / "wide", {"name": "wide", "task": {"name": "t"}, "model": {"name": "m"},
                                          "seed": 0, "config": {}}) as writer:
        record = _fake_record(n=60, t=12, seed=4, group_size=4, empty=(7, 30))
        grad = -np.asarray(record.terms["weight"]) * np.asarray(record.terms["advantage"])
        record.terms["grad_coef"] = grad
        writer.write_update(1, record, {"policy_loss": 0.1})
    return root


@pytest.fixture
def wide(wide_run):
    with TestClient(create_app([wide_run])) as client:
        yield client


def arrow(response) -> pa.Table:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == ARROW
    return pa.ipc.open_stream(response.content).read_all()


def per_response_sums(whole: dict, name: str, transform=lambda v: v) -> np.ndarray:
    offsets = whole["tokens"]["offsets"]
    values = np.asarray([np.nan if v is None else v for v in whole["tokens"][name]], dtype=np.float64)
    return np.array([np.sum(transform(values[a:b])) for a, b in zip(offsets[:-1], offsets[1:])])


def all_rows(client, query: str = "", limit: int = 7) -> dict:
    """Every row of an order, stitched from pages of `limit`."""
    rows: dict = {}
    offset, total = 0, None
    while total is None or offset < total:
        page = client.get(f"/api/runs/wide/steps/1/responses?offset={offset}&limit={limit}{query}").json()
        total = page["total"]
        for name, values in page["rows"].items():
            rows.setdefault(name, []).extend(values)
        offset += limit
    return rows


def test_summary_rows_match_the_whole_step(wide):
    whole = wide.get("/api/runs/wide/steps/1").json()
    summary = wide.get("/api/runs/wide/steps/1/summary").json()
    assert summary["paged"] is True
    assert summary["response_count"] == 60 and summary["token_count"] == whole["tokens"]["offsets"][-1]
    rows = all_rows(wide, limit=1000)
    assert rows["response"] == list(range(60))
    assert np.allclose(rows["weight_sum"], per_response_sums(whole, "weight"), atol=1e-7)
    assert np.allclose(rows["grad_coef_abs_sum"], per_response_sums(whole, "grad_coef", np.abs), atol=1e-7)
    clipped = per_response_sums(whole, "clipped", lambda v: v > 0)
    assert rows["clip_count"] == clipped.tolist() and sum(rows["clip_count"]) > 0
    offsets = whole["tokens"]["offsets"]
    w = np.asarray(whole["tokens"]["weight"], dtype=np.float64)
    o = np.asarray(whole["tokens"]["token_objective"], dtype=np.float64)
    share = [abs(np.sum(w[a:b] * o[a:b])) for a, b in zip(offsets[:-1], offsets[1:])]
    assert np.allclose(rows["objective_abs"], share, atol=1e-9)
    assert rows["reward"] == whole["responses"]["reward"]
    assert rows["token_count"][7] == 0 and rows["advantage"][7] is None
    first_advantage = [whole["tokens"]["advantage"][a] for a, b in zip(offsets[:-1], offsets[1:]) if b > a]
    assert np.allclose([v for v in rows["advantage"] if v is not None], first_advantage)


def test_summary_stats_and_checks_are_the_whole_steps(wide):
    whole = wide.get("/api/runs/wide/steps/1").json()
    summary = wide.get("/api/runs/wide/steps/1/summary?stats=ratio").json()
    assert "ratio" in summary["stat_columns"] and "kl" not in summary["stats"]  # only what was asked
    ratio = np.asarray(whole["tokens"]["ratio"], dtype=np.float64)
    stats = summary["stats"]["ratio"]
    assert stats["count"] == len(ratio)
    for q in ("0", "0.05", "0.5", "0.98", "1"):
        assert stats["quantiles"][q] == pytest.approx(np.quantile(ratio, float(q)), rel=1e-6)
    histogram = stats["histogram"]
    assert sum(histogram["counts"]) + histogram["below"] + histogram["above"] == len(ratio)
    low, high = histogram["edges"][0], histogram["edges"][-1]
    assert low == pytest.approx(np.quantile(ratio, 0.01)) and high == pytest.approx(np.quantile(ratio, 0.99))
    assert histogram["counts"] == np.histogram(ratio, bins=40, range=(low, high))[0].tolist()
    checks, expected = wide.get("/api/runs/wide/steps/1/checks").json(), whole["checks"]
    assert checks["objective_residual"] is None  # the per-token array stays on the server
    for key in ("objective_ok", "objective_mismatches", "loss_ok", "loss_logged", "composition"):
        assert checks[key] == expected[key], key
    assert checks["loss_from_terms"] == pytest.approx(expected["loss_from_terms"], rel=1e-9)


@pytest.mark.parametrize("key", ["reward", "advantage", "length", "clip_count", "objective_abs", "grad_coef_abs_sum"])
@pytest.mark.parametrize("desc", [False, True])
def test_sorting_runs_over_the_whole_step(wide, key, desc):
    base = all_rows(wide, limit=1000)
    rows = all_rows(wide, f"&sort={key}&desc={'true' if desc else 'false'}")
    values = np.array([np.nan if v is None else v for v in base[key]], dtype=np.float64)
    present = np.flatnonzero(~np.isnan(values))
    ranked = present[np.argsort(-values[present] if desc else values[present], kind="stable")]
    expected = [*ranked.tolist(), *np.flatnonzero(np.isnan(values)).tolist()]
    assert rows["response"] == expected


def test_filters_keep_exactly_the_matching_responses(wide):
    base = all_rows(wide, limit=1000)
    rows = all_rows(wide, "&sort=length&min_reward=1&max_length=6&min_clip_count=0")
    expected = {i for i in range(60) if base["reward"][i] >= 1 and base["length"][i] <= 6}
    assert set(rows["response"]) == expected and 0 < len(expected) < 60
    truncated = all_rows(wide, "&truncated=true")
    assert set(truncated["response"]) == {i for i in range(60) if base["truncated"][i]}


def test_token_pages_are_arrow_with_the_whole_steps_values(wide):
    whole = wide.get("/api/runs/wide/steps/1").json()
    offsets = whole["tokens"]["offsets"]
    table = arrow(wide.get("/api/runs/wide/steps/1/tokens?responses=12,3,7&columns=token,ratio,entropy_rank,clipped"))
    assert table.column_names == ["response", "position", "token", "ratio", "entropy_rank", "clipped"]
    got = table.to_pydict()
    expected_rows = [*range(offsets[12], offsets[13]), *range(offsets[3], offsets[4])]  # 7 is empty
    assert got["response"] == [12] * (offsets[13] - offsets[12]) + [3] * (offsets[4] - offsets[3])
    for name in ("token", "clipped"):
        assert got[name] == [whole["tokens"][name][i] for i in expected_rows], name
    for name in ("ratio", "entropy_rank"):
        assert np.allclose(got[name], [whole["tokens"][name][i] for i in expected_rows], atol=1e-6), name
    both = arrow(wide.get("/api/runs/wide/steps/1/tokens?responses=3&columns=entropy,entropy_rank"))
    assert both.column_names == ["response", "position", "entropy", "entropy_rank"]
    every = arrow(wide.get("/api/runs/wide/steps/1/tokens?responses=0"))
    assert "grad_coef" in every.column_names and "prompt_text" not in every.column_names


@pytest.mark.parametrize("query, status, starts", [
    ("responses=1,x", 400, "responses"), ("", 400, "responses"), ("responses=99", 404, "step 1"),
    ("responses=1&columns=nope", 400, "columns"),
])
def test_bad_token_page_requests_name_the_parameter(wide, query, status, starts):
    answer = wide.get(f"/api/runs/wide/steps/1/tokens?{query}")
    assert answer.status_code == status and answer.json()["error"].startswith(starts)


@pytest.mark.parametrize("query, starts", [("sort=nope", "sort"), ("limit=0", "limit"), ("min_x=1", "min_x"),
                                           ("min_reward=abc", "min_reward"), ("truncated=maybe", "truncated")])
def test_bad_order_requests_name_the_parameter(wide, query, starts):
    answer = wide.get(f"/api/runs/wide/steps/1/responses?{query}")
    assert answer.status_code == 400 and answer.json()["error"].startswith(starts)


def test_a_large_step_is_refused_as_one_json_payload(wide):
    wide.app.state.steps.whole_step_token_limit = 100
    answer = wide.get("/api/runs/wide/steps/1")
    assert answer.status_code == 413 and "/steps/1/{summary" in answer.json()["error"]
    assert wide.get("/api/runs/wide/steps/1/summary").status_code == 200


def test_checks_of_the_fixture_run_keep_relations(client):
    whole = client.get("/api/runs/alpha/steps/2").json()
    checks = client.get("/api/runs/alpha/steps/2/checks").json()
    assert checks["relations"] == whole["checks"]["relations"]
    assert any(r["status"] == "holds" for r in checks["relations"])
    assert client.get("/api/runs/alpha/steps/9/summary").status_code == 404
    assert client.get("/api/runs/alpha/steps/9/checks").status_code == 404


def test_summary_of_a_streamed_two_rank_step_sums_each_response_once(tmp_path):
    # The summary reduces the step a row group at a time: a step streamed in parts (a row group
    # each) over two ranks must give the same per-response sums as the whole step read at once.
    from types import SimpleNamespace

    from unipo.runs import RankWriter, RunReader
    from unipo.server.step_summary import build_summary
    spec = importlib.util.spec_from_file_location("fake_steps", Path(__file__).parents[1] / "runs" / "fake_steps.py")
    fakes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fakes)
    run = tmp_path / "streamed"
    writer = RunWriter.create(run, {"world_size": 2})
    records = [fakes.fake_record(n=12, t=10, seed=s, group_size=4, empty=(5,)) for s in (1, 2)]
    for record in records:
        record.terms["grad_coef"] = -np.asarray(record.terms["weight"]) * np.asarray(record.terms["advantage"])
    with writer.step_stream(1) as sink:
        for start in (0, 4, 8):
            sink.append(fakes.part_of(records[0], start, start + 4))
    RankWriter(run, 1).write_step(1, records[1])
    reader = RunReader(run)
    summary = build_summary(SimpleNamespace(reader=reader, path=run), 1)
    whole = reader.step(1)
    ids = whole.column("response").to_numpy()
    n = reader.responses(1).num_rows
    weight = whole.column("weight").to_numpy(zero_copy_only=False).astype(np.float64)
    grad = whole.column("grad_coef").to_numpy(zero_copy_only=False).astype(np.float64)
    assert n == 24 and summary.rows["token_count"][5] == 0
    np.testing.assert_allclose(summary.rows["weight_sum"], np.bincount(ids, np.nan_to_num(weight), minlength=n),
                               atol=1e-9)
    np.testing.assert_allclose(summary.rows["grad_coef_abs_sum"],
                               np.bincount(ids, np.abs(np.nan_to_num(grad)), minlength=n), atol=1e-9)
    assert summary.stats["grad_coef"]["count"] == int(np.isfinite(grad).sum())

import numpy as np

from unipo.server.metrics_view import metrics_payload


def test_metrics_route_returns_every_logged_update(client):
    body = client.get("/api/runs/alpha/metrics").json()
    assert body["step"] == [1, 2, 3]
    assert body["columns"]["loss"] == [0.5, 0.25, 0.5 / 3]
    assert body["downsampled"] is False and body["total"] == 3


def test_metrics_window_and_column_subset(client):
    body = client.get("/api/runs/alpha/metrics?start=2&end=3&columns=loss").json()
    assert body["step"] == [2, 3]
    assert list(body["columns"]) == ["loss"]


def test_metrics_bad_parameters_are_json_400(client):
    for query, fragment in [("max_points=1", "max_points"), ("start=5&end=1", "before start"),
                            ("columns=nope", "no metric named 'nope'"), ("max_points=abc", "max_points")]:
        response = client.get(f"/api/runs/alpha/metrics?{query}")
        assert response.status_code == 400, query
        assert fragment in response.json()["error"]


def test_downsampling_keeps_columns_aligned_and_full_resolution_in_a_small_window():
    steps = np.arange(1, 100_001)
    rng = np.random.default_rng(0)
    columns = {"loss": rng.normal(size=100_000), "kl": rng.random(100_000),
               "phase": np.array(["a"] * 100_000, dtype=object)}
    columns["loss"][12_345] = 99.0
    whole = metrics_payload(steps, columns, max_points=1_000)
    assert whole["downsampled"] and whole["total"] == 100_000
    assert len(whole["step"]) <= 1_000
    assert all(len(values) == len(whole["step"]) for values in whole["columns"].values())
    assert 12_346 in whole["step"].tolist()  # the spike's step
    chosen = whole["step"] - 1
    assert np.array_equal(whole["columns"]["kl"], columns["kl"][chosen])

    window = metrics_payload(steps, columns, max_points=1_000, start=5_000, end=5_999)
    assert not window["downsampled"] and window["step"].tolist() == list(range(5_000, 6_000))


def test_missing_values_come_back_as_null(tmp_path):
    from fastapi.testclient import TestClient

    from unipo.server import create_app
    from server_run_fixtures import write_run

    writer = write_run(tmp_path / "gaps", steps=1, finish=False)
    writer.append_metrics(2, {"loss": float("nan"), "note": "warm-up"})
    with TestClient(create_app([tmp_path / "gaps"])) as client:
        body = client.get("/api/runs/gaps/metrics").json()
    assert body["columns"]["loss"][1] is None
    assert body["columns"]["reward_mean"] == [0.1, None]
    assert body["columns"]["note"] == [None, "warm-up"]


def test_a_line_in_flight_is_not_read_until_complete(tmp_path):
    from fastapi.testclient import TestClient

    from server_run_fixtures import write_run
    from unipo.server import create_app

    write_run(tmp_path / "live", steps=2, finish=False)
    metrics = tmp_path / "live" / "metrics.jsonl"
    with TestClient(create_app([tmp_path / "live"])) as client:
        assert client.get("/api/runs/live/metrics").json()["step"] == [1, 2]
        with open(metrics, "ab") as handle:
            handle.write(b'{"step": 3, "loss": 0.')
        assert client.get("/api/runs/live/metrics").json()["step"] == [1, 2]
        with open(metrics, "ab") as handle:
            handle.write(b'125}\n')
        body = client.get("/api/runs/live/metrics").json()
        assert body["step"] == [1, 2, 3] and body["columns"]["loss"][2] == 0.125


def test_a_malformed_metrics_line_is_a_json_error_naming_the_line(tmp_path):
    from fastapi.testclient import TestClient

    from server_run_fixtures import write_run
    from unipo.server import create_app

    write_run(tmp_path / "bad", steps=1)
    with open(tmp_path / "bad" / "metrics.jsonl", "ab") as handle:
        handle.write(b"{not json}\n")
    with TestClient(create_app([tmp_path / "bad"])) as client:
        response = client.get("/api/runs/bad/metrics")
    assert response.status_code == 422
    assert "metrics.jsonl: line 2" in response.json()["error"]

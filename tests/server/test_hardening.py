"""Binding beyond loopback, symlinks out of a run, out-of-range parameters, the bounded heavy queue."""
from __future__ import annotations

import json
import os
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from server_run_fixtures import LiveServer
from unipo.cli import main
from unipo.server import create_app
from unipo.server.serve import plan_serving


# -- 1. --host beyond loopback: warning, real addresses, Host allow-list, token -------------------
def test_wildcard_bind_plans_a_token_a_warning_and_a_host_allow_list():
    plan = plan_serving("0.0.0.0", allow_hosts=["box.lan"], addresses=["127.0.0.1", "10.1.2.3"])
    assert plan.token and len(plan.token) >= 32
    assert any("WARNING" in line and "0.0.0.0" in line for line in plan.warnings)
    assert plan.allowed_hosts is not None
    assert {"127.0.0.1", "localhost", "::1", "10.1.2.3", "box.lan"} <= set(plan.allowed_hosts)
    assert "evil.example" not in plan.allowed_hosts
    urls = plan.urls(8123)
    assert f"http://10.1.2.3:8123/?token={plan.token}" in urls
    assert all(url.endswith(f"?token={plan.token}") for url in urls)


def test_loopback_default_needs_no_token_and_no_token_is_loud():
    plan = plan_serving("127.0.0.1")
    assert plan.token is None and plan.warnings == [] and "evil.example" not in plan.allowed_hosts
    assert plan_serving("127.0.0.1", token=True).token
    bare = plan_serving("10.0.0.5", token=False)
    assert bare.token is None and "10.0.0.5" in bare.allowed_hosts
    assert any("NO ACCESS TOKEN" in line for line in bare.warnings)


def test_serve_command_passes_allow_host_and_token_flags(monkeypatch, runs_dir):
    seen = {}
    monkeypatch.setattr("unipo.server.serve", lambda paths, **options: seen.update(options))
    assert main(["serve", str(runs_dir), "--host", "0.0.0.0", "--allow-host", "a.lan", "--allow-host", "b",
                 "--no-token", "--no-browser"]) == 0
    assert seen["host"] == "0.0.0.0" and seen["allow_hosts"] == ["a.lan", "b"] and seen["token"] is False
    assert main(["serve", str(runs_dir), "--token", "--no-browser"]) == 0 and seen["token"] is True
    assert main(["serve", str(runs_dir), "--no-browser"]) == 0 and seen["token"] is None


@pytest.fixture
def guarded(runs_dir, tmp_path):
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html><title>app</title>")
    app = create_app([runs_dir], web_dir=web, token="s3cret-token", poll_interval_s=0.05,
                     allowed_hosts=plan_serving("0.0.0.0", addresses=["10.1.2.3"]).allowed_hosts)
    with TestClient(app, base_url="http://10.1.2.3:8000") as client:
        yield client


def test_every_route_needs_the_token(guarded):
    for path in ("/", "/index.html", "/api/runs", "/api/runs/alpha/metrics", "/api/runs/alpha/steps/1",
                 "/api/algorithms", "/api/runs/alpha/events", "/api/docs", "/api/nothing"):
        response = guarded.get(path)
        assert response.status_code == 401, path
        assert "token" in response.json()["error"], path
    wrong = guarded.get("/api/runs?token=nope")
    assert wrong.status_code == 403 and "error" in wrong.json()
    assert guarded.get("/api/runs", headers={"Authorization": "Bearer nope"}).status_code == 403


def test_token_in_the_url_sets_a_strict_http_only_cookie(guarded):
    first = guarded.get("/?token=s3cret-token")
    assert first.status_code == 200 and "app" in first.text
    cookie = first.headers["set-cookie"]
    assert "unipo_token=s3cret-token" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # The web app's later fetches carry only the cookie (the TestClient keeps it).
    assert guarded.get("/api/runs").status_code == 200
    guarded.cookies.clear()
    assert guarded.get("/api/runs").status_code == 401
    assert guarded.get("/api/runs", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    # The token is no hyper-parameter of a what-if.
    assert guarded.get("/api/runs/alpha/steps/1/whatif?algo=dapo&token=s3cret-token").status_code == 200


def test_host_check_stays_on_when_bound_beyond_loopback(guarded):
    refused = guarded.get("/api/runs?token=s3cret-token", headers={"host": "evil.example:8000"})
    assert refused.status_code == 400 and "--allow-host" in refused.json()["error"]
    assert guarded.get("/api/runs?token=s3cret-token", headers={"host": "localhost:8000"}).status_code == 200


def test_sse_stream_works_with_the_cookie(runs_dir):
    app = create_app([runs_dir], token="tok", poll_interval_s=0.05)
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.get("/api/runs/alpha/events").status_code == 401
        assert http.get("/api/runs?token=tok").status_code == 200  # sets the cookie in the client
        with http.stream("GET", "/api/runs/alpha/events?since=1") as stream:
            assert stream.status_code == 200
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    assert json.loads(line[6:]) == {"run": "alpha", "step": 2}
                    break


# -- 2. symlinks out of a run --------------------------------------------------------------------
def test_metrics_jsonl_linked_outside_the_run_is_not_read(tmp_path, runs_dir):
    outside = tmp_path / "outside-metrics.jsonl"
    outside.write_text('{"step": 1, "stolen": 42}\n')
    (runs_dir / "alpha" / "metrics.jsonl").unlink()
    os.symlink(outside, runs_dir / "alpha" / "metrics.jsonl")
    with TestClient(create_app([runs_dir])) as client:
        body = client.get("/api/runs/alpha/metrics").json()
        assert "stolen" not in body["columns"] and body["total"] == 0
        assert "stolen" not in client.get("/api/runs/alpha/steps/1").text
        assert client.get("/api/runs/alpha").status_code == 200


def test_run_json_linked_outside_the_run_is_not_served(tmp_path, runs_dir):
    outside = tmp_path / "outside-run.json"
    outside.write_text((runs_dir / "beta" / "run.json").read_text().replace('"beta"', '"SECRET-HEADER"'))
    (runs_dir / "beta" / "run.json").unlink()
    os.symlink(outside, runs_dir / "beta" / "run.json")
    with TestClient(create_app([runs_dir])) as client:
        listing = client.get("/api/runs")
        assert [run["id"] for run in listing.json()] == ["alpha"] and "SECRET-HEADER" not in listing.text
        assert client.get("/api/runs/beta").status_code == 404


def test_run_json_relinked_after_start_is_refused(tmp_path, runs_dir, client):
    assert client.get("/api/runs/beta").status_code == 200
    outside = tmp_path / "outside-run.json"
    outside.write_text((runs_dir / "beta" / "run.json").read_text().replace('"beta"', '"SECRET-HEADER"'))
    (runs_dir / "beta" / "run.json").unlink()
    os.symlink(outside, runs_dir / "beta" / "run.json")
    for path in ("/api/runs", "/api/runs/beta", "/api/runs/beta/algorithm"):
        response = client.get(path)
        assert "SECRET-HEADER" not in response.text and response.status_code in (200, 404), path


# -- 3. out-of-range parameters, imported algorithm headers --------------------------------------
def test_out_of_range_numbers_are_400_naming_the_parameter(client):
    cases = {
        "/api/runs/alpha/steps/1/responses/2147483648": "response",
        "/api/runs/alpha/steps/1/prompts/-2147483649": "prompt",
        "/api/runs/alpha/steps/99999999999999999999": "step",
        "/api/runs/alpha/steps/1/whatif?algo=ppo&epsilon=" + "9" * 4300: "epsilon",
        "/api/runs/alpha/steps/1/whatif?algo=ppo&epsilon=" + "9" * 150: "epsilon",
        "/api/runs/alpha/steps/1/whatif?algo=ppo&epsilon=1e999": "epsilon",
        "/api/runs/alpha/steps/1/whatif?algo=dapo&gfpo_keep=1e300": "gfpo_keep",
        "/api/runs/alpha/metrics?start=" + "9" * 30: "start",
    }
    for url, name in cases.items():
        response = client.get(url)
        assert response.status_code == 400, (url[:80], response.status_code, response.text[:200])
        assert name in response.json()["error"], url[:80]


def test_huge_last_event_id_is_ignored_not_a_500(live_server):
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        with http.stream("GET", "/api/runs/alpha/events", headers={"Last-Event-ID": "9" * 5000}) as stream:
            assert stream.status_code == 200


def _set_algorithm(run_dir, algorithm):
    header = json.loads((run_dir / "run.json").read_text())
    header["algorithm"] = algorithm
    (run_dir / "run.json").write_text(json.dumps(header))


def test_imported_name_and_hyperparameters_header_maps_onto_the_preset(runs_dir, client):
    _set_algorithm(runs_dir / "alpha", {"name": "grpo", "hyperparameters": {"epsilon": 0.3, "beta": 0.0,
                                                                            "learning_rate": 1e-6}})
    response = client.get("/api/runs/alpha/algorithm")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "grpo" and body["source"] == "preset" and body["formula"]
    assert body["hparams"]["epsilon"] == 0.3 and body["hparams"]["beta"] == 0.0
    assert list(body["ignored_hparams"]) == ["learning_rate"] and body["notes"]
    # The step checks use the same spec (card relations are present).
    assert "relations" in client.get("/api/runs/alpha/steps/1").json()["checks"]


def test_header_algorithm_that_cannot_be_described_is_a_404_with_the_reason(runs_dir, client):
    _set_algorithm(runs_dir / "alpha", {"name": "my-own-thing", "hyperparameters": {}})
    response = client.get("/api/runs/alpha/algorithm")
    assert response.status_code == 404 and "my-own-thing" in response.json()["error"]
    _set_algorithm(runs_dir / "beta", {"format": "unipo-algorithm/1", "name": "grpo", "hparams": {"epsilon": 10**400}})
    response = client.get("/api/runs/beta/algorithm")
    assert response.status_code == 404 and "cannot be described" in response.json()["error"]
    assert client.get("/api/runs/alpha/algorithm").json()["error"]  # stable on a second ask (cached)
    header_algorithm_ok = client.get("/api/runs/alpha")
    assert header_algorithm_ok.status_code == 200


# -- 4. heavy work is bounded and never delays light routes ---------------------------------------
def test_saturated_heavy_queue_answers_503_and_light_routes_still_answer(runs_dir):
    app = create_app([runs_dir], poll_interval_s=0.05, heavy_workers=1, heavy_queue=1)
    service = app.state.steps
    release = threading.Event()
    real_payload = service.payload_bytes

    def blocked_payload(entry, step):
        release.wait(20)
        return real_payload(entry, step)

    service.payload_bytes = blocked_payload
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=20) as http:
        answers = {}

        def fetch(step):
            answers[step] = http.get(f"/api/runs/alpha/steps/{step}").status_code

        waiting = [threading.Thread(target=fetch, args=(step,)) for step in (1, 2)]
        try:
            for thread in waiting:
                thread.start()
            deadline = time.monotonic() + 10
            while service.heavy.in_flight < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert service.heavy.in_flight == 2  # one running (blocked), one queued: the queue is full

            busy = http.get("/api/runs/alpha/steps/3")
            assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
            assert "busy" in busy.json()["error"]
            assert http.get("/api/runs/alpha/steps/3/whatif?algo=dapo").status_code == 503

            # Light routes answer while the heavy executor is blocked.
            for path in ("/api/runs", "/api/runs/alpha", "/api/runs/alpha/metrics", "/api/algorithms",
                         "/api/algorithms/grpo", "/api/runs/alpha/algorithm"):
                assert http.get(path, timeout=5).status_code == 200, path
            with http.stream("GET", "/api/runs/alpha/events", timeout=5) as stream:
                assert stream.status_code == 200
                assert next(stream.iter_lines()).startswith("retry:")
        finally:
            release.set()
            for thread in waiting:
                thread.join(20)
        assert answers == {1: 200, 2: 200}
        assert service.heavy.in_flight == 0
        # A cached step is answered without the heavy executor at all.
        service.payload_bytes = lambda entry, step: pytest.fail("cached payload recomputed")
        assert http.get("/api/runs/alpha/steps/1").status_code == 200

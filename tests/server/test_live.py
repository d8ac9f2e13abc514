"""Live runs: steps and runs written after the server started become visible."""
import time

import httpx

from server_run_fixtures import make_record, write_run


def test_a_step_written_after_start_is_visible(client, runs_dir):
    from unipo.runs import RunWriter

    assert client.get("/api/runs/beta").json()["steps"][-1]["step"] == 2
    writer = RunWriter.open_for_resume(runs_dir / "beta")
    writer.write_update(3, make_record(3), {"loss": 0.1})
    body = client.get("/api/runs/beta").json()
    assert [s["step"] for s in body["steps"]] == [1, 2, 3] and body["live"] is True
    assert client.get("/api/runs/beta/steps/3").json()["metrics"]["loss"] == 0.1
    assert client.get("/api/runs/beta/metrics").json()["step"] == [1, 2, 3]


def test_a_run_created_after_start_is_listed(runs_dir):
    from fastapi.testclient import TestClient

    from unipo.server import create_app

    with TestClient(create_app([runs_dir], rescan_interval_s=0.2)) as client:
        assert "gamma" not in [run["id"] for run in client.get("/api/runs").json()]
        write_run(runs_dir / "gamma", steps=1)
        time.sleep(0.25)  # folders are re-scanned at most once per interval
        ids = [run["id"] for run in client.get("/api/runs").json()]
        assert "gamma" in ids
        assert client.get("/api/runs/gamma/steps/1").status_code == 200


def test_server_sent_events_announce_new_steps(live_server, runs_dir):
    from unipo.runs import RunWriter

    writer = RunWriter.open_for_resume(runs_dir / "beta")
    events = []
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        with http.stream("GET", "/api/runs/beta/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            writer.write_update(3, make_record(3), {"loss": 0.1})
            for line in lines:
                if line.startswith("data: "):
                    events.append(line[6:])
                if '"step"' in line:
                    break
            writer.close("finished")
            for line in lines:
                if line.startswith("data: "):
                    events.append(line[6:])
                    break
    assert events == ['{"run":"beta","step":3}', '{"run":"beta","status":"finished"}']


def test_events_catch_up_from_since(live_server):
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        with http.stream("GET", "/api/runs/alpha/events?since=1") as stream:
            seen = []
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    seen.append(line[6:])
                if len(seen) == 2:
                    break
    assert seen == ['{"run":"alpha","step":2}', '{"run":"alpha","step":3}']

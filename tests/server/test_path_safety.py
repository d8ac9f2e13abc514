"""Traversal attempts over a real socket: the raw path reaches the server exactly as written."""
import http.client
import os

import pytest

from server_run_fixtures import LiveServer
from unipo.server import create_app


def raw_get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


ATTEMPTS = [
    "/../../../../etc/passwd",
    "/..%2f..%2f..%2fetc%2fpasswd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "/assets/%252e%252e/%252e%252e/etc/passwd",
    "/..%5c..%5cetc%5cpasswd",
    "//etc/passwd",
    "/%2fetc%2fpasswd",
    "/index.html%00.js",
    "/C:%5cWindows%5cwin.ini",
    "/api/runs/..%2f..%2fetc/steps/1",
    "/api/runs/%2e%2e/metrics",
]


@pytest.fixture
def web_server(tmp_path, runs_dir):
    web = tmp_path / "web"
    (web / "assets").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>app</title>")
    (web / "assets" / "app.js").write_text("console.log('ok')")
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    os.symlink(secret, web / "assets" / "leak.txt")
    with LiveServer(create_app([runs_dir], web_dir=web)) as server:
        yield server


def test_traversal_attempts_are_refused(web_server):
    for path in ATTEMPTS:
        status, body = raw_get(web_server.port, path)
        assert status in (400, 404), (path, status)
        assert b"root:" not in body and b"TOP SECRET" not in body and b"[fonts]" not in body, path


def test_symlink_leaving_the_bundle_is_not_served(web_server):
    status, body = raw_get(web_server.port, "/assets/leak.txt")
    assert status == 404 and b"TOP SECRET" not in body


def test_bundle_files_are_served(web_server):
    assert raw_get(web_server.port, "/") == (200, b"<!doctype html><title>app</title>")
    status, body = raw_get(web_server.port, "/assets/app.js")
    assert status == 200 and body == b"console.log('ok')"


def test_missing_bundle_gives_a_short_page(tmp_path, runs_dir):
    from fastapi.testclient import TestClient

    with TestClient(create_app([runs_dir], web_dir=tmp_path / "no-web")) as client:
        response = client.get("/")
    assert response.status_code == 200 and "web bundle is missing" in response.text


def test_step_file_symlinked_outside_the_run_is_not_read(tmp_path, runs_dir):
    from fastapi.testclient import TestClient

    from unipo.runs.schema import TOKENS_FILE, shard_path

    stored = shard_path(runs_dir / "alpha", 3, 0) / TOKENS_FILE  # the token rows of step 3
    outside = tmp_path / "outside.parquet"
    stored.rename(outside)
    os.symlink(outside, stored)
    with TestClient(create_app([runs_dir])) as client:
        response = client.get("/api/runs/alpha/steps/3")
    assert response.status_code == 404


def test_run_ids_are_names_not_paths(web_server):
    # A path-shaped id is only ever a registry key: it cannot reach a directory that was not given.
    for run_id in ("..", "%2e%2e", "alpha%2f..%2fbeta", "%2ftmp", "alpha%2fsteps", "..%2f..%2fruns%2falpha"):
        status, body = raw_get(web_server.port, f"/api/runs/{run_id}/steps/1")
        assert status in (400, 404), (run_id, status)
        assert b"error" in body


def test_foreign_host_header_is_refused(runs_dir):
    # DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends Host: evil.example.
    from fastapi.testclient import TestClient

    from unipo.server.host_check import allowed_hosts_for

    app = create_app([runs_dir], allowed_hosts=allowed_hosts_for("127.0.0.1"))
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        assert client.get("/api/runs").status_code == 200
        assert client.get("/api/runs", headers={"host": "localhost:8000"}).status_code == 200
        refused = client.get("/api/runs", headers={"host": "evil.example:8000"})
    assert refused.status_code == 400 and "evil.example" in refused.json()["error"]

"""A run written in the first store layout (one steps/step-NNNNNN.parquet per step) is still served."""
from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from unipo.runs import RunReader
from unipo.server import create_app

LEGACY_RUN = Path(__file__).resolve().parents[1] / "runs" / "data" / "legacy-run"


def test_a_legacy_run_step_is_served_with_the_readers_rows(tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(LEGACY_RUN, runs / "old")
    step = RunReader(runs / "old").steps()[0]
    expected = RunReader(runs / "old").responses(step).num_rows
    with TestClient(create_app([runs])) as client:
        whole = client.get(f"/api/runs/old/steps/{step}")
        summary = client.get(f"/api/runs/old/steps/{step}/summary")
        missing = client.get(f"/api/runs/old/steps/{step + 1000}")
    assert whole.status_code == 200, whole.text
    assert len(whole.json()["responses"]["response"]) == expected
    assert summary.status_code == 200, summary.text
    assert missing.status_code == 404

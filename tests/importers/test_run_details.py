"""An imported run's whole header reaches the browser: /api/runs and /api/runs/{id} carry `details`
rows for every header key, the source header's unknown keys included (the Run details panel)."""
from __future__ import annotations

from fastapi.testclient import TestClient

from unipo.importers.run import import_run
from unipo.server import create_app


def test_imported_header_reaches_the_run_details(tmp_path, dumps):
    source = dumps.reference_json(tmp_path / "ppo.json", [dumps.reference_entry(0)])
    runs = tmp_path / "runs"
    import_run(source, runs / "ppo")
    with TestClient(create_app([runs], poll_interval_s=0.05)) as client:
        listed = client.get("/api/runs").json()
        summary = listed[0] if isinstance(listed, list) else listed["runs"][0]
        detail = client.get(f"/api/runs/{summary['id']}").json()
    for payload in (summary, detail):
        rows = {row["label"]: row["value"] for row in payload["details"]}
        assert rows["Model"] == rows["Reference model"] == "meta-llama/Llama-3.2-1B-Instruct"
        assert rows["Task"] == "math reasoning" and rows["Dataset"] == "GSM8K"
        assert rows["Reward strategy"] == "correctness + format"
        assert rows["Source format"] == "reference" and rows["Importer version"] == "1"
        assert rows["Source header"]["run_id"] == "r-17" and rows["Source header"]["totalSteps"] == 2
        assert rows["Algorithm"] == "ppo" and rows["Hyper-parameters"]["epsilon"] == 0.2
        assert rows["Algorithm as the source named it"]["name"] == "ppo"
        assert payload["header"]["imported_from"]["header"]["hparams"]["gae_lambda"] == 0.95

"""/api/analyses routes: JSON answers, errors naming the parameter, no torch in the serving process."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fastapi.testclient import TestClient


REPO = Path(__file__).resolve().parents[2]


def test_routes_answer_each_analysis_and_refuse_bad_requests(tmp_path, analysis_run):
    from unipo.server import create_app
    analysis_run(tmp_path / "engine-like")
    analysis_run(tmp_path / "imported-like", full=False)
    client = TestClient(create_app([tmp_path]))
    names = {a["name"] for a in client.get("/api/analyses").json()}
    assert {"attribution", "spikes", "forking", "difficulty", "length_bias", "mismatch", "clip_asymmetry"} <= names
    top = client.get("/api/runs/engine-like/analyses/attribution?step=2").json()["result"]["tokens"][0]
    assert (top["response"], top["position"]) == (2, 1)
    spikes = client.get("/api/runs/engine-like/analyses/spikes?threshold=100").json()["result"]["spikes"]
    assert [s["step"] for s in spikes] == [3]
    missing = client.get("/api/runs/imported-like/analyses/attribution?step=1").json()
    assert missing["missing"] == ["grad_coef"] and missing["result"] is None
    assert client.get("/api/runs/engine-like/analyses/attribution").status_code == 400
    bad = client.get("/api/runs/engine-like/analyses/forking?step=1&rho=2")
    assert bad.status_code == 400 and bad.json()["error"].startswith("rho")
    assert client.get("/api/runs/engine-like/analyses/forking?step=9").status_code == 404
    assert client.get("/api/runs/engine-like/analyses/nothing").status_code == 404
    assert client.get("/api/runs/nope/analyses/spikes").status_code == 404


@pytest.mark.slow
def test_analyses_never_import_torch_in_the_serving_process(tmp_path, analysis_run):
    analysis_run(tmp_path / "engine-like")
    script = textwrap.dedent(f"""
        import sys
        from fastapi.testclient import TestClient
        from unipo.server import create_app
        client = TestClient(create_app([{str(tmp_path)!r}]))
        for name in ("attribution", "forking", "difficulty", "length_bias", "mismatch"):
            assert client.get(f"/api/runs/engine-like/analyses/{{name}}?step=1").status_code == 200
        for name in ("spikes", "clip_asymmetry", "entropy_over_run", "difficulty_over_run", "length_over_run"):
            assert client.get(f"/api/runs/engine-like/analyses/{{name}}").status_code == 200
        # The what-if variants run in the worker process, never here.
        for tail in ("length_bias/modes?step=1", "mismatch/corrections?step=1", "length_over_run/folder"):
            assert client.get(f"/api/runs/engine-like/analyses/{{tail}}").status_code == 200, tail
        print("torch" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.slow
def test_difficulty_side_by_side_under_other_advantages(tmp_path, analysis_run):
    """The what-if worker recomputes the step; the per-prompt table is unipo.analyses' on its payload."""
    from unipo.server import create_app
    analysis_run(tmp_path / "engine-like")
    client = TestClient(create_app([tmp_path]))
    answer = client.get("/api/runs/engine-like/analyses/difficulty/variants?step=1")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["labels"][0] == "stored" and {"centred only (Dr. GRPO)", "HA-DW"} <= set(body["labels"])
    by_prompt = {row["prompt"]: row for row in body["prompts"]}
    # Prompt 1: rewards 0 and 1. Centred only: A = r − mean = ±0.5, so A_correct − A_wrong = 1.
    centred = by_prompt[1]["by"]["centred only (Dr. GRPO)"]
    assert centred["advantage_correct"] - centred["advantage_wrong"] == pytest.approx(1.0, abs=1e-5)
    assert centred["advantage_scale"] == pytest.approx(0.5, abs=1e-5)
    # The stored column is the stored step's own table.
    stored = client.get("/api/runs/engine-like/analyses/difficulty?step=1").json()["result"]["prompts"]
    assert by_prompt[1]["by"]["stored"]["advantage_scale"] == pytest.approx(stored[1]["advantage_scale"])
    # Prompt 0 is all correct: every group-relative variant gives it zero advantage.
    assert all(v["advantage_scale"] == pytest.approx(0.0, abs=1e-6) for k, v in by_prompt[0]["by"].items() if k != "stored")

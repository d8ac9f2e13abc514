"""What-ifs run in a worker process: the serving process never imports torch, a dead worker is
replaced, and a large step's what-if comes as a summary plus Arrow token pages."""
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa


def test_the_serving_process_never_imports_torch(runs_dir):
    # A fresh interpreter: this test process imported torch to write the fixture runs.
    script = textwrap.dedent(f"""
        import sys
        from fastapi.testclient import TestClient
        from unipo.server import create_app
        with TestClient(create_app([{str(runs_dir)!r}])) as client:
            assert client.get("/api/runs/alpha/steps/1").status_code == 200
            assert client.get("/api/runs/alpha/steps/1/summary").status_code == 200
            answer = client.get("/api/runs/alpha/steps/1/whatif?algo=dapo&epsilon_high=0.3")
            assert answer.status_code == 200, answer.text
            assert answer.json()["tokens"]["grad_coef"], "no recomputed push"
            assert client.get("/api/runs/alpha/steps/1/whatif/summary?algo=dr_grpo").status_code == 200
            print("torch" in sys.modules, client.app.state.steps.whatif.pid() is not None)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "True"]


def test_a_killed_worker_is_replaced(client):
    assert client.get("/api/runs/alpha/steps/1/whatif?algo=grpo").status_code == 200
    worker = client.app.state.steps.whatif
    old = worker.pid()
    os.kill(old, signal.SIGKILL)
    answer = client.get("/api/runs/alpha/steps/1/whatif?algo=grpo")
    if answer.status_code == 500:  # the kill landed between jobs: this job found the pipe broken
        assert "worker" in answer.json()["error"]
        answer = client.get("/api/runs/alpha/steps/1/whatif?algo=grpo")
    assert answer.status_code == 200 and worker.pid() not in (None, old)


def test_user_mistakes_in_the_worker_stay_4xx(client):
    answer = client.get("/api/runs/alpha/steps/1/whatif?algo=nope")
    assert answer.status_code == 400 and "nope" in answer.json()["error"]
    answer = client.get("/api/runs/alpha/steps/1/whatif?algo=dapo&epsilon_high=-3")
    assert answer.status_code == 400
    assert client.get("/api/runs/alpha/steps/9/whatif?algo=dapo").status_code == 404


def test_paged_whatif_equals_the_whole_one(client):
    whole = client.get("/api/runs/alpha/steps/2/whatif?algo=dapo&epsilon_high=0.3").json()
    summary = client.get("/api/runs/alpha/steps/2/whatif/summary?algo=dapo&epsilon_high=0.3").json()
    assert summary["paged"] is True and "tokens" not in summary
    assert summary["summary"] == whole["summary"] and summary["metrics"] == whole["metrics"]
    assert summary["token_count"] == whole["tokens"]["offsets"][-1]
    answer = client.get("/api/runs/alpha/steps/2/whatif/tokens?algo=dapo&epsilon_high=0.3"
                        "&responses=3,0&columns=grad_coef,weight_delta")
    assert answer.headers["content-type"] == "application/vnd.apache.arrow.stream"
    page = pa.ipc.open_stream(answer.content).read_all().to_pydict()
    offsets = whole["tokens"]["offsets"]
    rows = [*range(offsets[3], offsets[4]), *range(offsets[0], offsets[1])]
    assert page["response"] == [3] * (offsets[4] - offsets[3]) + [0] * (offsets[1] - offsets[0])
    for name in ("grad_coef", "weight_delta"):
        assert np.allclose(page[name], [whole["tokens"][name][i] for i in rows], atol=1e-7, equal_nan=True)


def test_a_large_steps_whatif_is_refused_whole(client):
    client.app.state.steps.whole_step_token_limit = 4
    answer = client.get("/api/runs/alpha/steps/2/whatif?algo=dapo")
    assert answer.status_code == 413 and "whatif/summary" in answer.json()["error"]
    assert client.get("/api/runs/alpha/steps/2/whatif/summary?algo=dapo").status_code == 200

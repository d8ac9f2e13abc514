"""Algorithm descriptions computed in a child process equal the in-process ones; browsing a run in a
fresh process never imports torch, a what-if does; with serve()'s setting pandas is never loaded."""
import json
import subprocess
import sys
import textwrap

import orjson

from unipo.algorithms import get_preset
from unipo.server.algorithm_catalog import AlgorithmCatalog, AlgorithmError


def test_child_and_in_process_descriptions_are_identical():
    stored = [get_preset("dapo", epsilon_high=0.3).to_dict(), {"format": "nope"}]
    child, here = AlgorithmCatalog(use_child=True), AlgorithmCatalog(use_child=False)
    child.prefetch(stored)
    here.prefetch(stored)
    assert child.children_started == 1 and here.children_started == 0
    assert child.listing() == here.listing()
    assert [item["name"] for item in orjson.loads(child.listing())] == child.preset_names()
    assert child.preset("grpo") == here.preset("grpo") and child.preset("nope") is None
    assert child.for_run(stored[0]) == here.for_run(stored[0])
    assert orjson.loads(child.for_run(stored[0]))["hparams"]["epsilon_high"] == 0.3
    for catalog in (child, here):
        try:
            catalog.for_run(stored[1])
        except AlgorithmError as exc:
            assert "format" in str(exc)
        else:
            raise AssertionError("a malformed header algorithm must raise")
    assert child.children_started == 1  # everything above came from the one prefetch


SCRIPT = textwrap.dedent("""
    import json, sys
    from fastapi.testclient import TestClient
    from unipo.server import create_app
    from unipo.server.memory_tuning import keep_pandas_out
    from unipo.server.serve import _describe_algorithms
    keep_pandas_out()  # as serve() does
    app = create_app([sys.argv[1]])
    _describe_algorithms(app)  # what serve() runs at start-up
    seen = {}
    with TestClient(app) as client:
        for url in ("/api/runs", "/api/algorithms", "/api/algorithms/dapo", "/api/runs/alpha/algorithm",
                    "/api/runs/alpha/steps/1", "/api/runs/alpha/steps/1/responses/0"):
            assert client.get(url).status_code == 200, url
        seen["browsing"] = "torch" in sys.modules
        seen["algorithms"] = client.get("/api/algorithms").json()
        assert client.get("/api/runs/alpha/steps/1/whatif?algo=dapo").status_code == 200
        seen["whatif"] = "torch" in sys.modules
        assert client.get("/api/runs/alpha/metrics").status_code == 200
    seen["pandas"] = "pandas" in sys.modules
    print(json.dumps(seen))
""")


def test_browsing_does_not_import_torch_but_a_whatif_does(runs_dir, client):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(runs_dir)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["browsing"] is False and seen["whatif"] is True
    assert seen["pandas"] is False  # pyarrow works without it; serve() keeps its ~35 MB out
    assert seen["algorithms"] == client.get("/api/algorithms").json()

"""Algorithm descriptions are computed in the serving process without torch; browsing a run in a fresh
process never imports torch, a what-if does; with serve()'s setting pandas is never loaded."""
import json
import subprocess
import sys
import textwrap

import orjson

from unipo.algorithms import get_preset
from unipo.server.algorithm_catalog import AlgorithmCatalog, AlgorithmError


def test_descriptions_are_cached_and_a_bad_header_algorithm_is_reported():
    stored = [get_preset("dapo", epsilon_high=0.3).to_dict(), {"format": "nope"}]
    catalog = AlgorithmCatalog()
    catalog.prefetch(stored)
    assert [item["name"] for item in orjson.loads(catalog.listing())] == catalog.preset_names()
    assert catalog.preset("nope") is None
    described = orjson.loads(catalog.for_run(stored[0]))
    assert described["hparams"]["epsilon_high"] == 0.3
    # DAPO is the whole algorithm: its rollout-side parts are listed with the rest.
    parts = {(c["axis"], c["name"]) for c in described["components"]}
    assert {("sample_filter", "dynamic_sampling"), ("reward_shaping", "soft_overlong")} <= parts
    assert described["composition"] == [{"term": "surrogate", "sign": 1}]
    assert catalog.for_run(stored[0]) is catalog.for_run(stored[0])  # encoded once
    try:
        catalog.for_run(stored[1])
    except AlgorithmError as exc:
        assert "format" in str(exc)
    else:
        raise AssertionError("a malformed header algorithm must raise")


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


def test_neither_browsing_nor_a_whatif_imports_torch_in_the_server(runs_dir, client):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(runs_dir)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # A what-if recomputes in the worker process (server/whatif_worker.py), never in the server's.
    assert seen["browsing"] is False and seen["whatif"] is False
    assert seen["pandas"] is False  # pyarrow works without it; serve() keeps its ~35 MB out
    assert seen["algorithms"] == client.get("/api/algorithms").json()

import numpy as np
import pyarrow.compute as pc

from unipo.runs import RunReader


def test_list_runs_with_headers(client):
    runs = {run["id"]: run for run in client.get("/api/runs").json()}
    assert set(runs) == {"alpha", "beta"}
    assert runs["alpha"]["steps"] == 3 and runs["alpha"]["last_step"] == 3
    assert runs["beta"]["header"]["status"] == "finished" and runs["beta"]["live"] is False


def test_run_detail_lists_steps_with_their_schedule(client):
    body = client.get("/api/runs/alpha").json()
    assert body["steps"] == [{"step": s, "rollout": s, "epoch": 0, "minibatch": 0} for s in (1, 2, 3)]
    assert body["header"]["name"] == "alpha"


def _stored(runs_dir, step):
    return RunReader(runs_dir / "alpha").step(step, include_empty_responses=True)


def test_step_payload_values_equal_the_stored_values(client, runs_dir):
    body = client.get("/api/runs/alpha/steps/2").json()
    table = _stored(runs_dir, 2)
    tokens = table.filter(pc.greater_equal(table.column("position"), 0))
    assert body["step"] == 2 and body["rollout"] == 2 and body["metrics"]["loss"] == 0.25
    for name in ("logprob", "old_logprob", "ref_logprob", "entropy", "token_objective", "weight", "advantage"):
        assert np.array_equal(np.asarray(body["tokens"][name], dtype=np.float32),
                              tokens.column(name).to_numpy()), name
    assert body["tokens"]["token"] == tokens.column("token").to_pylist()
    assert body["tokens"]["value"] == [None] * tokens.num_rows  # not stored -> null, not 0
    # Offsets: response i's tokens are [offsets[i], offsets[i+1]); the empty response 4 spans nothing.
    offsets = body["tokens"]["offsets"]
    lengths = body["responses"]["response_length"]
    assert np.diff(offsets).tolist() == lengths and lengths[4] == 0
    assert body["responses"]["response"] == [0, 1, 2, 3, 4, 5]
    assert body["responses"]["reward"] == table.column("reward").to_numpy()[
        np.r_[0, np.flatnonzero(np.diff(table.column("response").to_numpy())) + 1]].tolist()


def test_one_response_and_one_prompt_group(client):
    whole = client.get("/api/runs/alpha/steps/1").json()
    one = client.get("/api/runs/alpha/steps/1/responses/3").json()
    start, end = whole["tokens"]["offsets"][3:5]
    assert one["responses"]["response"] == [3]
    assert one["tokens"]["offsets"] == [0, end - start]
    assert one["tokens"]["logprob"] == whole["tokens"]["logprob"][start:end]
    group = client.get("/api/runs/alpha/steps/1/prompts/1").json()
    assert group["responses"]["response"] == [3, 4, 5]
    assert group["tokens"]["token"] == whole["tokens"]["token"][whole["tokens"]["offsets"][3]:]


def test_unknown_run_step_response_prompt_are_json_404(client):
    cases = {
        "/api/runs/nope": "no run with id 'nope'",
        "/api/runs/nope/steps/1": "no run with id 'nope'",
        "/api/runs/alpha/steps/99": "has no step 99",
        "/api/runs/alpha/steps/-1": "has no step -1",
        "/api/runs/alpha/steps/1/responses/77": "no response 77",
        "/api/runs/alpha/steps/1/prompts/9": "no prompt 9",
        "/api/nothing": "no such API route",
    }
    for url, fragment in cases.items():
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.headers["content-type"] == "application/json"
        assert fragment in response.json()["error"], url


def test_malformed_numbers_are_json_400(client):
    for url in ("/api/runs/alpha/steps/one", "/api/runs/alpha/steps/1/responses/x",
                "/api/runs/alpha/metrics?start=soon"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "error" in response.json()


def test_no_mutating_routes(client):
    for method in ("post", "put", "delete", "patch"):
        response = getattr(client, method)("/api/runs/alpha")
        assert response.status_code == 405
        assert "read-only" in response.json()["error"]


def test_hostile_text_comes_back_as_plain_json_text(client):
    from server_run_fixtures import HOSTILE_PROMPT

    response = client.get("/api/runs/alpha/steps/1")
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["responses"]["prompt_text"][0] == HOSTILE_PROMPT
    assert body["tokens"]["token"][0] == "<script>alert(1)</script>"


def test_run_directory_given_directly_and_duplicate_names(tmp_path, runs_dir):
    from fastapi.testclient import TestClient

    from server_run_fixtures import write_run
    from unipo.server import create_app

    write_run(tmp_path / "other" / "alpha", steps=1)
    with TestClient(create_app([runs_dir / "alpha", tmp_path / "other"])) as client:
        runs = {run["id"]: run["steps"] for run in client.get("/api/runs").json()}
    assert runs == {"alpha": 3, "alpha-2": 1}


def test_a_path_that_is_not_a_directory_is_a_user_error(tmp_path):
    import pytest

    from unipo.errors import UnipoError
    from unipo.server import create_app

    with pytest.raises(UnipoError, match="not a directory"):
        create_app([tmp_path / "missing"])


def test_entropy_rank_is_the_whole_steps_on_the_response_and_prompt_routes(client):
    whole = client.get("/api/runs/alpha/steps/1").json()["tokens"]
    ranks = np.asarray(whole["entropy_rank"], dtype=np.float64)
    entropy = np.asarray(whole["entropy"], dtype=np.float64)
    n = len(entropy)
    # Rank quantile: (count strictly below) / (n - 1), over every token of the step.
    expected = (entropy[:, None] > entropy[None, :]).sum(axis=1) / (n - 1)
    assert np.array_equal(ranks, expected) and ranks.min() == 0.0 and ranks.max() == 1.0
    start, end = whole["offsets"][3:5]
    one = client.get("/api/runs/alpha/steps/1/responses/3").json()["tokens"]
    assert one["entropy_rank"] == whole["entropy_rank"][start:end]
    group = client.get("/api/runs/alpha/steps/1/prompts/1").json()["tokens"]
    assert group["entropy_rank"] == whole["entropy_rank"][whole["offsets"][3]:]
    assert len(one["entropy_rank"]) == end - start > 0

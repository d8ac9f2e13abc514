"""What-if: the stored step recomputed with the same algorithm code, checked against direct calls."""
import numpy as np
import pytest

from server_run_fixtures import step_inputs, train_terms
from unipo.algorithms import get_preset


def flat_tokens(values, mask) -> np.ndarray:
    """[N, T] -> the payload's flat token order (response by response, real tokens only)."""
    values = np.asarray(values.detach() if hasattr(values, "detach") else values, dtype=np.float32)
    return values[np.asarray(mask) > 0]


def test_same_algorithm_reproduces_every_stored_term(client):
    stored = client.get("/api/runs/alpha/steps/2").json()["tokens"]
    body = client.get("/api/runs/alpha/steps/2/whatif?algo=grpo").json()
    assert body["missing"] == [] and body["notes"] == []
    for name in ("ratio", "advantage", "clipped", "kl", "weight", "token_objective"):
        assert np.allclose(body["tokens"][name], stored[name], atol=1e-6), name
    assert body["tokens"]["offsets"] == stored["offsets"]
    assert body["summary"]["push_flips"]["count"] == 0
    assert np.allclose(body["tokens"]["grad_coef"], stored["grad_coef"], atol=1e-7)
    assert body["summary"]["newly_clipped"]["count"] == 0
    assert body["summary"]["loss"]["whatif"] == pytest.approx(body["summary"]["loss"]["stored"], abs=1e-6)


@pytest.mark.parametrize("query, algo_args", [
    ("algo=dapo&epsilon_high=0.3", ("dapo", {"epsilon_high": 0.3})),
    ("algo=dr_grpo", ("dr_grpo", {})),
    ("algo=gspo", ("gspo", {})),
    ("algo=cispo", ("cispo", {})),
])
def test_whatif_equals_a_direct_call_on_the_same_inputs(client, query, algo_args):
    name, overrides = algo_args
    body = client.get(f"/api/runs/alpha/steps/3/whatif?{query}").json()
    inputs = step_inputs(3)
    details, out = train_terms(get_preset(name, **overrides), inputs)
    for term, values in out.terms.items():
        assert np.allclose(body["tokens"][term], flat_tokens(values, inputs["mask"]), atol=1e-6), term
    assert body["metrics"]["loss"] == pytest.approx(float(out.loss), abs=1e-6)
    assert body["algorithm"]["name"] == name and body["algorithm"]["hparams"]["epsilon_high"] == \
        get_preset(name, **overrides).hparams["epsilon_high"]
    weights = np.asarray(out.terms["weight"], dtype=np.float64).sum(axis=1)
    assert np.allclose(body["summary"]["response_weight"]["whatif"], weights, atol=1e-6)
    assert np.allclose(body["responses"]["advantage"], details.advantages.numpy(), atol=1e-6)


def test_summary_counts_push_flips_and_newly_clipped_tokens(client):
    stored = client.get("/api/runs/alpha/steps/1").json()["tokens"]
    body = client.get("/api/runs/alpha/steps/1/whatif?algo=grpo&epsilon=0.01&epsilon_high=0.01").json()
    old_clipped = np.asarray(stored["clipped"]) > 0
    new_clipped = np.asarray(body["tokens"]["clipped"]) > 0
    expected = np.flatnonzero(new_clipped & ~old_clipped)
    assert expected.size > 0  # a tight clip range must clip more tokens
    assert body["summary"]["newly_clipped"] == {"count": int(expected.size), "indices": expected.tolist()}
    flips = np.sign(stored["grad_coef"]) * np.sign(body["tokens"]["grad_coef"]) < 0
    assert body["summary"]["push_flips"]["count"] == int(flips.sum())
    assert np.allclose(body["tokens"]["grad_coef_delta"],
                       np.asarray(body["tokens"]["grad_coef"]) - np.asarray(stored["grad_coef"]), atol=1e-6)


def test_cispo_pushes_the_same_way_as_grpo_although_its_objective_has_the_other_sign(client):
    """CISPO's o = sg(r)·Â·ℓ is negative for Â > 0 (ℓ < 0): the objective's sign flips on most tokens,
    the push g does not (on the first update r = 1 and no clip fires, so both push every token by Â)."""
    stored = client.get("/api/runs/alpha/steps/1").json()["tokens"]
    body = client.get("/api/runs/alpha/steps/1/whatif?algo=cispo&loss_aggregation=seq-mean-token-mean&"
                      "beta=0").json()
    objective_flips = np.sign(stored["token_objective"]) * np.sign(body["tokens"]["token_objective"]) < 0
    advantage = np.asarray(stored["advantage"])
    positive = advantage > 0
    assert objective_flips[positive].mean() > 0.9
    push = np.asarray(body["tokens"]["grad_coef"])
    assert np.all(np.sign(push[advantage != 0]) == np.sign(advantage[advantage != 0]))


def test_missing_reference_is_said_plainly(tmp_path):
    from fastapi.testclient import TestClient

    from server_run_fixtures import make_record, write_run
    from unipo.server import create_app

    writer = write_run(tmp_path / "noref", steps=0, finish=False)
    writer.write_update(1, make_record(1, algo=get_preset("dapo"), with_ref=False), {"loss": 0.0})
    with TestClient(create_app([tmp_path / "noref"])) as client:
        body = client.get("/api/runs/noref/steps/1/whatif?algo=grpo").json()
        assert body["missing"] == ["ref_logprob"]
        assert "ref_logprob is not stored" in body["notes"][0] and "not exact" in body["notes"][0]
        assert body["tokens"]["kl_penalty"] == [0.0] * len(body["tokens"]["kl_penalty"])
        assert client.get("/api/runs/noref/steps/1/whatif?algo=dapo").json()["missing"] == []


def test_whatif_errors_are_json_400_or_404(client):
    cases = {
        "/api/runs/alpha/steps/1/whatif": (400, "algo: required"),
        "/api/runs/alpha/steps/1/whatif?algo=nope": (400, "unknown algorithm preset 'nope'"),
        "/api/runs/alpha/steps/1/whatif?algo=grpo&beta=lots": (400, "beta"),
        "/api/runs/alpha/steps/1/whatif?algo=grpo&no_such=1": (400, "no_such"),
        "/api/runs/alpha/steps/42/whatif?algo=grpo": (404, "no step 42"),
        "/api/runs/zeta/steps/1/whatif?algo=grpo": (404, "no run with id 'zeta'"),
    }
    for url, (status, fragment) in cases.items():
        response = client.get(url)
        assert response.status_code == status, url
        assert fragment in response.json()["error"], url


def test_every_preset_recomputes_a_stored_step(client):
    from unipo.algorithms import list_presets
    for preset in list_presets():
        response = client.get(f"/api/runs/alpha/steps/2/whatif?algo={preset.name}")
        if preset.name == "remax":  # needs the greedy response's reward, which a GRPO run never made
            assert response.status_code == 400 and "baseline_rewards" in response.json()["error"]
            continue
        assert response.status_code == 200, (preset.name, response.text[:300])
        body = response.json()
        assert len(body["tokens"]["token_objective"]) == body["tokens"]["offsets"][-1], preset.name


def test_differences_are_whatif_minus_stored_computed_by_the_server(client):
    stored = client.get("/api/runs/alpha/steps/1").json()["tokens"]
    body = client.get("/api/runs/alpha/steps/1/whatif?algo=dr_grpo&epsilon=0.05").json()
    tokens, responses = body["tokens"], body["responses"]
    for name in ("token_objective", "weight"):
        whatif = np.asarray(tokens[name], dtype=np.float32).astype(np.float64)
        old = np.asarray(stored[name], dtype=np.float32).astype(np.float64)
        delta = np.asarray(tokens[f"{name}_delta"], dtype=np.float64)
        assert delta.shape == whatif.shape
        assert np.allclose(delta, whatif - old, rtol=1e-6, atol=1e-9), name
        assert np.abs(delta).max() > 0, name  # dr_grpo weighs and clips differently from grpo
    totals = body["summary"]["response_weight"]
    expected = np.asarray(totals["whatif"]) - np.asarray(totals["stored"])
    assert np.allclose(responses["weight_total_delta"], expected, atol=1e-6)
    assert len(responses["weight_total_delta"]) == len(stored["offsets"]) - 1


def test_same_algorithm_differences_are_zero(client):
    body = client.get("/api/runs/alpha/steps/2/whatif?algo=grpo").json()
    assert np.abs(body["tokens"]["token_objective_delta"]).max() < 1e-6
    assert np.abs(body["tokens"]["weight_delta"]).max() < 1e-6
    assert np.abs(body["responses"]["weight_total_delta"]).max() < 1e-6


def test_differences_are_null_where_the_step_stores_no_term(tmp_path):
    from fastapi.testclient import TestClient

    from server_run_fixtures import make_record, write_run
    from unipo.server import create_app

    writer = write_run(tmp_path / "noweight", steps=0, finish=False)
    record = make_record(1)
    record.terms = {name: value for name, value in record.terms.items() if name != "weight"}
    writer.write_update(1, record, {"loss": 0.0})
    with TestClient(create_app([tmp_path / "noweight"])) as client:
        body = client.get("/api/runs/noweight/steps/1/whatif?algo=grpo").json()
        count = body["tokens"]["offsets"][-1]
        assert body["tokens"]["weight_delta"] == [None] * count
        assert body["responses"]["weight_total_delta"] is None
        assert all(value is not None for value in body["tokens"]["token_objective_delta"])

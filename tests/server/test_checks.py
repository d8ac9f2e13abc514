"""The `checks` block of step payloads: stored token objective vs its stored terms, loss vs terms.

Runs are written with the real RunWriter from real algorithm outputs; the tampered ones change one
stored value the way an edited or badly imported run would.
"""
import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from server_run_fixtures import make_record, step_inputs, train_terms, write_run
from unipo.algorithms import get_preset
from unipo.server import create_app
from unipo.server.step_checks import EPSILON, OBJECTIVE_RTOL_ULPS, objective_check

SEED = 1
TAMPERED = (1, 2)  # (response, position) of the stored token_objective that is changed


def _flat_index(mask: np.ndarray, response: int, position: int) -> int:
    """Index of [response, position] in the payload's flat token order (real tokens, row by row)."""
    assert mask[response, position] > 0
    return int(mask[:response].sum() + mask[response, :position].sum())


def _policy_loss(seed: int) -> float:
    _, out = train_terms(get_preset("grpo"), step_inputs(seed))
    return float(out.loss)


@pytest.fixture
def checked(tmp_path):
    """Run 'checked': step 1 as trained; step 2 with one token_objective changed; step 3 without
    kl_penalty; step 4 logging loss = policy + value loss (PPO style)."""
    writer = write_run(tmp_path / "checked", steps=0, finish=False)
    loss = _policy_loss(SEED)
    writer.write_update(1, make_record(SEED), {"loss": loss, "policy_loss": loss})

    record = make_record(SEED)
    objective = record.terms["token_objective"].clone()
    objective[TAMPERED] += 0.5
    record.terms = {**record.terms, "token_objective": objective}
    writer.write_update(2, record, {"policy_loss": loss})

    record = make_record(SEED)
    record.terms = {name: value for name, value in record.terms.items() if name != "kl_penalty"}
    writer.write_update(3, record, {"policy_loss": loss})

    writer.write_update(4, make_record(SEED), {"loss": loss + 3.0, "value_loss": 3.0})
    writer.close("finished")
    with TestClient(create_app([tmp_path / "checked"])) as client:
        yield client


def test_a_trained_step_passes_both_checks(checked):
    body = checked.get("/api/runs/checked/steps/1").json()
    checks = body["checks"]
    assert checks["objective_ok"] is True and checks["loss_ok"] is True
    assert checks["missing"] == {"objective": [], "loss": []}
    residual = checks["objective_residual"]
    assert len(residual) == body["tokens"]["offsets"][-1]
    assert checks["objective_max_abs_residual"] == pytest.approx(max(abs(r) for r in residual))
    assert checks["objective_max_abs_residual"] < 1e-6
    assert checks["objective_mismatches"] == {"count": 0, "indices": []}
    assert checks["objective_tolerance"]["precision"] == "float32"
    assert checks["objective_tolerance"]["rtol"] == OBJECTIVE_RTOL_ULPS * EPSILON["float32"]
    assert checks["loss_logged_metric"] == "policy_loss"
    assert checks["loss_logged"] == pytest.approx(_policy_loss(SEED))
    # JSON holds the float32 values' shortest form: read them back as float32, then widen.
    weight = np.asarray(body["tokens"]["weight"], dtype=np.float32).astype(np.float64)
    objective = np.asarray(body["tokens"]["token_objective"], dtype=np.float32).astype(np.float64)
    assert checks["loss_from_terms"] == pytest.approx(-(weight * objective).sum(), abs=1e-12)
    assert checks["loss_from_terms"] == pytest.approx(checks["loss_logged"], abs=1e-6)


def test_a_tampered_token_objective_is_flagged_at_that_token(checked):
    body = checked.get("/api/runs/checked/steps/2").json()
    checks = body["checks"]
    where = _flat_index(step_inputs(SEED)["mask"], *TAMPERED)
    assert checks["objective_ok"] is False
    assert checks["objective_mismatches"] == {"count": 1, "indices": [where]}
    residual = np.asarray(checks["objective_residual"], dtype=np.float64)
    assert residual[where] == pytest.approx(0.5, abs=1e-6)
    assert np.abs(np.delete(residual, where)).max() < 1e-6
    assert checks["objective_max_abs_residual"] == pytest.approx(0.5, abs=1e-6)
    # The logged loss came from the untampered terms: −Σ w·o over the stored terms no longer matches.
    assert checks["loss_ok"] is False
    weight = body["tokens"]["weight"][where]
    assert checks["loss_from_terms"] - checks["loss_logged"] == pytest.approx(-0.5 * weight, rel=1e-4)


def test_subset_routes_locate_the_residual_within_their_tokens(checked):
    mask = step_inputs(SEED)["mask"]
    response, position = TAMPERED
    body = checked.get(f"/api/runs/checked/steps/2/responses/{response}").json()
    checks = body["checks"]
    assert checks["objective_ok"] is False
    assert checks["objective_mismatches"]["indices"] == [position]
    assert len(checks["objective_residual"]) == int(mask[response].sum())
    # The loss is a whole-step quantity: the same figures as the step route.
    whole = checked.get("/api/runs/checked/steps/2").json()["checks"]
    for key in ("loss_from_terms", "loss_logged", "loss_ok"):
        assert checks[key] == whole[key], key
    other = checked.get("/api/runs/checked/steps/2/prompts/1").json()["checks"]  # responses 3..5
    assert other["objective_ok"] is True and other["objective_mismatches"]["count"] == 0


def test_missing_columns_are_named_and_the_check_does_not_run(checked):
    checks = checked.get("/api/runs/checked/steps/3").json()["checks"]
    assert checks["missing"]["objective"] == ["kl_penalty"]
    assert checks["objective_ok"] is None and checks["objective_residual"] is None
    assert checks["objective_max_abs_residual"] is None
    assert checks["loss_ok"] is True  # weight and token_objective are there


def test_total_loss_with_a_value_loss_is_not_compared(checked):
    checks = checked.get("/api/runs/checked/steps/4").json()["checks"]
    assert checks["objective_ok"] is True
    assert checks["loss_logged"] is None and checks["loss_ok"] is None
    assert checks["missing"]["loss"] == ["metrics.policy_loss"]
    assert checks["loss_from_terms"] == pytest.approx(_policy_loss(SEED), abs=1e-6)


def test_fixture_runs_log_a_made_up_loss_and_are_told_so(client):
    # The shared fixture logs loss = 0.5 / step, not the terms' loss: the check must say it differs.
    checks = client.get("/api/runs/alpha/steps/1").json()["checks"]
    assert checks["objective_ok"] is True
    assert checks["loss_logged_metric"] == "loss" and checks["loss_logged"] == 0.5
    assert checks["loss_ok"] is False


def test_null_objective_against_finite_terms_is_a_mismatch():
    nan = np.float32("nan")
    tokens = {"token_objective": np.array([0.5, nan, nan], np.float32),
              "surrogate": np.array([0.5, 0.25, nan], np.float32),
              "kl_penalty": np.zeros(3, np.float32), "entropy_bonus": np.zeros(3, np.int8)}
    checks = objective_check(tokens)
    assert checks["objective_mismatches"]["indices"].tolist() == [1]  # token 2: nothing stored, no claim
    assert checks["objective_ok"] is False
    assert np.isnan(checks["objective_residual"][1:]).all() and checks["objective_residual"][0] == 0


def test_bfloat16_terms_get_a_bfloat16_tolerance():
    rng = np.random.default_rng(0)
    surrogate, kl = (torch.as_tensor(rng.normal(size=64)).to(torch.bfloat16) for _ in range(2))
    objective = surrogate - kl  # rounded to bf16 as a bf16 engine would
    tokens = {"token_objective": objective.float().numpy(), "surrogate": surrogate.float().numpy(),
              "kl_penalty": kl.float().numpy(), "entropy_bonus": np.zeros(64, np.float32)}
    checks = objective_check(tokens)
    assert checks["objective_tolerance"]["precision"] == "bfloat16"
    assert checks["objective_ok"] is True and checks["objective_max_abs_residual"] > 0

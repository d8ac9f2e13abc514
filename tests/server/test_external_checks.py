"""Checks a run header declares between two logged step metrics (TRL capture: "TRL loss = UNIPO loss"),
evaluated by the server per step and served with the step's other checks (whole step and /checks).

The run is written with the real RunWriter and the header entry the TRL capture writes
(unipo.integrations.trl.LOSS_CHECK); the metrics are what a capture logs on agreeing and disagreeing steps.
"""
import pytest
from fastapi.testclient import TestClient

from server_run_fixtures import make_record
from unipo.algorithms import get_preset
from unipo.integrations.trl import LOSS_CHECK
from unipo.runs import RunWriter
from unipo.server import create_app
from unipo.server.step_checks import external_check, external_checks

TRL_LOSS = 0.731
STEP_METRICS = {
    1: {"trl_loss": TRL_LOSS, "unipo_loss": TRL_LOSS + 3e-8, "loss_check_abs_diff": 3e-8, "loss_check_ok": 1},
    2: {"trl_loss": TRL_LOSS, "unipo_loss": TRL_LOSS + 0.02, "loss_check_abs_diff": 0.02, "loss_check_ok": 0},
    # 2 ranks: the means agree, but one rank's difference (the logged max) is beyond the tolerance
    3: {"trl_loss": TRL_LOSS, "unipo_loss": TRL_LOSS, "loss_check_abs_diff": 0.5, "loss_check_ok": 0},
    4: {"policy_loss": TRL_LOSS},  # a step logged without the compared metrics
}


@pytest.fixture(scope="module")
def trl_like(tmp_path_factory):
    path = tmp_path_factory.mktemp("external") / "trl-like"
    header = {"name": "trl-like", "algorithm": get_preset("grpo").to_dict(), "loss_check": dict(LOSS_CHECK)}
    with RunWriter.create(path, header) as writer:
        for step, metrics in STEP_METRICS.items():
            writer.write_update(step, make_record(step), metrics)
    with TestClient(create_app([path])) as client:
        yield client


@pytest.mark.parametrize("route", ["", "/checks"])
def test_each_step_shows_whether_trl_loss_equals_unipo_loss(trl_like, route):
    found = {}
    for step in STEP_METRICS:
        body = trl_like.get(f"/api/runs/trl-like/steps/{step}{route}").json()
        (check,) = (body["checks"] if route == "" else body)["external"]
        found[step] = check
    assert {step: c["status"] for step, c in found.items()} == {1: "holds", 2: "fails", 3: "fails", 4: "unchecked"}
    first = found[1]
    assert first["label"] == "TRL loss = UNIPO loss" and first["source"] == "trl"
    assert first["reference"] == {"metric": "trl_loss", "value": TRL_LOSS}
    assert first["difference"] == pytest.approx(3e-8, rel=1e-3)
    assert first["tolerance"]["bound"] == pytest.approx(1e-6 + 1e-4 * TRL_LOSS)
    assert found[2]["difference"] == pytest.approx(0.02)
    assert "loss_check_abs_diff" in found[3]["reason"] or "loss_check_ok" in found[3]["reason"]
    assert "trl_loss" in found[4]["reason"] and "unipo_loss" in found[4]["reason"]


def test_a_response_subset_carries_the_step_level_check(trl_like):
    body = trl_like.get("/api/runs/trl-like/steps/2/responses/0").json()
    assert [c["status"] for c in body["checks"]["external"]] == ["fails"]


def test_any_importer_can_declare_checks_and_a_bad_declaration_is_named():
    header = {"metric_checks": [{"reference": "a", "recomposed": "b", "atol": 0.1, "label": "a = b"},
                                {"reference": "a", "atol": -1}]}
    good, bad = external_checks(header, {"a": 1.0, "b": 1.05})
    assert good["status"] == "holds" and good["label"] == "a = b"
    assert bad["status"] == "unchecked" and "metric_checks[1]" in bad["reason"]
    assert "recomposed" in bad["reason"] and "atol" in bad["reason"]
    assert external_check("loss_check", "trl_loss", {})["status"] == "unchecked"
    assert external_checks({}, {"a": 1.0}) == []

from unipo.algorithms import AlgorithmSpec, get_preset, list_presets


def test_every_preset_is_described_with_its_formula(client):
    body = client.get("/api/algorithms").json()
    assert [item["name"] for item in body] == [info.name for info in list_presets()]
    dapo = next(item for item in body if item["name"] == "dapo")
    assert dapo["hparams"] == get_preset("dapo").hparams
    assert dapo["formula"] == get_preset("dapo").formula.to_dict()
    assert dapo["summary"]


def test_one_preset_and_unknown_name(client):
    assert client.get("/api/algorithms/gspo").json()["hparams"]["importance_sampling_level"] == "sequence"
    response = client.get("/api/algorithms/ppo2")
    assert response.status_code == 404 and "no algorithm preset 'ppo2'" in response.json()["error"]


def test_the_runs_own_algorithm_is_rebuilt_from_its_header(client):
    body = client.get("/api/runs/alpha/algorithm").json()
    header = client.get("/api/runs/alpha").json()["header"]
    rebuilt = AlgorithmSpec.from_dict(header["algorithm"])
    assert body["name"] == rebuilt.name and body["hparams"] == rebuilt.hparams
    assert body["formula"] == rebuilt.formula.to_dict()


def test_a_run_with_overridden_hparams_gets_its_own_formula_not_the_presets(tmp_path):
    # A GRPO run trained with beta = 0 has no KL term: its cards must say so, whatever the preset says.
    from fastapi.testclient import TestClient

    from unipo.runs import RunWriter
    from unipo.server import create_app

    algo = get_preset("grpo", beta=0.0)
    RunWriter.create(tmp_path / "nokl", {"name": "nokl", "algorithm": algo.to_dict()}).close("finished")
    body = TestClient(create_app([tmp_path])).get("/api/runs/nokl/algorithm").json()
    assert body["hparams"]["beta"] == 0.0
    assert body["formula"] == algo.formula.to_dict() != get_preset("grpo").formula.to_dict()
    assert body["uses_reference"] is False and body["token_level_advantages"] is False


def test_descriptions_say_which_estimators_are_token_level(client):
    body = {item["name"]: item for item in client.get("/api/algorithms").json()}
    for name, item in body.items():
        algo = get_preset(name)
        assert item["token_level_advantages"] == algo.token_level_advantages, name
        assert item["uses_values"] == algo.uses_values and item["uses_reference"] == algo.uses_reference
    assert body["ppo"]["token_level_advantages"] and not body["grpo"]["token_level_advantages"]

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

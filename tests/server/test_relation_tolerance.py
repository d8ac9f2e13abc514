"""Card relations on steps where terms cancel: the tolerance follows the magnitude of the parts
added up (float32 storage), not of their tiny sum.

Reproduces the demo GRPO step whose push card said "✗ … largest residual 4.31e-12": a group with
equal rewards (advantage 0, so the surrogate's push is 0) and ℓ ≈ ℓ_ref, where the k3 KL push
w·β·(1 − e^{ℓ_ref−ℓ}) is a difference of two ~1 parts rounded in float32.
"""
import numpy as np
import pytest
from fastapi.testclient import TestClient

from server_run_fixtures import GROUP, N_PROMPTS, T, train_terms
from unipo.algorithms import get_preset
from unipo.runs import RunWriter, StepRecord
from unipo.server import create_app


def _near_reference_inputs(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    n = N_PROMPTS * GROUP
    mask = np.ones((n, T), dtype=np.float32)
    logprob = (-rng.random((n, T)) * 1e-3).astype(np.float32)  # confident tokens, as late in training
    rewards = np.repeat(np.array([1.0, 0.0], dtype=np.float32), GROUP)  # every group agrees: A = 0
    rewards[GROUP] = 1.0  # ... except one response of the second group, whose tokens are pushed
    return {"mask": mask, "rewards": rewards, "prompt": np.repeat(np.arange(N_PROMPTS), GROUP),
            "truncated": np.zeros(n, dtype=bool), "logprob": logprob,
            "old_logprob": logprob + rng.normal(0, 1e-5, (n, T)).astype(np.float32),
            "ref_logprob": logprob + rng.normal(0, 2e-4, (n, T)).astype(np.float32),
            "entropy": rng.random((n, T)).astype(np.float32), "token_ids": rng.integers(0, 16, size=(n, T))}


def _record(inputs: dict, terms: dict) -> StepRecord:
    n = len(inputs["rewards"])
    return StepRecord(prompt_index=inputs["prompt"], group_id=inputs["prompt"], prompt_text=["1+1="] * n,
                      response_text=[f"r{i}" for i in range(n)], reward=inputs["rewards"],
                      truncated=inputs["truncated"], mask=inputs["mask"], token_ids=inputs["token_ids"],
                      tokens=[[f"t{j}" for j in row] for row in inputs["token_ids"]],
                      logprob=inputs["logprob"], old_logprob=inputs["old_logprob"],
                      ref_logprob=inputs["ref_logprob"], entropy=inputs["entropy"], terms=terms,
                      rollout=1, epoch=0, minibatch=0)


@pytest.fixture
def near_reference(tmp_path):
    """Steps 1–3 as the engine computes them (seeds 1–3); step 4 = step 1 with one token's push off by 0.1 %."""
    algo = get_preset("grpo")
    writer = RunWriter.create(tmp_path / "near", {"name": "near", "algorithm": algo.to_dict()})
    for step in (1, 2, 3, 4):
        inputs = _near_reference_inputs(min(step, 3) if step < 4 else 1)
        _, out = train_terms(algo, inputs)
        terms = dict(out.terms)
        if step == 4:
            g = terms["grad_coef"].clone()
            g[GROUP, 2] *= 1.001  # a response with A ≠ 0: its push is well above float noise
            terms["grad_coef"] = g
        writer.write_update(step, _record(inputs, terms), {"policy_loss": float(out.loss)})
    writer.close("finished")
    with TestClient(create_app([tmp_path / "near"])) as client:
        yield client


def _relations(client, step: int, route: str) -> dict:
    body = client.get(f"/api/runs/near/steps/{step}{route}").json()
    checks = body["checks"] if route == "" else body
    return {item["card"] + ":" + item["name"]: item for item in checks["relations"]}


@pytest.mark.parametrize("route", ["", "/checks"])
def test_engine_steps_near_the_reference_hold_every_card_relation(near_reference, route):
    for step in (1, 2, 3):
        relations = _relations(near_reference, step, route)
        failing = {key: item["max_abs_residual"] for key, item in relations.items() if item["status"] == "fails"}
        assert failing == {}, f"step {step}: {failing}"
        push = next(item for key, item in relations.items() if key.startswith("grad_coef:"))
        assert push["status"] == "holds" and push["checked"] == N_PROMPTS * GROUP * T


def test_a_push_off_by_a_thousandth_still_fails_at_that_token(near_reference):
    relations = _relations(near_reference, 4, "")
    push = next(item for key, item in relations.items() if key.startswith("grad_coef:"))
    assert push["status"] == "fails"
    assert push["worst"] == GROUP * T + 2

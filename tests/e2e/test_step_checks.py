"""End to end: the server's invariant checks (contract §3 `checks`) shown by the web app.

A run is written with unipo.runs.RunWriter from unipo.algorithms outputs, with ONE stored
token_objective tampered (as an edited or badly imported run would be). The Step Inspector must
turn its quiet "objective = composed terms ✓" line into a visible warning that names that token,
the token must be clickable, and the explainer must mark it ✗ with the server's residual. A clean
run written the same way must show ✓ for every token and for the step loss.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from support.live_server import LiveServer
from unipo.server import create_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

N_PROMPTS, GROUP, T = 2, 4, 6
TAMPERED = (2, 1)  # (response, position) whose stored token_objective is edited
TAMPER_BY = 0.25
VOCAB = list("0123456789+= ") + ["<eos>"]


def write_run(path, *, tamper: bool) -> tuple[str, int]:
    from unipo.algorithms import get_preset
    from unipo.runs import RunWriter, StepRecord

    algo = get_preset("grpo")
    g = torch.Generator().manual_seed(7)
    n = N_PROMPTS * GROUP
    lengths = torch.randint(3, T + 1, (n,), generator=g)
    mask = (torch.arange(T)[None, :] < lengths[:, None]).float()
    logprob = -torch.rand(n, T, generator=g) * 2.0
    old = logprob + 0.1 * torch.randn(n, T, generator=g)
    ref = logprob + 0.1 * torch.randn(n, T, generator=g)
    entropy = torch.rand(n, T, generator=g)
    rewards = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0])
    group_ids = torch.arange(N_PROMPTS).repeat_interleave(GROUP)
    token_ids = torch.randint(0, len(VOCAB), (n, T), generator=g)
    advantages = algo.advantages(rewards, group_ids, mask=mask)
    out = algo.objective(logprob, old, mask, advantages=advantages, ref_logprobs=ref, entropies=entropy,
                         truncated=torch.zeros(n, dtype=torch.bool))
    terms = {k: v.detach().numpy().copy() for k, v in out.terms.items()}
    if tamper:
        terms["token_objective"][TAMPERED] += TAMPER_BY
    tokens = [[VOCAB[int(i)] for i in row] for row in token_ids]
    header = {"name": path.name, "algorithm": algo.to_dict(), "task": {"name": "synthetic"},
              "model": {"name": "none"}, "seed": 0, "config": {"minibatches": 1}}
    with RunWriter.create(path, header) as writer:
        writer.write_update(1, StepRecord(
            prompt_index=group_ids.numpy(), group_id=group_ids.numpy(),
            prompt_text=[f"{p} + {p} =" for p in group_ids.tolist()],
            response_text=["".join(tokens[i][: int(lengths[i])]) for i in range(n)],
            reward=rewards.numpy(), mask=mask.numpy(), token_ids=token_ids.numpy(), tokens=tokens,
            truncated=np.zeros(n, dtype=bool), logprob=logprob.numpy(), old_logprob=old.numpy(),
            ref_logprob=ref.numpy(), entropy=entropy.numpy(), terms=terms, rollout=1, epoch=0, minibatch=0,
        ), {"loss": float(out.loss), "policy_loss": float(out.loss), "rollout": 1, "epoch": 0, "minibatch": 0})
    return tokens[TAMPERED[0]][TAMPERED[1]], int(mask.sum())


@pytest.fixture(scope="module")
def checked_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("checked-runs")
    tampered_token, token_count = write_run(root / "tampered-run", tamper=True)
    write_run(root / "clean-run", tamper=False)
    with LiveServer(create_app([root])) as server:
        yield {"server": server, "token": tampered_token, "tokens": token_count}


def test_tampered_objective_is_named_and_clickable(page, checked_runs, artifacts_dir):
    server = checked_runs["server"]
    page.goto(server.url + "/?run=tampered-run&step=1")
    badge = page.get_by_test_id("step-checks")
    badge.wait_for(timeout=20000)
    assert badge.get_attribute("data-objective") == "mismatch"
    assert badge.get_attribute("role") == "alert"
    text = badge.inner_text()
    assert f"for 1 of {checked_runs['tokens']} tokens" in text
    # Σ w·o no longer matches the logged policy loss: said too.
    assert badge.get_attribute("data-loss") == "mismatch"
    assert "step loss ≠ −Σ w·o" in text and "policy_loss" in text

    listed = badge.get_by_test_id("mismatch-token")
    assert listed.count() == 1
    response, position = TAMPERED
    assert listed.get_attribute("data-response") == str(response)
    assert listed.get_attribute("data-position") == str(position)
    label = listed.inner_text()
    assert checked_runs["token"] in label and f"resp. {response}" in label and f"pos. {position}" in label
    residual = float(re.search(r"residual\s+(\S+)", label).group(1).replace("−", "-"))
    assert residual == pytest.approx(TAMPER_BY, rel=1e-3)
    page.screenshot(path=str(artifacts_dir / "step-checks-mismatch.png"), full_page=False)

    listed.click()
    page.wait_for_function(
        f"() => decodeURIComponent(location.search).includes('token={response}:{position}')")
    page.locator(f"[data-response='{response}'] .tok.selected[data-pos='{position}']").wait_for()
    check = page.get_by_test_id("formula-card-token_objective").get_by_test_id("objective-check")
    check.wait_for(state="attached", timeout=10000)
    assert check.get_attribute("data-status") == "mismatch"
    assert "✗" in check.inner_text()
    assert not page.errors, page.errors


def test_clean_run_shows_checks_passed(page, checked_runs):
    server = checked_runs["server"]
    page.goto(server.url + "/?run=clean-run&step=1&token=0:0")
    badge = page.get_by_test_id("step-checks")
    badge.wait_for(timeout=20000)
    assert badge.get_attribute("data-objective") == "ok"
    assert badge.get_attribute("data-loss") == "ok"
    text = badge.inner_text()
    assert f"objective = composed terms ✓ for all {checked_runs['tokens']} tokens" in text.replace("\n", " ")
    assert "step loss = −Σ w·o ✓" in text
    assert badge.get_by_test_id("mismatch-token").count() == 0
    check = page.get_by_test_id("formula-card-token_objective").get_by_test_id("objective-check")
    check.wait_for(state="attached", timeout=10000)
    assert check.get_attribute("data-status") == "match"
    assert not page.errors, page.errors

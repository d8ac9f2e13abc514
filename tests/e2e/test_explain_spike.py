"""E2E (Chromium): a real engine run with exact attribution and every update flagged as a spike; the
explorer marks the spikes, and "explain this spike" selects the token whose stored gradient
contribution is the largest of the step, colouring the tokens by contribution."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from support.live_server import LiveServer
from unipo.runs import RunReader

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def spike_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("spike-runs")
    out = root / "engine-spikes"
    # τ tiny: every update's grad_norm·√tokens exceeds it, so each is a spike (the rule itself is
    # tested in tests/analyses); --attribution exact stores every token's ‖c‖.
    command = [sys.executable, "-m", "unipo.cli", "train", "--algo", "grpo", "--out", str(out), "--steps", "3",
               "--prompts-per-step", "4", "--group-size", "4", "--max-new-tokens", "8", "--quiet", "--overwrite",
               "--eval-prompts", "0", "--cache-dir", str(REPO / ".unipo-cache"), "--attribution", "exact",
               "--spike-threshold", "1e-9", "--seed", "3"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return root, out


def test_explain_this_spike_lands_on_the_top_culprit_token(page, spike_run, artifacts_dir):
    from unipo.server import create_app
    root, run_dir = spike_run
    reader = RunReader(run_dir)
    metrics = reader.metrics()
    # Every update that moved the weights is flagged (one whose groups all had equal rewards has
    # grad_norm 0, which no threshold flags).
    assert [flag for flag, norm in zip(metrics["spike"], metrics["grad_norm"]) if norm > 0] == \
        [1.0] * sum(norm > 0 for norm in metrics["grad_norm"])
    # The step whose gradient was largest, and its top token by the stored ‖c‖ (read directly).
    candidates = []
    for n in reader.steps():
        table = reader.step(n)
        contribution = np.nan_to_num(table.column("grad_contribution").to_numpy(zero_copy_only=False))
        if contribution.max() > 0:
            k = int(contribution.argmax())
            candidates.append((float(contribution.max()), n, int(table.column("response")[k].as_py()),
                               int(table.column("position")[k].as_py())))
    assert candidates, "no update of the run moved any token (all rewards equal in every group)"
    _, step, response, position = max(candidates)

    with LiveServer(create_app([root])) as server:
        page.goto(server.url + f"/?run={run_dir.name}")
        markers = page.get_by_test_id("spike-markers")
        markers.locator(f"button[data-step='{step}']").click()
        page.get_by_test_id("step-inspector").get_by_role("heading", name=f"Step {step}").wait_for()
        explain = page.get_by_test_id("explain-spike")
        assert "spike" in explain.inner_text()
        explain.click()
        selected = page.locator(f"[data-response='{response}'] .tok.selected[data-pos='{position}']")
        selected.wait_for()
        page.wait_for_function(f"() => new URLSearchParams(location.search).get('token') === '{response}:{position}'")
        assert page.get_by_test_id("colour-source").input_value() == "contribution"
        line = page.get_by_test_id("explain-culprit").inner_text()
        assert f"response {response}, position {position}" in line and "ratio" in line and "advantage" in line
        page.screenshot(path=str(artifacts_dir / "explain-spike.png"), full_page=False)
        # The analyses panel ranks the same token first, and names the paper.
        page.get_by_test_id("analyses-toggle").click()
        panel = page.get_by_test_id("analyses-panel")
        first = panel.get_by_test_id("attribution-table").locator("tbody tr").first
        first.wait_for()
        assert f"{response} · {position}" in first.inner_text()
        assert "GradLoc" in panel.inner_text()
        assert not page.errors

"""`unipo train --attribution exact|bisect` on the tiny model: stored columns and metrics, the two
computations agree on the same token, and attribution does not change the training itself."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from unipo.runs import RunReader

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def train(out: Path, *extra: str) -> RunReader:
    command = [sys.executable, "-m", "unipo.cli", "train", "--algo", "grpo", "--out", str(out), "--steps", "3",
               "--prompts-per-step", "4", "--group-size", "4", "--max-new-tokens", "8", "--quiet", "--eval-prompts", "0",
               "--seed", "3", "--cache-dir", str(REPO / ".unipo-cache"), *extra]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return RunReader(out)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("attribution-runs")
    return {mode: train(root / mode, *(() if mode == "off" else ("--attribution", mode, "--spike-threshold", "1e-9")))
            for mode in ("off", "exact", "bisect")}


def test_attribution_leaves_the_training_unchanged(runs):
    norms = {mode: runs[mode].metrics()["grad_norm"] for mode in runs}
    assert norms["exact"] == pytest.approx(norms["off"], rel=1e-5, abs=1e-9)
    assert norms["bisect"] == pytest.approx(norms["off"], rel=1e-5, abs=1e-9)
    assert "grad_contribution" not in runs["off"].step(1).column_names


def test_exact_columns_and_bisection_measure_the_same_token(runs):
    exact, bisect = runs["exact"], runs["bisect"]
    metrics = bisect.metrics()
    located = [(n, i) for i, n in enumerate(metrics["step"]) if metrics.get("gradloc_response", [None] * 9)[i] is not None]
    assert located, "no update moved the weights: nothing to localise"
    for step, i in located:
        table = exact.step(step)
        response = table.column("response").to_numpy()
        position = table.column("position").to_numpy()
        contribution = table.column("grad_contribution").to_numpy(zero_copy_only=False)
        at = np.flatnonzero((response == metrics["gradloc_response"][i]) & (position == metrics["gradloc_position"][i]))
        assert len(at) == 1
        # ‖c‖ of the token bisection stopped at, measured by the exact pass of the twin run.
        assert contribution[at[0]] == pytest.approx(metrics["gradloc_grad_norm"][i], rel=2e-3)
        # Bisection's whole-update vector is the update's gradient (everything passes through ℓ here).
        assert metrics["gradloc_step_norm"][i] == pytest.approx(metrics["grad_norm"][i], rel=2e-3)
        assert contribution.max() >= metrics["gradloc_grad_norm"][i] * (1 - 2e-3)
        per_response = exact.responses(step).column("response_grad_norm").to_numpy()
        assert per_response.max() > 0

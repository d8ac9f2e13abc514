"""E2E (Chromium): the Analyses panel on small engine runs (grpo and dr_grpo on identical data, one
runs folder). Its length-bias tab re-aggregates the open step under every aggregation mode through
the what-if worker; the per-mode table it shows is checked against the stored mask read directly."""
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
MODES = ("seq-mean-token-mean", "token-mean", "token-mean-local", "seq-mean-token-sum", "seq-mean-token-sum-norm")


@pytest.fixture(scope="module")
def length_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("length-runs")
    for algo in ("grpo", "dr_grpo"):
        # 16 new tokens: the tiny model's answers to different prompts end at different lengths.
        command = [sys.executable, "-m", "unipo.cli", "train", "--algo", algo, "--out", str(root / f"engine-{algo}"),
                   "--steps", "2", "--prompts-per-step", "3", "--group-size", "4", "--max-new-tokens", "16",
                   "--quiet", "--overwrite", "--eval-prompts", "0", "--cache-dir", str(REPO / ".unipo-cache")]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO)
        assert done.returncode == 0, done.stderr[-3000:]
    return root


def _number(text: str) -> float | None:
    text = text.strip()
    return None if text in ("—", "") else float(text.replace("−", "-"))


def test_length_bias_table_under_every_mode(page, length_runs, artifacts_dir):
    from unipo.server import create_app
    run_dir = length_runs / "engine-grpo"
    reader = RunReader(run_dir)
    # The step whose response lengths vary most, and its lengths and stored Σ weight read directly.
    def lengths_of(n):
        table = reader.step(n)
        table = table.filter(np.asarray(table.column("position").to_numpy()) >= 0)
        response = table.column("response").to_numpy()
        ids, index = np.unique(response, return_inverse=True)
        return ids, np.bincount(index).astype(float), np.bincount(index, weights=np.nan_to_num(
            table.column("weight").to_numpy(zero_copy_only=False).astype(float)))
    step = max(reader.steps(), key=lambda n: np.ptp(lengths_of(n)[1]))
    ids, lengths, stored = lengths_of(step)

    with LiveServer(create_app([length_runs])) as server:
        page.goto(server.url + f"/?run={run_dir.name}&step={step}")
        page.get_by_test_id("step-inspector").get_by_role("heading", name=f"Step {step}").wait_for()
        page.get_by_test_id("analyses-toggle").click()
        panel = page.get_by_test_id("analyses-panel")
        panel.locator("button[data-analysis='length_bias']").click()
        panel.get_by_test_id("length-modes-run").click()
        table = panel.get_by_test_id("length-modes-table")
        table.wait_for(timeout=120_000)
        fits = {}
        for row in table.locator("tbody tr").all():
            cells = [c.inner_text() for c in row.locator("td").all()]
            fits[row.get_attribute("data-mode")] = [_number(c) for c in cells[1:]]
        assert set(fits) == {"stored", *MODES}
        # The per-response table (Σ weight per mode), against the stored mask's lengths.
        head = [c.text_content() for c in panel.get_by_test_id("length-modes-responses").locator("thead th").all()]
        rows = [[_number(c.text_content()) for c in r.locator("td").all()]
                for r in panel.get_by_test_id("length-modes-responses").locator("tbody tr").all()]
        assert [r[0] for r in rows] == ids.tolist() and [r[1] for r in rows] == lengths.tolist()
        column = {name: np.asarray([r[i] for r in rows], dtype=float) for i, name in enumerate(head)}
        n, total = len(lengths), lengths.sum()
        assert column["stored"] == pytest.approx(stored, rel=2e-3)
        assert column["seq-mean-token-mean"] == pytest.approx(np.full(n, 1 / n), rel=2e-3)
        assert column["token-mean"] == pytest.approx(lengths / total, rel=2e-3)
        assert column["seq-mean-token-sum"] == pytest.approx(lengths / n, rel=2e-3)
        # The fits: sequence-mean is length-neutral; token-mean grows 1/total per token, correlation 1.
        assert fits["seq-mean-token-mean"][0] == pytest.approx(0.0, abs=1e-4)
        if np.ptp(lengths) > 0:
            assert fits["token-mean"][0] == pytest.approx(1 / total, rel=2e-3)
            assert fits["token-mean"][1] == pytest.approx(1.0, abs=1e-3)
        assert panel.locator(".multiples svg").count() == len(fits)
        # Response-length drift: one line per run of the folder (grpo and dr_grpo).
        assert panel.get_by_test_id("length-drift").locator("polyline").count() == 2
        assert "dr_grpo" in panel.inner_text()
        page.screenshot(path=str(artifacts_dir / "analyses-length-bias.png"), full_page=False)
        # Mismatch: the engine stores the sampler's log-probs; no correction, TIS and MIS side by side.
        panel.locator("button[data-analysis='mismatch']").click()
        panel.get_by_test_id("mismatch-compare").click()
        corrections = panel.get_by_test_id("mismatch-corrections")
        corrections.wait_for(timeout=120_000)
        labels = [r.locator("td").first.inner_text() for r in corrections.locator("tbody tr").all()]
        assert labels[0] == "no correction" and any(l.startswith("TIS") for l in labels) \
            and sum(l.startswith("MIS") for l in labels) == 2
        # Clip asymmetry: one line per (sign of A × side of clip) cell over the run.
        panel.locator("button[data-analysis='clip_asymmetry']").click()
        lines = panel.get_by_test_id("clip-lines")
        lines.wait_for()
        assert lines.locator("polyline").count() == 4
        assert not page.errors

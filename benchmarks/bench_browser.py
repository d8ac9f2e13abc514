"""Browser benchmarks of the web app against the real server (Chromium via Playwright).

1. Click → painted heat map: click a step on the radial chart of a run whose steps hold 64
   responses × 512 tokens; time from the click to the frame after the Step Inspector's coloured
   token spans are in the DOM (goal ≤ 300 ms). Reports the first (cold: server reads Parquet)
   and the median of the following clicks.
2. Time to first paint of a 100,000-update run's metrics: from navigation start to the frame
   after the radial chart's rings are drawn (goal ≤ 1 s).

A step too large to send whole (1M and 10M tokens, the paged inspector: select -> painted, bytes
before first paint, server RSS with a what-if): benchmarks/bench_large_step.py.

Usage: .venv/bin/python benchmarks/bench_browser.py [--repeats 5] [--keep DIR]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# The e2e conftest owns the Chromium helpers and imports tests/support; load it by path (it is not a package).
sys.path.insert(0, str(REPO / "tests"))
_spec = importlib.util.spec_from_file_location("e2e_helpers", REPO / "tests" / "e2e" / "conftest.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

GAP = math.pi / 14
RADIAL_SIZE = 560


def write_big_step_run(path: Path, steps: int = 4, n: int = 64, t: int = 512, seed: int = 0) -> None:
    """Steps of n responses × t tokens; every term computed by unipo.algorithms (GRPO)."""
    import torch

    from unipo.algorithms import get_preset
    from unipo.runs import RunWriter, StepRecord

    algo = get_preset("grpo")
    rng = torch.Generator().manual_seed(seed)
    header = {"name": path.name, "algorithm": algo.to_dict(), "task": {"name": "bench", "params": {}, "reward": "random"},
              "model": {"name": "none", "parameters": 0}, "seed": seed, "config": {}}
    words = [" the", " answer", " is", " 4", "2", ".", "\n", " so", " we", " add", " carry", " one"]
    with RunWriter.create(path, header, exist_ok=True) as writer:
        for step in range(1, steps + 1):
            mask = torch.ones(n, t)
            lengths = torch.full((n,), t)
            logprobs = -torch.rand(n, t, generator=rng) * 3
            old = logprobs + 0.05 * torch.randn(n, t, generator=rng)
            rewards = torch.randint(0, 2, (n,), generator=rng).float()
            groups = torch.arange(n // 8).repeat_interleave(8)
            adv = algo.advantages(rewards, groups, mask=mask)
            out = algo.objective(logprobs, old, mask, advantages=adv, ref_logprobs=old, entropies=torch.rand(n, t, generator=rng))
            ids = torch.randint(0, len(words), (n, t), generator=rng)
            record = StepRecord(prompt_index=groups, group_id=groups,
                                prompt_text=[f"What is {int(g)} + 2? Think step by step." for g in groups],
                                response_text=["…"] * n, reward=rewards, mask=mask, token_ids=ids,
                                tokens=[[words[int(i)] for i in row] for row in ids], truncated=lengths >= t,
                                length=lengths, logprob=logprobs, old_logprob=old, ref_logprob=old,
                                terms={k: v.detach() for k, v in out.terms.items()}, rollout=step - 1)
            writer.write_update(step, record, {"loss": float(out.loss), "rollout": step - 1, "epoch": 0, "minibatch": 0,
                                               "reward_mean": float(rewards.mean())})


def write_long_metrics_run(path: Path, updates: int = 100_000) -> None:
    """A run with `updates` metrics lines (no step files), written the way RunWriter writes them."""
    from unipo.runs import RunWriter
    from unipo.runs.metrics_log import metrics_line

    header = {"name": path.name, "algorithm": {"name": "grpo", "hparams": {}}, "task": {"name": "bench", "params": {}, "reward": "-"},
              "model": {"name": "none", "parameters": 0}, "seed": 0, "config": {}}
    writer = RunWriter.create(path, header, exist_ok=True)
    rng = np.random.default_rng(0)
    x = np.arange(1, updates + 1)
    reward = np.clip(1 - np.exp(-x / 20000) + 0.05 * rng.standard_normal(updates), 0, 1)
    loss = 0.1 * rng.standard_normal(updates)
    entropy = 2 * np.exp(-x / 40000) + 0.02 * rng.standard_normal(updates)
    kl = np.abs(0.01 * x / updates + 0.002 * rng.standard_normal(updates))
    with open(path / "metrics.jsonl", "ab") as f:
        for i in range(updates):
            f.write(metrics_line(int(x[i]), {"rollout": i // 4, "epoch": 0, "minibatch": i % 4, "reward_mean": float(reward[i]),
                                             "loss": float(loss[i]), "entropy": float(entropy[i]), "kl": float(kl[i])}))
    writer.close()


# Installed before the click and awaited after it (evaluating a promise would block until it settles).
PAINT_WAITER = """
([expectedStep]) => { window.__paintWait = new Promise((resolve) => {
  let clickedAt = null;
  window.addEventListener('click', () => { clickedAt = performance.now(); }, { capture: true, once: true });
  const done = () => {
    const heading = document.querySelector('[data-testid=step-inspector] h2');
    const painted = document.querySelector('[data-testid=step-inspector] .tok');
    return heading && heading.textContent === 'Step ' + expectedStep && painted && painted.style.backgroundColor;
  };
  const observer = new MutationObserver(() => {
    if (clickedAt === null || !done()) return;
    observer.disconnect();
    // Two frames: the spans are laid out and painted.
    requestAnimationFrame(() => requestAnimationFrame(() => resolve({
      ms: performance.now() - clickedAt,
      tokens: document.querySelectorAll('[data-testid=step-inspector] .tok').length,
    })));
  });
  observer.observe(document.body, { childList: true, subtree: true, attributes: true });
}); }
"""

FIRST_PAINT = """
() => new Promise((resolve) => {
  const check = () => {
    const ring = document.querySelector('[data-testid=radial-chart] path.ring-line');
    if (ring && (ring.getAttribute('d') || '').length > 100) {
      requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now())));
    } else requestAnimationFrame(check);
  };
  check();
})
"""


def click_step(page, steps: list[int], step: int) -> None:
    chart = page.get_by_test_id("radial-chart")
    # With a step open the chart turns it towards the explainer: wait for the turn to end, aim with it.
    page.wait_for_function("() => document.querySelector('[data-testid=radial-chart]')?.dataset.turned !== 'turning'")
    rotation = float(chart.get_attribute("data-rotation") or 0)
    box = chart.bounding_box()
    t = (step - steps[0]) / (steps[-1] - steps[0])
    angle = GAP / 2 + t * (2 * math.pi - GAP) + rotation
    radius = 190 * min(box["width"], box["height"]) / RADIAL_SIZE
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.click(cx + math.sin(angle) * radius, cy - math.cos(angle) * radius)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="write the runs here (reused when present)")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="unipo-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if not (root / "bench-64x512" / "steps").is_dir():
        write_big_step_run(root / "bench-64x512")
    if not (root / "bench-100k" / "metrics.jsonl").is_file():
        write_long_metrics_run(root / "bench-100k")
    print(f"runs ready in {time.perf_counter() - t0:.1f}s under {root}", file=sys.stderr)

    from playwright.sync_api import sync_playwright

    results: dict = {}
    from unipo.server import create_app

    with helpers.LiveServer(create_app([root])) as server, sync_playwright() as playwright:
        browser = helpers.launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})

        # 2. First paint of 100k updates (run first: a cold page, as a user opening the run).
        paints = []
        page.set_default_timeout(60_000)
        for _ in range(args.repeats):
            page.goto(server.url + "/?run=bench-100k", wait_until="commit")
            paints.append(page.evaluate(FIRST_PAINT))
        results["metrics_100k_first_paint_ms"] = {"first": round(paints[0]), "median": round(statistics.median(paints)),
                                                  "goal": 1000}

        # 1. Click → painted heat map.
        page.goto(server.url + "/?run=bench-64x512")
        page.get_by_test_id("radial-chart").locator("path.ring-line").first.wait_for()
        steps = [1, 2, 3, 4]
        # Alternate two inner steps (the ends of the arc sit against the gap): the first visit
        # of each is cold (the server reads the Parquet file), later ones are served from its cache.
        sequence = [2, 3] * (args.repeats + 1)
        clicks = []
        for step in sequence:
            page.evaluate(PAINT_WAITER, [step])
            click_step(page, steps, step)
            clicks.append(page.evaluate("window.__paintWait"))
            page.mouse.move(5, 5)
        cold = [c["ms"] for c in clicks[:2]]
        warm = [c["ms"] for c in clicks[2:]]
        results["click_to_heatmap_ms"] = {"first_visits": [round(c) for c in cold],
                                          "median_revisits": round(statistics.median(warm)),
                                          "spans_painted": clicks[0]["tokens"], "goal": 300}
        browser.close()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The README's screenshot tour, regenerated from a demo run in real Chromium.

    .venv/bin/python scripts/screenshots.py [RUNS_DIR] [--out docs/screenshots]

RUNS_DIR defaults to runs/demo (made by `unipo demo`). The script serves RUNS_DIR with the real
server on a free loopback port, opens the same views a newcomer opens, and writes one PNG per stop
of the tour; it picks the step and token from the stored data (the middle update, the token most
pushed by it), so another demo gives the same tour with its own numbers.
"""
from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
VIEWPORT = {"width": 1600, "height": 1000}


def serve_in_thread(runs_dir: Path):
    import uvicorn

    from unipo.server import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app([runs_dir]), log_level="warning", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise SystemExit("the UNIPO server did not start")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


def pick(runs_dir: Path):
    """(run ids, primary run, its middle step, (response, position) of the token most pushed)."""
    from unipo.runs import RunReader, list_runs

    runs = [path for path in list_runs(runs_dir)]
    if not runs:
        raise SystemExit(f"{runs_dir}: no runs (make them with `unipo demo --out {runs_dir}`)")
    names = [path.name for path in runs]
    primary = next((path for path in runs if path.name == "grpo"), runs[0])
    reader = RunReader(primary)
    steps = reader.steps()
    if not steps:
        raise SystemExit(f"{primary}: no stored update yet")
    step = steps[len(steps) // 2]
    rows = [row for row in reader.step(step).to_pylist() if row["position"] >= 0]
    key = "grad_coef" if rows and rows[0].get("grad_coef") is not None else "token_objective"
    top = max(rows, key=lambda row: abs(row.get(key) or 0.0))
    return names, primary.name, step, (top["response"], top["position"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="?", default=str(REPO / "runs" / "demo"), help="folder of runs (default: runs/demo)")
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"), help="folder for the PNG files")
    args = parser.parse_args()
    runs_dir, out = Path(args.runs), Path(args.out)
    if not runs_dir.is_dir():
        raise SystemExit(f"{runs_dir}: not a directory (run `unipo demo` first)")
    if not (REPO / "src" / "unipo" / "web" / "index.html").exists():
        raise SystemExit("the web bundle is not built (cd frontend && npm run build)")
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    names, primary, step, (response, position) = pick(runs_dir)
    out.mkdir(parents=True, exist_ok=True)
    server, thread, url = serve_in_thread(runs_dir)
    written = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORT)

            def shot(name: str, full_page: bool = False):
                page.wait_for_timeout(600)  # transitions settle
                path = out / f"{name}.png"
                page.screenshot(path=str(path), full_page=full_page)
                written.append(path)

            # 1. The first view: the run rail and the radial Training Explorer.
            page.goto(f"{url}/?run={primary}")
            page.get_by_test_id("radial-chart").locator("path.ring-line").first.wait_for(timeout=30000)
            box = page.get_by_test_id("radial-chart").bounding_box()
            page.mouse.move(box["x"] + box["width"] * 0.82, box["y"] + box["height"] * 0.62)  # the lens
            shot("1-explorer-radial")

            # 2. One update: every prompt and token, and the formula bound to the selected token.
            page.goto(f"{url}/?run={primary}&step={step}&token={response}:{position}")
            page.get_by_test_id("explainer-canvas").locator(".formula-card").first.wait_for(timeout=30000)
            page.locator(f"[data-response='{response}'] .tok[data-pos='{position}']").first.scroll_into_view_if_needed()
            shot("2-inspector-explainer")

            # 3. Six algorithms on identical data, each run on its own scale where losses differ.
            page.goto(f"{url}/?run={','.join(names)}&view=linear&metrics=reward_mean,loss,kl_mean,clip_fraction_region")
            page.get_by_test_id("linear-chart").locator("g.panel path.series").first.wait_for(timeout=30000)
            shot("3-six-runs-linear")

            # 4. What-if: the same stored rollout re-scored under another algorithm.
            other = "dapo" if primary != "dapo" else "grpo"
            page.goto(f"{url}/?run={primary}&step={step}&token={response}:{position}&whatif=1&compare={other}")
            page.get_by_test_id("whatif-summary").wait_for(timeout=60000)
            page.get_by_test_id("whatif").scroll_into_view_if_needed()
            shot("4-whatif")

            # 5. Learning mode, on the real views (beat 4: token objectives).
            page.goto(f"{url}/?run={primary}&step={step}&token={response}:{position}")
            page.get_by_test_id("explainer-canvas").locator(".formula-card").first.wait_for(timeout=30000)
            page.get_by_role("button", name="Learning mode").click()
            for _ in range(3):
                page.get_by_test_id("learning-next").click()
            # The bar stays at the top; scroll the inspector and explainer under it.
            page.evaluate("() => { const r = document.querySelector('[data-testid=step-inspector]').getBoundingClientRect();"
                          " window.scrollTo(0, window.scrollY + r.top - 260); }")
            shot("5-learning-mode")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    for path in written:
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)


if __name__ == "__main__":
    sys.exit(main())

"""Large-step figures (issue 11, items 2 and 5), measured in one run against a real `unipo serve`:

1. a 1M-token step (2,048 responses x 512 tokens) written with the project's RunWriter (StepRecord):
   write time and the writer's peak RSS;
2. the server: whole-step route (413 past the limit), summary cold/warm, first page of the order,
   first token page (Arrow IPC): time and bytes; bytes before first paint = summary + first rows
   page + first token page (goal <= 2 MB); the checks (fetched beside, not needed to paint);
3. Chromium (real app): select the step -> first token painted in the paged inspector (goal
   <= 500 ms), and the API bytes the page fetched until then;
4. a what-if on the large step (summary + first token page, run in the worker process);
5. server RSS (VmRSS now, VmHWM peak) after browsing, sorting and the what-if (goal <= 300 MB),
   and the what-if worker's RSS apart;
6. with --ten-million: a 10M-token step (8,192 x 1,280) written and opened: summary time (goal
   <= 1 s), first pages.

Usage: .venv/bin/python benchmarks/bench_large_step.py [--keep DIR] [--ten-million] [--no-browser]
"""
from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Written in a child process (numpy only: the figures are the store's and the server's, not torch's).
WRITER = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np
    from unipo.algorithms import get_preset
    from unipo.runs import RunWriter, StepRecord
    path, n, t = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(0)
    group = 16
    lengths = np.full(n, t)   # exactly n*t tokens
    mask = (np.arange(t)[None, :] < lengths[:, None]).astype(np.float32)
    prompt = np.arange(n) // group
    logprob = (-rng.gamma(0.6, 0.8, (n, t))).astype(np.float32) * mask
    old = (logprob + rng.normal(0, 0.05, (n, t)).astype(np.float32)) * mask
    reward = rng.integers(0, 2, n).astype(np.float32)
    mean = np.bincount(prompt, reward) / np.bincount(prompt)
    adv = np.repeat((reward - mean[prompt])[:, None], t, 1).astype(np.float32) * mask
    ratio = np.exp(logprob - old) * mask
    clipped_high = ((ratio > 1.2) & (adv > 0)) * mask
    clipped_low = ((ratio < 0.8) & (adv < 0)) * mask
    surrogate = np.minimum(ratio * adv, np.clip(ratio, 0.8, 1.2) * adv) * mask
    weight = mask / lengths[:, None] / n
    terms = {"ratio": ratio, "advantage": adv, "clipped_low": clipped_low, "clipped_high": clipped_high,
             "clipped": np.maximum(clipped_low, clipped_high), "surrogate": surrogate, "kl": np.zeros_like(ratio),
             "kl_penalty": np.zeros_like(ratio), "entropy_bonus": np.zeros_like(ratio), "weight": weight,
             "token_objective": surrogate, "grad_coef": -(weight * adv * ratio * (1 - np.maximum(clipped_low, clipped_high)))}
    vocab = np.array([f" w{i}" for i in range(4000)])
    ids = rng.integers(0, 4000, (n, t))
    header = {"name": path.rsplit("/", 1)[-1], "algorithm": get_preset("grpo").to_dict(), "task": {"name": "bench"},
              "model": {"name": "none"}, "seed": 0, "config": {"prompts_per_step": n // group, "group_size": group}}
    start = time.perf_counter()
    with RunWriter.create(path, header) as writer:
        record = StepRecord(prompt_index=prompt, group_id=prompt, prompt_text=[f"Prompt {p}: what is {p} + {p}?" for p in prompt],
                            response_text=["r"] * n, reward=reward, mask=mask, token_ids=ids,
                            tokens=[list(vocab[row[:l]]) for row, l in zip(ids, lengths)], length=lengths,
                            truncated=lengths >= t, logprob=logprob, old_logprob=old,
                            entropy=rng.gamma(1.0, 0.7, (n, t)).astype(np.float32) * mask, terms=terms)
        built = time.perf_counter()
        writer.write_update(1, record, {"policy_loss": float(-(weight * surrogate).sum()), "rollout": 0, "epoch": 0, "minibatch": 0})
    done = time.perf_counter()
    print(json.dumps({"tokens": int(mask.sum()), "write_s": round(done - built, 2),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
""")


def write_step(path: Path, n: int, t: int) -> dict:
    if (path / "run.json").exists():
        return {"reused": str(path)}
    done = subprocess.run([sys.executable, "-c", WRITER, str(path), str(n), str(t)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"writing {path} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> dict:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            name, value = line.split(":")
            fields[name] = round(int(value.split()[0]) / 1024)
    return fields


def children(pid: int) -> list[int]:
    """Child processes of pid (the what-if worker), from /proc/*/stat."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def fetch(url: str) -> tuple[int, int, float]:
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=600) as answer:
            body = answer.read()
            status = answer.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    return status, len(body), round((time.perf_counter() - start) * 1000, 1)


def server_figures(base: str, run: str, first_ids: str) -> dict:
    out = {}
    status, size, ms = fetch(f"{base}/api/runs/{run}/steps/1")
    out["whole_step_route"] = {"status": status, "bytes": size, "ms": ms}
    # What the paged inspector asks first: the summary with its colour column's stats (g, objective).
    _, summary_bytes, cold = fetch(f"{base}/api/runs/{run}/steps/1/summary?stats=grad_coef,token_objective")
    _, _, warm = fetch(f"{base}/api/runs/{run}/steps/1/summary?stats=grad_coef,token_objective")
    _, _, more_stats = fetch(f"{base}/api/runs/{run}/steps/1/summary?stats=ratio,entropy,kl,weight,logprob")
    _, checks_bytes, checks_ms = fetch(f"{base}/api/runs/{run}/steps/1/checks")
    out["checks_after_first_paint"] = {"bytes": checks_bytes, "cold_ms": checks_ms}
    out["summary_five_more_column_stats_ms"] = more_stats
    _, rows_bytes, rows_ms = fetch(f"{base}/api/runs/{run}/steps/1/responses?sort=response&desc=false&offset=0&limit=50")
    _, sorted_bytes, sorted_ms = fetch(f"{base}/api/runs/{run}/steps/1/responses?sort=grad_coef_abs_sum&desc=true&offset=0&limit=50")
    columns = "token,grad_coef,token_objective,surrogate,advantage,ratio,clipped,clipped_low,clipped_high,kl,kl_penalty,entropy,entropy_rank,weight,logprob,old_logprob"
    _, page_bytes, page_ms = fetch(f"{base}/api/runs/{run}/steps/1/tokens?responses={first_ids}&columns={columns}")
    out["summary"] = {"bytes": summary_bytes, "cold_ms": cold, "warm_ms": warm}
    out["first_rows_page"] = {"bytes": rows_bytes, "ms": rows_ms}
    out["sorted_rows_page_by_grad_abs"] = {"bytes": sorted_bytes, "ms": sorted_ms}
    out["first_token_page"] = {"responses": len(first_ids.split(",")), "bytes": page_bytes, "ms": page_ms}
    out["bytes_before_first_paint"] = {"api_bytes": summary_bytes + rows_bytes + page_bytes, "goal": 2_000_000}
    out["server_ms_summary_plus_first_pages"] = round(cold + rows_ms + page_ms, 1)
    return out


PAINTED = """
() => new Promise((resolve) => {
  const start = performance.now();
  history.pushState(null, '', location.pathname + location.search + '&step=1');
  dispatchEvent(new PopStateEvent('popstate'));
  const check = () => {
    const tok = document.querySelector('[data-testid=paged-scroller] .tok');
    if (tok && tok.style.backgroundColor) {
      requestAnimationFrame(() => requestAnimationFrame(() => {
        const api = performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/runs/') && e.name.includes('/steps/'));
        resolve({ ms: performance.now() - start, api_bytes: api.reduce((s, e) => s + (e.encodedBodySize || 0), 0),
                  requests: api.map((e) => e.name.split('/steps/')[1].slice(0, 40)) });
      }));
    } else requestAnimationFrame(check);
  };
  check();
})
"""


def browser_figures(base: str, run: str) -> dict:
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(REPO / "tests"))
    chromium_args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=chromium_args, headless=True)
        for attempt in range(3):
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.set_default_timeout(30_000)
            page.goto(f"{base}/?run={run}")
            page.get_by_test_id("radial-chart").wait_for()
            page.evaluate("() => performance.clearResourceTimings()")
            results.append(page.evaluate(PAINTED))
            page.close()
        browser.close()
    return {"select_to_painted_ms": {"cold_server": round(results[0]["ms"]),
                                     "warm": [round(r["ms"]) for r in results[1:]], "goal": 500},
            "api_bytes_until_painted": results[0]["api_bytes"], "requests": results[0]["requests"]}


def whatif_figures(base: str, run: str, first_ids: str) -> dict:
    _, size, cold = fetch(f"{base}/api/runs/{run}/steps/1/whatif/summary?algo=dapo")
    _, _, warm = fetch(f"{base}/api/runs/{run}/steps/1/whatif/summary?algo=dapo")
    _, page_bytes, page_ms = fetch(f"{base}/api/runs/{run}/steps/1/whatif/tokens?algo=dapo&responses={first_ids}"
                                   "&columns=grad_coef,token_objective_delta,weight_delta,clipped")
    status, _, _ = fetch(f"{base}/api/runs/{run}/steps/1/whatif?algo=dapo")
    return {"summary": {"bytes": size, "cold_ms": cold, "cached_ms": warm},
            "first_token_page": {"bytes": page_bytes, "ms": page_ms}, "whole_whatif_route_status": status}


def start_server(root: Path):
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "unipo.cli", "serve", str(root), "--port", str(port), "--no-browser"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/api/runs", timeout=2).read()
            break
        except OSError:
            time.sleep(0.1)
    return server, base


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the runs here (reused when present)")
    parser.add_argument("--ten-million", action="store_true", help="also a 10M-token step")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="unipo-large-"))
    root.mkdir(parents=True, exist_ok=True)
    results: dict = {"write_1m": write_step(root / "step1m", 2048, 512)}
    if args.ten_million:
        results["write_10m"] = write_step(root / "step10m", 8192, 1280)

    first = ",".join(str(i) for i in range(10))
    if not args.no_browser:
        # A server of its own, so the first selection finds nothing cached (cold), the later ones warm.
        server, base = start_server(root)
        try:
            results["1m_browser"] = browser_figures(base, "step1m")
        finally:
            server.terminate()
            server.wait(timeout=20)
    server, base = start_server(root)
    try:
        results["server_rss_start_mb"] = rss_mb(server.pid)
        results["1m"] = server_figures(base, "step1m", first)
        results["server_rss_after_1m_pages_mb"] = rss_mb(server.pid)
        results["1m_whatif"] = whatif_figures(base, "step1m", first)
        results["server_rss_after_whatif_mb"] = rss_mb(server.pid)
        results["whatif_worker_rss_mb"] = [rss_mb(pid) for pid in children(server.pid)]
        if args.ten_million:
            results["10m"] = server_figures(base, "step10m", first)
            results["server_rss_after_10m_mb"] = rss_mb(server.pid)
        results["torch_in_server"] = "torch" in Path(f"/proc/{server.pid}/maps").read_text()
    finally:
        server.terminate()
        server.wait(timeout=20)
        print(json.dumps(results, indent=2))  # what was measured, even when a later part failed
    return 0


if __name__ == "__main__":
    sys.exit(main())

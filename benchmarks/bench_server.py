"""Server figures, measured in one run (GitHub issue 4):

1. step endpoint for one 64-response x 512-token step: server time cold and cached (goal <= 30 ms; the
   payload includes the invariant `checks` block),
   and the HTTP round trip through a real uvicorn on 127.0.0.1;
2. metrics for a 100,000-update run: time and bytes (down-sampled to 2,000 points, and a window);
3. bytes sent for that step vs the same step as UNIPO canonical JSON (unipo.runs export format);
4. resident memory of a `unipo serve` process while it serves a large run (every step requested; goal
   < 300 MB), then after a what-if (which loads torch).

Usage: .venv/bin/python benchmarks/bench_server.py [--large-gb 1.0] [--keep DIR]
The large run is built by copying one real 64 x 512 step file under new step numbers until the
run reaches --large-gb on disk (writing hundreds of distinct steps would take far longer than the
benchmark itself; the server reads each copy as a separate step, so caching cannot cheat).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from unipo.algorithms import get_preset
from unipo.runs import RunReader, RunWriter, StepRecord
from unipo.runs.canonical.export import canonical_entry
from unipo.runs.metrics_log import metrics_line
from unipo.runs.schema import METRICS_JSONL, step_path
from unipo.server import create_app

N_PROMPTS, GROUP, T = 8, 8, 512
METRIC_NAMES = ["loss", "policy_loss", "reward_mean", "reward_std", "advantage_mean", "advantage_std",
                "kl_mean", "entropy_mean", "ratio_mean", "ratio_min", "ratio_max", "clip_fraction",
                "clip_fraction_low", "clip_fraction_high", "grad_norm", "lr", "response_length_mean"]


def step_record(seed: int) -> StepRecord:
    """A realistic step: 64 responses, lengths 64..512, every term from a real GRPO objective."""
    rng = np.random.default_rng(seed)
    n = N_PROMPTS * GROUP
    lengths = rng.integers(64, T + 1, size=n)
    lengths[:] = T  # every response uses all 512 positions: the 64 x 512 case of the goal
    mask = torch.as_tensor((np.arange(T)[None, :] < lengths[:, None]).astype(np.float32))
    logprob = torch.as_tensor(-rng.gamma(0.6, 0.8, (n, T)).astype(np.float32))
    old = logprob + torch.as_tensor(rng.normal(0, 0.05, (n, T)).astype(np.float32))
    ref = logprob + torch.as_tensor(rng.normal(0, 0.1, (n, T)).astype(np.float32))
    entropy = torch.as_tensor(rng.gamma(1.0, 0.7, (n, T)).astype(np.float32))
    rewards = torch.as_tensor(rng.integers(0, 2, size=n).astype(np.float32))
    prompts = torch.as_tensor(np.repeat(np.arange(N_PROMPTS), GROUP))
    algo = get_preset("grpo")
    details = algo.advantage_details(rewards, prompts, mask=mask, logprobs=old, ref_logprobs=ref)
    out = algo.objective(logprob, old, mask, advantages=details.advantages, ref_logprobs=ref, entropies=entropy)
    vocab = [f"tok{i}" for i in range(2000)] + [" the", " answer", " is", "\n", " =", " 4"]
    token_ids = rng.integers(0, len(vocab), size=(n, T))
    tokens = [[vocab[j] for j in token_ids[i, : lengths[i]]] for i in range(n)]
    return StepRecord(
        prompt_index=prompts, group_id=prompts + 1000 * seed,
        prompt_text=[f"Problem {p}: " + "compute the sum of the digits " * 6 for p in np.repeat(np.arange(N_PROMPTS), GROUP)],
        response_text=["".join(t) for t in tokens], reward=rewards, mask=mask, token_ids=token_ids, tokens=tokens,
        truncated=torch.as_tensor(lengths == T), logprob=logprob, old_logprob=old, ref_logprob=ref,
        entropy=entropy, terms=out.terms, rollout=seed, epoch=0, minibatch=0,
    )


def timed(fn, repeats: int) -> tuple[float, float]:
    """(median wall ms, median CPU ms of this process) over `repeats` calls."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(run: Path, port: int, *, via_cli: bool = False) -> subprocess.Popen:
    """`unipo serve` in its own process (via_cli) or the bare unipo.server.serve() it calls."""
    if via_cli:
        command = [sys.executable, "-m", "unipo.cli", "serve", str(run), "--port", str(port), "--no-browser"]
    else:
        command = [sys.executable, "-c", f"from unipo.server import serve; serve([{str(run)!r}], port={port}, "
                   "open_browser=False)"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(url: str, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not start")


def write_step_run(work: Path) -> Path:
    run = work / "runs" / "step64x512"
    writer = RunWriter.create(run, {"name": "step64x512", "algorithm": get_preset("grpo").to_dict()})
    writer.write_update(1, step_record(1), {name: 0.1 for name in METRIC_NAMES})
    writer.close()
    return run


def bench_step(work: Path) -> Path:
    from fastapi.testclient import TestClient

    run = write_step_run(work)
    size = step_path(run, 1).stat().st_size
    tokens = int(RunReader(run).step(1).num_rows)
    print(f"## 1. step endpoint: one step of 64 responses, {tokens} tokens (step file {size / 1e6:.2f} MB)")

    app = create_app([run])
    entry = app.state.registry.get("step64x512")
    service = app.state.steps

    def cold():
        service.tables.clear()
        service.payloads.clear()
        return service.payload_bytes(entry, 1)

    def encode_only():
        service.payloads.clear()
        return service.payload_bytes(entry, 1)

    body = cold()
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (the machine is shared)")
    wall, cpu = timed(cold, 9)
    print(f"server time, cold (read parquet + build + encode):  {wall:.1f} ms wall, {cpu:.1f} ms CPU (median of 9)")
    wall, cpu = timed(encode_only, 9)
    print(f"server time, table cached, payload built + encoded: {wall:.1f} ms wall, {cpu:.1f} ms CPU")
    wall, cpu = timed(lambda: service.payload_bytes(entry, 1), 50)
    print(f"server time, cached payload:                         {wall:.3f} ms wall")
    with TestClient(app) as client:
        client.get("/api/runs/step64x512/steps/1")
        print(f"in-process ASGI request, cached:                     "
              f"{median_ms(lambda: client.get('/api/runs/step64x512/steps/1'), 20):.1f} ms")
        whatif_ms = median_ms(lambda: client.get("/api/runs/step64x512/steps/1/whatif?algo=dapo"), 5)
        print(f"what-if (dapo) on this step, in-process:             {whatif_ms:.1f} ms")

    port = free_port()
    server = start_server(run, port)
    try:
        import httpx

        url = f"http://127.0.0.1:{port}"
        wait_for(url + "/api/runs")
        time.sleep(2)  # let the start-up warm-up finish, as a user's first click would
        with httpx.Client(base_url=url, timeout=30) as http:
            first = median_ms(lambda: http.get("/api/runs/step64x512/steps/1"), 1)
            again = median_ms(lambda: http.get("/api/runs/step64x512/steps/1"), 20)
        print(f"HTTP round trip via uvicorn, first / repeated request: {first:.1f} ms / {again:.1f} ms "
              "(serve() pre-decodes the newest step at start)")
    finally:
        server.terminate()
        server.wait()

    # 3. bytes: the server's columnar payload vs the canonical per-token JSON of the same step
    reader = RunReader(run)
    canonical = json.dumps(canonical_entry(1, reader.responses(1), reader.step(1), {}),
                           ensure_ascii=False, separators=(",", ":")).encode()
    print("\n## 3. bytes for that step")
    print(f"server step payload: {len(body) / 1e6:.2f} MB ({len(gzip.compress(body, 6)) / 1e6:.2f} MB gzipped)")
    print(f"UNIPO canonical JSON of the same step (unipo.runs.canonical entry): {len(canonical) / 1e6:.2f} MB "
          f"({len(gzip.compress(canonical, 6)) / 1e6:.2f} MB gzipped)")
    print(f"ratio server / canonical: {len(body) / len(canonical):.2f}")
    return run


def bench_metrics(work: Path) -> None:
    from fastapi.testclient import TestClient

    run = work / "runs" / "long100k"
    RunWriter.create(run, {"name": "long100k"}).close()
    rng = np.random.default_rng(0)
    values = rng.normal(size=(100_000, len(METRIC_NAMES)))
    with open(run / METRICS_JSONL, "wb") as handle:
        for step in range(1, 100_001):
            handle.write(metrics_line(step, dict(zip(METRIC_NAMES, values[step - 1].tolist()))))
    size = (run / METRICS_JSONL).stat().st_size
    print(f"\n## 2. metrics of a 100,000-update run ({len(METRIC_NAMES)} metrics, metrics.jsonl {size / 1e6:.1f} MB)")
    with TestClient(create_app([run])) as client:
        start = time.perf_counter()
        first = client.get("/api/runs/long100k/metrics?max_points=2000")
        print(f"first request (parse file + LTTB to 2,000 points): {(time.perf_counter() - start) * 1000:.0f} ms, "
              f"{len(first.content) / 1e3:.0f} kB, {len(first.json()['step'])} points")
        ms = median_ms(lambda: client.get("/api/runs/long100k/metrics?max_points=2000"), 5)
        print(f"later requests (answer cached until the file changes): {ms:.0f} ms")
        ms = median_ms(lambda: client.get("/api/runs/long100k/metrics?max_points=2000&columns=loss,kl_mean,reward_mean,entropy_mean"), 5)
        print(f"4 chosen metrics, 2,000 points:                      {ms:.0f} ms")
        window = client.get("/api/runs/long100k/metrics?start=40000&end=41000")
        ms = median_ms(lambda: client.get("/api/runs/long100k/metrics?start=40000&end=41000"), 5)
        print(f"window of 1,001 updates at full resolution:          {ms:.0f} ms, {len(window.content) / 1e3:.0f} kB")
        with open(run / METRICS_JSONL, "ab") as handle:
            handle.write(metrics_line(100_001, dict(zip(METRIC_NAMES, values[0].tolist()))))
        ms = median_ms(lambda: client.get("/api/runs/long100k/metrics?max_points=2000"), 1)
        print(f"after one more line is appended (live, incremental): {ms:.0f} ms")


def bench_memory(work: Path, step_run: Path, large_gb: float, max_requests: int) -> None:
    import httpx
    import psutil

    run = work / "runs" / "large"
    shutil.copytree(step_run, run)
    source = step_path(run, 1)
    per_step = source.stat().st_size
    count = max(1, int(large_gb * 1e9 // per_step))
    lines = [metrics_line(1, {name: 0.1 for name in METRIC_NAMES})]
    for step in range(2, count + 1):
        shutil.copyfile(source, step_path(run, step))
        lines.append(metrics_line(step, {name: 0.1 for name in METRIC_NAMES}))
    (run / METRICS_JSONL).write_bytes(b"".join(lines))
    total = sum(f.stat().st_size for f in run.rglob("*") if f.is_file())
    print(f"\n## 4. memory while serving a large run: {count} steps of 64 x 512, {total / 1e9:.2f} GB on disk")

    port = free_port()
    cli = start_server(run, port, via_cli=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/api/runs")
        time.sleep(2)
        print(f"RSS of `unipo serve` (the CLI) after start: {psutil.Process(cli.pid).memory_info().rss / 1e6:.0f} MB "
              "(its argument parser imports other commands' modules)")
    finally:
        cli.terminate()
        cli.wait()

    port = free_port()
    server = start_server(run, port)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(url + "/api/runs")
        time.sleep(2)
        process = psutil.Process(server.pid)
        idle = process.memory_info().rss
        peak = idle
        requested = np.unique(np.linspace(1, count, min(count, max_requests)).astype(int))
        start = time.perf_counter()
        with httpx.Client(base_url=url, timeout=60) as http:
            http.get("/api/runs/large")
            http.get("/api/runs/large/metrics")
            for step in requested:
                response = http.get(f"/api/runs/large/steps/{step}")
                assert response.status_code == 200, response.text[:200]
                peak = max(peak, process.memory_info().rss)
            elapsed = time.perf_counter() - start
            print(f"unipo.server.serve() process — RSS after start: {idle / 1e6:.0f} MB; peak while serving {len(requested)} distinct steps: "
                  f"{peak / 1e6:.0f} MB; at the end {process.memory_info().rss / 1e6:.0f} MB "
                  f"({elapsed / len(requested) * 1000:.0f} ms per cold step over HTTP)")
            assert http.get("/api/algorithms").status_code == 200
            assert http.get("/api/runs/large/algorithm").status_code == 200
            print(f"RSS after /api/algorithms and the run's algorithm (described in-process without torch, "
                  f"no torch here): {process.memory_info().rss / 1e6:.0f} MB")
            http.get(f"/api/runs/large/steps/{requested[-1]}/whatif?algo=dapo")
            print(f"RSS after one what-if (imports torch, ~190 MB): {process.memory_info().rss / 1e6:.0f} MB")
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large-gb", type=float, default=1.0, help="size on disk of the large run (default 1.0)")
    parser.add_argument("--max-requests", type=int, default=10_000, help="cap on steps requested in part 4")
    parser.add_argument("--memory-only", action="store_true", help="only part 4")
    parser.add_argument("--keep", type=Path, help="build runs here and keep them (default: a temp dir, removed)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    work = args.keep or Path(tempfile.mkdtemp(prefix="unipo-bench-server-"))
    print(f"# UNIPO server benchmark ({os.cpu_count()} CPUs, Python {sys.version.split()[0]})\n")
    try:
        if args.memory_only:
            step_run = write_step_run(work)
        else:
            step_run = bench_step(work)
            bench_metrics(work)
        if args.large_gb > 0:
            bench_memory(work, step_run, args.large_gb, args.max_requests)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

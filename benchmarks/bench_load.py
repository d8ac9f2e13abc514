"""Light routes under a mixed heavy load (GitHub issue: heavy requests delay light ones).

Starts a real `unipo.server.serve()` (uvicorn) in its own process on 127.0.0.1 over a generated run
(64 responses x 512 tokens per step, copied under --steps step numbers so most step requests are
cold; a long metrics.jsonl), then:

1. light routes alone: sequential requests to the runs list, metrics, algorithms and the SSE stream
   (time to its first bytes) — the baseline;
2. a bounded mixed load: --clients concurrent clients (httpx async) x --requests requests each,
   mixing light routes with heavy ones (whole step, one response, what-if), stopped after
   --time-limit seconds at most.

Prints p50/p99/max per route class, the 503 count (heavy queue saturated: the server says "busy,
retry after" instead of queueing without bound) and the ratio light p99 under load / light p99 alone.
Traffic goes to 127.0.0.1 only.

Usage: .venv/bin/python benchmarks/bench_load.py [--clients 100] [--requests 20] [--steps 12]
"""
from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import METRIC_NAMES, free_port, step_record, wait_for  # noqa: E402

from unipo.algorithms import get_preset  # noqa: E402
from unipo.runs import RunWriter  # noqa: E402
from unipo.runs.metrics_log import metrics_line  # noqa: E402
from unipo.runs.schema import METRICS_JSONL, step_path  # noqa: E402

RUN_ID = "load64x512"
LIGHT = ("runs", "metrics", "algorithms", "events")
HEAVY = ("step", "response", "whatif")
# Share of each route class in the mixed load (a browsing session: mostly light, some heavy).
MIX = {"runs": 0.25, "metrics": 0.25, "algorithms": 0.10, "events": 0.05,
       "step": 0.15, "response": 0.10, "whatif": 0.10}
WHATIF_ALGOS = ("dapo", "ppo", "grpo", "dr_grpo")


def build_run(work: Path, steps: int, updates: int) -> Path:
    run = work / "runs" / RUN_ID
    writer = RunWriter.create(run, {"name": RUN_ID, "algorithm": get_preset("grpo").to_dict(),
                                    "config": {"prompts_per_step": 8, "minibatches": 1}})
    writer.write_update(1, step_record(1), {name: 0.1 for name in METRIC_NAMES})
    writer.close()
    source = step_path(run, 1)
    for step in range(2, steps + 1):
        shutil.copyfile(source, step_path(run, step))
    rng = np.random.default_rng(0)
    values = rng.normal(size=(updates, len(METRIC_NAMES)))
    with open(run / METRICS_JSONL, "wb") as handle:
        for step in range(1, updates + 1):
            handle.write(metrics_line(step, dict(zip(METRIC_NAMES, values[step - 1].tolist()))))
    return run


def url_for(kind: str, rng: random.Random, steps: int) -> str:
    step = rng.randint(1, steps)
    return {
        "runs": "/api/runs",
        "metrics": f"/api/runs/{RUN_ID}/metrics?max_points=2000",
        "algorithms": "/api/algorithms",
        "events": f"/api/runs/{RUN_ID}/events",
        "step": f"/api/runs/{RUN_ID}/steps/{step}",
        "response": f"/api/runs/{RUN_ID}/steps/{step}/responses/{rng.randint(0, 63)}",
        "whatif": f"/api/runs/{RUN_ID}/steps/{step}/whatif?algo={rng.choice(WHATIF_ALGOS)}",
    }[kind]


class Connection:
    """A minimal keep-alive HTTP/1.1 client over asyncio streams: the load generator must cost far
    less CPU than the server it measures (both share this machine's cores), so no httpx here."""

    def __init__(self, port: int):
        self.port = port
        self.reader = self.writer = None

    async def _open(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def close(self):
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None

    async def get(self, path: str, *, first_bytes_only: bool = False) -> tuple[int, dict[str, str]]:
        if self.writer is None:
            await self._open()
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n\r\n".encode())
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
        if first_bytes_only:  # a stream (SSE): its first chunk, then drop the connection
            await self.reader.readuntil(b"\r\n")
            await self.close()
        elif "content-length" in headers:
            await self.reader.readexactly(int(headers["content-length"]))
        else:  # chunked
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        if headers.get("connection") == "close":
            await self.close()
        return status, headers


async def one_request(connection: Connection, kind: str, url: str) -> tuple[float, int]:
    start = time.perf_counter()
    # An SSE stream never ends: its latency is the time to its first bytes (the `retry:` line).
    status, headers = await connection.get(url, first_bytes_only=kind == "events")
    if status == 503 and "retry-after" not in headers:
        status = -503  # reported apart: a 503 must say when to retry
    return (time.perf_counter() - start) * 1000, status


async def alone(port: int, steps: int, repeats: int) -> dict[str, list[float]]:
    rng = random.Random(1)
    found: dict[str, list[float]] = {kind: [] for kind in LIGHT}
    connection = Connection(port)
    for _ in range(repeats):
        for kind in LIGHT:
            ms, status = await one_request(connection, kind, url_for(kind, rng, steps))
            assert status == 200, (kind, status)
            found[kind].append(ms)
    await connection.close()
    return found


async def _load(port: int, steps: int, seeds: range, requests: int, deadline: float, think_ms: float):
    kinds, weights = zip(*MIX.items())
    samples: list[tuple[str, float, int]] = []

    async def worker(seed: int) -> None:
        rng = random.Random(seed)
        connection = Connection(port)
        for _ in range(requests):
            if time.time() > deadline:
                break
            kind = rng.choices(kinds, weights)[0]
            ms, status = await one_request(connection, kind, url_for(kind, rng, steps))
            samples.append((kind, ms, status))
            if think_ms:  # a user looks at the answer before the next click (mean think_ms)
                await asyncio.sleep(rng.uniform(0, 2 * think_ms) / 1000)
        await connection.close()

    await asyncio.gather(*(worker(seed) for seed in seeds))
    return samples


def load_process(args: tuple, out) -> None:
    out.put(asyncio.run(_load(*args)))


def probe_process(port: int, steps: int, stop, out) -> None:
    """One sequential client of the light routes, in its own process, while the load runs: what a
    user clicking around sees, free of the load generator's own queueing."""

    async def probe():
        rng = random.Random(7)
        connection = Connection(port)
        samples = []
        while not stop.is_set():
            for kind in LIGHT:
                ms, status = await one_request(connection, kind, url_for(kind, rng, steps))
                samples.append((kind, ms, status))
            await asyncio.sleep(0.02)
        await connection.close()
        return samples

    out.put(asyncio.run(probe()))


def under_load(port: int, steps: int, clients: int, requests: int, time_limit: float, procs: int,
               think_ms: float):
    import multiprocessing

    context = multiprocessing.get_context("fork")
    deadline = time.time() + time_limit
    stop, loads_out, probe_out = context.Event(), context.Queue(), context.Queue()
    probe = context.Process(target=probe_process, args=(port, steps, stop, probe_out))
    probe.start()
    start = time.perf_counter()
    loads = [context.Process(target=load_process, args=((port, steps, range(i, clients, procs), requests, deadline,
                                                          think_ms),
                                                         loads_out)) for i in range(procs)]
    for process in loads:
        process.start()
    samples = [sample for _ in loads for sample in loads_out.get(timeout=time_limit + 60)]
    elapsed = time.perf_counter() - start
    stop.set()
    probed = probe_out.get(timeout=60)
    for process in (*loads, probe):
        process.join(timeout=10)
    return samples, probed, elapsed


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--requests", type=int, default=20, help="requests per client (bounded load)")
    parser.add_argument("--steps", type=int, default=12, help="distinct step files (more: colder caches)")
    parser.add_argument("--updates", type=int, default=20_000, help="metrics.jsonl lines")
    parser.add_argument("--time-limit", type=float, default=120.0, help="stop the load after this many seconds")
    parser.add_argument("--think-ms", type=float, default=100.0,
                        help="mean pause of each client between its requests (0: back to back)")
    parser.add_argument("--procs", type=int, default=4, help="load-generator processes sharing the clients")
    parser.add_argument("--keep", type=Path, help="build the run here and keep it")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="unipo-bench-load-"))
    run = build_run(work, args.steps, args.updates)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-c", f"from unipo.server import serve; serve([{str(run)!r}], port={port}, open_browser=False)"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import httpx

        wait_for(base + "/api/runs")
        # Warm-up as a user's first clicks would: metrics parsed, torch imported by a first what-if.
        with httpx.Client(base_url=base, timeout=60) as http:
            http.get(f"/api/runs/{RUN_ID}/metrics?max_points=2000")
            http.get("/api/algorithms")
            http.get(f"/api/runs/{RUN_ID}/steps/1/whatif?algo=dapo")
        time.sleep(1)

        baseline = asyncio.run(alone(port, args.steps, 30))
        samples, probed, elapsed = under_load(port, args.steps, args.clients, args.requests,
                                              args.time_limit, args.procs, args.think_ms)
    finally:
        server.terminate()
        server.wait()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    results: dict[str, list[float]] = {kind: [] for kind in MIX}
    statuses: dict[str, dict[int, int]] = {kind: {} for kind in MIX}
    for kind, ms, status in samples:
        results[kind].append(ms)
        statuses[kind][status] = statuses[kind].get(status, 0) + 1
    total = sum(len(v) for v in results.values())
    print(f"run: {args.steps} steps of 64 x 512 tokens, {args.updates} metrics lines; "
          f"{args.clients} clients x {args.requests} requests, mean think {args.think_ms:.0f} ms "
          f"({total} sent in {elapsed:.1f} s, {total / elapsed:.0f}/s)")
    print("\n## light routes alone (sequential, 30 each)")
    for kind in LIGHT:
        print(f"{kind:<11} p50 {pct(baseline[kind], 50):7.1f} ms   p99 {pct(baseline[kind], 99):7.1f} ms")
    print("\n## under the mixed load")
    print(f"{'route':<11} {'count':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  statuses")
    for kind in (*LIGHT, *HEAVY):
        values = results[kind]
        codes = ", ".join(f"{code}: {count}" for code, count in sorted(statuses[kind].items()))
        print(f"{kind:<11} {len(values):>5} {pct(values, 50):8.1f} {pct(values, 99):8.1f} "
              f"{max(values, default=float('nan')):8.1f}  {codes}")
    print(f"\n## light routes seen by one separate sequential client during the load ({len(probed)} requests)")
    for kind in LIGHT:
        values = [ms for k, ms, _ in probed if k == kind]
        print(f"{kind:<11} {len(values):>5} {pct(values, 50):8.1f} {pct(values, 99):8.1f} {max(values, default=float('nan')):8.1f}")
    light_probe = [ms for _, ms, _ in probed]
    light_alone = [ms for kind in LIGHT for ms in baseline[kind]]
    light_load = [ms for kind in LIGHT for ms in results[kind]]
    heavy_codes = [statuses[kind] for kind in HEAVY]
    busy = sum(codes.get(503, 0) for codes in heavy_codes)
    light_errors = sum(count for kind in LIGHT for code, count in statuses[kind].items() if code != 200)
    print(f"\nlight routes, load clients: p50 {pct(light_load, 50):.1f} ms, p99 {pct(light_load, 99):.1f} ms under load "
          f"vs p99 {pct(light_alone, 99):.1f} ms alone: ratio {pct(light_load, 99) / pct(light_alone, 99):.1f}x "
          f"(non-200 light answers: {light_errors})")
    print(f"light routes, separate client: p50 {pct(light_probe, 50):.1f} ms, p99 {pct(light_probe, 99):.1f} ms "
          f"under load: ratio to alone {pct(light_probe, 99) / pct(light_alone, 99):.1f}x "
          f"(non-200: {sum(1 for *_, status in probed if status != 200)})")
    print(f"heavy routes answered 503 (queue full, Retry-After): {busy} of {sum(len(results[k]) for k in HEAVY)}")


if __name__ == "__main__":
    main()

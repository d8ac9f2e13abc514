"""What-if figures (GitHub issue 5): the server recomputing one stored 32,000-token step under every
preset (goal <= 100 ms each).

For each preset it times, after one warm-up call:
  - route: GET /api/runs/{id}/steps/{step}/whatif?algo=NAME through FastAPI's TestClient
    (in-process: query parsing, the recomputation, the summary and the JSON encoding);
  - recompute: unipo.server.whatif.whatif_payload on the already-decoded step table (the part the
    route adds on top of the cached step read).
Reports the median and the worst of --repeats calls, in milliseconds, and the response size.

The stored step is written by RunWriter like an engine step: 64 responses x 500 tokens (32,000
tokens), logged by PPO so that every input a preset may need is stored (ref log-probs, values,
entropies), with terms from the real objective.

Usage: .venv/bin/python benchmarks/bench_whatif.py [--repeats 7] [--responses 64] [--tokens 500]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from unipo.algorithms import get_preset, list_presets
from unipo.runs import RunWriter, StepRecord

GOAL_MS = 100.0


def write_step(path: Path, n: int, t: int, group: int = 8) -> None:
    rng = np.random.default_rng(0)
    mask = torch.ones(n, t)
    logprob = torch.as_tensor(-rng.gamma(0.6, 0.8, (n, t)).astype(np.float32))
    old = logprob + torch.as_tensor(rng.normal(0, 0.05, (n, t)).astype(np.float32))
    ref = logprob + torch.as_tensor(rng.normal(0, 0.1, (n, t)).astype(np.float32))
    entropy = torch.as_tensor(rng.gamma(1.0, 0.7, (n, t)).astype(np.float32))
    values = torch.as_tensor(rng.normal(0, 0.5, (n, t)).astype(np.float32))
    rewards = torch.as_tensor(rng.integers(0, 2, size=n).astype(np.float32))
    groups = torch.arange(n) // group
    algo = get_preset("ppo")
    details = algo.advantage_details(rewards, groups, mask=mask, values=values, logprobs=old, ref_logprobs=ref)
    out = algo.objective(logprob, old, mask, advantages=details.advantages, ref_logprobs=ref, entropies=entropy,
                         values=values)
    token_ids = rng.integers(0, 16, size=(n, t))
    writer = RunWriter.create(path, {"name": path.name, "algorithm": algo.to_dict(), "task": {"name": "bench"},
                                     "model": {"name": "none"}, "seed": 0, "config": {"minibatches": 1}})
    writer.write_update(1, StepRecord(
        prompt_index=groups.numpy(), group_id=groups.numpy(), prompt_text=[f"prompt {int(g)}" for g in groups],
        response_text=["x" * t] * n, reward=rewards.numpy(), mask=mask.numpy(), token_ids=token_ids,
        tokens=[[str(int(i)) for i in row] for row in token_ids], truncated=np.zeros(n, dtype=bool),
        logprob=logprob.numpy(), old_logprob=old.numpy(), ref_logprob=ref.numpy(), entropy=entropy.numpy(),
        value=values.numpy(), returns=details.returns.numpy(),
        terms={k: v.detach().numpy() for k, v in out.terms.items()}, rollout=1,
    ), {"loss": float(out.loss.detach()), "rollout": 1, "epoch": 0, "minibatch": 0})
    writer.close("finished")


def timed(fn, repeats: int) -> tuple[float, float, object]:
    result = fn()  # warm-up: first-call imports and allocations are not what a user waits for twice
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--responses", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=500, help="tokens per response")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from unipo.server import create_app
    from unipo.server.routes_algorithms import describe
    from unipo.server.whatif import whatif_payload

    torch.set_num_threads(max(1, torch.get_num_threads()))
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "bench-run"
        write_step(run_dir, args.responses, args.tokens)
        app = create_app([run_dir])
        total = args.responses * args.tokens
        print(f"what-if of one stored step: {args.responses} responses x {args.tokens} tokens = {total:,} tokens; "
              f"median / worst of {args.repeats} calls after a warm-up; torch threads {torch.get_num_threads()}")
        print(f"{'preset':<14}{'route ms':>10}{'worst':>8}{'recompute ms':>14}{'worst':>8}{'JSON MB':>9}  goal")
        failures = []
        with TestClient(app, raise_server_exceptions=False) as client:
            entry = app.state.registry.get("bench-run")
            table = app.state.steps.table(entry, 1)
            header = entry.reader.header
            for info in list_presets():
                url = f"/api/runs/bench-run/steps/1/whatif?algo={info.name}"

                def call_route():
                    response = client.get(url)
                    if response.status_code != 200:
                        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
                    return response.content

                spec = get_preset(info.name)
                described = describe(spec, info.summary)
                fn_med, fn_max, _ = timed(lambda: whatif_payload(table, 1, header, spec, described), args.repeats)
                try:
                    route_med, route_max, body = timed(call_route, args.repeats)
                except Exception as exc:  # a failing route is a finding to report, not a reason to stop
                    failures.append(info.name)
                    print(f"{info.name:<14}{'ERROR':>10}{'':>8}{fn_med:>14.1f}{fn_max:>8.1f}{'':>9}  "
                          f"route failed: {type(exc).__name__}: {str(exc).splitlines()[0][:90]}")
                    continue
                ok = route_med <= GOAL_MS
                if not ok:
                    failures.append(info.name)
                print(f"{info.name:<14}{route_med:>10.1f}{route_max:>8.1f}{fn_med:>14.1f}{fn_max:>8.1f}"
                      f"{len(body) / 1e6:>9.2f}  {'ok' if ok else 'OVER'}")
        print(f"goal: route median <= {GOAL_MS:.0f} ms per preset; "
              + ("all met" if not failures else f"missed by {', '.join(failures)}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

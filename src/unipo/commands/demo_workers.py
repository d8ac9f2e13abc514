"""The demo's training in worker processes, several runs at once where the machine has the cores.

One process per run (spawned, never forked: the parent may hold torch threads), each with its own
small torch thread pool, so six runs on 7 cores take about as long as one; one core is left to the
web server and the browser. The warm-up of the tiny
model and the held-out "before" accuracy are computed once, in a first worker, before the runs
start: every run starts from the same cached weights on the same held-out prompts. Progress comes
back over one queue and is drawn as one tqdm bar per run by the parent.
"""
from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

_progress_queue = None  # set in each worker by _init_worker


@dataclass(frozen=True)
class Job:
    config: object            # TrainConfig (picklable dataclass)
    path: Path
    task_items: tuple = ()
    accuracy_before: float | None = None


def available_cores() -> int:
    """Cores this process may run on (taskset / cgroup affinity), not the machine's total."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def worker_count(runs: int, threads_per_run: int, requested: int = 0, cores: int | None = None) -> int:
    """Runs trained at once: `requested` when given, else as many as the cores hold once one core
    is left to the web server and the browser showing the runs live (>= 1, <= runs). On 2 cores
    that is one run at a time: on a loaded 2-core machine two training processes were not reliably
    faster (benchmarks/bench_demo.py, 2 runs x 16 updates: 64.9 s vs 121.1 s, then 64.0 s vs 56.4 s)
    and they compete with the server the user is looking at. `--parallel N` overrides."""
    if requested:
        return max(1, min(requested, runs))
    cores = available_cores() if cores is None else cores
    return max(1, min(runs, (cores - 1) // max(1, threads_per_run)))


def _init_worker(progress_queue, threads: int) -> None:
    global _progress_queue
    _progress_queue = progress_queue
    import torch
    torch.set_num_threads(max(1, threads))


def _send(kind: str, algo: str, *payload) -> None:
    if _progress_queue is not None:
        _progress_queue.put((kind, algo, *payload))


def warm_up(config, task_items=()) -> float | None:
    """In a worker: build (or load the cached) warmed-up tiny model and measure its held-out
    accuracy once. Returns the accuracy (None when --eval-prompts is 0)."""
    from unipo.commands.train import prepare_run
    from unipo.engine.model_source import load_initial_model
    from unipo.engine.trainer import _evaluate

    algo, task = prepare_run(config, task_items=task_items)
    _send("note", "warm-up", "loading or warming up the tiny model (cached after the first demo)")
    initial = load_initial_model(config.model, task=task, seed=config.seed, cache_dir=config.cache_dir,
                                 progress=lambda message: _send("note", "warm-up", str(message)))
    _send("note", "warm-up", f"held-out accuracy before RL on {config.eval_prompts} prompts…")
    return _evaluate(initial.model, initial.tokenizer, task, config)


def train_one(job: Job) -> dict:
    """In a worker: train one run; returns its summary row."""
    from unipo.commands.train import prepare_run
    from unipo.engine.setup import build_trainer

    config = job.config
    started = time.perf_counter()
    ready = prepare_run(config, task_items=job.task_items)
    _send("start", config.algo, config.steps)
    trainer = build_trainer(config, job.path, overwrite=True, prepared=ready, accuracy_before=job.accuracy_before,
                            progress=lambda step, total, metrics: _send("step", config.algo, step, total),
                            model_progress=lambda message: _send("note", config.algo, str(message)))
    result = trainer.run()
    _send("done", config.algo)
    return {"algo": config.algo, "before": result.accuracy_before, "after": result.accuracy_after,
            "eval_prompts": config.eval_prompts, "lr": config.lr, "seconds": time.perf_counter() - started}


class ProgressBoard:
    """One tqdm bar per run, fed from the workers' queue by a thread of the parent."""

    def __init__(self, algos: list[str], total: int, enabled: bool):
        self.enabled = enabled
        self.algos = algos
        self.total = total
        self.queue = multiprocessing.get_context("spawn").Queue()
        self._bars: dict[str, object] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)

    def __enter__(self) -> "ProgressBoard":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for bar in self._bars.values():
            bar.close()

    def _bar(self, algo: str):
        from tqdm import tqdm
        import sys
        if algo not in self._bars:
            position = self.algos.index(algo) if algo in self.algos else len(self._bars)
            self._bars[algo] = tqdm(total=self.total, desc=f"{algo:<10}", unit="upd", file=sys.stderr,
                                    position=position, dynamic_ncols=True, leave=True)
        return self._bars[algo]

    def _drain(self) -> None:
        import sys
        while not self._stop.is_set():
            try:
                kind, algo, *payload = self.queue.get(timeout=0.2)
            except queue_module.Empty:
                continue
            except (EOFError, OSError):
                return
            if not self.enabled:
                continue
            if kind == "note":
                message = f"[{algo}] {payload[0]}"
                if self._bars:
                    next(iter(self._bars.values())).write(message, file=sys.stderr)
                else:
                    print(message, file=sys.stderr, flush=True)
            elif kind == "start":
                self._bar(algo)
            elif kind == "step":
                bar = self._bar(algo)
                bar.update(payload[0] - bar.n)


def train_all(jobs: list[Job], *, workers: int, threads: int, progress: bool,
              on_before=None, executor_ready=None) -> list[dict]:
    """Warm up once, then train every job, `workers` at a time. Returns rows in the jobs' order.
    `executor_ready(executor)` lets the caller shut the pool down (Ctrl-C while serving)."""
    algos = [job.config.algo for job in jobs]
    with ProgressBoard(algos, jobs[0].config.steps, progress) as board, ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker, initargs=(board.queue, threads)) as executor:
        if executor_ready is not None:
            executor_ready(executor)
        first = jobs[0]
        before = executor.submit(warm_up, first.config, first.task_items).result()
        if on_before is not None:
            on_before(before)
        futures = [executor.submit(train_one, Job(job.config, job.path, job.task_items, before)) for job in jobs]
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            if future.done() and future.exception() is not None:
                # One run failed: the others stop too (their directories stay resumable).
                stop_pool(executor)
                raise future.exception()
        return [future.result() for future in futures]


def stop_pool(executor: ProcessPoolExecutor) -> None:
    """Cancel queued runs and end running ones (concurrent.futures has no public way to end a
    running worker; its process table is read for that)."""
    for process in list(getattr(executor, "_processes", {}).values()):
        if process.is_alive():
            process.terminate()
    executor.shutdown(wait=False, cancel_futures=True)

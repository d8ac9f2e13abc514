"""Capture in a separate process: Arrow conversion, Parquet encoding and file writes off the trainer.

Why a process and not a thread: the store's encoding (flattening to Arrow, choosing encodings,
predicting float columns from each other) is many small numpy/pyarrow calls that hold the GIL, and
the tiny model's update is many small torch calls that need it too. On a writer *thread* the two
took turns and the update slowed down by more than the writer's own CPU time (profiled in
benchmarks/bench_engine.py). A child process holds its own GIL; the trainer only pickles numpy
arrays (~1 ms per step) and hands them to a feeder thread that blocks in write(2), GIL released.

The child is `python -m unipo.engine.capture_process RUN_DIR` (no multiprocessing: nothing of the
caller's __main__ is re-imported, nothing is forked from a process holding torch threads) and
imports only unipo.runs (numpy, pyarrow — not torch). It speaks length-prefixed pickle frames:
stdin ("write", step, record | None, metrics) / ("close",); stdout ("done", step) and
("error", step, exception). It writes in order and stops writing after the first error, exactly
like the thread writer. It stops writing as soon as it sees its parent gone (kill -9 of the
trainer), so a --resume that truncates the run never races an orphan still appending old steps.

The run's writer lock (unipo.runs.lock) stays the trainer's: the child gets the trainer's locked
descriptor (`--lock-fd N`, inherited through pass_fds), never calls flock itself (it could only
conflict with its own parent), and so shares the one lock, which the kernel drops once both
processes have exited — a kill -9 of the trainer frees it as soon as the child has seen its stdin
close and stopped.
"""
from __future__ import annotations

import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from dataclasses import fields, is_dataclass
from pathlib import Path

_HEADER = struct.Struct("<Q")


def _write_frame(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def _read_frame(stream):
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)


def _plain(value):
    """Torch tensors → numpy (the child has no torch); containers converted element-wise."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        tensor = value.detach().cpu()
        if tensor.dtype.is_floating_point and tensor.element_size() < 4:
            tensor = tensor.float()  # numpy has no bfloat16
        return tensor.contiguous().numpy()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def plain_record(record):
    """A StepRecord whose arrays are numpy arrays (picklable without torch in the child)."""
    if record is None or not is_dataclass(record):
        return record
    return type(record)(**{f.name: _plain(getattr(record, f.name)) for f in fields(record)})


class CaptureProcessError(RuntimeError):
    """The capture process died or could not be talked to."""


class ProcessWriter:
    """Same interface as capture.BackgroundWriter (submit / flush / close), writing in a child process."""

    def __init__(self, run_path: Path, max_pending: int = 8, lock_fd: int | None = None):
        self.run_path = Path(run_path)
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])  # .../src, holding unipo/
        env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        command = [sys.executable, "-m", "unipo.engine.capture_process", str(self.run_path)]
        if lock_fd is not None:
            command += ["--lock-fd", str(lock_fd)]  # the trainer's writer lock, shared (see above)
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
            pass_fds=() if lock_fd is None else (lock_fd,))
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self._lock = threading.Condition()
        self._submitted = 0
        self._acknowledged = 0
        self._error: BaseException | None = None
        self._dead = False
        self._closed = False
        self._ready = False
        self._feeder = threading.Thread(target=self._feed, name="unipo-capture-feed", daemon=True)
        self._reader = threading.Thread(target=self._read, name="unipo-capture-acks", daemon=True)
        self._feeder.start()
        self._reader.start()

    # -- threads ----------------------------------------------------------------------------------
    def _feed(self) -> None:
        stdin = self._process.stdin
        while True:
            try:
                item = self._queue.get(timeout=0.5)
            except queue.Empty:
                if self._dead:
                    return
                continue
            try:
                if item is None:
                    _write_frame(stdin, ("close",))
                    stdin.close()
                    return
                step, record, metrics = item
                _write_frame(stdin, ("write", step, plain_record(record), metrics))
            except (BrokenPipeError, OSError, ValueError):
                self._mark_dead()
                return

    def _read(self) -> None:
        stdout = self._process.stdout
        while True:
            try:
                message = _read_frame(stdout)
            except Exception:  # noqa: BLE001 - a garbled frame means the child is unusable
                message = None
            if message is None:
                self._mark_dead()
                return
            with self._lock:
                if message[0] == "error" and self._error is None:
                    self._error = message[2]
                if message[0] in ("done", "error"):
                    self._acknowledged += 1  # a failed step is answered too: flush must not wait for it
                if message[0] == "closed":
                    self._closed = True
                if message[0] == "ready":
                    self._ready = True
                self._lock.notify_all()

    def _mark_dead(self) -> None:
        with self._lock:
            if not self._dead and not self._closed and self._error is None:
                code = self._process.poll()
                self._error = CaptureProcessError(
                    f"the capture process stopped (exit code {code}); steps after "
                    f"{self._acknowledged} were not stored")
            self._dead = True
            self._lock.notify_all()

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """True once the child has imported the store and opened the run; False if it died first
        (e.g. an interpreter that cannot import unipo) — the caller then writes on a thread."""
        with self._lock:
            self._lock.wait_for(lambda: self._ready or self._dead, timeout=timeout)
            ready = self._ready
        if not ready:
            self._error = None
            try:
                self._process.kill()
            except OSError:
                pass
        return ready

    # -- the BackgroundWriter interface -------------------------------------------------------------
    def _raise_pending(self) -> None:
        with self._lock:
            error, self._error = self._error, None
        if error is not None:
            raise error

    def submit(self, step: int, record, metrics: dict) -> None:
        self._raise_pending()
        with self._lock:
            if self._dead:
                raise CaptureProcessError("the capture process is not running")
            self._submitted += 1
        self._put((step, record, metrics))

    def _put(self, item) -> None:
        """Queue for the feeder; never blocks for good on a child that died with the queue full."""
        while True:
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                with self._lock:
                    if self._dead:
                        break
        self._raise_pending()
        raise CaptureProcessError("the capture process is not running")

    def flush(self) -> None:
        with self._lock:
            while self._acknowledged < self._submitted and not self._dead and self._error is None:
                self._lock.wait(timeout=1.0)
        self._raise_pending()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if not self._dead:
                try:
                    self._put(None)
                except CaptureProcessError:
                    pass
            self._feeder.join(timeout=60)
            try:
                self._process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._reader.join(timeout=5)
        self._raise_pending()


class CaptureWithFallback:
    """A ProcessWriter started now, whose readiness is checked only at the first submit (the child
    imports pyarrow while the first rollout is generated, off the critical path); if it could not
    start, the writer from `fallback()` (the thread writer) takes over, losing nothing."""

    def __init__(self, run_path: Path, fallback, lock_fd: int | None = None):
        self._fallback = fallback
        try:
            self._writer = ProcessWriter(run_path, lock_fd=lock_fd)
            self._checked = False
        except OSError:
            self._writer, self._checked = fallback(), True

    def _check(self) -> None:
        if not self._checked:
            self._checked = True
            if not self._writer.wait_ready():
                self._writer = self._fallback()

    def submit(self, step: int, record, metrics: dict) -> None:
        self._check()
        self._writer.submit(step, record, metrics)

    def flush(self) -> None:
        self._check()
        self._writer.flush()

    def close(self) -> None:
        self._check()
        self._writer.close()


def _child(run_dir: str, lock_fd: int | None = None) -> int:
    # lock_fd: the trainer's writer lock, held open (not flocked again) until this process exits.
    from unipo.runs import RunWriter
    parent = os.getppid()
    commands = sys.stdin.buffer
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not corrupt the frames
    writer = RunWriter(Path(run_dir), {})  # write_update/append_metrics only; run.json stays the trainer's
    _write_frame(replies, ("ready",))
    failed = False
    while True:
        message = _read_frame(commands)
        if message is None or os.getppid() != parent:
            return 0  # the trainer is gone: store nothing more
        if message[0] == "close":
            _write_frame(replies, ("closed",))
            # Every step file is fsynced and renamed, every metrics line written: skip the
            # interpreter's teardown (~0.1 s with pyarrow loaded), which the trainer would wait for.
            os._exit(0)
        _, step, record, metrics = message
        if not failed:
            try:
                if record is None:
                    writer.append_metrics(step, metrics)
                else:
                    writer.write_update(step, record, metrics)
            except BaseException as exc:  # noqa: BLE001 - handed to the trainer, re-raised there
                failed = True
                try:
                    pickle.dumps(exc)
                except Exception:  # noqa: BLE001
                    exc = CaptureProcessError(f"{type(exc).__name__}: {exc}")
                _write_frame(replies, ("error", step, exc))
                continue
        _write_frame(replies, ("done", step))


if __name__ == "__main__":
    _lock_fd = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--lock-fd" else None
    sys.exit(_child(sys.argv[1], _lock_fd))

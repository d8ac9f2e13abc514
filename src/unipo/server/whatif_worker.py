"""What-ifs in a separate, long-lived worker process: the serving process never imports torch.

One child process (`python -m unipo.server.whatif_process`, a fresh interpreter: nothing of the
server's state is inherited, and no script is re-imported the way multiprocessing's spawn would)
runs every recompute (whatif_jobs.py), one job at a time: jobs reach it through the server's bounded
heavy executor and a lock. Requests and answers are length-prefixed pickles over the child's stdin
and stdout. A job past `timeout_s`, or a child that dies (out of memory, a crash in native code),
ends that process; the next job starts a fresh one. The child keeps its last few large what-if
results, so token pages are cut from them without recomputing.
"""
from __future__ import annotations

import atexit
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time

from unipo.server.errors import ApiError

WHATIF_TIMEOUT_S = 300.0
_LENGTH = struct.Struct("<Q")


class WorkerDied(Exception):
    pass


def _read_exactly(fd: int, size: int, deadline: float) -> bytes:
    chunks, left = [], size
    while left:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            raise TimeoutError
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise WorkerDied
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class WhatIfWorker:
    def __init__(self, timeout_s: float = WHATIF_TIMEOUT_S):
        self.timeout_s = timeout_s
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self.restarts = 0

    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def _start(self) -> subprocess.Popen:
        if self._process is None or self._process.poll() is not None:
            # stderr is inherited: a traceback in the worker reaches the server's console.
            self._process = subprocess.Popen([sys.executable, "-m", "unipo.server.whatif_process"],
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True)
        return self._process

    def _discard(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self.restarts += 1

    def call(self, job: str, *args):
        """Run whatif_jobs.<job>(*args) in the worker (blocking: call it from the heavy executor)."""
        with self._lock:
            process = self._start()
            request = pickle.dumps((job, args), protocol=pickle.HIGHEST_PROTOCOL)
            deadline = time.monotonic() + self.timeout_s
            try:
                process.stdin.write(_LENGTH.pack(len(request)) + request)
                process.stdin.flush()
                fd = process.stdout.fileno()
                size = _LENGTH.unpack(_read_exactly(fd, _LENGTH.size, deadline))[0]
                status, value = pickle.loads(_read_exactly(fd, size, deadline))
            except TimeoutError:
                self._discard()
                raise ApiError(503, f"busy: the what-if took longer than {self.timeout_s:g} s and was stopped; "
                                    "retry, or ask for a smaller step", {"Retry-After": "1"}) from None
            except (WorkerDied, BrokenPipeError, OSError, EOFError, pickle.UnpicklingError):
                self._discard()
                raise ApiError(500, "the what-if worker process died (out of memory?); the next what-if "
                                    "starts a new one") from None
        if status != "ok":
            raise ApiError(status, value)
        return value

    def shutdown(self) -> None:
        with self._lock:
            self._discard()


_shared: WhatIfWorker | None = None
_shared_lock = threading.Lock()


def shared_worker() -> WhatIfWorker:
    """The serving process's one what-if worker (its child process ends with the server)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = WhatIfWorker()
            atexit.register(_shared.shutdown)
        return _shared

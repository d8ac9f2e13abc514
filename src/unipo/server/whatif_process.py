"""The what-if worker's main loop (started by whatif_worker.py): read a job from stdin, answer on stdout."""
from __future__ import annotations

import os
import pickle
import struct
import sys

from unipo.server.whatif_jobs import run_job

_LENGTH = struct.Struct("<Q")


def _read(stream, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def main() -> int:
    requests, answers = sys.stdin.buffer, os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr  # anything printed by library code must not corrupt the answers
    while True:
        head = _read(requests, _LENGTH.size)
        if head is None:
            return 0  # the server closed the pipe: exit quietly
        job, args = pickle.loads(_read(requests, _LENGTH.unpack(head)[0]))
        try:
            answer = run_job(job, args)
        except Exception as exc:  # noqa: BLE001 - a bug in a job: a 500 naming it, the worker lives on
            answer = (500, f"what-if failed: {type(exc).__name__}: {exc}")
        payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        answers.write(_LENGTH.pack(len(payload)) + payload)
        answers.flush()


if __name__ == "__main__":
    sys.exit(main())

"""Server-sent events announcing new steps of a run (live training).

The run directory is polled cheaply: one stat of steps/, metrics.jsonl and run.json per interval;
the step list is re-read only when one of them changed. A client without EventSource can poll
GET /api/runs/{id} instead.
"""
from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request
from starlette.responses import StreamingResponse

from unipo.errors import UnipoError
from unipo.runs.schema import METRICS_JSONL, RUN_JSON, STEPS_DIR
from unipo.server.json_response import dumps
from unipo.server.registry import RunEntry

HEARTBEAT_S = 15.0


def directory_stamp(entry: RunEntry) -> tuple:
    stamp = []
    for part in (STEPS_DIR, METRICS_JSONL, RUN_JSON):
        try:
            stat = (entry.path / part).stat()
            stamp.append((stat.st_mtime_ns, stat.st_size))
        except FileNotFoundError:
            stamp.append(None)
    return tuple(stamp)


def sse(data: dict, *, event: str | None = None, event_id: int | None = None) -> bytes:
    lines = []
    if event:
        lines.append(f"event: {event}")
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + dumps(data).decode())
    return ("\n".join(lines) + "\n\n").encode()


def events_router() -> APIRouter:
    router = APIRouter(prefix="/api/runs")

    @router.get("/{run_id}/events")
    async def run_events(request: Request, run_id: str, since: int | None = None):
        # (since is only compared with step numbers: any size is harmless)
        entry = request.app.state.registry.get(run_id)
        interval = request.app.state.poll_interval_s
        resume_from = request.headers.get("last-event-id")
        if since is None and resume_from and len(resume_from) <= 20 and resume_from.lstrip("-").isdigit():
            since = int(resume_from)
        return StreamingResponse(
            _announce_steps(request, entry, since, interval),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return router


async def _announce_steps(request: Request, entry: RunEntry, since: int | None, interval: float):
    """Yields `{"run", "step"}` for each step that appears, and `status` events when run.json changes."""
    steps = await asyncio.to_thread(entry.steps)
    # Without `since`, announce only what appears from now on; with it, catch up first.
    announced = max(steps, default=-1) if since is None else since
    status = entry.header.get("status")
    stamp = None
    last_sent = time.monotonic()
    yield f"retry: {int(interval * 1000) + 1000}\n\n".encode()
    while not await request.is_disconnected():
        current = directory_stamp(entry)
        if current != stamp:
            stamp = current
            try:
                steps = await asyncio.to_thread(entry.steps)
                new_status = entry.header.get("status")
            except UnipoError as exc:
                # The run directory was removed or its run.json broke: say so and end the stream.
                yield sse({"run": entry.id, "error": str(exc)}, event="error")
                return
            for step in steps:
                if step > announced:
                    yield sse({"run": entry.id, "step": step}, event_id=step)
                    announced = step
                    last_sent = time.monotonic()
            if new_status != status:
                status = new_status
                yield sse({"run": entry.id, "status": status}, event="status")
                last_sent = time.monotonic()
        if time.monotonic() - last_sent > HEARTBEAT_S:
            yield b": keep-alive\n\n"
            last_sent = time.monotonic()
        await asyncio.sleep(interval)

"""Read-only JSON routes over runs: list, detail, metrics, one step / prompt group / response."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from unipo.server.json_response import JSONBytes, dumps
from unipo.server.metrics_view import metrics_payload
from unipo.server.run_summary import run_detail, run_summary


INT32_MIN, INT32_MAX = -2**31, 2**31 - 1
# Step, response and prompt numbers are int32 in the step files: anything outside is a 400 naming the
# parameter (not an overflow deep in numpy); negative ones are simply not there (404).
StepNumber = Annotated[int, Path(ge=INT32_MIN, le=INT32_MAX)]
RowNumber = Annotated[int, Path(ge=INT32_MIN, le=INT32_MAX)]
StepBound = Annotated[int | None, Query(ge=-2**63, le=2**63 - 1)]


def runs_router() -> APIRouter:
    router = APIRouter(prefix="/api/runs")

    def registry(request: Request):
        return request.app.state.registry

    def steps(request: Request):
        return request.app.state.steps

    # Light routes run on the event loop itself (a few stats and cached bytes): a thread hop would
    # make them queue for the GIL behind the heavy executor under load. Anything slow (a metrics
    # file not parsed yet, a cold down-sampling) goes to the thread pool.
    @router.get("")
    async def list_runs(request: Request):
        return JSONBytes([run_summary(entry) for entry in registry(request).entries()])

    @router.get("/{run_id}")
    async def get_run(request: Request, run_id: str):
        entry = registry(request).get(run_id)
        if not entry.metrics.is_current():
            await run_in_threadpool(entry.metrics.refresh)
        return JSONBytes(run_detail(entry))

    @router.get("/{run_id}/metrics")
    async def get_metrics(request: Request, run_id: str,
                    max_points: int = 2000, start: StepBound = None, end: StepBound = None,
                    columns: str | None = Query(None, description="comma-separated metric names")):
        entry = registry(request).get(run_id)
        names = [name for name in columns.split(",") if name] if columns else None
        cache = request.app.state.metrics_cache

        def key() -> tuple:
            return (str(entry.path), entry.metrics.stamp, max_points, start, end, tuple(names or ()))

        def build() -> bytes:
            logged_steps, values = entry.metrics.columns()
            return dumps(metrics_payload(logged_steps, values, max_points=max_points,
                                         start=start, end=end, names=names))

        # Down-sampling a long run costs tens of ms: reuse the answer until metrics.jsonl changes.
        if entry.metrics.is_current():
            found = cache.peek(key())
            if found is not None:
                return JSONBytes(found)
        return JSONBytes(await run_in_threadpool(lambda: cache.get_or_make(key(), build)))

    @router.get("/{run_id}/steps/{step}")
    async def get_step(request: Request, run_id: str, step: StepNumber):
        entry = registry(request).get(run_id)
        return JSONBytes(await steps(request).whole_step(entry, step))

    @router.get("/{run_id}/steps/{step}/responses/{response}")
    async def get_response(request: Request, run_id: str, step: StepNumber, response: RowNumber):
        entry = registry(request).get(run_id)
        service = steps(request)
        return JSONBytes(await service.on_decoder(service.subset_payload, entry, step, "response", response, "response"))

    @router.get("/{run_id}/steps/{step}/prompts/{prompt}")
    async def get_prompt_group(request: Request, run_id: str, step: StepNumber, prompt: RowNumber):
        entry = registry(request).get(run_id)
        service = steps(request)
        return JSONBytes(await service.on_decoder(service.subset_payload, entry, step, "prompt", prompt, "prompt"))

    return router

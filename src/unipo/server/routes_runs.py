"""Read-only JSON routes over runs: list, detail, metrics, one step / prompt group / response."""
from __future__ import annotations

from fastapi import APIRouter, Query, Request

from unipo.server.json_response import JSONBytes, dumps
from unipo.server.metrics_view import metrics_payload
from unipo.server.run_summary import run_detail, run_summary


def runs_router() -> APIRouter:
    router = APIRouter(prefix="/api/runs")

    def registry(request: Request):
        return request.app.state.registry

    def steps(request: Request):
        return request.app.state.steps

    @router.get("")
    def list_runs(request: Request):
        return JSONBytes([run_summary(entry) for entry in registry(request).entries()])

    @router.get("/{run_id}")
    def get_run(request: Request, run_id: str):
        return JSONBytes(run_detail(registry(request).get(run_id)))

    @router.get("/{run_id}/metrics")
    def get_metrics(request: Request, run_id: str,
                    max_points: int = 2000, start: int | None = None, end: int | None = None,
                    columns: str | None = Query(None, description="comma-separated metric names")):
        entry = registry(request).get(run_id)
        names = [name for name in columns.split(",") if name] if columns else None
        # Down-sampling a long run costs tens of ms: reuse the answer until metrics.jsonl changes.
        key = (str(entry.path), entry.metrics.stamp, max_points, start, end, tuple(names or ()))

        def build() -> bytes:
            logged_steps, values = entry.metrics.columns()
            return dumps(metrics_payload(logged_steps, values, max_points=max_points,
                                         start=start, end=end, names=names))

        return JSONBytes(request.app.state.metrics_cache.get_or_make(key, build))

    @router.get("/{run_id}/steps/{step}")
    async def get_step(request: Request, run_id: str, step: int):
        entry = registry(request).get(run_id)
        service = steps(request)
        return JSONBytes(await service.on_decoder(service.payload_bytes, entry, step))

    @router.get("/{run_id}/steps/{step}/responses/{response}")
    async def get_response(request: Request, run_id: str, step: int, response: int):
        entry = registry(request).get(run_id)
        service = steps(request)
        return JSONBytes(await service.on_decoder(service.subset_payload, entry, step, "response", response, "response"))

    @router.get("/{run_id}/steps/{step}/prompts/{prompt}")
    async def get_prompt_group(request: Request, run_id: str, step: int, prompt: int):
        entry = registry(request).get(run_id)
        service = steps(request)
        return JSONBytes(await service.on_decoder(service.subset_payload, entry, step, "prompt", prompt, "prompt"))

    return router

"""Paged step routes (contract §3 "Paged steps"): summary first, then pages of the sorted/filtered
response order, then token columns of the responses on screen as Arrow IPC."""
from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from unipo.server.json_response import JSONBytes, dumps
from unipo.server.routes_runs import StepNumber
from unipo.server.step_pages import (ARROW_STREAM, MAX_PAGE_TOKENS, ipc_bytes, parse_columns, parse_filters,
                                     parse_ids, response_order, rows_page, token_page_table)
from unipo.server.step_source import token_page
from unipo.server.errors import bad_request, not_found
from unipo.server.step_summary import summary_payload


class ArrowBytes(Response):
    media_type = ARROW_STREAM


def pages_router() -> APIRouter:
    router = APIRouter(prefix="/api/runs")

    async def summary_of(request: Request, run_id: str, step: int, stats: list[str] | None = None):
        entry = request.app.state.registry.get(run_id)
        service = request.app.state.steps
        found = service.cached_summary(entry, step, stats)
        if found is None:
            found = await service.on_decoder(service.summary, entry, step, stats)
        return entry, service, found

    @router.get("/{run_id}/steps/{step}/summary")
    async def step_summary(request: Request, run_id: str, step: StepNumber,
                           stats: str | None = Query(None, description="comma-separated token columns")):
        names = [name for name in stats.split(",") if name] if stats else None
        entry, _, summary = await summary_of(request, run_id, step, names)
        return JSONBytes(dumps(summary_payload(summary, entry.metrics.row(step), names)))

    @router.get("/{run_id}/steps/{step}/checks")
    async def step_checks(request: Request, run_id: str, step: StepNumber):
        entry = request.app.state.registry.get(run_id)
        service = request.app.state.steps
        return JSONBytes(dumps(await service.background.run(service.checks, entry, step)))

    @router.get("/{run_id}/steps/{step}/responses")
    async def response_page(request: Request, run_id: str, step: StepNumber, sort: str = "response",
                            desc: bool = False, offset: int = 0, limit: int = 100):
        filters = parse_filters(request.query_params)
        _, _, summary = await summary_of(request, run_id, step)
        order = response_order(summary, sort, desc, filters)
        page = rows_page(summary, order, offset, limit)
        return JSONBytes({"sort": sort, "desc": desc, **page})

    @router.get("/{run_id}/steps/{step}/tokens")
    async def token_columns(request: Request, run_id: str, step: StepNumber, responses: str | None = None,
                            columns: str | None = None):
        ids = parse_ids(responses)
        entry, service, summary = await summary_of(request, run_id, step)
        names = parse_columns(columns, summary.token_columns)
        present = set(summary.rows["response"].tolist())
        absent = [i for i in ids if i not in present]
        if absent:
            raise not_found(f"step {step} of run {entry.id!r} has no response {absent[0]}")
        tokens = int(sum(summary.rows["token_count"][summary.rows["response"].searchsorted(ids)]))
        if tokens > MAX_PAGE_TOKENS:
            raise bad_request(f"responses: {tokens:,} tokens asked in one page; at most {MAX_PAGE_TOKENS:,}")
        read = None
        if names is not None:
            read = list(dict.fromkeys(["entropy" if n == "entropy_rank" else n for n in names]))

        def page() -> bytes:
            table = token_page(entry, step, ids, read)
            return ipc_bytes(token_page_table(summary, table, names))
        return ArrowBytes(await service.on_decoder(page))

    return router

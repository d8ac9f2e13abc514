"""Algorithm descriptions: every preset's formula and hyper-parameters, and a run's own algorithm.

Served from the AlgorithmCatalog (algorithm_catalog.py): encoded once, and computed outside this
process while torch is not loaded here, so browsing never pays for torch.
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from unipo.server.algorithm_catalog import AlgorithmError, describe
from unipo.server.errors import not_found
from unipo.server.json_response import JSONBytes

__all__ = ["algorithms_router", "describe"]


def algorithms_router() -> APIRouter:
    router = APIRouter()

    def catalog(request: Request):
        return request.app.state.algorithms

    # Described once, then cached bytes: answered on the event loop (the first time in the pool).
    async def ready(request: Request):
        if not catalog(request).is_filled():
            await run_in_threadpool(catalog(request).listing)
        return catalog(request)

    @router.get("/api/algorithms")
    async def list_algorithms(request: Request):
        return JSONBytes((await ready(request)).listing())

    @router.get("/api/algorithms/{name}")
    async def get_algorithm(request: Request, name: str):
        found = (await ready(request)).preset(name)
        if found is None:
            raise not_found(f"no algorithm preset {name!r} (known: {', '.join(catalog(request).preset_names())})")
        return JSONBytes(found)

    @router.get("/api/runs/{run_id}/algorithm")
    async def run_algorithm(request: Request, run_id: str):
        """The algorithm the run was trained with, rebuilt from its header (not the preset of that name);
        an imported `{name, hyperparameters}` header is described as that preset (`source: "preset"`).
        404 with the reason when the header records no algorithm the server can describe."""
        entry = request.app.state.registry.get(run_id)
        stored = entry.header.get("algorithm")
        if not isinstance(stored, dict):
            raise not_found(f"run {run_id!r} records no algorithm in its header")
        try:
            found = catalog(request).cached_for_run(stored)
            return JSONBytes(found if found is not None else await run_in_threadpool(catalog(request).for_run, stored))
        except AlgorithmError as exc:
            raise not_found(f"run {run_id!r}: the header's algorithm cannot be described ({exc})") from None

    return router

"""Algorithm descriptions: every preset's formula and hyper-parameters, and a run's own algorithm.

Served from the AlgorithmCatalog (algorithm_catalog.py): encoded once, and computed outside this
process while torch is not loaded here, so browsing never pays for torch.
"""
from __future__ import annotations

from fastapi import APIRouter, Request

from unipo.server.algorithm_catalog import AlgorithmError, describe
from unipo.server.errors import ApiError, not_found
from unipo.server.json_response import JSONBytes

__all__ = ["algorithms_router", "describe"]


def algorithms_router() -> APIRouter:
    router = APIRouter()

    def catalog(request: Request):
        return request.app.state.algorithms

    @router.get("/api/algorithms")
    def list_algorithms(request: Request):
        return JSONBytes(catalog(request).listing())

    @router.get("/api/algorithms/{name}")
    def get_algorithm(request: Request, name: str):
        found = catalog(request).preset(name)
        if found is None:
            raise not_found(f"no algorithm preset {name!r} (known: {', '.join(catalog(request).preset_names())})")
        return JSONBytes(found)

    @router.get("/api/runs/{run_id}/algorithm")
    def run_algorithm(request: Request, run_id: str):
        """The algorithm the run was trained with, rebuilt from its header (not the preset of that name)."""
        entry = request.app.state.registry.get(run_id)
        stored = entry.reader.header.get("algorithm")
        if not isinstance(stored, dict):
            raise not_found(f"run {run_id!r} records no algorithm in its header")
        try:
            return JSONBytes(catalog(request).for_run(stored))
        except AlgorithmError as exc:
            raise ApiError(422, f"run {run_id!r}: header algorithm cannot be rebuilt ({exc})") from None

    return router

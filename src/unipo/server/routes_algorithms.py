"""Algorithm descriptions: every preset's formula and hyper-parameters, and a run's own algorithm."""
from __future__ import annotations

from fastapi import APIRouter, Request

from unipo.server.errors import ApiError, not_found
from unipo.server.json_response import JSONBytes


def describe(algo, summary: str | None) -> dict:
    return {"name": algo.name, "summary": summary, "hparams": algo.hparams, "formula": algo.formula.to_dict()}


def _summaries() -> dict[str, str]:
    from unipo.algorithms import list_presets

    return {info.name: info.summary for info in list_presets()}


def algorithms_router() -> APIRouter:
    router = APIRouter()

    @router.get("/api/algorithms")
    def list_algorithms():
        from unipo.algorithms import get_preset

        return JSONBytes([describe(get_preset(name), summary) for name, summary in _summaries().items()])

    @router.get("/api/algorithms/{name}")
    def get_algorithm(name: str):
        from unipo.algorithms import get_preset

        summaries = _summaries()
        if name not in summaries:
            raise not_found(f"no algorithm preset {name!r} (known: {', '.join(summaries)})")
        return JSONBytes(describe(get_preset(name), summaries[name]))

    @router.get("/api/runs/{run_id}/algorithm")
    def run_algorithm(request: Request, run_id: str):
        """The algorithm the run was trained with, rebuilt from its header (not the preset of that name)."""
        from unipo.algorithms import AlgorithmSpec

        entry = request.app.state.registry.get(run_id)
        stored = entry.reader.header.get("algorithm")
        if not isinstance(stored, dict):
            raise not_found(f"run {run_id!r} records no algorithm in its header")
        try:
            algo = AlgorithmSpec.from_dict(stored)
        except (ValueError, TypeError, KeyError) as exc:
            raise ApiError(422, f"run {run_id!r}: header algorithm cannot be rebuilt ({exc})") from None
        return JSONBytes(describe(algo, _summaries().get(algo.name)))

    return router

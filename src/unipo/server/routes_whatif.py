"""GET /api/runs/{id}/steps/{step}/whatif?algo=NAME&<hparam>=value: the step under another algorithm."""
from __future__ import annotations

from fastapi import APIRouter, Request

from unipo.server.errors import bad_request
from unipo.server.json_response import JSONBytes, dumps

RESERVED_PARAMS = ("algo",)


def parse_hparam(text: str):
    """Query strings are text: read numbers, booleans and none the way a user would type them."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null", ""):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def whatif_router() -> APIRouter:
    router = APIRouter(prefix="/api/runs")

    @router.get("/{run_id}/steps/{step}/whatif")
    async def whatif(request: Request, run_id: str, step: int, algo: str | None = None):
        if not algo:
            raise bad_request("algo: required (a preset name, see /api/algorithms)")
        entry = request.app.state.registry.get(run_id)
        overrides = {name: parse_hparam(value) for name, value in request.query_params.items()
                     if name not in RESERVED_PARAMS}
        service = request.app.state.steps
        # Everything below, torch's first import included (~1 s), runs off the event loop.
        return JSONBytes(await service.on_decoder(_recompute, service, entry, step, algo, overrides))

    return router


def _recompute(service, entry, step: int, algo: str, overrides: dict) -> bytes:
    from unipo.algorithms import get_preset, list_presets

    from unipo.server.algorithm_catalog import describe
    from unipo.server.whatif import whatif_payload

    try:
        spec = get_preset(algo, **overrides)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    summaries = {info.name: info.summary for info in list_presets()}
    table = service.table(entry, step)
    try:
        return dumps(whatif_payload(table, step, entry.reader.header, spec, describe(spec, summaries.get(algo))))
    except ValueError as exc:
        raise bad_request(f"step {step} of run {entry.id!r} cannot be recomputed under {algo!r}: {exc}") from None

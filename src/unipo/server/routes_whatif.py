"""GET /api/runs/{id}/steps/{step}/whatif?algo=NAME&<hparam>=value: the step under another algorithm."""
from __future__ import annotations

import math

from fastapi import APIRouter, Request

from unipo.server.errors import bad_request
from unipo.server.json_response import JSONBytes, dumps
from unipo.server.routes_runs import StepNumber

# `token` is the access token (server/auth.py) when a client passes it in the query string.
RESERVED_PARAMS = ("algo", "token")
MAX_PARAM_CHARS = 200
INT_LIMIT = 2**63


def parse_hparam(text: str, name: str = "value"):
    """Query strings are text: read numbers, booleans and none the way a user would type them.

    Numbers no hyper-parameter can hold (more than 2**63 in size, or beyond float range) are a 400
    naming the parameter, never an OverflowError later."""
    if len(text) > MAX_PARAM_CHARS:
        raise bad_request(f"{name}: value too long ({len(text)} characters; at most {MAX_PARAM_CHARS})")
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null", ""):
        return None
    try:
        value = int(text)
    except ValueError:
        pass
    else:
        if abs(value) >= INT_LIMIT:
            raise bad_request(f"{name}: integer out of range (|value| must be below 2**63), got {text[:40]!r}")
        return value
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value) and lowered.lstrip("+-") not in ("inf", "infinity", "nan"):
        raise bad_request(f"{name}: number out of range, got {text[:40]!r}")
    if math.isfinite(value) and abs(value) >= INT_LIMIT:
        raise bad_request(f"{name}: number out of range (|value| must be below 2**63), got {text[:40]!r}")
    return value


def whatif_router() -> APIRouter:
    router = APIRouter(prefix="/api/runs")

    @router.get("/{run_id}/steps/{step}/whatif")
    async def whatif(request: Request, run_id: str, step: StepNumber, algo: str | None = None):
        if not algo:
            raise bad_request("algo: required (a preset name, see /api/algorithms)")
        entry = request.app.state.registry.get(run_id)
        overrides = {name: parse_hparam(value, name) for name, value in request.query_params.items()
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
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise bad_request(str(exc)) from None
    summaries = {info.name: info.summary for info in list_presets()}
    table = service.table(entry, step)
    try:
        return dumps(whatif_payload(table, step, entry.header, spec, describe(spec, summaries.get(algo))))
    except (ValueError, ArithmeticError) as exc:
        raise bad_request(f"step {step} of run {entry.id!r} cannot be recomputed under {algo!r}: {exc}") from None

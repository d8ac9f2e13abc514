"""GET /api/runs/{id}/steps/{step}/whatif?algo=NAME&<hparam>=value: the step under another algorithm."""
from __future__ import annotations

import math

from fastapi import APIRouter, Request

from unipo.server.errors import bad_request
from unipo.server.json_response import JSONBytes
from unipo.server.routes_pages import ArrowBytes
from unipo.server.routes_runs import StepNumber
from unipo.server.step_pages import parse_ids

# `token` is the access token (server/auth.py) when a client passes it in the query string.
RESERVED_PARAMS = ("algo", "token")
# The token-page route's own parameters (never hyper-parameters).
PAGE_PARAMS = ("responses", "columns")
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

    def job_args(request: Request, run_id: str, step: int, algo: str | None):
        if not algo:
            raise bad_request("algo: required (a preset name, see /api/algorithms)")
        entry = request.app.state.registry.get(run_id)
        overrides = {name: parse_hparam(value, name) for name, value in request.query_params.items()
                     if name not in RESERVED_PARAMS}
        return entry, request.app.state.steps, overrides

    @router.get("/{run_id}/steps/{step}/whatif")
    async def whatif(request: Request, run_id: str, step: StepNumber, algo: str | None = None):
        entry, service, overrides = job_args(request, run_id, step, algo)
        # The recompute (and torch) runs in the what-if worker process; this thread only waits.
        return JSONBytes(await service.on_decoder(_whole, service, entry, step, algo, overrides))

    @router.get("/{run_id}/steps/{step}/whatif/summary")
    async def whatif_summary(request: Request, run_id: str, step: StepNumber, algo: str | None = None):
        entry, service, overrides = job_args(request, run_id, step, algo)
        return JSONBytes(await service.on_decoder(_paged, service, entry, step, algo, overrides, None, None))

    @router.get("/{run_id}/steps/{step}/whatif/tokens")
    async def whatif_tokens(request: Request, run_id: str, step: StepNumber, algo: str | None = None,
                            responses: str | None = None, columns: str | None = None):
        entry, service, overrides = job_args(request, run_id, step, algo)
        for name in PAGE_PARAMS:
            overrides.pop(name, None)
        ids = parse_ids(responses)
        names = [name for name in columns.split(",") if name] if columns else None
        return ArrowBytes(await service.on_decoder(_paged, service, entry, step, algo, overrides, ids, names))

    return router


def _whole(service, entry, step: int, algo: str, overrides: dict) -> bytes:
    service._check_whole_step_size(entry, step, what="what-if", paged="whatif/summary and whatif/tokens")
    return service.whatif.call("whole", str(entry.path), entry.header, step, algo, overrides)


def _paged(service, entry, step: int, algo: str, overrides: dict, ids, names) -> bytes:
    key = (str(entry.path), service._stamp(entry, step), algo, tuple(sorted((k, repr(v)) for k, v in overrides.items())))
    if ids is None:
        return service.whatif.call("paged_summary", key, str(entry.path), entry.header, step, algo, overrides)
    return service.whatif.call("paged_tokens", key, str(entry.path), entry.header, step, algo, overrides, ids, names)

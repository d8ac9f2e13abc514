"""GET /api/analyses and /api/runs/{id}/analyses/{name}[?step=n&<param>=v]: unipo.analyses over stored runs.

numpy/pyarrow only (torch never enters the serving process): what an analysis needs recomputed (a step
under other advantages, every aggregation mode, a mismatch correction) the variants routes ask of the
what-if worker process, and unipo.analyses tabulates the payloads. Step-level analyses read the step table through the step service's cache; run-level ones the
metrics and a bounded sample of step files. All run on the heavy executor (503 when it is full).
"""
from __future__ import annotations

from fastapi import APIRouter, Query, Request

from unipo.server.errors import bad_request, not_found
from unipo.server.json_response import JSONBytes, dumps
from unipo.server.routes_runs import INT32_MAX, INT32_MIN
from unipo.server.routes_whatif import parse_hparam

RESERVED = ("step", "token")


class ServerSource:
    """unipo.analyses.data.RunSource over a RunEntry (cached tables and metrics of the server)."""

    def __init__(self, service, entry):
        self.service, self.entry = service, entry

    def header(self) -> dict:
        return self.entry.header

    def metrics(self) -> dict:
        steps, columns = self.entry.metrics.columns()
        return {"step": steps, **columns}

    def steps(self) -> list[int]:
        return self.entry.steps()

    def step_table(self, n: int):
        if n not in self.entry.steps():
            raise not_found(f"run {self.entry.id!r} has no step {n}")
        return self.service.table(self.entry, n)

    def step_metrics(self, n: int) -> dict:
        return self.entry.metrics.row(n) or {}


def analyses_router() -> APIRouter:
    router = APIRouter(prefix="/api")

    @router.get("/analyses")
    async def list_analyses():
        from unipo.analyses import catalogue
        return JSONBytes(catalogue())

    @router.get("/runs/{run_id}/analyses/difficulty/variants")
    async def difficulty_variants(request: Request, run_id: str, step: int = Query(..., ge=INT32_MIN, le=INT32_MAX),
                                  algo: str | None = None):
        """The difficulty table of the stored step beside the same step under std-normalised,
        centred-only and HA-DW advantages (each a what-if in the worker process)."""
        entry, service, algo = _whatif_target(request, run_id, algo)
        return JSONBytes(await service.on_decoder(_variants, service, entry, step, algo))

    @router.get("/runs/{run_id}/analyses/length_bias/modes")
    async def length_bias_modes(request: Request, run_id: str, step: int = Query(..., ge=INT32_MIN, le=INT32_MAX),
                                algo: str | None = None):
        """Each response's length and Σ weight under every aggregation mode (each a what-if in the
        worker process), with the fit of Σ weight against length per mode."""
        entry, service, algo = _whatif_target(request, run_id, algo)
        return JSONBytes(await service.on_decoder(_length_modes, service, entry, step, algo))

    @router.get("/runs/{run_id}/analyses/mismatch/corrections")
    async def mismatch_corrections(request: Request, run_id: str, step: int = Query(..., ge=INT32_MIN, le=INT32_MAX),
                                   algo: str | None = None):
        """The step under no correction, TIS and MIS (each a what-if): loss, push flips, |Δg|."""
        entry, service, algo = _whatif_target(request, run_id, algo)
        return JSONBytes(await service.on_decoder(_corrections, service, entry, step, algo))

    @router.get("/runs/{run_id}/analyses/length_over_run/folder")
    async def length_drift_folder(request: Request, run_id: str):
        """Response-length drift of every run in the same runs folder as this one (e.g. the demo's
        runs of several algorithms on identical data)."""
        entry = request.app.state.registry.get(run_id)
        peers = [e for e in request.app.state.registry.entries() if e.path.parent == entry.path.parent]
        service = request.app.state.steps
        return JSONBytes(await service.on_decoder(_folder_drift, service, entry, peers))

    @router.get("/runs/{run_id}/analyses/{name}")
    async def run_one(request: Request, run_id: str, name: str,
                      step: int | None = Query(None, ge=INT32_MIN, le=INT32_MAX)):
        from unipo.analyses.registry import get
        try:
            found = get(name)
        except KeyError as exc:
            raise not_found(str(exc.args[0])) from None
        entry = request.app.state.registry.get(run_id)
        if found.level == "step" and step is None:
            raise bad_request(f"step: required (analysis {name!r} is per step)")
        params = {key: parse_hparam(value, key) for key, value in request.query_params.items() if key not in RESERVED}
        service = request.app.state.steps
        return JSONBytes(await service.on_decoder(_run, service, entry, name, step, params))

    return router


def _run(service, entry, name: str, step: int | None, params: dict) -> bytes:
    from unipo.analyses import run_analysis
    from unipo.errors import UnipoError
    try:
        return dumps(run_analysis(name, ServerSource(service, entry), step, **params))
    except UnipoError:
        raise  # a run file that cannot be read: the app's handler answers it (422)
    except ValueError as exc:  # a bad parameter
        raise bad_request(str(exc)) from None


def _variants(service, entry, step: int, algo: str) -> bytes:
    from unipo.analyses.data import StepData, step_from_payload
    from unipo.analyses.difficulty import VARIANTS, compare_variants
    source = ServerSource(service, entry)
    stored = StepData(source.step_table(step), source.step_metrics(step), step)
    variants = [(v["label"], step_from_payload(_whatif(service, entry, step, v["algo"] or algo, v["hparams"])))
                for v in VARIANTS]
    return dumps({"step": step, "algo": algo, **compare_variants(stored, variants)})


def _whatif_target(request: Request, run_id: str, algo: str | None):
    entry = request.app.state.registry.get(run_id)
    algo = algo or (entry.header.get("algorithm") or {}).get("name")
    if not algo:
        raise bad_request("algo: required (the run records no algorithm preset)")
    return entry, request.app.state.steps, algo


def _whatif(service, entry, step: int, algo: str, hparams: dict) -> dict:
    import orjson
    worker = getattr(service, "whatif", None)
    if worker is None:
        raise bad_request("what-ifs are not available in this server")
    return orjson.loads(worker.call("whole", str(entry.path), entry.header, step, algo, dict(hparams)))


def _length_modes(service, entry, step: int, algo: str) -> bytes:
    from unipo.analyses.data import StepData, step_from_payload
    from unipo.analyses.length_bias import MODES, compare_modes
    source = ServerSource(service, entry)
    stored = StepData(source.step_table(step), source.step_metrics(step), step)
    variants = [(mode, step_from_payload(_whatif(service, entry, step, algo, {"loss_aggregation": mode})))
                for mode in MODES]
    stored_mode = ((entry.header.get("algorithm") or {}).get("hparams") or {}).get("loss_aggregation")
    return dumps({"step": step, "algo": algo, "stored_mode": stored_mode, **compare_modes(stored, variants)})


def _corrections(service, entry, step: int, algo: str) -> bytes:
    from unipo.analyses.data import StepData
    from unipo.analyses.mismatch import CORRECTIONS, NO_CORRECTION, compare_corrections
    source = ServerSource(service, entry)
    stored = StepData(source.step_table(step), source.step_metrics(step), step)
    missing = stored.missing(("sampling_logprob",))
    if missing:
        return dumps({"step": step, "algo": algo, "missing": missing, "tokens": None, "rows": []})
    base = _whatif(service, entry, step, algo, NO_CORRECTION["hparams"])
    variants = [(c["label"], _whatif(service, entry, step, algo, c["hparams"])) for c in CORRECTIONS]
    return dumps({"step": step, "algo": algo, "missing": [], **compare_corrections(base, variants)})


def _folder_drift(service, entry, peers) -> bytes:
    from unipo.analyses.data import RunData
    from unipo.analyses.length_bias import folder_drift
    runs = sorted(peers, key=lambda e: e.id)
    return dumps({"folder": entry.path.parent.name, "runs": folder_drift([(e.id, RunData(ServerSource(service, e)))
                                                                        for e in runs])})

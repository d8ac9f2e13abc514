"""create_app(paths): the FastAPI application over the given run directories and the web bundle."""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from unipo import __version__
from unipo.server.algorithm_catalog import AlgorithmCatalog
from unipo.server.errors import install_error_handlers
from unipo.server.host_check import HostCheck
from unipo.server.registry import RESCAN_INTERVAL_S, RunRegistry
from unipo.server.routes_algorithms import algorithms_router
from unipo.server.routes_analyses import analyses_router
from unipo.server.routes_events import events_router
from unipo.server.routes_pages import pages_router
from unipo.server.routes_runs import runs_router
from unipo.server.routes_whatif import whatif_router
from unipo.server.static_files import WEB_DIR, web_handler
from unipo.server.step_cache import ByteBoundedLRU
from unipo.server.auth import TokenCheck
from unipo.server.step_service import HEAVY_QUEUE, HEAVY_WORKERS, StepService

POLL_INTERVAL_S = 1.0
METRICS_CACHE_BYTES = 16 * 2**20


def create_app(paths, *, web_dir: Path | str | None = None, poll_interval_s: float = POLL_INTERVAL_S,
               rescan_interval_s: float = RESCAN_INTERVAL_S, allowed_hosts: list[str] | None = None,
               token: str | None = None, heavy_workers: int = HEAVY_WORKERS,
               heavy_queue: int = HEAVY_QUEUE) -> FastAPI:
    """Each path is a run directory or a folder of runs (searched again as new runs appear).

    `allowed_hosts`: accept only requests whose Host header names one of these (serve() passes the
    loopback names when bound to 127.0.0.1); None accepts any. `token`: every request must carry it
    (server/auth.py). `heavy_workers`/`heavy_queue`: the bounded executor of step decoding and
    what-ifs (a full queue answers 503 + Retry-After). Raises UnipoError when a path is
    not a directory. The app has no mutating route.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    app = FastAPI(title="UNIPO", version=__version__, docs_url="/api/docs", redoc_url=None,
                  openapi_url="/api/openapi.json")
    app.state.registry = RunRegistry(paths, rescan_interval_s=rescan_interval_s)
    app.state.steps = StepService(heavy_workers=heavy_workers, heavy_queue=heavy_queue)
    app.state.algorithms = AlgorithmCatalog()
    app.state.metrics_cache = ByteBoundedLRU(METRICS_CACHE_BYTES, len)
    app.state.poll_interval_s = poll_interval_s
    install_error_handlers(app)
    # Added last runs first: the Host check, then the token.
    if token is not None:
        app.add_middleware(TokenCheck, token=token)
    if allowed_hosts is not None:
        app.add_middleware(HostCheck, allowed=allowed_hosts)
    app.include_router(runs_router())
    app.include_router(events_router())
    app.include_router(pages_router())
    app.include_router(algorithms_router())
    app.include_router(whatif_router())
    app.include_router(analyses_router())
    # Last: anything not under /api is a file of the web app (or a JSON 404).
    app.add_api_route("/{path:path}", web_handler(Path(web_dir) if web_dir else WEB_DIR),
                      methods=["GET", "HEAD"], include_in_schema=False)
    return app

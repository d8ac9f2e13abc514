"""Every failure leaves the server as `{"error": message}` with a 4xx status (contract §3)."""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from unipo.errors import UnipoError
from unipo.server.json_response import error


class ApiError(Exception):
    """Raised by route code: becomes a JSON error with this status."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def busy(message: str, retry_after_s: int) -> ApiError:
    """503: the server is saturated with heavy work; the client should retry after a moment."""
    return ApiError(503, message, {"Retry-After": str(retry_after_s)})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError):
        response = error(exc.status, exc.message)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            return error(404, f"no such route: {request.url.path}")
        if exc.status_code == 405:
            return error(405, f"{request.method} is not allowed here: the server is read-only")
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError):
        problems = []
        for item in exc.errors():
            where = ".".join(str(part) for part in item.get("loc", ()) if part not in ("path", "query"))
            problems.append(f"{where}: {item.get('msg', 'invalid')}")
        return error(400, "bad request: " + "; ".join(problems))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception):
        # A bug, not a user mistake: still JSON, never a traceback page (uvicorn logs the traceback).
        return error(500, f"internal error: {type(exc).__name__}")

    @app.exception_handler(UnipoError)
    async def _unipo_error(_: Request, exc: UnipoError):
        # A malformed run file is a problem with the data the user gave: say which, with 422.
        status = 404 if isinstance(exc, LookupError) else 422
        return error(status, str(exc))

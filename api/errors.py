"""The one place the API turns errors into responses: ``{"error": {"code", "message"}}`` with a status."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from core.errors import AuthError, RateLimited, SophiaError
from core.observability.logging import get_logger

BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_HTTP_CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
_WHERE = {"query": "query parameter", "path": "path parameter", "header": "header", "body": "field"}
# The database is down, locked past its busy timeout, read-only or out of connections: a passing condition
# for the client to retry, not our bug. Only the error class and its first line are logged (no SQL, no values).
DATABASE_UNAVAILABLE = (OperationalError, DisconnectionError, PoolTimeout)
RETRY_AFTER_S = 5
log = get_logger("api")


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


async def _sophia_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SophiaError)
    headers = BEARER_CHALLENGE if isinstance(exc, AuthError) else None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after_s)}
    elif exc.status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_S)}
    return error_response(exc.status, exc.code, exc.message, headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "invalid_input", validation_message(exc.errors()))


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    return error_response(exc.status_code, code, str(exc.detail), dict(exc.headers or {}) or None)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    reason = (str(cause).strip().splitlines() or [""])[0][:200]
    log.warning("database unavailable", method=request.method, error=type(cause).__name__, reason=reason)
    message = "the database is unavailable or busy; try again shortly"
    return error_response(503, "database_unavailable", message, {"Retry-After": str(RETRY_AFTER_S)})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Starlette re-raises after this response, so the server logs the traceback once. It answers from outside
    # the request-id middleware, so the id is set here: the one thing a user can quote when reporting it.
    request_id = getattr(request.state, "request_id", None)
    message = "internal error; the server log has the details" + (f" (request {request_id})" if request_id else "")
    return error_response(500, "internal_error", message, {"X-Request-ID": request_id} if request_id else None)


def validation_message(errors: Sequence[Any]) -> str:
    """``query parameter segment: Input should be 'smb', 'mid_market' or 'enterprise'``; several joined by ``; ``."""
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        name = ".".join(loc[1:])
        where = f"{_WHERE.get(loc[0], loc[0])} {name}" if name else (f"request {loc[0]}" if loc else "request")
        parts.append(f"{where}: {err.get('msg', 'invalid value')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SophiaError, _sophia_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    for error in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)

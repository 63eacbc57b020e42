"""The FastAPI sidecar: mounts the routers, the error handlers and the request middleware.

``uvicorn api.main:app`` serves the process app, which opens the runtime (settings, database) when the
server starts, not at import. Tests build their own with ``create_app(runtime)``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.middleware import RequestContextMiddleware
from api.routes import accounts, agents, ask, auth, estuary, health, insights, jobs, me, users
from core.config import get_settings
from core.observability.logging import configure_logging, get_logger
from core.runtime import Runtime, get_runtime

log = get_logger("api")


def _use_our_log_format_for_the_server() -> None:
    """uvicorn's lines go through our handler; its access line is dropped (the middleware writes ours)."""
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    owned = app.state.runtime is None
    if owned:  # the process app: settings and database are opened here, once
        settings = get_settings()
        configure_logging(level=settings.log_level, json=settings.log_json, process="api")
        _use_our_log_format_for_the_server()
        app.state.runtime = get_runtime()
        log.info("api started", database=app.state.runtime.engine.url.render_as_string(hide_password=True))
    try:
        yield
    finally:
        for client in (getattr(app.state, "bus", None), getattr(app.state, "cache", None)):
            if client is not None:
                client.close()
        if owned:
            app.state.runtime.engine.dispose()


def create_app(runtime: Runtime | None = None) -> FastAPI:
    app = FastAPI(
        title="Sophia API",
        description="PayReady's internal AI operations platform: the sidecar REST API.",
        version="1",
        lifespan=_lifespan,
    )
    app.state.runtime = runtime
    app.state.bus = None
    app.state.cache = app.state.throttle = None
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    for module in (health, auth, me, accounts, users, estuary, insights, jobs, ask, agents):
        app.include_router(module.router)
    return app


app = create_app()

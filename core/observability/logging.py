"""Structured logs: JSON when not on a terminal, one request/job id carried through each line."""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import structlog
import structlog.tracebacks
from structlog.typing import EventDict, Processor, WrappedLogger

_configured = False


def configure_logging(*, level: str = "INFO", json: bool | None = None, process: str | None = None) -> None:
    """Configure structlog and the stdlib root logger once per process."""
    global _configured
    if json is None:
        json = not sys.stderr.isatty()

    def add_process(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
        if process:
            event.setdefault("process", process)
        return event

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        add_process,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # tracebacks as data in JSON; in the console without frame locals (they can carry tokens)
    renderer = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    exc_processors = (
        [structlog.processors.ExceptionRenderer(structlog.tracebacks.ExceptionDictTransformer(show_locals=False))]
        if json
        else []
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *exc_processors, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(max(root.level, logging.WARNING))  # one line per run is noise
    _configured = True


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


def new_id() -> str:
    return uuid.uuid4().hex[:16]


@contextmanager
def bound(**values: str) -> Iterator[None]:
    """Bind values (request_id, job_id, ...) to every log line written inside the block."""
    with structlog.contextvars.bound_contextvars(**values):
        yield

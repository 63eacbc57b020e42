"""Work started from a page that runs on in a background thread of the app server, its progress shared with
every session: the page keeps answering, and anyone who opens it sees the run and how far it got.

One job per (scope, name) at a time: the scope is what the work runs against (the database URL), so two
apps in one process (tests) never see each other's jobs. The work is a callable given the job, to report
progress with ``job.update(step, done, total)``; what it returns is kept as ``job.result``. A
:class:`SophiaError` becomes ``job.error`` (its message); anything else is our bug, logged and shown as one
line, never raised into the thread.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import streamlit as st
import structlog

from core.db.types import utcnow
from core.errors import SophiaError

log = structlog.get_logger(__name__)


@dataclass
class Job:
    id: str
    scope: str
    name: str
    started_by: str
    steps: list[str]
    started_at: datetime = field(default_factory=utcnow)
    step: str | None = None
    done: int = 0
    total: int | None = None
    result: Any = None
    error: str | None = None
    finished_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.finished_at is None

    def update(self, step: str, done: int, total: int | None) -> None:
        """The work's progress callback: the step it is on and how far through it."""
        self.step, self.done, self.total = step, done, total

    def fraction(self) -> float:
        if not self.steps or self.step not in self.steps:
            return 0.0
        within = min(1.0, self.done / self.total) if self.total else 0.0
        return min(1.0, (self.steps.index(self.step) + within) / len(self.steps))

    def step_number(self) -> int:
        """1-based position of the current step; 0 before the first."""
        return self.steps.index(self.step) + 1 if self.step in self.steps else 0


@st.cache_resource(show_spinner=False)
def _jobs() -> dict[tuple[str, str], Job]:
    """The latest job per (scope, name), shared by all sessions of this server process."""
    return {}


def running_job(scope: str, name: str) -> Job | None:
    job = _jobs().get((scope, name))
    return job if job is not None and job.running else None


def jobs_in(scope: str) -> list[Job]:
    return [j for j in _jobs().values() if j.scope == scope]


def start_job(*, scope: str, name: str, steps: list[str], actor: str, work: Callable[[Job], Any]) -> Job | None:
    """Start ``work`` in a background thread; None when a job of that name is already running."""
    if running_job(scope, name) is not None:
        return None
    job = Job(id=uuid.uuid4().hex, scope=scope, name=name, started_by=actor, steps=steps)
    _jobs()[(scope, name)] = job
    threading.Thread(target=_run, args=(job, work), name=f"job-{name}", daemon=True).start()
    return job


def _run(job: Job, work: Callable[[Job], Any]) -> None:
    try:
        job.result = work(job)
    except SophiaError as exc:
        job.error = exc.message
    except Exception as exc:  # noqa: BLE001 - our bug: shown as one line, logged, not raised into a thread
        job.error = f"unexpected {type(exc).__name__}; see the app's log"
        log.error("background.unexpected", job=job.name, error=type(exc).__name__)
    finally:
        job.finished_at = utcnow()

"""Probes and metrics, unauthenticated: liveness, readiness (the database takes a write, Redis when configured,
the scheduler's heartbeat is fresh when a scheduler is expected), Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from api.deps import RuntimeDep
from api.schemas import Health, Readiness
from connectors.registry import KINDS
from core import bus
from core.config import Settings
from core.db.probe import probe_write
from core.jobs_health import HeartbeatCollector, scheduler_heartbeat
from core.notify.state import DeliveryCollector
from core.pipelines.health import PipelineCollector
from core.runtime import Runtime
from core.search.metrics import IndexCollector

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> Health:
    """The process serves requests. Touches nothing else."""
    return Health()


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Ready when every backend the process needs answers (the database must take a write, not only a read)
    and the scheduler's heartbeat is fresh when a scheduler is expected; 503 naming what failed."""
    database = _check_database(runtime)
    scheduler, age = _check_scheduler(runtime) if database == "ok" else ("unknown: the database failed", None)
    checks = {"database": database, "redis": _check_redis(runtime.settings), "scheduler": scheduler}
    ready = all(v in ("ok", "not_configured") for v in checks.values())
    body = Readiness(status="ready" if ready else "not_ready", checks=checks, scheduler_heartbeat_age_s=age)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response, include_in_schema=False)
def metrics(runtime: RuntimeDep) -> Response:
    """This process's request metrics, plus the pipelines', the vector indexes', the scheduler heartbeat's and
    Slack delivery's metrics read from the database (so runs made by the scheduler or the CLI are counted too)."""
    shared = CollectorRegistry(auto_describe=False)
    shared.register(PipelineCollector(runtime, KINDS))
    shared.register(IndexCollector(runtime))
    shared.register(HeartbeatCollector(runtime))
    shared.register(DeliveryCollector(runtime))
    return Response(generate_latest() + generate_latest(shared), media_type=CONTENT_TYPE_LATEST)


def _check_database(runtime: Runtime) -> str:
    try:
        runtime.ping_db()
    except Exception as exc:  # a probe reports what failed; it never fails itself
        return _describe(exc)
    return probe_write(engine=runtime.engine)


def _check_scheduler(runtime: Runtime) -> tuple[str, float | None]:
    """``ok`` / ``not_configured`` / what is wrong, and the heartbeat's age. A scheduler is expected when
    SOPHIA_SCHEDULER_REQUIRED says so, or (unset) once one has recorded a heartbeat in this database."""
    try:
        beat = scheduler_heartbeat(runtime=runtime)
    except Exception as exc:
        return _describe(exc), None
    required = runtime.settings.scheduler_required
    if required is False or (required is None and beat.state == "never"):
        return "not_configured", beat.age_s
    return ("ok" if beat.state == "fresh" else beat.describe()), beat.age_s


def _check_redis(settings: Settings) -> str:
    if not settings.redis_url:
        return "not_configured"
    try:
        cache = bus.make_cache(settings)
        try:
            return "ok" if cache.ping() else "Redis did not answer PING (SOPHIA_REDIS_URL)"
        finally:
            cache.close()
    except Exception as exc:
        return _describe(exc)


def _describe(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

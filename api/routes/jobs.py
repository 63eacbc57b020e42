"""The scheduled jobs and the active scheduler (admins): what `sophia jobs list --json` shows."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import RuntimeDep, SessionDep, require_role
from api.schemas import JobsPublic
from core.scheduling import job_statuses, scheduler_status

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"], dependencies=[Depends(require_role("admin"))])


@router.get("")
def list_jobs(runtime: RuntimeDep, session: SessionDep) -> JobsPublic:
    now = runtime.clock.now()
    jobs = job_statuses(session=session, now=now, settings=runtime.settings)
    scheduler = scheduler_status(session=session, now=now, settings=runtime.settings)
    return JobsPublic(items=[j.as_dict() for j in jobs], scheduler=scheduler.as_dict())

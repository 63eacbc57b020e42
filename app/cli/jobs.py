"""`sophia jobs list|run|pause|resume`: the scheduled jobs, their last runs, and an admin's controls.

`sophia jobs run JOB_ID` asks the active scheduler to run the job (it does within a few seconds, trigger
"manual"). When no scheduler is active, the job runs right away instead, in a child process
(`python -m jobs.scheduler run JOB_ID`: the CLI does not import the scheduler's code), and its outcome is
printed. Either way the run is recorded in the job runs `sophia jobs list` shows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape

from app.cli.common import CLI_ACTOR, err, open_product, out, print_json
from core.errors import InvalidInput, SophiaError
from core.scheduling import (
    HEARTBEAT_JOB,
    job_spec,
    job_statuses,
    pause_job,
    request_run,
    resume_job,
    scheduler_status,
)

jobs_app = typer.Typer(help="Scheduled jobs: list them, run one now, pause and resume.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON only")]
STATUS_STYLE = {"succeeded": "green", "failed": "bold red", "running": "yellow"}


@jobs_app.command("list")
def list_(json_: JsonOpt = False) -> None:
    """Every job: its interval, paused or not, next run, last run (status, duration, error)."""
    rt = open_product(machine_output=json_)
    now = rt.clock.now()
    with rt.session() as session:
        jobs = job_statuses(session=session, now=now, settings=rt.settings)
        scheduler = scheduler_status(session=session, now=now, settings=rt.settings)
    if json_:
        print_json({"items": [j.as_dict() for j in jobs], "scheduler": scheduler.as_dict()})
        return
    out.print(escape(scheduler.describe()))
    for j in jobs:
        last = "never ran"
        if j.last_status:
            style = STATUS_STYLE.get(j.last_status, "")
            took = f" in {j.last_duration_s:.1f} s" if j.last_duration_s is not None else ""
            last = f"[{style}]{j.last_status}[/{style}] {j.last_started_at:%Y-%m-%d %H:%M:%S}{took} ({j.last_trigger})"
        nxt = f"next {j.next_run_at:%m-%d %H:%M:%S}" if j.next_run_at else "next -"
        flags = " [bold yellow]paused[/bold yellow]" if j.paused else ""
        flags += " [cyan]run requested[/cyan]" if j.run_requested_at else ""
        out.print(f"{j.id:<22} every {_every(j.interval_s):<8} {nxt:<20} {last}{flags}")
        if j.last_error:
            out.print(f"{'':24}[red]{escape(j.last_error.splitlines()[0][:200])}[/red]")


@jobs_app.command("run")
def run(job_id: str, json_: JsonOpt = False) -> None:
    """Run a job now: asked of the active scheduler, or run right here when none is active."""
    job_spec(job_id)
    rt = open_product(machine_output=json_)
    now = rt.clock.now()
    with rt.session() as session:
        active = scheduler_status(session=session, now=now, settings=rt.settings)
        if active.active:
            request_run(session=session, job_id=job_id, actor=CLI_ACTOR, now=now)
    if active.active:
        if json_:
            print_json({"job_id": job_id, "status": "requested", "scheduler": active.holder_process})
        else:
            out.print(
                f"Asked the active scheduler ({active.holder_process}) to run {job_id}; it starts within seconds."
            )
        return
    if job_id == HEARTBEAT_JOB:
        raise InvalidInput("the heartbeat records a running scheduler's liveness; with none active there is none")
    outcome = _run_here(job_id)
    if json_:
        print_json(outcome)
    elif outcome["status"] == "succeeded":
        result = json.dumps(outcome.get("result") or {})
        out.print(f"Ran {job_id} here (no scheduler is active): succeeded {escape(result)}")
    else:
        err.print(f"error: {job_id} failed: {escape(str(outcome.get('error')))}")
    if outcome["status"] != "succeeded":
        raise typer.Exit(1)


@jobs_app.command("pause")
def pause(job_id: str) -> None:
    """Pause a job: its scheduled runs are skipped until it is resumed."""
    rt = open_product()
    with rt.session() as session:
        pause_job(session=session, job_id=job_id, actor=CLI_ACTOR, now=rt.clock.now())
    out.print(f"Paused {job_id}: its scheduled runs are skipped until `sophia jobs resume {job_id}`.")


@jobs_app.command("resume")
def resume(job_id: str) -> None:
    """Resume a paused job."""
    rt = open_product()
    with rt.session() as session:
        resume_job(session=session, job_id=job_id, actor=CLI_ACTOR, now=rt.clock.now())
    out.print(f"Resumed {job_id}.")


def _run_here(job_id: str) -> dict[str, Any]:
    env = {**os.environ, "SOPHIA_LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, "-m", "jobs.scheduler", "run", job_id], env=env, stdout=subprocess.PIPE, text=True
    )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    try:
        outcome: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise SophiaError(
            f"the job process ended (status {done.returncode}) without saying how {job_id} went"
        ) from None
    return outcome


def _every(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:.0f} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:g} s"

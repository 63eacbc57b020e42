"""`sophia up`: the Streamlit app, the API sidecar and the scheduler as one supervised group.

Children run in their own sessions so that Ctrl-C reaches only this supervisor, which then stops
them in order (SIGTERM, then SIGKILL after a grace period). A child that dies is restarted with
backoff; one that keeps dying stops the whole group with a clear message.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Annotated

import httpx
import typer
from sqlalchemy import func, select

from app.cli.common import open_product, out, progress_bar
from core.db.models import Account
from core.errors import SophiaError

APP_SCRIPT = Path(__file__).resolve().parents[1] / "streamlit_app.py"
# Streamlit reads .streamlit/config.toml only from the working directory; `up` passes it as flags so the
# theme and the toolbar mode hold wherever it is started from.
STREAMLIT_CONFIG = APP_SCRIPT.parents[1] / ".streamlit" / "config.toml"
STOP_GRACE_S = 10.0
MAX_RESTARTS = 5  # within RESTART_WINDOW_S, then give up
RESTART_WINDOW_S = 120.0
READY_TIMEOUT_S = 90.0
PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)
# The scheduler's work (search indexing embeds on every core) yields the CPU to the app and the API that people
# wait on: pages took 6-25 s instead of under one while the demo was indexed (finding 16). Niceness is set before
# exec, so every thread of the process (the embedding model's too) inherits it; idle CPU is still all its own.
# 19, the lowest priority: at 10 (the scheduler once niced itself so) pages still took 6-25 s. Deployed one
# process per container, the container's CPU share does this job instead.
JOBS_NICE = 19


@dataclass
class Child:
    name: str
    argv: list[str]
    health_url: str | None = None
    nice: int = 0  # added to the child's niceness: > 0 runs it at a lower CPU priority
    proc: subprocess.Popen | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            self.argv,
            env={**env, "SOPHIA_PROCESS": self.name},
            start_new_session=True,
            preexec_fn=partial(_before_exec, self.nice),
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            _signal_group(self.proc, signal.SIGTERM)  # type: ignore[arg-type]

    def kill(self) -> None:
        if self.alive():
            _signal_group(self.proc, signal.SIGKILL)  # type: ignore[arg-type]


def _before_exec(nice: int) -> None:
    _die_with_parent()
    if nice:
        os.nice(nice)


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if the supervisor dies, even by SIGKILL (Linux), so no
    orphaned app, API or scheduler keeps its port."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def streamlit_flags(config: Path = STREAMLIT_CONFIG) -> list[str]:
    """The settings of Streamlit's config file as command-line flags (``--theme.sidebar.primaryColor=…``)."""
    with config.open("rb") as f:
        return [f"--{name}={_flag_value(value)}" for name, value in _flatten(tomllib.load(f))]


def _flatten(table: dict, prefix: str = "") -> list[tuple[str, object]]:
    items: list[tuple[str, object]] = []
    for key, value in table.items():
        if isinstance(value, dict):
            items += _flatten(value, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", value))
    return items


def _flag_value(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _children(*, host: str, app_port: int, api_port: int, app: bool, api: bool, jobs: bool) -> list[Child]:
    py = sys.executable
    shown = "localhost" if host in ("0.0.0.0", "127.0.0.1") else host
    kids = []
    if app:
        kids.append(
            Child(
                "app",
                [
                    py,
                    "-m",
                    "streamlit",
                    "run",
                    str(APP_SCRIPT),
                    *streamlit_flags(),
                    "--server.port",
                    str(app_port),
                    "--server.address",
                    host,
                    "--server.headless",
                    "true",
                    "--browser.gatherUsageStats",
                    "false",
                ],
                f"http://{shown}:{app_port}/_stcore/health",
            )
        )
    if api:
        kids.append(
            Child(
                "api",
                [py, "-m", "uvicorn", "api.main:app", "--host", host, "--port", str(api_port), "--no-access-log"],
                f"http://{shown}:{api_port}/healthz",
            )
        )
    if jobs:
        kids.append(Child("jobs", [py, "-m", "jobs.scheduler"], nice=JOBS_NICE))
    return kids


def up(
    demo: Annotated[bool, typer.Option("--demo", help="load the demo business when the database is empty")] = False,
    app_port: Annotated[int, typer.Option("--app-port", help="Streamlit app port")] = 8501,
    api_port: Annotated[int, typer.Option("--api-port", help="API sidecar port")] = 8000,
    no_app: Annotated[bool, typer.Option("--no-app", help="do not start the Streamlit app")] = False,
    no_api: Annotated[bool, typer.Option("--no-api", help="do not start the API sidecar")] = False,
    no_jobs: Annotated[bool, typer.Option("--no-jobs", help="do not start the job scheduler")] = False,
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    demo_size: Annotated[str, typer.Option("--demo-size", help="size of the demo loaded by --demo")] = "medium",
) -> None:
    """Run Sophia: app, API and scheduler, supervised. Ctrl-C stops all of them."""
    for flag, port, wanted in (("--app-port", app_port, not no_app), ("--api-port", api_port, not no_api)):
        if wanted and not _port_free(host, port):
            raise SophiaError(f"{flag}: port {port} on {host} is already in use")
    rt = open_product()
    if demo:
        _load_demo_if_empty(rt, demo_size)
    env = rt.settings.child_env()
    if "public_url" not in rt.settings.model_fields_set:  # links in answers and Slack open this app, on its port
        env["SOPHIA_PUBLIC_URL"] = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{app_port}"
    rt.engine.dispose()  # the children open their own connections

    kids = _children(host=host, app_port=app_port, api_port=api_port, app=not no_app, api=not no_api, jobs=not no_jobs)
    if not kids:
        raise SophiaError("nothing to run: --no-app, --no-api and --no-jobs were all given")
    stopping = {"sig": None}

    def _on_signal(signum, _frame):  # noqa: ANN001
        stopping["sig"] = signum

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    for kid in kids:
        kid.start(env)
    try:
        _wait_ready(kids, stopping)
        if stopping["sig"] is None:
            _announce(rt.settings.admin_user, kids, app_port=app_port, api_port=api_port)
        _supervise(kids, env, stopping)
    finally:
        _stop_all(kids)
    out.print("Sophia stopped.")


def _load_demo_if_empty(rt, size: str) -> None:  # noqa: ANN001
    from connectors.demo import load_demo

    with rt.session() as session:
        if session.scalar(select(func.count()).select_from(Account)):
            out.print("Database already holds data; not loading the demo.")
            return
    with progress_bar(f"Loading the {size} demo") as update:
        summary = load_demo(runtime=rt, size=size, progress=update)
    out.print(f"Loaded the {size} demo business ({sum(summary.counts.values())} records).")


def _wait_ready(kids: list[Child], stopping: dict) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    pending = [k for k in kids if k.health_url]
    with httpx.Client(timeout=2.0) as client:
        while pending and time.monotonic() < deadline and stopping["sig"] is None:
            for kid in list(pending):
                if not kid.alive():
                    raise SophiaError(f"the {kid.name} process exited during start-up (code {kid.proc.returncode})")
                try:
                    if client.get(kid.health_url).status_code == 200:
                        pending.remove(kid)
                except httpx.HTTPError:
                    pass
            time.sleep(0.3)
    if pending and stopping["sig"] is None:
        raise SophiaError(f"{', '.join(k.name for k in pending)} did not become healthy in {READY_TIMEOUT_S:.0f}s")


def _announce(admin_user: str, kids: list[Child], *, app_port: int, api_port: int) -> None:
    names = {k.name for k in kids}
    out.print("\n[bold green]Sophia is running.[/bold green]")
    if "app" in names:
        out.print(f"  App:  http://localhost:{app_port}")
    if "api" in names:
        out.print(f"  API:  http://localhost:{api_port}  (docs at /docs, health at /healthz)")
    if "jobs" in names:
        out.print("  Jobs: scheduler running")
    out.print(f"  Log in as: {admin_user} (password printed when the database was created, or SOPHIA_ADMIN_PASSWORD)")
    out.print("Press Ctrl-C to stop.\n")


def _supervise(kids: list[Child], env: dict[str, str], stopping: dict) -> None:
    while stopping["sig"] is None:
        time.sleep(0.5)
        for kid in kids:
            if kid.alive() or stopping["sig"] is not None:
                continue
            now = time.monotonic()
            kid.restarts = [t for t in kid.restarts if now - t < RESTART_WINDOW_S] + [now]
            if len(kid.restarts) > MAX_RESTARTS:
                raise SophiaError(f"the {kid.name} process keeps exiting (code {kid.proc.returncode}); stopping")
            out.print(f"[yellow]{kid.name} exited with code {kid.proc.returncode}; restarting[/yellow]")
            time.sleep(min(2 ** len(kid.restarts), 10))
            kid.start(env)


def _stop_all(kids: list[Child]) -> None:
    for kid in kids:
        kid.stop()
    deadline = time.monotonic() + STOP_GRACE_S
    for kid in kids:
        if kid.proc is None:
            continue
        try:
            kid.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            kid.kill()
            kid.proc.wait(timeout=5)

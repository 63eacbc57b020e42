"""What every command shares: opening the product, printing data and notices, progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from core.auth import Identity, get_user
from core.config import get_settings
from core.errors import InvalidInput
from core.observability.logging import configure_logging
from core.runtime import Runtime, open_runtime, prepare

out = Console(highlight=False, soft_wrap=True)  # data: stdout
err = Console(stderr=True, highlight=False, soft_wrap=True)  # notices and progress: stderr

CLI_ACTOR = "cli"


def open_product(*, machine_output: bool = False) -> Runtime:
    """Settings, database (created and migrated when needed) and the first admin.

    The command that creates the database creates the first admin; a generated password is
    printed here, once (to stderr when stdout carries machine-readable output)."""
    settings = get_settings()
    configure_logging(level="WARNING", json=settings.log_json, process="cli")
    runtime = open_runtime(settings)
    prepared = prepare(runtime)
    if prepared.admin_user:
        show_first_admin(prepared.admin_user, prepared.admin_password, to_stderr=machine_output)
    return runtime


def show_first_admin(username: str, password: str | None, *, to_stderr: bool = False) -> None:
    console = err if to_stderr else out
    console.print(f"Created the first admin: {username}")
    if password:
        console.print(f"  password: {password}")
        console.print("  (shown once, only its hash is stored; change it with `sophia users set-password`)")
    else:
        console.print("  password: the value of SOPHIA_ADMIN_PASSWORD")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int, str], None]]:
    """A rich progress bar on stderr; yields ``update(done, total, label)``."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int, what: str = "") -> None:
            bar.update(task, completed=done, total=total, description=f"{label} {what}".strip())

        yield update


def cli_identity(runtime: Runtime, as_user: str | None) -> Identity:
    """Who a command acts as: ``--user``'s role (an active user), or the CLI itself with the admin role."""
    if not as_user:
        return Identity(username=CLI_ACTOR, role="admin", via="cli")
    with runtime.session() as session:
        user = get_user(session=session, username=as_user)
        if not user.active:
            raise InvalidInput(f"user {as_user!r} is deactivated")
        return Identity(username=user.username, role=user.role, via="cli")

"""The `sophia` command. Every failure ends with one line on stderr and a non-zero exit."""

from __future__ import annotations

import sys

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer 0.29 carries its own click

from app.cli.lazy import Lazy, LazyGroup, build
from core.errors import SophiaError

# Every command, in `sophia --help` order: its module is imported only when the command runs.
COMMANDS: dict[str, Lazy] = {
    "up": Lazy("app.cli.up:up", "Run Sophia: app, API and scheduler, supervised. Ctrl-C stops all of them."),
    "sync": Lazy(
        "app.cli.connectors:sync", "Run a connector now, with a progress bar; --json prints the run's record."
    ),
    "runs": Lazy("app.cli.connectors:runs", "Run history: counts, cursors, errors."),
    "ingest": Lazy(
        "app.cli.search:ingest",
        "Import files: each becomes one searchable document titled by its file name; a changed file replaces it.",
    ),
    "search": Lazy("app.cli.search:search", "Hybrid (keyword + vector) search over everything indexed."),
    "reindex": Lazy(
        "app.cli.search:reindex",
        "Make the records changed since the last run searchable now (documents, chunks, vectors).",
    ),
    "ask": Lazy(
        "app.cli.ask:ask", "Ask Sophia a question about the business; the answer cites the records it rests on."
    ),
    "agents": Lazy(
        "app.cli.agents:agents_app", "The agents that answer questions: list, show, edit, versions, revert."
    ),
    "actions": Lazy("app.cli.ask:actions_app", "Writes the agents proposed: approve (run it) or reject."),
    "insights": Lazy(
        "app.cli.insights:insights_app",
        "What Sophia found that needs attention: detect, list, acknowledge, resolve.",
    ),
    "memory": Lazy(
        "app.cli.memory:memory_app", "What the agents remember of each user: add, search, list, forget (for good)."
    ),
    "notify": Lazy("app.cli.notify:notify_app", "Insights to Slack: routes, a test message, delivering what is due."),
    "jobs": Lazy("app.cli.jobs:jobs_app", "Scheduled jobs: list them, run one now, pause and resume."),
    "db": Lazy("app.cli.data:db_app", "The operational database."),
    "demo": Lazy("app.cli.data:demo_app", "The demo business: a believable PayReady with planted patterns."),
    "users": Lazy("app.cli.admin:users_app", "Manage users and their roles."),
    "api-keys": Lazy("app.cli.admin:keys_app", "Create and revoke API keys for the sidecar API."),
    "estuary": Lazy("app.cli.estuary:estuary_app", "Estuary Flow feeds: real-time change documents via webhook."),
    "usergems": Lazy(
        "app.cli.usergems:usergems_app", "UserGems job changes (read from Salesforce by the usergems connector)."
    ),
    "connectors": Lazy("app.cli.connectors:connectors_app", "Configure the sources Sophia reads from."),
    "quarantine": Lazy(
        "app.cli.connectors:quarantine_app", "Records a sync could not take in: list them, take them in again."
    ),
    "documents": Lazy("app.cli.documents:documents_app", "Imported files, as searchable documents."),
    "index": Lazy("app.cli.index:index_app", "Vector indexes: sync state, sync, rebuild and reconcile."),
}

app = typer.Typer(
    name="sophia",
    help="Sophia: PayReady's AI operations platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=LazyGroup,
)


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            shown = version("sophia")
        except PackageNotFoundError:  # running from a checkout that was never installed
            shown = "unknown (not installed)"
        sys.stdout.write(f"sophia {shown}\n")
        raise typer.Exit(0)


@app.callback()
def _options(
    show_version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_show_version
    ),
) -> None:
    pass


def main(argv: list[str] | None = None) -> None:
    try:
        code = build(app, COMMANDS).main(args=argv, standalone_mode=False)
    except NoArgsIsHelpError:
        code = 0  # help was printed
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        _fail("aborted", 130)
    except ClickException as exc:
        _fail(exc.format_message().replace("\n", " "), exc.exit_code)
    except SophiaError as exc:
        _fail(exc.message, 1)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except OSError as exc:
        _fail(f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", 1)
    except Exception as exc:  # a bug: still one line, with the type to report
        _fail(f"unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", 1)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"error: {message}\n")
    sys.exit(code)


if __name__ == "__main__":
    main()

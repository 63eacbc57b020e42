"""The `sophia` command. Every failure ends with one line on stderr and a non-zero exit."""

from __future__ import annotations

import sys

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer 0.29 carries its own click

from app.cli import admin, connectors, data, documents, estuary, index, search, up, usergems
from core.errors import SophiaError

app = typer.Typer(
    name="sophia",
    help="Sophia: PayReady's AI operations platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("up")(up.up)
app.add_typer(data.db_app, name="db")
app.add_typer(data.demo_app, name="demo")
app.add_typer(admin.users_app, name="users")
app.add_typer(admin.keys_app, name="api-keys")
app.add_typer(estuary.estuary_app, name="estuary")
app.add_typer(usergems.usergems_app, name="usergems")
connectors.register(app)  # `connectors ...`, `sync`, `runs`
search.register(app)  # `ingest`, `search`, `reindex`
app.add_typer(documents.documents_app, name="documents")  # `documents list|delete`
app.add_typer(index.index_app, name="index")  # `index status|sync|rebuild|reconcile`


def main(argv: list[str] | None = None) -> None:
    try:
        code = app(args=argv, standalone_mode=False)
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

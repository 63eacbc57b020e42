"""`sophia db ...` and `sophia demo ...`."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from app.cli.common import err, open_product, out, print_json, progress_bar
from core.db import migrate
from core.errors import InvalidInput, NotFound

db_app = typer.Typer(help="The operational database.", no_args_is_help=True)
demo_app = typer.Typer(help="The demo business: a believable PayReady with planted patterns.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the database or apply pending migrations."""
    rt = open_product()  # migrates to head
    out.print(f"Database at revision {migrate.current_revision(rt.engine)} ({_where(rt)})")


@db_app.command("current")
def db_current() -> None:
    """Show the database's migration revision."""
    rt = open_product()
    out.print(migrate.current_revision(rt.engine) or "empty")


def _where(rt) -> str:  # noqa: ANN001
    return rt.engine.url.render_as_string(hide_password=True)


@demo_app.command("load")
def demo_load(
    size: Annotated[str, typer.Option(help="small | medium | large")] = "medium",
    seed: Annotated[int, typer.Option(help="the same seed gives the same business")] = 42,
    as_of: Annotated[str | None, typer.Option("--as-of", help="the demo's 'today' (YYYY-MM-DD); default today")] = None,
) -> None:
    """Generate the demo business and write it through the ingest path."""
    from connectors.demo import SIZES, load_demo

    if size not in SIZES:
        raise InvalidInput(f"unknown size {size!r}; expected one of {', '.join(SIZES)}")
    day = _parse_date(as_of) if as_of else None
    rt = open_product()
    with progress_bar(f"Loading the {size} demo") as update:
        summary = load_demo(runtime=rt, size=size, seed=seed, as_of=day, progress=update)
    counts = ", ".join(f"{n} {k}" for k, n in summary.counts.items())
    out.print(f"Loaded the {size} demo (seed {seed}, as of {summary.as_of}): {counts}")


@demo_app.command("truth")
def demo_truth(json_: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """The planted truths of the loaded demo, for checking insights."""
    from connectors.demo import get_truth

    rt = open_product(machine_output=json_)
    with rt.session() as session:
        truth = get_truth(session=session)
    if truth is None:
        raise NotFound("no demo is loaded; run `sophia demo load` first")
    if json_:
        print_json(truth)
        return
    descriptions = truth.get("description", {})
    out.print(f"Demo truth (size {truth.get('size')}, seed {truth.get('seed')}, as of {truth.get('as_of')})")
    for key, items in truth.items():
        if isinstance(items, list):
            out.print(f"\n[bold]{key}[/bold] ({len(items)}): {descriptions.get(key, '')}")
            for item in items[:10]:
                out.print(f"  - {_truth_line(item)}", markup=False)
            if len(items) > 10:
                err.print(f"  ... {len(items) - 10} more (use --json)")


def _truth_line(item: dict) -> str:
    """``dl-000083 Acme expansion (account Acme Realty, rep Lisa Smith): open in negotiation for 34 days``.
    A truth stored before names were added shows its ids alone."""
    context = ", ".join(f"{key} {item[key]}" for key in ("account", "rep") if item.get(key))
    parts = (item.get("external_id") or item.get("email"), item.get("name"), f"({context})" if context else None)
    return " ".join(str(p) for p in parts if p) + (f": {item['why']}" if item.get("why") else "")


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"--as-of: {value!r} is not a date (YYYY-MM-DD)") from None

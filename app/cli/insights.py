"""`sophia insights ...`: detect now, read the feed, and move an insight through its lifecycle."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.markup import escape

from app.cli.common import cli_identity, err, open_product, out, print_json
from core.errors import InvalidInput

insights_app = typer.Typer(help="What Sophia found that needs attention: detect, list, acknowledge, resolve.")
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON only")]
UserOpt = Annotated[str | None, typer.Option("--user", help="act as this user (role and audit); default the CLI")]
SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "dim"}


@insights_app.command("run")
def run(
    json_: JsonOpt = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="detect as of this day (YYYY-MM-DD); default today (UTC)")
    ] = None,
    type_: Annotated[list[str] | None, typer.Option("--type", help="only this type (repeatable)")] = None,
) -> None:
    """Detect now: {"created": N, "updated": N, "resolved": N}."""
    from core.insights import run_detection
    from core.insights.detectors import all_detectors

    known = all_detectors()
    for t in type_ or []:
        if t not in known:
            raise InvalidInput(f"--type: unknown insight type {t!r}; expected one of {', '.join(known)}")
    from core.bus import make_bus
    from core.insights.events import announce_detection

    rt = open_product(machine_output=json_)
    result = run_detection(runtime=rt, as_of=_day(as_of, "--as-of") if as_of else None, types=type_ or None)
    bus = make_bus(rt.settings)
    try:
        announce_detection(bus=bus, result=result)  # live views follow whoever detects
    finally:
        bus.close()
    for t, error in result.errors.items():
        err.print(f"warning: detector {t} failed: {escape(error)}")
    if json_:
        print_json(result.counts())
    else:
        found = ", ".join(f"{n} {t}" for t, n in result.by_type.items() if n) or "nothing"
        out.print(
            f"Detected as of {result.as_of}: {result.created} new, {result.updated} still true, "
            f"{result.resolved} resolved automatically. Found: {found}."
        )
    if result.errors:
        raise typer.Exit(1)


@insights_app.command("list")
def list_(
    type_: Annotated[str | None, typer.Option("--type", help="only this type")] = None,
    status: Annotated[
        str | None, typer.Option(help="new | acknowledged | resolved | snoozed | open (new or acknowledged)")
    ] = None,
    account: Annotated[str | None, typer.Option(help="only this account (its external id)")] = None,
    severity: Annotated[str | None, typer.Option(help="this severity or worse")] = None,
    owner: Annotated[str | None, typer.Option(help="only this owner (email)")] = None,
    limit: Annotated[int, typer.Option(help="at most this many", min=1, max=500)] = 500,
    offset: Annotated[int, typer.Option(help="skip this many", min=0)] = 0,
    as_user: UserOpt = None,
    json_: JsonOpt = False,
) -> None:
    """The insights, most severe and newest first."""
    from core.insights import InsightFilters, insight_dict, list_insights

    rt = open_product(machine_output=json_)
    identity = cli_identity(rt, as_user)
    filters = InsightFilters(type=type_, status=status, account=account, severity=severity, owner=owner)
    now = rt.clock.now()
    with rt.session() as session:
        rows, total = list_insights(
            session=session, identity=identity, filters=filters, now=now, limit=limit, offset=offset
        )
        items = [insight_dict(r, now=now) for r in rows]
    if json_:
        print_json({"items": items, "total": total})
        return
    if not items:
        out.print("No insights match." if total == 0 else f"No insights on this page ({total} in all).")
        return
    for item in items:
        style = SEVERITY_STYLE.get(item["severity"], "")
        out.print(
            f"[{style}]{item['severity']:>8}[/{style}]  #{item['id']:<5} {item['status']:<12} "
            f"{escape(item['title'])}  [dim]({item['type']})[/dim]"
        )
        for reason in item["reasons"]:
            out.print(f"{'':16}- {escape(reason)}")
    if total > len(items) + offset:
        err.print(f"{len(items)} of {total} shown; use --offset/--limit or --json")


@insights_app.command("ack")
def ack(insight_id: int, as_user: UserOpt = None) -> None:
    """Acknowledge an insight: someone is on it."""
    from core.insights import acknowledge

    rt = open_product()
    identity = cli_identity(rt, as_user)
    with rt.session() as session:
        row = acknowledge(session=session, identity=identity, insight_id=insight_id, now=rt.clock.now())
        out.print(f"Acknowledged #{row.id}: {escape(row.title)}")


@insights_app.command("resolve")
def resolve_(
    insight_id: int,
    note: Annotated[str | None, typer.Option(help="why (kept in the audit log)")] = None,
    as_user: UserOpt = None,
) -> None:
    """Resolve an insight. A finding that is still true stays resolved."""
    from core.insights import resolve

    rt = open_product()
    identity = cli_identity(rt, as_user)
    with rt.session() as session:
        row = resolve(session=session, identity=identity, insight_id=insight_id, now=rt.clock.now(), note=note)
        out.print(f"Resolved #{row.id}: {escape(row.title)}")


@insights_app.command("snooze")
def snooze_(
    insight_id: int,
    until: Annotated[str, typer.Option("--until", help="hide it until this day (YYYY-MM-DD)")],
    as_user: UserOpt = None,
) -> None:
    """Hide an insight from the open feed and from Slack until a day."""
    from core.insights import snooze

    day = _day(until, "--until")
    rt = open_product()
    identity = cli_identity(rt, as_user)
    with rt.session() as session:
        row = snooze(session=session, identity=identity, insight_id=insight_id, until=day, now=rt.clock.now())
        out.print(f"Snoozed #{row.id} until {day}: {escape(row.title)}")


def _day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{what}: {value!r} is not a date (YYYY-MM-DD)") from None

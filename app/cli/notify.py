"""`sophia notify ...`: where insights go in Slack (routes), a test post, and delivering what is due now."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from app.cli.common import CLI_ACTOR, err, open_product, out, print_json

notify_app = typer.Typer(help="Insights to Slack: routes, a test message, delivering what is due.")
route_app = typer.Typer(help="Where insights go: a channel per type and minimum severity.")
notify_app.add_typer(route_app, name="route")
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON only")]


@route_app.command("add")
def route_add(
    channel: Annotated[str, typer.Option("--channel", help="the Slack channel id (C0123…) or name")],
    type_: Annotated[str | None, typer.Option("--type", help="only this insight type; default every type")] = None,
    min_severity: Annotated[
        str, typer.Option("--min-severity", help="critical | high | medium | low: this severity or worse")
    ] = "low",
    digest: Annotated[
        int, typer.Option("--digest", help="0 posts each at once; 15, 60 or 240 gathers a digest (critical: at once)")
    ] = 60,
) -> None:
    """Route insights to a Slack channel."""
    from core.notify import add_route

    rt = open_product()
    with rt.session() as session:
        view = add_route(
            session=session,
            actor=CLI_ACTOR,
            channel=channel,
            type=type_,
            min_severity=min_severity,
            digest_minutes=digest,
        )
    out.print(f"Added route #{view.id}: {escape(view.describe)}")


@route_app.command("list")
def route_list(json_: JsonOpt = False) -> None:
    """The routes."""
    from core.notify import list_routes

    rt = open_product(machine_output=json_)
    with rt.session() as session:
        routes = list_routes(session=session)
    if json_:
        print_json({"items": [r.as_dict() for r in routes]})
        return
    if not routes:
        out.print("No routes: `sophia notify route add --channel C…` sends insights to Slack.")
        return
    for r in routes:
        state = "" if r.enabled else "  [dim](disabled)[/dim]"
        out.print(f"#{r.id:<4} {escape(r.describe)}{state}")


@route_app.command("remove")
def route_remove(route_id: int) -> None:
    """Remove a route."""
    from core.notify import remove_route

    rt = open_product()
    with rt.session() as session:
        view = remove_route(session=session, actor=CLI_ACTOR, route_id=route_id)
    out.print(f"Removed route #{view.id} ({escape(view.channel)}).")


@route_app.command("enable")
def route_enable(route_id: int, off: Annotated[bool, typer.Option("--off", help="disable it instead")] = False) -> None:
    """Enable (or with --off disable) a route."""
    from core.notify import set_route_enabled

    rt = open_product()
    with rt.session() as session:
        view = set_route_enabled(session=session, actor=CLI_ACTOR, route_id=route_id, enabled=not off)
    out.print(f"Route #{view.id} is {'enabled' if view.enabled else 'disabled'}.")


@notify_app.command("test")
def test(channel: Annotated[str, typer.Option("--channel", help="the Slack channel id (C0123…) or name")]) -> None:
    """Post a test message to a channel; prints its ts."""
    from core.notify import send_test

    rt = open_product()
    ts = send_test(runtime=rt, channel=channel)
    out.print(f"Posted a test message to {escape(channel)}: ts {ts}")


@notify_app.command("deliver")
def deliver(json_: JsonOpt = False) -> None:
    """Plan and post the insights that are due now."""
    from core.notify import deliver_due

    rt = open_product(machine_output=json_)
    report = deliver_due(runtime=rt)
    if json_:
        print_json(report.counts())
    else:
        out.print(
            f"Planned {report.planned}, sent {report.sent} in {report.messages} message(s) ({report.digests} digest(s)), "
            f"{report.failed} failed, {report.pending} waiting."
        )
    for what, error in report.errors.items():
        err.print(f"warning: {escape(what)}: {escape(error)}")
    if report.errors:
        raise typer.Exit(1)
